"""A health system, simulated: DESKS front desks at once on one PostgreSQL database of PATIENTS patients.

Each desk signs in and then works a morning: a family comes to the counter, the desk types a search
(SEARCHES_PER_FAMILY searches as the name is typed: a last-name prefix, "last, first", or a date of
birth, the quick exact look first), opens the account page, and one family in ISSUE_EVERY gets its
PINs issued (kiosk.desk.Desk.issue: PIN hashes, statuses, audit, outbox, one transaction). Between
actions a desk waits THINK seconds on average (exponential), a compressed morning. Prints the
throughput, p50/p95 per operation and the errors (targets: 0 errors, search p95 <= 5 ms, issue p95
<= 100 ms). A refused issue (a family already Registered, T3) is counted apart, not as an error.

    createdb -h 127.0.0.1 -p 55432 -U postgres kiosk_10m   # a database of the benchmark's own
    nice -n 19 ionice -c3 python benchmarks/health_system.py \\
        --url postgresql://postgres@127.0.0.1:55432/kiosk_10m --prepare-only   # make it once
    python benchmarks/health_system.py --url postgresql://postgres@127.0.0.1:55432/kiosk_10m \\
        [--patients 10000000] [--desks 64] [--seconds 120] [--think 1.0] \\
        [--pgbouncer 20]   # the desks through a pgbouncer of its own, transaction mode, pool of 20
        [--warm]           # first read what searches and account pages use into the file cache

An empty database is filled once with PATIENTS of kiosk's own demo families by
benchmarks/pg_practice.py (COPY from JOBS processes, indexes built after the load, vacuumed and
analysed; ten million patients are about 27 GB) and kept for later runs. Before the desks start,
every statement the searches send is EXPLAINed and any that reads a table whole is printed. Every
desk is a process of its own, as a desk over SSH is (PROCESSES fewer puts several desks' threads
behind one interpreter lock), signed in before the morning starts, then warmed up: each works WARM_FAMILIES families back to
back first, as a desk at the counter has long done (printed apart, not in the figures); each action runs as the app's
screens run them, a thread worker on the thread pool of the desk's event loop, a loop that runs all
morning as the app's does (Textual runs thread workers with ``loop.run_in_executor``: an idle
thread takes the next one; a desk between actions waits in its loop) that hands its connection
on at its end (kiosk.store.db), and is timed from the desk's side, so it pays what a desk pays:
the hand-off to the pool's thread and back, the statements, the Python work around them. The CPU the machine and the desks'
processes used is printed with the figures. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pg_practice  # noqa: E402
import run  # noqa: E402
from run import figure, note, p95, search_queries  # noqa: E402  (benchmarks/run.py: the same figures)

TARGETS = {"health_errors": 0, "health_search_p95_ms": 5, "health_issue_p95_ms": 100}
SEARCHES_PER_FAMILY = 3
ISSUE_EVERY = 4
FIRST_SEARCHES = 10  # each desk's first searches, whose p95 is printed apart from the others'
WARM_FAMILIES = 10  # each desk's families after sign-in, before the morning (_process)
PASSWORD = "quiet-harbor-lamp-1"
# --round-trips: the statements the current worker sent, and how long each took
TRIPS = threading.local()


def _time_round_trips() -> None:
    """Every statement a desk's workers send is timed from the desk's side (--round-trips): each
    cursor of a desk's connections is one that notes what it sent and how long the server took
    to answer."""
    import peewee
    import psycopg2.extensions

    class TimedCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            started = time.perf_counter()
            try:
                return super().execute(query, vars)
            finally:
                trips = getattr(TRIPS, "trips", None)
                if trips is not None:
                    text = query.decode() if isinstance(query, bytes) else str(query)
                    trips.append((_label(text), (time.perf_counter() - started) * 1000))

    def cursor(self, named_cursor=None):
        return self.connection().cursor(cursor_factory=TimedCursor)

    connect = peewee.PostgresqlDatabase._connect

    def timed_connect(self):
        # the cursors kiosk.store.db takes straight from the driver for a statement prepared
        # already, not from peewee, are timed too
        connection = connect(self)
        connection.cursor_factory = TimedCursor
        return connection

    peewee.PostgresqlDatabase.cursor = cursor
    peewee.PostgresqlDatabase._connect = timed_connect


def _label(sql: str) -> str:
    """A statement as a few words: what it does and to which table (several sent at once: each)."""
    parts = [p.strip() for p in sql.split(";") if p.strip()]

    def short(part: str) -> str:
        words = part.replace('"', "").split()
        table = next(
            (words[i + 1] for i, w in enumerate(words[:-1]) if w in ("FROM", "INTO", "UPDATE")), ""
        )
        lock = (
            " FOR UPDATE"
            if "FOR UPDATE" in part
            else " FOR NO KEY UPDATE"
            if "NO KEY" in part
            else ""
        )
        return f"{words[0]} {table}{lock}".strip()

    return " + ".join(short(part) for part in parts)


# --breakdown: each action's wall time split by where it went, from the kernel's own accounting
# this desk process's cyclic collections so far: seconds paused, full passes, the longest (s)
GC_PAUSES = [0.0, 0, 0.0]
_GC_STARTED = [0.0]


def _time_collections(phase: str, info: dict) -> None:
    if phase == "start":
        _GC_STARTED[0] = time.perf_counter()
        return
    paused = time.perf_counter() - _GC_STARTED[0]
    GC_PAUSES[0] += paused
    GC_PAUSES[1] += info.get("generation") == 2
    GC_PAUSES[2] = max(GC_PAUSES[2], paused)


def _sched(path: str) -> tuple[float, float]:
    """(ms on a CPU, ms runnable but waiting for one) of a thread or process so far, from the
    kernel's /proc/.../schedstat (0, 0 where there is none)."""
    try:
        with open(path, "rb") as stat:
            ran, waited = stat.read().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e6, int(waited) / 1e6


def _backend_pid() -> int:
    from kiosk.store.db import database

    return database.connection().get_backend_pid()


BREAKDOWN = ("worker", "desk CPU", "desk queued", "GC", "server CPU", "server queued", "rest")


def open_health_store(url: str, key: Path):
    from kiosk.config import Config
    from kiosk.store.practice import open_store

    return open_store(Config(database=url, pin_key_file=str(key)))


def prepare(url: str, key: Path, patients: int, desks: int, jobs: int) -> str:
    from kiosk.ops import demo
    from kiosk.people.staff import add_staff
    from kiosk.store.db import close_database
    from kiosk.store.models import Patient, Staff

    open_health_store(url, key)
    have = Patient.select().count()
    if have:
        report = f"reused {have:,} patients"
    elif not demo.claim_for_demo(patients):  # D2: made-up patients only in a demo database
        raise SystemExit("this is a practice's database: give the benchmark a database of its own")
    else:
        report = pg_practice.generate(url, patients, jobs=jobs, log=note)
    for n in range(desks):  # made once, one at a time: the desks only sign in
        if not Staff.select().where(Staff.username == f"desk{n}").exists():
            add_staff(f"desk{n}", f"Desk {n}", PASSWORD, portal_user=f"portal-desk{n}")
    close_database()
    return report


def check_plans(url: str, key: Path, per_kind: int = 20) -> list[str]:
    """EXPLAIN every statement the desks' searches send (each query kind, exact and tolerant
    phases, as peewee logs them): the ones that read a table whole, with the query that sent it."""
    import logging

    from kiosk.people.patients import search_patients
    from kiosk.store import db
    from kiosk.store.db import close_database, database

    sent: list[tuple[str, tuple]] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, tuple) and str(record.msg[0]).lstrip().startswith(
                ("SELECT", "WITH")
            ):
                sent.append((record.msg[0], tuple(record.msg[1] or ())))

    logger = logging.getLogger("peewee")
    catch, level = Catch(), logger.level
    logger.addHandler(catch)
    logger.setLevel(logging.DEBUG)
    open_health_store(url, key)
    scans, seen = [], 0
    db.PLAN_ONCE = False  # the statements as written, not EXECUTE of a prepared one
    try:
        for kind, texts in search_queries(seed=99).items():
            for text in texts[:per_kind]:
                for tolerant in (False, True):
                    sent.clear()
                    search_patients(text, tolerant=tolerant)
                    for sql, params in list(sent):
                        seen += 1
                        plan = database.execute_sql("EXPLAIN " + sql, params).fetchall()
                        if any("Seq Scan" in line for (line,) in plan):
                            scans.append(f"{kind} {text!r}: {sql[:160]}")
    finally:
        db.PLAN_ONCE = True
        logger.removeHandler(catch)
        logger.setLevel(level)
        close_database()
    note(
        f"plans: {seen} statements of {per_kind} searches a kind EXPLAINed, {len(scans)} read a table whole"
    )
    return scans


@contextlib.contextmanager
def pgbouncer(url: str, pool: int, clients: int):
    """A pgbouncer of our own in front of ``url``'s server, in transaction mode with ``pool``
    server connections (docs/postgresql.md); yields the URL the desks connect to through it."""
    if not shutil.which("pgbouncer"):
        raise SystemExit("pgbouncer is not installed (apt-get install pgbouncer)")
    server = urlsplit(url)
    name = server.path.lstrip("/")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="kiosk-health-pgbouncer-"))
    (folder / "users.txt").write_text(f'"{server.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host={server.hostname} port={server.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\npool_mode = transaction\n"
        f"default_pool_size = {pool}\nmax_client_conn = {clients}\n"
    )
    folder.chmod(0o755)  # root runs it as nobody (pgbouncer refuses to run as root)
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    bouncer = subprocess.Popen(["pgbouncer", "-q", *as_user, str(folder / "pgbouncer.ini")])
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"postgresql://{server.username}@127.0.0.1:{port}/{name}"
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _sign_in(number: int, url: str, key: str):
    """Desk ``number``, signed in (before the morning starts: sign-in is not what is measured)."""
    from kiosk.config import Config
    from kiosk.desk import Desk

    desk = Desk(Config(database=url, pin_key_file=key))
    user = desk.check_staff(f"desk{number}", PASSWORD)
    if user is None:
        raise SystemExit(f"desk{number} could not sign in")
    desk.sign_in(user)
    return desk


def _desk(
    desk,
    queries: dict,
    number: int,
    top_patient: int,
    until: float,
    think: float,
    out: dict,
    families: float = math.inf,
) -> None:
    """Desk ``number``'s morning until ``until`` (or its first ``families`` families), its figures
    in ``out[number]``."""
    from kiosk.registration.engine import IssueRequest, RegistrationError
    from kiosk.terms import PortalStatus

    rng = random.Random(number if families == math.inf else -1 - number)  # warm-up: other families
    kinds = list(queries)
    times: dict[str, list[float]] = {"search": [], "account": [], "issue": []}
    # the CPU each action's worker thread used (time.thread_time), ms: what the desk's own Python
    # and the driver cost an action, whatever the machine's load did to its wall time
    cpu: dict[str, list[float]] = {"search": [], "account": [], "issue": [], "family": []}
    by_query: dict[str, list[float]] = {kind: [] for kind in kinds}  # each search kind's times
    counts = {"errors": 0, "refused": 0, "families": 0}
    trips: dict[str, list] = {"search": [], "account": [], "issue": [], "family": []}
    messages: list[str] = []

    parts: dict[str, list[tuple[float, ...]]] = {"search": [], "account": [], "issue": []}
    marks: dict[str, float] = {}  # --breakdown: when the worker began and ended its action

    def attempt(kind: str, action):
        if out["round_trips"]:
            TRIPS.trips = []
        if out["breakdown"]:
            marks.update(began=time.perf_counter(), gc=GC_PAUSES[0])
            own = f"/proc/self/task/{threading.get_native_id()}/schedstat"
            marks["desk"] = _sched(own)
            server = f"/proc/{_backend_pid()}/schedstat"  # the connection this worker is given
            marks["server"] = _sched(server)
        began = time.thread_time()
        try:
            return action()
        except RegistrationError:
            counts["refused"] += 1
        except Exception as error:  # noqa: BLE001 - what the desk would see
            counts["errors"] += 1
            messages.append(f"{kind}: {type(error).__name__}: {str(error).splitlines()[0]}")
        finally:
            cpu[kind].append((time.thread_time() - began) * 1000)
            if out["breakdown"]:
                marks["ended"] = time.perf_counter()
                desk, server = _sched(own), _sched(server)
                marks["desk cpu"], marks["desk queued"] = (
                    b - a for a, b in zip(marks["desk"], desk)
                )
                marks["server cpu"], marks["server queued"] = (
                    b - a for a, b in zip(marks["server"], server)
                )
                marks["gc"] = (GC_PAUSES[0] - marks["gc"]) * 1000
            if out["round_trips"]:
                trips[kind].append(TRIPS.trips)
                TRIPS.trips = None
        return None

    # the desk's own thread is its screen's: Textual's loop, running the whole morning (an idle
    # desk waits in the loop, as the app does, not outside it)
    loop = asyncio.new_event_loop()

    async def on_worker(kind: str, action):
        """``action`` as the app's screens run every action: a thread worker (screens/workers.py's
        ``desk_worker``) is run by Textual on its loop's default executor (textual.worker.Worker
        ._run_threaded: ``loop.run_in_executor(None, ...)``), a pool whose idle thread takes the
        next action, and hands its database connection on at its end; the loop awaits it."""
        if out["same_thread"]:
            return attempt(kind, action)

        def work():
            try:
                return attempt(kind, action)
            finally:
                desk.hand_on_connection()

        return await loop.run_in_executor(None, work)

    async def timed(kind: str, action):
        """``action`` after a pause, timed as the desk waits for it."""
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)
        started = time.perf_counter()
        try:
            return await on_worker(kind, action)
        finally:
            times[kind].append((time.perf_counter() - started) * 1000)
            if out["breakdown"] and "ended" in marks:
                wall = times[kind][-1]
                inside = (marks["ended"] - marks["began"]) * 1000
                known = (
                    marks["desk cpu"],
                    marks["desk queued"],
                    marks["gc"],
                    marks["server cpu"],
                    marks["server queued"],
                )
                # the collector's pause is the desk's CPU too: counted once, as GC
                known = (known[0] - known[2], *known[1:])
                parts[kind].append((wall, wall - inside, *known, inside - sum(known)))
                marks.clear()

    async def morning() -> None:
        while time.time() < until and counts["families"] < families:
            kind = rng.choice(kinds)
            text = rng.choice(queries[kind])
            for n in range(SEARCHES_PER_FAMILY):
                # the quick exact look first, the tolerant one last
                last = n == SEARCHES_PER_FAMILY - 1
                await timed("search", lambda t=text, last=last: desk.search(t, tolerant=last))
                by_query[kind].append(times["search"][-1])
            patient_id = rng.randint(1, top_patient)  # the family at the counter: any one of them
            await timed("account", lambda p=patient_id: desk.patient_page(p))
            counts["families"] += 1
            if counts["families"] % ISSUE_EVERY:
                continue
            family = await on_worker("family", lambda p=patient_id: desk.family(p))  # with the page
            if family is None:
                continue
            carer = next((c for c in family.caregivers if c.has_authority and c.email), None)
            if carer is None:
                continue
            done = (PortalStatus.REGISTERED, PortalStatus.SELF_REGISTERED)
            # T3: a Registered child is not issued again; the desk checks the others
            kids = [child.id for child in family.children if child.portal_status not in done]
            if not kids:
                continue
            request = IssueRequest(patient_ids=kids, recipient_id=carer.id, email=carer.email)
            await timed("issue", lambda r=request: desk.issue(r))

    loop.run_until_complete(morning())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    out[number] = {
        "times": times,
        "cpu": cpu,
        "by_query": by_query,
        "counts": counts,
        "messages": messages,
        "trips": trips,
        "parts": parts,
    }


def _process(
    url: str,
    key: str,
    numbers: list[int],
    top: int,
    ready,
    seconds: float,
    think: float,
    same_thread: bool,
    round_trips: bool,
    breakdown: bool,
    results,
) -> None:
    """One process of desks (one desk each by default, as each desk is a process of its own):
    every desk signs in, then all wait at ``ready`` for the others, then the morning starts."""
    import resource

    from kiosk.config import Config
    from kiosk.store.db import hand_on_connection
    from kiosk.store.practice import open_store

    open_store(Config(database=url, pin_key_file=key))
    out: dict = {
        "url": url,
        "key": key,
        "same_thread": same_thread,
        "round_trips": round_trips,
        "breakdown": breakdown,
    }
    if round_trips:
        _time_round_trips()
    if breakdown:
        import gc

        gc.callbacks.append(_time_collections)
    # the interpreter as the app's desk runs it (kiosk_screens.app.run_app: a 1 ms switch interval,
    # what start-up made frozen out of the collector's passes, passes less often), set where the
    # app sets it, before anyone signs in
    from kiosk_screens.app import tune_interpreter

    tune_interpreter()
    desks = {n: _sign_in(n, url, key) for n in numbers}
    queries = {n: search_queries(seed=100 + n) for n in numbers}  # made before the morning too
    if not same_thread:
        # the app signs in on a worker, which hands its connection on to the next one; a desk
        # holds one only while a worker runs
        hand_on_connection()
    # A desk at the counter has been signed in since the morning began: its first actions after
    # sign-in (a server connection's first statements, each prepared and planned there, the
    # server's catalog read into that connection's caches) are behind it. Each desk works
    # WARM_FAMILIES families back to back before the morning, timed apart and printed apart.
    warm = dict(out)
    run_desks(numbers, lambda n: (desks[n], queries[n], n, top, math.inf, 0.0, warm, WARM_FAMILIES))
    ready.wait()
    GC_PAUSES[:] = [0.0, 0, 0.0]  # the morning's only
    until = time.time() + seconds
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    run_desks(numbers, lambda n: (desks[n], queries[n], n, top, until, think, out))
    if breakdown and out.get(numbers[0]):  # the process's collector in the morning, once
        out[numbers[0]]["collector"] = tuple(GC_PAUSES)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    results.put(
        ([out[n] for n in numbers if n in out], used, [warm[n] for n in numbers if n in warm])
    )


def run_desks(numbers: list[int], arguments) -> None:
    """Each desk of ``numbers`` on a thread of its own (``_desk(*arguments(number))``), all at once."""
    threads = [threading.Thread(target=_desk, args=arguments(n), daemon=True) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (0, 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def _disk_reads() -> int:
    """Reads the machine's disks have completed so far, from /proc/diskstats (0 elsewhere)."""
    try:
        with open("/proc/diskstats") as stats:
            rows = [line.split() for line in stats]
    except OSError:
        return 0
    # whole disks only (vda, sda, nvme0n1), not their partitions, which count the same reads again
    disks = {row[2] for row in rows if not row[2].startswith(("loop", "ram", "dm-"))}
    return sum(
        int(row[3])
        for row in rows
        if row[2] in disks and not any(row[2] != d and row[2].startswith(d) for d in disks)
    )


def _server_counters(url: str) -> dict[str, int]:
    """The database's counters (pg_stat_database): transactions (a statement outside a
    transaction is one), blocks found in shared_buffers and blocks read from outside them."""
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit + xact_rollback, blks_hit, blks_read FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            transactions, hit, read = cursor.fetchone()
    finally:
        connection.close()
    return {"transactions": transactions, "hit": hit, "read": read}


# What a search and an account page read (--warm): the name lists' covering indexes, a patient's
# row and family by id. A random patient is any page of these (6 GB at ten million patients); a
# server that has run a while holds them in memory
WARMED = (
    "patient_listed_by_name",
    "patient_listed_by_day",
    "patient_family_key_given_key_dob",
    "patient_pkey",
    "patient",
    "caregiver_pkey",
    "caregiver",
    "relationship_patient_id_caregiver_id",
    "relationship",
)


def warm(url: str) -> str:
    """Read the files of :data:`WARMED` into the operating system's cache, as a server that has
    run a morning holds them: a freshly built or restarted server reads them from disk instead
    (1.9 ms a read on this machine's disk), once each, and those reads, not the desks, were most
    of a search's p95 at ten million patients. Only when the server's files are on this machine."""
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            (home,) = cursor.fetchone()
            files = []
            for name in WARMED:
                cursor.execute("SELECT pg_relation_filepath(to_regclass(%s))", (name,))
                (path,) = cursor.fetchone()
                if path:
                    files.append(Path(home) / path)
    finally:
        connection.close()
    if not files or not files[0].exists():
        return "not warmed: the server's files are not on this machine"
    started, size = time.perf_counter(), 0
    for first in files:  # each segment (1 GB each) and the visibility map
        for part in sorted(first.parent.glob(f"{first.name}*")):
            if not re.fullmatch(rf"{first.name}(\.\d+|_vm)?", part.name):
                continue  # the free space map, or another relation's file (17138 and 171380)
            with open(part, "rb", buffering=0) as data:
                while chunk := data.read(1 << 20):
                    size += len(chunk)
    return (
        f"warmed: read {size / 1e9:.1f} GB of {len(files)} relations into the system's file cache "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _sample_waits(url: str, stop: threading.Event, samples: list[tuple[str, str]]) -> None:
    """What every server process of the benchmark's database is doing, ten times a second, until
    ``stop``: (its wait, or "on CPU", and the statement) for each one running a statement."""
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            while not stop.wait(0.1):
                cursor.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU'), query "
                    "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                    "AND pid <> pg_backend_pid()"
                )
                samples.extend((wait, _label(query)) for wait, query in cursor.fetchall())
    finally:
        connection.close()


def _note_waits(samples: list[tuple[str, str]]) -> None:
    from collections import Counter

    note(
        f"waits: {len(samples)} samples of a statement in progress (pg_stat_activity, every 0.1 s)"
    )
    for (wait, label), count in Counter(samples).most_common(10):
        note(f"  {100 * count / max(len(samples), 1):5.1f}%  {wait:28} {label}")


def _note_round_trips(runs: list[list[tuple[str, float]]], kind: str) -> None:
    """Each round trip of ``kind`` (the commonest sequence of statements), p50 / p95 from the desk."""
    from collections import Counter

    if not runs:
        return
    shapes = Counter(tuple(label for label, _ in run) for run in runs)
    shape, count = shapes.most_common(1)[0]
    same = [run for run in runs if tuple(label for label, _ in run) == shape]
    note(f"{kind}: {count} of {len(runs)} sent these {len(shape)} round trips (ms from the desk):")
    for n, label in enumerate(shape):
        values = [run[n][1] for run in same]
        note(f"  {n + 1:2}. p50 {statistics.median(values):6.1f}  p95 {p95(values):6.1f}  {label}")
    sums = [sum(ms for _, ms in run) for run in same]
    note(f"  all: p50 {statistics.median(sums):.1f}  p95 {p95(sums):.1f}")
    for other, n in shapes.most_common(4)[1:]:
        note(f"  also {n}x: {len(other)} round trips, {' | '.join(other)[:150]}")


def _note_breakdown(parts: list[tuple[float, ...]], kind: str) -> None:
    """Where ``kind``'s time went (--breakdown): the mean of each part (ms) over the actions
    around the median (45th to 55th percentile) and around the 95th (93rd to 97th)."""
    if len(parts) < 20:
        return
    parts = sorted(parts)
    n = len(parts)
    bands = {
        "p45-p55": parts[int(n * 0.45) : int(n * 0.55) + 1],
        "p93-p97": parts[int(n * 0.93) : int(n * 0.97) + 1],
    }
    note(f"{kind}, where the time went (mean ms; {' | '.join(BREAKDOWN)}):")
    for name, band in bands.items():
        means = [statistics.fmean(column) for column in zip(*band)]
        note(f"  {name:10} wall {means[0]:6.2f} = " + " + ".join(f"{m:5.2f}" for m in means[1:]))


def main() -> None:
    from kiosk.cli import whole_between
    from kiosk.ops.demo import MAX_PATIENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="a PostgreSQL database of this benchmark's own"
    )
    parser.add_argument(
        "--patients",
        type=whole_between(1, MAX_PATIENTS),
        default=10_000_000,
        help="patients (default 10,000,000)",
    )
    parser.add_argument(
        "--desks", type=whole_between(1, 256), default=64, help="desks at once (default 64)"
    )
    parser.add_argument(
        "--processes",
        type=whole_between(0, 256),
        default=0,
        help="processes the desks run in (default 0: one a desk, as each desk is its own process; "
        "fewer put several desks' threads behind one interpreter lock)",
    )
    parser.add_argument(
        "--same-thread",
        action="store_true",
        help="run a desk's actions on the desk's own thread and connection, kept all morning, "
        "not on the pool's worker threads as the app's screens do (for comparison)",
    )
    parser.add_argument(
        "--seconds", type=float, default=120, help="how long the morning lasts (default 120)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="a desk's mean pause between actions, s (default 1.0)",
    )
    parser.add_argument(
        "--jobs",
        type=whole_between(1, 64),
        default=2,
        help="processes that load a new practice at once (default 2)",
    )
    parser.add_argument(
        "--pgbouncer",
        type=whole_between(0, 256),
        default=0,
        metavar="POOL",
        help="run the desks through a pgbouncer of the benchmark's own in transaction mode with "
        "POOL server connections (e.g. 20); the practice is made directly",
    )
    parser.add_argument(
        "--round-trips",
        action="store_true",
        help="time every statement each action sends, from the desk's side, and print each of an "
        "issue's round trips (p50 / p95): where an issue's time goes (costs the desks some CPU)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="split each action's time, from the kernel's accounting (/proc/.../schedstat) of the "
        "desk's worker thread and of the server process serving it: the hand-off to the worker and back, "
        "the desk's CPU, its wait for a CPU, the collector's pauses, the server's CPU and its wait "
        "for a CPU, and the rest (the wire, locks, disk); around the median and around the p95",
    )
    parser.add_argument(
        "--waits",
        action="store_true",
        help="sample what the desks' server processes are doing (pg_stat_activity) ten times a "
        "second and print the commonest waits with the statement that waits",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="first read the tables and indexes a search and an account page use into the system's "
        "file cache (the server must run on this machine), as a server that has run a while holds "
        "them; without it, a newly built or restarted server's figures include its disk reads",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="make the practice and the desks' accounts, print the time and size, and stop",
    )
    parser.add_argument(
        "--key",
        default="",
        help="the PIN key file every desk shares (default: beside the database in /tmp)",
    )
    args = parser.parse_args()
    run.TARGETS.update(TARGETS)
    from kiosk.store.db import close_database
    from kiosk.store.models import Patient

    key = Path(
        args.key or Path(tempfile.gettempdir()) / f"kiosk-health-{args.url.rsplit('/', 1)[-1]}.key"
    )
    started = time.perf_counter()
    report = prepare(args.url, key, args.patients, args.desks, args.jobs)
    if args.prepare_only:
        note(f"{report}; ready in {time.perf_counter() - started:.0f} s")
        return
    for scan in check_plans(args.url, key)[:5]:
        note(f"plan: sequential scan: {scan}")
    if args.warm:
        note(warm(args.url))
    open_health_store(args.url, key)
    top = Patient.select(Patient.id).order_by(Patient.id.desc()).limit(1).scalar()
    count = Patient.select().count()
    close_database()
    load = os.getloadavg()
    note(
        f"{count:,} patients ({report}; ready in {time.perf_counter() - started:.0f} s); {args.desks} desks "
        f"in {min(args.processes or args.desks, args.desks)} processes for {args.seconds:.0f} s, "
        f"mean think {args.think} s, "
        f"{'one thread and connection a desk' if args.same_thread else 'actions on a worker pool'}; "
        f"{os.cpu_count()} CPUs, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    processes = min(args.processes or args.desks, args.desks)
    groups = [list(range(args.desks))[p::processes] for p in range(processes)]
    with contextlib.ExitStack() as stack:
        url = args.url
        if args.pgbouncer:
            url = stack.enter_context(pgbouncer(args.url, args.pgbouncer, args.desks * 4))
            note(f"desks through pgbouncer (transaction mode, pool of {args.pgbouncer}) at {url}")
        context = get_context("spawn")
        ready, results = context.Barrier(processes + 1), context.Queue()
        workers = [
            context.Process(
                target=_process,
                args=(
                    url,
                    str(key),
                    g,
                    top,
                    ready,
                    args.seconds,
                    args.think,
                    args.same_thread,
                    args.round_trips,
                    args.breakdown,
                    results,
                ),
            )
            for g in groups
        ]
        for worker in workers:
            worker.start()
        ready.wait(timeout=300 + args.desks * 5)  # every desk signed in: all start at once
        server, disk = _server_counters(args.url), _disk_reads()
        machine, began = _machine_cpu(), time.perf_counter()
        sampling = threading.Event()
        samples: list[tuple[str, str]] = []
        sampler = threading.Thread(target=_sample_waits, args=(args.url, sampling, samples))
        if args.waits:
            sampler.start()
        outcome = [results.get(timeout=args.seconds + 600) for _ in workers]
        sampling.set()
        if args.waits:
            sampler.join()
        machine = tuple(after - before for after, before in zip(_machine_cpu(), machine))
        elapsed = time.perf_counter() - began
        for worker in workers:
            worker.join()
    disk = _disk_reads() - disk
    time.sleep(1)  # the desks' server processes (and pgbouncer's) have ended: their counts are in
    server = {name: count - server[name] for name, count in _server_counters(args.url).items()}
    desks = [d for part, _, _ in outcome for d in part]
    desk_cpu = sum(used for _, used, _ in outcome)
    warmed = [d for _, _, part in outcome for d in part]
    warm_up = {
        kind: [v for d in warmed for v in d["times"][kind]] for kind in ("search", "account")
    }
    if warm_up["search"]:
        note(
            f"warm-up, not counted below: each desk's first {WARM_FAMILIES} families after sign-in, back "
            f"to back before the morning: search p50 {statistics.median(warm_up['search']):.1f} / p95 "
            f"{p95(warm_up['search']):.1f} ms, account p50 {statistics.median(warm_up['account']):.1f} / p95 "
            f"{p95(warm_up['account']):.1f} ms"
        )
    times = {
        kind: [v for d in desks for v in d["times"][kind]]
        for kind in ("search", "account", "issue")
    }
    total = sum(len(v) for v in times.values())
    errors = sum(d["counts"]["errors"] for d in desks)
    note(
        f"{len(desks)} desks ran {sum(d['counts']['families'] for d in desks)} families; "
        f"{sum(d['counts']['refused'] for d in desks)} issues refused (a Registered family, T3)"
    )
    figure("health_throughput_ops_per_s", total / args.seconds, "ops/s")
    if machine[1]:
        note(
            f"CPU: the machine {machine[0] / elapsed:.2f} of {machine[1] / elapsed:.0f} cores busy, the desks' "
            f"own processes {desk_cpu / args.seconds:.2f} ({1000 * desk_cpu / max(total, 1):.1f} ms "
            f"an action; the rest is the server's and everything else on the machine)"
        )
    spent = {
        kind: [v for d in desks for v in d["cpu"][kind]]
        for kind in (desks[0]["cpu"] if desks else ())
    }
    note(
        "desk CPU an action, its worker thread (mean ms): "
        + ", ".join(f"{kind} {statistics.fmean(v):.2f}" for kind, v in spent.items() if v)
    )
    for kind, values in times.items():
        if values:
            note(f"{kind}: {len(values)} done, p50 {statistics.median(values):.1f} ms")
            figure(f"health_{kind}_p95_ms", p95(values), "ms")
        if kind == "search":
            # a desk's first searches prepare its statements and plan its functions on its server
            # connections; a desk that has run all morning has done that long ago
            first = [v for d in desks for v in d["times"][kind][:FIRST_SEARCHES]]
            later = [v for d in desks for v in d["times"][kind][FIRST_SEARCHES:]]
            if first and later:
                note(
                    f"  each desk's first {FIRST_SEARCHES} searches: p50 {statistics.median(first):.1f} ms, "
                    f"p95 {p95(first):.1f} ms; the {len(later)} after them: p50 "
                    f"{statistics.median(later):.1f} ms, p95 {p95(later):.1f} ms"
                )
            for query in desks[0]["by_query"] if desks else ():
                mine = [v for d in desks for v in d["by_query"][query]]
                if mine:
                    note(
                        f"  search {query}: p50 {statistics.median(mine):.1f} ms, p95 {p95(mine):.1f} ms"
                    )
    if total:
        blocks = server["hit"] + server["read"]
        note(
            f"server: {server['transactions'] / total:.1f} transactions an action (a statement "
            f"outside a transaction is one; the benchmark's own few included), {blocks / total:.0f} "
            f"blocks read an action, {100 * server['read'] / max(blocks, 1):.1f}% of them from "
            f"outside shared_buffers; the machine's disks read {disk / elapsed:.0f} times a second"
        )
    if args.round_trips:
        _note_round_trips([t for d in desks for t in d["trips"]["issue"]], "issue")
        _note_round_trips([t for d in desks for t in d["trips"]["account"]], "account")
    if args.breakdown:
        collected = [d["collector"] for d in desks if "collector" in d]
        note(
            f"collector: {sum(c[0] for c in collected) * 1000 / max(len(collected), 1):.1f} ms "
            f"paused a desk process in the morning, {sum(c[1] for c in collected)} full passes in "
            f"all, the longest pause {max((c[2] for c in collected), default=0) * 1000:.1f} ms"
        )
        for kind in ("search", "account", "issue"):
            _note_breakdown([p for d in desks for p in d["parts"][kind]], kind)
    if args.waits:
        _note_waits(samples)
    figure("health_errors", errors)
    messages = [m for d in desks for m in d["messages"]]
    for message in sorted(set(messages))[:5]:
        note(f"error: {message} (x{messages.count(message)})")
    load = os.getloadavg()
    note(f"load after {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
