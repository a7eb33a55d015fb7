"""D2: demo data only where it belongs, training leaves nothing behind, read-only commands make
nothing, and every option of the command line says what it does."""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiosk import cli
from kiosk.store.db import close_database
from kiosk.store.models import Patient, Practice
from kiosk.terms import DatabasePurpose

from conftest import init_practice, needs
from conftest import kiosk_cli as kiosk


def test_d2_demo_goes_into_a_new_database_and_marks_it_a_demo(tmp_path, capsys):
    db = str(tmp_path / "demo.sqlite3")
    assert cli.main(["--db", db, "demo", "generate", "--patients", "30"]) == 0
    assert Practice.get().purpose == DatabasePurpose.DEMO
    assert (
        cli.main(["--db", db, "demo", "generate", "--patients", "10"]) == 0
    )  # a demo database takes more
    assert Patient.select().count() == 40
    close_database()


def test_d2_demo_refuses_a_practice_database_unless_forced(tmp_path, capsys):
    db = str(tmp_path / "practice.sqlite3")
    init_practice(db, name="Maria Lopez")
    refused = kiosk("--db", db, "demo", "generate", "--patients", "20")
    assert (
        refused.returncode != 0
        and "practice's database" in refused.stderr
        and "--force" in refused.stderr
    )
    assert "Traceback" not in refused.stderr
    forced = kiosk("--db", db, "demo", "generate", "--patients", "20", "--force")
    assert forced.returncode == 0, forced.stderr
    trail = kiosk("--db", db, "audit", "export").stdout
    assert (
        "demo data" in trail and '""forced"": true' in trail
    )  # the audit says who was told and went on


def test_d2_training_marks_its_database_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = {}

    def start_app(config):
        seen["db"] = Path(config.database)
        seen["purpose"] = Practice.get().purpose
        assert seen["db"].exists()

    assert cli.main(["--training"], start_app=start_app) == 0
    assert seen["purpose"] == DatabasePurpose.TRAINING
    assert not seen["db"].parent.exists() and not list(tmp_path.glob("kiosk-training-*"))


def test_d2_a_killed_training_run_is_cleaned_by_the_next_start(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = tmp_path / "kiosk-training-killed"
    killed.mkdir()
    (killed / "owner.pid").write_text(str(dead.pid))
    (killed / "training.sqlite3").write_bytes(b"x")
    alive = tmp_path / "kiosk-training-alive"  # another desk's training, still running
    alive.mkdir()
    (alive / "owner.pid").write_text(str(os.getppid()))
    old = tmp_path / "kiosk-training-old"  # from a kiosk that wrote no owner, a day ago
    old.mkdir()
    os.utime(old, (0, 0))
    young = tmp_path / "kiosk-training-young"  # being made this moment
    young.mkdir()
    assert cli.main(["--training"], start_app=lambda config: None) == 0
    assert sorted(p.name for p in tmp_path.glob("kiosk-training-*")) == [
        "kiosk-training-alive",
        "kiosk-training-young",
    ]


def test_d2_a_reused_process_id_does_not_keep_a_killed_runs_folder(tmp_path, monkeypatch):
    """A killed training run's process id can be given to another process: its folder still goes
    at the next start, since the owner's lock on it went with the owner. A training still running
    (holding its folder's lock, in another process) keeps its folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, tempfile; tempfile.tempdir = sys.argv[1]\n"
                "from kiosk.ops.training import training_database_path\n"
                "print(training_database_path().parent, flush=True); sys.stdin.read()"
            ),
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        running = Path(holder.stdout.readline().strip())
        killed = tmp_path / "kiosk-training-killed"
        killed.mkdir()
        (killed / "owner.lock").write_bytes(b"")  # nobody holds it: its owner is gone
        (killed / "owner.pid").write_text(str(os.getppid()))  # the id, now another's, running
        (killed / "training.sqlite3").write_bytes(b"x")
        assert cli.main(["--training"], start_app=lambda config: None) == 0
        assert [p.name for p in tmp_path.glob("kiosk-training-*")] == [running.name]
    finally:
        holder.communicate("")
    assert cli.main(["--training"], start_app=lambda config: None) == 0
    assert list(tmp_path.glob("kiosk-training-*")) == []  # and once it ends, so does its folder


@pytest.mark.parametrize(
    "command",
    [
        ["staff", "list"],
        ["audit", "verify"],
        ["audit", "export"],
        ["audit", "anchor"],
        ["outbox", "list"],
        ["search", "x"],
        ["pin", "list"],
        ["report"],
        ["doctor"],
        ["drive", "--list"],
        # a sender or timer pointed at a wrong path fails instead of serving an empty database
        ["outbox", "send"],
        ["maintain"],
        # a first staff member made here would keep kiosk init (the administrator) out for good
        ["staff", "add", "bob", "--name", "Bob", "--password-stdin"],
        [],
    ],
)
def test_d2_commands_that_only_look_never_create_a_database(tmp_path, command):
    db = tmp_path / "missing" / "kiosk.sqlite3"
    done = kiosk("--db", str(db), *command)
    said = done.stdout + done.stderr  # kiosk doctor says it in its database line
    assert done.returncode != 0 and "no database" in said and "kiosk init" in said
    assert not db.parent.exists()


def _every_action(parser: argparse.ArgumentParser, where: str = "kiosk"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from ((where, command) for command in action._choices_actions)  # its help line
            listed = {command.dest for command in action._choices_actions}
            for name, sub in action.choices.items():
                if name not in listed:  # a command added without help= is not even listed
                    yield where, argparse.Action([], name)
                yield from _every_action(sub, f"{where} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield where, action


def test_d2_every_option_and_argument_has_help():
    """D2: every option, argument and command, at every level of kiosk's command tree."""
    missing = [
        f"{where} {'/'.join(action.option_strings) or action.dest}"
        for where, action in _every_action(cli.build_parser())
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []


@pytest.mark.parametrize("stop", ["SIGHUP", "SIGTERM", "closed"])
def test_d2_training_cleans_up_when_its_terminal_hangs_up(tmp_path, stop):
    """An SSH desk that drops mid-training (SIGHUP), or a training stopped with kill or by a
    shutdown (SIGTERM), leaves no training folder behind. A terminal that closes with no signal
    at all (the pty is not the app's controlling terminal: no SIGHUP comes) ends the app too
    (D1): its input thread read the end of input in a loop forever, on a core's time, and the
    process never ended."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios
    import time

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(
        os.environ,
        TMPDIR=str(tmp_path),
        TERM="xterm-256color",
        TEXTUAL_ANIMATIONS="none",
        HOME=str(tmp_path),
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "kiosk_screens.launch", "--training"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    seen, deadline = b"", time.monotonic() + 60
    try:
        while (
            b"your kiosk username" not in seen
            and time.monotonic() < deadline
            and app.poll() is None
        ):
            if select.select([main], [], [], 0.1)[0]:
                seen += os.read(main, 65536)
        assert b"your kiosk username" in seen and list(tmp_path.glob("kiosk-training-*"))
        if stop == "closed":
            os.close(main)
            main = -1
            assert app.wait(timeout=30) == 0
        else:
            app.send_signal(getattr(signal, stop))
        while (
            main >= 0 and app.poll() is None and time.monotonic() < deadline
        ):  # keep reading: the app may be writing
            if select.select([main], [], [], 0.1)[0]:
                try:
                    os.read(main, 65536)
                except OSError:
                    break
        app.wait(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
        if main >= 0:
            os.close(main)
    assert not list(tmp_path.glob("kiosk-training-*"))


def test_d2_staff_add_before_kiosk_init_leaves_room_for_the_administrator(tmp_path):
    """A practice that imports first and adds staff next must still be able to run kiosk init:
    staff add on a database without staff says to run kiosk init, and adds no one."""
    db = str(tmp_path / "kiosk.sqlite3")
    template = tmp_path / "patients.csv"
    assert kiosk("--db", db, "import", "--template", str(template)).returncode == 0
    assert kiosk("--db", db, "import", "--quiet", str(template)).returncode == 0
    added = kiosk("--db", db, "staff", "add", "bob", "--name", "Bob", "--password-stdin")
    assert added.returncode != 0 and "run kiosk init first" in added.stderr, added.stderr
    init_practice(db)


def test_d2_s11_a_training_slip_lives_in_its_own_training_folder(tmp_path, monkeypatch):
    """Training slips (made-up PINs) go in the session's own folder: a killed run's go with the
    folder at the next start, and a training that ends leaves another desk's slips alone."""
    from kiosk.slip import printing

    from test_at_rest import SLIP

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("KIOSK_SLIP_DIR", str(tmp_path / "slips"))
    other = tmp_path / "slips" / "training-slip-20261201-120000-aaaaaaaaaaaa.pdf"  # still training
    other.parent.mkdir()
    other.write_bytes(b"%PDF")
    saved = []

    def start_app(config):
        saved.append(printing.print_slip(SLIP, config).pdf_path)

    assert cli.main(["--training"], start_app=start_app) == 0
    close_database()
    assert saved[0].parent.name.startswith("kiosk-training-")
    assert not saved[0].exists() and other.exists()


def test_d2_a_refused_first_password_leaves_no_database_behind(tmp_path):
    """kiosk init on a new practice with a password the rules refuse (S12): the desk is told why,
    and no empty database or key file is left for the next try to trip over."""
    db = tmp_path / "practice" / "kiosk.sqlite3"
    args = ("--db", str(db), "init", "--admin", "maria", "--name", "Maria", "--password-stdin")
    refused = kiosk(*args, stdin="short\n")
    assert refused.returncode != 0 and "15 characters" in refused.stderr, refused.stderr
    assert not db.parent.exists()
    init_practice(db)


def test_d2_an_import_refused_whole_makes_no_database(tmp_path):
    """A new practice may import before kiosk init, but a file it cannot read, or whose every row
    it rejects, leaves no database behind: the desk reads why and nothing is made."""
    db = tmp_path / "missing" / "kiosk.sqlite3"
    not_ours = tmp_path / "export.csv"
    not_ours.write_text("family,given,dob\nSmith,Ann,2020-01-01\n", encoding="utf-8")
    for file in (not_ours, tmp_path / "absent.csv"):
        done = kiosk("--db", str(db), "import", str(file))
        assert done.returncode == 2 and "rejected" in done.stderr, done.stderr
        assert done.stdout.startswith("0 patients added")
    assert not db.parent.exists()


# An account with no name here, as a folder copied from another machine has: the refusal then
# gives sudo its number. Making a file another account's needs root, as the tests run in CI.
OTHER_UID = 54321


def _as_root() -> None:
    if os.geteuid() != 0:  # skipped on a developer's machine, failed under CI (which runs as root)
        needs("making a file another account's (chown) needs root")


@pytest.fixture(scope="module")
def others_practice(tmp_path_factory):
    """A practice whose data folder, database and key file belong to the kiosk account (another
    than this one), as the README installs it; this process stands for sudo, as root."""
    _as_root()
    folder = tmp_path_factory.mktemp("others") / "data"
    init_practice(folder / "kiosk.sqlite3")
    for path in (folder, *folder.iterdir()):
        os.chown(path, OTHER_UID, OTHER_UID)
    return folder


def _owners(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_uid for path in folder.iterdir()}


@pytest.mark.parametrize(
    "command, said",
    [
        ([], "kiosk ..."),  # the app itself: its slips would be root's
        (["maintain"], "kiosk maintain ..."),
        (["outbox", "send"], "kiosk outbox send ..."),
        (["audit", "anchor"], "kiosk audit anchor ..."),
        (["staff", "add", "bob", "--name", "Bob", "--password-stdin"], "kiosk staff add ..."),
        (["backup", "{tmp}/kiosk-backup.sqlite3"], "kiosk backup ..."),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_s11_d3_a_command_that_writes_refuses_another_accounts_practice(
    others_practice, tmp_path, command, said
):
    """`sudo kiosk maintain` (and any command that writes) ran as root on the kiosk account's
    practice: what it made (a slip folder, an anchor file, a key, a backup) was root's, and the
    desks and timers could not use it. Refused in one line naming the account to run it as;
    nothing is made or changed."""
    before = _owners(others_practice)
    command = [word.format(tmp=tmp_path) for word in command]
    done = kiosk(
        "--db", str(others_practice / "kiosk.sqlite3"), *command, stdin="a long enough password\n"
    )
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert f"belongs to user {OTHER_UID}: run it as user {OTHER_UID}" in done.stderr
    assert f"(sudo -u '#{OTHER_UID}' {said})" in done.stderr
    assert _owners(others_practice) == before and list(tmp_path.iterdir()) == []


def test_s11_commands_that_only_look_still_run_as_another_account(others_practice):
    """Looking writes nothing of the practice's: staff list, audit verify, search, pin list and the
    report run as root too, and the WAL and shared-memory files SQLite makes for a reader are the
    database owner's (SQLite gives them the database's owner when run as root)."""
    db = str(others_practice / "kiosk.sqlite3")
    for command in (["staff", "list"], ["audit", "verify"], ["search", "x"], ["pin", "list"]):
        done = kiosk("--db", db, *command)
        assert done.returncode == 0, (command, done.stderr)
    assert set(_owners(others_practice).values()) == {OTHER_UID}


def test_s11_kiosk_init_as_root_in_the_kiosk_accounts_folder_is_refused(tmp_path):
    """`sudo kiosk init --db /var/lib/kiosk/kiosk.sqlite3` made a root-owned database and key file
    in the folder the README makes for the kiosk account: every desk then failed to open them.
    Refused before the password is asked for; nothing is made."""
    _as_root()
    folder = tmp_path / "var-lib-kiosk"
    folder.mkdir()
    os.chown(folder, OTHER_UID, OTHER_UID)
    db = folder / "practice" / "kiosk.sqlite3"  # a folder below it, made by init, counts too
    done = kiosk("--db", str(db), "init", "--admin", "maria", "--name", "Maria")
    assert done.returncode == 2 and "password" not in done.stderr.lower()
    assert f"{folder} belongs to user {OTHER_UID}" in done.stderr
    assert list(folder.iterdir()) == []


PG_URL = os.environ.get("KIOSK_TEST_PG_URL", "")

# Every command but kiosk init (which makes the database) and demo generate (which makes a demo
# one), as a desk or a timer might run it against a practice's new, empty PostgreSQL database.
REFUSED_ON_AN_EMPTY_DATABASE = [
    ["staff", "add", "bob", "--name", "Bob", "--password-stdin"],
    ["staff", "link", "bob", "P1"],
    ["staff", "unlock", "bob"],
    ["staff", "list"],
    ["audit", "verify"],
    ["audit", "anchor"],
    ["audit", "export"],
    ["outbox", "send"],
    ["outbox", "list"],
    ["outbox", "retry", "1"],
    ["import", "{tmp}/absent.csv"],
    ["search", "smith"],
    ["drive", "--dry-run"],
    ["drive", "--by", "bob"],
    ["pin", "list"],
    ["pin", "revoke", "--reason", "moved away", "--by", "bob", "C1"],
    ["maintain"],
    ["report"],
    ["portal", "token", "list"],
    ["portal", "token", "create", "main-portal"],
    ["portal", "token", "revoke", "main-portal"],
    ["doctor"],
    ["serve-desk"],
    ["init", "--admin", "maria", "--name", "Maria", "--password-stdin"],  # a refused password
    [],  # the app
]


@pytest.mark.skipif(not PG_URL, reason="KIOSK_TEST_PG_URL not set: .ci/postgres.sh start")
def test_d2_no_refused_command_makes_tables_in_an_empty_postgresql_database(
    tmp_path, monkeypatch, capsys
):
    """On PostgreSQL the database is the server's, made empty by its administrator: a command
    refused there (nothing set up yet, no such staff member, a password too short) or one that
    only looks creates no table in it and no key file, and says to run kiosk init."""
    import io
    import uuid

    import psycopg2

    name = f"kiosk_d2_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    key = tmp_path / "keys" / "kiosk.key"
    for variable in [k for k in os.environ if k.startswith("KIOSK_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("KIOSK_PIN_KEY_FILE", str(key))

    def nothing_starts(*args, **kwargs):
        raise AssertionError("a desk started on a database with no tables")

    try:
        for command in REFUSED_ON_AN_EMPTY_DATABASE:
            argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
            monkeypatch.setattr(sys, "stdin", io.StringIO("too-short-1\n"))
            done = cli.main(
                ["--db", url, *argv], start_app=nothing_starts, serve_desks=nothing_starts
            )
            close_database()
            said = " ".join(capsys.readouterr())
            assert done != 0, command
            assert "kiosk init" in said or "rejected" in said or "15 characters" in said, said
            with psycopg2.connect(url) as check, check.cursor() as cursor:
                cursor.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
                assert cursor.fetchall() == [], command
            assert not key.parent.exists(), command
        served = kiosk("--db", url, "serve", "--port", "1", env={"KIOSK_PIN_KEY_FILE": str(key)})
        assert served.returncode != 0 and "kiosk init" in served.stderr, served.stderr
    finally:
        close_database()
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@pytest.mark.parametrize(
    "script",
    [
        ["portal_bench.py", "--clients", "2", "--seconds", "0.3", "--rate", "5", "--sqlite-only"],
        ["import_bench.py", "60"],
        ["redeem_timing.py", "--runs", "1"],
        ["report_bench.py", "--patients", "300"],
    ],
    ids=lambda script: script[0],
)
def test_d2_a_benchmark_leaves_nothing_in_the_temporary_folder(tmp_path, script):
    """D2: each run of a benchmark made a folder in /tmp and left it there (forty portal_bench
    config folders after an afternoon): whatever a benchmark makes for its run goes with it."""
    from conftest import fresh_user_env, run_python

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = fresh_user_env(
        tmp_path, TMPDIR=str(scratch), PYTHONPATH=str(Path(cli.__file__).parents[1])
    )
    done = run_python(
        str(Path(cli.__file__).parents[1] / "benchmarks" / script[0]), *script[1:], env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(scratch.iterdir()) == []


def test_s11_doctor_run_as_another_account_says_whom_to_run_as(others_practice):
    """`sudo kiosk doctor` on the kiosk account's practice said "ok" for the key file, and the next
    command that writes was then refused: the doctor says it first, on the key file's line (a
    warning: looking as root is fine), with the account to run the desks and the writers as."""
    done = kiosk("--db", str(others_practice / "kiosk.sqlite3"), "doctor")
    line = next(line for line in done.stdout.splitlines() if "key file" in line)
    assert line.startswith("warn"), done.stdout
    assert f"user {OTHER_UID}'s: run the desks and every command that writes" in line
    assert f"(sudo -u '#{OTHER_UID}' kiosk ...)" in line
    assert set(_owners(others_practice).values()) == {OTHER_UID}
