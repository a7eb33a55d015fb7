"""The enrollment report (W4): where the practice's patients stand now, and how many of the PINs
issued since a date were used, how fast, by week and by the staff member who issued them.

What the numbers mean (also in docs/rules.md, W4):

- **Status now**: patients by portal status (Unregistered, Self Registered, Pending, Registered).
- **Issued**: PINs (and verification questions) issued to a family on or after ``since``, one
  per child per issue; a further parent's PIN for a child already registered (R13) is not
  counted. A PIN replaced by a later one counts as issued and not registered: the later one is
  counted in its own week.
- **Registered**: the PIN was used by at least one parent (its ``redemptions``).
- **Days to register**: whole days from the issue to the first parent's use (0: within a day;
  the PIN's ``first_used_at``, kept since schema 14 and filled in then from the associations);
  the median over the registered PINs of the group. A PIN used before schema 14 whose
  association was removed counts as registered, without days.
- **Weeks** start on Monday, by the stored (UTC) date of the issue; every week from ``since`` to
  today is listed, empty ones too, so a chart has no gaps.

At a million patients the report reads everything it counts of the PINs issued since the date
from one index (issue time, second parent, staff member, uses, first use: schema 14), and the
status counts from a narrow status index: ``benchmarks/report_bench.py`` measures it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass

from kiosk.store.db import database, is_sqlite, read_snapshot, tuples
from kiosk.store.models import Patient, Staff
from kiosk.terms import PortalStatus

DEFAULT_WEEKS = 12  # the report's default reach: a quarter


@dataclass(frozen=True)
class Funnel:
    """Issued to registered for one group: a week (``label`` its Monday), a staff member, or all."""

    label: str
    issued: int
    registered: int
    median_days: float | None  # None: nobody registered (or no use has its time any more)

    @property
    def rate(self) -> float | None:
        """Registered per issued, 0-1; None when nothing was issued."""
        return self.registered / self.issued if self.issued else None


@dataclass(frozen=True)
class EnrollmentReport:
    since: dt.date
    today: dt.date
    statuses: tuple[tuple[PortalStatus, int], ...]  # every status, in the desk's order
    total: Funnel
    weeks: tuple[Funnel, ...]  # oldest first, every week from since's to today's
    staff: tuple[Funnel, ...]  # by name

    @property
    def patients(self) -> int:
        return sum(count for _, count in self.statuses)

    def table(self) -> str:
        """The report as text for a terminal (``kiosk report``), at most 80 columns."""
        lines = [f"Enrollment report, {self.since:%m/%d/%Y} to {self.today:%m/%d/%Y}", ""]
        lines.append(f"{'Status now':<24}{'Patients':>10}{'Share':>9}")
        for status, count in self.statuses:
            share = f"{count / self.patients * 100:.1f}%" if self.patients else "-"
            lines.append(f"{status.label:<24}{count:>10,}{share:>9}")
        lines += [f"{'All patients':<24}{self.patients:>10,}", ""]
        head = f"{'Issued to registered':<24}{'Issued':>8}{'Registered':>12}{'Rate':>8}"
        lines.append(head + f"{'Median days':>13}")
        lines.append("By week")
        lines += [_line(row, f"  {week_words(row)}") for row in self.weeks]
        lines.append("By staff member")
        lines += [_line(row, f"  {row.label[:22]}") for row in self.staff]
        lines.append(_line(self.total, "All"))
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """One table, a row per figure: ``section`` is status, week, staff or total."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["section", "name", "patients", "issued", "registered", "rate_percent", "median_days"]
        )
        for status, count in self.statuses:
            writer.writerow(["status", str(status), count, "", "", "", ""])
        for section, rows in (
            ("week", self.weeks),
            ("staff", self.staff),
            ("total", (self.total,)),
        ):
            for row in rows:
                writer.writerow(
                    [
                        section,
                        row.label,
                        "",
                        row.issued,
                        row.registered,
                        "" if row.rate is None else f"{row.rate * 100:.1f}",
                        "" if row.median_days is None else f"{row.median_days:g}",
                    ]
                )
        return out.getvalue()


def rate_words(row: Funnel) -> str:
    return "-" if row.rate is None else f"{row.rate * 100:.1f}%"


def median_words(row: Funnel) -> str:
    return "-" if row.median_days is None else f"{row.median_days:g}"


def week_words(row: Funnel) -> str:
    """A week's label as the desk reads dates: ``11/02/2026``."""
    return f"{dt.date.fromisoformat(row.label):%m/%d/%Y}"


def _line(row: Funnel, label: str) -> str:
    return (
        f"{label:<24}{row.issued:>8,}{row.registered:>12,}{rate_words(row):>8}"
        f"{median_words(row):>13}"
    )


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def default_since(today: dt.date) -> dt.date:
    """The Monday :data:`DEFAULT_WEEKS` weeks before this week's."""
    return week_of(today) - dt.timedelta(weeks=DEFAULT_WEEKS - 1)


# Per issue day and staff member, the whole days to the first use, and how many PINs: every
# column is in the PINs' report index (schema 14), so neither database reads the table itself.
# SQLite keeps times as text (the day is its first ten characters) and has julianday();
# PostgreSQL has dates and interval arithmetic. The days become weeks in Python.
_SQLITE = """
SELECT substr(issued_at, 1, 10), issued_by_id,
       CAST(julianday(first_used_at) - julianday(issued_at) AS INTEGER), COUNT(*),
       SUM(redemptions > 0)
FROM registration_pin WHERE issued_at >= ? AND second_parent = ?
GROUP BY 1, 2, 3
"""
_POSTGRES = """
SELECT issued_at::date, issued_by_id,
       FLOOR(EXTRACT(EPOCH FROM (first_used_at - issued_at)) / 86400)::int, COUNT(*),
       SUM(CASE WHEN redemptions > 0 THEN 1 ELSE 0 END)
FROM registration_pin WHERE issued_at >= %s AND second_parent = %s
GROUP BY 1, 2, 3
"""


def issued_query() -> tuple[str, str]:
    """The SQL of the issued-to-registered part for the open database, and its parameter style
    (for ``benchmarks/report_bench.py``, which shows its plan)."""
    return (_SQLITE, "?") if is_sqlite() else (_POSTGRES, "%s")


class _Group:
    def __init__(self) -> None:
        self.issued = self.registered = 0
        self.days: Counter[int] = Counter()

    def add(self, days: int | None, issued: int, registered: int) -> None:
        self.issued += issued
        self.registered += registered
        if days is not None:
            self.days[days] += registered

    def funnel(self, label: str) -> Funnel:
        return Funnel(label, self.issued, self.registered, _median(self.days))


def _median(counts: Counter[int]) -> float | None:
    """The median of the values counted (each value as often as its count)."""
    n = sum(counts.values())
    if not n:
        return None

    def nth(k: int) -> int:  # the k-th value (from 0) in sorted order
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if seen > k:
                return value
        raise AssertionError("k is below the number of values")

    return (nth((n - 1) // 2) + nth(n // 2)) / 2


def enrollment_report(since: dt.date, today: dt.date) -> EnrollmentReport:
    """The report from ``since`` (a date, from its midnight UTC) to ``today`` (W4)."""
    start = dt.datetime.combine(since, dt.time())
    with read_snapshot():  # one moment: the statuses and the PINs agree
        # one count per status: each reads its range of the narrow status index
        counts = {
            status: Patient.select().where(Patient.portal_status == status).count()
            for status in PortalStatus
        }
        sql, _ = issued_query()
        rows = database.execute_sql(
            sql, (start.isoformat(sep=" ") if is_sqlite() else start, False)
        ).fetchall()
        names = dict(tuples(Staff.select(Staff.id, Staff.display_name)))
    weeks: dict[dt.date, _Group] = {}
    monday = week_of(since)
    while monday <= today:
        weeks[monday] = _Group()
        monday += dt.timedelta(weeks=1)
    by_staff: dict[str, _Group] = {}
    total = _Group()
    mondays: dict[object, dt.date] = {}  # an issue day as the database gives it -> its Monday
    for day, staff_id, days, issued, registered in rows:
        if day not in mondays:
            mondays[day] = week_of(day if isinstance(day, dt.date) else dt.date.fromisoformat(day))
        registered = int(registered or 0)
        for group in (
            weeks.setdefault(mondays[day], _Group()),
            by_staff.setdefault(names.get(staff_id, f"staff {staff_id}"), _Group()),
            total,
        ):
            group.add(days, issued, registered)
    return EnrollmentReport(
        since,
        today,
        tuple(counts.items()),
        total.funnel("All"),
        tuple(weeks[day].funnel(day.isoformat()) for day in sorted(weeks)),
        tuple(by_staff[name].funnel(name) for name in sorted(by_staff, key=str.casefold)),
    )
