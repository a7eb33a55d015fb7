"""kiosk doctor: one line per check, a non-zero exit when one fails; it looks and changes nothing."""

import os
import socket
import uuid

import pytest
from aiosmtpd.controller import Controller

from kiosk import cli
from kiosk.store.db import close_database

from test_sms import SID, TOKEN, provider

PG_URL = os.environ.get("KIOSK_TEST_PG_URL", "")


class _Inbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 OK"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox, port = _Inbox(), _port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield port, inbox
    server.stop()


@pytest.fixture
def desk(tmp_path, monkeypatch, capsys):
    """An initialised SQLite practice, a fake lpstat on PATH, and the variables doctor reads."""
    db = tmp_path / "kiosk.sqlite3"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("correct horse battery staple\n"))
    assert (
        cli.main(["--db", str(db), "init", "--admin", "ann", "--name", "Ann", "--password-stdin"])
        == 0
    )
    close_database()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lpstat").write_text(
        '#!/bin/sh\ncase "$2" in front) echo "printer front is idle.";; '
        '*) echo "lpstat: Invalid destination name in list \\"$2\\"!" >&2; exit 1;; esac\n'
    )
    (bin_dir / "lpstat").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("KIOSK_PRINTER", "front")
    capsys.readouterr()
    return db


def doctor(db, capsys, *extra):
    code = cli.main(["--db", str(db), *extra, "doctor"])
    close_database()
    lines = capsys.readouterr().out.splitlines()
    return code, {line.split()[1]: line for line in lines}, lines


def test_d1_doctor_says_each_check_passed_in_one_line(desk, smtp, monkeypatch, capsys):
    port, inbox = smtp
    monkeypatch.setenv("KIOSK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KIOSK_SMTP_PORT", str(port))
    monkeypatch.setenv("KIOSK_SMTP_SECURITY", "none")
    code, by_check, lines = doctor(desk, capsys)
    assert code == 0, lines
    assert [line.split()[1] for line in lines] == [
        "config",
        "database",
        "key",
        "anchor",
        "smtp",
        "printer",
        "disk",
    ]
    assert by_check["database"].startswith("ok") and "schema version" in by_check["database"]
    assert (
        by_check["smtp"].startswith("ok") and "EHLO" in by_check["smtp"] and inbox.received == []
    )  # no mail
    assert by_check["printer"].startswith("ok") and "front" in by_check["printer"]
    assert by_check["key"].startswith("ok") and by_check["disk"].startswith("ok")


def test_d1_doctor_fails_on_a_loose_key_an_unknown_printer_and_no_mail_server(
    desk, monkeypatch, capsys
):
    os.chmod(f"{desk}.key", 0o644)
    monkeypatch.setenv("KIOSK_PRINTER", "back-office")
    monkeypatch.setenv("KIOSK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KIOSK_SMTP_PORT", str(_port()))  # nobody listening
    monkeypatch.setenv("KIOSK_SMTP_SECURITY", "none")
    code, by_check, _ = doctor(desk, capsys)
    assert code == 1
    assert by_check["key"].startswith("FAIL") and "chmod 600" in by_check["key"]
    assert by_check["printer"].startswith("FAIL") and "back-office" in by_check["printer"]
    assert (
        by_check["smtp"].startswith("FAIL")
        and "could not reach the mail server" in by_check["smtp"]
    )
    assert by_check["disk"].startswith("ok")  # the other checks still ran


def test_d1_doctor_says_a_mail_server_that_never_greets_did_not_answer(desk, monkeypatch, capsys):
    """A host that takes the connection and says nothing (a firewall, a wrong port): the smtp line
    says it did not answer in time, not that it closed the connection."""
    with socket.socket() as silent:  # listens, never accepts: the kernel completes the handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("KIOSK_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("KIOSK_SMTP_PORT", str(silent.getsockname()[1]))
        monkeypatch.setenv("KIOSK_SMTP_SECURITY", "none")
        monkeypatch.setenv("KIOSK_SMTP_TIMEOUT_SECONDS", "1")
        code, by_check, _ = doctor(desk, capsys)
    assert code == 1 and by_check["smtp"].startswith("FAIL"), by_check["smtp"]
    assert "did not answer in 1 s" in by_check["smtp"]


def test_d1_doctor_fails_on_a_printer_that_rejects_jobs(desk, capsys):
    """A queue can be enabled and idle yet reject every job (cupsreject): lpstat -p looks fine,
    lp refuses each slip. The printer line fails and says how to let it take jobs."""
    (desk.parent / "bin" / "lpstat").write_text(
        '#!/bin/sh\ncase "$1" in -p) echo "printer front is idle.  enabled since today";\n'
        'printf "\\tRejecting Jobs\\n";; -a) echo "front not accepting requests since today -";;'
        " esac\n"
    )
    code, by_check, _ = doctor(desk, capsys)
    assert code == 1 and by_check["printer"].startswith("FAIL"), by_check["printer"]
    assert "not accepting jobs" in by_check["printer"] and "cupsaccept front" in by_check["printer"]


def test_d2_doctor_on_a_missing_database_fails_and_makes_none(tmp_path, capsys):
    db = tmp_path / "none" / "kiosk.sqlite3"
    code, by_check, _ = doctor(db, capsys)
    assert code == 1 and by_check["database"].startswith("FAIL") and not db.parent.exists()


def test_d1_doctor_on_a_bad_setting_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KIOSK_SMTP_PORT", "0")
    code, by_check, _ = doctor(tmp_path / "k.sqlite3", capsys)
    assert code == 1 and by_check["config"].startswith("FAIL") and "smtp.port" in by_check["config"]


def _sms_settings(monkeypatch, provider, token=TOKEN):
    for name, value in {"ACCOUNT_SID": SID, "AUTH_TOKEN": token, "FROM_NUMBER": "+13175550100",
                        "BASE_URL": provider.url, "TIMEOUT_SECONDS": "5"}.items():  # fmt: skip
        monkeypatch.setenv(f"KIOSK_SMS_{name}", value)


def test_i2_doctor_reads_the_sms_providers_account_and_sends_nothing(
    desk, provider, monkeypatch, capsys
):
    _sms_settings(monkeypatch, provider)
    code, by_check, lines = doctor(desk, capsys)
    assert code == 0 and [line.split()[1] for line in lines].index("sms") == 5  # after smtp
    assert by_check["sms"].startswith("ok") and "took the credentials" in by_check["sms"], lines
    assert [(m, p) for m, p, _, _ in provider.requests] == [
        ("GET", f"/2010-04-01/Accounts/{SID}.json")
    ]  # a read of the account: no message posted
    assert TOKEN not in "\n".join(lines)


def test_i2_doctor_without_an_sms_provider_has_no_sms_line(desk, capsys):
    _, by_check, _ = doctor(desk, capsys)
    assert "sms" not in by_check


def test_i2_doctor_fails_on_a_wrong_token_without_showing_it(desk, provider, monkeypatch, capsys):
    _sms_settings(monkeypatch, provider, token="not-the-right-token-42")
    code, by_check, lines = doctor(desk, capsys)
    assert code == 1 and by_check["sms"].startswith("FAIL")
    assert "refused kiosk's credentials (401" in by_check["sms"]
    assert "sms.auth_token" in by_check["sms"]
    assert "not-the-right-token-42" not in "\n".join(lines) and TOKEN not in "\n".join(lines)
    assert by_check["disk"].startswith("ok")  # the other checks still ran


def test_i2_doctor_fails_on_a_suspended_account_or_an_unreachable_provider(
    desk, provider, monkeypatch, capsys
):
    _sms_settings(monkeypatch, provider)
    provider.account["status"] = "suspended"
    code, by_check, _ = doctor(desk, capsys)
    assert code == 1 and by_check["sms"].startswith("FAIL") and "is suspended" in by_check["sms"]
    provider.account |= {"status": "active", "type": "Trial"}
    code, by_check, _ = doctor(desk, capsys)
    assert by_check["sms"].startswith("warn") and "trial account" in by_check["sms"]
    provider.close()
    code, by_check, _ = doctor(desk, capsys)
    assert code == 1 and by_check["sms"].startswith("FAIL")
    assert "could not reach the SMS provider" in by_check["sms"]
    assert not by_check["sms"].endswith("will try again")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="KIOSK_TEST_PG_URL not set")
def test_d1_doctor_checks_the_clock_against_postgresql(tmp_path, capsys, monkeypatch, provider):
    import psycopg2

    _sms_settings(monkeypatch, provider)  # I2: the provider check is the same on PostgreSQL

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("KIOSK_PIN_KEY_FILE", str(tmp_path / "pin.key"))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("correct horse battery staple\n"))
    try:
        assert (
            cli.main(["--db", url, "init", "--admin", "ann", "--name", "Ann", "--password-stdin"])
            == 0
        )
        close_database()
        capsys.readouterr()
        _, by_check, lines = doctor(url, capsys)
        # this machine's clock ten minutes fast (the server's is not touched): doctor fails it
        import datetime as dt
        import types

        class Fast(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return dt.datetime.now(tz) + dt.timedelta(minutes=10)

        monkeypatch.setattr("kiosk.ops.doctor.dt", types.SimpleNamespace(datetime=Fast, UTC=dt.UTC))
        skewed, skewed_checks, skewed_lines = doctor(url, capsys)
    finally:
        close_database()
        admin.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
    assert by_check["clock"].startswith("ok") and "database server" in by_check["clock"], lines
    assert by_check["database"].startswith("ok") and by_check["sms"].startswith("ok")
    assert skewed == 1 and skewed_checks["clock"].startswith("FAIL"), skewed_lines
    assert "ahead of the database server" in skewed_checks["clock"]
    assert "time sync" in skewed_checks["clock"]


def test_d1_doctor_names_a_damaged_key_a_stopped_cups_and_a_nearly_full_disk_plainly(
    desk, monkeypatch, capsys, tmp_path
):
    """Each check failing as a practice met it: a damaged key file said "SecretKeyError: ...", a
    stopped CUPS called the queue an invalid destination, and 19 MiB free read "0.0 GiB"."""
    from collections import namedtuple

    from kiosk.ops import doctor as checks

    (tmp_path / "kiosk.sqlite3.key").write_text("not a key\n")
    (tmp_path / "bin" / "lpstat").write_text(
        '#!/bin/sh\ncase "$1" in -r) echo "scheduler is not running";; '
        '*) echo "lpstat: Invalid destination name in list \\"$2\\"!" >&2; exit 1;; esac\n'
    )
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda _: usage(2**30, 2**30, 19 * 2**20))
    code, by_check, _ = doctor(desk, capsys)
    assert code == 1
    assert by_check["key"].startswith("FAIL") and "Error" not in by_check["key"]
    assert "damaged" in by_check["key"]
    assert "CUPS) is not running" in by_check["printer"] and "Invalid" not in by_check["printer"]
    assert by_check["disk"].startswith("FAIL") and "only 19.0 MiB free" in by_check["disk"]


def test_d1_doctor_says_a_server_that_is_not_a_mail_server_did_not_greet(desk, monkeypatch, capsys):
    """smtp.port pointed at a web server: the line said "did not take the message", though
    kiosk doctor offers none."""
    import threading

    with socket.socket() as web:
        web.bind(("127.0.0.1", 0))
        web.listen()

        def answer():
            talker, _ = web.accept()
            with talker:
                talker.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        threading.Thread(target=answer, daemon=True).start()
        monkeypatch.setenv("KIOSK_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("KIOSK_SMTP_PORT", str(web.getsockname()[1]))
        monkeypatch.setenv("KIOSK_SMTP_SECURITY", "none")
        code, by_check, _ = doctor(desk, capsys)
    assert code == 1 and "did not greet kiosk as a mail server" in by_check["smtp"]
    assert "message" not in by_check["smtp"]


def test_d1_doctor_fails_on_a_config_file_others_can_read_that_holds_a_password(
    desk, tmp_path, capsys
):
    """The README installs the config 0600; a copy left 0644 with smtp.password in it let every
    account on the server read the password, and the config line said ok."""
    config = tmp_path / "kiosk.toml"
    config.write_text('[smtp]\nhost = ""\npassword = "mail-s3cret"\n')
    config.chmod(0o644)
    code, by_check, _ = doctor(desk, capsys, "--config", str(config))
    assert code == 1 and by_check["config"].startswith("FAIL"), by_check["config"]
    assert "smtp.password" in by_check["config"] and "chmod 600" in by_check["config"]
    assert "mail-s3cret" not in by_check["config"]
    config.chmod(0o600)
    code, by_check, _ = doctor(desk, capsys, "--config", str(config))
    assert by_check["config"].startswith("ok")


def test_d1_doctor_checks_the_shared_slip_folder(desk, monkeypatch, capsys, tmp_path):
    """With printer.output_group, doctor says whether the folder desks save refused slips in is
    there, the group's and 2750, with the command that makes it so; one line, exit 1 if not."""
    from test_printing import _other_group

    group, gid = _other_group()
    shared = tmp_path / "srv" / "slips"
    monkeypatch.setenv("KIOSK_SLIP_DIR", str(shared))
    monkeypatch.setenv("KIOSK_SLIP_GROUP", group)
    code, by_check, lines = doctor(desk, capsys)
    assert code == 1 and by_check["slips"].startswith("FAIL")
    assert f"is missing: install -d -m 2750 -o $(whoami) -g {group} {shared}" in by_check["slips"]
    shared.mkdir(parents=True, mode=0o755)
    code, by_check, lines = doctor(desk, capsys)
    assert by_check["slips"].startswith("FAIL") and "chmod 2750" in by_check["slips"]
    os.chown(shared, -1, gid)
    shared.chmod(0o2750)
    code, by_check, lines = doctor(desk, capsys)
    assert by_check["slips"] == (
        f"ok    slips      {shared}: saved slips readable by group {group} (2750)"
    ), lines


def test_d1_doctor_on_postgresql_without_a_key_file_says_so_on_aligned_lines(capsys, monkeypatch):
    """A PostgreSQL practice with no pin_key_file (unreachable here, or reached): the anchor check
    broke on it and printed "anchor file  SecretKeyError: ..." out of the columns every other
    line keeps. Each line is the verdict, the check's name and its words, aligned; it says what to
    set, and no exception's name."""
    monkeypatch.delenv("KIOSK_PIN_KEY_FILE", raising=False)
    code, by_check, lines = doctor("postgresql://kiosk@127.0.0.1:1/none", capsys)
    assert code == 1 and "pin_key_file" in by_check["anchor"], lines
    for line in lines:
        assert line[:6] in ("ok    ", "warn  ", "FAIL  ") and line[15:17] == "  ", line
        assert line[17] != " " and "Error:" not in line, line


def test_d1_doctor_says_a_print_service_that_never_answers_did_not_answer(
    desk, monkeypatch, capsys, tmp_path
):
    """CUPS hung (or a CUPS_SERVER gone quiet): lpstat never returned, and the line read
    "printers  TimeoutExpired: Command [...] timed out", out of the columns, naming no remedy."""
    from kiosk.ops import doctor as checks

    (tmp_path / "bin" / "lpstat").write_text("#!/bin/sh\nexec sleep 30\n")
    monkeypatch.setattr(checks, "LPSTAT_SECONDS", 0.5)
    code, by_check, lines = doctor(desk, capsys)
    assert code == 1 and by_check["printer"].startswith("FAIL  printer    "), lines
    assert "did not answer" in by_check["printer"] and "Timeout" not in by_check["printer"]
