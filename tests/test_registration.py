"""The registration engine: checks before writing, family issue, one active PIN (R1-R10, R13, R15, S1-S3)."""

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import audit
from kiosk.messages import outbox
from kiosk.people.patients import family_for, patient_page
from kiosk.registration.engine import (
    NOT_LINKED,
    IssueRequest,
    RegistrationError,
    check_issue,
    fix_given_name,
    issue_pins,
    revoke_pin,
)
from kiosk.store.db import write_transaction
from kiosk.store.models import AuditEvent, OutboxMessage, Patient, RegistrationPin
from kiosk.terms import Delivery, PinState, PortalStatus

from conftest import NOW, TODAY, find_patient, parent_redeems_after_the_check


def _family_request(given="Rosemary", family="Testkiddo", **options):
    fam = family_for(find_patient(given, family).id, today=TODAY)
    recipient = next(c for c in fam.caregivers if c.has_authority)
    values = dict(
        patient_ids=[c.id for c in fam.children], recipient_id=recipient.id, email=recipient.email
    )
    values.update(options)
    return IssueRequest(**values)


def _fields(problems):
    return {p.field for p in problems}


def _active(patient_id):
    return list(
        RegistrationPin.select().where(
            (RegistrationPin.patient == patient_id) & (RegistrationPin.state == PinState.ACTIVE)
        )
    )


# -- checks before anything is written ----------------------------------------------------------


def test_r1_unlinked_staff_cannot_issue_and_is_told_what_to_do(unlinked_desk):
    problems = check_issue(unlinked_desk, _family_request(), today=TODAY)
    assert [p.message for p in problems if p.field == "staff"] == [NOT_LINKED]
    assert "administrator" in NOT_LINKED and "link" in NOT_LINKED
    before = RegistrationPin.select().count()
    with pytest.raises(RegistrationError):
        issue_pins(unlinked_desk, _family_request(), now=NOW, today=TODAY)
    assert RegistrationPin.select().count() == before


def test_r2_placeholder_name_blocks_issue_until_fixed(front_desk):
    baby = find_patient("Baby Girl", "Okafor")
    request = _family_request("Baby Girl", "Okafor")
    problems = check_issue(front_desk, request, today=TODAY)
    assert f"name:{baby.id}" in _fields(problems)
    assert "Baby Girl" in next(p.message for p in problems if p.field == f"name:{baby.id}")
    fix_given_name(front_desk, baby.id, "  Amara  ")
    assert find_patient("Amara", "Okafor").id == baby.id
    result = issue_pins(front_desk, request, now=NOW, today=TODAY)
    assert [p.given_name for p in result.pins] == ["Amara"]
    assert [
        e.action for e in audit.AuditEvent.select().where(audit.AuditEvent.patient_id == baby.id)
    ] == [audit.NAME_FIX, audit.ISSUE]


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Enter the child's given name"),
        ("Baby Girl", "still a placeholder"),
        ("x" * 61, "at most 60"),
    ],
)
def test_r2_name_fix_rejects_bad_names(front_desk, name, message):
    baby = find_patient("Baby Girl", "Okafor")
    with pytest.raises(RegistrationError) as caught:
        fix_given_name(front_desk, baby.id, name)
    assert (
        message in caught.value.problems[0].message
        and caught.value.problems[0].field == "given_name"
    )
    assert find_patient("Baby Girl", "Okafor").id == baby.id


def test_r15_caregiver_without_authority_cannot_receive(front_desk):
    emma = find_patient("Emma", "Johnson")
    grandma = next(c for c in family_for(emma.id).caregivers if c.name == "Linda Johnson")
    request = IssueRequest(patient_ids=[emma.id], recipient_id=grandma.id, email=grandma.email)
    problems = check_issue(front_desk, request, today=TODAY)
    assert _fields(problems) == {"recipient"} and "contact authority" in problems[0].message


@pytest.mark.parametrize("email", ["", "cindy", "cindy@", "cindy@example", "cindy @example.com"])
def test_r7_invalid_email_is_refused(front_desk, email):
    problems = check_issue(front_desk, _family_request(email=email), today=TODAY)
    assert _fields(problems) == {"email"}


def test_r7_text_needs_a_us_cell_and_a_carrier(front_desk):
    problems = check_issue(
        front_desk, _family_request(delivery="text", cell="555-01", carrier=""), today=TODAY
    )
    assert _fields(problems) == {"cell", "carrier"}
    ok = check_issue(
        front_desk,
        _family_request(delivery="text", cell="(317) 555-0101", carrier="verizon"),
        today=TODAY,
    )
    assert ok == []


def test_r7_text_through_a_retired_carrier_gateway_is_refused(front_desk):
    problems = check_issue(
        front_desk, _family_request(delivery="text", cell="3175550101", carrier="att"), today=TODAY
    )
    assert _fields(problems) == {"carrier"}
    assert (
        "AT&T" in problems[0].message
        and "email" in problems[0].message
        and "print" in problems[0].message
    )


def test_r8_t1_send_to_minor_refused_under_the_teen_age(front_desk):
    problems = check_issue(
        front_desk, _family_request(send_to="minor", recipient_id=None), today=TODAY
    )
    assert "send_to" in _fields(problems) and "12 or older" in next(
        p.message for p in problems if p.field == "send_to"
    )
    jordan = find_patient("Jordan", "Kim")
    ok = check_issue(
        front_desk, IssueRequest(patient_ids=[jordan.id], send_to="minor"), today=TODAY
    )
    assert ok == []


def test_r13_registered_patient_only_gets_a_second_parent_pin(front_desk):
    ava = find_patient("Ava", "Patel")
    raj = next(c for c in family_for(ava.id).caregivers if c.name == "Raj Patel")
    problems = check_issue(
        front_desk,
        IssueRequest(patient_ids=[ava.id], recipient_id=raj.id, email=raj.email),
        today=TODAY,
    )
    assert _fields(problems) == {f"status:{ava.id}"} and "second" in problems[0].message
    result = issue_pins(
        front_desk,
        IssueRequest(
            patient_ids=[ava.id], recipient_id=raj.id, email=raj.email, second_parent=True
        ),
        now=NOW,
        today=TODAY,
    )
    assert len(result.pins) == 1 and result.recipient == "raj.patel@example.com"
    assert find_patient("Ava", "Patel").portal_status == PortalStatus.REGISTERED
    assert RegistrationPin.get(
        RegistrationPin.patient == ava, RegistrationPin.state == PinState.ACTIVE
    ).second_parent


def test_r13_second_parent_pin_to_another_email(front_desk):
    ava = find_patient("Ava", "Patel")
    result = issue_pins(
        front_desk,
        IssueRequest(patient_ids=[ava.id], email="Raj.Work@Example.org", second_parent=True),
        now=NOW,
        today=TODAY,
    )
    assert (
        OutboxMessage.get(OutboxMessage.message_id == result.message_id).recipient
        == "raj.work@example.org"
    )


def test_r13_second_parent_pin_needs_a_registered_patient(front_desk):
    problems = check_issue(
        front_desk,
        _family_request(second_parent=True, patient_ids=[find_patient("Rosemary", "Testkiddo").id]),
        today=TODAY,
    )
    assert any(p.field.startswith("status:") for p in problems)


def test_r10_question_needs_question_and_answer(front_desk):
    problems = check_issue(
        front_desk, _family_request(method="question", question="", answer=""), today=TODAY
    )
    assert _fields(problems) == {"question", "answer"}


# -- issuing for a family -----------------------------------------------------------------------


def test_r5_r4_family_issue_all_checked_children_become_pending(front_desk):
    result = issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    assert {p.patient_name for p in result.pins} == {"Rosemary Testkiddo", "Basil Testkiddo"}
    assert all(re.fullmatch(r"[A-Z]{5}-[A-Z]{5}", p.pin) for p in result.pins)
    for issued in result.pins:
        assert Patient.get_by_id(issued.patient_id).portal_status == PortalStatus.PENDING
        assert len(_active(issued.patient_id)) == 1
    assert result.expires_on == (NOW + dt.timedelta(days=30)).date()


def test_r5_unchecked_child_is_left_alone(front_desk):
    basil = find_patient("Basil", "Testkiddo")
    request = _family_request()
    request.patient_ids.remove(basil.id)
    result = issue_pins(front_desk, request, now=NOW, today=TODAY)
    assert [p.given_name for p in result.pins] == ["Rosemary"]
    assert (
        find_patient("Basil", "Testkiddo").portal_status == "Unregistered"
        and _active(basil.id) == []
    )


def test_r6_exactly_one_welcome_message_for_the_family(front_desk):
    result = issue_pins(front_desk, _family_request("Sofía", "Núñez-García"), now=NOW, today=TODAY)
    messages = list(OutboxMessage.select())
    assert len(messages) == 1 and messages[0].message_id == result.message_id
    for issued in result.pins:
        assert issued.pin in outbox.message_body(messages[0])[0]
    assert result.language == "es"


def test_r7_do_not_send_writes_no_message(front_desk):
    result = issue_pins(
        front_desk, _family_request(delivery="none", email=""), now=NOW, today=TODAY
    )
    assert result.message_id is None and OutboxMessage.select().count() == 0


def test_r7_text_message_goes_to_the_carrier_gateway(front_desk):
    result = issue_pins(
        front_desk,
        _family_request(delivery="text", cell="317.555.0101", carrier="verizon"),
        now=NOW,
        today=TODAY,
    )
    message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert (message.channel, message.recipient) == ("text", "3175550101@vtext.com")


def test_r9_r10_options_are_stored(front_desk):
    tyler = find_patient("Tyler", "Brooks")
    foster = next(c for c in family_for(tyler.id).caregivers if c.role == "Foster parent")
    result = issue_pins(
        front_desk,
        IssueRequest(
            patient_ids=[tyler.id],
            recipient_id=foster.id,
            email=foster.email,
            access="limited",
            method="question",
            question="Favourite colour?",
            answer="Blue",
            print_slip=True,
        ),
        now=NOW,
        today=TODAY,
    )
    row = _active(tyler.id)[0]
    assert (row.access, row.method, row.question, row.print_slip) == (
        "limited",
        "question",
        "Favourite colour?",
        True,
    )
    assert row.pin_hash is None and row.answer_hash and "blue" not in row.answer_hash.lower()
    assert result.pins[0].pin == ""


def test_r3_new_pin_ends_the_old_one_and_the_audit_says_so(front_desk):
    first = issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    second = issue_pins(
        front_desk, _family_request(), now=NOW + dt.timedelta(minutes=5), today=TODAY
    )
    rosemary = find_patient("Rosemary", "Testkiddo")
    pins = list(
        RegistrationPin.select()
        .where(RegistrationPin.patient == rosemary)
        .order_by(RegistrationPin.id)
    )
    assert [p.state for p in pins] == [PinState.REPLACED, PinState.ACTIVE]
    assert first.pins[0].pin != second.pins[0].pin
    actions = [
        e.action
        for e in audit.AuditEvent.select().where(audit.AuditEvent.patient_id == rosemary.id)
    ]
    assert actions == [audit.ISSUE, audit.REPLACE, audit.ISSUE]


def test_s3_expiry_follows_the_practice_setting(front_desk):
    from kiosk.store.practice import update_practice

    update_practice(pin_lifetime_days=7)
    result = issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    assert result.expires_on == dt.date(2026, 11, 29)


def test_s2_only_hashes_are_stored(front_desk):
    result = issue_pins(
        front_desk, _family_request(delivery="none", email=""), now=NOW, today=TODAY
    )
    stored = [p.pin_hash for p in RegistrationPin.select()]
    for issued in result.pins:
        plain = issued.pin.replace("-", "")
        assert not any(plain in (h or "") for h in stored)


def test_a_failure_in_the_middle_leaves_nothing_written(front_desk, monkeypatch):
    import kiosk.registration.engine as engine

    calls = {"n": 0}
    real = engine.pins.generate_pin

    def fail_on_second():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real()

    monkeypatch.setattr(engine.pins, "generate_pin", fail_on_second)
    before = (
        RegistrationPin.select().count(),
        audit.AuditEvent.select().count(),
        OutboxMessage.select().count(),
    )
    with pytest.raises(RuntimeError):
        issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    after = (
        RegistrationPin.select().count(),
        audit.AuditEvent.select().count(),
        OutboxMessage.select().count(),
    )
    assert before == after
    assert {
        p.portal_status for p in Patient.select().where(Patient.family_name == "Testkiddo")
    } == {"Unregistered"}
    assert audit.verify_chain() == []


def test_revoke_ends_the_active_pin(front_desk):
    issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    rosemary = find_patient("Rosemary", "Testkiddo")
    assert revoke_pin(front_desk, rosemary.id, now=NOW) is True
    assert _active(rosemary.id) == [] and revoke_pin(front_desk, rosemary.id, now=NOW) is False
    assert RegistrationPin.get(RegistrationPin.patient == rosemary).state == PinState.REVOKED


def test_account_page_shows_pin_state(front_desk):
    issue_pins(front_desk, _family_request(), now=NOW, today=TODAY)
    account = patient_page(find_patient("Rosemary", "Testkiddo").id, today=TODAY, now=NOW)
    assert account.patient.pin_state.startswith("PIN active until")
    assert patient_page(find_patient("Ava", "Patel").id, today=TODAY).patient.pin_state.startswith(
        "Registered; PIN still open to another parent until"
    )  # L1: not "PIN Already Assigned"


# -- never two active PINs, whatever the sequence ---------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["issue", "issue_one", "revoke", "redeem"]), st.integers(0, 1)),
        min_size=1,
        max_size=12,
    )
)
def test_r3_never_two_active_pins_for_one_patient(front_desk, steps):
    from kiosk.registration import portal

    family = family_for(find_patient("Rosemary", "Testkiddo").id, today=TODAY)
    ids = [c.id for c in family.children]
    last_pins = {}
    with write_transaction():
        account = portal.PortalAccount.get_or_create(
            email="prop@example.com", defaults={"display_name": "P", "password_hash": "x"}
        )[0]
    for action, which in steps:
        if action in ("issue", "issue_one"):
            request = _family_request(delivery="none", email="")
            if action == "issue_one":
                request.patient_ids = [ids[which]]
            if any(
                Patient.get_by_id(i).portal_status == PortalStatus.REGISTERED
                for i in request.patient_ids
            ):
                continue
            result = issue_pins(front_desk, request, now=NOW, today=TODAY)
            last_pins.update({p.patient_id: p.pin for p in result.pins})
        elif action == "revoke":
            revoke_pin(front_desk, ids[which], now=NOW)
        elif ids[which] in last_pins:
            try:
                portal.redeem(
                    account.id,
                    Patient.get_by_id(ids[which]).dob,
                    pin=last_pins[ids[which]],
                    now=NOW,
                )
            except portal.PortalError:
                pass
        for patient_id in ids:
            assert len(_active(patient_id)) <= 1


# -- O1: a transaction that loses a deadlock is run again, whole, before the desk hears of it ------


class _Deadlock(Exception):
    pgcode = "40P01"  # what psycopg2 sets on "deadlock detected"


def test_o1_a_deadlocked_issue_is_run_again_and_lands_once(front_desk, monkeypatch):
    import peewee

    from kiosk.messages import outbox
    from kiosk.store import db

    real_enqueue, tries = outbox.enqueue, []

    def enqueue_losing_twice(**kwargs):
        tries.append(1)
        if len(tries) <= 2:  # late in the transaction: the PINs and audit events are written by now
            raise peewee.OperationalError(_Deadlock("deadlock detected"))
        return real_enqueue(**kwargs)

    monkeypatch.setattr(outbox, "enqueue", enqueue_losing_twice)
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)
    request = _family_request()
    result = issue_pins(front_desk, request, today=TODAY)
    assert len(tries) == 3 and len(result.pins) == len(request.patient_ids)
    # the failed tries left nothing: one PIN per child, one issue event each
    written = RegistrationPin.select().where(RegistrationPin.patient.in_(request.patient_ids))
    assert written.count() == len(result.pins)
    assert AuditEvent.select().where(AuditEvent.action == audit.ISSUE).count() == len(result.pins)
    assert audit.verify_chain() == []


def test_o1_a_deadlock_that_never_clears_is_said_in_plain_words_and_writes_nothing(
    front_desk, monkeypatch
):
    import peewee

    from kiosk.store import db

    def always_deadlocked(*args, **kwargs):
        raise peewee.OperationalError(
            _Deadlock("deadlock detected\nDETAIL: Process 1 waits for ShareLock")
        )

    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(audit, "record", always_deadlocked)
    kid = find_patient("Rosemary", "Testkiddo")
    with pytest.raises(db.TransactionConflict) as caught:
        fix_given_name(front_desk, kid.id, "Rosie")
    assert str(caught.value) == db.CONFLICT_MESSAGE and "deadlock" not in str(caught.value)
    assert Patient.get_by_id(kid.id).given_name == "Rosemary"


def test_o1_other_database_errors_are_not_retried(front_desk, monkeypatch):
    import peewee

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise peewee.OperationalError("disk I/O error")

    monkeypatch.setattr(audit, "record", broken)
    kid = find_patient("Rosemary", "Testkiddo")
    with pytest.raises(peewee.OperationalError, match="disk I/O"):
        fix_given_name(front_desk, kid.id, "Rosie")
    assert calls == [1]


def test_r4_a_child_registered_while_the_desk_reissues_is_never_put_back_to_pending(
    front_desk, monkeypatch
):
    """The parent at the kiosk redeems the family's PIN just as the desk presses Register again:
    the redemption comes right after the desk's check, on its own connection, as a second desk's
    would. The desk's check and write are one transaction, so the redemption waits for it and
    finds its PIN replaced; the child is never Registered and then put back to Pending."""
    from kiosk.registration import portal

    first = issue_pins(front_desk, _family_request(delivery=Delivery.NONE), now=NOW, today=TODAY)
    rosemary = find_patient("Rosemary", "Testkiddo")
    pin = next(p.pin for p in first.pins if p.patient_id == rosemary.id)
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "kiosk-parent-2026"
    )
    with parent_redeems_after_the_check(
        monkeypatch, account.id, rosemary.dob, pin, NOW
    ) as redeemed:
        issued = issue_pins(
            front_desk, _family_request(delivery=Delivery.NONE), now=NOW, today=TODAY
        )

    assert str(redeemed[0]) == portal.GENERIC  # the PIN it brought had been replaced
    assert Patient.get_by_id(rosemary.id).portal_status == PortalStatus.PENDING
    assert [p.batch for p in _active(rosemary.id)] == [issued.batch]
    assert audit.verify_chain() == []
