"""Acceptance checks of O1 not covered elsewhere: the generator through its command line,
and benchmarks/run.py still producing its figures (it broke silently once, when the app began refusing
a database with no staff). No timing is asserted here: the figures are the benchmark's to measure."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

from conftest import fresh_user_env, run_python

ROOT = Path(__file__).resolve().parent.parent
FIGURE = re.compile(
    r"^(?P<name>[a-z0-9_]+) (?P<value>[0-9.]+|n/a)(?: (?P<unit>[A-Za-z/]+))?(?:  # .*)?$"
)


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = fresh_user_env(tmp_path, PYTHONPATH=str(ROOT))
    return run_python("-m", "kiosk_screens.launch", *args, env=env, cwd=tmp_path)


def test_o1_kiosk_demo_generate_fills_a_practice_that_search_finds(tmp_path):
    db = str(tmp_path / "demo.sqlite3")
    done = cli(tmp_path, "--db", db, "demo", "generate", "--patients", "2000", "--seed", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Generated 2,000 patients in ") and done.stderr == ""

    from kiosk.config import Config
    from kiosk.people.patients import search_patients
    from kiosk.store.db import close_database
    from kiosk.store.models import Patient
    from kiosk.store.practice import open_store
    from kiosk.terms import PortalStatus

    open_store(Config(database=db, pin_key_file=str(tmp_path / "other.key")))
    try:
        assert Patient.select().count() == 2000
        assert {s for (s,) in Patient.select(Patient.portal_status).distinct().tuples()} == set(
            PortalStatus
        )
        someone = Patient.select().order_by(Patient.id.desc()).first()
        typed = f"{someone.family_name[:3]}, {someone.given_name[:2]}"
        assert someone.id in {row.id for row in search_patients(typed, limit=2000)}
    finally:
        close_database()


def test_o1_generate_refuses_a_count_below_one_in_one_line(tmp_path):
    done = cli(tmp_path, "--db", str(tmp_path / "d.sqlite3"), "demo", "generate", "--patients", "0")
    assert done.returncode != 0
    assert done.stderr.strip() == "kiosk: --patients must be between 1 and 10,000,000"


def load_benchmark():
    """benchmarks/run.py as the module ``run`` (its worker processes import it by that name)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("run")


def test_o1_benchmark_start_up_figures_are_produced_one_a_line(monkeypatch, capsys):
    """The start-up part of benchmarks/run.py runs end to end (kiosk child and bare Textual child) and
    prints NAME VALUE UNIT lines; one run each keeps it short."""
    bench = load_benchmark()
    monkeypatch.setattr(bench, "STARTUP_RUNS", 1)
    assert bench.main(["--only", "startup"]) == 0
    lines = [
        line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")
    ]
    assert lines and all(FIGURE.match(line) for line in lines), lines
    figures = {FIGURE.match(line)["name"]: FIGURE.match(line) for line in lines}
    assert {"startup_ratio", "startup_rss_mib", "startup_ms", "startup_bare_textual_ms"} <= set(
        figures
    )
    assert figures["startup_ratio"]["unit"] == "x" and figures["startup_rss_mib"]["unit"] == "MiB"
    assert (
        float(figures["startup_ratio"]["value"]) > 0
        and "target <= 1.15" in lines[[*figures].index("startup_ratio")]
    )


def test_o1_desks_in_separate_processes_never_fail_or_leave_two_active_pins(tmp_path, capsys):
    """The benchmark's concurrency run, small: 4 processes x 30 issues on one SQLite file, each for
    one of three families of three that all of them share. (The full run is 8 x 200.)"""
    bench = load_benchmark()
    assert (bench.WORKERS, bench.ISSUES_PER_WORKER) == (8, 200)
    figures = bench.bench_concurrent(tmp_path, workers=4, issues=30, start_delay=1.5)
    assert figures == {
        "concurrent_issued": 120,
        "concurrent_refusals": 0,
        "concurrent_errors": 0,
        "concurrent_duplicate_active_pins": 0,
        "concurrent_audit_chain_problems": 0,
    }, capsys.readouterr().out
    from kiosk.store.db import close_database

    close_database()
