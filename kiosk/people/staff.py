"""Staff members: sign-in, adding, linking to the Practice Portal (R1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk import audit, throttle, validate
from kiosk.security import (
    default_terminal,
    hash_password,
    password_problem,
)
from kiosk.store.db import write_transaction
from kiosk.store.models import Staff
from kiosk.terms import utcnow


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


class SignInPaused(StaffError):
    """This try was not checked: wrong passwords for the username have slowed it down at this
    terminal (``seconds`` to wait), or locked it until an administrator unlocks it (S12)."""

    def __init__(self, message: str, seconds: int | None = None):
        super().__init__(message)
        self.seconds = seconds


def authenticate(
    username: str, password: str, *, terminal: str | None = None, now: dt.datetime | None = None
) -> StaffUser | None:
    """The staff member for these credentials, or None. Every outcome is audited.

    Wrong passwords slow the username down at this terminal (kiosk.throttle: raises SignInPaused
    with the seconds to wait before the next try is checked) and never refuse the right password
    for longer than that; 100 in a row lock the username until ``unlock_staff`` (S12). A right
    password made with older hashing parameters is re-hashed at today's cost.
    """
    now = now or utcnow()
    terminal = terminal or default_terminal()
    who = validate.one_line(username).lower()[
        :64
    ]  # O5: a control character matches nobody, raises nothing
    try:
        throttle.check(who, terminal, now, lock_after=throttle.STAFF_LOCK_AFTER)
    except throttle.TooSoon as wait:
        audit.record(
            audit.SIGN_IN_PAUSED,
            staff=who,
            at=now,
            detail={"terminal": terminal, "seconds": wait.seconds},
        )
        raise SignInPaused(
            f"Too many wrong passwords for {who}: {wait.words}, then try again.", wait.seconds
        ) from None
    except throttle.Locked:
        audit.record(
            audit.SIGN_IN_PAUSED, staff=who, at=now, detail={"terminal": terminal, "locked": True}
        )
        raise SignInPaused(
            f"{who} is locked after {throttle.STAFF_LOCK_AFTER} wrong passwords in a row. "
            f"An administrator can unlock it: kiosk staff unlock {who}"
        ) from None
    row = Staff.get_or_none((Staff.username == who) & (Staff.active == True))  # noqa: E712
    ok = throttle.try_password(
        who,
        terminal,
        now,
        password,
        row.password_hash if row else None,
        succeeded=audit.SIGN_IN,
        failed=audit.SIGN_IN_FAILED,
        store_rehash=lambda hashed: (
            Staff.update(password_hash=hashed).where(Staff.username == who).execute()
        ),
    )
    return _user(row) if row and ok else None


def unlock_staff(
    username: str, *, by: str = "", terminal: str | None = None, now: dt.datetime | None = None
) -> int:
    """Clear a username's wrong passwords after the lock (S12); audited. Returns how many there were."""
    who = validate.one_line(username).lower()
    terminal = terminal or default_terminal()
    with write_transaction():
        if not Staff.select().where(Staff.username == who).exists():
            raise StaffError(f"No staff member {who!r}.")
        now = now or utcnow()
        failures = throttle.unlock(who, terminal, now)
        audit.record(
            audit.STAFF_UNLOCK,
            staff=by or who,
            at=now,
            detail={"username": who, "failures": failures, "terminal": terminal},
        )
    return failures


def check_password_rules(password: str, username: str = "", display_name: str = "") -> str | None:
    """Why a new staff password is refused, or None: one policy for staff and parents (S12)."""
    return password_problem(password, context=(username, display_name))


def add_staff(
    username: str,
    display_name: str,
    password: str,
    *,
    portal_user: str | None = None,
    is_admin: bool = False,
    by: str = "",
) -> StaffUser:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise StaffError("Username must be letters, digits, dots, dashes or underscores.")
    try:
        validate.check_length(username, field="username", label="Username", limit=validate.USERNAME)
        display_name = validate.clean_text(
            display_name, field="display_name", label="Display name", limit=validate.DISPLAY_NAME
        )
        portal_user = validate.clean_text(
            portal_user, field="portal_user", label="Portal user", limit=validate.USERNAME
        )
        validate.check_length(password, field="password", label="Password", limit=validate.PASSWORD)
    except validate.InputProblem as problem:
        raise StaffError(f"{problem}.") from None
    if not display_name:
        raise StaffError("Display name must not be empty.")
    weak = check_password_rules(password, username, display_name)
    if weak:
        raise StaffError(weak)
    hashed = hash_password(
        password
    )  # most of a second at the OWASP cost: not while holding the lock (O1)
    with write_transaction():
        if Staff.select().where(Staff.username == username).exists():
            raise StaffError(f"Staff member {username!r} already exists.")
        row = Staff.create(
            username=username,
            display_name=display_name,
            password_hash=hashed,
            portal_user=(portal_user or None),
            is_admin=is_admin,
        )
        audit.record(
            audit.STAFF_ADD, staff=by or username, detail={"username": username, "admin": is_admin}
        )
    return _user(row)


def link_staff(username: str, portal_user: str | None, *, by: str = "") -> StaffUser:
    """Link (or with None, unlink) a staff member to a Practice Portal user."""
    username = validate.one_line(
        username
    ).lower()  # a control character matches nobody (and no raw error)
    try:
        portal_user = validate.clean_text(
            portal_user, field="portal_user", label="Portal user", limit=validate.USERNAME
        )
    except validate.InputProblem as problem:
        raise StaffError(f"{problem}.") from None
    with write_transaction():
        row = Staff.get_or_none(Staff.username == username)
        if row is None:
            raise StaffError(f"No staff member {username!r}.")
        row.portal_user = portal_user or None
        row.save()
        audit.record(
            audit.STAFF_LINK,
            staff=by or username,
            detail={"username": username, "portal_user": row.portal_user},
        )
    return _user(row)


def get_staff(staff_id: int) -> StaffUser | None:
    row = Staff.get_or_none(Staff.id == staff_id)
    return _user(row) if row else None


def staff_count() -> int:
    return Staff.select().count()


def list_staff() -> list[StaffUser]:
    return [_user(row) for row in Staff.select().order_by(Staff.username)]


def add_first_administrator(
    username: str, display_name: str, password: str, *, portal_user: str | None = None
) -> StaffUser:
    """``kiosk init``'s administrator, made only while the database has no staff at all.

    The check and the insert are one write transaction holding the lock that a second ``kiosk
    init`` started at the same moment waits for (SQLite's IMMEDIATE transaction; on PostgreSQL a
    table lock), so two at once make one administrator and the other is told there is staff.
    """
    from kiosk.store.db import database, is_sqlite

    with write_transaction():
        if not is_sqlite():
            database.execute_sql(
                f'LOCK TABLE "{Staff._meta.table_name}" IN SHARE ROW EXCLUSIVE MODE'
            )
        if Staff.select().exists():
            raise StaffError("this database already has staff; use kiosk staff add")
        return add_staff(username, display_name, password, portal_user=portal_user, is_admin=True)
