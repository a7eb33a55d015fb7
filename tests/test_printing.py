"""R14, O2, S5: printing the slip through CUPS, or saving it as PDF, and the audit trail of it.

The real-printer tests need a CUPS server with a cups-pdf queue: ``bash .ci/cups.sh`` starts one
and prints the two variables they read (KIOSK_TEST_CUPS_PRINTER, KIOSK_TEST_CUPS_OUTPUT).
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import time
from pathlib import Path

import pytest

from kiosk import audit
from kiosk.config import Config, PrinterConfig
from kiosk.slip.content import SlipData
from kiosk.slip.printing import job_title, print_slip
from kiosk.store.models import AuditEvent, Patient

from conftest import FakePrinter
from test_slip import decode_qr, page_image, pdf_pages, pdf_text

CUPS_PRINTER = os.environ.get("KIOSK_TEST_CUPS_PRINTER", "")
CUPS_OUTPUT = os.environ.get("KIOSK_TEST_CUPS_OUTPUT", "")
needs_cups = pytest.mark.skipif(
    not (CUPS_PRINTER and CUPS_OUTPUT),
    reason='no CUPS server: run `eval "$(bash .ci/cups.sh | grep ^export)"` to set '
    "KIOSK_TEST_CUPS_PRINTER and KIOSK_TEST_CUPS_OUTPUT",
)


def slip_for(patients, batch="b0c1d2e3f4a5b6c7") -> SlipData:
    import datetime as dt

    children = tuple(
        (f"{p.given_name} {p.family_name}", pin)
        for p, pin in zip(patients, ("JFKAY-TTJYV", "MNPRS-WXYZA"))
    )
    return SlipData(
        "Sunny Hills Pediatrics",
        "https://portal.example.org/register",
        children[0][0],
        children,
        dt.date(2026, 12, 22),
        "en",
        batch,
        tuple(p.id for p in patients),
    )


@pytest.fixture
def siblings(training):
    return list(
        Patient.select().where(Patient.family_name == "Núñez-García").order_by(Patient.chart_number)
    )[:2]


def with_printer(config: Config, tmp_path: Path, **printer) -> Config:
    return dataclasses.replace(
        config, printer=PrinterConfig(output_dir=str(tmp_path / "slips"), **printer)
    )


def fake_lp(tmp_path: Path, monkeypatch, script: str) -> Path:
    """An `lp` on PATH that runs ``script`` (sh) and logs its arguments to calls.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    lp.write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/calls.txt\n/bin/cat > {tmp_path}/stdin.pdf\n{script}\n'
    )
    lp.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return tmp_path / "calls.txt"


def print_events(patient_ids) -> list[dict]:
    rows = AuditEvent.select().where(AuditEvent.action == audit.PRINT).order_by(AuditEvent.seq)
    return [
        dict(json.loads(r.detail), patient_id=r.patient_id, staff=r.staff, chart=r.chart_number)
        for r in rows
        if r.patient_id in patient_ids
    ]


def test_no_printer_saves_the_pdf_and_says_where(config, tmp_path, siblings):
    config = with_printer(config, tmp_path)
    slip = slip_for(siblings)
    outcome = print_slip(slip, config, username="maria")
    assert not outcome.printed and outcome.job_id is None
    assert outcome.pdf_path.parent == tmp_path / "slips"
    assert outcome.message == f"No printer is set up. The slip was saved as {outcome.pdf_path}"
    data = outcome.pdf_path.read_bytes()
    assert "JFKAY-TTJYV" in pdf_text(data) and len(pdf_pages(data)) == 1
    assert stat.S_IMODE(outcome.pdf_path.stat().st_mode) == 0o600  # it holds PINs
    assert decode_qr(page_image(data)) == ["https://portal.example.org/register"]


def test_saved_slip_names_never_collide(config, tmp_path, siblings):
    config = with_printer(config, tmp_path)
    paths = {print_slip(slip_for(siblings), config).pdf_path for _ in range(3)}
    assert len(paths) == 3 and all(p.exists() for p in paths)


def test_saving_uses_the_chosen_layout(config, tmp_path, siblings):
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path, layout="receipt"))
    assert pdf_pages(outcome.pdf_path.read_bytes())[0].get_width() == pytest.approx(
        80 * 72 / 25.4, abs=0.1
    )


def test_every_child_on_the_slip_gets_a_print_event_without_the_pin(config, tmp_path, siblings):
    """S5: who printed which patient's slip, when; never the PIN itself."""
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path), username="maria")
    events = print_events([p.id for p in siblings])
    assert [e["patient_id"] for e in events] == [p.id for p in siblings]
    assert all(
        e["staff"] == "maria" and e["outcome"] == "saved" and e["batch"] == "b0c1d2e3f4a5b6c7"
        for e in events
    )
    assert [e["chart"] for e in events] == [p.chart_number for p in siblings]
    assert events[0]["file"] == str(outcome.pdf_path)
    assert not any("JFKAY" in json.dumps(e) for e in events)
    assert audit.verify_chain() == []


def test_without_a_database_printing_still_works(config, tmp_path):
    import datetime as dt

    slip = SlipData(
        "Sunny Hills Pediatrics",
        "https://portal.example.org/register",
        "Ann Lee",
        (("Ann Lee", "ABCDE-FGHJK"),),
        dt.date(2026, 12, 22),
    )
    assert print_slip(slip, with_printer(config, tmp_path)).pdf_path.exists()


def test_training_mode_never_calls_the_printer(config, tmp_path, siblings):
    """O2: training prints to PDF files only, even with a printer configured."""
    printer = FakePrinter()
    config = dataclasses.replace(with_printer(config, tmp_path, name="desk"), training=True)
    outcome = print_slip(slip_for(siblings), config, printer=printer)
    assert not outcome.printed and printer.jobs == []
    assert (
        outcome.message
        == f"Training mode: nothing is printed. The slip was saved as {outcome.pdf_path}"
    )
    assert outcome.pdf_path.exists()


def test_printing_returns_the_cups_job_and_leaves_no_file(config, tmp_path, monkeypatch, siblings):
    calls = fake_lp(tmp_path, monkeypatch, 'echo "request id is desk-12 (1 file(s))"')
    slip = slip_for(siblings)
    outcome = print_slip(slip, with_printer(config, tmp_path, name="desk"), username="maria")
    assert outcome == type(outcome)(
        True, "desk-12", None, "The slip was sent to printer desk (job desk-12)."
    )
    assert calls.read_text().split() == ["-d", "desk", "-t", "kiosk", "slip", slip.batch, "-"]
    assert "JFKAY-TTJYV" in pdf_text((tmp_path / "stdin.pdf").read_bytes())
    assert not (tmp_path / "slips").exists() or not any((tmp_path / "slips").iterdir())
    assert [e["outcome"] for e in print_events([p.id for p in siblings])] == ["printed", "printed"]
    assert print_events([siblings[0].id])[0]["job"] == "desk-12"


def test_job_title_names_no_patient(siblings):
    slip = slip_for(siblings)
    assert job_title(slip) == f"kiosk slip {slip.batch}"
    assert not any(
        part in job_title(slip) for p in siblings for part in (p.given_name, p.family_name)
    )


def test_a_refused_job_is_explained_and_the_slip_saved(config, tmp_path, monkeypatch, siblings):
    fake_lp(
        tmp_path, monkeypatch, 'echo "lp: Error - The printer or class does not exist." >&2; exit 1'
    )
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path, name="desk"))
    assert not outcome.printed and outcome.pdf_path.exists()
    assert outcome.message == (
        f"Printer desk did not take the slip: the printer or class does not exist. "
        f"The slip was saved as {outcome.pdf_path}"
    )
    assert [e["outcome"] for e in print_events([p.id for p in siblings])] == ["failed", "failed"]


def test_cups_not_running_is_said_in_plain_words(config, tmp_path, monkeypatch, siblings):
    fake_lp(tmp_path, monkeypatch, 'echo "lp: Error - Scheduler not responding." >&2; exit 1')
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path, name="desk"))
    assert outcome.message.startswith(
        "Printer desk did not take the slip: the print service (CUPS) is not running."
    )


def test_no_lp_command_is_said_in_plain_words(config, tmp_path, monkeypatch, siblings):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path, name="desk"))
    assert not outcome.printed and outcome.pdf_path.exists()
    assert outcome.message.startswith(
        "Printing is not installed on this computer (the CUPS command lp is missing)."
    )


def wait_for_pdf(folder: Path, name_part: str, seconds: float = 60) -> Path:
    """The file cups-pdf writes for the job, once it is complete (bounded wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in folder.glob("*.pdf"):
            if name_part in path.name:
                try:
                    pdf_pages(path.read_bytes())  # parses only once cups-pdf has finished writing
                    return path
                except Exception:  # noqa: BLE001 - cups-pdf is still writing it: look again
                    pass
        time.sleep(0.2)
    raise AssertionError(
        f"cups-pdf wrote no file named *{name_part}* in {folder} within {seconds} s"
    )


@pytest.mark.cups
@needs_cups
def test_a_real_printer_prints_a_slip_whose_qr_opens_the_portal(config, tmp_path, siblings):
    """R14 end to end: lp to a CUPS cups-pdf queue, then read the printed page back."""
    batch = os.urandom(6).hex()
    slip = slip_for(siblings, batch=batch)
    outcome = print_slip(slip, with_printer(config, tmp_path, name=CUPS_PRINTER), username="maria")
    assert outcome.printed, outcome.message
    assert outcome.job_id.startswith(f"{CUPS_PRINTER}-") and outcome.pdf_path is None
    printed = wait_for_pdf(Path(CUPS_OUTPUT), batch)
    try:
        data = printed.read_bytes()
        assert decode_qr(page_image(data, scale=3)) == ["https://portal.example.org/register"]
        text = pdf_text(data)
        assert "JFKAY-TTJYV" in text and "MNPRS-WXYZA" in text and "December 22, 2026" in text
    finally:
        printed.unlink()


@pytest.mark.cups
@needs_cups
def test_a_real_cups_names_a_missing_printer(config, tmp_path, siblings):
    outcome = print_slip(slip_for(siblings), with_printer(config, tmp_path, name="no-such-printer"))
    assert not outcome.printed and outcome.pdf_path.exists()
    assert (
        "Printer no-such-printer did not take the slip: the printer or class does not exist."
        in outcome.message
    )


REFUSED = 'echo "lp: Error - The printer or class does not exist." >&2; exit 1'


def _other_group() -> tuple[str, int]:
    """A group to share slips with: one this user may give files to (root: any; else its own)."""
    import grp

    if os.getuid() == 0:
        for name in ("users", "staff", "daemon"):
            try:
                return name, grp.getgrnam(name).gr_gid
            except KeyError:
                continue
    return grp.getgrgid(os.getgid()).gr_name, os.getgid()


def test_d1_a_refused_slip_at_an_ssh_desk_says_the_desk_cannot_open_it(
    config, tmp_path, monkeypatch, siblings
):
    """Over SSH the saved file is on the server, not at the desk: the desk is told it cannot open
    it and what to do (press p once the printer is ready), and who can change that. The file is
    still kiosk's alone (S11), and named after the desk."""
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.9 50000 10.0.0.1 22")
    fake_lp(tmp_path, monkeypatch, REFUSED)
    desk = dataclasses.replace(with_printer(config, tmp_path, name="desk"), terminal="front-1")
    outcome = print_slip(slip_for(siblings), desk)
    said = outcome.message
    assert said.startswith(
        "Printer desk did not take the slip: the printer or class does not exist."
    )
    assert "where this desk cannot open it: press p to try printing again" in said
    assert "printer.output_group" in said and str(outcome.pdf_path) in said
    assert outcome.pdf_path.name.startswith("slip-front-1-")
    assert stat.S_IMODE(outcome.pdf_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("in_training", [True, False])
def test_d1_an_ssh_desk_with_no_printer_to_wait_for_is_not_told_to_press_p_again(
    config, tmp_path, monkeypatch, siblings, in_training
):
    """In training, or with no printer set up, p only saves the slip again: a desk over SSH was
    told to "press p to try printing again once the printer is ready", which never prints. It is
    told the slip is on the server and who can change that, not to press p."""
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.9 50000 10.0.0.1 22")
    desk = dataclasses.replace(with_printer(config, tmp_path), training=in_training)
    said = print_slip(slip_for(siblings), desk).message
    lead = "Training mode: nothing is printed." if in_training else "No printer is set up."
    assert said.startswith(
        f"{lead} The slip was saved on the server, where this desk cannot open it."
    )
    assert "press p" not in said and "printer.output_group" in said, said


def test_d1_a_refused_slip_goes_to_the_practices_shared_folder_for_its_staff(
    config, tmp_path, monkeypatch, siblings
):
    """With printer.output_group, a slip the printer refused is saved where that group's staff can
    open and reprint it (folder 2750 with the group, setgid; the file 0640, the group's), the desk
    is told the file's name, the folder, the group and until when, and `kiosk maintain` deletes
    it once printer.keep_minutes have passed (S11)."""
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.9 50000 10.0.0.1 22")
    group, gid = _other_group()
    fake_lp(tmp_path, monkeypatch, REFUSED)
    shared = tmp_path / "srv" / "slips"
    desk = dataclasses.replace(
        config,
        terminal="front-1",
        printer=PrinterConfig(name="desk", output_dir=str(shared), output_group=group),
    )
    outcome = print_slip(slip_for(siblings), desk)
    path = outcome.pdf_path
    assert path.parent == shared and path.name.startswith("slip-front-1-")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2750 and shared.stat().st_gid == gid
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.stat().st_gid == gid
    assert (
        f"The slip was saved as {path.name} in the shared slip folder {shared}: staff in group "
        f"{group} can open and print it there until "
    ) in outcome.message
    from kiosk.store import files

    os.utime(path, (time.time() - 61 * 60,) * 2)
    assert files.remove_old_slips(desk) == 1 and not path.exists()


def test_d1_a_shared_slip_folder_needs_its_folder_and_a_real_group(tmp_path, monkeypatch):
    from kiosk.config import ConfigError, load_config

    monkeypatch.setenv("KIOSK_SLIP_GROUP", _other_group()[0])
    with pytest.raises(ConfigError, match="printer.output_group.*needs printer.output_dir"):
        load_config(None)
    monkeypatch.setenv("KIOSK_SLIP_DIR", str(tmp_path / "slips"))
    assert load_config(None).printer.output_group == _other_group()[0]
    monkeypatch.setenv("KIOSK_SLIP_GROUP", "no-such-group-here")
    with pytest.raises(ConfigError, match="no group 'no-such-group-here'"):
        load_config(None)
