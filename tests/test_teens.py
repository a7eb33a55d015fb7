"""Teens, self-registered families and access over time (T1-T5), through the Desk on the app's
clock: on SQLite and, with KIOSK_TEST_PG_URL, on PostgreSQL too."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk import audit
from kiosk.clock import Clock
from kiosk.messages import outbox
from kiosk.people.staff import authenticate
from kiosk.registration import portal
from kiosk.registration.access import AccessError
from kiosk.registration.engine import IssueRequest, RegistrationError
from kiosk.registration.pin_life import ContactChange, PinLifeError
from kiosk.slip.content import slip_text_lines
from kiosk.store.db import close_database, write_transaction
from kiosk.store.models import AuditEvent, OutboxMessage, Patient, Practice, RegistrationPin
from kiosk.store.practice import open_store
from kiosk.terms import (
    AssociationKind,
    AssociationState,
    IdCheck,
    PinState,
    PortalStatus,
    SendTo,
)

from conftest import NOW, TODAY, desk, find_patient, load_training
from test_postgres import postgres_store

PASSWORD = "Sunflower-meadow-42"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def maria(request, tmp_path, config):
    """The training families on SQLite or PostgreSQL, and a linked desk member."""
    if request.param == "sqlite":
        request.getfixturevalue("_training_copies").copy_into(config)  # conftest: not loaded again
        open_store(config)
        yield authenticate("maria", "training1")
        close_database()
    else:
        with postgres_store(tmp_path, load=load_training):
            yield authenticate("maria", "training1")


def at(config, staff, days=0):
    """The desk ``days`` after the tests' day, by the app clock."""
    later = NOW + dt.timedelta(days=days)
    return desk(config, staff=staff, clock=Clock.fixed(later, TODAY + dt.timedelta(days=days)))


def _caregiver(page, name):
    return next(c for c in page.caregivers if c.name == name)


def _events(action, patient=None):
    query = AuditEvent.select().where(AuditEvent.action == action)
    if patient is not None:
        query = query.where(AuditEvent.patient_id == patient.id)
    return list(query)


def _status(patient):
    return Patient.get_by_id(patient.id).portal_status


def _redeem(front, email, name, patient, pin):
    account = front.create_account(email, name, PASSWORD)
    return account, front.redeem(account.id, patient.dob, pin=pin)


def _born_turning(years, in_days):
    """The birth date of someone who turns ``years`` ``in_days`` after TODAY."""
    day = TODAY + dt.timedelta(days=in_days)
    return day.replace(year=day.year - years)


# -- T1: Send to Minor --------------------------------------------------------------------------


def test_t1_minor_pin_goes_to_the_teens_own_address_and_makes_their_own_account(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    grace = _caregiver(front.patient_page(jordan.id), "Grace Kim")
    front.update_patient_contact(jordan.id, ContactChange(email="Jordan.K@example.com"))
    result = front.issue(
        IssueRequest([jordan.id], recipient_id=grace.id, email=grace.email, send_to=SendTo.MINOR)
    )
    assert result.recipient == "jordan.k@example.com" and result.warnings == ()
    message = OutboxMessage.get(OutboxMessage.batch == result.batch)
    assert message.recipient == "jordan.k@example.com"
    assert RegistrationPin.get(RegistrationPin.batch == result.batch).recipient_id is None
    assert _status(jordan) == PortalStatus.PENDING

    account, redeemed = _redeem(
        front, "jordan.k@example.com", "Jordan Kim", jordan, result.pins[0].pin
    )
    assert redeemed.own and _status(jordan) == PortalStatus.REGISTERED
    [row] = front.associations(jordan.id)
    assert row.kind == AssociationKind.OWN and row.account_name == "Jordan Kim"
    assert [c.given_name for c in front.children_of(account.id)] == ["Jordan"]
    # the teen's PIN makes one account, the teen's own: a parent cannot use it after
    parent = front.create_account(grace.email, "Grace Kim", PASSWORD)
    with pytest.raises(portal.PortalError):
        front.redeem(parent.id, jordan.dob, pin=result.pins[0].pin)


@pytest.mark.parametrize(
    "language, own_pin, own_account, slip_step",
    [
        ("en", "Your own registration PIN:", "This is your own portal account",
         "Enter your date of birth and the PIN shown next to your name."),
        ("es", "Su propio PIN de registro:", "Esta es su propia cuenta del portal",
         "Ingrese su fecha de nacimiento y el PIN que aparece junto a su nombre."),
    ],
)  # fmt: skip
def test_t1_the_welcome_and_slip_of_a_minor_pin_speak_to_the_teen(
    config, maria, language, own_pin, own_account, slip_step
):
    """T1: sent to the minor, the welcome and the slip say "your own", never "your child"."""
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    result = front.issue(
        IssueRequest([jordan.id], send_to=SendTo.MINOR, language=language, print_slip=True)
    )
    text, html = outbox.message_body(OutboxMessage.get(OutboxMessage.batch == result.batch))
    slip = "\n".join(slip_text_lines(front.slip_for(result)))
    for words in (text, html, slip):
        assert own_account in words and result.pins[0].pin in words
        assert not any(child in words.lower() for child in ("child", "hijo", "niño"))
    assert own_pin in text and own_pin in html
    assert slip_step in slip


def test_t1_the_desk_is_warned_when_the_teens_address_is_a_caregivers(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    front.update_patient_contact(jordan.id, ContactChange(email="grace.kim@example.com"))
    warning = front.teen_contact(jordan.id).warning
    assert "Grace Kim" in warning and "Mother" in warning
    result = front.issue(IssueRequest([jordan.id], send_to=SendTo.MINOR))
    assert result.warnings == (warning,)


def test_t1_minor_needs_the_teens_own_address_one_patient_and_the_teen_age(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    front.update_patient_contact(jordan.id, ContactChange(email=""))
    problems = front.check_issue(
        IssueRequest([jordan.id], send_to=SendTo.MINOR, email="typed@example.com")
    )
    assert [p.field for p in problems] == ["email"] and "Jordan's own email" in problems[0].message
    problems = front.check_issue(
        IssueRequest([jordan.id], send_to=SendTo.MINOR, delivery="text", cell="3175550199")
    )
    assert [p.field for p in problems] == ["cell"]
    with write_transaction():
        Practice.update(teen_age=15).execute()
    front = at(config, maria)
    assert not front.may_send_to_minor(14) and front.may_send_to_minor(15)
    assert (
        "15 or older"
        in front.check_issue(IssueRequest([jordan.id], send_to=SendTo.MINOR))[0].message
    )


def test_t1_the_patients_contact_is_checked_and_audited_without_its_value(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    with pytest.raises(PinLifeError) as bad:
        front.update_patient_contact(jordan.id, ContactChange(email="jordan at home"))
    assert bad.value.field == "email"
    with pytest.raises(PinLifeError) as bad:
        front.update_patient_contact(jordan.id, ContactChange(cell="555"))
    assert bad.value.field == "cell"
    front.update_patient_contact(jordan.id, ContactChange(cell="(317) 555-0199", carrier="verizon"))
    page = front.patient_page(jordan.id, audited=False)
    assert (page.cell, page.carrier) == ("3175550199", "verizon")
    [event] = _events(audit.CONTACT_EDIT, jordan)
    assert "3175550199" not in event.detail and "carrier" in event.detail


def test_t1_t2_a_parents_access_to_a_teen_is_the_practices_teen_level(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    grace = _caregiver(front.patient_page(jordan.id), "Grace Kim")
    result = front.issue(IssueRequest([jordan.id], recipient_id=grace.id, email=grace.email))
    _, redeemed = _redeem(front, grace.email, "Grace Kim", jordan, result.pins[0].pin)
    assert not redeemed.own and redeemed.access == "Limited: No Chart Access"


# -- T2: the teen age and majority, on the day ----------------------------------------------------


def test_t2_the_teen_age_applies_on_the_12th_birthday_once(config, maria):
    sofia = find_patient("Sofía", "Núñez-García")
    with write_transaction():
        Patient.update(dob=_born_turning(12, 3)).where(Patient.id == sofia.id).execute()
    sofia = Patient.get_by_id(sofia.id)
    front = at(config, maria)
    ana = _caregiver(front.patient_page(sofia.id), "Ana Núñez")
    result = front.issue(IssueRequest([sofia.id], recipient_id=ana.id, email=ana.email))
    _, redeemed = _redeem(front, ana.email, "Ana", sofia, result.pins[0].pin)
    assert redeemed.access == "Full Access"

    at(config, maria, 2).maintain()
    assert front.associations(sofia.id)[0].access == "Full Access"  # 11 still
    birthday = at(config, maria, 3)
    assert "1 reached the teen age" in birthday.maintain().summary()
    assert birthday.associations(sofia.id)[0].access == "Limited: No Chart Access"
    events = len(AuditEvent.select())
    assert birthday.maintain().ages == "" and len(AuditEvent.select()) == events  # twice: nothing
    assert len(_events(audit.AGE_TRANSITION, sofia)) == 1


def test_t2_majority_ends_both_parents_access_once_and_tells_each_once(config, maria):
    andre = find_patient("Andre", "Bell")  # turns 18 two days after TODAY
    front = at(config, maria)
    assert [a.live for a in front.associations(andre.id)] == [True, True]
    at(config, maria, 1).maintain()
    assert _status(andre) == PortalStatus.REGISTERED

    birthday = at(config, maria, 2)
    report = birthday.maintain()
    assert "1 came of age, 2 associations ended, 2 parents told" in report.summary()
    rows = birthday.associations(andre.id)
    assert {r.state for r in rows} == {AssociationState.ENDED}
    assert all("age of majority" in r.state_words for r in rows)
    assert _status(andre) == PortalStatus.UNREGISTERED
    notices = OutboxMessage.select().where(OutboxMessage.batch.startswith(f"majority-{andre.id}-"))
    assert sorted(m.recipient for m in notices) == [
        "marcus.bell@example.com",
        "renee.bell@example.com",
    ]
    assert "Andre" in notices[0].subject
    assert (
        not RegistrationPin.select()
        .where((RegistrationPin.patient == andre.id) & (RegistrationPin.state == PinState.ACTIVE))
        .exists()
    )  # the parent-held PIN ended
    events = len(AuditEvent.select())
    assert birthday.maintain().ages == ""  # twice: nothing more
    assert at(config, maria, 3).maintain().ages == ""
    assert len(AuditEvent.select()) == events and notices.count() == 2
    assert len(_events(audit.ASSOCIATION_END, andre)) == 2


def test_t2_majority_with_one_parent_linked_and_a_pending_second_parent_pin(config, maria):
    ava = find_patient("Ava", "Patel")
    with write_transaction():
        Patient.update(dob=_born_turning(18, 5)).where(Patient.id == ava.id).execute()
    front = at(config, maria)
    raj = _caregiver(front.patient_page(ava.id), "Raj Patel")
    second = front.issue(
        IssueRequest([ava.id], recipient_id=raj.id, email=raj.email, second_parent=True)
    )
    at(config, maria, 4).maintain()
    assert _status(ava) == PortalStatus.REGISTERED

    birthday = at(config, maria, 5)
    assert "1 association ended, 1 parent told" in birthday.maintain().summary()
    assert _status(ava) == PortalStatus.UNREGISTERED
    pin = RegistrationPin.get(RegistrationPin.batch == second.batch)
    assert pin.state == PinState.REVOKED and "majority" in pin.ended_reason
    account = birthday.create_account(raj.email, "Raj Patel", PASSWORD)
    with pytest.raises(portal.PortalError):
        birthday.redeem(account.id, Patient.get_by_id(ava.id).dob, pin=second.pins[0].pin)
    assert [
        m.recipient
        for m in OutboxMessage.select().where(OutboxMessage.batch.startswith(f"majority-{ava.id}-"))
    ] == ["priya.patel@example.com"]
    assert birthday.maintain().ages == ""


def test_t2_majority_keeps_the_patients_own_account(config, maria):
    front = at(config, maria)
    jordan = find_patient("Jordan", "Kim")
    result = front.issue(IssueRequest([jordan.id], send_to=SendTo.MINOR))
    _redeem(front, "jordan.kim@example.com", "Jordan Kim", jordan, result.pins[0].pin)
    with write_transaction():
        Patient.update(dob=_born_turning(18, 1)).where(Patient.id == jordan.id).execute()
    at(config, maria, 1).maintain()
    assert _status(jordan) == PortalStatus.REGISTERED
    assert [r.live for r in front.associations(jordan.id)] == [True]


# -- T3: Validate ---------------------------------------------------------------------------------


def test_t3_a_self_registered_family_is_validated_not_issued(config, maria):
    front = at(config, maria)
    liam = find_patient("Liam", "Chen")
    mei = _caregiver(front.patient_page(liam.id), "Mei Chen")
    with pytest.raises(RegistrationError) as refused:
        front.issue(IssueRequest([liam.id], recipient_id=mei.id, email=mei.email))
    assert "Validate" in str(refused.value) and _status(liam) == PortalStatus.SELF_REGISTERED
    with pytest.raises(AccessError) as bad:
        front.validate_family(liam.id, IdCheck.OTHER)
    assert bad.value.field == "id_check_note"
    front.validate_family(liam.id, IdCheck.OTHER, "school ID and a utility bill")
    assert _status(liam) == PortalStatus.REGISTERED
    assert not RegistrationPin.select().where(RegistrationPin.patient == liam.id).exists()
    [event] = _events(audit.VALIDATE, liam)
    assert '"other"' in event.detail and "utility bill" in event.detail
    with pytest.raises(AccessError):
        front.validate_family(liam.id, IdCheck.PHOTO_ID)  # Registered now


def test_t3_issuing_never_downgrades_registered(config, maria):
    front = at(config, maria)
    andre = find_patient("Andre", "Bell")
    front.update_patient_contact(andre.id, ContactChange(email="andre@example.com"))
    front.issue(IssueRequest([andre.id], send_to=SendTo.MINOR))
    assert _status(andre) == PortalStatus.REGISTERED


# -- T4: associations ---------------------------------------------------------------------------


def test_t4_suspend_resume_end_date_and_remove(config, maria):
    front = at(config, maria)
    kai = find_patient("Kai", "Morgan")
    [row] = front.associations(kai.id)
    assert row.access == "Limited: No Chart Access" and row.ends_on == TODAY + dt.timedelta(days=45)
    account = portal.sign_in("rosa.delgado@example.org", "portal-training1").id
    with pytest.raises(AccessError) as bad:
        front.suspend_association(row.id, "  ")
    assert bad.value.field == "reason"

    front.suspend_association(row.id, "custody order")
    assert front.associations(kai.id)[0].state_words == "Suspended: custody order"
    assert front.children_of(account) == [] and _status(kai) == PortalStatus.UNREGISTERED
    assert [r.id for r in front.search("Morgan", PortalStatus.REGISTERED)] == []
    assert portal.registration_state(kai.id, now=NOW).accounts == 0
    front.resume_association(row.id, "order lifted")
    assert _status(kai) == PortalStatus.REGISTERED and len(front.children_of(account)) == 1

    front.set_association_end(row.id, TODAY + dt.timedelta(days=10), "placement ends")
    assert front.associations(kai.id)[0].state_words.startswith("Active until")
    at(config, maria, 9).maintain()
    assert _status(kai) == PortalStatus.REGISTERED
    last_day = at(config, maria, 10)
    assert "1 association ended" in last_day.maintain().summary()
    assert last_day.associations(kai.id)[0].state == AssociationState.ENDED
    assert last_day.children_of(account) == [] and _status(kai) == PortalStatus.UNREGISTERED
    assert last_day.maintain().ages == ""
    for action in (
        audit.ASSOCIATION_SUSPEND,
        audit.ASSOCIATION_RESUME,
        audit.ASSOCIATION_END_DATE,
        audit.ASSOCIATION_END,
    ):
        assert len(_events(action, kai)) == 1, action


def test_t4_removed_and_suspended_access_on_redemption(config, maria):
    front = at(config, maria)
    ava = find_patient("Ava", "Patel")
    [row] = front.associations(ava.id)
    account = portal.sign_in("priya.patel@example.com", "portal-training1").id
    front.remove_association(row.id, "custody order")
    assert front.associations(ava.id)[0].state_words == "Ended: custody order"
    assert _status(ava) == PortalStatus.UNREGISTERED and front.children_of(account) == []
    with pytest.raises(AccessError):
        front.resume_association(row.id, "by mistake")  # ended needs a new PIN

    priya = _caregiver(front.patient_page(ava.id), "Priya Patel")
    result = front.issue(IssueRequest([ava.id], recipient_id=priya.id, email=priya.email))
    assert front.redeem(account, ava.dob, pin=result.pins[0].pin).given_name == "Ava"
    assert front.associations(ava.id)[0].live and len(front.children_of(account)) == 1

    front.suspend_association(row.id, "court hearing")
    again = front.issue(IssueRequest([ava.id], recipient_id=priya.id, email=priya.email))
    with pytest.raises(portal.PortalError, match="suspended"):
        front.redeem(account, ava.dob, pin=again.pins[0].pin)


# -- T5: how the person was identified --------------------------------------------------------------


def test_t5_every_issue_records_the_id_check_with_the_practice_default(config, maria):
    front = at(config, maria)
    rosemary = find_patient("Rosemary")
    cindy = _caregiver(front.patient_page(rosemary.id), "Cindy Testkiddo")
    request = IssueRequest([rosemary.id], recipient_id=cindy.id, email=cindy.email)
    assert front.id_check_default == IdCheck.PHOTO_ID
    first = front.issue(request)
    assert RegistrationPin.get(RegistrationPin.batch == first.batch).id_check == IdCheck.PHOTO_ID

    request.id_check = IdCheck.OTHER
    assert [p.field for p in front.check_issue(request)] == ["id_check_note"]
    request.id_check_note = "birth certificate"
    second = front.issue(request)
    pin = RegistrationPin.get(RegistrationPin.batch == second.batch)
    assert (pin.id_check, pin.id_check_note) == (IdCheck.OTHER, "birth certificate")
    assert '"id_check": "other"' in _events(audit.ISSUE, rosemary)[-1].detail

    with write_transaction():
        Practice.update(id_check_default=IdCheck.KNOWN).execute()
    assert at(config, maria).id_check_default == IdCheck.KNOWN
