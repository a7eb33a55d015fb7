"""The desk's idea of now: the real clock, or a fixed one that tests and training pass in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.terms import utcnow

DAY_KEPT = 60.0  # seconds the local date is trusted without asking for the time zone again


def local_today() -> dt.date:
    """The machine's local date, as ``dt.date.today()`` gives it. Each ``date.today()`` has the C
    library look at /etc/localtime again, some 40 µs of a desk's CPU at every search once other
    processes have had the core (O1); so a date read is kept until the next local midnight, or a
    minute (a changed time zone shows within it), and meanwhile only the clock is read."""
    global _today
    now = time.time()
    since, until, day = _today
    if since <= now < until:
        return day
    day = dt.date.fromtimestamp(now)
    after = day + dt.timedelta(days=1)
    midnight = time.mktime((after.year, after.month, after.day, 0, 0, 0, 0, 0, -1))
    _today = (now, min(midnight, now + DAY_KEPT), day)  # replaced whole: threads read it whole
    return day


_today: tuple[float, float, dt.date] = (0.0, 0.0, dt.date.min)


@dataclass(frozen=True)
class Clock:
    """``now`` is naive UTC (how kiosk stores times); ``today`` is the desk's local date."""

    now: Callable[[], dt.datetime] = utcnow
    today: Callable[[], dt.date] = local_today

    @classmethod
    def fixed(cls, now: dt.datetime, today: dt.date | None = None) -> Clock:
        """A clock that always says ``now`` (and ``today``, by default now's date)."""
        day = today or now.date()
        return cls(now=lambda: now, today=lambda: day)
