"""The training dataset (O2): families from data/training.json, loaded into a throwaway database."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from kiosk import DATA_DIR, security
from kiosk.registration import pins
from kiosk.security import hash_password
from kiosk.store.db import write_transaction
from kiosk.store.models import (
    Appointment,
    Association,
    Caregiver,
    Patient,
    PortalAccount,
    Practice,
    RedemptionAttempt,
    RegistrationPin,
    Relationship,
    Staff,
)
from kiosk.terms import Access, DatabasePurpose, PinState, PortalStatus, utcnow

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
        Practice.update(
            name=data["practice"]["name"],
            portal_url=data["practice"]["portal_url"],
            purpose=DatabasePurpose.TRAINING,
        ).execute()
        staff_rows = {}
        for person in data["staff"]:
            staff_rows[person["username"]] = Staff.create(
                username=person["username"],
                display_name=person["display_name"],
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
                    given_name=person["given"],
                    family_name=person["family"],
                    email=person.get("email", ""),
                    cell=person.get("cell", ""),
                    carrier=person.get("carrier", ""),
                    preferred_language=person.get("language", "en"),
                    external_id="training:" + person["id"],
                )
                counts["caregivers"] += 1
                if "portal_account" in person:
                    accounts[person["id"]] = PortalAccount.create(
                        email=person["email"].lower(),
                        display_name=f"{person['given']} {person['family']}",
                        password_hash=hash_password(
                            person["portal_account"]["password"], n=TRAINING_SCRYPT_N
                        ),
                    )
            for child in family["patients"]:
                patient = Patient.create(
                    chart_number=child["chart"],
                    given_name=child["given"],
                    family_name=child["family"],
                    dob=birth_date(today, *child["age"]),
                    sex=child.get("sex", "U"),
                    preferred_language=child.get("language", "en"),
                    portal_status=child.get("status", PortalStatus.UNREGISTERED),
                    email=child.get("email", ""),  # T1: a teen's own address
                    cell=child.get("cell", ""),
                    carrier=child.get("carrier", ""),
                )
                counts["patients"] += 1
                for caregiver_id, (role, authority) in child["caregivers"].items():
                    Relationship.create(
                        caregiver=caregivers[caregiver_id],
                        patient=patient,
                        role=role,
                        authority=authority,
                    )
                pin = None
                if (
                    child.get("status") == PortalStatus.REGISTERED
                    or "active_pin_days_left" in child
                    or "pin_expired_days_ago" in child
                ):
                    # A real PIN nobody knows, so the record looks as it would after issuing one.
                    days_left = child.get(
                        "active_pin_days_left", -child.get("pin_expired_days_ago", -10)
                    )
                    pin = RegistrationPin.create(
                        patient=patient,
                        batch=secrets.token_hex(8),
                        pin_hash=security.pin_digest(pins.generate_pin()),
                        issued_by=issuer,
                        issued_at=now - dt.timedelta(days=lifetime - days_left),
                        expires_at=now + dt.timedelta(days=days_left),
                        state=PinState.ACTIVE,
                        recipient=caregivers[next(iter(child["caregivers"]))],
                        redemptions=len(child.get("associated", [])),
                        prior_status=PortalStatus.UNREGISTERED,
                    )
                terms = child.get("association", {})  # T4: e.g. a foster placement's end
                for caregiver_id in child.get("associated", []):
                    ends_in = terms.get("ends_in_days")
                    Association.create(
                        account=accounts[caregiver_id],
                        patient=patient,
                        pin=pin,
                        access=terms.get("access", Access.FULL),
                        ends_on=today + dt.timedelta(days=ends_in) if ends_in else None,
                    )
                if "appointment" in child:
                    hour, minute = map(int, child["appointment"].split(":"))
                    Appointment.create(
                        patient=patient,
                        starts_at=dt.datetime.combine(today, dt.time(hour, minute)),
                        provider="Dr. Alvarez",
                        reason="Well visit",
                    )
                    counts["appointments"] += 1
        from kiosk.registration.pin_life import expire_due

        expire_due(
            now
        )  # L2: the PINs past their date are recorded as expired, as kiosk maintain would
    return counts


def stage_training_scenes(
    path: Path = TRAINING_FILE, now: dt.datetime | None = None, today: dt.date | None = None
) -> None:
    """What starting training does after loading the families: the children marked ``locked`` get
    five wrong birth dates with their PIN, just now (L5: a lock-out to clear), and a family with a
    ``welcome`` has it issued to one parent and redirected to the other (L4). Apart from loading:
    the tries count toward the practice's guessing pause (S8) and the welcome sits in the outbox,
    which the tests of the other rules must not inherit."""
    now, today = now or utcnow(), today or dt.date.today()
    families = read_training_file(path)["families"]
    charts = [c["chart"] for f in families for c in f["patients"] if c.get("locked")]
    with write_transaction():
        for patient in Patient.select().where(Patient.chart_number.in_(charts)):
            for minute in range(5):
                RedemptionAttempt.create(
                    patient=patient,
                    at=now - dt.timedelta(minutes=4 - minute),
                    succeeded=False,
                    terminal="training-parent",
                    outcome="wrong date",
                )
        for family in families:
            if "welcome" in family:
                _redirected_welcome(family, now, today)


def _redirected_welcome(family: dict, now: dt.datetime, today: dt.date) -> None:
    """L4: the family's welcome issued by email to one parent, then redirected to the other before it
    was sent, through the engine itself (so the audit trail and the outbox show it as they would)."""
    from kiosk.people.staff import StaffUser
    from kiosk.registration.engine import IssueRequest, issue_pins
    from kiosk.registration.pin_life import redirect_welcome

    row = Staff.select().where(Staff.portal_user.is_null(False)).order_by(Staff.id).get()
    desk = StaffUser(row.id, row.username, row.display_name, row.portal_user, row.is_admin)
    first, then = (
        Caregiver.get(Caregiver.external_id == "training:" + family["welcome"][key])
        for key in ("to", "redirected_to")
    )
    kids = [
        p.id
        for p in Patient.select()
        .where(Patient.chart_number.in_([c["chart"] for c in family["patients"]]))
        .order_by(Patient.id)
    ]
    issue_pins(
        desk, IssueRequest(kids, recipient_id=first.id, email=first.email), now=now, today=today
    )
    redirect_welcome(desk, kids[0], then.id, now=now)


TRAINING_PREFIX = "kiosk-training-"
# D2: the process that made the folder holds an flock on OWNER_LOCK for as long as it runs (the
# kernel drops it when the process ends, however it ends): a folder whose lock can be taken is a
# leftover. A process id alone is not enough: once its owner is gone the id can be given to
# another process, which would keep the folder for as long as that one runs. OWNER_FILE still
# names the owner, for people and for the folders of a kiosk older than the lock.
OWNER_LOCK = "owner.lock"
OWNER_FILE = "owner.pid"
_held: dict[Path, int] = {}  # folder -> the descriptor holding its lock, for this process's life


def training_database_path() -> Path:
    """A fresh throwaway database file for one training session, in a folder that this process
    holds locked until it ends, and that names it."""
    folder = Path(tempfile.mkdtemp(prefix=TRAINING_PREFIX))
    # locked before it takes its name, so no other start ever finds it there and not yet locked
    fd = os.open(folder / f".{OWNER_LOCK}", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the descriptor is closed in a child's exec
    os.rename(folder / f".{OWNER_LOCK}", folder / OWNER_LOCK)
    _held[folder] = fd
    (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
    return folder / "training.sqlite3"


def remove_training_folder(database_path: str | os.PathLike) -> None:
    """Delete one training session's folder (its database, WAL and slips) when training ends (D2)."""
    folder = Path(database_path).parent
    if folder.name.startswith(TRAINING_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
        fd = _held.pop(folder, None)
        if fd is not None:
            os.close(fd)


def remove_training_leftovers(tmp: str | os.PathLike | None = None) -> int:
    """Delete the training folders whose owner process is gone (a training run that was killed or
    lost its SSH connection, D2); return how many. A folder of a training still running stays."""
    removed = 0
    for folder in Path(tmp or tempfile.gettempdir()).glob(TRAINING_PREFIX + "*"):
        if folder in _held:
            continue
        try:
            fd = os.open(folder / OWNER_LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:  # from a kiosk older than the lock, or being made this moment
            if _owner_gone_by_pid(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
            continue
        except OSError:
            continue  # not ours to judge: not readable by this user
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its owner still runs
            os.close(fd)
            continue
        try:  # the lock held while the folder goes
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def _owner_gone_by_pid(folder: Path) -> bool:
    """A folder without a lock file: made by a kiosk older than the lock, or being made now."""
    try:
        owner = int((folder / OWNER_FILE).read_text(encoding="ascii").strip())
    except FileNotFoundError:  # made by an older kiosk, or by one that is writing its owner now
        return _older_than_a_day(folder)
    except (OSError, ValueError):
        return False  # not ours to judge: not readable by this user
    return owner != os.getpid() and not _running(owner)


def _older_than_a_day(folder: Path) -> bool:
    import time

    try:
        return folder.stat().st_mtime < time.time() - 24 * 3600
    except OSError:
        return False


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
