"""N1, "ana 5/17/2018": born_parent_term (a parent's name terms beside each child's birth date)
holds exactly what the join of relationships, birth dates and the parents' terms gives, after any
write, on SQLite and PostgreSQL, and a database migrated to it gets every row."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid

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


def _expected() -> list[tuple]:
    """The rows as the records give them: the fill's own statement, read instead of written."""
    select = FILL[FILL.index("SELECT") :]
    return sorted(tuple(map(str, row)) for row in database.execute_sql(select).fetchall())


def _stored() -> list[tuple]:
    rows = database.execute_sql(f'SELECT dob, term, patient_id, caregiver_id FROM "{TABLE}"')
    return sorted(tuple(map(str, row)) for row in rows.fetchall())


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


def _check_in_step(ops: list[tuple]) -> None:
    for op in ops:
        _apply(op)
        assert _stored() == _expected(), op


@pytest.fixture
def sqlite_store(tmp_path):
    open_store(Config(database=str(tmp_path / "kiosk.db"), pin_key_file=str(tmp_path / "k")))
    _family()
    yield
    close_database()


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
    _check_in_step(ops)


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server (KIOSK_TEST_PG_URL)")
@_STEPS
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_n1_parents_by_birth_date_stay_in_step_with_every_write_on_postgresql(pg_store, ops):
    _check_in_step(ops)


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
    path = tmp_path / "kiosk.db"
    open_store(Config(database=str(path), pin_key_file=str(tmp_path / "k")))
    _family()
    _apply(("add_parent", "Zoë", "Núñez-García"))
    _apply(("relate", 1, 0))
    expected = _expected()
    assert len(expected) > 3
    close_database()
    undo_on_sqlite(path, TABLE, 32)  # as version 32 left it
    open_store(Config(database=str(path), pin_key_file=str(tmp_path / "k")))
    try:
        assert database.execute_sql("SELECT version FROM schema_meta").fetchone()[0] == (
            SCHEMA_VERSION
        )
        assert _stored() == expected
        _apply(("rename", 0, "Ann"))  # and its triggers keep them
        assert _stored() == _expected()
    finally:
        close_database()


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server (KIOSK_TEST_PG_URL)")
def test_n1_a_postgresql_database_migrated_to_parents_by_birth_date_gets_every_row(tmp_path):
    """Version 33 fills born_parent_term from the records of an older PostgreSQL database too,
    and its statement-level triggers keep it after."""
    with postgres_store(tmp_path, load=_family) as url:
        _apply(("add_parent", "Zoë", "Núñez-García"))
        _apply(("relate", 1, 0))
        expected = _expected()
        assert len(expected) > 3
        undo_on_postgresql(TABLE, 7, 32)  # as version 32 left it
        close_database()
        open_store(Config(database=url, pin_key_file=str(tmp_path / "pin.key")))
        assert database.execute_sql("SELECT version FROM schema_meta").fetchone()[0] == (
            SCHEMA_VERSION
        )
        assert _stored() == expected
        _apply(("rename", 0, "Ann"))
        _apply(("drop_child", 0))
        assert _stored() == _expected()
