"""The audit trail (S5): append-only, each event chained to the one before by a SHA-256 hash.

Writers first bump the single :class:`AuditHead` row, which takes a row lock on PostgreSQL (and
the write lock on SQLite), so events from several desks get gap-free sequence numbers and a
single chain. ``verify_chain`` recomputes the chain and names the first row that does not fit:
an edited row (its hash is wrong), an inserted or deleted row (the sequence or the link breaks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import IO, Any

from kiosk.db import write_transaction
from kiosk.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64

# Actions recorded; one word per idea, as the front desk would say it.
SIGN_IN, SIGN_IN_FAILED, SIGN_OUT = "sign-in", "sign-in failed", "sign-out"
ISSUE, REPLACE, REVOKE, EXPIRE = "issue", "replace", "revoke", "expire"
PRINT, SEND, SEND_FAILED = "print", "send", "send failed"
MESSAGE_ERASED = "message erased"
REDEEM, REDEEM_FAILED, LOCK_OUT = "redeem", "redeem failed", "lock-out"
NAME_FIX, VIEW, UNLOCK, LOCK = "name fix", "view", "unlock", "lock"
STAFF_ADD, STAFF_LINK, IMPORT = "staff add", "staff link", "import"
PORTAL_SIGN_IN, PORTAL_SIGN_IN_FAILED, SIGN_IN_PAUSED = "portal sign-in", "portal sign-in failed", "sign-in paused"


def _row_hash(prev_hash: str, seq: int, at: dt.datetime, action: str, staff: str,
              patient_id: int | None, chart_number: str, detail: str) -> str:
    payload = json.dumps(
        [prev_hash, seq, at.isoformat(timespec="microseconds"), action, staff, patient_id, chart_number, detail],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(action: str, *, staff: str = "", patient=None, detail: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> AuditEvent:
    """Append one event. Joins the caller's transaction when there is one."""
    at = (at or utcnow()).replace(tzinfo=None)
    patient_id = getattr(patient, "id", patient)
    chart = getattr(patient, "chart_number", "") or ""
    body = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str)
    with write_transaction():
        AuditHead.update(seq=AuditHead.seq + 1).execute()
        head = AuditHead.get()
        digest = _row_hash(head.last_hash, head.seq, at, action, staff, patient_id, chart, body)
        event = AuditEvent.create(
            seq=head.seq, at=at, action=action, staff=staff, patient_id=patient_id,
            chart_number=chart, detail=body, prev_hash=head.last_hash, hash=digest,
        )
        AuditHead.update(last_hash=digest).execute()
    return event


def failures_since_success(who: str, failed: str, succeeded: str, since: dt.datetime) -> int:
    """How many ``failed`` events ``who`` has had after ``since`` and after their last ``succeeded``."""
    from peewee import fn

    last_ok = (AuditEvent.select(fn.MAX(AuditEvent.at))
               .where((AuditEvent.staff == who) & (AuditEvent.action == succeeded)).scalar())
    start = max(since, last_ok) if last_ok else since
    return (AuditEvent.select().where((AuditEvent.staff == who) & (AuditEvent.action == failed)
                                      & (AuditEvent.at > start)).count())


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.reason}"


def verify_chain() -> list[ChainProblem]:
    """Every place the chain does not hold; empty when the trail is intact."""
    problems: list[ChainProblem] = []
    expected_seq, prev = 1, GENESIS
    for event in AuditEvent.select().order_by(AuditEvent.seq).iterator():
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                problems.append(ChainProblem(expected_seq, f"missing (deleted?): next event is {event.seq}"))
            else:
                problems.append(ChainProblem(event.seq, "out of order (inserted?)"))
        if event.prev_hash != prev:
            problems.append(ChainProblem(event.seq, "does not link to the event before it (inserted or deleted?)"))
        actual = _row_hash(event.prev_hash, event.seq, event.at, event.action, event.staff,
                           event.patient_id, event.chart_number, event.detail)
        if actual != event.hash:
            problems.append(ChainProblem(event.seq, "contents changed since it was written (edited?)"))
        expected_seq, prev = event.seq + 1, event.hash
    head = AuditHead.select().first()
    if head is not None and head.seq != expected_seq - 1:
        problems.append(ChainProblem(head.seq, f"last event is {expected_seq - 1}, the trail says {head.seq} (deleted at the end?)"))
    elif head is not None and head.last_hash != prev:
        problems.append(ChainProblem(head.seq, "last event does not match the trail's head (edited or deleted at the end?)"))
    return problems


def export_csv(out: IO[str], since: dt.date | None = None) -> int:
    """Write events (from ``since`` on) as CSV; return how many."""
    import csv  # only for an export, not at start-up

    query = AuditEvent.select().order_by(AuditEvent.seq)
    if since:
        query = query.where(AuditEvent.at >= dt.datetime.combine(since, dt.time()))
    writer = csv.writer(out)
    writer.writerow(["seq", "at_utc", "action", "staff", "patient_id", "chart_number", "detail", "hash"])
    count = 0
    for event in query.iterator():
        writer.writerow([event.seq, event.at.isoformat(), event.action, event.staff, event.patient_id or "",
                         event.chart_number, event.detail, event.hash])
        count += 1
    return count
