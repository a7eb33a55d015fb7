"""The enrollment report's speed (W4) at a million patients, one figure a line: ``NAME VALUE UNIT``.

    python benchmarks/report_bench.py                      # SQLite, 1,000,000 patients
    python benchmarks/report_bench.py --patients 100000    # a smaller practice
    python benchmarks/report_bench.py --keep DIR           # keep the SQLite database in DIR; reuse it next time
    python benchmarks/report_bench.py --pg-url postgresql://...   # PostgreSQL too (a schema of its own, kept)

The practice is built the way benchmarks/run.py builds it (kiosk.ops.demo, seed 1), then given a
year of PINs: one for every Pending and Registered child and for one Unregistered child in ten
(an expired PIN), issued by ten staff members over the last 52 weeks; every Registered child's PIN
used by a parent (its portal account and association) 0-30 days after its issue.

Figures and targets:
  report_12_weeks_s        <= 1   Desk.enrollment_report() as the screen and `kiosk report` call it
                                  (the default 12 weeks), median of 5 warm runs
  report_52_weeks_s        <= 1   the same from 52 weeks back: every PIN in the database
  (_postgres: the same on PostgreSQL)
The plans of the report's two queries are printed as # lines: the PINs are read through the
issue-time index and each used PIN's first use through association's (pin, created_at) index.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import (  # noqa: E402 - after the path is set
    drop_pg_schema,
    note,
    open_bench_store,
    pg_schema_target,
    pg_unreachable,
    populate,
)

TARGET_S = 1.0
RUNS = 5
STAFF = 10
CHUNK = 5_000


def figure(name: str, value: float, unit: str = "s") -> None:
    print(f"{name} {value:.3f} {unit}  # target <= {TARGET_S}", flush=True)


def add_pins(seed: int = 3) -> str:
    """A year of PINs, uses and accounts on the practice (once: a database that has PINs keeps them)."""
    from kiosk.store.db import database, tuples, write_transaction
    from kiosk.store.models import (
        Association,
        Patient,
        PortalAccount,
        RegistrationPin,
        Staff,
    )
    from kiosk.terms import PinState, PortalStatus, utcnow

    have = RegistrationPin.select().count()
    if have:
        return f"reused {have:,} PINs already there"
    started = time.perf_counter()
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    with write_transaction():
        first_staff = Staff.select().count() + 1
        Staff.insert_many(
            [(f"bench{n}", f"Bench Staff {n:02d}", "not-a-hash") for n in range(STAFF)],
            fields=[Staff.username, Staff.display_name, Staff.password_hash],
        ).execute()
    staff_ids = list(range(first_staff, first_staff + STAFF))
    pin_fields = [
        RegistrationPin.patient,
        RegistrationPin.batch,
        RegistrationPin.issued_by,
        RegistrationPin.issued_at,
        RegistrationPin.expires_at,
        RegistrationPin.state,
        RegistrationPin.redemptions,
    ]
    last, pins, uses = 0, 0, 0
    while True:
        rows = list(
            tuples(
                Patient.select(Patient.id, Patient.portal_status)
                .where(Patient.id > last)
                .order_by(Patient.id)
                .limit(CHUNK)
            )
        )
        if not rows:
            break
        last = rows[-1][0]
        pin_rows, used = [], []
        for patient_id, status in rows:
            if status == PortalStatus.UNREGISTERED and rng.random() >= 0.1:
                continue
            if status == PortalStatus.SELF_REGISTERED:
                continue
            issued = now - dt.timedelta(minutes=rng.randrange(364 * 24 * 60))
            registered = status == PortalStatus.REGISTERED
            expired = status == PortalStatus.UNREGISTERED
            state = (
                PinState.REDEEMED
                if registered
                else PinState.EXPIRED
                if expired
                else PinState.ACTIVE
            )
            pin_rows.append(
                (
                    patient_id,
                    f"bench-{patient_id}",
                    rng.choice(staff_ids),
                    issued,
                    issued + dt.timedelta(days=30),
                    state,
                    int(registered),
                )
            )
            if registered:
                days = min(30.0, rng.expovariate(1 / 4))
                used.append((patient_id, issued + dt.timedelta(days=days)))
        with write_transaction():
            RegistrationPin.insert_many(pin_rows, fields=pin_fields).execute()
            if used:
                ids = dict(
                    tuples(
                        RegistrationPin.select(RegistrationPin.patient, RegistrationPin.id).where(
                            RegistrationPin.patient.in_([p for p, _ in used])
                        )
                    )
                )
                first_account = (
                    PortalAccount.select(PortalAccount.id)
                    .order_by(PortalAccount.id.desc())
                    .scalar()
                    or 0
                )
                PortalAccount.insert_many(
                    [(f"bench{p}@example.org", "Bench Parent", "not-a-hash") for p, _ in used],
                    fields=[
                        PortalAccount.email,
                        PortalAccount.display_name,
                        PortalAccount.password_hash,
                    ],
                ).execute()
                Association.insert_many(
                    [(first_account + n, p, ids[p], at) for n, (p, at) in enumerate(used, 1)],
                    fields=[
                        Association.account,
                        Association.patient,
                        Association.pin,
                        Association.created_at,
                    ],
                ).execute()
        pins, uses = pins + len(pin_rows), uses + len(used)
    for model in (RegistrationPin, Association, Staff):
        database.execute_sql(f'ANALYZE "{model._meta.table_name}"')
    return (
        f"added {pins:,} PINs ({uses:,} used, each with an account and association) by {STAFF} "
        f"staff in {time.perf_counter() - started:.0f} s"
    )


def note_plans(suffix: str) -> None:
    """The plans of the report's queries, to show the indexes are used."""
    from kiosk.followup.report import issued_query
    from kiosk.store.db import database, is_sqlite

    sql, _ = issued_query()
    since = dt.datetime.now() - dt.timedelta(weeks=12)
    params = (since.isoformat(sep=" ") if is_sqlite() else since, False)
    explain = "EXPLAIN QUERY PLAN " if is_sqlite() else "EXPLAIN "
    status = "SELECT COUNT(*) FROM patient WHERE portal_status = 'Registered'"  # one per status
    for query, values in ((sql, params), (status, ())):
        for row in database.execute_sql(explain + query, values).fetchall():
            note(f"plan{suffix}: {row[-1] if is_sqlite() else row[0]}")


def time_report(suffix: str) -> None:
    from kiosk.config import Config
    from kiosk.desk import Desk
    from kiosk.store.db import database, is_sqlite

    if not is_sqlite():  # what autovacuum does after a bulk load: index-only scans need it
        database.execute_sql('VACUUM ANALYZE "registration_pin"')
    desk = Desk(Config())
    today = desk.today()
    for weeks, since in ((12, None), (52, today - dt.timedelta(weeks=52))):
        desk.enrollment_report(since)  # warm: page cache, statistics, the connection
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            report = desk.enrollment_report(since)
            times.append(time.perf_counter() - began)
        note(
            f"report{suffix} over {weeks} weeks: {report.total.issued:,} PINs issued, "
            f"{report.total.registered:,} registered, {report.patients:,} patients; "
            f"max of {RUNS} runs {max(times):.3f} s"
        )
        figure(f"report_{weeks}_weeks_s{suffix}", statistics.median(times))
    note_plans(suffix)


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import whole_between
    from kiosk.ops.demo import MAX_PATIENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--patients",
        type=whole_between(1, MAX_PATIENTS),
        default=1_000_000,
        help="patients in the practice",
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the SQLite database in DIR, and reuse one found there"
    )
    parser.add_argument(
        "--pg-url",
        metavar="URL",
        help="PostgreSQL server for the _postgres figures (default: KIOSK_BENCH_PG_URL; none: "
        "SQLite only)",
    )
    parser.add_argument(
        "--drop-pg", action="store_true", help="drop the PostgreSQL schema afterwards"
    )
    args = parser.parse_args(argv)
    from kiosk.store.db import close_database

    load = os.getloadavg()[0]
    note(
        f"enrollment report (W4), {args.patients:,} patients, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start (other work inflates the times)"
    )
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kiosk-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        open_bench_store(str(folder / f"report-{args.patients}.sqlite3"), folder / "report.key")
        note(
            f"SQLite: {populate(args.patients)}; {add_pins()} ({time.perf_counter() - started:.0f} s)"
        )
        time_report("")
        close_database()
    finally:  # a run that fails (or is interrupted) leaves no database behind either
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    url = args.pg_url or os.environ.get("KIOSK_BENCH_PG_URL", "")
    if url and (why := pg_unreachable(url)):
        note(f"PostgreSQL not used: {why}")
        url = ""
    if url:
        schema = f"kiosk_report_bench_{args.patients}"
        started = time.perf_counter()
        key = Path(tempfile.gettempdir()) / f"{schema}.key"  # kept with the schema it made
        open_bench_store(pg_schema_target(url, schema), key)
        note(
            f"PostgreSQL schema {schema}: {populate(args.patients)}; {add_pins()} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        time_report("_postgres")
        close_database()
        if args.drop_pg:
            drop_pg_schema(url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
