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
    "import sys; slip = sys.stdin.read(); "
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
