"""O1 at a health system's size: benchmarks/pg_practice.py (the 10-million-patient practice of
benchmarks/health_system.py) writes the practice kiosk's own demo generator writes, only faster.

Needs KIOSK_TEST_PG_URL, like tests/test_postgres.py; a few thousand patients, seconds.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import uuid
from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.ops import demo
from kiosk.people.born_parents import TABLE
from kiosk.people.parent_names import TABLE as NAMED_TABLE
from kiosk.people.patients import search_patients
from kiosk.store.db import close_database
from kiosk.store.practice import open_store

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("KIOSK_TEST_PG_URL", "")
TODAY = dt.date(2026, 11, 22)
STAMPED = ("created_at", "updated_at")  # when a row was written: the only columns that may differ
pytestmark = pytest.mark.skipif(
    not PG_URL and os.environ.get("CI", "").lower() != "true",
    reason="KIOSK_TEST_PG_URL not set: start a server with .ci/postgres.sh start",
)


def pg_practice():
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("pg_practice")


@pytest.fixture
def schemas(tmp_path):
    """Two empty kiosk stores, each in a PostgreSQL schema of its own (dropped afterwards)."""
    if not PG_URL:
        pytest.fail("KIOSK_TEST_PG_URL not set (CI=true: the PostgreSQL tests must run)")
    import psycopg2

    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    urls = []
    for name in names:
        admin.cursor().execute(f"CREATE SCHEMA {name}")
        separator = "&" if "?" in PG_URL else "?"
        urls.append(f"{PG_URL}{separator}options=-csearch_path%3D{name}")
    try:
        yield admin, names, urls, tmp_path
    finally:
        close_database()
        for name in names:
            admin.cursor().execute(f"DROP SCHEMA {name} CASCADE")
        admin.close()


def rows(admin, schema: str, table: str) -> list[tuple]:
    cursor = admin.cursor()
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    columns = [c for (c,) in cursor.fetchall() if c not in (*STAMPED, "id")]
    if table in ("patient", "caregiver"):
        columns.insert(0, "id")  # explicit ids; relationship and search_term ids are serials
    cursor.execute(f"SELECT {', '.join(columns)} FROM {schema}.{table}")
    return sorted(cursor.fetchall(), key=repr)


def indexes(admin, schema: str) -> set[tuple[str, str]]:
    cursor = admin.cursor()
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s", (schema,))
    return {(name, definition.replace(schema, "S")) for name, definition in cursor.fetchall()}


def test_o1_the_bulk_practice_is_the_demo_generators_practice(schemas):
    """One job: the same patients, caregivers, relationships, search terms (N1) and search keys
    (N2: deletion variants, sound codes) as demo.generate_practice with the same seed, and the
    same indexes afterwards; searches find the same rows."""
    admin, names, urls, folder = schemas
    found = []
    for n, url in enumerate(urls):
        open_store(Config(database=url, pin_key_file=str(folder / f"{n}.key")))
        if n == 0:
            demo.generate_practice(3_000, seed=5, today=TODAY, chunk=1_000)
        else:
            pg_practice().generate(url, 3_000, seed=5, jobs=1, today=TODAY, chunk=700, log=str)
        found.append([search_patients(text, today=TODAY) for text in ("smi", "garcia", "jonson")])
        close_database()
    loaded = ("patient", "caregiver", "relationship", "search_term", "search_key")
    for table in (*loaded, TABLE, NAMED_TABLE):
        made = [rows(admin, schema, table) for schema in names]
        assert made[0] == made[1], table
        assert made[0], table
    assert indexes(admin, names[0]) == indexes(admin, names[1])
    assert found[0] == found[1] and all(found[0])


def test_o1_the_bulk_practice_in_two_jobs_is_one_practice(schemas):
    """Two jobs: every patient once (ids 1..N, chart numbers unique), each with a caregiver, and
    the id sequences past the ids written, so the next patient saved by a desk gets a new one."""
    admin, names, urls, folder = schemas
    open_store(Config(database=urls[0], pin_key_file=str(folder / "0.key")))
    report = pg_practice().generate(urls[0], 2_001, seed=2, jobs=2, today=TODAY, log=str)
    assert "2,001 patients" in report
    close_database()
    cursor = admin.cursor()
    cursor.execute(
        f"SELECT count(*), min(id), max(id), count(DISTINCT chart_number) FROM {names[0]}.patient"
    )
    assert cursor.fetchone() == (2_001, 1, 2_001, 2_001)
    cursor.execute(
        f"SELECT count(*) FROM {names[0]}.patient p WHERE NOT EXISTS "
        f"(SELECT 1 FROM {names[0]}.relationship r WHERE r.patient_id = p.id)"
    )
    assert cursor.fetchone() == (0,)
    for table in ("patient", "caregiver", "search_term"):
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{names[0]}.{table}', 'id')) > "
            f"(SELECT max(id) FROM {names[0]}.{table})"
        )
        assert cursor.fetchone() == (True,), table
