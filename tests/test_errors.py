"""S9: nothing ends the app but the staff's own quit, and no PIN, password, verification answer or
birth date appears in what the terminal shows or in the error log.

Every screen's workers are made to fail (the domain function each one calls raises, with the
secrets it was given, a PIN and a birth date in the exception's text); the tests assert that the
app is still running on the same screen with what was typed still there, that the desk reads
plain words, and that the error log (0600) has the entry without any secret.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import stat
import sys
from contextlib import asynccontextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import Input, Label, Static

from kiosk import errors
from kiosk.people.patients import search_patients
from kiosk.registration import pins

from conftest import TODAY, Notices, desk_app
from test_postgres import pg_store  # the PostgreSQL store fixture, used by pg
from test_postgres import pytestmark as needs_postgres

SIZE = (80, 24)
LEAKED_PIN, LEAKED_DOB = "JFKAY-TTJYV", "2021-05-17"


async def settle(app, pilot) -> None:
    """Let the screen and its workers finish, failed workers included."""
    from textual.worker import WorkerFailed

    for _ in range(2):
        await pilot.pause()
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass
    await pilot.pause()


class Boom(Exception):
    """What a broken domain function raises: its text carries every secret it was given."""


def break_everywhere(monkeypatch, module: str, name: str) -> list[tuple]:
    """Make ``module.name`` raise Boom wherever kiosk or the screens hold it; return the calls."""
    import kiosk_screens

    for each in pkgutil.iter_modules(
        kiosk_screens.__path__, "kiosk_screens."
    ):  # bound now, restored after the test
        importlib.import_module(each.name)
    original = getattr(importlib.import_module(module), name)
    calls: list[tuple] = []

    def broken(*args, **kwargs):
        calls.append(args)
        secrets = " ".join(str(a) for a in [*args, *kwargs.values()])
        raise Boom(f"{name} failed for {secrets} pin={LEAKED_PIN} dob {LEAKED_DOB} born 05/17/2021")

    for loaded in list(sys.modules.values()):
        if (
            getattr(loaded, "__name__", "").split(".")[0] in {"kiosk", "kiosk_screens"}
            and getattr(loaded, name, None) is original
        ):
            monkeypatch.setattr(loaded, name, broken)
    return calls


def shown_text(app) -> str:
    """What the screen says (labels and static text; not the text fields the user typed into)."""
    return "\n".join(
        str(widget.render())
        for widget in app.screen.query("Static, Label").results()
        if isinstance(widget, (Static, Label))
    )


def assert_no_secret(
    app, notices: list[str], config, *typed: str, shown: tuple[str, ...] = ()
) -> str:
    """Nothing the desk or parent reads, and nothing in the log, holds a secret (``shown``: those
    the screen shows by design, such as the slip's PIN, are looked for in the notices and the log
    only); returns the log."""
    log = config.error_log.read_text() if config.error_log.exists() else ""
    for secret in (LEAKED_PIN, LEAKED_DOB, "05/17/2021", *[t for t in typed + shown if t]):
        places = [("notice", "\n".join(notices)), ("log", log)]
        if secret not in shown:
            places.append(("screen", shown_text(app)))
        for place, text in places:
            assert secret not in text, f"{secret!r} shown in the {place}"
    return log


def assert_logged(config, where: str) -> None:
    log = config.error_log.read_text()
    assert f"{where}" in log and "Boom" in log and "Traceback" in log
    assert stat.S_IMODE(config.error_log.stat().st_mode) == 0o600


@asynccontextmanager
async def signed_in(app, staff):
    """The app running at 80x24 with ``staff`` signed in at the search: the pilot and the notices."""
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        app.signed_in(staff)
        await settle(app, pilot)
        yield pilot, notices


@pytest.fixture
def app(training, config):
    return desk_app(config)


def patient_id(text: str) -> int:
    return search_patients(text, today=TODAY)[0].id


# -- the staff's screens -----------------------------------------------------------------------
async def test_s9_sign_in_that_fails_keeps_the_username_and_says_it_plainly(
    app, config, monkeypatch
):
    break_everywhere(monkeypatch, "kiosk.people.staff", "authenticate")
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#username", Input).value = "maria"
        app.screen.query_one("#password", Input).value = "training1"
        app.screen.query_one("#password", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "SignInScreen"
        assert app.screen.query_one("#username", Input).value == "maria"
        assert "Sign-in is not possible right now" in shown_text(app)
        assert_no_secret(app, notices, config, "training1")
    assert_logged(config, "Sign-in")


async def test_s9_search_that_fails_keeps_what_was_typed(app, config, monkeypatch, front_desk):
    async with signed_in(app, front_desk) as (pilot, notices):
        break_everywhere(monkeypatch, "kiosk.people.patients", "search_patients")
        box = app.screen.query_one("#search", Input)
        box.focus()
        await pilot.press(*"05/17/2021")
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "SearchScreen"
        assert box.value == "05/17/2021"
        assert any("Search did not finish" in n for n in notices)
        assert_no_secret(app, notices, config)
    assert_logged(config, "Search")


async def test_s9_patient_page_that_fails_to_load_leaves_the_app_up(
    app, config, monkeypatch, front_desk
):
    break_everywhere(monkeypatch, "kiosk.people.patients", "patient_page")
    async with signed_in(app, front_desk) as (pilot, notices):
        app.open_patient(patient_id("Testkiddo"))
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "PatientScreen"
        assert any("Patient page did not finish" in n for n in notices)
        assert_no_secret(app, notices, config)
    assert_logged(config, "Patient page")


async def open_registration(app, pilot, front_desk):
    app.signed_in(front_desk)
    await settle(app, pilot)
    app.open_registration(patient_id("Testkiddo"))
    await settle(app, pilot)
    assert type(app.screen).__name__ == "RegisterScreen"


async def test_s9_issuing_that_fails_says_nothing_was_issued_in_plain_words(
    app, config, monkeypatch, front_desk
):
    break_everywhere(monkeypatch, "kiosk.registration.engine", "issue_pins")
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        await open_registration(app, pilot, front_desk)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "RegisterScreen"
        outcome = str(app.screen.query_one("#outcome", Static).render())
        assert outcome.startswith(
            "Nothing was issued. Issuing PINs did not finish: something unexpected"
        )
        assert_no_secret(app, notices, config)
    assert_logged(config, "Issuing PINs")


async def test_s9_registration_that_fails_to_load_or_check_stays_open(
    app, config, monkeypatch, front_desk
):
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        break_everywhere(monkeypatch, "kiosk.people.patients", "family_for")
        await open_registration(app, pilot, front_desk)
        assert any("Loading the family did not finish" in n for n in notices)
        monkeypatch.undo()
        await pilot.press("escape")
        await settle(app, pilot)
        await open_registration(app, pilot, front_desk)
        break_everywhere(monkeypatch, "kiosk.registration.engine", "check_issue")
        app.screen.check_worker(app.screen.build_request())
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "RegisterScreen"
        assert any("Checking the choices did not finish" in n for n in notices)
        assert_no_secret(app, notices, config)


async def test_s9_printing_that_fails_is_said_and_the_slip_stays(
    app, config, monkeypatch, front_desk
):
    from kiosk.people.patients import family_for
    from kiosk.registration.engine import IssueRequest, issue_pins
    from kiosk.terms import Delivery

    rosemary = patient_id("Testkiddo")
    async with signed_in(app, front_desk) as (pilot, notices):
        family = family_for(rosemary, today=TODAY)
        request = IssueRequest(
            [rosemary], recipient_id=family.caregivers[0].id, delivery=Delivery.NONE
        )
        result = issue_pins(front_desk, request, today=TODAY)
        break_everywhere(monkeypatch, "kiosk.slip.printing", "print_slip")
        app.show_slip(result)
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert app.is_running and type(app.screen).__name__ == "SlipPreviewScreen"
        outcome = str(app.screen.query_one("#print-outcome", Static).render())
        assert outcome.startswith(
            "The slip was not printed or saved. Printing the slip did not finish"
        )
        assert_no_secret(app, notices, config, shown=(result.pins[0].pin,))
    assert_logged(config, "Printing the slip")


async def test_s9_fixing_a_name_that_fails_keeps_the_name_typed(
    app, config, monkeypatch, front_desk
):
    from kiosk_screens.name_fix import NameFixScreen

    break_everywhere(monkeypatch, "kiosk.registration.engine", "fix_given_name")
    async with signed_in(app, front_desk) as (pilot, notices):
        app.push_screen(NameFixScreen(patient_id("Testkiddo"), "Baby Girl", "Testkiddo"))
        await settle(app, pilot)
        field = app.screen.query_one("#given-name", Input)
        field.focus()
        await pilot.press(*"Maya", "enter")
        await settle(app, pilot)
        assert (
            app.is_running
            and isinstance(app.screen, NameFixScreen)
            and field.value.endswith("Maya")
        )
        assert "The name was not saved. Fixing the name did not finish" in shown_text(app)
        assert_no_secret(app, notices, config)
    assert_logged(config, "Fixing the name")


async def test_s9_outbox_screen_and_background_sender_that_fail_keep_the_app(
    app, config, monkeypatch, front_desk
):
    from kiosk_screens.outbox_screen import OutboxScreen

    async with signed_in(app, front_desk) as (pilot, notices):
        break_everywhere(monkeypatch, "kiosk.messages.outbox", "list_messages")
        break_everywhere(monkeypatch, "kiosk.messages.outbox", "deliver_due")
        app.push_screen(OutboxScreen())
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, OutboxScreen)
        assert any("Reading the outbox did not finish" in n for n in notices)
        app.deliver_outbox()
        await settle(app, pilot)
        assert any("Welcome messages could not be sent just now" in n for n in notices)
        assert_no_secret(app, notices, config)
    assert_logged(config, "Sending welcome messages")


async def test_s9_an_import_that_fails_says_so_on_the_import_screen(app, config, front_desk):
    from kiosk_screens.import_screen import ImportScreen

    def run_import(paths, progress):
        raise Boom(f"row 3: Rosemary born {LEAKED_DOB}, PIN {LEAKED_PIN}")

    async with signed_in(app, front_desk) as (pilot, notices):
        app.push_screen(ImportScreen(run_import))
        await settle(app, pilot)
        app.screen.query_one(Input).focus()
        await pilot.press(*"families.csv", "enter")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, ImportScreen)
        assert "Import stopped: The import did not finish" in shown_text(app)
        assert_no_secret(app, notices, config)
    assert_logged(config, "The import")


# -- errors outside workers: timers, callbacks, handlers, a worker that would end the app ------
async def test_s9_a_timer_callback_or_handler_that_raises_does_not_end_the_app(
    app, config, front_desk
):
    notices = Notices()

    def leaky():
        typed = {
            "pin": LEAKED_PIN,
            "dob": LEAKED_DOB,
        }  # Textual's own handler would print these locals
        raise Boom(f"checking the lock ({len(typed)} fields)")

    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        search = app.screen
        search.query_one("#search", Input).value = "Testk"
        app.set_timer(0.01, leaky)
        await pilot.pause(0.1)
        app.call_later(leaky)
        search.call_later(leaky)
        await settle(app, pilot)
        search.action_focus_status = leaky  # F2: a key binding whose action raises
        await pilot.press("f2")
        # A handler on the screen's own message loop: the box's Changed handler calls _search.
        search._search = lambda *_: leaky()
        search.post_message(Input.Changed(search.query_one("#search", Input), "Testk"))
        app.run_worker(leaky, thread=True)  # a worker without exit_on_error=False
        await settle(app, pilot)
        assert app.is_running and app.screen is search and search.is_running
        assert search.query_one("#search", Input).value == "Testk"
        await pilot.press("f3")  # the screen still answers keys
        await settle(app, pilot)
        assert app.focused is search.query_one("#appointments")
        log = assert_no_secret(app, notices, config)
    assert log.count(": Boom\n") >= 5 and "pin = " not in log
    assert any("something unexpected went wrong" in n for n in notices)


# -- parent mode ---------------------------------------------------------------------------------
async def test_s9_parent_mode_on_a_database_error_stays_put_with_what_was_typed(
    config, front_desk, monkeypatch
):
    """The defect: redeeming ran in a worker that ended the app and printed the PIN and the
    child's birth date. Now the parent reads an apology, the desk reads plain words later."""
    from kiosk_screens.parent import ChildScreen

    from test_ui_parent import PASSWORD, as_cindy, issue_testkiddo, unlock, us_date

    result = issue_testkiddo(front_desk)
    rosemary = result.pins[0].patient_id
    app = desk_app(config)
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        assert isinstance(app.screen, ChildScreen)
        break_everywhere(monkeypatch, "kiosk.registration.portal", "redeem")
        dob = us_date(rosemary)
        app.screen.query_one("#dob", Input).value = dob
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, ChildScreen)
        assert app.screen.query_one("#dob", Input).value == dob
        assert app.screen.query_one("#pin", Input).value == result.pins[0].pin
        assert "Sorry, something went wrong on our side" in shown_text(app)
        assert notices == []  # the desk's notice waits until the staff member is back
        assert_no_secret(app, notices, config, result.pins[0].pin, dob, PASSWORD)
        await pilot.press("f10")
        await settle(app, pilot)
        await unlock(app, pilot)
        assert any("Adding your child did not finish" in n for n in notices)
        assert_no_secret(app, notices, config, result.pins[0].pin, dob, PASSWORD)
    assert_logged(config, "Adding your child")


@pytest.mark.parametrize("call", ["create_account", "sign_in"])
async def test_s9_parent_account_errors_keep_the_form(config, front_desk, monkeypatch, call):
    from test_ui_parent import PASSWORD, at_desk, type_into

    app = desk_app(config)
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        await at_desk(app, pilot, front_desk, None)
        break_everywhere(monkeypatch, "kiosk.registration.portal", call)
        await pilot.press("n" if call == "create_account" else "s")
        await settle(app, pilot)
        form = app.screen
        if call == "create_account":
            await type_into(app, pilot, "name", "Cindy Testkiddo")
        await type_into(app, pilot, "email", "cindy@example.com")
        await type_into(app, pilot, "password", PASSWORD)
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.is_running and app.screen is form
        assert form.query_one("#email", Input).value == "cindy@example.com"
        assert "Sorry, something went wrong on our side" in shown_text(app)
        assert_no_secret(app, notices, config, PASSWORD)


async def test_s9_question_lookup_and_children_list_errors_keep_parent_mode(
    config, front_desk, monkeypatch
):
    from kiosk_screens.parent import ChildScreen, MyAccountScreen

    from test_ui_parent import as_cindy, issue_testkiddo

    result = issue_testkiddo(front_desk, method="question")
    app = desk_app(config)
    notices = Notices()
    async with app.run_test(size=SIZE, notifications=True, message_hook=notices) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        break_everywhere(monkeypatch, "kiosk.registration.portal", "question_for")
        app.screen.query_one("#family", Input).value = "Testkiddo"
        app.screen.query_one("#dob", Input).value = "05/17/2021"
        await pilot.press("f2")
        await settle(app, pilot)
        assert (
            isinstance(app.screen, ChildScreen)
            and app.screen.query_one("#family", Input).value == "Testkiddo"
        )
        break_everywhere(monkeypatch, "kiosk.registration.portal", "children_of")
        app.switch_screen(MyAccountScreen(app.screen.visit))
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, MyAccountScreen)
        assert "Sorry, something went wrong on our side" in shown_text(app)
        assert_no_secret(app, notices, config, "Biscuit")


# -- the error log and the scrubbing -------------------------------------------------------------
def test_s9_log_entry_has_time_place_type_and_traceback_but_no_locals_or_secrets(tmp_path):
    log = tmp_path / "logs" / "errors.log"

    def redeem(pin, dob, answer):
        raise Boom(f"no match for {pin} / {dob} / {answer}")

    try:
        redeem("jfkay ttjyv", "2019-02-28", "Biscuit the dog")
    except Boom as error:
        assert errors.log_error(log, error, "Adding your child", secrets=["Biscuit the dog"]) == log
    text = log.read_text()
    assert re.match(r"--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Adding your child: Boom\n", text)
    assert "Traceback (most recent call last)" in text and 'raise Boom(f"no match for {pin}' in text
    for secret in ("jfkay ttjyv", "2019-02-28", "Biscuit"):
        assert secret not in text
    assert (
        stat.S_IMODE(log.stat().st_mode) == 0o600
        and stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    )


def test_s9_an_older_looser_log_is_tightened_and_an_unwritable_one_is_no_second_error(tmp_path):
    log = tmp_path / "errors.log"
    log.write_text("")
    log.chmod(0o644)
    assert (
        errors.log_error(log, Boom("x"), "here") == log
        and stat.S_IMODE(log.stat().st_mode) == 0o600
    )
    assert errors.log_error(tmp_path / "errors.log" / "inside-a-file", Boom("x"), "here") is None


@given(
    st.text(alphabet=pins.ALPHABET, min_size=10, max_size=10),
    st.sampled_from(["{}", "{}-{}", "{} {}"]),
    st.booleans(),
    st.text(alphabet=" :=(),'", min_size=1, max_size=3),
)
def test_s9_any_pin_however_written_is_scrubbed(pin, shape, lower, around):
    written = shape.format(pin[:5], pin[5:]) if "-" in shape or " " in shape else pin
    written = written.lower() if lower else written
    scrubbed = errors.scrub(f"redeem{around}{written}{around}failed")
    assert (
        written not in scrubbed
        and pins.normalize_pin(written) not in scrubbed.replace(" ", "").upper()
    )


@given(
    st.dates(min_value=__import__("datetime").date(1900, 1, 1)),
    st.sampled_from(
        [
            "%Y-%m-%d",
            "%m/%d/%Y",
            "%d.%m.%Y",
            "%Y%m%d",
            "%m%d%Y",
            "%B %d, %Y",
            "%d %b %Y",
            "datetime.date(%Y, %m, %d)",
            "%m-%d-%y",
        ]
    ),
)
def test_s9_any_birth_date_however_written_is_scrubbed(born, form):
    written = born.strftime(form).replace("(0", "(").replace(", 0", ", ")
    assert written not in errors.scrub(f"patient dob={written}; born {written}.")


def test_s9_a_url_password_and_named_secrets_are_scrubbed():
    text = errors.scrub("postgresql://desk:S3cret-pw@db/kiosk password='hunter22' answer: Biscuit")
    assert "S3cret-pw" not in text and "hunter22" not in text and "Biscuit" not in text
    assert "postgresql://desk:" in text and "@db/kiosk" in text


def test_s9_plain_words_never_carry_the_exception_text():
    words = errors.plain_words(Boom(f"{LEAKED_PIN} {LEAKED_DOB}"), "Adding your child")
    assert (
        LEAKED_PIN not in words
        and LEAKED_DOB not in words
        and words.startswith("Adding your child did not")
    )


# -- database failures in plain words (one mapping, SQLite and PostgreSQL alike) --------------------
def caught(call) -> BaseException | None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - whatever it raised is what the test looks at
        return error
    return None


def add_someone(n: int = 0, *, filler: int = 0):
    from kiosk.people.staff import add_staff

    return lambda: add_staff(f"desk{n}", "Desk " + "x" * filler, "long-enough-password")


def test_o1_sqlite_a_full_disk_reads_full_not_cannot_rollback(store):
    from kiosk.store.db import database

    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    database.execute_sql(f"PRAGMA max_page_count = {pages}")
    error = next(
        e for e in (caught(add_someone(n, filler=100)) for n in range(2000)) if e is not None
    )
    assert "cannot rollback" in str(error) or "full" in str(error)  # what SQLite and peewee raise
    assert errors.database_problem(error).kind == errors.FULL
    assert errors.plain_words(error).startswith("The disk is full")


def test_o1_sqlite_a_database_locked_by_another_desk_reads_busy(store, config):
    import sqlite3

    from kiosk.store.db import database

    other = sqlite3.connect(config.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another desk holds the write lock
    try:
        database.execute_sql("PRAGMA busy_timeout = 50")
        problem = errors.database_problem(caught(add_someone()))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert problem.kind == errors.LOCKED and "wait a moment and try again" in problem.words


def test_o1_sqlite_a_read_only_database_reads_read_only(store):
    from kiosk.store.db import database

    database.execute_sql("PRAGMA query_only = 1")
    try:
        problem = errors.database_problem(caught(add_someone()))
    finally:
        database.execute_sql("PRAGMA query_only = 0")
    assert (
        problem.kind == errors.READ_ONLY
        and "ask the administrator to make it writable" in problem.words
    )


def test_o1_anything_else_is_not_a_database_problem():
    assert (
        errors.database_problem(Boom("database is locked")) is None
    )  # only the drivers' own errors
    assert errors.database_problem(OSError(28, "No space left on device")).kind == errors.FULL
    assert errors.database_problem(OSError(30, "Read-only file system")).kind == errors.READ_ONLY


def test_o1_cli_a_full_disk_is_one_plain_line(store, config, monkeypatch, capsys):
    from kiosk import cli
    from kiosk.store import db

    db.close_database()
    monkeypatch.setitem(db.SQLITE_PRAGMAS, "max_page_count", 60)  # as full as a disk can be
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("long-enough-password\n"))
    code = cli.main(["--db", config.database, "demo", "generate", "--patients", "300", "--force"])
    message = capsys.readouterr().err
    assert code == 1 and message.startswith("kiosk: The disk is full.")
    assert len(message.strip().splitlines()) == 1 and "rollback" not in message


def test_s9_cli_an_unexpected_error_is_logged_not_printed(
    store, config, monkeypatch, capsys, tmp_path
):
    from kiosk import cli
    from kiosk.people import staff

    monkeypatch.setenv("KIOSK_LOG_FILE", str(tmp_path / "cli-errors.log"))
    monkeypatch.setattr(
        staff, "list_staff", lambda: (_ for _ in ()).throw(Boom(f"{LEAKED_PIN} {LEAKED_DOB}"))
    )
    assert cli.main(["--db", config.database, "staff", "list"]) == 1
    message = capsys.readouterr().err
    assert (
        message
        == f"kiosk: unexpected error (Boom); the details are in {tmp_path / 'cli-errors.log'}\n"
    )
    log = (tmp_path / "cli-errors.log").read_text()
    assert "kiosk staff list: Boom" in log and LEAKED_PIN not in log and LEAKED_DOB not in log


# -- the same words on PostgreSQL ----------------------------------------------------------------------
@pytest.fixture
def pg(pg_store):
    import psycopg2

    from test_postgres import PG_URL

    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    yield admin
    admin.close()


def backend_pid() -> int:
    from kiosk.store.db import database

    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


@pytest.mark.postgres
@needs_postgres
def test_o1_pg_a_lost_connection_reads_lost_and_the_next_action_reconnects(pg):
    from kiosk.people.staff import add_staff, list_staff
    from kiosk.store.db import write_transaction

    pg.cursor().execute("SELECT pg_terminate_backend(%s)", (backend_pid(),))  # the server restarted
    assert [user.username for user in list_staff()] == [
        "maria"
    ]  # idle: reconnected, nothing to say

    def write_while_the_server_restarts():
        with write_transaction():
            add_staff("devon", "Devon Shaw", "long-enough-password")
            pg.cursor().execute("SELECT pg_terminate_backend(%s)", (backend_pid(),))
            add_staff("amy", "Amy Ng", "long-enough-password")

    problem = errors.database_problem(caught(write_while_the_server_restarts))
    assert problem.kind == errors.LOST and "try again in a moment" in problem.words
    assert [user.username for user in list_staff()] == [
        "maria"
    ]  # nothing half-written; connected again
    add_staff("devon", "Devon Shaw", "long-enough-password")
    assert [user.username for user in list_staff()] == ["devon", "maria"]


@pytest.mark.postgres
@needs_postgres
def test_o1_pg_locked_too_long_and_too_long_a_value_read_like_sqlite(pg):
    from kiosk.store.db import database

    database.execute_sql("SET lock_timeout = '50ms'")
    schema = database.execute_sql("SELECT current_schema()").fetchone()[0]
    holder = pg.cursor()
    holder.execute(
        f"BEGIN; LOCK TABLE {schema}.staff IN EXCLUSIVE MODE"
    )  # another desk holds the table
    try:
        locked = errors.database_problem(caught(add_someone()))
    finally:
        holder.execute("ROLLBACK")
    assert locked.kind == errors.LOCKED and locked.words == errors.WORDS[errors.LOCKED]
    from kiosk.store.models import Staff

    # Past the domain's own length checks (a model written to directly): the database's DataError
    too_long = errors.database_problem(
        caught(lambda: Staff.create(username="x" * 256, display_name="N", password_hash="h"))
    )
    assert too_long.kind == errors.INVALID and "correct what was typed" in too_long.words


@pytest.mark.postgres
@needs_postgres
def test_o1_pg_a_read_only_server_reads_read_only(pg):
    from kiosk.store.db import database

    database.execute_sql(
        "SET default_transaction_read_only = on"
    )  # a standby, or a database made read-only
    try:
        problem = errors.database_problem(caught(add_someone()))
    finally:
        database.execute_sql("SET default_transaction_read_only = off")
    assert problem.kind == errors.READ_ONLY and problem.words == errors.WORDS[errors.READ_ONLY]


def test_d3_opening_a_database_on_a_full_disk_says_the_disk_is_full(tmp_path, monkeypatch):
    """On a full disk SQLite cannot make the -shm file beside a WAL database and says only "disk
    I/O error": the desk, the services and the doctor named no cause a practice could act on."""
    from collections import namedtuple

    import peewee

    from kiosk.store import db as store

    def full(*_args, **_kwargs):
        raise peewee.OperationalError("disk I/O error")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(store, "_connected", full)
    monkeypatch.setattr(store.shutil, "disk_usage", lambda _: usage(2**22, 2**22, 0))
    with pytest.raises(store.DatabaseError) as refused:
        store.open_database(tmp_path / "kiosk.sqlite3")
    assert "The disk is full" in str(refused.value)


def test_d1_a_database_another_account_owns_is_named_with_its_owner(tmp_path, monkeypatch):
    """kiosk init run as root, the desks as the kiosk account: SQLite says only "unable to open
    database file", which names neither the cause nor the README's remedy."""
    import getpass

    import peewee

    from kiosk.store import db as store

    def refused(*_args, **_kwargs):
        raise peewee.OperationalError("unable to open database file")

    target = tmp_path / "kiosk.sqlite3"
    target.write_bytes(b"")
    monkeypatch.setattr(store, "_connected", refused)
    monkeypatch.setattr(store.os, "access", lambda path, mode: False)  # as another account sees it
    with pytest.raises(store.DatabaseError) as refused_open:
        store.open_database(target)
    words = str(refused_open.value)
    assert f"belongs to {getpass.getuser()}" in words and "cannot read and write it" in words
