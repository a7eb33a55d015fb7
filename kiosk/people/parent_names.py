"""A parent's whole name beside each child's listed row, kept in step (N1: "Amanda Dvořák").

A parent's whole name typed shows their children. At a million patients a common name is some 45
parents with 100 to 250 children, and the join of the name's terms, each parent's name, their
relationships and each child's row read about 720 pages of four tables a search (~190 descents of
an index), most of the server's time of the search. ``ParentNameChild`` (kiosk.store.models) holds
one row per (parent's whole-name term, child): the child's row as the list shows it and the
parent's name as its reason shows it, so the list is the first rows of one range of one index, in
the order the list is shown (by the child's name), a few pages.

Its rows are derived from ``relationship``, the parents' whole-name terms in ``search_term``, the
child's ``patient`` row and the parent's ``caregiver`` name, by triggers on those tables, as
kiosk.people.born_parents keeps its own: whatever writes them (the Desk, the importer, the
generators, a cascade), the rows follow in the same transaction, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from kiosk.people.born_parents import fill_table, kept_in_step, row_trigger
from kiosk.people.search_index import CAREGIVER_FULL

TABLE = "parent_name_child"
_COLUMNS = (
    "term, family_key, given_key, dob, patient_id, caregiver_id, given_name, family_name,"
    " portal_status, carer_given, carer_family"
)
# the order of the list (kiosk.people.search._rows: by family, given name, birth date) within a
# term, which the table's first index holds, so a LIMIT reads the list's first rows
LISTED = "term, family_key, given_key, dob, patient_id, caregiver_id"
# the columns a child's row gives, and those a parent's name gives
_CHILD = ("family_key", "given_key", "dob", "given_name", "family_name", "portal_status")
_CARER = (("carer_given", "given_name"), ("carer_family", "family_name"))


def _whole(alias: str) -> str:
    return f"{alias}.caregiver_id IS NOT NULL AND {alias}.field = '{CAREGIVER_FULL}'"


def _select(r: str, t: str) -> str:
    """The rows of relationships ``r`` and whole-name terms ``t`` (joined by the caregiver)."""
    return (
        f"SELECT {t}.term, p.family_key, p.given_key, p.dob, {r}.patient_id, {r}.caregiver_id,"
        " p.given_name, p.family_name, p.portal_status, c.given_name, c.family_name"
    )


# every row, from the records (the migration, a bulk load with triggers off), in the index's
# order, so a term's rows lie together in the table too (PostgreSQL reads them in a few pages)
FILL = (
    f'INSERT INTO "{TABLE}" ({_COLUMNS}) {_select("r", "t")}'
    ' FROM "relationship" r JOIN "patient" p ON p.id = r.patient_id'
    ' JOIN "search_term" t ON t.caregiver_id = r.caregiver_id'
    f' JOIN "caregiver" c ON c.id = r.caregiver_id WHERE {_whole("t")}'
    " ORDER BY t.term, p.family_key, p.given_key, p.dob, r.patient_id, r.caregiver_id"
)

# each change's rows: a new relationship's, a new term's
_RELATED = (
    f"{_select('{r}', 't')} FROM {{from}} JOIN patient p ON p.id = {{r}}.patient_id"
    " JOIN search_term t ON t.caregiver_id = {r}.caregiver_id"
    f" JOIN caregiver c ON c.id = {{r}}.caregiver_id WHERE {_whole('t')}"
)
_NAMED = (
    f"{_select('r', '{t}')} FROM {{from}} JOIN relationship r ON r.caregiver_id = {{t}}.caregiver_id"
    " JOIN patient p ON p.id = r.patient_id JOIN caregiver c ON c.id = {t}.caregiver_id"
    " WHERE {name}"
)
# a child's listed row changed (a name fixed, a birth date, a portal status: L1's every step):
# its rows, found through its parents (the table's (caregiver, patient) index; a parent or two)
_RELISTED = (
    f"UPDATE {TABLE} SET {', '.join(f'{c} = NEW.{c}' for c in _CHILD)}"
    " WHERE patient_id = NEW.id AND caregiver_id IN"
    " (SELECT r.caregiver_id FROM relationship r WHERE r.patient_id = NEW.id)"
)
# a parent's name as written changed (the terms follow through search_term when they change)
_RENAMED = (
    f"UPDATE {TABLE} SET {', '.join(f'{mine} = NEW.{theirs}' for mine, theirs in _CARER)}"
    " WHERE caregiver_id = NEW.id"
)

_STEP = kept_in_step(TABLE, _COLUMNS, _whole, _RELATED, _NAMED)
_ROWS = (
    row_trigger(TABLE, "relisted", "patient", _CHILD, _RELISTED),
    row_trigger(TABLE, "renamed", "caregiver", tuple(c for _, c in _CARER), _RENAMED),
)
SQLITE_TRIGGERS = (*_STEP[0], *(sqlite for sqlite, _ in _ROWS))
POSTGRES_TRIGGERS = (*_STEP[1], *(text for _, postgres in _ROWS for text in postgres))


def create_triggers() -> None:
    """Create (or replace) the triggers that keep ``parent_name_child`` in step."""
    from kiosk.store.db import database, is_sqlite

    for statement in SQLITE_TRIGGERS if is_sqlite() else POSTGRES_TRIGGERS:
        database.execute_sql(statement)


def fill() -> None:
    """Write every row of ``parent_name_child`` from the records into the empty table."""
    from kiosk.store.models import ParentNameChild

    fill_table(ParentNameChild, FILL)
