"""Staff sign-in: audited, and slowed down after repeated wrong passwords (the lock screen faces the counter)."""

import datetime as dt

import pytest

from kiosk import audit
from kiosk.people.staff import SignInPaused, authenticate

from conftest import NOW


def test_sign_in_is_audited(training):
    assert authenticate("maria", "training1", now=NOW).username == "maria"
    assert authenticate("maria", "nope", now=NOW) is None
    assert authenticate("nobody", "training1", now=NOW) is None
    actions = [
        (e.staff, e.action)
        for e in audit.AuditEvent.select()
        .where(audit.AuditEvent.action.in_([audit.SIGN_IN, audit.SIGN_IN_FAILED]))
        .order_by(audit.AuditEvent.seq)
    ]
    assert actions == [
        ("maria", audit.SIGN_IN),
        ("maria", audit.SIGN_IN_FAILED),
        ("nobody", audit.SIGN_IN_FAILED),
    ]


def test_s12_wrong_passwords_slow_that_username_at_that_terminal_and_never_refuse_it_for_long(
    training,
):
    for i in range(5):
        assert (
            authenticate("maria", f"guess{i}", terminal="desk-1", now=NOW + dt.timedelta(minutes=i))
            is None
        )
    with pytest.raises(
        SignInPaused, match="wait 4 seconds"
    ) as caught:  # 3 free, then 1, 2, 4 seconds
        authenticate("maria", "training1", terminal="desk-1", now=NOW + dt.timedelta(minutes=4))
    assert caught.value.seconds == 4
    assert (
        authenticate("maria", "training1", terminal="desk-2", now=NOW + dt.timedelta(minutes=4))
        is not None
    )
    assert (
        authenticate("devon", "training1", terminal="desk-1", now=NOW + dt.timedelta(minutes=4))
        is not None
    )
    assert (
        authenticate("maria", "training1", terminal="desk-1", now=NOW + dt.timedelta(minutes=5))
        is not None
    )


def test_a_success_resets_the_count(training):
    for i in range(4):
        authenticate("maria", f"guess{i}", now=NOW + dt.timedelta(seconds=i))
    assert authenticate("maria", "training1", now=NOW + dt.timedelta(seconds=10)) is not None
    for i in range(4):
        assert authenticate("maria", f"again{i}", now=NOW + dt.timedelta(seconds=20 + i)) is None
    assert authenticate("maria", "training1", now=NOW + dt.timedelta(seconds=30)) is not None
