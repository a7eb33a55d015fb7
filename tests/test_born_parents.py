"""N1, "ana 5/17/2018": born_parent_term (a parent's name terms beside each child's birth date)
holds exactly what the join of relationships, birth dates and the parents' terms gives, after any
write, on SQLite and PostgreSQL, and a database migrated to it gets every row."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.config import Config
from kiosk.people.born_parents import FILL, TABLE
from kiosk.people.patients import search_patients
from kiosk.store.db import close_database, database, write_transaction
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.store.practice import open_store
from kiosk.store.schema import SCHEMA_VERSION
from kiosk.terms import Authority, CaregiverRole

from conftest import needs
from test_postgres import PG_URL, postgres_store

TODAY = dt.date(2026, 11, 22)
NAMES = ["Ana", "José María", "Núñez-García", "O'Brien", "李小龙", "Smith", "Ann", "Zoë"]
DAYS = [dt.date(2015, 1, 1), dt.date(2015, 1, 2), dt.date(2019, 3, 4)]


@dataclass(frozen=True)
class Kept:
    """A table triggers keep in step with the records (N1), as these tests and test_parent_names'
    check one: its fill statement, the columns read back, the family every store starts with and
    the writes the property tests make."""

    table: str
    fill: str
    columns: str
    family: Callable[[], None]
    apply: Callable[[tuple], None]

    def expected(self) -> list[tuple]:
        """The rows as the records give them: the fill's own statement, read instead of written."""
        select = self.fill[self.fill.index("SELECT") :]
        return sorted(tuple(map(str, row)) for row in database.execute_sql(select).fetchall())

    def stored(self) -> list[tuple]:
        rows = database.execute_sql(f'SELECT {self.columns} FROM "{self.table}"')
        return sorted(tuple(map(str, row)) for row in rows.fetchall())

    def check_in_step(self, ops: list[tuple]) -> None:
        for op in ops:
            self.apply(op)
            assert self.stored() == self.expected(), op

    def _more_than(self, rows: int) -> list[tuple]:
        """A second parent for the first child: the rows the records then give (over ``rows``)."""
        self.apply(("add_parent", "Zoë", "Núñez-García"))
        self.apply(("relate", 1, 0))
        expected = self.expected()
        assert len(expected) > rows
        return expected

    @contextmanager
    def on_sqlite(self, tmp_path, *, new: bool = True) -> Iterator[str]:
        """A SQLite store (a ``new`` one given the family); yields its file."""
        path = str(tmp_path / "kiosk.db")
        open_store(Config(database=path, pin_key_file=str(tmp_path / "k")))
        try:
            if new:
                self.family()
            yield path
        finally:
            close_database()

    @contextmanager
    def migrated_on_sqlite(self, tmp_path, version: int, more_than: int) -> Iterator[None]:
        """The family and a second parent in a SQLite file set back to ``version`` (before the
        table) and opened again: the migration must fill every row; the block writes on."""
        with self.on_sqlite(tmp_path) as path:
            expected = self._more_than(more_than)
        undo_on_sqlite(path, self.table, version)
        with self.on_sqlite(tmp_path, new=False):
            self._migrated(expected)
            yield

    @contextmanager
    def migrated_on_postgresql(
        self, tmp_path, version: int, triggers: int, more_than: int
    ) -> Iterator[None]:
        """As migrated_on_sqlite, in a PostgreSQL schema, with the table's ``triggers``."""
        with postgres_store(tmp_path, load=self.family) as url:
            expected = self._more_than(more_than)
            undo_on_postgresql(self.table, triggers, version)
            close_database()
            open_store(Config(database=url, pin_key_file=str(tmp_path / "pin.key")))
            self._migrated(expected)
            yield

    def _migrated(self, expected: list[tuple]) -> None:
        assert database.execute_sql("SELECT version FROM schema_meta").fetchone()[0] == (
            SCHEMA_VERSION
        )
        assert self.stored() == expected


def _family() -> None:
    with write_transaction():
        mother = Caregiver.create(given_name="Ana", family_name="Smith", email="ana@example.org")
        child = Patient.create(
            chart_number="C1", given_name="Rosa", family_name="Smith", dob=DAYS[0]
        )
        Relationship.create(
            caregiver=mother, patient=child, role=CaregiverRole.MOTHER, authority=Authority.JOINT
        )


_OPS = st.one_of(
    st.tuples(st.just("add_child"), st.sampled_from(NAMES), st.sampled_from(DAYS)),
    st.tuples(st.just("add_parent"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("relate"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("unrelate"), st.integers(0, 20)),
    st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("rename"), st.integers(0, 20), st.sampled_from(NAMES)),
    st.tuples(st.just("reborn"), st.integers(0, 20), st.sampled_from(DAYS)),
    st.tuples(st.just("drop_child"), st.integers(0, 20)),
    st.tuples(st.just("drop_parent"), st.integers(0, 20)),
)


def _pick(model, n: int):
    rows = list(model.select().order_by(model.id))
    return rows[n % len(rows)] if rows else None


def _apply(op: tuple) -> None:
    kind, *args = op
    with write_transaction():
        if kind == "add_child":
            chart = f"H{uuid.uuid4().hex[:12]}"
            Patient.create(chart_number=chart, given_name=args[0], family_name="Lee", dob=args[1])
        elif kind == "add_parent":
            Caregiver.create(given_name=args[0], family_name=args[1])
        elif kind == "relate":
            parent, child = _pick(Caregiver, args[0]), _pick(Patient, args[1])
            if parent and child:
                Relationship.get_or_create(
                    caregiver=parent,
                    patient=child,
                    defaults={"role": CaregiverRole.GUARDIAN, "authority": Authority.JOINT},
                )
        elif kind in ("unrelate", "move") and (link := _pick(Relationship, args[0])):
            if kind == "unrelate":
                link.delete_instance()
            elif (child := _pick(Patient, args[1])) and not Relationship.select().where(
                (Relationship.caregiver == link.caregiver_id) & (Relationship.patient == child.id)
            ).exists():
                Relationship.update(patient=child).where(Relationship.id == link.id).execute()
        elif kind == "rename" and (parent := _pick(Caregiver, args[0])):
            parent.given_name = args[1]
            parent.save()  # the caregiver's terms are written again (search_index)
        elif kind == "reborn" and (child := _pick(Patient, args[0])):
            child.dob = args[1]
            child.save()
        elif kind == "drop_child" and (child := _pick(Patient, args[0])):
            child.delete_instance()  # its relationships go by cascade
        elif kind == "drop_parent" and (parent := _pick(Caregiver, args[0])):
            parent.delete_instance()  # its relationships and terms go by cascade


KEPT = Kept(TABLE, FILL, "dob, term, patient_id, caregiver_id", _family, _apply)


@pytest.fixture
def sqlite_store(tmp_path):
    with KEPT.on_sqlite(tmp_path):
        yield


@pytest.fixture
def pg_store(tmp_path):
    with postgres_store(tmp_path, load=_family):
        yield


_STEPS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_STEPS
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_n1_parents_by_birth_date_stay_in_step_with_every_write_on_sqlite(sqlite_store, ops):
    KEPT.check_in_step(ops)


@_STEPS
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_n1_parents_by_birth_date_stay_in_step_with_every_write_on_postgresql(pg_store, ops):
    KEPT.check_in_step(ops)


@pytest.mark.parametrize("opened", ["sqlite_store", "pg_store"])
def test_n1_a_parents_new_name_with_a_birth_date_finds_the_child(opened, request):
    """A parent renamed, a child's birth date fixed: "first name + birth date" follows at once."""
    if opened == "pg_store" and not PG_URL:
        needs("no PostgreSQL server (KIOSK_TEST_PG_URL)")
    request.getfixturevalue(opened)
    assert [r.given_name for r in search_patients("ana 1/1/2015", today=TODAY)] == ["Rosa"]
    assert search_patients("ana 1/1/2015", today=TODAY)[0].reason == "caregiver Ana Smith"
    with write_transaction():
        mother = Caregiver.get(Caregiver.given_name == "Ana")
        mother.given_name = "Beatriz"
        mother.save()
    assert search_patients("ana 1/1/2015", today=TODAY) == []
    assert [r.given_name for r in search_patients("beatriz 1/1/2015", today=TODAY)] == ["Rosa"]
    with write_transaction():
        child = Patient.get(Patient.given_name == "Rosa")
        child.dob = DAYS[2]
        child.save()
    assert search_patients("beatriz 1/1/2015", today=TODAY) == []
    assert [r.given_name for r in search_patients("beatriz 3/4/2019", today=TODAY)] == ["Rosa"]


def undo_on_sqlite(path, table: str, version: int) -> None:
    """The SQLite file at ``path`` as ``version`` left it, before ``table`` and its triggers."""
    with sqlite3.connect(path) as con:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            if name.startswith(table):
                con.execute(f'DROP TRIGGER "{name}"')
        con.execute(f'DROP TABLE "{table}"')
        con.execute("UPDATE schema_meta SET version = ?", (version,))


def undo_on_postgresql(table: str, triggers: int, version: int) -> None:
    """The open PostgreSQL store as ``version`` left it, before ``table`` and its ``triggers``."""
    with write_transaction():
        found = database.execute_sql(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE %s",
            (f"{table}%",),
        ).fetchall()
        assert len(found) == triggers
        for name, on in found:
            database.execute_sql(f'DROP TRIGGER "{name}" ON "{on}"')
        database.execute_sql(f'DROP TABLE "{table}"')
        database.execute_sql("UPDATE schema_meta SET version = %s", (version,))


def test_n1_a_database_migrated_to_parents_by_birth_date_gets_every_row(tmp_path):
    """Version 33 fills born_parent_term from the records of an older database (SQLite)."""
    with KEPT.migrated_on_sqlite(tmp_path, version=32, more_than=3):
        KEPT.check_in_step([("rename", 0, "Ann")])  # and its triggers keep them


def test_n1_a_postgresql_database_migrated_to_parents_by_birth_date_gets_every_row(tmp_path):
    """Version 33 fills born_parent_term from the records of an older PostgreSQL database too,
    and its statement-level triggers keep it after."""
    with KEPT.migrated_on_postgresql(tmp_path, version=32, triggers=7, more_than=3):
        KEPT.check_in_step([("rename", 0, "Ann"), ("drop_child", 0)])
