"""Shared fixtures and helpers: a fresh SQLite store per test, staff, and the training families;
the Desk built with fakes (``TestDesk``, ``FakePrinter``, ``FakeSender``) instead of patched
modules; for the Pilot tests the app on the tests' clock, ``settle``, what the screen shows (``screen_text``,
``screen_cells``, ``widget_text``) and the notifications the app posts (``Notices``). Only public
Textual APIs: the screen is read from ``App.export_screenshot``, notifications from run_test's
``message_hook``. For the command line and other processes: ``kiosk_cli``, ``init_practice`` and
the ``cli_practice`` fixture (a copy of one ``kiosk init``), ``run_python``, ``fresh_user_env``; and
``parent_redeems_after_the_check`` for R4's race between a desk and a parent."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from rich.cells import cell_len

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

import kiosk.registration.portal
import kiosk.security
from kiosk.clock import Clock
from kiosk.config import Config, PracticeConfig
from kiosk.desk import Desk
from kiosk.people.born_parents import TABLE as BORN_TABLE
from kiosk.people.parent_names import TABLE as NAMED_TABLE
from kiosk.store.db import close_database
from kiosk.store.practice import PracticeSettings, open_store
from kiosk.terms import utcnow

# Password hashing at production cost (scrypt n=2**14, p=5) takes ~50 ms a hash; tests need the
# behaviour, not the cost. Hashes record their own n, so verification still checks for real.
kiosk.security.SCRYPT_N = 2**10
# A refused redemption is padded to a fixed reply time (S8); benchmarks/redeem_timing.py measures it.
kiosk.registration.portal.REPLY_FLOOR = 0

# Property tests pass or fail by their values, never by how long an example took: CI runs four
# workers on two cores, where an example that takes 20 ms alone can take over 200 ms (Hypothesis's
# default deadline) and generating examples can trip the too_slow health check. A test's own
# @settings still overrides these.
settings.register_profile("kiosk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kiosk")

# The fixed "today" of the training data and of every test that needs a clock.
TODAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 15, 0, 0)


class TestDesk(Desk):
    """A Desk whose operations can be slow or fail, as a busy database, printer or mail server
    makes them: each operation named in ``held`` waits until the test sets ``gate``; each named
    in ``failing`` raises its error."""

    __test__ = False  # not a test class for pytest

    def __init__(
        self,
        config: Config,
        *,
        held: tuple[str, ...] = (),
        gate: threading.Event | None = None,
        failing: dict[str, Exception] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(config, **kwargs)
        self.held, self.gate, self.failing = held, gate or threading.Event(), failing or {}

    def _through(self, operation: str) -> None:
        if operation in self.failing:
            raise self.failing[operation]
        if operation in self.held:
            assert self.gate.wait(20), "the test never opened the gate"

    def search(self, text, status=None, *, tolerant=True):
        self._through("search")
        return super().search(text, status, tolerant=tolerant)

    def issue(self, request):
        self._through("issue")
        return super().issue(request)

    def fix_name(self, patient_id, given_name):
        self._through("fix_name")
        return super().fix_name(patient_id, given_name)

    def print_slip(self, slip):
        self._through("print_slip")
        return super().print_slip(slip)

    def update_contact(self, caregiver_id, change):
        self._through("update_contact")
        return super().update_contact(caregiver_id, change)

    def deliver_outbox(self, limit=100):
        self._through("deliver_outbox")
        return super().deliver_outbox(limit)


class FakePrinter:
    """A print queue that takes every job (or refuses it with ``problem``) and keeps the PDFs;
    with a ``gate``, it answers only once the test sets it (a slow printer)."""

    def __init__(self, problem: str = "", gate: threading.Event | None = None) -> None:
        self.problem, self.gate = problem, gate
        self.jobs: list[tuple[str, str, bytes]] = []  # (queue, title, pdf)

    def print_pdf(self, pdf: bytes, queue: str, title: str) -> tuple[str | None, str]:
        if self.gate is not None:
            assert self.gate.wait(20), "the test never opened the gate"
        self.jobs.append((queue, title, pdf))
        return (None, self.problem) if self.problem else (f"{queue}-{len(self.jobs)}", "")


class FakeSender:
    """A channel that accepts every message (or fails each with ``failure``) and keeps them."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.sent: list = []  # kiosk.messages.outbox.Outgoing

    def send(self, message) -> str:
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)
        return ""

    def close(self) -> None:
        pass


def needs(reason: str) -> None:
    """A part of the machine this test needs is missing (a server, a tool, a font): skip on a
    developer's machine, but fail under CI=true, where .ci/run installs every part, so a test
    that should run can never pass by being skipped."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run provides it, so this test must run)")
    pytest.skip(reason)


def desk(config: Config, **fakes) -> Desk:
    """The front desk on the tests' fixed clock (NOW, TODAY); ``fakes`` are TestDesk's keyword
    arguments (senders, printer, staff, clock, held, gate, failing)."""
    return TestDesk(config, **{"clock": Clock.fixed(NOW, TODAY), **fakes})


def desk_app(config: Config, **fakes):
    """The app as the desk runs it, on the tests' fixed clock (NOW, TODAY)."""
    from kiosk_screens.app import create_app

    return create_app(config, desk=desk(config, **fakes))


SETTLE_SECONDS = 120.0  # a loaded 2-core CI machine is slow, never this slow


async def settle(app, pilot) -> None:
    """Let the screen, its workers and whatever they hand back to the screen finish, and the keys
    typed ahead reach their screens (kiosk_screens.typeahead): done once a pause finds no key on
    its way and no worker running. Each worker is awaited to its own end, cancelled or failed
    included: ``workers.wait_for_complete`` stops at the first worker that a newer one in its
    group cancels (a search per key typed) and raises, leaving the rest still running."""
    give_up = time.monotonic() + SETTLE_SECONDS
    await pilot.pause()
    while True:
        await pilot.pause()
        # a worker started a moment ago is still PENDING (its task has not run yet): waited for
        # too, or a page read again after an action was checked before it was read
        running = [worker for worker in app.workers if not worker.is_finished]
        if not running and not getattr(app, "typing", False):
            return
        assert time.monotonic() < give_up, f"still busy after {SETTLE_SECONDS:.0f} s: {running}"
        await asyncio.gather(*(worker.wait() for worker in running), return_exceptions=True)


async def keys_handled(app, pilot, *, at_once: bool = False) -> None:
    """Until the keys pressed have reached their screen and been handled (kiosk_screens.typeahead
    hands them on in a task of its own, so ``pilot.press`` can return before), without waiting for
    the work they started, which a test may hold on purpose. ``at_once``: the screen on top never
    holds them back meanwhile (it takes keys while that work goes on)."""
    give_up = time.monotonic() + SETTLE_SECONDS
    while getattr(app, "typing", False):
        assert time.monotonic() < give_up, f"keys still on their way after {SETTLE_SECONDS:.0f} s"
        assert not (at_once and getattr(app.screen, "holds_keys", False)), f"{app.screen} held keys"
        await pilot.pause()
    await pilot.pause()


async def lock_while_held(app, pilot, gate, *keys: str) -> None:
    """Press ``keys``, which start an operation held until ``gate`` opens; lock (Ctrl+L) before
    it is done, then let it finish: the lock screen is still on top (S6)."""
    from kiosk_screens.lock import LockScreen

    await pilot.press(*keys)
    await pilot.pause()
    await pilot.press("ctrl+l")
    await pilot.pause()
    gate.set()
    await settle(app, pilot)
    assert isinstance(app.screen, LockScreen)


def issue_result(*pins: tuple[str, str, str], patient: str = "Rosemary Testkiddo"):
    """An IssueResult with fixed PINs ((given name, full name, PIN) each), for a slip on screen."""
    from kiosk.registration.engine import IssuedPin, IssueResult
    from kiosk.terms import Delivery, RegistrationMethod

    return IssueResult(
        batch="0123456789abcdef",
        patient_name=patient,
        language="en",
        pins=tuple(IssuedPin(n, *pin) for n, pin in enumerate(pins, 1)),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.NONE,
    )


def find_patient(given: str, family: str = "Testkiddo"):
    """A training patient by name (the ``training`` fixture loaded them)."""
    from kiosk.store.models import Patient

    return Patient.get((Patient.given_name == given) & (Patient.family_name == family))


def fresh_user_env(home, **more: str) -> dict[str, str]:
    """This process's environment as a new user's, for a child process: no KIOSK_* setting leaks
    in, ``home`` is the home and holds the config and data folders; ``more`` adds variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=os.path.join(home, "config"),
        XDG_DATA_HOME=os.path.join(home, "data"),
        **more,
    )
    return env


@contextmanager
def parent_redeems_after_the_check(monkeypatch, account_id: int, dob: dt.date, pin: str, now=None):
    """In the block, the desk's next issue_pins is joined, right after its check, by a parent
    redeeming ``pin`` on a connection of its own (a thread, as at a second desk): it waits for
    the desk's transaction or not, as the locks say. Yields the list the redemption's result (or
    its PortalError) is in once the block ends."""
    import kiosk.registration.engine as engine
    from kiosk.registration import portal
    from kiosk.store.db import database

    redeemed: list[object] = []

    def parent_redeems() -> None:
        try:
            redeemed.append(portal.redeem(account_id, dob, pin=pin, now=now))
        except portal.PortalError as error:
            redeemed.append(error)
        finally:
            database.close()  # this thread's own connection

    real_check, parents = engine.check_issue, []

    def check_then_parent_redeems(*args, **kwargs):
        problems = real_check(*args, **kwargs)
        parents.append(threading.Thread(target=parent_redeems))
        parents[0].start()
        parents[0].join(2)  # done (the check ran outside the write) or waiting for the desk's locks
        return problems

    monkeypatch.setattr(engine, "check_issue", check_then_parent_redeems)
    yield redeemed
    parents[0].join(30)


def run_python(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd=None):
    """``python ARGS`` in a process of its own (``env``: its whole environment, default this
    one's): its exit code, and what it printed, as text."""
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def kiosk_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None):
    """``kiosk ARGS`` in a process of its own, as a shell runs it (``env`` adds to this one's)."""
    launch = ("-m", "kiosk_screens.launch", *args)
    return run_python(*launch, stdin=stdin, env=dict(os.environ, **(env or {})))


def init_practice(
    db,
    *,
    admin: str = "maria",
    name: str = "Maria",
    portal_user: str = "",
    password: str = "correct horse battery staple",
    env: dict[str, str] | None = None,
):
    """``kiosk init`` on ``db`` (a new database with its first administrator); asserts it worked."""
    linked = ("--portal-user", portal_user) if portal_user else ()
    args = ("--db", str(db), "init", "--admin", admin, "--name", name, *linked, "--password-stdin")
    made = kiosk_cli(*args, stdin=password + "\n", env=env)
    assert made.returncode == 0, made.stderr
    return made


Cell = tuple[str, tuple[int, int, int], tuple[int, int, int]]


def screen_cells(app) -> list[list[Cell]]:
    """The terminal as the app draws it: each cell's character, foreground and background colour.

    Read from the app's SVG screenshot (the cells rich records, positioned on a fixed grid); the
    second cell of a double-width letter holds "" so that a row joins back into its text."""
    svg = app.export_screenshot()
    width, height = app.size
    clips = re.findall(
        r'<clipPath id="[^"]*-line-(\d+)">\s*<rect x="0" y="([\d.]+)" width="([\d.]+)"', svg
    )
    top, line_height = float(clips[0][1]), float(clips[1][1]) - float(clips[0][1])
    cell_width = float(clips[0][2]) / width
    colours = {
        name: _rgb(hex_) for name, hex_ in re.findall(r"\.(\S+) \{ fill: (#[0-9a-f]{6})", svg)
    }
    cells: list[list[Cell]] = [
        [(" ", (255, 255, 255), (0, 0, 0)) for _ in range(width)] for _ in range(height)
    ]
    for fill, x, y, w in re.findall(
        r'<rect fill="(#[0-9a-f]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" '
        r'shape-rendering="crispEdges"/>',
        svg,
    ):
        row, first = round((float(y) - top) / line_height), round(float(x) / cell_width)
        for col in range(first, min(width, first + round(float(w) / cell_width))):
            cells[row][col] = (cells[row][col][0], cells[row][col][1], _rgb(fill))
    for name, x, row, text in re.findall(
        r'<text class="(\S+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>',
        svg,
    ):
        col, line = round(float(x) / cell_width), cells[int(row)]
        for ch in html.unescape(text).replace("\xa0", " "):
            if col >= width:
                break
            line[col] = (ch, colours[name], line[col][2])
            for extra in range(1, cell_len(ch)):  # a double-width letter covers the next cell
                if col + extra < width:
                    line[col + extra] = ("", colours[name], line[col + extra][2])
            col += cell_len(ch)
    return cells


def screen_text(app) -> str:
    """The terminal's lines as a person reads them, spaces included."""
    return "\n".join("".join(ch for ch, _, _ in row) for row in screen_cells(app))


def region_text(app, selector: str) -> str:
    """What the terminal shows inside one widget (``selector`` on the current screen): its rows,
    cut to its columns, so text beside it (a QR code) does not run into its lines."""
    region = app.screen.query_one(selector).region
    rows = screen_cells(app)[region.y : region.bottom]
    return "\n".join("".join(ch for ch, _, _ in row[region.x : region.right]) for row in rows)


def widget_text(app) -> str:
    """Everything the current screen's widgets say, whole even where the terminal cuts it: each
    Static's text, button labels, typed values and the footer's keys."""
    from textual.widgets import Button, Input, Static

    parts = [str(w.render()) for w in app.screen.query(Static)]
    parts += [str(b.label) for b in app.screen.query(Button)]
    parts += [i.value for i in app.screen.query(Input)]
    parts += [str(k.render()) for k in app.screen.query("FooterKey")]
    return "\n".join(parts)


class Notices(list):
    """The notification texts the app posts, in order: pass it as ``run_test(message_hook=...)``."""

    def __call__(self, message) -> None:
        from textual.notifications import Notify

        if isinstance(message, Notify):
            self.append(message.notification.message)


def _rgb(hex_: str) -> tuple[int, int, int]:
    return int(hex_[1:3], 16), int(hex_[3:5], 16), int(hex_[5:7], 16)


@pytest.fixture(autouse=True)
def own_user_dirs(tmp_path, monkeypatch):
    """Each test its own user data and config folders (platformdirs reads XDG_*): the error log,
    saved slips and a config.toml never come from the machine's user or from a test running beside
    it (pytest-xdist)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    # D1: a suite run over SSH (or a CI runner reached by it) is no SSH desk unless a test says so
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("KIOSK_DESK_ADDRESS", raising=False)


@pytest.fixture(scope="session")
def _cli_practice_made_once(tmp_path_factory):
    """``kiosk init`` run once a session (a process of its own, about 1.5 s), for cli_practice."""
    home = tmp_path_factory.mktemp("cli-practice")
    folder = home / "practice"
    users = {"XDG_DATA_HOME": str(home / "user-data"), "XDG_CONFIG_HOME": str(home / "user-config")}
    init_practice(folder / "kiosk.sqlite3", name="Maria Lopez", portal_user="pp-1", env=users)
    return folder


@pytest.fixture
def cli_practice(_cli_practice_made_once, tmp_path) -> str:
    """A new practice's SQLite database as ``kiosk init`` leaves it (administrator maria, linked
    to pp-1), alone in a folder with its key file: this test's own copy."""
    folder = tmp_path / "practice"
    shutil.copytree(_cli_practice_made_once, folder)
    return str(folder / "kiosk.sqlite3")


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(
        database=str(tmp_path / "kiosk.sqlite3"),
        log_file=str(tmp_path / "errors.log"),
        practice=PracticeConfig(
            name="Sunny Hills Pediatrics", portal_url="https://portal.example.org/register"
        ),
    )


@pytest.fixture
def store(config, request):
    """An empty, open database (schema, key and practice settings, no people). For a test that
    uses ``training``, the database and its key file are this test's copy of the session's
    training database instead (see ``_training_copies``)."""
    settings = None
    if "training" in request.fixturenames and _copyable(config):
        copies = request.getfixturevalue("_training_copies")
        settings = copies.copy_into(config)
        request.node.stash[_TRAINING_COPIED] = True
    opened = open_store(config)
    yield settings or opened
    close_database()


@pytest.fixture
def training(store, request):
    """The training families from data/, loaded into the fresh store (copied, when ``store``
    could: the same rows a load makes, at a fraction of the time)."""
    if not request.node.stash.get(_TRAINING_COPIED, False):
        load_training()
    return store


_TRAINING_COPIED = pytest.StashKey[bool]()


def _copyable(config: Config) -> bool:
    """A SQLite file whose key and audit anchor sit beside it: what a copied folder reproduces.
    A key file or anchor configured elsewhere, or a PostgreSQL URL, gets the families loaded."""
    where = config.database
    return (
        bool(where) and "://" not in where and not (config.pin_key_file or config.audit_anchor_file)
    )


def load_training() -> None:
    """The training families, as of the tests' day: what the ``training`` fixture loads."""
    from kiosk.ops.training import load_training_data

    load_training_data(today=TODAY)


class _TrainingCopies:
    """One database with the training families loaded (and its key file) per configuration and
    day, made on first use in this pytest process; each test gets a copy in its own folder. With
    ``load``, another test module's data instead of the training families (made the same way).

    A copy differs from a fresh load only in what is random (PIN codes, batches, salts, the key:
    unknown to the tests either way) and in the load's real-clock times (PIN issue and expiry,
    created_at), which are earlier by the time since the copy was made. The day of those times is
    the load's own: a new one is made when the local or UTC date has changed since. The dates the
    families are built on (ages, appointments, T4's placement end) come from TODAY in both."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        # (configuration, load) -> (folder, the day it was made, open_store's settings before it)
        self.made: dict[tuple[str, str], tuple[Path, tuple[dt.date, dt.date], PracticeSettings]]
        self.made = {}

    def copy_into(self, config: Config, load=load_training) -> PracticeSettings:
        """Copy the database and its key file to where ``config`` has them (0600, like the
        originals: shutil.copy copies the mode, not the times); return the settings open_store
        gave the empty store before the load, which ``store`` returns as it always has."""
        key = (repr(replace(config, database="", log_file="")), _named(load))
        day = _days()
        if key not in self.made or self.made[key][1] != day:
            self.made[key] = self._load(config, day, load)
        folder, _, settings = self.made[key]
        target = Path(config.database)
        for source in folder.iterdir():  # kiosk.sqlite3 and kiosk.sqlite3.key
            shutil.copy(source, target.with_name(source.name.replace("kiosk.sqlite3", target.name)))
        return settings

    def _load(self, config: Config, day: tuple[dt.date, dt.date], load):
        home = self.factory.mktemp("training-copy")
        folder = home / "practice"  # made by open_store (0700): no note in the test's log
        with pytest.MonkeyPatch.context() as env:  # nothing of this test's own folders is touched
            env.setenv("XDG_DATA_HOME", str(home / "user-data"))
            env.setenv("XDG_CONFIG_HOME", str(home / "user-config"))
            database = str(folder / "kiosk.sqlite3")
            settings = open_store(
                replace(config, database=database, log_file=str(home / "errors.log"))
            )
            load()
            close_database()  # the last connection: the WAL is checkpointed into the file and removed
        assert sorted(f.name for f in folder.iterdir()) == ["kiosk.sqlite3", "kiosk.sqlite3.key"]
        return folder, day, settings


@pytest.fixture(scope="session")
def _training_copies(tmp_path_factory) -> _TrainingCopies:
    return _TrainingCopies(tmp_path_factory)


@pytest.fixture
def front_desk(training):
    """A staff member linked to the Practice Portal (may issue PINs)."""
    from kiosk.people.staff import authenticate

    return authenticate("maria", "training1")


@pytest.fixture
def unlinked_desk(training):
    """A staff member not linked to the Practice Portal (R1)."""
    from kiosk.people.staff import authenticate

    return authenticate("devon", "training1")


# -- PostgreSQL schemas for the tests (O1) -------------------------------------------------------
PG_URL = os.environ.get("KIOSK_TEST_PG_URL", "")


def pg_schema_url(schema: str) -> str:
    """KIOSK_TEST_PG_URL with ``schema`` first on the search path: a desk working in that schema."""
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"


class PgSchemas:
    """Schemas of the test server's database at this kiosk's schema version, made in one round trip
    instead of a migration's: per pytest process, the migration runs once on a fresh schema with
    its SQL recorded (values inlined), and each new schema replays that SQL in one transaction. On a
    loaded CI machine a migration over its ~80 round trips took about a second a test.

    ``load``: the schema also gets what ``load`` writes (the training families, or a test module's
    own), written once per process and day into a template schema and copied table by table (with
    its sequences); the template's key file is copied into ``key_into``, as ``_TrainingCopies``
    does for SQLite.

    The first replay is compared with the migrated schema (columns, defaults, statistics targets,
    indexes, constraints, rows) and the first copy with its template (rows), so a migration this
    recording does not reproduce fails the tests instead of changing what they run on. Fresh
    migrations still run where they are the point: ``kiosk init`` and racing desks on a new
    schema or database (test_operations, test_doctor, test_postgres)."""

    def __init__(self) -> None:
        self.migration = ""
        self.templates: dict[tuple[str, tuple[dt.date, dt.date]], tuple[str, Path]] = {}
        self.copied_once = False
        self._admin = None

    def admin(self):
        """This process's own autocommit connection for making and dropping schemas."""
        if self._admin is None or self._admin.closed:
            import psycopg2

            self._admin = psycopg2.connect(PG_URL)
            self._admin.autocommit = True
        return self._admin

    def create(self, schema: str, *, load=None, key_into: Path | None = None) -> str:
        """Make ``schema`` as a migration leaves it (no practice row yet: open_store makes it, with
        the key) or, with ``load``, as open_store and ``load`` leave it; return its URL."""
        if not self.migration:
            self._record_migration()
        template = self._template(load) if load is not None else ""
        sql = [f"BEGIN; CREATE SCHEMA {schema}; SET LOCAL search_path = {schema}", self.migration]
        if template:
            sql.append(self._copy_sql(template, schema))
        self.admin().cursor().execute(";\n".join([*sql, "COMMIT"]))
        if template:
            assert key_into is not None, "a copy needs its key file: say where"
            folder = self.templates[_named(load), _days()][1]
            for source in folder.iterdir():  # the key file (and the audit anchor, if one was made)
                shutil.copy(source, key_into / source.name)
            if not self.copied_once:
                assert self._rows(template) == self._rows(schema), (
                    "the copy differs from its template"
                )
                self.copied_once = True
        return pg_schema_url(schema)

    def drop(self, schema: str) -> None:
        self.admin().cursor().execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def close(self) -> None:
        """Drop the templates (at the end of the session)."""
        for schema, folder in self.templates.values():
            self.drop(schema)
            shutil.rmtree(folder, ignore_errors=True)
        self.templates.clear()
        if self._admin is not None:
            self._admin.close()

    def _record_migration(self) -> None:
        import peewee

        from kiosk.store.db import open_database

        migrated = f"t_migrated_{os.getpid()}_{os.urandom(4).hex()}"
        self.admin().cursor().execute(f"CREATE SCHEMA {migrated}")
        statements: list[tuple[str, object]] = []
        real = peewee.PostgresqlDatabase.execute_sql

        def recorded(db, sql, params=None):
            statements.append((sql, params))
            return real(db, sql, params)

        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(peewee.PostgresqlDatabase, "execute_sql", recorded)
                open_database(pg_schema_url(migrated))
            close_database()
            cursor = self.admin().cursor()
            # Reads are left out: the table checks, and the advisory lock that would queue every
            # worker's replay behind the others'. The comparison below shows nothing else is lost.
            self.migration = ";\n".join(
                cursor.mogrify(sql, params or ()).decode()
                for sql, params in statements
                if not sql.lstrip().upper().startswith("SELECT")
            )
            replayed = f"t_replayed_{os.getpid()}_{os.urandom(4).hex()}"
            self.create(replayed)
            try:
                assert self._shape(replayed) == self._shape(migrated), "replay differs"
                assert self._rows(replayed) == self._rows(migrated), "replay differs"
            finally:
                self.drop(replayed)
        except BaseException:
            self.migration = ""
            raise
        finally:
            self.drop(migrated)

    def _template(self, load) -> str:
        key = (_named(load), _days())
        if key not in self.templates:
            schema = f"t_template_{os.getpid()}_{os.urandom(4).hex()}"
            folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-template-"))
            url = self.create(schema)
            self.templates[key] = (schema, folder)
            with pytest.MonkeyPatch.context() as env:  # no test's own folders are touched
                env.setenv("XDG_DATA_HOME", str(folder.parent / f"{folder.name}-data"))
                env.setenv("XDG_CONFIG_HOME", str(folder.parent / f"{folder.name}-config"))
                open_store(Config(database=url, pin_key_file=str(folder / "pin.key")))
                load()
                close_database()
        return self.templates[key][0]

    def _copy_sql(self, template: str, schema: str) -> str:
        """Every row and sequence of ``template`` into ``schema`` (the migration's own rows first
        deleted), tables in the order their foreign keys need."""
        import peewee

        from kiosk.store.models import ALL_MODELS

        tables = [model._meta.table_name for model in peewee.sort_models(ALL_MODELS)]
        cursor = self.admin().cursor()
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (template,))
        assert sorted(tables) == sorted(row[0] for row in cursor.fetchall()), "a table not copied"
        cursor.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (template,))
        sequences = [row[0] for row in cursor.fetchall()]
        return ";\n".join(
            [f'DELETE FROM {schema}."{table}"' for table in reversed(tables)]
            + [
                f'INSERT INTO {schema}."{table}" SELECT * FROM {template}."{table}"'
                for table in tables
                if table not in (BORN_TABLE, NAMED_TABLE)  # their triggers write their rows
            ]
            + [
                f'SELECT setval(\'{schema}."{seq}"\', last_value, is_called) FROM {template}."{seq}"'
                for seq in sequences
            ]
        )

    def _shape(self, schema: str) -> list[tuple]:
        """Everything a migration makes in ``schema``, with the schema's name taken out."""
        cursor = self.admin().cursor()
        found: list[tuple] = []
        for query in _SHAPE_QUERIES:
            cursor.execute(query, {"s": schema})
            found += sorted(tuple(str(v).replace(schema, "S") for v in row) for row in cursor)
        return found

    def _rows(self, schema: str) -> dict[str, list[str]]:
        cursor = self.admin().cursor()
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        rows = {}
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT t::text FROM {schema}."{table}" t')
            rows[table] = sorted(row[0] for row in cursor)
        return rows


_SHAPE_QUERIES = (  # what a migration makes in schema %(s)s: tables, columns, indexes, ...
    (
        "SELECT c.relname, c.relkind, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
        " a.attnotnull, a.attstattarget, pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
        " WHERE n.nspname = %(s)s"
    ),
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
    (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)"
        " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = %(s)s"
    ),
    (
        "SELECT sequencename, start_value, increment_by, last_value"
        " FROM pg_sequences WHERE schemaname = %(s)s"
    ),
)


def _named(load) -> str:
    return f"{load.__module__}.{load.__qualname__}"


def _days() -> tuple[dt.date, dt.date]:
    """The UTC and local day: a training template made on another day is made again."""
    return (utcnow().date(), dt.date.today())


PG_SCHEMAS = PgSchemas()


@pytest.fixture(scope="session", autouse=True)
def _pg_schemas_dropped():
    """The PostgreSQL templates this process made are dropped when its tests are done."""
    yield
    if PG_SCHEMAS.templates or PG_SCHEMAS._admin is not None:
        PG_SCHEMAS.close()
