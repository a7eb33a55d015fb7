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

from kiosk.people.search_index import CAREGIVER, FAMILY, FULL, GIVEN

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
    f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT p.dob, t.term, {{r}}.patient_id, {{r}}.caregiver_id"
    " FROM {from} JOIN patient p ON p.id = {r}.patient_id"
    f" JOIN search_term t ON t.caregiver_id = {{r}}.caregiver_id WHERE {_name('t')}"
)
_NAMED = (
    f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT p.dob, {{t}}.term, r.patient_id, {{t}}.caregiver_id"
    " FROM {from} JOIN relationship r ON r.caregiver_id = {t}.caregiver_id"
    " JOIN patient p ON p.id = r.patient_id WHERE {name}"
)
_UNRELATED = (
    f"DELETE FROM {TABLE} WHERE caregiver_id = {{r}}.caregiver_id AND patient_id = {{r}}.patient_id"
)
_UNNAMED = f"DELETE FROM {TABLE} WHERE caregiver_id = {{t}}.caregiver_id AND term = {{t}}.term"
# a child's birth date fixed: its rows, found through its parents (the table's (caregiver,
# patient) index; a fix is rare and a child has a parent or two)
_REBORN = (
    f"UPDATE {TABLE} SET dob = NEW.dob WHERE patient_id = NEW.id AND caregiver_id IN"
    " (SELECT r.caregiver_id FROM relationship r WHERE r.patient_id = NEW.id)"
)

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_related AFTER INSERT ON relationship BEGIN
    {_RELATED.format(r="NEW", **{"from": "(SELECT 1)"})};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_unrelated AFTER DELETE ON relationship BEGIN
    {_UNRELATED.format(r="OLD")};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_related_again
AFTER UPDATE OF patient_id, caregiver_id ON relationship BEGIN
    {_UNRELATED.format(r="OLD")};
    {_RELATED.format(r="NEW", **{"from": "(SELECT 1)"})};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_named AFTER INSERT ON search_term
WHEN {_name("NEW")} BEGIN
    {_NAMED.format(t="NEW", name="1 = 1", **{"from": "(SELECT 1)"})};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_unnamed AFTER DELETE ON search_term
WHEN {_name("OLD")} BEGIN
    {_UNNAMED.format(t="OLD")};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_named_again
AFTER UPDATE OF term, field, caregiver_id ON search_term BEGIN
    {_UNNAMED.format(t="OLD")} AND {_name("OLD")};
    {_NAMED.format(t="NEW", name=_name("NEW"), **{"from": "(SELECT 1)"})};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_reborn AFTER UPDATE OF dob ON patient
WHEN OLD.dob IS NOT NEW.dob BEGIN
    {_REBORN};
END""",
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


POSTGRES_TRIGGERS = (
    _function(
        f"{TABLE}_related",
        _execute(_RELATED.format(r="r", **{"from": "related r"})),
    ),
    _function(
        f"{TABLE}_unrelated",
        _execute(
            f"DELETE FROM {TABLE} b USING unrelated r"
            " WHERE b.caregiver_id = r.caregiver_id AND b.patient_id = r.patient_id"
        ),
    ),
    _function(
        f"{TABLE}_named",
        _execute(_NAMED.format(t="t", name=_name("t"), **{"from": "named t"})),
    ),
    _function(
        f"{TABLE}_unnamed",
        _execute(
            f"DELETE FROM {TABLE} b USING unnamed t"
            f" WHERE b.caregiver_id = t.caregiver_id AND b.term = t.term AND {_name('t')}"
        ),
    ),
    # a row's keys changed in place (nothing in kiosk does; a hand-made fix might): row by row
    _function(
        f"{TABLE}_related_again",
        f"{_UNRELATED.format(r='OLD')};\n    "
        f"{_RELATED.format(r='NEW', **{'from': '(SELECT 1) one'})};",
    ),
    _function(
        f"{TABLE}_named_again",
        f"{_UNNAMED.format(t='OLD')} AND {_name('OLD')};\n    "
        f"{_NAMED.format(t='NEW', name=_name('NEW'), **{'from': '(SELECT 1) one'})};",
    ),
    _function(f"{TABLE}_reborn", f"{_REBORN};"),
    *_trigger(
        f"{TABLE}_related",
        "AFTER INSERT",
        "relationship",
        f"{TABLE}_related",
        "REFERENCING NEW TABLE AS related FOR EACH STATEMENT",
    ),
    *_trigger(
        f"{TABLE}_unrelated",
        "AFTER DELETE",
        "relationship",
        f"{TABLE}_unrelated",
        "REFERENCING OLD TABLE AS unrelated FOR EACH STATEMENT",
    ),
    *_trigger(
        f"{TABLE}_related_again",
        "AFTER UPDATE OF patient_id, caregiver_id",
        "relationship",
        f"{TABLE}_related_again",
        "FOR EACH ROW WHEN (OLD.patient_id <> NEW.patient_id"
        " OR OLD.caregiver_id <> NEW.caregiver_id)",
    ),
    *_trigger(
        f"{TABLE}_named",
        "AFTER INSERT",
        "search_term",
        f"{TABLE}_named",
        "REFERENCING NEW TABLE AS named FOR EACH STATEMENT",
    ),
    *_trigger(
        f"{TABLE}_unnamed",
        "AFTER DELETE",
        "search_term",
        f"{TABLE}_unnamed",
        "REFERENCING OLD TABLE AS unnamed FOR EACH STATEMENT",
    ),
    *_trigger(
        f"{TABLE}_named_again",
        "AFTER UPDATE OF term, field, caregiver_id",
        "search_term",
        f"{TABLE}_named_again",
        "FOR EACH ROW WHEN (OLD.term IS DISTINCT FROM NEW.term"
        " OR OLD.field IS DISTINCT FROM NEW.field"
        " OR OLD.caregiver_id IS DISTINCT FROM NEW.caregiver_id)",
    ),
    *_trigger(
        f"{TABLE}_reborn",
        "AFTER UPDATE OF dob",
        "patient",
        f"{TABLE}_reborn",
        "FOR EACH ROW WHEN (OLD.dob IS DISTINCT FROM NEW.dob)",
    ),
)


def create_triggers() -> None:
    """Create (or replace) the triggers that keep ``born_parent_term`` in step."""
    from kiosk.store.db import database, is_sqlite

    for statement in SQLITE_TRIGGERS if is_sqlite() else POSTGRES_TRIGGERS:
        database.execute_sql(statement)


def fill() -> None:
    """Write every row of ``born_parent_term`` from the records into the empty table, with its
    indexes built afterwards (from sorted input: a migration step at ten million patients)."""
    from kiosk.store.db import database, is_sqlite
    from kiosk.store.models import BornParentTerm

    BornParentTerm.create_table(safe=True)
    for index in database.get_indexes(TABLE):
        database.execute_sql(f'DROP INDEX "{index.name}"')
    if not is_sqlite():  # the indexes' sorts in memory (some 1.2 GB of keys at ten million)
        database.execute_sql("SET LOCAL maintenance_work_mem = '1GB'")
    database.execute_sql(FILL)
    BornParentTerm.create_table(safe=True)  # the indexes again
    if not is_sqlite():  # a plan for the table just filled
        database.execute_sql(f'ANALYZE "{TABLE}"')
