"""Sign-in throttling for staff and parents in one place (S12).

Wrong passwords slow a name down at the terminal where they are typed, instead of refusing the
right password: the first FREE_FAILURES cost nothing, then the next try is not even checked until
a wait that doubles with each failure (1, 2, 4 ... seconds, at most MAX_WAIT) has passed since the
last one. So anyone at the counter can delay a colleague by a minute at most, and guessing costs
hours. A name with ``lock_after`` wrong passwords in a row, counted over every terminal, is locked
until an administrator unlocks it. A right password, or an unlock, starts the count again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from peewee import fn

from kiosk import audit
from kiosk.security import hash_password, needs_rehash, unknown_user_hash, verify_password
from kiosk.store.db import write_transaction
from kiosk.store.models import SignInAttempt

FREE_FAILURES = 3
MAX_WAIT = 60  # seconds
STAFF_LOCK_AFTER = 100
OK, WRONG, UNLOCKED = "ok", "wrong", "unlocked"


class TooSoon(Exception):
    """The try came before the wait was over: it was not checked."""

    def __init__(self, seconds: int):
        super().__init__(f"wait {seconds} seconds")
        self.seconds = seconds

    @property
    def words(self) -> str:
        return f"wait {self.seconds} second" + ("" if self.seconds == 1 else "s")


class Locked(Exception):
    """Too many wrong passwords in a row: only an administrator can unlock the name."""


def wait_after(failures: int) -> int:
    """Seconds to wait after ``failures`` wrong passwords in a row at one terminal."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** min(failures - FREE_FAILURES, 16), MAX_WAIT)


@dataclass(frozen=True)
class Standing:
    in_a_row: int  # wrong passwords since the last right one or unlock, at any terminal
    here: int  # of those, typed at this terminal
    last_here: dt.datetime | None


def standing(who: str, terminal: str) -> Standing:
    last_reset = (
        SignInAttempt.select(fn.MAX(SignInAttempt.at))
        .where((SignInAttempt.who == who) & (SignInAttempt.outcome != WRONG))
        .scalar()
    )
    wrong = SignInAttempt.select().where(
        (SignInAttempt.who == who) & (SignInAttempt.outcome == WRONG)
    )
    if last_reset is not None:
        wrong = wrong.where(SignInAttempt.at > last_reset)
    in_a_row = wrong.count()
    here = wrong.where(SignInAttempt.terminal == terminal)
    last = here.select(fn.MAX(SignInAttempt.at)).scalar() if in_a_row else None
    return Standing(in_a_row, here.count() if in_a_row else 0, last)


def check(who: str, terminal: str, now: dt.datetime, *, lock_after: int | None) -> None:
    """Raise Locked or TooSoon when this try must not be checked now."""
    state = standing(who, terminal)
    if lock_after is not None and state.in_a_row >= lock_after:
        raise Locked(who)
    if state.last_here is not None:
        ready = state.last_here + dt.timedelta(seconds=wait_after(state.here))
        if ready > now:
            raise TooSoon(max(1, math.ceil((ready - now).total_seconds())))


def record(who: str, terminal: str, now: dt.datetime, ok: bool) -> None:
    SignInAttempt.create(who=who, terminal=terminal, at=now, outcome=OK if ok else WRONG)


def unlock(who: str, terminal: str, now: dt.datetime) -> int:
    """Clear a name's wrong passwords; return how many there were in a row."""
    failures = standing(who, terminal).in_a_row
    SignInAttempt.create(who=who, terminal=terminal, at=now, outcome=UNLOCKED)
    return failures


def try_password(
    who: str,
    terminal: str,
    now: dt.datetime,
    password: str,
    stored: str | None,
    *,
    succeeded: str,
    failed: str,
    store_rehash: Callable[[str], object],
) -> bool:
    """One sign-in try, the same for staff and parents (S12): check ``password`` against the
    ``stored`` hash (a stand-in hash when there is no such name, so the time taken does not tell),
    then record the try for the throttle and the audit (``succeeded`` or ``failed``) in one
    transaction. A right password hashed with older parameters is re-hashed at today's cost
    (before the transaction: it takes most of a second, O1) and handed to ``store_rehash``
    inside it. True when the password was right."""
    ok = verify_password(password, stored if stored is not None else unknown_user_hash())
    ok = ok and stored is not None
    rehashed = hash_password(password) if ok and stored and needs_rehash(stored) else None
    with write_transaction():
        record(who, terminal, now, ok)
        if rehashed:
            store_rehash(rehashed)
        # O1: the audit head last, held only to the commit
        audit.record(succeeded if ok else failed, staff=who, at=now, detail={"terminal": terminal})
    return ok
