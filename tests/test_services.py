"""Services: the systemd units and timers in deploy/ for the outbox sender, kiosk maintain and the
daily audit anchor (S10)."""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk import cli

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
JOBS = ("outbox", "maintain", "anchor")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize("job", JOBS)
def test_o3_l2_each_job_runs_a_kiosk_command_as_the_kiosk_user_and_retries(job):
    service = _unit(f"kiosk-{job}.service")["Service"]
    program, *words = service["ExecStart"].split()
    assert (
        program.endswith("/kiosk")
        and service["User"] == "kiosk"
        and service["Restart"] == "on-failure"
    )
    args = cli.build_parser(words).parse_args(
        words
    )  # a command this kiosk has, with valid arguments
    assert args.command == words[0]
    # S9: the home is read-only to the job (ProtectHome), so its error log must be elsewhere
    assert service["ProtectHome"] == "read-only" and service["LogsDirectory"] == "kiosk"
    assert service["Environment"] == "KIOSK_LOG_FILE=/var/log/kiosk/errors.log"
    timer = _unit(f"kiosk-{job}.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="no systemd-analyze here (CI installs it)"
)
def test_the_unit_files_pass_systemd_analyze_verify(tmp_path):
    stub = tmp_path / "kiosk"  # verify wants ExecStart's program to exist
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8").replace("/usr/local/bin/kiosk", str(stub))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    names = sorted(str(tmp_path / u.name) for u in UNITS.iterdir())
    assert len(names) == 2 * len(JOBS)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # verify exits 0 even on an unknown key or a bad value: anything it says is a finding
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("job", JOBS)
def test_s11_each_job_may_delete_the_slips_desks_saved(job, monkeypatch):
    """A desk over SSH saves a slip its printer did not take in the kiosk account's data folder
    (deploy/config.example.toml sets no printer.output_dir); every job deletes those past
    printer.keep_minutes, which ProtectHome=read-only silently stopped."""
    from kiosk.config import default_data_dir, load_config
    from kiosk.store.files import slip_folder

    monkeypatch.setenv("HOME", "/home/kiosk")  # useradd --create-home kiosk, as the README says
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    config = load_config(UNITS.parent / "config.example.toml", env={})
    assert slip_folder(config).is_relative_to(default_data_dir())
    service = _unit(f"kiosk-{job}.service")["Service"]
    writable = [p.removeprefix("-") for p in service.get("ReadWritePaths", "").split()]
    assert service["ProtectHome"] == "read-only" and str(default_data_dir()) in writable


def test_o3_s10_the_cron_jobs_as_the_readme_gives_them_mail_nothing_when_all_is_well(tmp_path):
    """cron mails whatever a job prints; the README sends standard output to /dev/null, so a job
    that did its work must say nothing on standard error (the anchor's "Appended to ..." was
    mailed every day)."""
    import re

    from conftest import init_practice
    from conftest import kiosk_cli as kiosk

    db = tmp_path / "kiosk.sqlite3"
    init_practice(db)
    readme = (UNITS.parent.parent / "README.md").read_text(encoding="utf-8")
    jobs = re.findall(
        r"^\s*[*/0-9]+\s+[*/0-9]+ \* \* \*\s+/usr/local/bin/kiosk (.+)$", readme, re.M
    )
    assert len(jobs) == len(JOBS) and all(job.endswith(" > /dev/null") for job in jobs)
    assert "crontab -u kiosk -e" in readme  # S11: as the kiosk account, as the units' User= is
    for job in jobs:
        done = kiosk("--db", str(db), *job.removesuffix(" > /dev/null").split())
        assert done.returncode == 0 and done.stderr == "", (job, done.stderr)
