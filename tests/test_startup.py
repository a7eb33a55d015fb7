"""O1: start-up stays lean. The modules the `kiosk` entry point loads before the first screen
(kiosk_screens.launch -> kiosk.cli.main -> open the store -> kiosk_screens.app -> kiosk_screens.signin) must not pull
in the slow libraries that only some actions need. Speed itself is measured by benchmarks/run.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import fresh_user_env, run_python

ROOT = Path(__file__).resolve().parent.parent

# Loaded only by the action that needs them: slips, e-mail, import.
# (The stdlib csv module itself is small and the audit export uses it; the CSV importer is not.)
# psycopg2 too: peewee would import it whenever installed, but a SQLite desk never needs it
# (kiosk/__init__.py imports peewee without it; a PostgreSQL database gives it the driver).
HEAVY = (
    "psycopg2",
    "segno",
    "fpdf",
    "PIL",
    "smtplib",
    "email.mime",
    "aiosmtpd",
    "kiosk.importer",
    "kiosk.slip.pdf",
    "kiosk.slip.printing",
)

START_UP = """
import json, sys
import kiosk_screens.launch, kiosk.cli, kiosk_screens.app
from kiosk.cli import build_parser, open_configured
config = open_configured(build_parser().parse_args(["--db", sys.argv[1]]))
from kiosk_screens.app import create_app
import kiosk_screens.signin
app = create_app(config)
screen = kiosk_screens.signin.SignInScreen()
print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
"""


def _loaded_at_startup(tmp_path) -> tuple[list[str], str]:
    env = fresh_user_env(tmp_path, PYTHONPATH=str(ROOT))
    db = str(tmp_path / "k.sqlite3")
    done = run_python("-X", "importtime", "-c", START_UP, db, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_o1_startup_loads_no_slow_library(tmp_path):
    modules, importtime = _loaded_at_startup(tmp_path)
    assert (
        "kiosk_screens.signin" in modules and "kiosk.store.practice" in modules
    )  # it really went through start-up
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == [], (
        f"loaded before they are used: {loaded}; see who imports them with -X importtime"
    )
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:")
    }
    assert not [h for h in ("segno", "fpdf", "PIL", "smtplib", "aiosmtpd") if h in imported]


# The real entry point (kiosk_screens.launch.main, what the `kiosk` script runs) up to the mounted, idle
# sign-in screen, headless: imports made while composing or mounting the first screen count too.
SETUP = """
import sys
from kiosk.cli import build_parser, open_configured
from kiosk.people.staff import add_staff

open_configured(build_parser().parse_args(["--db", sys.argv[1]]))
add_staff("desk", "Front Desk", "quiet-harbor-lamp-1")
"""

ENTRY_POINT = """
import json, sys
import kiosk_screens.app, kiosk_screens.launch
from kiosk_screens.launch import main

def run_headless(config):
    async def at_sign_in(pilot):
        await pilot.pause()
        from kiosk_screens.signin import SignInScreen
        assert isinstance(pilot.app.screen, SignInScreen), pilot.app.screen
        assert pilot.app.screen.query_one("#username").has_focus
        print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
        pilot.app.exit()

    kiosk_screens.app.create_app(config).run(headless=True, size=(100, 30), auto_pilot=at_sign_in)

kiosk_screens.app.run_app = run_headless
kiosk_screens.launch.has_terminal = lambda: True  # headless: no terminal, on purpose
sys.exit(main(["--db", sys.argv[1]]))
"""


def test_o1_entry_point_to_the_sign_in_screen_loads_no_slow_library(tmp_path):
    env = fresh_user_env(tmp_path, PYTHONPATH=str(ROOT), TEXTUAL_ANIMATIONS="none")
    db = str(tmp_path / "k.sqlite3")
    setup = run_python("-c", SETUP, db, env=env, cwd=tmp_path)
    assert setup.returncode == 0, setup.stderr[-2000:]
    done = run_python("-X", "importtime", "-c", ENTRY_POINT, db, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        "kiosk_screens.signin" in modules and "textual.widgets._input" in modules
    )  # the screen really ran
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == [], (
        f"loaded before they are used: {loaded}; see who imports them with -X importtime"
    )


def test_o1_postgresql_without_its_driver_is_one_clear_error(tmp_path):
    """A site installed without the postgres extra that names a postgresql:// database is told what to
    install, in one line, instead of a traceback."""
    code = (
        "import sys\n"
        "sys.modules['psycopg2'] = None  # as if the postgres extra were not installed\n"
        "from kiosk.store.db import DatabaseError, connect\n"
        "try:\n"
        "    connect('postgresql://kiosk@127.0.0.1:1/kiosk')\n"
        "except DatabaseError as error:\n"
        "    print(error)\n"
    )
    done = run_python("-c", code, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "PostgreSQL needs the psycopg2 driver: pip install 'kiosk[postgres]'\n"
