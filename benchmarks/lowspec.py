"""Low-spec kiosk: the counter flow on ONE CPU (``taskset -c 0``), as a small kiosk machine runs it.

Prints, for a practice of demo families plus the training staff:
- ``start_to_screen_s``: process start to the sign-in screen drawn and idle;
- ``start_to_signin_s``: process start to the search screen, the username and password typed
  ahead all at once as soon as the sign-in screen is idle (target <= 1.5 s on one core; median of
  STARTS runs); ``cpu_to_signin_s``: the CPU time the process used by then (the machine's load
  barely moves it);
- ``key_p95_ms_<kind>``: each key of the counter flow, from the press until the app is idle again
  (its workers done), per kind of key: a letter typed in the search box, Enter on the results, Enter
  opening the account, ``r`` opening registration, ``ctrl+r`` issuing the family's PINs, ``p``
  opening the slip (``p_slip``, its letters checked), ``p`` printing it (``p_print``: every counter
  visit hands the parent a printed slip, R14), ``escape`` back;
- ``rss_*_mib``: resident memory at the sign-in screen, once signed in, after the first family and at
  the end, where it goes; ``peak_rss_mib``: the app process's peak resident memory over FAMILIES
  families (target <= 80 MiB);
- ``slip_child_peak_rss_mib``, ``slip_child_p50_rss_mib``: the largest and the median of the
  slip children's own peaks (VmHWM, each written by the child as it ends): the short-lived
  ``python -m kiosk.slip.pdf_child`` that checks a slip's letters and makes its PDF (D1), so
  fpdf2, Pillow and fontTools never stay in the app's memory. No printer queue is set up, so each slip is saved as PDF: made
  exactly as a printed one, with no CUPS needed.

Each figure with a target says ``ok`` or ``OVER``; the machine's load is printed beside them (a
shared machine makes the times noisy; memory barely moves with load).

    python benchmarks/lowspec.py [--families 100] [--patients 5000] [--between 1.5]

Between families the desk types nothing for ``--between`` seconds (the next family walking up to
the counter), untimed: the app collects the screens a family closed in such a pause
(kiosk_screens.app.KioskApp._collect_closed_screens); ``--between 0`` types without one.

The child starts the app as the ``kiosk`` command does (kiosk_screens.launch.start_app: the same
interpreter and memory settings), headless under Textual's pilot, pinned to CPU 0; the parent only
spawns it and reads its figures. The families are ones Register issues for as the flow leaves it
(every child Unregistered, an email address for the caregiver the PIN goes to), so every family
of the run gets its PINs and its slip. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import p95, quiet_env  # noqa: E402  (benchmarks/run.py: the same percentile and clean environment)

TARGETS = {"start_to_signin_s": 1.5, "peak_rss_mib": 80}
STARTS = 5

CHILD = r"""
import json, sys, time
from functools import partial
from kiosk.cli import main
from kiosk_screens.launch import start_app

SPAWNED = float(sys.argv[2])
FAMILIES = int(sys.argv[3])
BETWEEN = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
figures = {"keys": {}, "rss_kib": {}}

def _memory(phase):
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    figures["rss_kib"][phase] = int(status["VmRSS"].split()[0])
    figures["peak_rss_kib"] = int(status["VmHWM"].split()[0])

def _ms(kind, started):
    figures["keys"].setdefault(kind, []).append((time.monotonic() - started) * 1000)

async def _settle(app, pilot):
    from textual.worker import WorkerCancelled
    await pilot.pause()
    for _ in range(50):
        try:
            await app.workers.wait_for_complete()
            break
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that one
            await pilot.pause()
    await pilot.pause()

async def _key(app, pilot, kind, key, settle=True):
    started = time.monotonic()
    await pilot.press(key)
    await (_settle(app, pilot) if settle else pilot.pause())
    _ms(kind, started)

def _type_ahead(app, keys):
    # Every key at once, as a desk typing ahead of the screen (kiosk_screens.typeahead): pressed
    # through the pilot, each key would also wait for two of its 20 ms idle checks, 0.6 s of the
    # 16 keys that are the harness's, not the app's.
    from textual import events
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)

async def _flow(pilot):
    app = pilot.app
    await _settle(app, pilot)
    figures["ready_s"] = time.monotonic() - SPAWNED
    _memory("sign_in_screen")
    _type_ahead(app, [*"maria", "enter", *"training1", "enter"])
    for _ in range(500):  # the keys may still be on their way when the app first looks idle
        await _settle(app, pilot)
        if type(app.screen).__name__ == "SearchScreen":
            break
    assert type(app.screen).__name__ == "SearchScreen", app.screen
    figures["signin_s"] = time.monotonic() - SPAWNED
    figures["signin_cpu_s"] = time.process_time()
    _memory("signed_in")
    # the harness's own imports, after the sign-in's figures (the app imports each screen when it
    # first opens it); before them they were some 25 ms of CPU no desk spends there
    from kiosk_screens.search import SearchScreen
    from kiosk_screens.patient import PatientScreen
    from kiosk_screens.register import RegisterScreen
    from kiosk_screens.slip_preview import SlipPreviewScreen
    import kiosk.slip.pdf_child
    kiosk.slip.pdf_child.command = lambda: [sys.executable, "-c", _OWN_PEAK, CHILD_PEAKS]
    open(CHILD_PEAKS, "w").close()
    if FAMILIES == 0:
        app.exit()
        return
    names = json.loads(sys.argv[4])
    issued = printed = 0
    for text in names[:FAMILIES]:
        box = app.screen.query_one("#search")
        box.focus()
        box.value = ""
        await _settle(app, pilot)
        for ch in text:
            await _key(app, pilot, "type", ch, settle=False)  # the box shows the key; the search follows
        started = time.monotonic()
        await _settle(app, pilot)
        _ms("results_after_last_key", started)  # includes the search box's 0.15 s debounce
        await _key(app, pilot, "enter_results", "enter")
        await _key(app, pilot, "enter_open", "enter")
        if not isinstance(app.screen, PatientScreen):
            raise SystemExit(f"not the account page for {text!r}: {app.screen!r}")
        await _key(app, pilot, "r_register", "r")
        if not isinstance(app.screen, RegisterScreen):
            raise SystemExit(f"not the registration window after r for {text!r}: {app.screen!r}")
        await _key(app, pilot, "ctrl_r_issue", "ctrl+r")
        issued += app.screen.result is not None
        # R14: the parent is handed a printed slip: p opens it, p on the slip prints it (no printer
        # queue here, so it is saved as PDF, made the same way); the key waits for the print worker
        await _key(app, pilot, "p_slip", "p")
        if not isinstance(app.screen, SlipPreviewScreen):
            raise SystemExit(f"not the slip after p for {text!r}: {app.screen!r}")
        await _key(app, pilot, "p_print", "p")
        outcome = str(app.screen.query_one("#print-outcome").render())
        printed += "saved as" in outcome or "sent to printer" in outcome
        await _key(app, pilot, "escape", "escape")
        while not isinstance(app.screen, SearchScreen):
            await _key(app, pilot, "escape", "escape")
        if BETWEEN:
            await pilot.pause(BETWEEN)  # the next family walks up to the counter: no key, untimed
        if issued == 1 and "first_family" not in figures["rss_kib"]:
            _memory("first_family")
    figures["issued"] = issued
    figures["printed"] = printed
    _memory("end")
    with open(CHILD_PEAKS) as peaks:  # each slip child's own peak (D1)
        figures["child_peaks_kib"] = [int(line) for line in peaks]
    app.exit()

# Each slip child (kiosk.slip.pdf_child) writes its own peak, VmHWM, when it ends: the one
# getrusage(RUSAGE_CHILDREN) gives is the app's, as Linux keeps the peak of the memory a child
# leaves at exec, the app's own pages (subprocess starts it with vfork).
CHILD_PEAKS = sys.argv[1] + ".child-peaks"
_OWN_PEAK = (
    "import runpy, sys\n"
    "peaks = sys.argv.pop(1)\n"
    "try:\n"
    "    runpy.run_module('kiosk.slip.pdf_child', run_name='__main__')\n"
    "finally:\n"
    "    status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)\n"
    "    with open(peaks, 'a') as out:\n"
    "        out.write(status['VmHWM'].split()[0] + '\\n')\n"
)

code = main(["--db", sys.argv[1]], start_app=partial(start_app, headless=True, size=(100, 30), auto_pilot=_flow))
print("FIGURES", json.dumps(figures), flush=True)
sys.exit(code)
"""


def prepare(db: Path, patients: int) -> list[str]:
    """The training staff and families, then demo families; the search texts of the families
    Register issues for without a change: each child Unregistered (a Self Registered sibling is
    refused, T3) and an email address for the caregiver the PIN goes to (else the window asks for
    one, R7)."""
    from kiosk.config import Config
    from kiosk.ops.demo import generate_practice
    from kiosk.ops.training import load_training_data
    from kiosk.people.patients import family_for
    from kiosk.store.db import close_database
    from kiosk.store.models import Caregiver, Patient, Relationship
    from kiosk.store.practice import open_store
    from kiosk.terms import PortalStatus

    open_store(Config(database=str(db)))
    load_training_data()  # a training database: demo families may go in (D2)
    generate_practice(patients, seed=7)
    texts: list[str] = []
    taken: set[int] = set()  # the children of the families already chosen
    names = Counter(Patient.select(Patient.family_name, Patient.given_name).tuples())
    query = (
        Patient.select(Patient.id, Patient.family_name, Patient.given_name, Caregiver.email)
        .join(Relationship)
        .join(Caregiver)
        .where(
            Patient.chart_number.startswith("D"),
            Patient.portal_status == PortalStatus.UNREGISTERED,
            Caregiver.email != "",
        )
        .order_by(Patient.id)
        .tuples()
    )
    for patient_id, family, given, _ in query:
        if patient_id in taken or names[family, given] > 1:  # one family each; no namesakes
            continue
        members = family_for(patient_id)
        taken.update(child.id for child in members.children)
        # the PIN goes to the first caregiver with contact authority, as the window picks (R15)
        first = next((c for c in members.caregivers if c.has_authority), None)
        if first is None or not first.email:
            continue
        if any(
            c.portal_status != PortalStatus.UNREGISTERED or c.placeholder for c in members.children
        ):
            continue
        texts.append(f"{family}, {given}")
    close_database()
    return texts


def run_child(
    db: Path, families: int, names: list[str], env: dict[str, str], cpu: str, between: float = 0.0
) -> dict:
    pin = ["taskset", "-c", cpu] if shutil.which("taskset") else []
    spawned = time.monotonic()
    done = subprocess.run(
        [
            *pin,
            sys.executable,
            "-c",
            CHILD,
            str(db),
            repr(spawned),
            str(families),
            json.dumps(names),
            repr(between),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("FIGURES ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(
            f"lowspec: the app child failed ({done.returncode}):\n{done.stderr[-3000:]}{done.stdout[-2000:]}"
        )
    return json.loads(line.removeprefix("FIGURES "))


def figure(name: str, value: float, unit: str = "") -> None:
    target = TARGETS.get(name)
    verdict = (
        f"  target <= {target} {unit}: {'ok' if value <= target else 'OVER'}" if target else ""
    )
    print(f"{name} {value:.2f} {unit}{verdict}".rstrip(), flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def counts_parser(about: str, families: int, patients: int) -> argparse.ArgumentParser:
    """The parser of a benchmark (``about``: its docstring) that takes families through the
    counter flow of a demo practice (this one, desk_keys.py): --families and --patients, held
    as the CLI's counts are."""
    from kiosk.cli import whole_between
    from kiosk.ops.demo import MAX_PATIENTS

    parser = argparse.ArgumentParser(description=about.splitlines()[0])
    parser.add_argument(
        "--families",
        type=whole_between(1, 100_000),
        default=families,
        help=f"families through the counter flow (default {families})",
    )
    parser.add_argument(
        "--patients",
        type=whole_between(1, MAX_PATIENTS),
        default=patients,
        help=f"demo patients in the practice (default {patients})",
    )
    return parser


def main() -> None:
    parser = counts_parser(__doc__, families=100, patients=5000)
    parser.add_argument("--cpu", default="0", help="the CPU to pin the app to (default 0)")
    parser.add_argument(
        "--between",
        type=float,
        default=1.5,
        help="seconds with no key between families, as the next one walks up (default 1.5)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiosk-lowspec-"))
    try:
        env = quiet_env(work)
        db = work / "lowspec.sqlite3"
        names = prepare(db, args.patients)
        if len(names) < args.families:
            raise SystemExit(f"lowspec: only {len(names)} families to register; add --patients")
        print(
            f"# {args.patients} demo patients, {args.families} families, app pinned to CPU "
            f"{args.cpu}, {args.between} s between families; {load()}",
            flush=True,
        )
        starts = [run_child(db, 0, [], env, args.cpu) for _ in range(STARTS)]
        figure("start_to_screen_s", statistics.median(s["ready_s"] for s in starts), "s")
        figure("start_to_signin_s", statistics.median(s["signin_s"] for s in starts), "s")
        figure("cpu_to_signin_s", statistics.median(s["signin_cpu_s"] for s in starts), "s")
        figures = run_child(db, args.families, names, env, args.cpu, args.between)
        for kind, values in figures["keys"].items():
            figure(f"key_p95_ms_{kind}", p95(values), "ms")
        all_keys = [v for values in figures["keys"].values() for v in values]
        figure("key_p95_ms_all", p95(all_keys), "ms")
        print(
            f"# keys {len(all_keys)}, families issued {figures['issued']} of {args.families}, "
            f"slips printed {figures['printed']}",
            flush=True,
        )
        for phase, kib in figures["rss_kib"].items():
            figure(f"rss_{phase}_mib", kib / 1024, "MiB")
        figure("peak_rss_mib", figures["peak_rss_kib"] / 1024, "MiB")
        if figures["child_peaks_kib"]:
            peaks = figures["child_peaks_kib"]
            figure("slip_child_peak_rss_mib", max(peaks) / 1024, "MiB")
            figure("slip_child_p50_rss_mib", statistics.median(peaks) / 1024, "MiB")
            print(f"# slip children {len(peaks)} (the letters' check at p, the PDF at p again)")
        print(f"# after the run: {load()}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
