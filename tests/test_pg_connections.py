"""O1 on PostgreSQL: a desk's worker threads are handed the connections of threads that ended.

The screens run every search and action on a new worker thread; each used to open a connection
(a new server process) of its own. Needs KIOSK_TEST_PG_URL, like tests/test_postgres.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.people.staff import add_staff, list_staff
from kiosk.store.db import IDLE_CONNECTIONS, database, write_transaction

from test_postgres import PG_URL, postgres_store

pytestmark = pytest.mark.postgres


def backend() -> int:
    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def on_threads(count: int, work) -> list:
    """``work`` on ``count`` threads at once (each holds its connection until all have one)."""
    together, found = threading.Barrier(count), [None] * count

    def run(n: int) -> None:
        found[n] = work()
        together.wait(timeout=30)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return found


@pytest.fixture
def pg_store(tmp_path):
    with postgres_store(tmp_path):
        add_staff("maria", "Maria Lopez", "front-desk-password-1")
        yield


def test_o1_pg_a_worker_thread_uses_the_connection_an_ended_thread_left(pg_store):
    first = on_threads(1, backend)[0]
    assert on_threads(1, backend) == [first]  # no new server process for the next worker
    at_once = on_threads(3, backend)
    assert len(set(at_once)) == 3  # threads running together never share one
    assert first in at_once


def test_o1_pg_only_a_few_connections_are_kept_waiting(pg_store):
    import psycopg2

    many = on_threads(IDLE_CONNECTIONS + 4, backend)
    next_one = on_threads(1, backend)[0]
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True  # each count sees the server as it is now
    try:
        cursor = admin.cursor()
        # a closed connection's server process ends a moment after the client lets go of it
        for _ in range(100):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (many,))
            open_now = cursor.fetchone()[0]
            if open_now <= IDLE_CONNECTIONS + 1:
                break
            time.sleep(0.1)
    finally:
        admin.close()
    assert next_one in many
    assert open_now <= IDLE_CONNECTIONS + 1  # the one the ended next thread left, and the kept


def test_o1_pg_a_connection_the_server_dropped_is_not_handed_on(pg_store):
    import psycopg2

    left = on_threads(1, backend)[0]
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    try:
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", (left,))  # server restarted
    finally:
        admin.close()

    def write() -> int:  # a transaction first, where nothing is retried after a lost connection
        with write_transaction():
            add_staff("devon", "Devon Shaw", "long-enough-password")
        return backend()

    assert on_threads(1, write)[0] != left
    assert [user.username for user in list_staff()] == ["devon", "maria"]


def test_o1_pg_closing_the_database_still_closes_the_connection(pg_store):
    import psycopg2

    from kiosk.store.db import close_database

    mine = backend()
    close_database()  # a command that looked and leaves: nothing kept open on the server
    admin = psycopg2.connect(PG_URL)
    try:
        cursor = admin.cursor()
        for _ in range(50):  # the server process ends a moment after the connection closes
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (mine,))
            if not cursor.fetchone()[0]:
                break
            threading.Event().wait(0.1)
        else:
            raise AssertionError("the closed connection's server process is still there")
    finally:
        admin.close()
    assert [user.username for user in list_staff()] == ["maria"]  # and opens again when asked


def prepared_here() -> int:
    return database.execute_sql(
        "SELECT count(*) FROM pg_prepared_statements WHERE starts_with(name, 'kiosk_')"
    ).fetchone()[0]


def test_o1_pg_a_search_is_planned_once_a_connection_and_finds_the_same(pg_store, monkeypatch):
    """O1: a search's statement is prepared on the desk's connection the first time and run
    prepared after that; the list is the one the statement sent as text finds, and still is
    after the server forgot what was prepared (DISCARD ALL)."""
    import datetime as dt

    from kiosk.people.patients import search_patients
    from kiosk.store import db
    from kiosk.store.models import Patient

    with write_transaction():
        for n, given in enumerate(["José", "Josefa", "Ana"]):
            Patient.create(
                chart_number=f"C{n}",
                given_name=given,
                family_name="Núñez",
                dob=dt.date(2018, 5, 17),
            )

    def found() -> list[list[tuple[int, str]]]:
        return [
            [(row.id, row.name) for row in search_patients(text, tolerant=tolerant)]
            for text in ("núñez", "nuñez, jo", "5/17/2018", "ana")
            for tolerant in (False, True)
        ]

    monkeypatch.setattr(db, "PLAN_ONCE", False)
    as_text = found()
    assert prepared_here() == 0
    assert as_text[0] and as_text[2]
    monkeypatch.setattr(db, "PLAN_ONCE", True)
    assert found() == as_text
    assert found() == as_text  # run prepared
    assert prepared_here() >= 3
    database.execute_sql("DISCARD ALL")
    assert found() == as_text  # prepared again
    assert prepared_here() >= 3


def test_o1_pg_a_prepared_search_on_a_connection_the_server_dropped_finds_the_same(pg_store):
    """O1: a search run prepared goes to the driver directly; when its connection was dropped
    (the server restarted), it is sent again on a new connection and finds the same list."""
    import datetime as dt

    import psycopg2

    from kiosk.people.patients import search_patients
    from kiosk.store.models import Patient

    with write_transaction():
        Patient.create(
            chart_number="C1", given_name="Ana", family_name="Núñez", dob=dt.date(2018, 5, 17)
        )
    first = [(row.id, row.name) for row in search_patients("núñez")]
    assert [name for _, name in first] == ["Núñez, Ana"]
    assert [(row.id, row.name) for row in search_patients("núñez")] == first  # run prepared
    left = backend()
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    try:
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", (left,))
    finally:
        admin.close()
    assert [(row.id, row.name) for row in search_patients("núñez")] == first
    assert backend() != left


def test_o1_pg_a_statement_the_server_will_not_prepare_is_sent_as_text(pg_store):
    from kiosk.store.db import rows_planned_once

    assert rows_planned_once("SELECT %s IS NULL", [None]) == [(True,)]  # $1 would have no type
    assert rows_planned_once("SELECT %s IS NULL", [None]) == [(True,)]
    assert rows_planned_once("SELECT CAST(%s AS TEXT) || '%%'", ["a"]) == [("a%",)]
    assert rows_planned_once("SELECT CAST(%s AS TEXT) || '%%'", ["b"]) == [("b%",)]


def test_o1_pg_a_prepared_statement_whose_rows_changed_shape_is_prepared_again(pg_store):
    """A migration that changes what a prepared statement returns (a column more) while a desk
    runs: the next run prepares it again and returns the new rows, not PostgreSQL's error."""
    from kiosk.store.db import rows_planned_once

    database.execute_sql("CREATE TABLE shape_probe (a integer)")
    database.execute_sql("INSERT INTO shape_probe VALUES (1)")
    assert rows_planned_once("SELECT * FROM shape_probe WHERE a = %s", [1]) == [(1,)]
    assert rows_planned_once("SELECT * FROM shape_probe WHERE a = %s", [1]) == [(1,)]
    database.execute_sql("ALTER TABLE shape_probe ADD COLUMN b text DEFAULT 'x'")
    assert rows_planned_once("SELECT * FROM shape_probe WHERE a = %s", [1]) == [(1, "x")]
    assert prepared_here() == 1
