"""Guessing limits beyond one patient (S8, S4) and staff sign-in that slows down instead of
refusing (S12): what a guesser, a parent, the desk and the administrator see."""

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import audit, security, throttle
from kiosk.people.staff import SignInPaused, StaffError, add_staff, authenticate, unlock_staff
from kiosk.registration import portal
from kiosk.registration.engine import revoke_pin
from kiosk.store.models import Patient, RedemptionAttempt, RegistrationPin, Staff
from kiosk.terms import PinState

from conftest import NOW, find_patient
from test_portal import _issue as _issue_result
from test_portal import _tyler_with_a_question

NOBODY_BORN = dt.date(1990, 1, 1)


def _issue(desk, given="Rosemary", family="Testkiddo", now=NOW):
    return {p.given_name: p.pin for p in _issue_result(desk, given, family, now=now).pins}


def _account(email="cindy.testkiddo@example.com"):
    return portal.create_account(email, "Cindy Testkiddo", "Sunflower-meadow-42").id


def _fails(account, dob, *, pin="ABCDE-FGHJK", terminal="kiosk-1", now=NOW, **proof):
    with pytest.raises(portal.PortalError) as caught:
        portal.redeem(account, dob, pin=pin, terminal=terminal, now=now, **proof)
    return str(caught.value)


def _active(patient):
    return (
        RegistrationPin.select()
        .where((RegistrationPin.patient == patient) & (RegistrationPin.state == PinState.ACTIVE))
        .exists()
    )


# -- S8: per terminal and across the practice, whatever birth date is typed -------------------------


def test_s8_unlimited_guessing_with_a_birth_date_nobody_has_now_stops_at_the_terminal(front_desk):
    pins = _issue(front_desk)
    account, rosemary = _account(), find_patient("Rosemary", "Testkiddo")
    for i in range(portal.TERMINAL_FAILURES):
        _fails(account, NOBODY_BORN, now=NOW + dt.timedelta(seconds=i))
    at = NOW + dt.timedelta(minutes=1)
    # The terminal is paused: even the right PIN and date get the one reply there...
    assert _fails(account, rosemary.dob, pin=pins["Rosemary"], now=at) == portal.GENERIC
    assert (
        audit.AuditEvent.select().where(audit.AuditEvent.action == audit.REDEEM_PAUSED).count() == 1
    )
    # ...and the refused try was not counted, so the pause ends an hour after the guesses.
    assert (
        RedemptionAttempt.select().where(RedemptionAttempt.outcome.in_(portal.COUNTED)).count()
        == 20
    )
    assert (
        portal.redeem(
            account, rosemary.dob, pin=pins["Rosemary"], terminal="kiosk-2", now=at
        ).given_name
        == "Rosemary"
    )
    later = NOW + portal.PAUSE_WINDOW + dt.timedelta(minutes=1)
    assert portal.redeem(
        account,
        find_patient("Basil", "Testkiddo").dob,
        pin=pins["Basil"],
        terminal="kiosk-1",
        now=later,
    )


def test_s8_failures_across_the_practice_pause_every_terminal(front_desk, monkeypatch):
    monkeypatch.setattr(portal, "PRACTICE_FAILURES", 6)
    pins = _issue(front_desk)
    account, rosemary = _account(), find_patient("Rosemary", "Testkiddo")
    for i in range(6):  # one guess each at six terminals: no terminal is near its own limit
        _fails(account, NOBODY_BORN, terminal=f"kiosk-{i}", now=NOW + dt.timedelta(seconds=i))
    assert _fails(
        account,
        rosemary.dob,
        pin=pins["Rosemary"],
        terminal="kiosk-9",
        now=NOW + dt.timedelta(minutes=1),
    )
    assert rosemary.id not in {
        a.patient_id for a in RedemptionAttempt.select() if a.outcome in portal.COUNTED
    }  # the refusal named her but counts nowhere
    detail = audit.AuditEvent.get(audit.AuditEvent.action == audit.REDEEM_PAUSED).detail
    assert '"practice"' in detail


# -- S8: one reply, the same work ------------------------------------------------------------------


def test_s8_unknown_pin_wrong_date_locked_and_revoked_get_one_reply(front_desk):
    pins = _issue(front_desk)
    account, rosemary, basil = (
        _account(),
        find_patient("Rosemary", "Testkiddo"),
        find_patient("Basil", "Testkiddo"),
    )
    jordan = find_patient("Jordan", "Kim")
    jordan_pin = _issue(front_desk, "Jordan", "Kim")["Jordan"]
    revoke_pin(front_desk, jordan.id, now=NOW)
    for second in range(portal.FAILURES_TO_LOCK):  # lock Basil: his PIN with a wrong date
        _fails(
            account,
            basil.dob + dt.timedelta(days=1),
            pin=pins["Basil"],
            now=NOW + dt.timedelta(seconds=second),
        )
    at = NOW + dt.timedelta(minutes=1)
    replies = {
        "unknown PIN": _fails(account, rosemary.dob, terminal="kiosk-2", now=at),
        "wrong date": _fails(
            account,
            rosemary.dob - dt.timedelta(days=1),
            pin=pins["Rosemary"],
            terminal="kiosk-3",
            now=at,
        ),
        "locked": _fails(account, basil.dob, pin=pins["Basil"], terminal="kiosk-4", now=at),
        "revoked": _fails(account, jordan.dob, pin=jordan_pin, terminal="kiosk-5", now=at),
    }
    assert set(replies.values()) == {portal.GENERIC}
    assert "15 minutes" in portal.GENERIC and "front desk" in portal.GENERIC
    kinds = {a.outcome for a in RedemptionAttempt.select().where(RedemptionAttempt.at == at)}
    assert kinds == {
        "no match",
        "wrong date",
        "refused: locked",
        "ended pin",
    }  # staff can still tell them apart


# -- S8: a birth date alone neither locks nor revokes; the PIN's own child is the one counted --------


def test_s8_a_stranger_who_knows_only_a_birth_date_cannot_lock_or_revoke_anyones_pin(front_desk):
    rosemary = find_patient("Rosemary", "Testkiddo")
    for first, family in (
        ("Jordan", "Kim"),
        ("Emma", "Johnson"),
    ):  # unrelated families, same birthday
        Patient.update(dob=rosemary.dob).where(
            Patient.id == find_patient(first, family).id
        ).execute()
    pins = (
        _issue(front_desk)
        | _issue(front_desk, "Jordan", "Kim")
        | _issue(front_desk, "Emma", "Johnson")
    )
    account = _account()
    at = NOW
    for i in range(3 * portal.FAILURES_TO_REVOKE):  # spread over terminals and hours: never paused
        at = NOW + dt.timedelta(minutes=4 * i)
        _fails(account, rosemary.dob, pin=f"ABCDE-{i:05d}"[:11], terminal=f"kiosk-{i % 5}", now=at)
    for first, family in (("Rosemary", "Testkiddo"), ("Jordan", "Kim"), ("Emma", "Johnson")):
        child = find_patient(first, family)
        status = portal.guessing_status(child.id, now=at)
        assert _active(child) and status.locked_until is None and status.toward_revoking == 0
        assert (
            portal.redeem(
                account, child.dob, pin=pins[first], now=at + dt.timedelta(seconds=1)
            ).patient_id
            == child.id
        )


def test_s8_right_pin_with_another_childs_birth_date_counts_against_the_pins_own_child(front_desk):
    pins = _issue(front_desk)
    jordan_pin = _issue(front_desk, "Jordan", "Kim")["Jordan"]
    account, rosemary, jordan = (
        _account(),
        find_patient("Rosemary", "Testkiddo"),
        find_patient("Jordan", "Kim"),
    )
    for second in range(portal.FAILURES_TO_LOCK):  # Jordan's PIN, Rosemary's birth date
        _fails(account, rosemary.dob, pin=jordan_pin, now=NOW + dt.timedelta(seconds=second))
    at = NOW + dt.timedelta(minutes=1)
    assert portal.redeem(
        account, rosemary.dob, pin=pins["Rosemary"], terminal="kiosk-2", now=at
    )  # not locked
    status = portal.guessing_status(jordan.id, now=at)
    assert status.failures == {"wrong date": 5} and status.toward_revoking == 5
    assert status.locked_until == NOW + dt.timedelta(seconds=4) + portal.LOCK_FOR
    assert (
        audit.AuditEvent.select()
        .where(
            (audit.AuditEvent.action == audit.LOCK_OUT) & (audit.AuditEvent.patient_id == jordan.id)
        )
        .count()
        == 1
    )


def test_s4_twenty_wrong_dates_with_the_active_pin_revoke_it_and_staff_see_it(front_desk):
    pins = _issue(front_desk)
    account, rosemary = _account(), find_patient("Rosemary", "Testkiddo")
    at = NOW
    for i in range(portal.FAILURES_TO_REVOKE):
        at = NOW + dt.timedelta(hours=i)  # spaced out: never locked, never paused, still in a row
        _fails(account, rosemary.dob + dt.timedelta(days=1), pin=pins["Rosemary"], now=at)
    row = RegistrationPin.get(RegistrationPin.patient == rosemary)
    assert row.state == PinState.REVOKED and row.ended_reason == portal.LOCKOUT_REASON
    assert (
        audit.AuditEvent.select()
        .where(
            (audit.AuditEvent.action == audit.REVOKE) & (audit.AuditEvent.patient_id == rosemary.id)
        )
        .count()
        == 1
    )
    assert portal.guessing_status(rosemary.id, now=at).failures == {"wrong date": 20}


# -- S8: question lookups are attempts --------------------------------------------------------------


def test_s8_question_lookups_are_audited_and_count_at_the_terminal(front_desk):
    tyler = _tyler_with_a_question(front_desk)
    assert (
        portal.question_for(tyler.dob, "brooks", terminal="kiosk-1", now=NOW)
        == "Name of the caseworker?"
    )
    for i in range(portal.TERMINAL_FAILURES):  # probing for families: every miss counts
        assert portal.question_for(NOBODY_BORN, f"family{i}", terminal="kiosk-1", now=NOW) is None
    assert (
        portal.question_for(tyler.dob, "brooks", terminal="kiosk-1", now=NOW) is None
    )  # paused here
    assert (
        portal.question_for(tyler.dob, "brooks", terminal="kiosk-2", now=NOW)
        == "Name of the caseworker?"
    )
    lookups = (
        audit.AuditEvent.select().where(audit.AuditEvent.action == audit.QUESTION_LOOKUP).count()
    )
    assert lookups == portal.TERMINAL_FAILURES + 3


def test_s4_wrong_answers_to_a_childs_question_lock_it(front_desk):
    tyler = _tyler_with_a_question(front_desk)
    account = _account()
    for second in range(portal.FAILURES_TO_LOCK):
        _fails(
            account,
            tyler.dob,
            pin="",
            family_name="Brooks",
            answer=f"guess {second}",
            now=NOW + dt.timedelta(seconds=second),
        )
    assert _fails(
        account,
        tyler.dob,
        pin="",
        family_name="Brooks",
        answer="Ortiz",
        now=NOW + dt.timedelta(minutes=1),
    )
    assert portal.guessing_status(tyler.id, now=NOW).failures["wrong answer"] == 5


# -- property: tries that name no child never lock or revoke, and are all counted ------------------

_runs = itertools.count(1)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tries=st.lists(
        st.tuples(
            st.sampled_from(["wrong pin", "no birth date", "bad pin", "no question"]),
            st.integers(0, 3000),
        ),
        max_size=40,
    )
)
def test_s8_property_tries_that_name_no_child_only_count_at_the_terminal_and_practice(
    front_desk, tries
):
    run = next(_runs)
    base = NOW + dt.timedelta(days=3 * run)  # each example in its own hours
    rosemary = find_patient("Rosemary", "Testkiddo")
    if not _active(rosemary):
        _issue(front_desk, now=base)
    terminal = f"prop-{run}"
    for kind, second in sorted(tries, key=lambda t: t[1]):
        at = base + dt.timedelta(seconds=second)
        if kind == "no question":
            assert portal.question_for(rosemary.dob, "Nobody", terminal=terminal, now=at) is None
            continue
        dob, pin = {
            "wrong pin": (rosemary.dob, "ABCDE-FGHJK"),
            "no birth date": (NOBODY_BORN, "ABCDE-FGHJK"),
            "bad pin": (rosemary.dob, "not a pin"),
        }[kind]
        with pytest.raises(portal.PortalError, match="do not match"):
            portal.redeem(0, dob, pin=pin, terminal=terminal, now=at)
    attempts = list(RedemptionAttempt.select().where(RedemptionAttempt.terminal == terminal))
    assert len(attempts) == len(tries) and all(a.patient_id is None for a in attempts)
    counted = [a for a in attempts if a.outcome in portal.COUNTED]
    assert len(counted) == min(
        len(tries), portal.TERMINAL_FAILURES
    )  # the rest refused while paused
    status = portal.guessing_status(rosemary.id, now=base + dt.timedelta(hours=1))
    assert _active(rosemary) and status.locked_until is None and status.toward_revoking == 0


# -- S12: staff sign-in -----------------------------------------------------------------------------


def test_s12_a_hundred_wrong_passwords_in_a_row_need_an_administrator(training):
    at = NOW
    for i in range(throttle.STAFF_LOCK_AFTER):  # across terminals, a minute apart: never waiting
        at = NOW + dt.timedelta(minutes=i)
        assert authenticate("tasha", f"guess {i}", terminal=f"desk-{i % 3}", now=at) is None
    with pytest.raises(SignInPaused, match="kiosk staff unlock tasha"):
        authenticate("tasha", "training1", terminal="desk-9", now=at + dt.timedelta(hours=5))
    assert authenticate("maria", "training1", now=at).username == "maria"  # others unaffected
    assert (
        unlock_staff("tasha", by="maria", now=at + dt.timedelta(hours=5))
        == throttle.STAFF_LOCK_AFTER
    )
    event = audit.AuditEvent.get(audit.AuditEvent.action == audit.STAFF_UNLOCK)
    assert event.staff == "maria" and '"tasha"' in event.detail
    assert (
        authenticate(
            "tasha", "training1", terminal="desk-9", now=at + dt.timedelta(hours=5)
        ).username
        == "tasha"
    )
    with pytest.raises(StaffError, match="No staff member"):
        unlock_staff("nobody")


def test_s12_the_wait_grows_and_stays_short(training):
    waits = []
    for i in range(12):
        at = NOW + dt.timedelta(hours=i)
        authenticate("devon", "wrong", terminal="desk-1", now=at)
        try:
            authenticate("devon", "wrong", terminal="desk-1", now=at)  # straight away again
            waits.append(0)
        except SignInPaused as paused:
            waits.append(paused.seconds)
    assert waits == sorted(waits) and waits[0] == 0 and waits[-1] == throttle.MAX_WAIT


@given(st.integers(0, 10**6))
def test_s12_property_wait_after_is_bounded_and_never_shrinks(failures):
    wait = throttle.wait_after(failures)
    assert 0 <= wait <= throttle.MAX_WAIT and wait <= throttle.wait_after(failures + 1)
    assert (wait == 0) == (failures < throttle.FREE_FAILURES)


def test_s12_cli_unlock_is_audited(training, config, capsys):
    from kiosk.cli import main

    assert main(["--db", config.database, "staff", "unlock", "Tasha"]) == 0
    assert "tasha is unlocked" in capsys.readouterr().out
    assert (
        audit.AuditEvent.select().where(audit.AuditEvent.action == audit.STAFF_UNLOCK).count() == 1
    )


# -- S12: password rules and hashing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "password, problem",
    [
        ("fourteen chars", "at least 15"),
        ("password1234567", "too common"),  # a blocklisted password padded to length
        ("qwertyqwertyqwerty", "too common"),  # one repeated
        ("iloveyou!!!!!!!!!", "too common"),
        ("aaaaaaaaaaaaaaaaaaaa", "too common"),
        ("quinn-likes-long-walks", "name or email"),
        ("all lower case words here", None),  # no composition rules
        ("maple kite harbor", None),
    ],
)
def test_s12_one_password_policy_for_staff_and_parents(store, password, problem):
    found = security.password_problem(password, context=("quinn", "Quinn Doe"))
    assert (found is None) if problem is None else (problem in found)
    if problem:
        with pytest.raises(StaffError):
            add_staff("quinn", "Quinn Doe", password)
        with pytest.raises(portal.PortalError):
            portal.create_account("quinn@example.org", "Quinn Doe", password)
    else:
        assert add_staff("quinn", "Quinn Doe", password).username == "quinn"


@given(
    st.text(
        min_size=15, max_size=40, alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    )
)
def test_s12_property_length_is_the_only_size_rule(password):
    problem = security.password_problem(password)
    assert problem is None or "at least" not in problem
    assert "at least 15" in security.password_problem(password[:14])


def test_s12_an_older_hash_is_rehashed_at_the_next_sign_in(training):
    old = security.hash_password("training1", n=security.SCRYPT_N // 2)
    Staff.update(password_hash=old).where(Staff.username == "devon").execute()
    assert authenticate("devon", "wrong", now=NOW) is None
    assert (
        Staff.get(Staff.username == "devon").password_hash == old
    )  # a wrong password changes nothing
    assert authenticate("devon", "training1", now=NOW + dt.timedelta(minutes=1)).username == "devon"
    new = Staff.get(Staff.username == "devon").password_hash
    assert (
        new != old and not security.needs_rehash(new) and security.verify_password("training1", new)
    )


def test_s12_the_owasp_cost_hashes_and_verifies():
    stored = security.hash_password("a long enough password", n=2**17, p=1)
    assert stored.startswith("scrypt$131072$8$1$") and security.verify_password(
        "a long enough password", stored
    )
    assert not security.verify_password(
        "x", stored.replace("$131072$", f"${2**30}$")
    )  # refused, not run


def test_s12_the_low_memory_owasp_cost_hashes_verifies_and_rehashes_the_old_one():
    """N=2^14 r=8 p=5 is OWASP's 16 MiB equivalent of N=2^17 p=1 (a low-spec kiosk's memory)."""
    stored = security.hash_password("a long enough password", n=2**14, p=5)
    assert stored.startswith("scrypt$16384$8$5$")
    assert security.verify_password("a long enough password", stored)
    assert not security.verify_password("a long enough passwore", stored)
    assert not security.verify_password("a long enough password", stored.replace("$8$5$", "$8$99$"))
    assert security.needs_rehash(security.hash_password("a long enough password", n=2**17, p=1))
