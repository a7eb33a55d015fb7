"""Redeeming PINs (R9, R10, R12, R13) and the lock-out (S4)."""

import datetime as dt

import pytest

from kiosk import audit
from kiosk.people.patients import family_for, patient_page
from kiosk.registration import portal
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk.store.models import Association, RedemptionAttempt, RegistrationPin
from kiosk.terms import PinState, PortalStatus

from conftest import NOW, TODAY, find_patient


def _issue(desk, given="Rosemary", family="Testkiddo", now=NOW, **options):
    fam = family_for(find_patient(given, family).id, today=TODAY)
    recipient = next(c for c in fam.caregivers if c.has_authority)
    values = dict(
        patient_ids=[c.id for c in fam.children], recipient_id=recipient.id, delivery="none"
    )
    values.update(options)
    return issue_pins(desk, IssueRequest(**values), now=now, today=TODAY)


def _issue_to_foster_parent(desk, **options):
    """Tyler Brooks's PIN (or question, R10) for his foster parent; ``options``: the rest of the request."""
    tyler = find_patient("Tyler", "Brooks")
    foster = next(c for c in family_for(tyler.id).caregivers if c.role == "Foster parent")
    request = IssueRequest(
        patient_ids=[tyler.id], recipient_id=foster.id, delivery="none", **options
    )
    return tyler, issue_pins(desk, request, now=NOW, today=TODAY)


def _tyler_with_a_question(desk, answer="Ortiz"):
    tyler, _ = _issue_to_foster_parent(
        desk, method="question", question="Name of the caseworker?", answer=answer
    )
    return tyler


def _account(email="cindy.testkiddo@example.com", name="Cindy Testkiddo"):
    return portal.create_account(email, name, "Sunflower-meadow-42")


def _pin_for(result, given):
    return next(p.pin for p in result.pins if p.given_name == given)


def test_r12_redeem_creates_the_association_and_registers(front_desk):
    result = _issue(front_desk)
    account = _account()
    rosemary = find_patient("Rosemary", "Testkiddo")
    redeemed = portal.redeem(account.id, rosemary.dob, pin=_pin_for(result, "Rosemary"), now=NOW)
    assert redeemed.given_name == "Rosemary" and redeemed.access == "Full Access"
    assert find_patient("Rosemary", "Testkiddo").portal_status == PortalStatus.REGISTERED
    assert [c.given_name for c in portal.children_of(account.id)] == ["Rosemary"]


@pytest.mark.parametrize("typed", ["{}", "{lower}", "{plain}", "{spaced}"])
def test_s1_pin_accepted_in_any_case_with_or_without_dash(front_desk, typed):
    result = _issue(front_desk)
    pin = _pin_for(result, "Rosemary")
    text = typed.format(
        pin, lower=pin.lower(), plain=pin.replace("-", ""), spaced=pin.replace("-", " ")
    )
    rosemary = find_patient("Rosemary", "Testkiddo")
    assert portal.redeem(_account().id, rosemary.dob, pin=text, now=NOW).patient_id == rosemary.id


def test_r12_add_another_child_into_the_same_account(front_desk):
    result = _issue(front_desk)
    account = _account()
    for given in ("Rosemary", "Basil"):
        portal.redeem(
            account.id, find_patient(given, "Testkiddo").dob, pin=_pin_for(result, given), now=NOW
        )
    assert sorted(c.given_name for c in portal.children_of(account.id)) == ["Basil", "Rosemary"]


def test_r13_same_pin_for_a_second_parent_with_their_own_account(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    pin = _pin_for(result, "Rosemary")
    portal.redeem(_account().id, rosemary.dob, pin=pin, now=NOW)
    jeff = portal.create_account(
        "jeff.testkiddo@example.com", "Jeff Testkiddo", "Maple-tree-lane-77"
    )
    portal.redeem(jeff.id, rosemary.dob, pin=pin, now=NOW)
    names = {a.account_name for a in patient_page(rosemary.id, today=TODAY).associations}
    assert names == {"Cindy Testkiddo", "Jeff Testkiddo"}
    assert (
        RegistrationPin.get(
            RegistrationPin.patient == rosemary, RegistrationPin.batch == result.batch
        ).state
        == PinState.REDEEMED
    )  # used by the practice's two parents


def test_r13_redeeming_twice_with_one_account_counts_once(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    for _ in range(2):
        portal.redeem(account.id, rosemary.dob, pin=_pin_for(result, "Rosemary"), now=NOW)
    row = RegistrationPin.get(
        RegistrationPin.patient == rosemary, RegistrationPin.batch == result.batch
    )
    assert (row.redemptions, row.state) == (1, PinState.ACTIVE)


def test_r9_access_level_travels_to_the_association(front_desk):
    tyler, result = _issue_to_foster_parent(front_desk, access="limited")
    account = portal.create_account("pat.reyes@example.org", "Pat Reyes", "Harbor-lights-bay-9")
    assert (
        portal.redeem(account.id, tyler.dob, pin=result.pins[0].pin, now=NOW).access
        == "Limited: No Chart Access"
    )
    assert Association.get(Association.patient == tyler).access == "limited"


def test_r10_verification_question(front_desk):
    tyler = _tyler_with_a_question(front_desk, answer="Ms  Ortiz")
    assert portal.question_for(tyler.dob, "brooks") == "Name of the caseworker?"
    account = portal.create_account("pat.reyes@example.org", "Pat Reyes", "Harbor-lights-bay-9")
    with pytest.raises(portal.PortalError):
        portal.redeem(account.id, tyler.dob, family_name="Brooks", answer="Mr Ortiz", now=NOW)
    assert (
        portal.redeem(
            account.id, tyler.dob, family_name="Brooks", answer="ms ortiz", now=NOW
        ).patient_id
        == tyler.id
    )


def test_s4_wrong_expired_replaced_revoked_get_one_generic_answer(front_desk):
    first = _issue(front_desk)
    second = _issue(front_desk, now=NOW + dt.timedelta(minutes=1))
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    answers = set()
    for dob, pin in [
        (rosemary.dob, _pin_for(first, "Rosemary")),  # replaced
        (rosemary.dob, "ABCDE-FGHJK"),  # wrong PIN
        (rosemary.dob + dt.timedelta(days=1), _pin_for(second, "Rosemary")),  # wrong DOB
        (rosemary.dob, "not a pin"),
    ]:
        with pytest.raises(portal.PortalError) as caught:
            portal.redeem(account.id, dob, pin=pin, now=NOW + dt.timedelta(minutes=2))
        answers.add(str(caught.value))
    assert answers == {portal.GENERIC}


def test_expired_pin_tells_the_parent_to_ask_for_a_new_one(front_desk):
    result = _issue(front_desk, now=NOW - dt.timedelta(days=40))
    rosemary = find_patient("Rosemary", "Testkiddo")
    with pytest.raises(portal.PortalError, match="expired. Ask the front desk"):
        portal.redeem(_account().id, rosemary.dob, pin=_pin_for(result, "Rosemary"), now=NOW)
    assert find_patient("Rosemary", "Testkiddo").portal_status != PortalStatus.REGISTERED


def test_s4_five_failures_in_fifteen_minutes_lock_the_patient(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    wrong = rosemary.dob + dt.timedelta(days=3)
    for minute in range(5):
        with pytest.raises(portal.PortalError, match="do not match"):
            portal.redeem(
                account.id,
                wrong,
                pin=_pin_for(result, "Rosemary"),
                now=NOW + dt.timedelta(minutes=minute),
            )
    with pytest.raises(
        portal.PortalError
    ) as caught:  # even the right answer is refused while locked
        portal.redeem(
            account.id,
            rosemary.dob,
            pin=_pin_for(result, "Rosemary"),
            now=NOW + dt.timedelta(minutes=6),
        )
    assert str(caught.value) == portal.GENERIC  # S8: the same reply as a wrong PIN
    later = NOW + dt.timedelta(minutes=4 + 16)
    assert (
        portal.redeem(
            account.id, rosemary.dob, pin=_pin_for(result, "Rosemary"), now=later
        ).given_name
        == "Rosemary"
    )
    assert audit.AuditEvent.select().where(audit.AuditEvent.action == audit.LOCK_OUT).count() >= 1


def test_s4_failures_spread_out_do_not_lock(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    for i in range(6):
        with pytest.raises(portal.PortalError, match="do not match"):
            portal.redeem(
                account.id, rosemary.dob, pin="ABCDE-FGHJK", now=NOW + dt.timedelta(minutes=20 * i)
            )
    assert (
        portal.redeem(
            account.id,
            rosemary.dob,
            pin=_pin_for(result, "Rosemary"),
            now=NOW + dt.timedelta(minutes=130),
        ).patient_id
        == rosemary.id
    )


def test_s8_wrong_pins_with_a_birth_date_name_no_child(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    for i in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id, rosemary.dob, pin="ABCDE-FGHJK", now=NOW + dt.timedelta(seconds=i)
            )
    assert RedemptionAttempt.select().where(RedemptionAttempt.patient == rosemary).count() == 0
    assert RedemptionAttempt.select().where(RedemptionAttempt.patient.is_null()).count() == 5
    assert (
        portal.redeem(
            account.id,
            rosemary.dob,
            pin=_pin_for(result, "Rosemary"),  # not locked
            now=NOW + dt.timedelta(seconds=10),
        ).patient_id
        == rosemary.id
    )


def test_s4_twenty_in_a_row_revoke_the_pin_and_a_new_pin_does_not_reset_the_window(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    wrong = rosemary.dob + dt.timedelta(days=1)
    at = NOW
    for i in range(20):
        at = NOW + dt.timedelta(hours=i)  # spaced out: never locked, still counted in a row
        with pytest.raises(portal.PortalError):
            portal.redeem(account.id, wrong, pin=_pin_for(result, "Rosemary"), now=at)
    row = RegistrationPin.get(
        RegistrationPin.patient == rosemary, RegistrationPin.batch == result.batch
    )
    assert row.state == PinState.REVOKED and row.ended_reason == portal.LOCKOUT_REASON
    # Within a lock window, a fresh PIN is still locked: issuing does not reset the count.
    fresh = _issue(front_desk, now=at)
    for i in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id,
                wrong,
                pin=_pin_for(fresh, "Rosemary"),
                now=at + dt.timedelta(minutes=1, seconds=i),
            )
    third = _issue(front_desk, now=at + dt.timedelta(minutes=2))
    with pytest.raises(
        portal.PortalError, match="do not match"
    ):  # the right PIN and date, still locked
        portal.redeem(
            account.id,
            rosemary.dob,
            pin=_pin_for(third, "Rosemary"),
            now=at + dt.timedelta(minutes=3),
        )


def test_s5_every_attempt_is_audited(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = _account()
    with pytest.raises(portal.PortalError):
        portal.redeem(account.id, rosemary.dob, pin="ABCDE-FGHJK", now=NOW)
    with pytest.raises(portal.PortalError):
        portal.redeem(
            account.id, dt.date(1990, 1, 1), pin="ABCDE-FGHJK", now=NOW
        )  # nobody to count it against
    portal.redeem(account.id, rosemary.dob, pin=_pin_for(result, "Rosemary"), now=NOW)
    actions = [
        e.action
        for e in audit.AuditEvent.select()
        .where(audit.AuditEvent.action.in_([audit.REDEEM, audit.REDEEM_FAILED]))
        .order_by(audit.AuditEvent.seq)
    ]
    assert actions == [audit.REDEEM_FAILED, audit.REDEEM_FAILED, audit.REDEEM]
    assert audit.verify_chain() == []


@pytest.mark.parametrize(
    "email, name, password, field",
    [
        ("cindy@example.com", "Cindy", "short", "password"),
        ("cindy@example.com", "Cindy", "cindy-is-great-1", "password"),
        ("cindy@example.com", "Cindy", "aaaaaaaaaaaa", "password"),
        ("not-an-email", "Cindy", "Sunflower-meadow-42", "email"),
        ("cindy@example.com", "  ", "Sunflower-meadow-42", "name"),
    ],
)
def test_account_creation_checks(store, email, name, password, field):
    with pytest.raises(portal.PortalError) as caught:
        portal.create_account(email, name, password)
    assert caught.value.field == field


def test_sign_in_and_duplicate_account(store):
    portal.create_account("Cindy@Example.com", "Cindy Testkiddo", "Sunflower-meadow-42")
    assert (
        portal.sign_in("cindy@example.com", "Sunflower-meadow-42").display_name == "Cindy Testkiddo"
    )
    with pytest.raises(portal.PortalError, match="not right"):
        portal.sign_in("cindy@example.com", "Sunflower-43")
    with pytest.raises(portal.PortalError, match="already exists"):
        portal.create_account("cindy@example.com", "Cindy", "Sunflower-meadow-42")


def test_s12_parent_sign_in_slows_down_but_takes_the_right_password_after_the_wait(store):
    portal.create_account("cindy@example.com", "Cindy Testkiddo", "Sunflower-meadow-42")
    for i in range(5):
        with pytest.raises(portal.PortalError, match="not right"):
            portal.sign_in("cindy@example.com", f"guess-{i}", now=NOW + dt.timedelta(minutes=i))
    with pytest.raises(portal.PortalError, match="wait 4 seconds"):  # not even checked yet
        portal.sign_in(
            "cindy@example.com", "Sunflower-meadow-42", now=NOW + dt.timedelta(minutes=4)
        )
    later = NOW + dt.timedelta(minutes=4, seconds=4)
    assert (
        portal.sign_in("cindy@example.com", "Sunflower-meadow-42", now=later).email
        == "cindy@example.com"
    )
