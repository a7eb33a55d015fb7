"""The kiosk command: every error is one line and a non-zero exit, never a traceback."""

import argparse

import pytest

from kiosk import __version__
from kiosk.cli import main

from conftest import init_practice
from conftest import kiosk_cli as run


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.sqlite3")


def _add_devon(db):
    return run(
        "--db",
        db,
        "staff",
        "add",
        "devon",
        "--name",
        "Devon Shaw",
        "--password-stdin",
        stdin="training twelve desk\n",
    )


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for word in ("init", "staff", "audit", "outbox", "import", "--training"):
        assert word in help_text
    with pytest.raises(
        SystemExit
    ):  # a command's own help has its arguments, though main parsed no other
        main(["outbox", "send", "--help"])
    assert "--limit N" in capsys.readouterr().out


def test_init_then_staff_add_link_and_list(db):
    created = init_practice(db, name="Maria Lopez", portal_user="pp-1")
    assert "administrator maria" in created.stdout
    again = run(
        "--db", db, "init", "--admin", "x", "--name", "X", "--password-stdin", stdin="whatever12\n"
    )
    assert again.returncode != 0 and "already has staff" in again.stderr
    added = _add_devon(db)
    assert added.returncode == 0 and "not linked" in added.stdout
    linked = run("--db", db, "staff", "link", "devon", "pp-2")
    assert linked.returncode == 0 and "linked to pp-2" in linked.stdout
    listed = run("--db", db, "staff", "list")
    assert "devon" in listed.stdout and "pp-2" in listed.stdout
    verified = run("--db", db, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["staff", "link", "nobody", "pp-9"], "", "No staff member 'nobody'"),
        (
            ["staff", "add", "amy", "--name", "Amy", "--password-stdin"],
            "short\n",
            "at least 15 characters",
        ),
        (["staff", "add", "amy", "--name", "Amy"], "", "--password-stdin"),
        (["audit", "export", "--since", "yesterday"], "", "--since must be a date"),
        (["frobnicate"], "", "invalid choice"),
        (["--training", "staff", "list"], "", "--training only starts the app"),
        (["import"], "", "name at least one file"),
        (["staff"], "", "required: {add,link,list,unlock} (see kiosk staff --help)"),
        (
            ["outbox", "resend"],
            "",
            "invalid choice: 'resend' (choose from 'send', 'list', 'retry') (see kiosk outbox --help)",
        ),
        (["demo", "generate"], "", "required: --patients"),
    ],
)
def test_errors_are_one_line_and_non_zero(db, args, stdin, message, request):
    if args[:2] in (["staff", "add"], ["staff", "link"]):  # D2: only on a practice's database
        db = request.getfixturevalue("cli_practice")
    result = run("--db", db, *args, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_config_is_one_line_naming_the_key(db, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[practice]\npin_lifetime_days = -3\n")
    result = run("--config", str(bad), "--db", db, "staff", "list")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "kiosk: config practice.pin_lifetime_days: must be between 1 and 365"
    )


def test_unusable_database_is_one_line(tmp_path):
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    result = run("--db", str(folder), "staff", "list")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unsupported_database_url_is_one_line(tmp_path):
    result = run("--db", "mysql://x@localhost/kiosk", "staff", "list")
    assert result.returncode == 1 and "not supported" in result.stderr


def test_audit_verify_reports_tampering(db):
    init_practice(db)
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("UPDATE audit_event SET staff = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    result = run("--db", db, "audit", "verify")
    assert result.returncode == 1 and "event 1" in result.stdout


def test_starting_on_a_database_without_staff_says_what_to_do(db):
    missing = run("--db", db)  # D2: and leaves no empty database behind
    assert (
        missing.returncode == 2
        and "no database" in missing.stderr
        and "run kiosk init" in missing.stderr
    )
    assert run("--db", db, "demo", "generate", "--patients", "1").returncode == 0
    result = run("--db", db)
    assert result.returncode == 2 and "no staff yet: run kiosk init" in result.stderr
    assert "Traceback" not in result.stderr


def test_s10_audit_anchor_prints_the_line_and_verify_checks_against_it(db):
    """kiosk audit anchor writes beside the database (0600); cutting the tail off and fixing the head
    row is then found by kiosk audit verify."""
    import os
    import sqlite3
    from pathlib import Path

    init_practice(db)
    _add_devon(db)
    before = run("--db", db, "audit", "verify")
    assert before.returncode == 0 and "not anchored yet" in before.stdout
    anchored = run("--db", db, "audit", "anchor")
    assert anchored.returncode == 0 and anchored.stdout[:2] == "20" and " seq=2 " in anchored.stdout
    assert os.stat(db + ".anchor").st_mode & 0o777 == 0o600
    assert Path(db + ".anchor").read_text() == anchored.stdout
    after = run("--db", db, "audit", "verify")
    assert after.returncode == 0 and "up to the anchor of" in after.stdout
    con = sqlite3.connect(db)
    con.execute("DELETE FROM audit_event WHERE seq = 2")
    con.execute(
        "UPDATE audit_head SET seq = 1, last_hash = (SELECT hash FROM audit_event WHERE seq = 1)"
    )
    con.commit()
    con.close()
    cut = run("--db", db, "audit", "verify")
    assert (
        cut.returncode == 1
        and "event 2: anchored on" in cut.stdout
        and "Traceback" not in cut.stderr
    )
    refused = run("--db", db, "audit", "anchor")
    assert refused.returncode == 1 and "Not anchored" in refused.stderr


def test_s10_audit_anchor_as_another_account_than_the_keys_is_refused(db, capsys, monkeypatch):
    """`sudo kiosk audit anchor` made a root-owned anchor file the kiosk account's daily timer
    could not append to (and a root-owned WAL every desk was locked out of). Refused in one line
    naming the account to run it as; nothing is written. (Another account is stood for by this
    process's effective uid, as for kiosk restore: making a file someone else's needs root.)"""
    import os
    import pwd
    from pathlib import Path

    init_practice(db)
    folder = Path(db).parent
    before = sorted(folder.iterdir())
    key = Path(db + ".key")
    monkeypatch.setattr(os, "geteuid", lambda: key.stat().st_uid + 1)
    assert main(["--db", db, "audit", "anchor"]) == 2
    said = capsys.readouterr()
    owner = pwd.getpwuid(key.stat().st_uid).pw_name
    assert said.out == "" and said.err.count("\n") == 1
    assert f"{key} belongs to {owner}" in said.err
    assert f"sudo -u {owner} kiosk audit anchor" in said.err
    assert sorted(folder.iterdir()) == before and not Path(db + ".anchor").exists()
    monkeypatch.undo()
    assert run("--db", db, "audit", "anchor").returncode == 0  # as the key's own account


def test_d1_d2_shared_options_also_follow_the_command(tmp_path):
    """As the README and kiosk's own refusal write them: ``kiosk doctor --terminal NAME`` and
    ``kiosk demo generate --db demo.sqlite3`` (once "unrecognized arguments")."""
    config = tmp_path / "kiosk.toml"
    config.write_text('[terminals.front-1]\n[terminals.checkout]\nprinter = "receipt-q"\n')
    doctor = run("doctor", "--config", str(config), "--terminal", "checkout")
    assert doctor.stdout.startswith(f"ok    config     {config}; terminal checkout"), doctor.stderr
    after = run(
        "--terminal", "front-1", "doctor", "--config", str(config), "--terminal", "checkout"
    )
    assert "terminal checkout" in after.stdout  # the one after the command wins
    demo = tmp_path / "demo.sqlite3"
    made = run("demo", "generate", "--db", str(demo), "--patients", "3")
    assert made.returncode == 0 and demo.exists(), made.stderr
    looked = run("search", "x", "--db", str(tmp_path / "none.sqlite3"))
    assert looked.returncode != 0 and "none.sqlite3" in looked.stderr


def test_d2_ctrl_d_at_the_password_prompt_is_one_line_not_an_unexpected_error(tmp_path):
    """``kiosk init`` asks for the password on the terminal; Ctrl+D there said "unexpected error
    (EOFError)" and wrote a traceback to the error log."""
    from desk_terminal import DeskTerminal

    db = tmp_path / "kiosk.sqlite3"
    init = ["--db", str(db), "init", "--admin", "ann", "--name", "Ann"]
    terminal = DeskTerminal(init, tmp_path)
    try:
        terminal.wait_for("Password:")
        terminal.press("\x04")  # Ctrl+D
        terminal.wait_for("no password given")
        terminal.settle()
    finally:
        terminal.close()
    assert "unexpected" not in terminal.text and not db.exists()


def test_d1_output_cut_short_by_head_says_nothing_more(tmp_path):
    """``kiosk doctor | head -1``: the lines head never reads are no error worth a message (it said
    "kiosk: Broken pipe" under head's line)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    doctor = [sys.executable, "-m", "kiosk_screens.launch", "--db", str(tmp_path / "x"), "doctor"]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before kiosk writes its first line
    done = subprocess.run(doctor, stdout=write, stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(write)
    assert done.stderr == b""


def test_s11_an_audit_export_file_is_readable_by_its_owner_only(tmp_path):
    """The export holds chart numbers and the names a fix changed: written 0644 under the usual
    umask, any account on the server could read it; and ``--out -`` made a file named "-"."""
    import os
    import stat

    db = tmp_path / "kiosk.sqlite3"
    init_practice(db)
    out = tmp_path / "audit.csv"
    out.write_text("old\n")
    out.chmod(0o644)
    done = run("--db", str(db), "audit", "export", "--out", str(out))
    assert done.returncode == 0 and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("seq,")
    here = run("--db", str(db), "audit", "export", "--out", "-")
    assert here.stdout.startswith("seq,") and not os.path.exists("-")


HUGE = str(10**20)  # past any whole number a database stores (2**63 - 1)


@pytest.mark.parametrize(
    "args",
    [
        ["pin", "list", "--expiring", HUGE],
        ["pin", "list", "--expiring", "3000000"],  # a date past year 9999
        ["search", "a", "--limit", HUGE],
        ["outbox", "retry", HUGE],
        ["outbox", "retry", f"-{HUGE}"],
        ["outbox", "send", "--limit", HUGE],
        ["drive", "--dry-run", "--limit", HUGE],
        ["drive", "--resume", HUGE, "--by", "maria"],
        ["drive", "--dry-run", "--days", HUGE],
        ["maintain", "--reminder-days", HUGE],
        ["demo", "generate", "--patients", HUGE],
        ["demo", "generate", "--patients", "1", "--seed", HUGE],
        ["serve", "--port", HUGE],
        ["serve-desk", "--port", HUGE],
    ],
)
def test_a_huge_number_is_one_line_not_an_unexpected_error(cli_practice, capsys, args):
    """`kiosk pin list --expiring 99999999999999999999`, `search --limit` and `outbox retry` with
    one ended in "unexpected error (OverflowError)": every whole-number option and argument is
    said to be too large, in one line, before anything is opened."""
    from kiosk.store.db import close_database

    code = main(["--db", cli_practice, *args])
    close_database()
    said = capsys.readouterr().err
    assert code in (1, 2) and "unexpected" not in said, said
    assert len(said.strip().splitlines()) == 1 and ("large" in said or "between" in said), said


def test_d2_demo_generate_refuses_a_count_that_would_fill_the_disk(tmp_path, capsys):
    """`kiosk demo generate --patients 1000000000000000` wrote patients until the disk was full:
    past the most a demo makes it is one line saying the range, and no database is made."""
    from kiosk.ops.demo import MAX_PATIENTS

    demo = tmp_path / "demo.sqlite3"
    code = main(["demo", "generate", "--db", str(demo), "--patients", str(10**15)])
    said = capsys.readouterr().err
    assert code != 0 and said.strip().splitlines() == [
        f"kiosk: --patients must be between 1 and {MAX_PATIENTS:,}"
    ], said
    assert not demo.exists()


def test_every_whole_number_option_is_bounded():
    """The class, not the examples: no option or argument anywhere in kiosk's commands takes
    Python's unbounded int."""
    import argparse

    from kiosk import cli

    def actions(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from actions(sub)
            else:
                yield action

    every = list(actions(cli.build_parser()))
    assert not [a.dest for a in every if a.type is int]
    assert [a for a in every if a.type is cli._whole]


def test_d2_every_benchmark_count_is_bounded_as_the_cli_s():
    """`benchmarks/report_bench.py --patients 1000000000000000` would write patients until the disk
    was full, `health_system.py --desks 100000` fork that many desks: no benchmark's option takes
    Python's unbounded int; their counts go through cli.whole_between, --patients to the bound
    kiosk demo generate has. Read from the scripts' text: their imports are heavy."""
    import ast
    from pathlib import Path

    from kiosk import cli
    from kiosk.ops.demo import MAX_PATIENTS

    unbounded, patients = [], []
    for script in sorted((Path(cli.__file__).parents[1] / "benchmarks").glob("*.py")):
        for call in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call) or getattr(call.func, "attr", "") != "add_argument":
                continue
            option = next((a.value for a in call.args if isinstance(a, ast.Constant)), "")
            kind = next((k.value for k in call.keywords if k.arg == "type"), None)
            if isinstance(kind, ast.Name) and kind.id == "int":
                unbounded.append(f"{script.name} {option}")
            if option == "--patients":
                patients.append((script.name, ast.unparse(kind) if kind else ""))
    assert unbounded == []
    assert patients and {kind for _, kind in patients} == {"whole_between(1, MAX_PATIENTS)"}
    bound = cli.whole_between(1, MAX_PATIENTS)
    assert bound("2000") == 2000
    for text in ("0", str(MAX_PATIENTS + 1), str(10**15)):
        with pytest.raises(argparse.ArgumentTypeError, match="between 1 and 10,000,000"):
            bound(text)
