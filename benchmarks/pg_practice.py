"""A PostgreSQL practice of millions of patients, made fast and lean (O1 at a health system's size).

The families are kiosk's own demo families (kiosk.ops.demo: the same names, households, portal
statuses, age stages, folded keys, search terms and search keys that ``kiosk demo generate``
writes, built by the same code), streamed into the server with COPY by JOBS processes at once,
each with its own share of ids and its own random generator. While they load, the secondary
indexes are dropped and foreign-key triggers are off (``session_replication_role = replica``); the
indexes are then built once each from sorted input, with pages packed the way a bulk build packs
them instead of the half-empty pages of rows inserted into live indexes, and the tables vacuumed
and analysed (index-only scans need the visibility map, the planner the statistics).

With one job the rows are exactly those of ``demo.generate_practice`` with the same seed
(tests/test_pg_practice.py checks it), so the only difference from the app's own generator is how
the rows reach the server. The server's processes doing the work are given the lowest CPU and
I/O priority when this runs as root (the desks of a shared machine keep theirs).

    from pg_practice import generate   # benchmarks/ on sys.path
    generate(url, 10_000_000, jobs=2)   # an open, empty kiosk store at url
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

LOADED = ("patient", "caregiver", "relationship", "search_term")
# written from the loaded rows in one statement (its triggers are off with the foreign keys')
DERIVED = ("born_parent_term", "parent_name_child")
MAINTENANCE_MEMORY = "1GB"  # per session (never the server's setting), for an index build's sort
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value: object) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value).translate(_ESCAPE)


def _copy(cursor, table: str, columns: str, rows: list[tuple]) -> None:
    if not rows:
        return
    text = "".join("\t".join(map(_field, row)) + "\n" for row in rows)
    cursor.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN', io.StringIO(text))


def _lowest_priority(cursor) -> None:
    """The server process behind this connection runs at nice 19 and idle I/O class, when allowed
    (root): `nice` on the client does not reach the server's processes."""
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except OSError:
        return
    if shutil.which("ionice"):
        subprocess.run(["ionice", "-c3", "-p", str(pid)], check=False, capture_output=True)


def _connect(url: str):
    import psycopg2

    connection = psycopg2.connect(url)
    with connection.cursor() as cursor:
        _lowest_priority(cursor)
    connection.commit()
    return connection


class _Share:
    """One loader's part of the practice: its first ids, chart number and random generator."""

    def __init__(self, n: int, share: int, shares: int, seed: int):
        base, extra = divmod(n, shares)
        self.patients = base + (share < extra)
        self.first_patient = 1 + share * base + min(share, extra)
        # a family has one or two caregivers and at least one child (the last family's children
        # may be trimmed, never its caregivers): twice the patients and a family's worth is room
        self.first_caregiver = 1 + 2 * (self.first_patient - 1) + 10 * share
        self.seed: int | str = seed if share == 0 else f"{seed}-{share}"


def _load_share(
    url: str, n: int, share: int, shares: int, seed: int, today: dt.date, stamp: str, chunk: int
) -> tuple[list[int], set[str]]:
    """COPY one share's families, ``chunk`` patients a transaction, as demo.generate_practice
    builds them; returns (patients, caregivers, relationships, search terms) and the name words."""
    from kiosk.ops import demo
    from kiosk.people.search_index import lexicon_words
    from kiosk.store.models import Caregiver, Patient, Relationship, SearchTerm

    part = _Share(n, share, shares, seed)
    builder = demo._Families(
        random.Random(part.seed),
        today,
        stamp,
        part.first_patient,
        part.first_patient,
        part.first_caregiver,
    )
    tables = (
        (Patient, demo.PATIENT_COLUMNS, "patients"),
        (Caregiver, demo.CAREGIVER_COLUMNS, "caregivers"),
        (Relationship, demo.RELATIONSHIP_COLUMNS, "relationships"),
        (SearchTerm, demo.TERM_COLUMNS, "terms"),
    )
    connection = _connect(url)
    cursor = connection.cursor()
    cursor.execute("SET session_replication_role = replica")  # no foreign-key triggers per row
    cursor.execute("SET synchronous_commit = off")
    made = [0, 0, 0, 0]
    words: set[str] = set()

    def flush() -> None:
        for n_table, (model, names, attribute) in enumerate(tables):
            rows = getattr(builder, attribute)
            _copy(cursor, model._meta.table_name, demo._columns(model, names), rows)
            made[n_table] += len(rows)
        connection.commit()
        words.update(lexicon_words(builder.terms))
        builder.patients, builder.caregivers, builder.relationships, builder.terms = [], [], [], []

    # the loop and the trim of demo.generate_practice, so that one share is that function's output
    while made[0] + len(builder.patients) < part.patients:
        builder.add_family()
        if len(builder.patients) >= chunk:
            flush()
    excess = made[0] + len(builder.patients) - part.patients
    if excess > 0:
        dropped = {row[0] for row in builder.patients[-excess:]}
        del builder.patients[-excess:]
        builder.relationships = [r for r in builder.relationships if r[1] not in dropped]
        builder.terms = [t for t in builder.terms if t[2] not in dropped]
    flush()
    connection.close()
    return made, words


def _build(url: str, name: str, definition: str) -> tuple[str, float]:
    began = time.perf_counter()
    connection = _connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
        cursor.execute("SET max_parallel_maintenance_workers = 0")  # its workers are not niced
        cursor.execute(definition)
    connection.close()
    return name, time.perf_counter() - began


def generate(
    url: str,
    n_patients: int,
    *,
    seed: int = 1,
    jobs: int = 2,
    today: dt.date | None = None,
    chunk: int = 50_000,
    log: Callable[[str], None] = print,
) -> str:
    """Fill the empty kiosk store at ``url`` with ``n_patients`` demo patients; returns a report."""
    from kiosk.people.search_index import word_keys
    from kiosk.terms import utcnow

    started = time.perf_counter()
    today = today or dt.date.today()
    stamp = utcnow().isoformat(sep=" ")
    admin = _connect(url)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute("SELECT count(*) FROM patient")
    if cursor.fetchone()[0]:
        raise SystemExit("pg_practice.generate fills an empty store only")
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY(%s) AND indexname NOT LIKE %s ORDER BY tablename, indexname",
        (list(LOADED + DERIVED), "%_pkey"),
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    # vacuumed once at the end, not again and again while half loaded
    for table in LOADED + DERIVED:
        cursor.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    shares = max(1, min(jobs, n_patients))
    with ProcessPoolExecutor(shares, mp_context=get_context("spawn")) as executor:
        futures = [
            executor.submit(_load_share, url, n_patients, k, shares, seed, today, stamp, chunk)
            for k in range(shares)
        ]
        results = [future.result() for future in futures]
    made = [sum(counts[i] for counts, _ in results) for i in range(4)]
    loaded = time.perf_counter() - started
    log(
        f"loaded {made[0]:,} patients, {made[1]:,} caregivers, {made[2]:,} relationships, "
        f"{made[3]:,} search terms with COPY in {shares} jobs in {loaded:.0f} s"
    )
    from kiosk.people import born_parents, parent_names

    began = time.perf_counter()
    cursor.execute(born_parents.FILL)  # N1: a parent's name terms beside each child's birth date
    log(f"parents' name terms by birth date written in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    cursor.execute(parent_names.FILL)  # N1: a parent's whole name beside each child's row
    log(f"parents' whole names by child written in {time.perf_counter() - began:.0f} s")
    # the tolerant lookup (N2): every name word under its deletion variants and sound codes, as
    # kiosk.people.search_index.add_words writes them (words already there are skipped)
    words = set().union(*(found for _, found in results))
    cursor.execute('SELECT word FROM "search_key" WHERE key = word')
    known = {word for (word,) in cursor.fetchall()}
    keys = {row for word in sorted(words - known) for row in word_keys(word)}
    cursor.execute("BEGIN")
    _copy(cursor, "search_key", '"key", "word"', sorted(keys))
    cursor.execute("COMMIT")
    began = time.perf_counter()
    # the biggest first, ``shares`` at once: one sort per server process
    indexes.sort(key=lambda index: (not index[0].startswith("search_term"), index[0]))
    with ThreadPoolExecutor(shares) as pool:
        for name, seconds in pool.map(lambda index: _build(url, *index), indexes):
            log(f"index {name} built in {seconds:.0f} s")
    log(f"{len(indexes)} indexes built in {time.perf_counter() - began:.0f} s")
    for table in ("patient", "caregiver", "relationship", "search_term"):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
        )
    began = time.perf_counter()
    for table in (*LOADED, *DERIVED, "search_key"):
        cursor.execute(f'ALTER TABLE "{table}" RESET (autovacuum_enabled)')
        cursor.execute(f'VACUUM (ANALYZE) "{table}"')
    log(f"vacuumed and analysed in {time.perf_counter() - began:.0f} s")
    cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    size = cursor.fetchone()[0]
    admin.close()
    seconds = time.perf_counter() - started
    return (
        f"generated {made[0]:,} patients ({made[1]:,} caregivers, {len(keys):,} search keys) "
        f"in {seconds:.0f} s with {shares} jobs; database {size}"
    )
