"""The training dataset (O2): families from data/training.json, loaded into a throwaway database."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import tempfile
from pathlib import Path

from kiosk import pins, security
from kiosk import DATA_DIR
from kiosk.db import write_transaction
from kiosk.models import (
    Appointment, Association, Caregiver, Patient, PortalAccount, Practice, RegistrationPin, Relationship,
    Staff,
)
from kiosk.security import hash_password
from kiosk.terms import PinState, PortalStatus, utcnow

TRAINING_FILE = DATA_DIR / "training.json"
# The training passwords are published in data/training.json: hashing them at full cost (S12)
# protects nothing and would add seconds to every training start. A sign-in re-hashes its own.
TRAINING_SCRYPT_N = 2**10


def birth_date(today: dt.date, years: int, days: int) -> dt.date:
    """The date of birth of someone ``years`` and ``days`` old on ``today``."""
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        anniversary = today.replace(year=today.year - years, day=28)
    return anniversary - dt.timedelta(days=days)


def read_training_file(path: Path = TRAINING_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def load_training_data(today: dt.date | None = None, path: Path = TRAINING_FILE) -> dict[str, int]:
    """Load every training family (all or nothing); return counts of what was created."""
    today = today or dt.date.today()
    data = read_training_file(path)
    now = utcnow()
    counts = {"staff": 0, "patients": 0, "caregivers": 0, "appointments": 0}
    with write_transaction():
        Practice.update(name=data["practice"]["name"], portal_url=data["practice"]["portal_url"]).execute()
        staff_rows = {}
        for person in data["staff"]:
            staff_rows[person["username"]] = Staff.create(
                username=person["username"], display_name=person["display_name"],
                password_hash=hash_password(person["password"], n=TRAINING_SCRYPT_N),
                portal_user=person["portal_user"],
                is_admin=person["admin"],
            )
            counts["staff"] += 1
        issuer = next(row for row in staff_rows.values() if row.portal_user)
        lifetime = Practice.get().pin_lifetime_days
        for family in data["families"]:
            caregivers, accounts = {}, {}
            for person in family["caregivers"]:
                caregivers[person["id"]] = Caregiver.create(
                    given_name=person["given"], family_name=person["family"], email=person.get("email", ""),
                    cell=person.get("cell", ""), carrier=person.get("carrier", ""),
                    preferred_language=person.get("language", "en"), external_id="training:" + person["id"],
                )
                counts["caregivers"] += 1
                if "portal_account" in person:
                    accounts[person["id"]] = PortalAccount.create(
                        email=person["email"].lower(), display_name=f"{person['given']} {person['family']}",
                        password_hash=hash_password(person["portal_account"]["password"], n=TRAINING_SCRYPT_N),
                    )
            for child in family["patients"]:
                patient = Patient.create(
                    chart_number=child["chart"], given_name=child["given"], family_name=child["family"],
                    dob=birth_date(today, *child["age"]), sex=child.get("sex", "U"),
                    preferred_language=child.get("language", "en"),
                    portal_status=child.get("status", PortalStatus.UNREGISTERED),
                )
                counts["patients"] += 1
                for caregiver_id, (role, authority) in child["caregivers"].items():
                    Relationship.create(caregiver=caregivers[caregiver_id], patient=patient, role=role, authority=authority)
                pin = None
                if child.get("status") == PortalStatus.REGISTERED or "active_pin_days_left" in child:
                    # A real PIN nobody knows, so the record looks as it would after issuing one.
                    days_left = child.get("active_pin_days_left", 10)
                    pin = RegistrationPin.create(
                        patient=patient, batch=secrets.token_hex(8),
                        pin_hash=security.pin_digest(pins.generate_pin()),
                        issued_by=issuer, issued_at=now - dt.timedelta(days=lifetime - days_left),
                        expires_at=now + dt.timedelta(days=days_left), state=PinState.ACTIVE,
                        recipient=caregivers[next(iter(child["caregivers"]))],
                        redemptions=len(child.get("associated", [])),
                    )
                for caregiver_id in child.get("associated", []):
                    Association.create(account=accounts[caregiver_id], patient=patient, pin=pin)
                if "appointment" in child:
                    hour, minute = map(int, child["appointment"].split(":"))
                    Appointment.create(patient=patient, starts_at=dt.datetime.combine(today, dt.time(hour, minute)),
                                       provider="Dr. Alvarez", reason="Well visit")
                    counts["appointments"] += 1
    return counts


def training_database_path() -> Path:
    """A fresh throwaway database file for one training session."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-training-"))
    return folder / "training.sqlite3"
