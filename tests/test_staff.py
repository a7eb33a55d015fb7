"""Staff sign-in: audited, and paused after repeated wrong passwords (the lock screen faces the counter)."""

import datetime as dt

import pytest

from conftest import NOW
from kiosk import audit
from kiosk.staff import SignInPaused, authenticate


def test_sign_in_is_audited(training):
    assert authenticate("maria", "training1", now=NOW).username == "maria"
    assert authenticate("maria", "nope", now=NOW) is None
    assert authenticate("nobody", "training1", now=NOW) is None
    actions = [(e.staff, e.action) for e in audit.AuditEvent.select().where(
        audit.AuditEvent.action.in_([audit.SIGN_IN, audit.SIGN_IN_FAILED])).order_by(audit.AuditEvent.seq)]
    assert actions == [("maria", audit.SIGN_IN), ("maria", audit.SIGN_IN_FAILED), ("nobody", audit.SIGN_IN_FAILED)]


def test_five_wrong_passwords_pause_that_username_for_fifteen_minutes(training):
    for i in range(5):
        assert authenticate("maria", f"guess{i}", now=NOW + dt.timedelta(seconds=i)) is None
    with pytest.raises(SignInPaused, match="paused for 15 minutes"):
        authenticate("maria", "training1", now=NOW + dt.timedelta(minutes=2))
    assert authenticate("devon", "training1", now=NOW + dt.timedelta(minutes=2)).username == "devon"  # others unaffected
    assert authenticate("maria", "training1", now=NOW + dt.timedelta(minutes=16)).username == "maria"


def test_a_success_resets_the_count(training):
    for i in range(4):
        authenticate("maria", f"guess{i}", now=NOW + dt.timedelta(seconds=i))
    assert authenticate("maria", "training1", now=NOW + dt.timedelta(seconds=10)) is not None
    for i in range(4):
        assert authenticate("maria", f"again{i}", now=NOW + dt.timedelta(seconds=20 + i)) is None
    assert authenticate("maria", "training1", now=NOW + dt.timedelta(seconds=30)) is not None
