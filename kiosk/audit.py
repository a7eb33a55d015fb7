"""The audit trail (S5, S10): append-only, each event chained to the one before by a keyed hash.

Writers first lock the single :class:`AuditHead` row (FOR UPDATE on PostgreSQL; on SQLite the
write transaction holds the database), so events from several desks get gap-free sequence numbers
and a single chain. Every writer queues on that row until it commits, so a busy path (the
portal's redemptions, P1) makes its events with :func:`event` and writes them together with
:func:`record_all` as the last step of its transaction. Each hash is an HMAC under the practice's key file (kiosk.security, purpose
"audit chain"), which is not in the database: someone who can write the database can edit or
delete rows but cannot recompute the chain over them. Events written before the chain was keyed
(schema version 3) keep their plain SHA-256 hashes and are checked as such.

``verify_chain`` reads one snapshot, recomputes the chain and names the first row that does not
fit: an edited row (its hash is wrong), an inserted or deleted row (the sequence or the link
breaks). The chain's end is also written outside the database, as anchor lines in a file the
practice backs up (``kiosk audit anchor``): cutting the tail off, with or without fixing the head
row, or deleting everything is found against the last anchor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kiosk import security
from kiosk.store.db import (
    GUESSED_WRONG,
    GUESSES,
    LOCK_INSTEAD,
    Prepared,
    at_commit,
    commit_step,
    database,
    insert_sql,
    is_sqlite,
    read_snapshot,
    run_alone,
    write_transaction,
)
from kiosk.store.models import AuditEvent, AuditHead, Patient
from kiosk.terms import utcnow

GENESIS = "0" * 64
CHAIN_PURPOSE, ANCHOR_PURPOSE = "audit chain", "audit anchor"

# Actions recorded; one word per idea, as the front desk would say it.
SIGN_IN, SIGN_IN_FAILED, SIGN_OUT = "sign-in", "sign-in failed", "sign-out"
ISSUE, REPLACE, REVOKE, EXPIRE = "issue", "replace", "revoke", "expire"
PRINT, SEND, SEND_FAILED = "print", "send", "send failed"
MESSAGE_ERASED = "message erased"
REDEEM, REDEEM_FAILED, LOCK_OUT = "redeem", "redeem failed", "lock-out"
QUESTION_LOOKUP, REDEEM_PAUSED = "question lookup", "redeem paused"
NAME_FIX, VIEW, UNLOCK, LOCK = "name fix", "view", "unlock", "lock"
STAFF_ADD, STAFF_LINK, STAFF_UNLOCK, IMPORT = "staff add", "staff link", "staff unlock", "import"
PORTAL_SIGN_IN, PORTAL_SIGN_IN_FAILED, SIGN_IN_PAUSED = (
    "portal sign-in",
    "portal sign-in failed",
    "sign-in paused",
)
HEAD_REBUILT = "audit head rebuilt"
DEMO_DATA = "demo data"
# The PIN's life at the desk (L4-L6)
SEND_NOW, REDIRECT, LOCK_CLEARED, CONTACT_EDIT = (
    "send now",
    "redirect",
    "lock-out cleared",
    "contact edit",
)
TOKEN_CREATE, TOKEN_REVOKE = "api token create", "api token revoke"
REDEEM_CHECKED = "redeem checked"
# Teens and access over time (T1-T5)
VALIDATE, AGE_TRANSITION = "validate", "age transition"
ASSOCIATION_SUSPEND, ASSOCIATION_RESUME = "association suspend", "association resume"
ASSOCIATION_END, ASSOCIATION_END_DATE = "association end", "association end date"


def _payload(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    action: str,
    staff: str,
    patient_id: int | None,
    chart_number: str,
    detail: str,
) -> str:
    return json.dumps(
        [
            prev_hash,
            seq,
            at.isoformat(timespec="microseconds"),
            action,
            staff,
            patient_id,
            chart_number,
            detail,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _event_payload(event: AuditEvent) -> str:
    return _payload(
        event.prev_hash,
        event.seq,
        event.at,
        event.action,
        event.staff,
        event.patient_id,
        event.chart_number,
        event.detail,
    )


def _plain_hash(payload: str) -> str:
    """How events were chained before S10: anyone could recompute it."""
    return hashlib.sha256(payload.encode()).hexdigest()


def _keyed_hash(payload: str, key: security.SecretKey | None = None) -> str:
    return (key or security.current_key()).digest(CHAIN_PURPOSE, payload)


def record(
    action: str,
    *,
    staff: str = "",
    patient: Patient | int | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event. Joins the caller's transaction when there is one. On PostgreSQL outside
    a transaction, the event is written in one round trip with its BEGIN and COMMIT
    (:func:`_write_alone`) and the one returned has no ``id`` (find it by ``seq``)."""
    pending = [event(action, staff=staff, patient=patient, detail=detail, at=at)]
    if database.in_transaction():
        return _append(pending)
    written: list[AuditEvent] = []
    if _write_alone(pending, written):
        return written[-1]
    with write_transaction():
        if not _write_at_commit(pending, written):
            return _append(pending)
    return written[-1]


@dataclass(frozen=True)
class Pending:
    """An event made but not yet written: see :func:`event` and :func:`record_all`."""

    action: str
    staff: str
    patient_id: int | None
    chart: str
    body: str
    at: dt.datetime


def event(
    action: str,
    *,
    staff: str = "",
    patient: Patient | int | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Pending:
    """One event as :func:`record` would write it, to be written with others by :func:`record_all`."""
    at = (at or utcnow()).replace(tzinfo=None)
    patient_id = patient.id if isinstance(patient, Patient) else patient
    chart = patient.chart_number if isinstance(patient, Patient) else ""
    # D1: every event says at which terminal it happened; in the detail, so the chain's hash covers it
    detail = {"terminal": security.default_terminal(), **(detail or {})}
    body = json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
    return Pending(action, staff, patient_id, chart, body, at)


def record_all(events: list[Pending]) -> None:
    """Append several events at once, in order: the head row is locked and written once. Called as
    the last step of a transaction, the head lock (which every audited writer queues on) is held
    only from here to the commit (P1: the portal's redemptions under load). On PostgreSQL the
    events are written when the transaction commits, their statements sent with the COMMIT
    (kiosk.store.db.at_commit, O1), chained on the head as read and moved only if it is still
    there (see :func:`_append_sql`): the head lock is held only while the server runs them."""
    if not events:
        return
    if database.in_transaction():  # no savepoint: a failure here fails the caller's transaction
        if not _write_at_commit(events, []):
            _append(events)
        return
    if _write_alone(events, []):
        return
    with write_transaction():
        if not _write_at_commit(events, []):
            _append(events)


class _ChainWrite:
    """A transaction's audit events, written when it commits (kiosk.store.db.at_commit)."""

    def __init__(self, events: list[Pending], written: list[AuditEvent]):
        self.events, self.written = list(events), written

    def __call__(self, guess: str | None) -> tuple[str, list[Any]]:
        return _append_sql(self.events, self.written, guess)


def _write_at_commit(events: list[Pending], written: list[AuditEvent]) -> bool:
    """Write ``events`` when the current transaction commits (False where it cannot: see
    kiosk.store.db.at_commit). A transaction's events are one write, in order, however many
    times it records: two would build on the same head."""
    pending = commit_step(_ChainWrite)
    if pending is not None:
        pending.events.extend(events)
        return True
    return at_commit(_ChainWrite(events, written))


def lock_head() -> AuditHead | None:
    """Take the head row's lock now (PostgreSQL; SQLite's write transaction holds the database's):
    whoever holds it is the only writer of audited events until commit. The head row, or None when
    it was deleted."""
    query = AuditHead.select()
    if not is_sqlite():
        query = query.for_update()
    return query.first()


def _chained(events: list[Pending]) -> list[dict[str, Any]]:
    """Lock the head and make ``events``' rows, each chained to the one before (S10)."""
    head = lock_head()
    if head is None:  # S10: a deleted head row must not stop every audited action
        rebuilt = _rebuild_head(events[0].at)
        head = lock_head()
        assert head is not None  # inserted just now, by this transaction or a committed one
        if rebuilt is not None:
            events = [rebuilt, *events]
    return _linked(head.seq, head.last_hash, events)


def _linked(seq: int, last_hash: str, events: list[Pending]) -> list[dict[str, Any]]:
    """``events``' rows after event ``seq`` whose hash is ``last_hash``, each chained to the one
    before (S10)."""
    rows = []
    for e in events:
        seq += 1
        digest = _keyed_hash(
            _payload(last_hash, seq, e.at, e.action, e.staff, e.patient_id, e.chart, e.body)
        )
        rows.append(
            dict(
                seq=seq,
                at=e.at,
                action=e.action,
                staff=e.staff,
                patient_id=e.patient_id,
                chart_number=e.chart,
                detail=e.body,
                prev_hash=last_hash,
                hash=digest,
            )
        )
        last_hash = digest
    return rows


def _append(events: list[Pending]) -> AuditEvent:
    """Write ``events`` after the head, in three statements whatever their number: read and lock
    the head, insert the events, move the head. Returns the last event."""
    rows = _chained(events)
    if len(rows) == 1:
        written = AuditEvent.create(**rows[0])
    else:
        AuditEvent.insert_many(rows).execute()
        written = AuditEvent(**rows[-1])
    AuditHead.update(seq=rows[-1]["seq"], last_hash=rows[-1]["hash"]).execute()
    return written


def _append_sql(
    events: list[Pending], written: list[AuditEvent], guess: str | None = None
) -> tuple[str, list[Any]]:
    """As :func:`_append`, for the commit (kiosk.store.db.at_commit): the events' rows chained
    after the head, and the SQL that moves the head and inserts them, for the COMMIT to carry;
    the last event goes into ``written``.

    The head is read without its lock (``guess`` None) or taken from the failed try's ``guess``
    ("SEQ HASH"), and the chain built on it here, where the key is (S10); ``audit_head_move``
    moves the head only if it is still there, under its lock, in the same round trip as the
    COMMIT, and otherwise says where it is now (db.GUESSED_WRONG): so no desk holds the head's
    lock while an answer travels back to it and it computes. With ``guess`` LOCK_INSTEAD (wrong every
    time), or no head row, the head is locked first, as :func:`_append` does."""
    head = None if guess == LOCK_INSTEAD else _guessed_head(guess)
    if head is None:
        rows = _chained(events)  # locked (and rebuilt if it was deleted)
        was = (rows[0]["seq"] - 1, rows[0]["prev_hash"])
    else:
        rows = _linked(*head, events)
        was = head
    written.append(AuditEvent(**rows[-1]))
    return _move_sql(was, rows)


def _move_sql(was: tuple[int, str], rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """The head moved from ``was`` past ``rows`` (if it is still there: audit_head_move), and the
    rows inserted."""
    insert, insert_params = insert_sql(AuditEvent, rows)
    last = rows[-1]
    return f"SELECT audit_head_move(%s, %s, %s, %s); {insert}", [
        *was,
        last["seq"],
        last["hash"],
        *insert_params,
    ]


def _write_alone(events: list[Pending], written: list[AuditEvent]) -> bool:
    """PostgreSQL, outside a transaction: ``events`` in a transaction of their own, chained on the
    head as read just before, whose BEGIN, head move, insert and COMMIT go in one round trip
    (kiosk.store.db.run_alone): an account page's look (S5) is two round trips, not three (O1). A
    wrong guess is chained again on the head the failed try found. False where it cannot be done
    so (SQLite, no head row, or wrong every time): the caller writes in a transaction of its
    own, which locks the head or rebuilds it as :func:`_append_sql` does."""
    if is_sqlite():
        return False
    head = _guessed_head(None)
    for _ in range(GUESSES):
        if head is None:
            return False
        rows = _linked(*head, events)
        sql, params = _move_sql(head, rows)
        if (moved := run_alone(sql, params)) is not None:
            head = _guessed_head(moved)
            continue
        written.append(AuditEvent(**rows[-1]))
        return True
    return False


_HEAD = Prepared(lambda: AuditHead.select(AuditHead.seq, AuditHead.last_hash).limit(1))


def _guessed_head(guess: str | None) -> tuple[int, str] | None:
    """Where the chain ends, to build on without the head's lock: as read now (``guess`` None)
    or as a failed try found it ("SEQ HASH"); None when there is no head row."""
    if guess is None:
        row = next(iter(_HEAD()), None)
        return (int(row[0]), str(row[1])) if row else None
    seq, _, last_hash = guess.partition(" ")
    return (int(seq), last_hash) if seq.isdigit() and last_hash else None


# PostgreSQL: move the head from (was_seq, was_hash) to (to_seq, to_hash) under its row lock, or
# say where it is now when another desk moved it first (kiosk.store.db.GUESSED_WRONG: the desk
# chains its events again after that and sends them again). The key never reaches the server (S10):
# the desk computes every hash.
MOVE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_head_move(
    was_seq integer, was_hash varchar, to_seq integer, to_hash varchar) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    now_seq integer;
    now_hash varchar;
BEGIN
    UPDATE audit_head SET seq = to_seq, last_hash = to_hash
        WHERE seq = was_seq AND last_hash = was_hash;
    IF NOT FOUND THEN
        SELECT seq, last_hash INTO now_seq, now_hash FROM audit_head;
        RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = '{GUESSED_WRONG}',
            DETAIL = coalesce(now_seq || ' ' || now_hash, '');
    END IF;
END
$$"""


def create_functions() -> None:
    """Create (or replace) the audit's function in the current schema (PostgreSQL only)."""
    database.execute_sql(MOVE_FUNCTION)


def _rebuild_head(at: dt.datetime) -> Pending | None:
    """Make the head row again from the last event; the event that says so in the trail itself, or
    None when another desk rebuilt it at the same moment (the same id: the second insert is
    ignored)."""
    last = AuditEvent.select().order_by(AuditEvent.seq.desc()).first()
    seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS)
    inserted = (
        AuditHead.insert(id=1, seq=seq, last_hash=last_hash, keyed_from=_first_keyed_seq())
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if not inserted:
        return None
    return Pending(HEAD_REBUILT, "", None, "", json.dumps({"last_event": seq}), at)


def _first_keyed_seq(key: security.SecretKey | None = None) -> int:
    """Where the keyed part of the chain begins, read from the events themselves (plain ones come first)."""
    last = 0
    for event in AuditEvent.select().order_by(AuditEvent.seq).iterator():
        if hmac.compare_digest(event.hash, _keyed_hash(_event_payload(event), key)):
            return event.seq
        last = event.seq
    return last + 1


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.reason}" if self.seq else self.reason


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file: at ``at`` the chain ended at event ``seq`` with this keyed hash."""

    at: str
    seq: int
    mac: str
    line: str

    def __str__(self) -> str:
        return self.line


def _anchor_mac(seq: int, event_hash: str, key: security.SecretKey | None = None) -> str:
    return (key or security.current_key()).digest(ANCHOR_PURPOSE, f"{seq}:{event_hash}")


def read_anchors(path: Path) -> tuple[list[Anchor], list[ChainProblem]]:
    """The anchor lines in ``path`` (none if it does not exist), and any line that is not one."""
    anchors: list[Anchor] = []
    problems: list[ChainProblem] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
        try:
            anchors.append(Anchor(line.split()[0], int(fields["seq"]), fields["hash"], line))
        except (KeyError, ValueError):
            problems.append(
                ChainProblem(0, f"anchor file {path} line {number} is not an anchor line (edited?)")
            )
    return anchors, problems


def verify_chain(anchor_file: Path | None = None) -> list[ChainProblem]:
    """Every place the chain does not hold; empty when the trail is intact.

    Reads one snapshot (S10), so desks writing meanwhile never look like a cut-off tail. With
    ``anchor_file``, every anchor in it must still be in the chain, unchanged.
    """
    with read_snapshot():
        return _verify(anchor_file)


def _verify(anchor_file: Path | None) -> list[ChainProblem]:
    key = security.current_key()
    problems: list[ChainProblem] = []
    anchors: list[Anchor] = []
    if anchor_file is not None:
        anchors, problems = read_anchors(anchor_file)
    anchored = {mark.seq for mark in anchors}
    head = AuditHead.select().first()
    if head is None:
        problems.append(
            ChainProblem(
                0,
                "the audit trail's head row is missing (deleted?); the next audited "
                "action rebuilds it from the events",
            )
        )
    keyed_from = head.keyed_from if head is not None else _first_keyed_seq(key)
    hashes: dict[int, str] = {0: GENESIS}
    expected_seq, prev = 1, GENESIS
    for event in AuditEvent.select().order_by(AuditEvent.seq).iterator():
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                problems.append(
                    ChainProblem(expected_seq, f"missing (deleted?): next event is {event.seq}")
                )
            else:
                problems.append(ChainProblem(event.seq, "out of order (inserted?)"))
        if event.prev_hash != prev:
            problems.append(
                ChainProblem(
                    event.seq, "does not link to the event before it (inserted or deleted?)"
                )
            )
        payload = _event_payload(event)
        if event.seq >= keyed_from:
            intact = hmac.compare_digest(event.hash, _keyed_hash(payload, key))
        else:
            intact = event.hash == _plain_hash(payload)
        if not intact:
            problems.append(
                ChainProblem(
                    event.seq,
                    "contents changed since it was written (edited, or rewritten without the key?)",
                )
            )
        if event.seq in anchored:
            hashes[event.seq] = event.hash
        expected_seq, prev = event.seq + 1, event.hash
    last = expected_seq - 1
    if head is not None and head.seq != last:
        problems.append(
            ChainProblem(
                head.seq, f"last event is {last}, the trail says {head.seq} (deleted at the end?)"
            )
        )
    elif head is not None and head.last_hash != prev:
        problems.append(
            ChainProblem(
                head.seq,
                "last event does not match the trail's head (edited or deleted at the end?)",
            )
        )
    for mark in anchors:
        if mark.seq > last:
            problems.append(
                ChainProblem(
                    mark.seq,
                    f"anchored on {mark.at} but the trail now ends at event "
                    f"{last} (events deleted at the end, or the whole trail?)",
                )
            )
        elif mark.seq not in hashes:
            problems.append(
                ChainProblem(mark.seq, f"anchored on {mark.at} but missing now (deleted?)")
            )
        elif not hmac.compare_digest(mark.mac, _anchor_mac(mark.seq, hashes[mark.seq], key)):
            problems.append(
                ChainProblem(
                    mark.seq,
                    f"not the event anchored on {mark.at} (the trail was "
                    "rewritten, or the anchor line was not made with this "
                    "key)",
                )
            )
    return problems


def last_anchor(anchor_file: Path) -> Anchor | None:
    anchors, _ = read_anchors(anchor_file)
    return anchors[-1] if anchors else None


def anchor(
    anchor_file: Path, *, now: dt.datetime | None = None
) -> tuple[Anchor | None, list[ChainProblem]]:
    """Append where the chain ends now to ``anchor_file`` (made 0600) and return the new anchor.

    The trail is verified first (against the earlier anchors too): a tampered trail is not anchored,
    its problems are returned instead.
    """
    now = (now or utcnow()).replace(tzinfo=None)
    with read_snapshot():
        problems = _verify(anchor_file)
        last = AuditEvent.select().order_by(AuditEvent.seq.desc()).first()
    if problems:
        return None, problems
    seq, event_hash = (last.seq, last.hash) if last else (0, GENESIS)
    line = f"{now:%Y-%m-%dT%H:%M:%SZ} seq={seq} hash={_anchor_mac(seq, event_hash)}"
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(anchor_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)  # readable by kiosk only, like the key file (S11)
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Anchor(f"{now:%Y-%m-%dT%H:%M:%SZ}", seq, line.rsplit("=", 1)[1], line), []


def export_csv(out: IO[str], since: dt.date | None = None) -> int:
    """Write events (from ``since`` on) as CSV; return how many."""
    import csv  # only for an export, not at start-up

    query = AuditEvent.select().order_by(AuditEvent.seq)
    if since:
        query = query.where(AuditEvent.at >= dt.datetime.combine(since, dt.time()))
    writer = csv.writer(out)
    writer.writerow(
        ["seq", "at_utc", "action", "staff", "patient_id", "chart_number", "detail", "hash"]
    )
    count = 0
    for event in query.iterator():
        writer.writerow(
            [
                event.seq,
                event.at.isoformat(),
                event.action,
                event.staff,
                event.patient_id or "",
                event.chart_number,
                event.detail,
                event.hash,
            ]
        )
        count += 1
    return count
