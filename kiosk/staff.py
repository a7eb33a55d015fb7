"""Staff members: sign-in, adding, linking to the Practice Portal (R1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk import audit, validate
from kiosk.db import write_transaction
from kiosk.models import Staff
from kiosk.security import hash_password, unknown_user_hash, verify_password
from kiosk.terms import utcnow

MIN_PASSWORD = 8


class StaffError(ValueError):
    """A staff change that cannot be made; the message says why."""


@dataclass(frozen=True)
class StaffUser:
    """Who is signed in, as the screens and the engine see them."""

    id: int
    username: str
    display_name: str
    portal_user: str | None
    is_admin: bool

    @property
    def is_linked(self) -> bool:
        return bool(self.portal_user)


def _user(row: Staff) -> StaffUser:
    return StaffUser(row.id, row.username, row.display_name, row.portal_user, row.is_admin)


SIGN_IN_WINDOW = dt.timedelta(minutes=15)
SIGN_IN_TRIES = 5


class SignInPaused(StaffError):
    """Too many wrong passwords for one username: the lock screen is at a public counter."""


def authenticate(username: str, password: str, *, now: dt.datetime | None = None) -> StaffUser | None:
    """The staff member for these credentials, or None. Every outcome is audited.

    After 5 wrong passwords for a username in 15 minutes, sign-in for that username pauses for
    15 minutes (raises SignInPaused), so nobody at the counter can guess at the lock screen.
    """
    now = now or utcnow()
    who = username.strip().lower()[:64]
    if audit.failures_since_success(who, audit.SIGN_IN_FAILED, audit.SIGN_IN, now - SIGN_IN_WINDOW) >= SIGN_IN_TRIES:
        audit.record(audit.SIGN_IN_PAUSED, staff=who, at=now)
        raise SignInPaused(f"Too many wrong passwords for {who}: sign-in is paused for "
                           f"{int(SIGN_IN_WINDOW.total_seconds() // 60)} minutes. Ask a colleague or an administrator.")
    row = Staff.get_or_none((Staff.username == who) & (Staff.active == True))  # noqa: E712
    ok = verify_password(password, row.password_hash if row else unknown_user_hash()) and row is not None
    audit.record(audit.SIGN_IN if ok else audit.SIGN_IN_FAILED, staff=who, at=now)
    return _user(row) if ok else None


def check_password_rules(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Password must be at least {MIN_PASSWORD} characters."
    return None


def add_staff(username: str, display_name: str, password: str, *, portal_user: str | None = None,
              is_admin: bool = False, by: str = "") -> StaffUser:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise StaffError("Username must be letters, digits, dots, dashes or underscores.")
    try:
        validate.check_length(username, field="username", label="Username", limit=validate.USERNAME)
        display_name = validate.clean_text(display_name, field="display_name", label="Display name",
                                           limit=validate.DISPLAY_NAME)
        portal_user = validate.clean_text(portal_user, field="portal_user", label="Portal user",
                                          limit=validate.USERNAME)
        validate.check_length(password, field="password", label="Password", limit=validate.PASSWORD)
    except validate.InputProblem as problem:
        raise StaffError(f"{problem}.") from None
    if not display_name:
        raise StaffError("Display name must not be empty.")
    problem = check_password_rules(password)
    if problem:
        raise StaffError(problem)
    with write_transaction():
        if Staff.select().where(Staff.username == username).exists():
            raise StaffError(f"Staff member {username!r} already exists.")
        row = Staff.create(username=username, display_name=display_name, password_hash=hash_password(password),
                           portal_user=(portal_user or None), is_admin=is_admin)
        audit.record(audit.STAFF_ADD, staff=by or username, detail={"username": username, "admin": is_admin})
    return _user(row)


def link_staff(username: str, portal_user: str | None, *, by: str = "") -> StaffUser:
    """Link (or with None, unlink) a staff member to a Practice Portal user."""
    username = validate.one_line(username).lower()  # a control character matches nobody (and no raw error)
    try:
        portal_user = validate.clean_text(portal_user, field="portal_user", label="Portal user",
                                          limit=validate.USERNAME)
    except validate.InputProblem as problem:
        raise StaffError(f"{problem}.") from None
    with write_transaction():
        row = Staff.get_or_none(Staff.username == username)
        if row is None:
            raise StaffError(f"No staff member {username!r}.")
        row.portal_user = portal_user or None
        row.save()
        audit.record(audit.STAFF_LINK, staff=by or username, detail={"username": username, "portal_user": row.portal_user})
    return _user(row)


def get_staff(staff_id: int) -> StaffUser | None:
    row = Staff.get_or_none(Staff.id == staff_id)
    return _user(row) if row else None


def staff_count() -> int:
    return Staff.select().count()


def list_staff() -> list[StaffUser]:
    return [_user(row) for row in Staff.select().order_by(Staff.username)]


def add_first_administrator(username: str, display_name: str, password: str, *,
                            portal_user: str | None = None) -> StaffUser:
    """``kiosk init``'s administrator, made only while the database has no staff at all.

    The check and the insert are one write transaction holding the lock that a second ``kiosk
    init`` started at the same moment waits for (SQLite's IMMEDIATE transaction; on PostgreSQL a
    table lock), so two at once make one administrator and the other is told there is staff.
    """
    from kiosk.db import database, is_sqlite

    with write_transaction():
        if not is_sqlite():
            database.execute_sql(f'LOCK TABLE "{Staff._meta.table_name}" IN SHARE ROW EXCLUSIVE MODE')
        if Staff.select().exists():
            raise StaffError("this database already has staff; use kiosk staff add")
        return add_staff(username, display_name, password, portal_user=portal_user, is_admin=True)
