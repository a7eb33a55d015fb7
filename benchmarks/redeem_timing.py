"""How long a refused redemption takes, per kind of refusal (S8: the reply and its timing are the
same for an unknown PIN, a wrong date, a locked and a revoked PIN).

    python benchmarks/redeem_timing.py [--runs N] [--raw] [--url postgresql://...]

Builds the training families in a throwaway SQLite database (or the PostgreSQL database named by
--url, which it empties first), then times ``portal.redeem`` for the four cases, interleaved so
that each sees the same table sizes. Each round is an hour after the one before, so no terminal
or practice pause sets in; the revocation count is raised for the run (otherwise the wrong-date
case would revoke its own PIN after 20 rounds and become the revoked case). --raw sets the reply
floor (portal.REPLY_FLOOR) to 0 to show the work itself. Prints one figure a line:
  redeem_<case>_ms MEDIAN ms  (p10 P10, p90 P90)
  redeem_spread_ms VALUE ms   largest minus smallest median
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = ("unknown_pin", "wrong_date", "locked", "revoked")


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import whole_between

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=whole_between(1, 100_000), default=200)
    parser.add_argument("--url", help="a PostgreSQL database to use (emptied first)")
    parser.add_argument(
        "--raw", action="store_true", help="without the reply floor: the work itself"
    )
    args = parser.parse_args(argv)

    from kiosk import security

    security.SCRYPT_N = 2**10  # sign-in cost is not what is measured
    with tempfile.TemporaryDirectory(prefix="kiosk-redeem-timing-") as folder:
        return measure(args, Path(folder))


def measure(args: argparse.Namespace, folder: Path) -> int:
    from kiosk.config import Config, PracticeConfig
    from kiosk.ops.training import load_training_data
    from kiosk.people.patients import family_for
    from kiosk.people.staff import authenticate
    from kiosk.registration import portal
    from kiosk.registration.engine import IssueRequest, issue_pins, revoke_pin
    from kiosk.store.db import close_database, database, open_database, write_transaction
    from kiosk.store.models import ALL_MODELS, Patient, RedemptionAttempt
    from kiosk.store.practice import open_store

    target = args.url or str(folder / "kiosk.sqlite3")
    config = Config(
        database=target,
        practice=PracticeConfig(name="Bench", portal_url="https://portal.example.org"),
        pin_key_file=str(folder / "pin.key"),
    )
    if args.url:  # the tables of an earlier run hold PINs made with another key file
        open_database(args.url)
        database.drop_tables(ALL_MODELS, cascade=True)
        close_database()
    open_store(config)
    today = dt.date.today()
    load_training_data(today=today)
    desk = authenticate("maria", "training1")
    now = dt.datetime(2030, 1, 1, 8, 0)

    def issue(given: str, family: str) -> dict[str, str]:
        patient = Patient.get((Patient.given_name == given) & (Patient.family_name == family))
        fam = family_for(patient.id, today=today)
        recipient = next(c for c in fam.caregivers if c.has_authority)
        result = issue_pins(
            desk,
            IssueRequest(
                patient_ids=[c.id for c in fam.children], recipient_id=recipient.id, delivery="none"
            ),
            now=now,
            today=today,
        )
        return {p.given_name: p.pin for p in result.pins}

    pins = issue("Rosemary", "Testkiddo") | issue("Jordan", "Kim")
    rosemary, basil, jordan = (
        Patient.get(Patient.given_name == name) for name in ("Rosemary", "Basil", "Jordan")
    )
    revoke_pin(desk, jordan.id, now=now)
    portal.FAILURES_TO_REVOKE = 10**9
    if args.raw:
        portal.REPLY_FLOOR = 0
    proofs = {
        "unknown_pin": (rosemary.dob, "ABCDE-FGHJK"),
        "wrong_date": (rosemary.dob - dt.timedelta(days=1), pins["Rosemary"]),
        "locked": (basil.dob, pins["Basil"]),
        "revoked": (jordan.dob, pins["Jordan"]),
    }
    times: dict[str, list[float]] = {case: [] for case in CASES}
    for round_ in range(args.runs + 5):
        at = now + dt.timedelta(hours=round_ + 1)
        with write_transaction():  # Basil locked for this round (not timed)
            for second in range(portal.FAILURES_TO_LOCK):
                RedemptionAttempt.create(
                    patient=basil,
                    at=at - dt.timedelta(minutes=5, seconds=-second),
                    succeeded=False,
                    terminal="setup",
                    outcome=portal.Outcome.ENDED,
                )
        for case in CASES[round_ % 4 :] + CASES[: round_ % 4]:  # each case in each place in turn
            dob, pin = proofs[case]
            start = time.perf_counter()
            try:
                portal.redeem(0, dob, pin=pin, terminal="bench", now=at)
            except portal.PortalError as refused:
                assert str(refused) == portal.GENERIC, case
            else:
                raise SystemExit(f"{case}: redeemed, expected a refusal")
            if round_ >= 5:  # the first rounds warm caches and connections
                times[case].append((time.perf_counter() - start) * 1000)
        # Every case leaves one row a round behind it: the lock's rows go, so Basil's history grows alike.
        RedemptionAttempt.delete().where(RedemptionAttempt.terminal == "setup").execute()
    medians = {}
    for case in CASES:
        values = sorted(times[case])
        medians[case] = statistics.median(values)
        p10, p90 = values[len(values) // 10], values[len(values) * 9 // 10]
        print(f"redeem_{case}_ms {medians[case]:.3f} ms  (p10 {p10:.3f}, p90 {p90:.3f})")
    print(
        f"redeem_spread_ms {max(medians.values()) - min(medians.values()):.3f} ms  "
        f"({'PostgreSQL' if args.url else 'SQLite'}, {args.runs} runs a case, "
        f"reply floor {portal.REPLY_FLOOR * 1000:.0f} ms)"
    )
    close_database()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
