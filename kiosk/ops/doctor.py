"""``kiosk doctor``: is this desk ready? One line per check, and a non-zero exit when one fails.

Each check looks and changes nothing: the database is opened read-only, SMTP gets EHLO and no
mail, the SMS provider (when ``[sms]`` is set up) is asked for its account and sends nothing, the
printer is asked about with ``lpstat``. Checks: the configuration, the database (reached, and at
this kiosk's schema version), the key file (there, private, this database's, and this account's: S11) and the anchor file,
the mail server, the SMS provider, the printers of the desk and of every ``[terminals]`` entry, free disk, and
the clock against the PostgreSQL server's (PIN expiry and the audit trail's times depend on it).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import Config

OK, WARN, FAIL = "ok", "warn", "FAIL"
MIN_FREE_BYTES = 500 * 2**20  # below this a day's work (WAL, slips, the error log) may not fit
MAX_SKEW_SECONDS = 30.0
LPSTAT_SECONDS = 20  # a print service that has not answered lpstat by then is not answering


@dataclass(frozen=True)
class Check:
    verdict: str  # OK, WARN or FAIL
    name: str
    words: str

    def __str__(self) -> str:
        return f"{self.verdict:<4}  {self.name:<9}  {self.words}"


def run_checks(
    config: Config, config_words: str, config_file: Path | None = None
) -> Iterator[Check]:
    """Every check in order; a check that cannot run says why (FAIL), and the others still run."""
    yield _config_file(config_file, config_words)
    database_ok = False
    checks = (_database, _key_file, _anchor_file, _smtp, _sms, _printers, _slips, _disk, _clock)
    for check in checks:
        if check in (_key_file, _clock) and not database_ok:
            continue
        try:
            result = check(config)
        except Exception as error:  # noqa: BLE001  # a check that breaks is a failed check, said in one line
            result = Check(
                FAIL,
                check.__name__.strip("_").replace("_", " "),
                f"{type(error).__name__}: {error}",
            )
        if result is None:
            continue
        if check is _database:
            database_ok = result.verdict == OK
        yield result


SECRET_SETTINGS = (("smtp", "password"), ("sms", "auth_token"))


def _config_file(path: Path | None, words: str) -> Check:
    """A config file that holds a password or token is the kiosk account's alone (S9, S11): the
    README installs it 0600; a copy left 0644 lets every account on the server read them."""
    if path is None or not path.is_file():
        return Check(OK, "config", words)
    import tomllib

    with path.open("rb") as file:
        settings = tomllib.load(file)
    held = [f"{table}.{key}" for table, key in SECRET_SETTINGS if settings.get(table, {}).get(key)]
    loose = _private(path)
    if held and loose:
        return Check(FAIL, "config", f"{path} holds {' and '.join(held)} and is {loose}")
    return Check(OK, "config", words)


def _database(config: Config) -> Check:
    from kiosk.store.db import DatabaseError, open_database, shown
    from kiosk.store.practice import database_target
    from kiosk.store.schema import SCHEMA_VERSION, SchemaError, current_version

    target = database_target(config)
    if "://" not in target and not Path(target).expanduser().is_file():
        return Check(FAIL, "database", f"there is no database at {target}: run kiosk init")
    try:
        open_database(
            str(Path(target).expanduser()) if "://" not in target else target, read_only=True
        )
    except (DatabaseError, SchemaError) as error:
        return Check(FAIL, "database", str(error))
    return Check(
        OK,
        "database",
        f"{shown(target)} reached, schema version {current_version()} "
        f"(this kiosk: {SCHEMA_VERSION})",
    )


def _private(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    return "" if not mode & 0o077 else f"readable by others (mode {mode:o}): chmod 600 {path}"


def _key_file(config: Config) -> Check:
    from kiosk import security
    from kiosk.store.files import other_owner
    from kiosk.store.models import Practice
    from kiosk.store.practice import KEY_CHECK_TEXT, database_target, key_file

    try:
        path = key_file(config, database_target(config))
    except security.SecretKeyError as error:
        return Check(FAIL, "key file", str(error))
    if not path.is_file():
        return Check(
            FAIL,
            "key file",
            f"{path} is missing: restore it from where you keep it (not the backup)",
        )
    loose = _private(path)
    if loose:
        return Check(FAIL, "key file", f"{path} is {loose}")
    row = Practice.select().first()
    try:
        key = security.load_or_create_key(path, create=False)
    except security.SecretKeyError as error:  # damaged, or not readable by this account
        return Check(FAIL, "key file", str(error))
    if row is not None and row.key_check and row.key_check != key.digest("check", KEY_CHECK_TEXT):
        return Check(FAIL, "key file", f"{path} is not this database's key")
    words = f"{path}: present, 0600, this database's key"
    other = other_owner(path)
    if other is not None:  # S11: the commands that write refuse here; say so before one is needed
        owner, account = other
        run_as = (
            f"run the desks and every command that writes as {owner} (sudo -u {account} kiosk ...)"
        )
        return Check(WARN, "key file", f"{words}, and {owner}'s: {run_as}")
    return Check(OK, "key file", words)


def _anchor_file(config: Config) -> Check:
    from kiosk.security import SecretKeyError
    from kiosk.store.practice import anchor_file

    try:
        path = anchor_file(config)
    except SecretKeyError as error:  # on PostgreSQL it is kept beside the key file (S10)
        return Check(FAIL, "anchor", f"nowhere to keep it: {error}")
    if not path.exists():
        return Check(WARN, "anchor", f"{path} not written yet: run kiosk audit anchor daily")  # S10
    loose = _private(path)
    return (
        Check(WARN, "anchor", f"{path} is {loose}")
        if loose
        else Check(OK, "anchor", f"{path}: 0600")
    )


def _smtp(config: Config) -> Check:
    from kiosk.messages.mail import SmtpLink
    from kiosk.messages.outbox import SendFailure

    c = config.smtp
    if not c.host:
        return Check(WARN, "smtp", "smtp.host is not set: welcome messages wait in the outbox")
    try:
        SmtpLink(c).greet()
    except SendFailure as failure:
        return Check(FAIL, "smtp", str(failure).removesuffix(": will try again"))
    return Check(
        OK,
        "smtp",
        f"{c.host}:{c.port} answered EHLO ({c.security}{', logged in' if c.username else ''})",
    )


def _sms(config: Config) -> Check | None:
    """I2: the provider reached and the SID and token taken, by reading the account (no text
    sent). The token is never said: a refusal names the settings to check, not their values."""
    from kiosk.messages.outbox import SendFailure
    from kiosk.messages.sms import SmsSender

    c = config.sms
    if not c.configured:
        return None  # texts go through carrier gateways (R7), which the smtp check covers
    sender = SmsSender(c)
    try:
        account = sender.account()
    except SendFailure as failure:
        return Check(FAIL, "sms", str(failure).removesuffix(": will try again"))
    where = f"the SMS provider at {sender.host}"
    if account.status != "active":
        return Check(
            FAIL,
            "sms",
            f"{where} says account {c.account_sid} is {account.status or 'not active'}: "
            "texts will be refused",
        )
    if account.kind.lower() == "trial":
        return Check(
            WARN,
            "sms",
            f"{where} took the credentials, but it is a trial account: it texts only numbers "
            "verified with the provider",
        )
    return Check(OK, "sms", f"{where} took the credentials: account {c.account_sid} active")


def _printers(config: Config) -> Check:
    try:
        return _queues(config)
    except subprocess.TimeoutExpired:  # CUPS hung, or a print server (CUPS_SERVER) gone quiet
        return Check(
            FAIL,
            "printer",
            f"the print service did not answer lpstat in {LPSTAT_SECONDS} s: "
            "check it (systemctl status cups)",
        )


def _queues(config: Config) -> Check:
    queues = {
        q for q in [config.printer.name, *(t.printer for t in config.terminals.values())] if q
    }
    if not queues:
        return Check(WARN, "printer", "no printer set: slips are saved as PDF files")
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return Check(FAIL, "printer", "lpstat not found: install the CUPS client (cups-client)")
    # With CUPS stopped, lpstat calls every queue an "Invalid destination": say what is wrong
    scheduler = subprocess.run(
        [lpstat, "-r"], capture_output=True, text=True, timeout=LPSTAT_SECONDS
    )
    if "not running" in scheduler.stdout + scheduler.stderr:
        return Check(
            FAIL,
            "printer",
            "the print service (CUPS) is not running: start it (systemctl start cups)",
        )
    problems, fine = [], []
    for queue in sorted(queues):
        done = subprocess.run(
            [lpstat, "-p", queue], capture_output=True, text=True, timeout=LPSTAT_SECONDS
        )
        said = (done.stdout or done.stderr).strip().splitlines()
        line = said[0] if said else f"lpstat exited {done.returncode}"
        if done.returncode != 0 or "disabled" in line:
            problems.append(f"{queue}: {line}")
            continue
        # An enabled queue can still reject jobs (cupsreject): lp then refuses every slip
        taking = subprocess.run(
            [lpstat, "-a", queue], capture_output=True, text=True, timeout=LPSTAT_SECONDS
        )
        if "not accepting" in taking.stdout:
            problems.append(f"{queue}: not accepting jobs (cupsaccept {queue} lets it take them)")
        else:
            fine.append(queue)
    if problems:
        return Check(FAIL, "printer", "; ".join(problems))
    return Check(OK, "printer", f"{', '.join(fine)} ready")


def _slips(config: Config) -> Check | None:
    """D1: the shared slip folder (printer.output_group) is there, the group's, and this account
    can save in it and give its slips the group; none set: no line (slips are kiosk's alone)."""
    import grp

    group = config.printer.output_group
    if not group:
        return None
    from kiosk.store.files import SHARED_FOLDER_MODE, slip_folder

    folder, gid = slip_folder(config), grp.getgrnam(group).gr_gid
    if gid not in os.getgroups() and gid != os.getgid() and os.geteuid() != 0:
        return Check(
            FAIL, "slips", f"this account is not in group {group}: usermod -aG {group} $(whoami)"
        )
    if not folder.is_dir():
        return Check(
            FAIL,
            "slips",
            f"{folder} is missing: install -d -m 2750 -o $(whoami) -g {group} {folder}",
        )
    status = folder.stat()
    mode = stat.S_IMODE(status.st_mode)
    if status.st_gid != gid or mode & 0o007 or not os.access(folder, os.W_OK | os.X_OK):
        return Check(
            FAIL,
            "slips",
            f"{folder} must be this account's, group {group}, mode 2750 (it is "
            f"group id {status.st_gid}, {mode:o}): "
            f"chown $(whoami):{group} {folder} && chmod 2750 {folder}",
        )
    verdict = OK if mode == SHARED_FOLDER_MODE else WARN
    return Check(verdict, "slips", f"{folder}: saved slips readable by group {group} ({mode:o})")


def _disk(config: Config) -> Check:
    from kiosk.store.practice import database_target

    target = database_target(config)
    folder = config.data_dir if "://" in target else Path(target).expanduser().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    amount = f"{free / 2**30:.1f} GiB" if free >= 2**30 else f"{free / 2**20:.1f} MiB"
    words = f"{amount} free in {folder}"
    return Check(
        OK if free >= MIN_FREE_BYTES else FAIL,
        "disk",
        words
        if free >= MIN_FREE_BYTES
        else f"only {words}: free some space (at least {MIN_FREE_BYTES // 2**20} MiB)",
    )


def _clock(config: Config) -> Check | None:
    from kiosk.store.db import database, is_sqlite

    if is_sqlite():
        return None  # the database's clock is this machine's
    server = database.execute_sql("SELECT now()").fetchone()[0]
    skew = (dt.datetime.now(dt.UTC) - server).total_seconds()
    words = f"{abs(skew):.1f} s {'ahead of' if skew > 0 else 'behind'} the database server"
    if abs(skew) > MAX_SKEW_SECONDS:
        return Check(
            FAIL, "clock", f"{words}: set up time sync (chrony, systemd-timesyncd) on both"
        )
    return Check(OK, "clock", words)


def report(checks: Iterator[Check], say: Callable[[str], object] = print) -> int:
    """Print each check as it finishes; 1 when any failed, else 0."""
    failed = False
    for check in checks:
        say(str(check))
        failed |= check.verdict == FAIL
    return 1 if failed else 0
