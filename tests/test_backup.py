"""D3: a consistent online backup while desks write, key files kept out, and a guarded restore."""

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import init_practice
from conftest import kiosk_cli as kiosk

PASSWORD = "correct horse battery staple\n"

# A desk issuing PINs over and over until the stop file appears (the training families, maria).
DESK = textwrap.dedent("""
    import sys, pathlib
    from kiosk.config import Config
    from kiosk.store.practice import open_store
    from kiosk.people.staff import authenticate
    from kiosk.store.models import Patient
    from kiosk.people.patients import family_for
    from kiosk.registration.engine import IssueRequest, issue_pins
    open_store(Config(database=sys.argv[1]))
    desk = authenticate("maria", "training1")
    family = family_for(Patient.get(Patient.given_name == "Rosemary").id)
    stop, n = pathlib.Path(sys.argv[2]), 0
    while not stop.exists():
        issue_pins(desk, IssueRequest(patient_ids=[c.id for c in family.children],
                                      recipient_id=family.caregivers[0].id, delivery="none"))
        n += 1
        if n == 3:
            pathlib.Path(sys.argv[2] + ".started").touch()
    print(n)
""")


@pytest.fixture
def practice(tmp_path):
    """A SQLite practice with the training families in it (closed again: desks are processes here)."""
    from kiosk.config import Config
    from kiosk.ops.training import load_training_data
    from kiosk.store.db import close_database
    from kiosk.store.practice import open_store

    db = tmp_path / "practice" / "kiosk.sqlite3"
    open_store(Config(database=str(db)))
    load_training_data()
    close_database()
    return db


def test_d3_backup_under_concurrent_issuing_restores_to_a_sound_database(practice, tmp_path):
    stop = tmp_path / "stop"
    desks = [
        subprocess.Popen(
            [sys.executable, "-c", DESK, str(practice), f"{stop}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        while not Path(f"{stop}.started").exists():
            assert all(d.poll() is None for d in desks), desks[0].stderr.read()
            time.sleep(0.05)
        backups = [tmp_path / f"backup-{n}.sqlite3" for n in range(3)]
        for target in backups:  # while both desks keep issuing
            made = kiosk("--db", str(practice), "backup", str(target))
            assert made.returncode == 0, made.stderr
    finally:
        stop.touch()
        issued = [int(d.communicate(timeout=60)[0]) for d in desks]
    assert all(d.returncode == 0 for d in desks) and sum(issued) > 3
    key = Path(f"{practice}.key")
    assert "Not in the backup: the key file" in made.stdout and str(key) in made.stdout
    for target in backups:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert key.read_bytes() not in target.read_bytes()
        con = sqlite3.connect(target)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        restored = (
            tmp_path / "restored" / target.name
        )  # the same key file, as the practice would restore
        done = kiosk(
            "--db",
            str(restored),
            "--config",
            _config_with_key(tmp_path, key),
            "restore",
            str(target),
        )
        assert done.returncode == 0, done.stderr
        verified = kiosk(
            "--db", str(restored), "--config", _config_with_key(tmp_path, key), "audit", "verify"
        )
        assert verified.returncode == 0 and "intact" in verified.stdout, (
            verified.stdout + verified.stderr
        )


def _config_with_key(tmp_path, key: Path) -> str:
    config = tmp_path / "config.toml"
    config.write_text(f'pin_key_file = "{key}"\n', encoding="utf-8")
    return str(config)


def test_d3_restore_refuses_a_database_in_use_and_keeps_the_old_one(practice, tmp_path):
    backup = tmp_path / "b.sqlite3"
    assert kiosk("--db", str(practice), "backup", str(backup)).returncode == 0
    again = kiosk("--db", str(practice), "backup", str(backup))
    assert again.returncode == 1 and "already exists" in again.stderr
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import sys
        from kiosk.config import Config
        from kiosk.store.practice import open_store
        open_store(Config(database=sys.argv[1]))
        print("open", flush=True)
        sys.stdin.readline()
    """),
            str(practice),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"  # a desk has the database open
        refused = kiosk("--db", str(practice), "restore", str(backup))
        assert refused.returncode == 1 and "in use" in refused.stderr
    finally:
        holder.communicate("\n", timeout=30)
    done = kiosk("--db", str(practice), "restore", str(backup))
    assert done.returncode == 0, done.stderr
    kept = list(practice.parent.glob("kiosk.sqlite3.before-restore-*"))
    assert len(kept) == 1 and "kept as" in done.stdout
    assert kiosk("--db", str(practice), "staff", "list").returncode == 0


def test_d3_restore_refuses_a_backup_made_with_another_key(practice, tmp_path):
    backup = tmp_path / "b.sqlite3"
    assert kiosk("--db", str(practice), "backup", str(backup)).returncode == 0
    other = tmp_path / "other" / "kiosk.sqlite3"
    init_practice(other, admin="ann", name="Ann")
    refused = kiosk("--db", str(other), "restore", str(backup))
    assert refused.returncode == 1 and "different key file" in refused.stderr
    assert not list(other.parent.glob("*.before-restore-*"))


def test_d3_postgres_says_to_use_pg_dump_with_the_password_hidden(tmp_path):
    url = "postgresql://kiosk:s3cret-pass@db.example.org:5432/kiosk"
    done = kiosk(
        "--db",
        url,
        "backup",
        str(tmp_path / "x.dump"),
        env={"KIOSK_PIN_KEY_FILE": str(tmp_path / "k.key")},
    )
    assert done.returncode == 1 and "pg_dump" in done.stderr and "(0600)" in done.stderr
    # a password in the URL, even ***, would win over PGPASSWORD and ~/.pgpass: none is left in it
    assert done.stdout.startswith("(umask 077 && set -C && pg_dump ") and "***" not in done.stdout
    assert "--dbname postgresql://kiosk@db.example.org:5432/kiosk" in done.stdout
    assert "s3cret-pass" not in done.stdout + done.stderr
    assert str(tmp_path / "k.key") in done.stderr


PG_URL = os.environ.get("KIOSK_TEST_PG_URL", "")


def _sql(url: str, statement: str) -> list[tuple]:
    """Run ``statement`` on its own connection, closed after (a desk left open would count)."""
    import psycopg2

    db = psycopg2.connect(url)
    try:
        with db, db.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        db.close()


@pytest.mark.skipif(not PG_URL or not shutil.which("pg_dump"), reason="PostgreSQL and pg_dump")
def test_d3_s11_the_pg_dump_command_as_printed_makes_a_file_only_its_owner_reads(tmp_path):
    """The printed command, run as printed by a shell whose umask is the usual 022, writes the
    dump 0600 (patients' details and PIN hashes are in it, S11), never over an existing file, and
    pg_restore reads it back; the shell's own umask is left as it was. kiosk restore gives the
    pg_restore command only while no other session has the database open (D3)."""
    import uuid

    import psycopg2

    name = f"kiosk_d3_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    dump = tmp_path / "practice dump.pgc"  # a space: the file name is quoted
    try:
        _sql(url, "CREATE TABLE patient (name text); INSERT INTO patient VALUES ('Ann')")
        key = {"KIOSK_PIN_KEY_FILE": str(tmp_path / "k.key")}
        printed = kiosk("--db", url, "backup", str(dump), env=key).stdout.strip()
        shell = ["sh", "-c", f"umask 022; {printed}; umask"]
        done = subprocess.run(shell, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "0022", done.stderr
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        listed = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True)
        assert "TABLE DATA public patient" in listed.stdout, listed.stderr
        before = dump.read_bytes()
        again = subprocess.run(shell, capture_output=True, text=True, timeout=120)
        assert "exist" in again.stderr and dump.read_bytes() == before
        # D3: while a desk has the database open, no pg_restore command (it would drop the tables
        # under it); once none has, one that restores in one transaction, run here as printed
        desk = psycopg2.connect(url)
        try:
            refused = kiosk("--db", url, "restore", str(dump), env=key)
        finally:
            desk.close()
        assert refused.returncode == 1 and "in use (1 other" in refused.stderr, refused.stderr
        assert "pg_restore" not in refused.stdout
        _sql(url, "DELETE FROM patient")
        command = kiosk("--db", url, "restore", str(dump), env=key).stdout.strip()
        assert command.startswith("pg_restore ") and "--single-transaction" in command
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert _sql(url, "SELECT name FROM patient") == [("Ann",)]
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def test_s10_d3_a_restore_sets_aside_the_anchors_taken_after_the_backup(practice, tmp_path):
    """An anchor taken after the backup names events the restored trail never had: left in place,
    kiosk audit verify would fail on every run after a restore. The restore moves those lines out
    (the whole anchor file goes with the replaced database) and says which events were lost."""
    db = str(practice)
    backup = tmp_path / "b.sqlite3"
    assert kiosk("--db", db, "audit", "anchor").returncode == 0  # the backup can answer for this
    assert kiosk("--db", db, "backup", str(backup)).returncode == 0
    added = kiosk(
        "--db", db, "staff", "add", "ann", "--name", "Ann", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stderr
    assert kiosk("--db", db, "audit", "anchor").returncode == 0  # names events after the backup
    done = kiosk("--db", db, "restore", str(backup))
    assert done.returncode == 0 and "not in the restored database" in done.stdout, done.stderr
    verified = kiosk("--db", db, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    (kept,) = practice.parent.glob("kiosk.sqlite3.before-restore-*[0-9]")
    assert len(Path(f"{practice}.anchor").read_text().splitlines()) == 1
    assert len(Path(f"{kept}.anchor").read_text().splitlines()) == 2
    key = {"KIOSK_PIN_KEY_FILE": f"{practice}.key"}
    old = kiosk("--db", str(kept), "audit", "verify", env=key)  # the old trail, whole
    assert old.returncode == 0, old.stdout + old.stderr


def test_d3_restore_of_the_database_onto_itself_is_refused_and_changes_nothing(practice, tmp_path):
    """``kiosk restore`` named the live database (or a link to it): it was set aside and nothing was
    put in its place, so every desk found no database."""
    link = tmp_path / "latest.sqlite3"
    link.symlink_to(practice)
    for named in (practice, link):
        refused = kiosk("--db", str(practice), "restore", str(named))
        assert refused.returncode == 1 and "the database itself" in refused.stderr
    assert not list(practice.parent.glob("*.before-restore-*"))
    assert kiosk("--db", str(practice), "staff", "list").returncode == 0


def test_d3_a_restore_that_cannot_finish_leaves_the_database_in_place(
    practice, tmp_path, monkeypatch
):
    """A full disk during the copy: the database desks use is still there, unchanged."""
    import errno

    from kiosk.config import Config
    from kiosk.ops import backup as ops

    made = tmp_path / "b.sqlite3"
    assert kiosk("--db", str(practice), "backup", str(made)).returncode == 0
    before = practice.read_bytes()

    def full_disk(source_uri: str, dest: str) -> None:
        Path(dest).write_bytes(b"SQLite format 3\0")
        raise OSError(errno.ENOSPC, "No space left on device", dest)

    monkeypatch.setattr(ops, "_copy", full_disk)
    with pytest.raises(OSError):
        ops.restore(Config(database=str(practice)), made)
    assert practice.read_bytes() == before
    assert sorted(p.name for p in practice.parent.iterdir() if "restor" in p.name) == []


def test_d3_restore_refuses_a_backup_from_a_newer_kiosk(practice, tmp_path):
    made = tmp_path / "b.sqlite3"
    assert kiosk("--db", str(practice), "backup", str(made)).returncode == 0
    con = sqlite3.connect(made)
    con.execute("UPDATE schema_meta SET version = version + 1")
    con.commit()
    con.close()
    refused = kiosk("--db", str(practice), "restore", str(made))
    assert refused.returncode == 1 and "newer kiosk" in refused.stderr
    assert not list(practice.parent.glob("*.before-restore-*"))
    assert kiosk("--db", str(practice), "staff", "list").returncode == 0


@pytest.mark.parametrize("beside", ["-wal", "-shm", "-journal", ".anchor", ".key"])
def test_d3_a_backup_never_takes_the_name_of_the_databases_own_files(practice, beside):
    """A backup written as the database's WAL, lock, journal, anchor or key file (absent at that
    moment) would be read as that file by the next desk or audit check."""
    name = practice.with_name(practice.name + beside)
    name.unlink(missing_ok=True)
    refused = kiosk("--db", str(practice), "backup", str(name))
    assert refused.returncode == 1 and "own files" in refused.stderr
    assert not name.exists()


def test_d3_a_desk_that_starts_during_a_restore_is_kept_out(practice):
    """With no desk open there is no -shm file, and the restore took no lock: a desk starting
    meanwhile opened the database being set aside, and its work went with it."""
    from kiosk.ops.backup import no_one_connected

    assert not Path(f"{practice}-shm").exists()
    with no_one_connected(practice):
        started = kiosk(
            "--db",
            str(practice),
            "staff",
            "add",
            "ann",
            "--name",
            "Ann",
            "--password-stdin",
            stdin=PASSWORD,
        )
    assert started.returncode != 0 and "The database is busy" in started.stderr, started.stderr
    assert "ann" not in kiosk("--db", str(practice), "staff", "list").stdout


def test_d2_d3_restore_refuses_a_demo_database_over_a_practices(tmp_path):
    """D2: a demo made beside the practice, sharing its configured key file, passed every check
    of kiosk restore, and made-up families took the practice's place at every desk. Refused,
    the practice left as it was; a backup of the practice itself restores."""
    config = tmp_path / "config.toml"
    config.write_text(f'pin_key_file = "{tmp_path / "keys" / "kiosk.key"}"\n', encoding="utf-8")
    practice, demo = tmp_path / "kiosk.sqlite3", tmp_path / "demo.sqlite3"
    init_practice(practice, env={"KIOSK_CONFIG": str(config)})
    made = kiosk("--config", str(config), "--db", str(demo), "demo", "generate", "--patients", "3")
    assert made.returncode == 0, made.stderr
    refused = kiosk("--config", str(config), "--db", str(practice), "restore", str(demo))
    assert refused.returncode == 1 and "demo database" in refused.stderr, refused.stderr
    assert not list(tmp_path.glob("*.before-restore-*"))
    listed = kiosk("--config", str(config), "--db", str(practice), "staff", "list")
    assert listed.returncode == 0 and "maria" in listed.stdout
    backup = tmp_path / "b.sqlite3"
    assert (
        kiosk("--config", str(config), "--db", str(practice), "backup", str(backup)).returncode == 0
    )
    done = kiosk("--config", str(config), "--db", str(practice), "restore", str(backup))
    assert done.returncode == 0, done.stderr


def test_d3_a_backup_into_a_missing_folder_names_the_folder(practice, tmp_path):
    """A mistyped backup folder was answered with the name of kiosk's temporary file inside it
    (".b.sqlite3.partial-1234: No such file or directory"); it names the folder, and makes nothing."""
    target = tmp_path / "no-such-folder" / "b.sqlite3"
    refused = kiosk("--db", str(practice), "backup", str(target))
    assert refused.returncode == 1 and f"no folder {target.parent}" in refused.stderr
    assert "partial" not in refused.stderr and not target.parent.exists()


def _full_disk() -> None:
    """In the child: no file may grow past 16 KiB (RLIMIT_FSIZE), as on a full disk: SQLite cannot
    make the 32 KiB -shm file a reader of a WAL database needs (SQLITE_IOERR_SHMSIZE)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))


def test_d2_d3_commands_that_only_look_read_a_database_on_a_full_disk(tmp_path):
    """With the database's disk full and no desk running, kiosk audit verify, staff list and
    doctor's database line said "disk I/O error": the first failed opening left an empty -wal
    beside the file, which kept out the reading of the file as it is. They read it now."""
    db = tmp_path / "kiosk.sqlite3"
    init_practice(db)
    for command in (["audit", "verify"], ["staff", "list"]):
        done = subprocess.run(
            [sys.executable, "-m", "kiosk_screens.launch", "--db", str(db), *command],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_full_disk,
        )
        assert done.returncode == 0 and ("intact" in done.stdout or "maria" in done.stdout), (
            done.stderr
        )


def test_d3_a_backup_is_made_while_the_databases_disk_is_full(tmp_path, monkeypatch):
    """A full disk is when a backup to another disk matters most: SQLite's reader could not make
    its -shm file there (SQLITE_IOERR_SHMSIZE) and kiosk backup gave up. With nothing in the WAL
    (no desk can have the database open then) it copies the file as it is."""
    from kiosk.config import Config
    from kiosk.ops import backup

    db = tmp_path / "full" / "kiosk.sqlite3"
    init_practice(db)
    connect = sqlite3.connect

    def full_disk(target, *args, **kwargs):
        if str(target).startswith(f"file:{db}?mode=ro"):
            raise sqlite3.OperationalError("disk I/O error")
        return connect(target, *args, **kwargs)

    monkeypatch.setattr(backup.sqlite3, "connect", full_disk)
    Path(f"{db}-wal").touch()  # what the failed opening leaves
    made = tmp_path / "elsewhere.sqlite3"
    done = backup.backup(Config(database=str(db)), made)
    assert "integrity check ok" in done.lines[0]
    con = connect(made)
    assert con.execute("SELECT username FROM staff").fetchall() == [("maria",)]
    con.close()


# A backup or restore at work: its partial copy made and held locked, as kiosk.ops.backup does
HOLDER = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("made", flush=True)
    sys.stdin.readline()
""")


def _partial_being_made(path: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "made"
    return holder


def test_d2_s11_partial_copies_of_a_killed_backup_or_restore_are_removed_by_the_next(
    practice, tmp_path
):
    """A backup or restore killed halfway (kill -9, a power cut) left its partial copy, a whole
    database's patients under a hidden name, in the backup folder or beside the database for
    good. The next backup or restore removes those; one another run is still making stays, and
    what someone else put under such a name in a shared folder (a FIFO, which held the backup
    forever; a link) is left alone."""
    folder = tmp_path / "backups"
    folder.mkdir()
    os.mkfifo(folder / ".planted.sqlite3.partial-7")
    (folder / ".link.sqlite3.partial-8").symlink_to(practice)
    partials = {
        "backup": (folder / ".old.sqlite3.partial-41", folder / ".other.sqlite3.partial-42"),
        "restore": (
            practice.with_name(f".{practice.name}.restoring-43"),
            practice.with_name(f".{practice.name}.restoring-44"),
        ),
    }
    for killed, running in partials.values():
        holder = _partial_being_made(killed)
        holder.kill()
        holder.wait(timeout=30)
        partials_running = _partial_being_made(running)
        try:
            made = folder / f"b-{killed.name}.sqlite3"
            assert kiosk("--db", str(practice), "backup", str(made)).returncode == 0
            done = kiosk("--db", str(practice), "restore", str(made))
            assert done.returncode == 0, done.stderr
            assert not killed.exists() and running.exists()
        finally:
            partials_running.communicate("\n", timeout=30)
    assert (folder / ".planted.sqlite3.partial-7").exists() and practice.exists()


def test_d3_restore_as_another_account_than_the_databases_is_refused(
    practice, tmp_path, monkeypatch
):
    """`sudo kiosk restore` put a root-owned 0600 database in the kiosk account's place: every desk
    then failed to open it. Refused, naming the owner to restore as; nothing is moved. (Another
    account is stood for by this process's effective uid: making a file someone else's needs root.)"""
    import pwd

    from kiosk.config import Config
    from kiosk.ops import backup

    made = tmp_path / "b.sqlite3"
    assert kiosk("--db", str(practice), "backup", str(made)).returncode == 0
    monkeypatch.setattr(backup.os, "geteuid", lambda: practice.stat().st_uid + 1)
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(Config(database=str(practice)), made)
    owner = pwd.getpwuid(practice.stat().st_uid).pw_name
    assert f"belongs to {owner}" in str(refused.value) and f"sudo -u {owner}" in str(refused.value)
    assert not list(practice.parent.glob("*.before-restore-*"))


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_d3_a_backup_to_or_from_a_dash_is_refused_in_one_line(
    practice, tmp_path, monkeypatch, capsys, command
):
    """`kiosk backup -` wrote a file named "-" where a shell user expects standard output: a backup
    is a file only its owner reads, so "-" is refused in one line, and nothing is written."""
    from kiosk.cli import main
    from kiosk.store.db import close_database

    monkeypatch.chdir(tmp_path)
    code = main(["--db", str(practice), command, "-"])
    close_database()
    said = capsys.readouterr()
    assert code == 2 and said.out == "", said
    assert said.err.strip() == (
        f"kiosk: {command} takes a file, not - (standard output or input): name the file, "
        "or write ./- for a file named -"
    )
    assert not (tmp_path / "-").exists()
