"""N1, "Amanda Dvořák": parent_name_child (a parent's whole name beside each child's listed row)
holds exactly what the join of relationships, the parents' whole-name terms, the children's rows
and the parents' names gives, after any write, on SQLite and PostgreSQL; a database migrated to
it gets every row; and a parent's whole name lists the first children in the list's order."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.people import search
from kiosk.people.parent_names import FILL, TABLE
from kiosk.people.patients import search_patients
from kiosk.store.db import write_transaction
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.terms import Authority, CaregiverRole, PortalStatus

import test_born_parents as born
from test_postgres import postgres_store

TODAY = dt.date(2026, 11, 22)
NAMES = [*born.NAMES, "Zoe"]  # "Zoe" to "Zoë": the same whole-name term, a new name as written
DAYS = born.DAYS
STATUSES = [PortalStatus.UNREGISTERED, PortalStatus.PENDING, PortalStatus.REGISTERED]
COLUMNS = (
    "term, family_key, given_key, dob, patient_id, caregiver_id, given_name, family_name,"
    " portal_status, carer_given, carer_family"
)


def _family() -> None:
    with write_transaction():
        mother = Caregiver.create(given_name="Ana", family_name="Smith", email="ana@example.org")
        for n, name in enumerate(["Rosa", "Bea", "Carl"]):
            child = Patient.create(
                chart_number=f"C{n}", given_name=name, family_name="Smith", dob=DAYS[n % 3]
            )
            Relationship.create(
                caregiver=mother,
                patient=child,
                role=CaregiverRole.MOTHER,
                authority=Authority.JOINT,
            )


# every write of test_born_parents, and a child's row changed as the list shows it
_OPS = st.one_of(
    born._OPS,
    st.tuples(st.just("rename_child"), st.integers(0, 20), st.sampled_from(NAMES)),
    st.tuples(st.just("status"), st.integers(0, 20), st.sampled_from(STATUSES)),
)


def _apply(op: tuple) -> None:
    kind, *args = op
    if kind not in ("rename_child", "status"):
        born._apply(op)
        return
    with write_transaction():
        if kind == "rename_child" and (child := born._pick(Patient, args[0])):
            child.family_name = args[1]
            child.save()
        elif kind == "status" and (child := born._pick(Patient, args[0])):
            # as the registration steps write it (L1): one column, by a statement of its own
            Patient.update(portal_status=args[1]).where(Patient.id == child.id).execute()


KEPT = born.Kept(TABLE, FILL, COLUMNS, _family, _apply)


@pytest.fixture
def sqlite_store(tmp_path):
    with KEPT.on_sqlite(tmp_path):
        yield


@pytest.fixture
def pg_store(tmp_path):
    with postgres_store(tmp_path, load=_family):
        yield


_STEPS = born._STEPS


@_STEPS
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_n1_parents_children_by_name_stay_in_step_with_every_write_on_sqlite(sqlite_store, ops):
    KEPT.check_in_step(ops)


@_STEPS
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_n1_parents_children_by_name_stay_in_step_with_every_write_on_postgresql(pg_store, ops):
    KEPT.check_in_step(ops)


@pytest.mark.parametrize("opened", ["sqlite_store", "pg_store"])
def test_n1_a_parents_whole_name_follows_renames_and_statuses(opened, request):
    """A parent renamed, a child renamed or registered: "Ana Smith" lists what is now so."""
    request.getfixturevalue(opened)
    rows = search_patients("Ana Smith", today=TODAY)
    assert [(r.given_name, r.reason) for r in rows] == [
        ("Bea", "caregiver Ana Smith"),
        ("Carl", "caregiver Ana Smith"),
        ("Rosa", "caregiver Ana Smith"),
    ]
    with write_transaction():
        bea = Patient.get(Patient.given_name == "Bea")
        Patient.update(portal_status=PortalStatus.REGISTERED).where(Patient.id == bea.id).execute()
        carl = Patient.get(Patient.given_name == "Carl")
        carl.given_name = "Abe"
        carl.save()
        mother = Caregiver.get(Caregiver.given_name == "Ana")
        mother.family_name = "Smíth"  # the same whole-name term, a new name as written
        mother.save()
    rows = search_patients("Ana Smith", today=TODAY)
    assert [(r.given_name, r.portal_status, r.reason) for r in rows] == [
        ("Abe", PortalStatus.UNREGISTERED, "caregiver Ana Smíth"),
        ("Bea", PortalStatus.REGISTERED, "caregiver Ana Smíth"),
        ("Rosa", PortalStatus.UNREGISTERED, "caregiver Ana Smíth"),
    ]
    with write_transaction():
        mother.given_name = "Beatriz"
        mother.save()
    assert search_patients("Ana Smith", today=TODAY) == []
    assert len(search_patients("Beatriz Smith", today=TODAY)) == 3


@pytest.mark.parametrize("opened", ["sqlite_store", "pg_store"])
def test_n1_a_whole_name_lists_its_first_children_in_the_lists_order(opened, request):
    """More children of a parent's name than the list holds: the search reads the first of them
    in the order the list shows them (by name), each with the parent's name, so the list is the
    first rows of the whole one, on both backends alike (N1)."""
    request.getfixturevalue(opened)
    with write_transaction():
        for n, family in enumerate(["Zed", "Young", "Xu", "Webb"]):
            parent = Caregiver.create(given_name="Ana", family_name="Smith")
            for given in ("Ola", "Ben"):
                child = Patient.create(
                    chart_number=f"Z{n}{given}", given_name=given, family_name=family, dob=DAYS[0]
                )
                Relationship.create(
                    caregiver=parent,
                    patient=child,
                    role=CaregiverRole.FATHER,
                    authority=Authority.JOINT,
                )
    everyone = [(r.family_name, r.given_name) for r in search_patients("Ana Smith", today=TODAY)]
    assert len(everyone) == 11
    assert everyone == sorted(everyone, key=lambda name: (name[0].lower(), name[1].lower()))
    shown = search_patients("Ana Smith", today=TODAY, limit=4)
    assert [(r.family_name, r.given_name, r.reason) for r in shown] == [
        (*name, "caregiver Ana Smith") for name in everyone[:4]
    ]
    if opened == "pg_store":  # the function reads them with their rows and the parent's name
        terms = search.term_sql("caregiver_full", "anasmith", "anasmiti", None, None, 4)
        rows = search._with_rows(terms).rows()
        assert [(row[4], row[3]) for row in rows] == everyone[:4]
        assert {(row[9], row[10]) for row in rows} == {("Ana", "Smith")}


def test_n1_a_database_migrated_to_parents_children_by_name_gets_every_row(tmp_path):
    """Version 34 fills parent_name_child from the records of an older database (SQLite)."""
    with KEPT.migrated_on_sqlite(tmp_path, version=33, more_than=6):
        # and its triggers keep them
        KEPT.check_in_step([("rename", 0, "Ann"), ("status", 0, PortalStatus.REGISTERED)])


def test_n1_a_postgresql_database_migrated_to_parents_children_by_name_gets_every_row(tmp_path):
    """Version 34 fills parent_name_child from the records of an older PostgreSQL database too,
    and its triggers keep it after."""
    with KEPT.migrated_on_postgresql(tmp_path, version=33, triggers=8, more_than=6):
        assert len(search_patients("Ana Smith", today=TODAY)) == 3
        KEPT.check_in_step(
            [("rename", 0, "Ann"), ("status", 0, PortalStatus.PENDING), ("drop_child", 0)]
        )
