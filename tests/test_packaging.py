"""The wheel carries everything the app needs, not only what an editable checkout happens to have:
the importer package, the shipped data (training families, carriers, roles, slip fonts) and the
screens' .tcss. Built offline (no build isolation), unpacked, and run from there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import fresh_user_env, run_python

ROOT = Path(__file__).resolve().parent.parent

FROM_THE_WHEEL = """
import sys
from pathlib import Path

import kiosk
site = Path(sys.argv[1])
assert Path(kiosk.__file__).is_relative_to(site), kiosk.__file__
assert kiosk.DATA_DIR == site / "kiosk" / "data", kiosk.DATA_DIR

from kiosk.messages.carriers import carriers
from kiosk.importer.roles import load_roles
from kiosk.slip.content import SlipData
from kiosk.slip.pdf import render_slip_pdf
import datetime as dt

assert carriers() and load_roles()
slip = SlipData("Sunny Hills Pediatrics", "https://portal.example.org/register", "Nguyễn Thị Ánh",
                (("Nguyễn Thị Ánh", "ABCD-EFGH-JK"),), dt.date(2026, 12, 22))
assert render_slip_pdf(slip).startswith(b"%PDF")

from kiosk.i18n import LANGUAGES, catalog  # I1: the catalogs ship and are found installed
assert "es" in LANGUAGES, LANGUAGES
assert catalog("es").gettext("Portal address") == "Dirección del portal"

from kiosk.cli import main

async def _ready(pilot):
    await pilot.pause()
    from kiosk_screens.signin import SignInScreen
    assert isinstance(pilot.app.screen, SignInScreen), pilot.app.screen
    print("READY", pilot.app.sub_title, flush=True)
    pilot.app.exit()

def _start(config):
    from kiosk_screens.app import create_app
    create_app(config).run(headless=True, size=(100, 30), auto_pilot=_ready)

sys.exit(main(["--training"], start_app=_start))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout: setuptools would otherwise reuse a build/ folder left by
    an earlier build, which can hold files the package configuration no longer ships."""
    source = tmp_path_factory.mktemp("source") / "kiosk"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "venv",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".hypothesis",
            ".pytest_cache",
        ),
    )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (found,) = out.glob("kiosk-*.whl")
    return found


def test_the_wheel_holds_the_importer_the_data_fonts_and_styles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "kiosk/importer/__init__.py",
        "kiosk/importer/fhir_source.py",
        "kiosk/data/training.json",
        "kiosk/data/carriers.toml",
        "kiosk/data/roles.toml",
        "kiosk/data/fonts/DejaVuSans-Subset.ttf",
        "kiosk/data/fonts/DejaVuSans-Bold-Subset.ttf",
        "kiosk/data/fonts/LICENSE-DejaVu.txt",
        "kiosk/data/fonts/NotoSansArabic-Regular.ttf",
        "kiosk/data/fonts/NotoSansHebrew-Bold.ttf",
        "kiosk/data/fonts/LICENSE-Noto.txt",
        "kiosk_screens/app.tcss",
        "kiosk_screens/register.tcss",
        "kiosk_screens/launch.py",
        "kiosk/web/templates/register.html",
        "kiosk/web/templates/style.css",
        "kiosk_screens/templates/app_index.html",  # browser desks: the page without outside links
        "kiosk/locale/es/LC_MESSAGES/kiosk.po",  # I1
        "kiosk/locale/cldr.json",  # I1, D1: long dates and language names without Babel
    ):  # P2
        assert name in names, name
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)


def test_the_app_runs_from_the_unpacked_wheel_on_training_data(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    home = tmp_path / "home"
    env = fresh_user_env(home, PYTHONPATH=str(site), TEXTUAL_ANIMATIONS="none")
    run = run_python("-c", FROM_THE_WHEEL, str(site), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "READY" in run.stdout and "Training" in run.stdout
