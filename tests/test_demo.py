"""The synthetic practice (kiosk demo generate): what a demonstration or benchmark relies on."""

from __future__ import annotations

from peewee import fn

from kiosk.ops import demo
from kiosk.people.patients import family_for, search_patients
from kiosk.store.db import database
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.terms import Authority, CaregiverRole, PortalStatus, fold


def test_o1_generates_families_with_every_status_and_realistic_names(store):
    report = demo.generate_practice(3_000, seed=4)
    assert report.startswith("Generated 3,000 patients in ") and "seconds" in report
    assert Patient.select().count() == 3_000
    statuses = {s for (s,) in Patient.select(Patient.portal_status).distinct().tuples()}
    assert statuses == set(PortalStatus)
    names = [f for (f,) in Patient.select(Patient.family_name).distinct().tuples()]
    assert (
        any("-" in n for n in names)
        and any("'" in n for n in names)
        and any(not n.isascii() for n in names)
    )
    sizes = [
        c
        for (c,) in Relationship.select(fn.COUNT(Relationship.patient))
        .group_by(Relationship.caregiver)
        .tuples()
    ]
    assert min(sizes) == 1 and max(sizes) == 5
    carers = [
        c
        for (c,) in Relationship.select(fn.COUNT(Relationship.caregiver))
        .group_by(Relationship.patient)
        .tuples()
    ]
    assert set(carers) == {1, 2}
    roles = set(Relationship.select(Relationship.role, Relationship.authority).tuples())
    assert {r for r, _ in roles} <= set(CaregiverRole) and {a for _, a in roles} == set(Authority)
    assert ("Stepparent", "None") in roles and ("Mother", "Joint") in roles


def test_o1_bulk_rows_are_searchable_like_saved_ones(store):
    demo.generate_practice(500, seed=2)
    for patient in Patient.select().limit(200):
        assert (patient.given_key, patient.family_key) == (
            fold(patient.given_name),
            fold(patient.family_name),
        )
    accented = (
        Patient.select().where(Patient.family_name.contains("ñ")).first()
        or Patient.select().first()
    )
    typed = f"{accented.family_name[:4]}, {accented.given_name[:2]}"
    assert accented.id in {row.id for row in search_patients(typed, limit=1000)}
    family = family_for(accented.id)
    assert family.caregivers and family.children[0].id == accented.id
    new = Patient.create(
        chart_number="X1", given_name="Zoë", family_name="O'Brien", dob="2020-01-01"
    )
    assert new.id == Patient.select(fn.MAX(Patient.id)).scalar()  # ids carry on after the bulk rows
    assert Caregiver.create(given_name="A", family_name="B").id > 1


def test_o1_chart_numbers_stay_unique_across_runs_and_indexes_remain(store):
    demo.generate_practice(300, seed=1)
    demo.generate_practice(300, seed=1)
    assert Patient.select(fn.COUNT(Patient.chart_number.distinct())).scalar() == 600
    indexes = {i.name for i in database.get_indexes(Patient._meta.table_name)}
    assert {
        "patient_family_key_given_key_dob",
        "patient_given_key_family_key",
        "patient_dob_family_key_given_key",
        "patient_chart_number",
    } <= indexes
    assert (
        database.execute_sql("PRAGMA synchronous").fetchone()[0] == 1
    )  # NORMAL again after generating
