"""Printing a slip (R14) through CUPS, or saving it as a PDF file (O2).

:func:`print_slip` is a plain, blocking function: the UI runs it in a worker thread. It sends the
PDF to ``lp`` on standard input, so a printed slip leaves no file with PINs on disk (S2). With no
printer configured, in training mode, or when the printer refuses the job, the PDF is saved in
``printer.output_dir`` (else ``slips/`` in the data directory) and the message says where. The PDF
is made in a short-lived child process (:mod:`kiosk.slip.pdf_child`, D1): the app never loads the
PDF libraries, and a child that fails leaves the desk a plain message, nothing printed or saved.

A saved slip holds PINs (S11): it is readable by kiosk's user only, deleted once the same batch
prints, and otherwise ``printer.keep_minutes`` after it was saved, by the next print, start or
outbox run (:func:`kiosk.store.files.remove_old_slips`); training slips are deleted when training mode ends.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.config import Config
from kiosk.ops.terminals import ssh_client
from kiosk.slip.content import SlipData
from kiosk.store import files
from kiosk.store.files import slip_folder

if TYPE_CHECKING:
    from kiosk.slip.pdf_child import SlipChild

LP_TIMEOUT_SECONDS = 30
_REQUEST_ID = re.compile(r"request id is (\S+)")


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    job_id: str | None  # the CUPS job, e.g. "kiosk-pdf-12", when printed
    pdf_path: (
        Path | None
    )  # the saved PDF; None when printed (nothing with PINs is left on disk) or not saved
    message: str  # plain words for the front desk


def job_title(slip: SlipData) -> str:
    """The job's name in the print queue: no patient name, which anyone at the printer could read."""
    return f"kiosk slip {slip.batch}".strip()


class Printer(Protocol):
    """Hands a PDF to a print queue: (job id, "") when it took the job, else (None, why in words)."""

    def print_pdf(self, pdf: bytes, queue: str, title: str) -> tuple[str | None, str]: ...


class CupsPrinter:
    """The desk's printer: CUPS through ``lp`` (:func:`send_to_printer`)."""

    def print_pdf(self, pdf: bytes, queue: str, title: str) -> tuple[str | None, str]:
        return send_to_printer(pdf, queue, title)


def print_slip(
    slip: SlipData,
    config: Config,
    *,
    username: str = "",
    printer: Printer | None = None,
    child: SlipChild | None = None,
) -> PrintOutcome:
    """Print the slip on ``config.printer.name`` through ``printer`` (CUPS unless given), or save it
    as PDF; record it in the audit trail under ``username`` (the signed-in staff member, S5).
    ``child``: the one that checked this slip's letters, waiting to make its PDF."""
    from kiosk.slip.pdf_child import SlipChildError, render_pdf

    files.remove_old_slips(config)
    queue = config.printer.name
    layout, fonts = config.printer.layout, config.printer.fonts
    try:  # D1: made in a child process, so the app never loads the PDF libraries
        pdf = child.render_pdf(slip, layout, fonts) if child else render_pdf(slip, layout, fonts)
    except SlipChildError as error:
        failed = PrintOutcome(
            False, None, None, f"The slip was not printed or saved: {error}. Press p to try again."
        )
        _audit(slip, username, "" if config.training else queue, "failed", failed)
        return failed
    if config.training:
        outcome, kind = _saved(pdf, slip, config, "Training mode: nothing is printed."), "saved"
    elif not queue:
        outcome, kind = _saved(pdf, slip, config, "No printer is set up."), "saved"
    else:
        job_id, problem = (printer or CupsPrinter()).print_pdf(pdf, queue, job_title(slip))
        if job_id:
            outcome = PrintOutcome(
                True, job_id, None, f"The slip was sent to printer {queue} (job {job_id})."
            )
            kind = "printed"
            if slip.batch:  # copies saved when an earlier try could not print
                files.remove_slips(config, f"*slip-*{glob.escape(_batch_part(slip))}*.pdf")
        else:
            outcome, kind = _saved(pdf, slip, config, problem, retry=True), "failed"
    if outcome.pdf_path is None and not outcome.printed:
        kind = "failed"  # neither printed nor saved
    _audit(slip, username, queue if kind != "saved" else "", kind, outcome)
    return outcome


def _saved(
    pdf: bytes, slip: SlipData, config: Config, lead: str, *, retry: bool = False
) -> PrintOutcome:
    """Save the PDF; the outcome says where, or in plain words why it could not be saved;
    ``retry``: a printer refused it, so p may print it once that printer is ready."""
    try:
        path = save_pdf(pdf, slip, config)
    except OSError as error:
        why = error.strerror or type(error).__name__
        return PrintOutcome(
            False,
            None,
            None,
            f"{lead} The slip could not be saved in {slip_folder(config)} "
            f"({why}): check printer.output_dir.",
        )
    return PrintOutcome(False, None, path, f"{lead} {_where_saved(path, config, retry)}")


def _where_saved(path: Path, config: Config, retry: bool) -> str:
    """Where a saved slip is, in words the desk can act on. A desk over SSH (or in a browser) is
    not the server the file is on: it is told who can open it, or that nobody at the desk can and
    what to do instead (D1). Pressing p again is offered only when a printer refused the slip: in
    training, or with no printer set up, p saves it again and prints nothing."""
    until = dt.datetime.now() + dt.timedelta(minutes=config.printer.keep_minutes)
    if config.printer.output_group:
        return (
            f"The slip was saved as {path.name} in the shared slip folder {path.parent}: staff "
            f"in group {config.printer.output_group} can open and print it there until "
            f"{until:%H:%M}." + (" Or press p to try printing again." if retry else "")
        )
    if ssh_client(os.environ) is not None:
        return (
            "The slip was saved on the server, where this desk cannot open it"
            + (": press p to try printing again once the printer is ready. " if retry else ". ")
            + "(To let staff reprint saved slips, the administrator sets printer.output_group. "
            f"Saved as {path}, deleted at {until:%H:%M}.)"
        )
    # the path ends the words, with no full stop: one a desk copying the path would take with it,
    # and one the screen can wrap onto a line of its own (R14)
    return f"The slip was saved as {path}"


def send_to_printer(pdf: bytes, printer: str, title: str) -> tuple[str | None, str]:
    """``lp -d PRINTER -t TITLE -`` with the PDF on stdin: (job id, "") or (None, the problem in words)."""
    try:
        done = subprocess.run(
            ["lp", "-d", printer, "-t", title, "-"],
            input=pdf,
            capture_output=True,
            timeout=LP_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        return None, "Printing is not installed on this computer (the CUPS command lp is missing)."
    except subprocess.TimeoutExpired:
        return None, f"The print service did not answer within {LP_TIMEOUT_SECONDS} seconds."
    found = _REQUEST_ID.search(done.stdout.decode(errors="replace"))
    if done.returncode == 0 and found:
        return found.group(1), ""
    return (
        None,
        f"Printer {printer} did not take the slip: {_plain(done.stderr.decode(errors='replace'))}.",
    )


def _plain(error: str) -> str:
    """lp's "lp: Error - The printer or class does not exist." as "the printer or class does not exist"."""
    text = " ".join(error.split())
    text = re.sub(r"^lp:\s*", "", text)
    text = re.sub(r"^(Error|error)\s*[-:]\s*", "", text).rstrip(".")
    if "Scheduler not responding" in text:
        return "the print service (CUPS) is not running"
    return (text[:1].lower() + text[1:]) if text else "lp gave no reason"


def save_pdf(pdf: bytes, slip: SlipData, config: Config, *, now: dt.datetime | None = None) -> Path:
    """Write the PDF readable by its owner only (it holds PINs), or by ``printer.output_group``
    too, under a name that is never reused and that names the desk (D1: a shared folder holds
    every desk's)."""
    folder, mode, group = files.ready_slip_folder(config)
    prefix = files.TRAINING_PREFIX if config.training else ""
    desk = re.sub(r"[^A-Za-z0-9_.-]", "-", config.terminal)
    stem = (
        f"{prefix}slip-{f'{desk}-' if desk else ''}{(now or dt.datetime.now()):%Y%m%d-%H%M%S}"
        + _batch_part(slip)
    )
    for n in range(1000):
        path = folder / (f"{stem}.pdf" if n == 0 else f"{stem}-{n}.pdf")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        os.fchmod(fd, mode)  # exact, whatever the umask
        if group >= 0:
            os.fchown(fd, -1, group)
        with os.fdopen(fd, "wb") as out:
            out.write(pdf)
        return path
    raise FileExistsError(f"too many slips named {stem} in {folder}")


def _batch_part(slip: SlipData) -> str:
    return f"-{slip.batch[:12]}" if slip.batch else ""


def _audit(slip: SlipData, username: str, printer: str, kind: str, outcome: PrintOutcome) -> None:
    """One PRINT event per child on the slip (S5), when a database is open. Never the PINs."""
    from kiosk.store.db import database, write_transaction

    if database.obj is None or not slip.patient_ids:
        return
    from kiosk import audit
    from kiosk.store.models import Patient

    detail = {
        "batch": slip.batch,
        "outcome": kind,  # printed | saved | failed (then saved)
        "printer": printer,
        "job": outcome.job_id or "",
        "file": str(outcome.pdf_path or ""),
    }
    with write_transaction():
        patients = {p.id: p for p in Patient.select().where(Patient.id.in_(slip.patient_ids))}
        audit.record_all(  # together: the audit head locked once (S10, O1)
            [
                audit.event(
                    audit.PRINT,
                    staff=username,
                    patient=patients.get(patient_id, patient_id),
                    detail=detail,
                )
                for patient_id in slip.patient_ids
            ]
        )
