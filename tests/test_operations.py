"""Operations (O1, O3): a read-only database still answers the commands that only look, two
``kiosk init`` at once make one administrator, and ``kiosk outbox send`` says by its exit code
when messages could not be delivered."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.store.models import Staff

from conftest import kiosk_cli as run
from conftest import needs
from test_outbox_smtp import queue
from test_postgres import pg_store  # the PostgreSQL store fixture
from test_postgres import pytestmark as needs_postgres

LOOK_ONLY = [["staff", "list"], ["audit", "verify"], ["audit", "export"], ["outbox", "list"]]


def run_without_write_permission(*args):
    """The kiosk command as a user the file system holds to file modes (root, but without the
    capability that lets root write any file), so a 0444 file or a 0555 folder is really read-only."""
    if os.geteuid() != 0:
        return run(*args)
    if shutil.which("setpriv") is None:
        needs("needs setpriv to drop root's override of file modes")
    return subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            "-m",
            "kiosk_screens.launch",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


@pytest.fixture
def practice_db(cli_practice):
    return Path(cli_practice).parent, cli_practice


@pytest.mark.parametrize("read_only", ["file", "folder"])
@pytest.mark.parametrize("command", LOOK_ONLY, ids=" ".join)
def test_o1_commands_that_only_look_work_on_a_read_only_database(practice_db, read_only, command):
    folder, db = practice_db
    before = sorted(p.name for p in folder.iterdir())
    os.chmod(db, 0o444)
    if read_only == "folder":
        os.chmod(folder, 0o555)
    try:
        result = run_without_write_permission("--db", db, *command)
    finally:
        os.chmod(folder, 0o755)
    assert result.returncode == 0, result.stderr
    if command[0] == "staff":
        assert result.stdout.startswith("maria ")
    if command == ["audit", "verify"]:
        assert result.stdout.startswith("Audit trail intact")
    if read_only == "folder":
        assert sorted(p.name for p in folder.iterdir()) == before  # nothing was made beside it


def test_o1_a_change_to_a_read_only_database_is_one_plain_line(practice_db):
    _, db = practice_db
    os.chmod(db, 0o444)
    result = run_without_write_permission(
        "--db", db, "staff", "add", "devon", "--name", "Devon", "--password-stdin"
    )
    lines = (
        result.stderr.strip().splitlines()
    )  # a note that the file's mode was tightened (S11) may come first
    assert (
        result.returncode == 1
        and "Traceback" not in result.stderr
        and all(line.startswith("kiosk: ") for line in lines)
    )
    assert "The database is read-only" in lines[-1]


def test_o1_commands_that_only_look_create_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "kiosk.sqlite3"
    result = run("--db", str(missing), "staff", "list")
    assert (
        result.returncode == 1
        and result.stderr == f"kiosk: there is no database at {missing}: run kiosk init first\n"
    )
    assert not missing.parent.exists()


def test_o1_a_locked_database_is_said_in_plain_words(practice_db):
    _, db = practice_db
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a desk stuck in the middle of a write for longer than 10 s
    try:
        result = run("--db", db, "staff", "link", "maria", "pp-9")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "kiosk: The database is busy: another desk or program has held it too long."
    )


# -- kiosk init is safe to race ------------------------------------------------------------------------
def race_inits(db: str, count: int, env: dict[str, str] | None = None) -> None:
    """``count`` processes run ``kiosk init`` on ``db`` at once: one makes its administrator, every
    other is told the database already has staff."""
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kiosk_screens.launch",
                "--db",
                db,
                "init",
                "--admin",
                f"admin{n}",
                "--name",
                f"Admin {n}",
                "--password-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(count)
    ]
    outcomes = [racer.communicate("correct horse battery\n", timeout=60) for racer in racers]
    codes = [racer.returncode for racer in racers]
    assert codes.count(0) == 1, outcomes
    assert all("already has staff" in err for (_, err), code in zip(outcomes, codes) if code), (
        outcomes
    )


def test_o1_two_kiosk_inits_at_once_make_one_administrator(tmp_path):
    for attempt in range(3):
        db = str(tmp_path / f"race{attempt}.sqlite3")
        race_inits(db, 4)
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(*) FROM staff WHERE is_admin").fetchone() == (1,)


def race_first_administrators(monkeypatch) -> list[str]:
    """Two desks call add_first_administrator at the same moment, each slow to hash its password
    (the window in which both used to see no staff); what each was told."""
    from kiosk.people import staff

    slow = staff.hash_password
    monkeypatch.setattr(
        staff, "hash_password", lambda password: (time.sleep(0.3), slow(password))[1]
    )
    told: list[str] = []

    def desk(n: int) -> None:
        try:
            told.append(
                staff.add_first_administrator(
                    f"admin{n}", f"Admin {n}", "correct horse battery"
                ).username
            )
        except staff.StaffError as error:
            told.append(str(error))

    desks = [threading.Thread(target=desk, args=(n,)) for n in range(2)]
    for each in desks:
        each.start()
    for each in desks:
        each.join(30)
    return told


def test_o1_first_administrator_check_and_create_are_one_transaction(store, monkeypatch):
    told = race_first_administrators(monkeypatch)
    assert sorted(told)[1] == "this database already has staff; use kiosk staff add"
    assert Staff.select().where(Staff.is_admin).count() == 1


@pytest.mark.postgres
@needs_postgres
def test_o1_pg_first_administrator_check_and_create_are_one_transaction(pg_store, monkeypatch):
    Staff.delete().execute()  # the fixture's desk: start from a database with no staff
    told = race_first_administrators(monkeypatch)
    assert sorted(told)[1] == "this database already has staff; use kiosk staff add"
    assert Staff.select().count() == 1


# -- kiosk outbox send exits non-zero when messages could not go ----------------------------------
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_o3_outbox_send_exits_non_zero_while_the_server_is_unreachable(store, config, tmp_path):
    queue([("Rosemary", "JFKAY-TTJYV")], to="cindy@example.com")
    file = tmp_path / "kiosk.toml"
    file.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {unused_port()}\nsecurity = "none"\ntimeout_seconds = 2\n'
    )
    result = run("--config", str(file), "--db", config.database, "outbox", "send")
    assert result.returncode == 1, result.stdout + result.stderr
    # on standard error: cron, its output sent to /dev/null as the README has it, mails this
    assert "0 sent, 1 to retry later" in result.stderr and result.stdout == ""
    nothing_due = run("--config", str(file), "--db", config.database, "outbox", "send")
    assert nothing_due.returncode == 0 and nothing_due.stdout.startswith(
        "0 sent, 0 to retry later, 0 failed"
    )
    assert nothing_due.stderr == ""  # nothing to mail every five minutes


@pytest.mark.postgres
@needs_postgres
def test_o1_pg_kiosk_inits_racing_on_a_new_database_make_one_administrator(tmp_path):
    """Several desks starting on an empty PostgreSQL database: one creates the tables (the others
    wait for it instead of failing on the catalog's unique index) and one administrator is made."""
    import uuid

    import psycopg2

    from test_postgres import PG_URL

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    env = dict(os.environ, KIOSK_PIN_KEY_FILE=str(tmp_path / "pin.key"))
    try:
        race_inits(url, 3, env)
        cursor = admin.cursor()
        cursor.execute(f"SELECT count(*) FROM {schema}.staff")
        assert cursor.fetchone() == (1,)
    finally:
        admin.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
