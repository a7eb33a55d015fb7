"""The desk's idea of now: the real clock, or a fixed one that tests and training pass in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.terms import utcnow


@dataclass(frozen=True)
class Clock:
    """``now`` is naive UTC (how kiosk stores times); ``today`` is the desk's local date."""

    now: Callable[[], dt.datetime] = utcnow
    today: Callable[[], dt.date] = dt.date.today

    @classmethod
    def fixed(cls, now: dt.datetime, today: dt.date | None = None) -> Clock:
        """A clock that always says ``now`` (and ``today``, by default now's date)."""
        day = today or now.date()
        return cls(now=lambda: now, today=lambda: day)
