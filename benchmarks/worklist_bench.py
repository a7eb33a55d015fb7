"""Worklist pages (W1) and a registration drive's letters (W2) at 1,000,000 patients, one figure a
line: ``NAME VALUE UNIT  # target``; lines starting with # say how.

    python benchmarks/worklist_bench.py                  # 1,000,000 patients (SQLite)
    python benchmarks/worklist_bench.py --patients 100000
    python benchmarks/worklist_bench.py --pg-url postgresql://...   # the page figure on PostgreSQL too

Figures and targets:
  worklist_page_p95_ms        <= 50   Desk.worklist's function for one page (15 families), the worst
                                      list's p95: first pages and pages 2-20 by cursor, each list
                                      with several windows (days, dates, provider)
  worklist_page_p95_ms_KIND           the same, per list
  letters_10k_s               <= 60   10,000 families' letters: one PDF drawn and written to disk
  letters_qr_decoded                  QR codes read back from a sample of its pages (of the sample)
  drive_family_p50_ms                 one family issued by a drive (engine, audit, outbox, done mark)

The practice is built once with kiosk.ops.demo (as benchmarks/run.py does) in ``--work`` and kept
for later runs; appointments (150,000 over two months, 12 providers) and PINs (active ones for the
Pending children, expired ones for a tenth of the Unregistered) are added to it once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import note, open_bench_store, p95, pg_schema_target, pg_unreachable, populate  # noqa: E402

TARGETS = {"worklist_page_p95_ms": 50, "worklist_page_p95_ms_postgres": 50, "letters_10k_s": 60}
PROVIDERS = [
    f"Dr. {name}"
    for name in [
        "Alvarez",
        "Baker",
        "Chen",
        "Diaz",
        "Evans",
        "Fox",
        "Gupta",
        "Hale",
        "Ito",
        "Jones",
        "Kim",
        "Lee",
    ]
]
TODAY = dt.date.today()
NOW = dt.datetime.combine(TODAY, dt.time(12))
PAGES_DEEP = 20  # pages read one after the other from each first page
LETTERS = 10_000
QR_SAMPLE = 25


def show(name: str, value, unit: str = "") -> None:
    target = TARGETS.get(name)
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    print(
        f"{name} {text} {unit}".rstrip() + (f"  # target <= {target}" if target else ""), flush=True
    )


def add_followup_data(seed: int = 5) -> str:
    """Appointments and PINs for the lists to find, once per database."""
    from kiosk.store.db import tuples, write_transaction
    from kiosk.store.models import Appointment, Patient, RegistrationPin
    from kiosk.terms import PinState, PortalStatus

    if Appointment.select().count() >= 100_000:
        return "appointments and PINs already there"
    rng = random.Random(seed)
    staff = run_user()
    ids = [pid for (pid,) in tuples(Patient.select(Patient.id))]
    started = time.perf_counter()
    rows = []
    for pid in rng.sample(ids, min(150_000, len(ids) // 6)):
        day = TODAY + dt.timedelta(days=rng.randint(-30, 30))
        at = dt.datetime.combine(day, dt.time(rng.randint(8, 16), rng.choice((0, 15, 30, 45))))
        rows.append({"patient": pid, "starts_at": at, "provider": rng.choice(PROVIDERS)})
    pending = [
        pid
        for (pid,) in tuples(
            Patient.select(Patient.id).where(Patient.portal_status == PortalStatus.PENDING)
        )
    ]
    unregistered = [
        pid
        for (pid,) in tuples(
            Patient.select(Patient.id).where(Patient.portal_status == PortalStatus.UNREGISTERED)
        )
    ]
    pins = []
    for pid in pending:
        issued = NOW - dt.timedelta(days=rng.randint(0, 29), seconds=rng.randint(0, 86399))
        pins.append(_pin(pid, staff.id, issued, PinState.ACTIVE))
    for pid in rng.sample(unregistered, len(unregistered) // 10):
        issued = NOW - dt.timedelta(days=rng.randint(31, 200), seconds=rng.randint(0, 86399))
        pins.append(_pin(pid, staff.id, issued, PinState.EXPIRED))
    for start in range(0, len(rows), 5000):
        with write_transaction():
            Appointment.insert_many(rows[start : start + 5000]).execute()
    for start in range(0, len(pins), 5000):
        with write_transaction():
            RegistrationPin.insert_many(pins[start : start + 5000]).execute()
    from kiosk.store.db import database

    for model in (Appointment, RegistrationPin):
        database.execute_sql(f'ANALYZE "{model._meta.table_name}"')
    return (
        f"added {len(rows):,} appointments and {len(pins):,} PINs "
        f"({len(pending):,} active, {len(pins) - len(pending):,} expired) in {time.perf_counter() - started:.0f} s"
    )


def _pin(patient: int, staff: int, issued: dt.datetime, state: str) -> dict:
    import secrets

    expires = issued + dt.timedelta(days=30)
    return {
        "patient": patient,
        "batch": secrets.token_hex(8),
        "issued_by": staff,
        "issued_at": issued,
        "expires_at": expires,
        "state": state,
        "ended_at": expires if state != "active" else None,
        "prior_status": "Unregistered",
    }


def copy_practice(url: str, source: str) -> str:
    """Fill the open (empty) PostgreSQL schema with the patients, caregivers and relationships of
    ``source``, a schema benchmarks/run.py built (generating a million patients on PostgreSQL
    takes half an hour; copying them, a minute or two). Nothing in ``source`` is changed."""
    from kiosk.store.db import database
    from kiosk.store.models import Caregiver, Patient, Relationship

    if Patient.select().exists():
        return f"reused {Patient.select().count():,} patients already there"
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s", (source,))
        if cursor.fetchone() is None:
            return ""
    connection.close()
    started = time.perf_counter()
    for model in (Patient, Caregiver, Relationship):
        table = model._meta.table_name
        columns = ", ".join(f'"{field.column_name}"' for field in model._meta.sorted_fields)
        database.execute_sql(
            f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{source}"."{table}"'
        )
        database.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT MAX(id) FROM \"{table}\"))"
        )
        database.execute_sql(f'ANALYZE "{table}"')
    return f"copied {Patient.select().count():,} patients from schema {source} in {time.perf_counter() - started:.0f} s"


def run_user():
    from run import desk_user

    return desk_user()


def queries():
    from kiosk.followup.worklist import WorklistQuery
    from kiosk.terms import WorklistKind as K

    week = dt.timedelta(days=7)
    return {
        K.APPOINTMENTS: [
            WorklistQuery(K.APPOINTMENTS, start=TODAY),
            WorklistQuery(K.APPOINTMENTS, start=TODAY, end=TODAY + week),
            WorklistQuery(
                K.APPOINTMENTS, start=TODAY - week, end=TODAY + week, provider=PROVIDERS[3]
            ),
            WorklistQuery(K.APPOINTMENTS, start=TODAY, end=TODAY + 4 * week, provider=PROVIDERS[7]),
        ],
        K.UNREGISTERED: [WorklistQuery(K.UNREGISTERED)],
        K.PIN_EXPIRED: [WorklistQuery(K.PIN_EXPIRED)],
        K.PENDING_OVER: [WorklistQuery(K.PENDING_OVER, days=d) for d in (7, 14, 21)],
        K.EXPIRING: [WorklistQuery(K.EXPIRING, days=d) for d in (3, 7, 14)],
        K.SELF_REGISTERED: [WorklistQuery(K.SELF_REGISTERED)],
        K.TURNING: [WorklistQuery(K.TURNING, days=d) for d in (7, 14, 30)],
    }


def bench_pages(suffix: str = "", rounds: int = 3) -> None:
    from kiosk.followup.worklist import worklist_page

    worst = 0.0
    for kind, asked in queries().items():
        times: list[float] = []
        families = 0
        for _ in range(rounds):
            for query in asked:
                cursor = None
                for _page in range(PAGES_DEEP):
                    started = time.perf_counter()
                    page = worklist_page(query, today=TODAY, now=NOW, cursor=cursor)
                    times.append((time.perf_counter() - started) * 1000)
                    families += len(page.families)
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
        value = p95(times)
        worst = max(worst, value)
        note(
            f"{kind.value}: {len(times)} pages ({families // rounds:,} families a round), "
            f"p50 {statistics.median(times):.1f} ms"
        )
        show(f"worklist_page_p95_ms_{kind.value.replace(' ', '_')}{suffix}", value, "ms")
    show(f"worklist_page_p95_ms{suffix}", worst, "ms")


def bench_letters(work: Path) -> None:
    """10,000 families' letters, as a drive makes them once their PINs are issued."""
    from kiosk.followup.letters import draw_letters
    from kiosk.followup.worklist import WorklistQuery, all_families
    from kiosk.registration.pins import format_pin, generate_pin

    families = list(all_families(WorklistQuery(), today=TODAY, now=NOW, limit=LETTERS))
    rng = random.Random(9)
    letters = [
        {
            "caregiver": f.caregiver_name,
            "language": rng.choice(("en", "en", "en", "es")),
            "patient": f.children[0].name,
            "children": [[c.name, format_pin(generate_pin())] for c in f.children],
            "expires": (TODAY + dt.timedelta(days=30)).isoformat(),
            "batch": "bench",
            "ids": [c.id for c in f.children],
        }
        for f in families
    ]
    out = work / "letters.pdf"
    started = time.perf_counter()
    pdf = draw_letters(
        letters, "Sunny Hills Pediatrics", "https://portal.example.org/register", "letter"
    )
    out.write_bytes(pdf)
    seconds = time.perf_counter() - started
    note(
        f"letters: {len(letters):,} families ({sum(len(x['children']) for x in letters):,} children), "
        f"{len(pdf) / 1e6:.1f} MB, one page each, kiosk.followup.letters.draw_letters and the file written"
    )
    show("letters_10k_s", seconds, "s")
    try:
        import pypdfium2 as pdfium
        import zxingcpp
    except ImportError:
        note("letters_qr_decoded n/a: install the test extra (pypdfium2, zxing-cpp)")
        out.unlink()
        return
    document = pdfium.PdfDocument(str(out))
    sample = rng.sample(range(len(document)), min(QR_SAMPLE, len(document)))
    read = 0
    for index in sample:
        image = document[index].render(scale=2).to_pil()
        codes = [
            c.text
            for c in zxingcpp.read_barcodes(image)
            if c.format == zxingcpp.BarcodeFormat.QRCode
        ]
        read += codes == ["https://portal.example.org/register"]
    show("letters_qr_decoded", f"{read}/{len(sample)}")
    document.close()
    out.unlink()  # letters hold PINs, made-up ones here: no copy left behind (S11)


def bench_drive(work: Path, families: int = 300) -> None:
    """A drive of ``families`` Unregistered families, issued one by one, letters included."""
    from kiosk.clock import Clock
    from kiosk.config import Config
    from kiosk.desk import Desk
    from kiosk.followup.drive import DriveOptions
    from kiosk.followup.worklist import WorklistQuery

    desk = Desk(Config(), clock=Clock.fixed(NOW, TODAY), staff=run_user())
    times: list[float] = []
    plan = desk.plan_drive(
        WorklistQuery(), DriveOptions(letters=False, messages=True), limit=families
    )
    drive_id = desk.start_drive(plan)
    last = [time.perf_counter()]

    def progress(label: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done:
            times.append((now - last[0]) * 1000)
        last[0] = now

    report = desk.run_drive(drive_id, progress=progress)
    note(f"drive: {report.summary()}")
    show("drive_family_p50_ms", statistics.median(times) if times else 0.0, "ms")
    show("drive_family_p95_ms", p95(times) if times else 0.0, "ms")


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
        "--work",
        default=str(Path(tempfile.gettempdir()) / "kiosk-worklist-bench"),
        help="folder for the practice's database, kept for later runs",
    )
    parser.add_argument(
        "--pg-url", metavar="URL", help="PostgreSQL server for the _postgres figure"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["pages", "letters", "drive", "postgres"],
        help="some figures only",
    )
    args = parser.parse_args(argv)
    only = set(args.only or ["pages", "letters", "drive", "postgres"])
    work = Path(args.work)
    work.mkdir(mode=0o700, exist_ok=True)
    note(
        f"worklists and drives, {args.patients:,} patients, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start (other work inflates the times)"
    )
    from kiosk.store.db import close_database

    if only - {"postgres"}:
        started = time.perf_counter()
        open_bench_store(str(work / f"worklist-{args.patients}.sqlite3"), work / "bench.key")
        made = populate(args.patients)
        note(f"SQLite: {made}; {add_followup_data()} ({time.perf_counter() - started:.0f} s)")
        if "pages" in only:
            bench_pages()
        if "letters" in only:
            bench_letters(work)
        if "drive" in only:
            bench_drive(work)
        close_database()
    url = args.pg_url or os.environ.get("KIOSK_BENCH_PG_URL") or os.environ.get("KIOSK_TEST_PG_URL")
    if "postgres" in only and url and not (why := pg_unreachable(url)):
        started = time.perf_counter()
        target = pg_schema_target(url, f"kiosk_worklist_{args.patients}")
        open_bench_store(target, work / "pg.key")
        from kiosk.store.db import write_transaction

        with write_transaction():
            copied = copy_practice(url, f"kiosk_bench_{args.patients}")
        made = copied or populate(args.patients)
        note(f"PostgreSQL: {made}; {add_followup_data()} ({time.perf_counter() - started:.0f} s)")
        bench_pages("_postgres")
        close_database()
    elif "postgres" in only:
        note(f"worklist_page_p95_ms_postgres n/a: {why if url else 'give --pg-url'}")
    note(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
