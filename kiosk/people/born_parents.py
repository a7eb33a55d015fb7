"""A parent's name parts beside each child's birth date (N1: "ana 5/17/2018"), kept in step.

A first name with a birth date finds the children born that day whose parent has that name part.
Joined from the records, that walks the day's children (a few hundred at a million patients),
each one's parents and each parent's terms: about 1,000 index pages. ``BornParentTerm``
(kiosk.store.models) holds one row per (child's birth date, parent's name term, child, parent),
so the same rows are one range of one index.

Its rows are derived from ``relationship``, the parents' name terms in ``search_term`` and the
child's ``patient.dob``, by triggers on those tables: whatever writes them (the Desk, the importer,
the demo and training generators, a cascade from a deleted patient or caregiver), the rows follow
in the same transaction, on SQLite and PostgreSQL alike. PostgreSQL's inserts and deletes fire once
a statement with the statement's rows (a bulk load is one join, not a call a row), each planned
for its own rows (EXECUTE: a plan kept from a bulk load would hash whole tables for one parent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.people.search_index import CAREGIVER, FAMILY, FULL, GIVEN

if TYPE_CHECKING:
    import peewee as pw

TABLE = "born_parent_term"
_COLUMNS = "dob, term, patient_id, caregiver_id"
# the name terms a word is looked up in (kiosk.people.search.NAME_FIELDS); a parent's are CAREGIVER
_FIELDS = ", ".join(f"'{name}'" for name in (GIVEN, FAMILY, FULL, CAREGIVER))


def _name(alias: str) -> str:
    return f"{alias}.caregiver_id IS NOT NULL AND {alias}.field IN ({_FIELDS})"


# every row, from the records (the migration, a bulk load with triggers off)
FILL = (
    f'INSERT INTO "{TABLE}" ({_COLUMNS}) SELECT p.dob, t.term, r.patient_id, r.caregiver_id'
    ' FROM "relationship" r JOIN "patient" p ON p.id = r.patient_id'
    f' JOIN "search_term" t ON t.caregiver_id = r.caregiver_id WHERE {_name("t")}'
)

# each change's rows: (a new relationship's, a new term's) rows to add, and the rows to remove
_RELATED = (
    "SELECT p.dob, t.term, {r}.patient_id, {r}.caregiver_id"
    " FROM {from} JOIN patient p ON p.id = {r}.patient_id"
    f" JOIN search_term t ON t.caregiver_id = {{r}}.caregiver_id WHERE {_name('t')}"
)
_NAMED = (
    "SELECT p.dob, {t}.term, r.patient_id, {t}.caregiver_id"
    " FROM {from} JOIN relationship r ON r.caregiver_id = {t}.caregiver_id"
    " JOIN patient p ON p.id = r.patient_id WHERE {name}"
)
# a child's birth date fixed: its rows, found through its parents (the table's (caregiver,
# patient) index; a fix is rare and a child has a parent or two)
_REBORN = (
    f"UPDATE {TABLE} SET dob = NEW.dob WHERE patient_id = NEW.id AND caregiver_id IN"
    " (SELECT r.caregiver_id FROM relationship r WHERE r.patient_id = NEW.id)"
)


def _function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    {body}
    RETURN NULL;
END
$f$"""


def _execute(statement: str) -> str:
    return f"EXECUTE $q${statement}$q$;"


def _trigger(name: str, when: str, table: str, function: str, extra: str = "") -> tuple[str, ...]:
    return (
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"CREATE TRIGGER {name} {when} ON {table} {extra} EXECUTE FUNCTION {function}()",
    )


def row_trigger(
    table: str, name: str, on: str, columns: tuple[str, ...], body: str
) -> tuple[str, tuple[str, ...]]:
    """A trigger of ``table`` (kept in step) run for each row of ``on`` whose ``columns`` an
    update changed, doing ``body`` (NEW as both write it): SQLite's, and PostgreSQL's function
    and trigger."""
    full, of = f"{table}_{name}", ", ".join(columns)
    sqlite = f"""CREATE TRIGGER IF NOT EXISTS {full} AFTER UPDATE OF {of} ON {on}
WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)} BEGIN
    {body};
END"""
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    when = f"FOR EACH ROW WHEN ({changed})"
    return sqlite, (
        _function(full, f"{body};"),
        *_trigger(full, f"AFTER UPDATE OF {of}", on, full, when),
    )


def kept_in_step(
    table: str, columns: str, name: Callable[[str], str], related: str, named: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The triggers that keep ``table``, derived from relationships and the parents' search
    terms that ``name`` takes (a condition of a term's alias), in step with both tables: an
    insert's rows are ``related``'s (a SELECT of a relationship ``{r}`` in ``{from}``) or
    ``named``'s (of a term ``{t}`` in ``{from}``, ``{name}`` its condition) into ``columns``, a
    delete's removed by (caregiver, patient) or (caregiver, term). SQLite's run a row at a time;
    PostgreSQL's inserts and deletes once a statement, with its rows (SQLite's, PostgreSQL's)."""
    related = f"INSERT INTO {table} ({columns}) {related}"
    named = f"INSERT INTO {table} ({columns}) {named}"
    unrelated = (
        f"DELETE FROM {table} WHERE caregiver_id = {{r}}.caregiver_id"
        " AND patient_id = {r}.patient_id"
    )
    unnamed = f"DELETE FROM {table} WHERE caregiver_id = {{t}}.caregiver_id AND term = {{t}}.term"
    one = {"from": "(SELECT 1)"}
    sqlite = (
        f"""CREATE TRIGGER IF NOT EXISTS {table}_related AFTER INSERT ON relationship BEGIN
    {related.format(r="NEW", **one)};
END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_unrelated AFTER DELETE ON relationship BEGIN
    {unrelated.format(r="OLD")};
END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_related_again
AFTER UPDATE OF patient_id, caregiver_id ON relationship BEGIN
    {unrelated.format(r="OLD")};
    {related.format(r="NEW", **one)};
END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_named AFTER INSERT ON search_term
WHEN {name("NEW")} BEGIN
    {named.format(t="NEW", name="1 = 1", **one)};
END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_unnamed AFTER DELETE ON search_term
WHEN {name("OLD")} BEGIN
    {unnamed.format(t="OLD")};
END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_named_again
AFTER UPDATE OF term, field, caregiver_id ON search_term BEGIN
    {unnamed.format(t="OLD")} AND {name("OLD")};
    {named.format(t="NEW", name=name("NEW"), **one)};
END""",
    )
    postgres = (
        _function(f"{table}_related", _execute(related.format(r="r", **{"from": "related r"}))),
        _function(
            f"{table}_unrelated",
            _execute(
                f"DELETE FROM {table} b USING unrelated r"
                " WHERE b.caregiver_id = r.caregiver_id AND b.patient_id = r.patient_id"
            ),
        ),
        _function(
            f"{table}_named",
            _execute(named.format(t="t", name=name("t"), **{"from": "named t"})),
        ),
        _function(
            f"{table}_unnamed",
            _execute(
                f"DELETE FROM {table} b USING unnamed t"
                f" WHERE b.caregiver_id = t.caregiver_id AND b.term = t.term AND {name('t')}"
            ),
        ),
        # a row's keys changed in place (nothing in kiosk does; a hand-made fix might): row by row
        _function(
            f"{table}_related_again",
            f"{unrelated.format(r='OLD')};\n    "
            f"{related.format(r='NEW', **{'from': '(SELECT 1) one'})};",
        ),
        _function(
            f"{table}_named_again",
            f"{unnamed.format(t='OLD')} AND {name('OLD')};\n    "
            f"{named.format(t='NEW', name=name('NEW'), **{'from': '(SELECT 1) one'})};",
        ),
        *_trigger(
            f"{table}_related",
            "AFTER INSERT",
            "relationship",
            f"{table}_related",
            "REFERENCING NEW TABLE AS related FOR EACH STATEMENT",
        ),
        *_trigger(
            f"{table}_unrelated",
            "AFTER DELETE",
            "relationship",
            f"{table}_unrelated",
            "REFERENCING OLD TABLE AS unrelated FOR EACH STATEMENT",
        ),
        *_trigger(
            f"{table}_related_again",
            "AFTER UPDATE OF patient_id, caregiver_id",
            "relationship",
            f"{table}_related_again",
            "FOR EACH ROW WHEN (OLD.patient_id <> NEW.patient_id"
            " OR OLD.caregiver_id <> NEW.caregiver_id)",
        ),
        *_trigger(
            f"{table}_named",
            "AFTER INSERT",
            "search_term",
            f"{table}_named",
            "REFERENCING NEW TABLE AS named FOR EACH STATEMENT",
        ),
        *_trigger(
            f"{table}_unnamed",
            "AFTER DELETE",
            "search_term",
            f"{table}_unnamed",
            "REFERENCING OLD TABLE AS unnamed FOR EACH STATEMENT",
        ),
        *_trigger(
            f"{table}_named_again",
            "AFTER UPDATE OF term, field, caregiver_id",
            "search_term",
            f"{table}_named_again",
            "FOR EACH ROW WHEN (OLD.term IS DISTINCT FROM NEW.term"
            " OR OLD.field IS DISTINCT FROM NEW.field"
            " OR OLD.caregiver_id IS DISTINCT FROM NEW.caregiver_id)",
        ),
    )
    return sqlite, postgres


_STEP = kept_in_step(TABLE, _COLUMNS, _name, _RELATED, _NAMED)
_REBORN_TRIGGER = row_trigger(TABLE, "reborn", "patient", ("dob",), _REBORN)
SQLITE_TRIGGERS = (*_STEP[0], _REBORN_TRIGGER[0])
POSTGRES_TRIGGERS = (*_STEP[1], *_REBORN_TRIGGER[1])


def create_triggers() -> None:
    """Create (or replace) the triggers that keep ``born_parent_term`` in step."""
    from kiosk.store.db import database, is_sqlite

    for statement in SQLITE_TRIGGERS if is_sqlite() else POSTGRES_TRIGGERS:
        database.execute_sql(statement)


def fill() -> None:
    """Write every row of ``born_parent_term`` from the records into the empty table."""
    from kiosk.store.models import BornParentTerm

    fill_table(BornParentTerm, FILL)


def fill_table(model: type[pw.Model], statement: str) -> None:
    """Write every row of a table kept in step (``model``'s) from the records with ``statement``
    into the empty table, with its indexes built afterwards (from sorted input: a migration step
    at ten million patients)."""
    from kiosk.store.db import database, is_sqlite

    model.create_table(safe=True)
    for index in database.get_indexes(model._meta.table_name):
        database.execute_sql(f'DROP INDEX "{index.name}"')
    if not is_sqlite():  # the sorts in memory (some 1.2 GB of keys at ten million, and the rows)
        database.execute_sql("SET LOCAL maintenance_work_mem = '1GB'")
        database.execute_sql("SET LOCAL work_mem = '1GB'")
    database.execute_sql(statement)
    model.create_table(safe=True)  # the indexes again
    if not is_sqlite():  # a plan for the table just filled
        database.execute_sql(f'ANALYZE "{model._meta.table_name}"')
