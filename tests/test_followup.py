"""W1 worklists and W2 registration drives, on a small practice with known answers, on SQLite and
on PostgreSQL (KIOSK_TEST_PG_URL): each filter's families, one row per family, paging by key, the
drive's dry run, its letters (QR codes decoded, PINs that redeem), a crash half-way and the run
that finishes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sys
import time

import pypdfium2 as pdfium
import pytest
import zxingcpp

from kiosk.clock import Clock
from kiosk.desk import Desk
from kiosk.followup import drive as drive_module
from kiosk.followup.drive import DriveOptions
from kiosk.followup.worklist import WorklistError, WorklistQuery, all_families, worklist_page
from kiosk.people.staff import add_staff, authenticate
from kiosk.registration import portal
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk.registration.pin_life import maintain
from kiosk.store import files
from kiosk.store.db import write_transaction
from kiosk.store.models import (
    Appointment,
    Caregiver,
    DriveFamily,
    OutboxMessage,
    Patient,
    Relationship,
)
from kiosk.terms import Authority, DriveState, PortalStatus, WorklistKind

from conftest import NOW, TODAY, FakePrinter

URL = "https://portal.example.org/register"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """An open store: the test's SQLite file, or a schema of its own on the PostgreSQL server. For
    a test that uses ``practice``, with the practice in it: written once per process, copied."""
    load = _write_practice if "practice" in request.fixturenames else None
    if request.param == "sqlite":
        if load:
            config = request.getfixturevalue("config")
            request.getfixturevalue("_training_copies").copy_into(config, load=load)
        request.getfixturevalue("store")
        yield "sqlite"
        return
    from test_postgres import postgres_store

    with postgres_store(tmp_path, load=load):
        yield "postgres"


def _family(
    caregiver: tuple[str, str, dict], kids: list[tuple[str, dt.date, dict]]
) -> list[Patient]:
    given, family, contact = caregiver
    carer = Caregiver.create(given_name=given, family_name=family, **contact)
    made = []
    for name, born, extra in kids:
        patient = Patient.create(
            chart_number=f"W{Patient.select().count() + 1}",
            given_name=name,
            family_name=family,
            dob=born,
            **extra,
        )
        Relationship.create(
            caregiver=carer, patient=patient, role="Mother", authority=Authority.JOINT
        )
        made.append(patient)
    return made


def _turning(age: int, in_days: int) -> dt.date:
    day = TODAY + dt.timedelta(days=in_days)
    return day.replace(year=day.year - age)


@pytest.fixture
def practice(backend):
    """The practice ``_write_practice`` writes (``backend`` copied it in): the linked staff member."""
    return authenticate("maria", "front-desk-password-1")


def _write_practice() -> None:
    """Seven families. Alpha: two Unregistered children (one seen today by Dr. Lee) and a father
    with authority over the second; Beta: a Self Registered child, a cell and no email; Gamma: no
    email or cell, a child turning 12 in 5 days, seen tomorrow by Dr. Kay; Delta: a PIN issued 20
    days ago; Epsilon: a PIN that expired; Zeta: a Registered child turning 18, seen today; Eta: a
    newborn with a placeholder name; a linked staff member, maria."""
    add_staff("maria", "Maria Lopez", "front-desk-password-1", portal_user="portal-maria")
    staff = authenticate("maria", "front-desk-password-1")
    with write_transaction():
        a1, a2 = _family(
            ("Ana", "Alpha", {"email": "ana@example.org", "preferred_language": "es"}),
            [("Alma", dt.date(2016, 1, 2), {}), ("Aldo", dt.date(2019, 3, 4), {})],
        )
        father = Caregiver.create(given_name="Al", family_name="Alpha", email="al@example.org")
        Relationship.create(caregiver=father, patient=a2, role="Father", authority=Authority.JOINT)
        _family(
            ("Ben", "Beta", {"cell": "3175550101", "carrier": "verizon"}),
            [("Bea", dt.date(2015, 6, 1), {"portal_status": PortalStatus.SELF_REGISTERED})],
        )
        (c1,) = _family(("Cora", "Gamma", {}), [("Cal", _turning(12, 5), {})])
        (d1,) = _family(
            ("Dan", "Delta", {"email": "dan@example.org"}), [("Dot", dt.date(2020, 1, 1), {})]
        )
        (e1,) = _family(
            ("Eve", "Epsilon", {"email": "eve@example.org"}), [("Eli", dt.date(2021, 1, 1), {})]
        )
        (z1,) = _family(
            ("Zoe", "Zeta", {"email": "zoe@example.org"}),
            [("Zed", _turning(18, 3), {"portal_status": PortalStatus.REGISTERED})],
        )
        _family(
            ("Ema", "Eta", {"email": "ema@example.org"}), [("Baby Boy", dt.date(2026, 11, 1), {})]
        )
        at = dt.datetime.combine(TODAY, dt.time(9))
        Appointment.create(patient=a1, starts_at=at, provider="Dr. Lee")
        Appointment.create(patient=z1, starts_at=at, provider="Dr. Lee")
        Appointment.create(patient=c1, starts_at=at + dt.timedelta(days=1), provider="Dr. Kay")
    for child, days_ago in ((d1, 20), (e1, 40)):
        request = IssueRequest([child.id], recipient_id=_carer(child), email="x@example.org")
        issue_pins(staff, request, now=NOW - dt.timedelta(days=days_ago), today=TODAY)
    maintain(NOW)  # L2: Epsilon's PIN is recorded as expired, Eli back to Unregistered


def _carer(child: Patient) -> int:
    return Relationship.get(Relationship.patient == child).caregiver_id


def names(query: WorklistQuery, **options) -> list[str]:
    return [f.caregiver_name for f in all_families(query, today=TODAY, now=NOW, **options)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            WorklistQuery(WorklistKind.UNREGISTERED),
            ["Ana Alpha", "Eve Epsilon", "Ema Eta", "Cora Gamma"],
        ),
        (WorklistQuery(WorklistKind.SELF_REGISTERED), ["Ben Beta"]),
        (WorklistQuery(WorklistKind.PIN_EXPIRED), ["Eve Epsilon"]),
        (WorklistQuery(WorklistKind.PENDING_OVER, days=14), ["Dan Delta"]),
        (WorklistQuery(WorklistKind.PENDING_OVER, days=21), []),
        (WorklistQuery(WorklistKind.EXPIRING, days=14), ["Dan Delta"]),
        (WorklistQuery(WorklistKind.EXPIRING, days=7), []),
        (WorklistQuery(WorklistKind.TURNING, days=7), ["Zoe Zeta", "Cora Gamma"]),
        (WorklistQuery(WorklistKind.TURNING, days=4), ["Zoe Zeta"]),
        (WorklistQuery(WorklistKind.APPOINTMENTS), ["Ana Alpha"]),  # Zed is Registered
        (
            WorklistQuery(WorklistKind.APPOINTMENTS, start=TODAY, end=TODAY + dt.timedelta(days=1)),
            ["Ana Alpha", "Cora Gamma"],
        ),
        (
            WorklistQuery(
                WorklistKind.APPOINTMENTS,
                start=TODAY,
                end=TODAY + dt.timedelta(days=1),
                provider="Dr. Kay",
            ),
            ["Cora Gamma"],
        ),
    ],
    ids=lambda value: value.describe() if isinstance(value, WorklistQuery) else None,
)
def test_w1_each_worklist_lists_its_families_in_order(practice, query, expected):
    assert names(query) == expected


def test_w1_one_row_per_family_with_every_child_status_and_the_caregiver(practice):
    (alpha,) = [
        f
        for f in all_families(WorklistQuery(WorklistKind.UNREGISTERED), today=TODAY, now=NOW)
        if f.caregiver_name == "Ana Alpha"
    ]
    # Aldo's father has authority too, but Aldo's family is his mother's: one row, not two
    assert alpha.children_text == "Alma Alpha (Unregistered); Aldo Alpha (Unregistered)"
    assert alpha.why == "Unregistered"


def test_w1_pages_by_key_show_each_family_once_and_in_the_same_order(practice):
    query = WorklistQuery(WorklistKind.UNREGISTERED)
    seen, cursor = [], None
    while True:
        page = worklist_page(query, today=TODAY, now=NOW, cursor=cursor, size=1)
        seen += [f.caregiver_name for f in page.families]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == names(query)


def test_w1_turning_reads_the_practice_ages(practice):
    query = WorklistQuery(WorklistKind.TURNING, days=7)
    assert names(query, ages=(13, 18)) == ["Zoe Zeta"]  # Cal turns 12, not 13
    assert [f.why for f in all_families(query, today=TODAY, now=NOW)] == [
        f"Turns 18 on {TODAY + dt.timedelta(days=3):%m/%d/%Y}",
        f"Turns 12 on {TODAY + dt.timedelta(days=5):%m/%d/%Y}",
    ]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        (WorklistQuery(WorklistKind.UNREGISTERED, days=-1), "Days must be between"),
        (
            WorklistQuery(WorklistKind.APPOINTMENTS, start=TODAY, end=TODAY - dt.timedelta(days=1)),
            "end date is before the start date",
        ),
    ],
)
def test_w1_a_worklist_asked_wrongly_says_why(practice, query, why):
    with pytest.raises(WorklistError, match=why):
        worklist_page(query, today=TODAY, now=NOW)


# -- W2: the drive ---------------------------------------------------------------------------------
@pytest.fixture
def front_desk_w2(practice, config, tmp_path):
    config = dataclasses.replace(
        config, printer=dataclasses.replace(config.printer, output_dir=str(tmp_path / "slips"))
    )
    return Desk(config, clock=Clock.fixed(NOW, TODAY), staff=practice, printer=FakePrinter())


def pdf_pages(path) -> list[tuple[str, list[str]]]:
    """Each page's text and the QR codes decoded from its picture."""
    pages = []
    for page in pdfium.PdfDocument(path):
        text = page.get_textpage().get_text_range()
        image = page.render(scale=2).to_pil()
        codes = [
            c.text
            for c in zxingcpp.read_barcodes(image)
            if c.format == zxingcpp.BarcodeFormat.QRCode
        ]
        pages.append((text, codes))
    return pages


UNREGISTERED = WorklistQuery(WorklistKind.UNREGISTERED)
BOTH = DriveOptions(letters=True, messages=True)


def test_w2_the_dry_run_counts_families_children_letters_and_messages_and_writes_nothing(
    front_desk_w2,
):
    plan = front_desk_w2.plan_drive(UNREGISTERED, BOTH)
    # Alpha (2 children, email), Gamma (letter only: no email or cell), Epsilon (email); Eta skipped (R2)
    assert plan.summary() == "3 families, 4 children, 3 letters, 2 messages; 1 skipped"
    assert [f.problem for f in plan.families if f.problem] == [
        "Baby Boy is a placeholder name: fix it at the desk first"
    ]
    letters_only = front_desk_w2.plan_drive(
        UNREGISTERED, DriveOptions(letters=True, messages=False)
    )
    assert letters_only.summary() == "3 families, 4 children, 3 letters, 0 messages; 1 skipped"
    assert (
        Patient.select().where(Patient.portal_status == PortalStatus.PENDING).count() == 1
    )  # Dot only
    assert DriveFamily.select().count() == 0


def test_w2_a_drive_issues_family_by_family_and_makes_one_letter_each(front_desk_w2, config):
    plan = front_desk_w2.plan_drive(UNREGISTERED, BOTH)
    seen: list[tuple[str, int, int]] = []
    report = front_desk_w2.run_drive(
        front_desk_w2.start_drive(plan), progress=lambda *a: seen.append(a)
    )
    assert (report.done, report.messages, report.letters, len(report.skipped)) == (3, 2, 3, 1)
    assert seen[0] == ("Issuing PINs", 0, 4) and ("Issuing PINs", 4, 4) in seen
    assert report.letters_file is not None and report.letters_file.name.startswith("slip-")
    pages = pdf_pages(report.letters_file)
    assert len(pages) == 3 and all(codes == [URL] for _, codes in pages)  # a QR to the portal each
    alpha = next(text for text, _ in pages if "Ana Alpha" in text)
    assert (
        "Estimado(a) Ana Alpha" in alpha and "Alma Alpha" in alpha and "Aldo Alpha" in alpha
    )  # Spanish
    # R6: one welcome per family, as at the desk
    assert OutboxMessage.select().count() == 2 + 2  # and Delta's and Epsilon's first PINs
    # the letter's PIN registers the child
    pin = re.search(r"Alma Alpha\s+([A-Z]{5}-[A-Z]{5})", alpha.replace("\r", ""))
    assert pin is not None
    account = portal.create_account("ana@example.org", "Ana Alpha", "Sunflower-meadow-42")
    alma = Patient.get(Patient.given_name == "Alma")
    assert portal.redeem(account.id, alma.dob, pin=pin.group(1), now=NOW).patient_id == alma.id
    # S11: the sealed copies are gone once the letters are made; the file goes after keep_minutes
    assert not DriveFamily.select().where(DriveFamily.letter != "").exists()
    files.remove_old_slips(
        front_desk_w2.config, now=time.time() + config.printer.keep_minutes * 60 + 1
    )
    assert not report.letters_file.exists()


def test_w2_letters_sent_to_the_printer_leave_no_file(front_desk_w2):
    config = front_desk_w2.config
    front_desk_w2.config = dataclasses.replace(
        config, printer=dataclasses.replace(config.printer, name="front-desk")
    )
    plan = front_desk_w2.plan_drive(UNREGISTERED, DriveOptions(letters=True))
    report = front_desk_w2.run_drive(front_desk_w2.start_drive(plan), print_letters=True)
    assert report.letters_file is None and "sent to printer front-desk" in report.letters_note
    assert len(front_desk_w2.printer.jobs) == 1
    assert len(pdfium.PdfDocument(front_desk_w2.printer.jobs[0][2])) == 3


def crash_on_the_second_family(monkeypatch, why: str):
    """Make the drive's second issue raise ``why`` (the machine going down); the real issue_pins."""
    real, calls = drive_module.issue_pins, []

    def dies_on_the_second_family(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError(why)
        return real(*args, **kwargs)

    monkeypatch.setattr(drive_module, "issue_pins", dies_on_the_second_family)
    return real


def test_w2_a_crash_half_way_leaves_finished_families_finished_and_a_rerun_skips_them(
    front_desk_w2, monkeypatch
):
    plan = front_desk_w2.plan_drive(UNREGISTERED, BOTH)
    drive_id = front_desk_w2.start_drive(plan)
    real = crash_on_the_second_family(monkeypatch, "power cut")
    with pytest.raises(RuntimeError, match="power cut"):
        front_desk_w2.run_drive(drive_id)
    states = [r.state for r in DriveFamily.select().order_by(DriveFamily.id)]
    assert states == [DriveState.DONE] + [DriveState.WAITING] * 3
    alma, cal = Patient.get(Patient.given_name == "Alma"), Patient.get(Patient.given_name == "Cal")
    assert alma.portal_status == PortalStatus.PENDING  # the first family is finished
    assert cal.portal_status == PortalStatus.UNREGISTERED and not cal.pins.exists()  # untouched
    sealed = DriveFamily.get(DriveFamily.state == DriveState.DONE).letter
    assert sealed.startswith("aesgcm1:")  # its letter kept for the next run, sealed (S11)

    monkeypatch.setattr(drive_module, "issue_pins", real)
    report = front_desk_w2.run_drive(drive_id)
    assert (report.already, report.done, len(report.skipped), report.letters) == (1, 2, 1, 3)
    assert alma.pins.count() == 1  # not issued twice
    assert len(pdf_pages(report.letters_file)) == 3  # the first family's letter is in the PDF


def test_w2_a_family_refused_by_the_engine_is_skipped_with_the_reason(front_desk_w2):
    plan = front_desk_w2.plan_drive(UNREGISTERED, BOTH)
    drive_id = front_desk_w2.start_drive(plan)
    with write_transaction():  # between the dry run and the run, Cora loses her authority
        Relationship.update(authority=Authority.NONE).where(
            Relationship.caregiver == Caregiver.get(Caregiver.given_name == "Cora")
        ).execute()
    report = front_desk_w2.run_drive(drive_id)
    assert "Cora Gamma: no child left to register" in report.skipped
    assert Patient.get(Patient.given_name == "Cal").portal_status == PortalStatus.UNREGISTERED


PDF_LIBRARIES = ("fpdf", "PIL", "fontTools")


def test_w2_d1_the_letters_are_drawn_in_the_slip_child_not_the_app(front_desk_w2, monkeypatch):
    """D1: with fpdf2, Pillow and fontTools unimportable in this process, the drive still makes
    its one PDF, a page a family: the slip's child process draws the letters, so a drive run
    from a low-spec kiosk does not keep the PDF libraries in its memory for the rest of the day."""
    for name in list(sys.modules):
        if name.split(".")[0] in PDF_LIBRARIES:
            monkeypatch.setitem(sys.modules, name, None)
    for name in PDF_LIBRARIES:
        monkeypatch.setitem(sys.modules, name, None)
    plan = front_desk_w2.plan_drive(UNREGISTERED, DriveOptions(letters=True))
    report = front_desk_w2.run_drive(front_desk_w2.start_drive(plan))
    assert report.letters == 3 and report.letters_file is not None
    assert len(pdfium.PdfDocument(report.letters_file)) == 3


# The slip's child failing, with the letters it was given in its traceback
CRASHING_CHILD = (
    "import sys; text = sys.stdin.read(); "
    "sys.stderr.write('Traceback (most recent call last):\\n  ' + text + '\\nValueError\\n'); "
    "sys.exit(1)"
)


def test_w2_s11_letters_the_child_could_not_draw_stay_sealed_for_the_next_run(
    front_desk_w2, monkeypatch
):
    """The PINs are issued; the child fails: the error names no PIN, every letter stays sealed
    (S11) and the next run makes them all."""
    from kiosk.slip import pdf_child

    plan = front_desk_w2.plan_drive(UNREGISTERED, DriveOptions(letters=True))
    drive_id = front_desk_w2.start_drive(plan)
    real = pdf_child.command
    monkeypatch.setattr(pdf_child, "command", lambda: [sys.executable, "-c", CRASHING_CHILD])
    with pytest.raises(pdf_child.SlipChildError) as failed:
        front_desk_w2.run_drive(drive_id)
    assert str(failed.value) == "the slip's PDF could not be made (the PDF maker stopped)"
    sealed = [row.letter for row in DriveFamily.select().where(DriveFamily.letter != "")]
    assert len(sealed) == 3 and all(letter.startswith("aesgcm1:") for letter in sealed)
    monkeypatch.setattr(pdf_child, "command", real)
    report = front_desk_w2.run_drive(drive_id)
    assert (report.already, report.letters) == (3, 3)
    assert len(pdf_pages(report.letters_file)) == 3


# -- the command line ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_w2_kiosk_drive_dry_run_run_and_list(practice, config, tmp_path, capsys, monkeypatch):
    """On SQLite only: the command line's words, its progress bar on stderr, its refusals."""
    from kiosk.cli import main

    monkeypatch.setenv("KIOSK_SLIP_DIR", str(tmp_path / "slips"))
    args = ["--db", config.database, "drive"]
    assert main([*args, "--dry-run", "--messages"]) == 0
    out = capsys.readouterr().out
    assert "Unregistered: 3 families, 4 children, 3 letters, 2 messages; 1 skipped." in out
    assert "skipped: Ema Eta: Baby Boy is a placeholder name" in out
    assert main([*args, "--messages"]) == 2 and "--by USERNAME" in capsys.readouterr().err
    assert main([*args, "--worklist", "soon"]) == 2
    assert "--worklist must be one of appointments, unregistered" in capsys.readouterr().err
    assert main([*args, "--messages", "--by", "maria"]) == 0
    captured = capsys.readouterr()
    assert "Issuing PINs: 100%" in captured.err and "Making letters: 100%" in captured.err
    assert "Drive 1: 3 families issued, 1 skipped; 2 messages queued; 3 letters." in captured.out
    assert main([*args, "--list"]) == 0
    assert "finished  3 done, 1 skipped, 0 waiting  Unregistered" in capsys.readouterr().out
    assert main([*args, "--resume", "7", "--by", "maria"]) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_w2_kiosk_drive_says_when_its_letters_were_not_made(
    practice, config, tmp_path, capsys, monkeypatch
):
    """The slip's child failing: one plain line naming the drive to resume, no PIN, exit 2."""
    from kiosk.cli import main
    from kiosk.slip import pdf_child

    monkeypatch.setenv("KIOSK_SLIP_DIR", str(tmp_path / "slips"))
    monkeypatch.setattr(pdf_child, "command", lambda: [sys.executable, "-c", CRASHING_CHILD])
    assert main(["--db", config.database, "drive", "--by", "maria", "--quiet"]) == 2
    said = capsys.readouterr().err
    assert said == (
        "kiosk: drive 1: the letters were not made (the slip's PDF could not be made "
        "(the PDF maker stopped)); kiosk drive --resume 1 tries again\n"
    )


def test_w2_every_drive_option_has_help(capsys):
    from kiosk.cli import main

    with pytest.raises(SystemExit):
        main(["drive", "--help"])
    text = capsys.readouterr().out
    for option in (
        "--worklist",
        "--days",
        "--from",
        "--to",
        "--provider",
        "--limit",
        "--no-letters",
        "--messages",
        "--print",
        "--dry-run",
        "--by",
        "--resume",
        "--list",
        "--quiet",
        "--config",  # D1: the shared options are taken after the command too
        "--db",
        "--terminal",
    ):
        assert option in text
    assert text.count("\n  --") == 17  # each on its own line, with its help beside it


def test_i1_a_letter_speaks_the_family_language():
    from kiosk.followup.letters import letter_page

    letter = {
        "caregiver": "Ana Alpha",
        "patient": "Alma Alpha",
        "children": [["Alma Alpha", "ABCDE-FGHJK"], ["Aldo Alpha", "KMNPQ-RSTUV"]],
        "expires": "2026-12-22",
        "batch": "b",
        "ids": [1, 2],
    }
    _, spanish = letter_page({**letter, "language": "es"}, "Sunny Hills", URL)
    _, english = letter_page({**letter, "language": "en"}, "Sunny Hills", URL)
    assert spanish[0] == "Estimado(a) Ana Alpha:" and "registrar a Alma y Aldo" in spanish[1]
    assert "22 de diciembre de 2026" in spanish[1]
    assert english[0] == "Dear Ana Alpha," and "register Alma and Aldo" in english[1]
    assert "December 22, 2026" in english[1]


def test_w1_t2_a_desk_lists_turning_at_the_practice_ages(front_desk_w2):
    """The desk's worklist reads the practice's teen_age and majority_age (T2)."""
    from kiosk.store.models import Practice

    query = WorklistQuery(WorklistKind.TURNING, days=7)
    assert [f.caregiver_name for f in front_desk_w2.worklist(query).families] == [
        "Zoe Zeta",
        "Cora Gamma",
    ]
    Practice.update(teen_age=13).execute()
    later = Desk(front_desk_w2.config, clock=front_desk_w2.clock)  # reads the settings anew
    assert [f.caregiver_name for f in later.worklist(query).families] == ["Zoe Zeta"]
