"""The training dataset loads, and covers each rule it claims to (O2)."""

import datetime as dt

from kiosk.people.names import is_placeholder_name
from kiosk.people.patients import age_years, family_for, search_patients
from kiosk.store.models import (
    Appointment,
    Association,
    Caregiver,
    Patient,
    RegistrationPin,
    Relationship,
    Staff,
)
from kiosk.terms import Authority, PinState, PortalStatus

from conftest import TODAY, find_patient


def test_loads_at_least_twelve_families(training):
    assert Patient.select().count() >= 20
    assert Caregiver.select().count() >= 20
    assert len({r.caregiver_id for r in Relationship.select()}) >= 12


def test_r5_r15_testkiddo_family_as_in_the_procedure(training):
    family = family_for(find_patient("Rosemary", "Testkiddo").id, today=TODAY)
    assert {c.name for c in family.children} == {"Rosemary Testkiddo", "Basil Testkiddo"}
    assert {(c.name, c.role, c.authority) for c in family.caregivers} == {
        ("Cindy Testkiddo", "Mother", "Joint"),
        ("Jeff Testkiddo", "Father", "Joint"),
    }


def test_newborn_baby_girl_and_twins_are_placeholders(training):
    baby = find_patient("Baby Girl", "Okafor")
    assert is_placeholder_name(baby.given_name) and (TODAY - baby.dob).days < 28
    assert is_placeholder_name(find_patient("Twin A", "Rivera").given_name)


def test_fourteen_year_old(training):
    assert age_years(find_patient("Jordan", "Kim").dob, TODAY) == 14


def test_foster_child_has_only_the_foster_parent_with_authority(training):
    tyler = find_patient("Tyler", "Brooks")
    links = list(Relationship.select().where(Relationship.patient == tyler))
    with_authority = [r for r in links if r.authority != Authority.NONE]
    assert [r.role for r in with_authority] == ["Foster parent"]


def test_four_siblings_with_separated_parents_with_different_emails(training):
    family = family_for(find_patient("Sofía", "Núñez-García").id, today=TODAY)
    assert len(family.children) == 4
    emails = {c.email for c in family.caregivers}
    assert len(emails) == 2 and all(emails)


def test_registered_patient_with_one_parent_associated(training):
    ava = find_patient("Ava", "Patel")
    assert ava.portal_status == PortalStatus.REGISTERED
    assert Association.select().where(Association.patient == ava).count() == 1
    assert Relationship.select().where(Relationship.patient == ava).count() == 2


def test_self_registered_and_pending_patients(training):
    assert find_patient("Liam", "Chen").portal_status == PortalStatus.SELF_REGISTERED
    layla = find_patient("Layla", "Haddad")
    assert layla.portal_status == PortalStatus.PENDING
    assert (
        RegistrationPin.select()
        .where((RegistrationPin.patient == layla) & (RegistrationPin.state == PinState.ACTIVE))
        .count()
        == 1
    )


def test_caregiver_with_no_authority(training):
    emma = find_patient("Emma", "Johnson")
    assert any(
        r.authority == Authority.NONE and r.role == "Grandparent"
        for r in Relationship.select().where(Relationship.patient == emma)
    )


def test_names_that_break_markup_or_sorting(training):
    assert Patient.select().where(Patient.family_name == "O'Brien [Jr]").exists()
    assert Patient.select().where(Patient.given_name == "a[/]b").exists()
    assert Patient.select().where(Patient.family_name.contains("Núñez")).exists()
    assert any(len(p.family_name) == 40 for p in Patient.select())
    assert [r.family_name for r in search_patients("o'brien", today=TODAY)] == ["O'Brien [Jr]"]


def test_linked_and_unlinked_staff(training):
    assert Staff.get(Staff.username == "maria").portal_user
    assert Staff.get(Staff.username == "devon").portal_user is None


def test_appointments_today(training):
    start = dt.datetime.combine(TODAY, dt.time())
    assert (
        Appointment.select()
        .where(
            (Appointment.starts_at >= start)
            & (Appointment.starts_at < start + dt.timedelta(days=1))
        )
        .count()
        >= 5
    )


def test_every_status_is_present(training):
    statuses = {p.portal_status for p in Patient.select()}
    assert statuses == {"Unregistered", "Pending", "Registered", "Self Registered"}
