"""R14, D1, S9: the slip's PDF is made in a short-lived child process (kiosk.slip.pdf_child).

The app prints every family's slip, yet never loads fpdf2, Pillow or fontTools, which would keep
a low-spec kiosk over its memory budget for the rest of the day; a child that fails leaves the
desk plain words, with no PIN in the message, the error log or a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import PrinterConfig
from kiosk.slip import pdf_child
from kiosk.slip.content import slip_from_issue
from kiosk.slip.printing import print_slip

from conftest import desk_app, settle
from test_accept_slip import _Practice, five_siblings, open_preview, outcome

PDF_LIBRARIES = ("fpdf", "PIL", "fontTools")
PINS = [issued.pin for issued in five_siblings().pins]


@pytest.fixture
def desk_config(config, tmp_path):
    return dataclasses.replace(config, printer=PrinterConfig(output_dir=str(tmp_path / "slips")))


def test_r14_d1_a_fresh_process_prints_a_slip_without_loading_the_pdf_libraries(tmp_path):
    """A new process (as the app starts) prints and checks a slip: the PDF is saved, and not one
    of fpdf2, Pillow or fontTools is in its modules afterwards: the child made the PDF."""
    script = f"""
import datetime as dt, json, sys
from kiosk.config import Config, PrinterConfig
from kiosk.slip import pdf_child
from kiosk.slip.printing import print_slip
from kiosk.slip.content import SlipData
children = (("Sofía Núñez-García", "JFKAY-TTJYV"), ("Basil Testkiddo", "NVTHF-PCJQW"))
slip = SlipData("Sunny Hills Pediatrics", "https://portal.example.org/register",
                children[0][0], children, dt.date(2026, 12, 22), "en", "0123456789abcdef")
config = Config(printer=PrinterConfig(output_dir={str(tmp_path / "slips")!r}))
done = print_slip(slip, config)
names = pdf_child.unprintable(slip)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {PDF_LIBRARIES!r})
print(json.dumps({{"saved": str(done.pdf_path), "names": names, "loaded": loaded}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    answer = json.loads(done.stdout)
    assert answer["loaded"] == []
    assert answer["names"] == []
    assert Path(answer["saved"]).read_bytes().startswith(b"%PDF")


async def test_r14_d1_the_app_prints_the_slip_with_the_pdf_libraries_out_of_reach(
    training, desk_config, monkeypatch
):
    """With fpdf2, Pillow and fontTools unimportable in the app's process, p on the slip still
    checks its letters and saves the PDF (no printer set up, O2): both happen in the child."""
    for name in list(sys.modules):
        if name.split(".")[0] in PDF_LIBRARIES:
            monkeypatch.setitem(sys.modules, name, None)
    for name in PDF_LIBRARIES:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr("kiosk.slip.pdf._covered_codepoints", _unreachable)
    app = desk_app(desk_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await settle(app, pilot)
        said = outcome(app)
        assert said.startswith("No printer is set up. The slip was saved as "), said
        saved = Path(said.rsplit(" saved as ", 1)[1].removesuffix("."))
        assert saved.read_bytes().startswith(b"%PDF")
        assert not app.screen.query_one("#slip-warning").display


def _unreachable():
    raise AssertionError("the app's process read the slip fonts itself")


# A child that crashes with the slip in its traceback: what reaches the desk must not show it
CRASHING_CHILD = (
    "import sys; slip = sys.stdin.readline(); "
    "sys.stderr.write('Traceback (most recent call last):\\n  ' + slip + '\\nValueError: boom\\n'); "
    "sys.exit(1)"
)


async def test_r14_s9_a_child_failure_is_a_plain_message_with_no_pin_anywhere(
    training, desk_config, monkeypatch
):
    monkeypatch.setattr(pdf_child, "command", lambda: [sys.executable, "-c", CRASHING_CHILD])
    app = desk_app(desk_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preview(app, pilot, five_siblings())
        warning = str(app.screen.query_one("#slip-warning").render())
        assert warning == (
            "The slip's letters could not be checked: "
            "the slip's PDF could not be made (the PDF maker stopped)."
        )
        await pilot.press("p")
        await settle(app, pilot)
        said = outcome(app)
        assert said == (
            "The slip was not printed or saved: the slip's PDF could not be made "
            "(the PDF maker stopped). Press p to try again."
        )
        assert app.screen.is_mounted  # the preview stays: p tries again
    log = desk_config.error_log.read_text() if desk_config.error_log.exists() else ""
    for pin in PINS:
        assert pin not in said and pin not in warning and pin not in log
    slips = Path(desk_config.printer.output_dir)
    assert not slips.exists() or not any(slips.iterdir())  # nothing half-made at rest (S11)


def test_r14_the_child_names_only_its_error_type_and_the_desk_reads_it(config, monkeypatch):
    """The real child with a bad layout: it writes its exception's type, never its text."""
    slip = slip_from_issue(five_siblings(), _Practice())
    with pytest.raises(pdf_child.SlipChildError) as failed:
        pdf_child.render_pdf(slip, "no-such-layout")
    assert str(failed.value) == ("the slip's PDF could not be made (ValueError in the PDF maker)")
    bad = dataclasses.replace(config, printer=PrinterConfig(layout="no-such-layout"))
    done = print_slip(slip, bad)
    assert (done.printed, done.pdf_path) == (False, None)
    assert done.message.startswith("The slip was not printed or saved: ")


def test_d1_the_child_opens_no_database_and_loads_no_database_library():
    """The child's environment tells kiosk it opens no database: peewee, some 20 ms of each
    child's start on one CPU (D1), stays out of it; the app itself loads it as ever."""
    script = "import sys, kiosk.slip.pdf_child; print('peewee' in sys.modules)"
    child = subprocess.run(
        [sys.executable, "-c", script], env=pdf_child.environment(), capture_output=True, text=True
    )
    app = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (child.stdout.strip(), app.stdout.strip()) == ("False", "True"), child.stderr


def test_r14_the_slip_goes_to_the_child_on_stdin_only(monkeypatch):
    """S2: the PINs travel on the pipe, never on the command line or in the environment."""
    seen = {}

    def run(args, **kwargs):
        seen.update(args=args, env=kwargs.get("env"), input=kwargs["input"])
        return subprocess.CompletedProcess(args, 0, b"%PDF-1.4", b"")

    monkeypatch.setattr(pdf_child.subprocess, "run", run)
    slip = slip_from_issue(five_siblings(), _Practice())
    assert pdf_child.render_pdf(slip, "letter") == b"%PDF-1.4"
    assert seen["env"] == {**os.environ, "KIOSK_SLIP_CHILD": "1"}  # the app's own, no database
    assert not any(pin in " ".join(seen["args"]) for pin in PINS)
    assert all(pin in seen["input"].decode() for pin in PINS)


# A child that logs its pid as it starts and as it ends, then is the real child
LOGGING_CHILD = (
    "import atexit, os, runpy, sys; log = open(sys.argv[1], 'a'); "
    "log.write(f'start {os.getpid()}\\n'); log.flush(); "
    "atexit.register(lambda: (log.write(f'end {os.getpid()}\\n'), log.flush())); "
    "runpy.run_module('kiosk.slip.pdf_child', run_name='__main__')"
)


def _logged(monkeypatch, tmp_path) -> Path:
    log = tmp_path / "children.log"
    monkeypatch.setattr(
        pdf_child, "command", lambda: [sys.executable, "-c", LOGGING_CHILD, str(log)]
    )
    return log


def _wait_for(log: Path, children: int) -> list[str]:
    """The log once ``children`` children have started and ended (or after 30 s)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= 2 * children or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_r14_d1_the_child_that_checked_the_letters_makes_the_pdf_and_ends(monkeypatch, tmp_path):
    """One child a slip: it answers the letters' check, waits (loading the PDF libraries), makes
    the PDF when asked and exits; a print with no child waiting starts a fresh one."""
    log = _logged(monkeypatch, tmp_path)
    slip = slip_from_issue(five_siblings(), _Practice())
    child = pdf_child.SlipChild()
    assert child.unprintable(slip, layout="letter") == []  # the letter PDF made ahead
    assert LETTER in child.render_pdf(slip, "letter")
    lines = _wait_for(log, 1)
    pid = lines[0].split()[1]
    assert lines == [f"start {pid}", f"end {pid}"]  # the same child, ended after the PDF
    assert child.render_pdf(slip, "receipt").startswith(b"%PDF")  # none waiting: a fresh one
    assert len(_wait_for(log, 2)) == 4
    child.unprintable(slip, layout="letter")
    assert A4 in child.render_pdf(slip, "a4")  # the layout changed meanwhile: made again


LETTER, A4 = b"/MediaBox [0 0 612.00 792.00]", b"/MediaBox [0 0 595.28 841.89]"


def test_d1_a_closed_preview_ends_its_child_and_a_dead_one_is_replaced(monkeypatch, tmp_path):
    log = _logged(monkeypatch, tmp_path)
    slip = slip_from_issue(five_siblings(), _Practice())
    closed = pdf_child.SlipChild()
    closed.unprintable(slip)
    closed.close()
    assert [line.split()[0] for line in _wait_for(log, 1)] == ["start", "end"]
    killed = pdf_child.SlipChild()
    killed.unprintable(slip)
    killed._process.kill()  # ended under the desk (out of memory, an administrator)
    killed._process.wait()
    assert killed.render_pdf(slip, "letter").startswith(b"%PDF")


def test_r14_s9_a_kept_child_that_fails_says_plain_words(monkeypatch):
    """The kept child failing on the letters' check or on the PDF: plain words, no PIN."""
    monkeypatch.setattr(pdf_child, "command", lambda: [sys.executable, "-c", CRASHING_CHILD])
    slip = slip_from_issue(five_siblings(), _Practice())
    child = pdf_child.SlipChild()
    with pytest.raises(pdf_child.SlipChildError) as failed:
        child.unprintable(slip)
    assert str(failed.value) == "the slip's PDF could not be made (the PDF maker stopped)"
    monkeypatch.setattr(pdf_child, "command", _real)
    assert child.render_pdf(slip, "letter").startswith(b"%PDF")  # p starts a fresh child
    child.unprintable(slip)
    with pytest.raises(pdf_child.SlipChildError) as bad:
        child.render_pdf(slip, "no-such-layout")
    assert str(bad.value) == "the slip's PDF could not be made (ValueError in the PDF maker)"
    assert not any(pin in str(failed.value) + str(bad.value) for pin in PINS)


_real = pdf_child.command


async def test_r14_d1_the_preview_prints_with_the_child_that_checked_its_letters(
    training, desk_config, monkeypatch, tmp_path
):
    """At the desk: opening the slip starts one child, p prints with it; going back from a
    second preview ends that one's child unused."""
    log = _logged(monkeypatch, tmp_path)
    app = desk_app(desk_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await settle(app, pilot)
        assert outcome(app).startswith("No printer is set up. The slip was saved as ")
        first = _wait_for(log, 1)
        assert [line.split()[0] for line in first] == ["start", "end"]
        await pilot.press("escape")
        await settle(app, pilot)
        await open_preview(app, pilot, five_siblings())
        await pilot.press("escape")
        await settle(app, pilot)
        assert [line.split()[0] for line in _wait_for(log, 2)] == ["start", "end"] * 2
