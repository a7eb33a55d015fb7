"""The audit trail (S5, S10): append-only, chained with a keyed hash, verified from one snapshot and
against anchors kept outside the database, exportable."""

import csv
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import threading

import pytest

from kiosk import audit, security
from kiosk.store.db import database
from kiosk.store.models import AuditEvent, AuditHead


def _trail(n=5):
    for i in range(n):
        audit.record(
            audit.VIEW, staff="maria", detail={"i": i}, at=dt.datetime(2026, 11, 20 + i % 3, 9, i)
        )


def test_s5_intact_trail_verifies(store):
    _trail()
    assert audit.verify_chain() == []
    assert [e.seq for e in AuditEvent.select().order_by(AuditEvent.seq)] == [1, 2, 3, 4, 5]


def test_s5_an_edited_row_is_found(store):
    _trail()
    database.execute_sql("UPDATE audit_event SET staff = 'devon' WHERE seq = 3")
    problems = audit.verify_chain()
    assert [(p.seq, "edited" in p.reason) for p in problems] == [(3, True)]


def test_s5_a_deleted_row_is_found(store):
    _trail()
    database.execute_sql("DELETE FROM audit_event WHERE seq = 2")
    assert any(p.seq == 2 and "deleted" in p.reason for p in audit.verify_chain())


def test_s5_a_deleted_last_row_is_found(store):
    _trail()
    database.execute_sql("DELETE FROM audit_event WHERE seq = 5")
    assert any("end" in p.reason for p in audit.verify_chain())


def test_s5_an_inserted_row_is_found(store):
    _trail()
    row = AuditEvent.get(AuditEvent.seq == 3)
    database.execute_sql("UPDATE audit_event SET seq = seq + 100 WHERE seq >= 3")
    database.execute_sql(
        "INSERT INTO audit_event (seq, at, action, staff, chart_number, detail, prev_hash, hash) "
        "VALUES (3, ?, 'issue', 'mallory', '', '{}', ?, ?)",
        (row.at, row.prev_hash, "f" * 64),
    )
    problems = audit.verify_chain()
    assert problems and problems[0].seq == 3


def test_s5_export_since_a_date(store):
    _trail(6)
    out = io.StringIO()
    count = audit.export_csv(out, dt.date(2026, 11, 22))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 2 and {r["at_utc"][:10] for r in rows} == {"2026-11-22"}
    assert rows[0].keys() >= {"seq", "action", "staff", "hash"}


def test_s5_opening_a_patient_page_is_recorded(training):
    from kiosk.people.patients import patient_page
    from kiosk.store.models import Patient

    rosemary = Patient.get(Patient.given_name == "Rosemary")
    patient_page(rosemary.id)  # no viewer (the engine's own reads): nothing recorded
    patient_page(rosemary.id, viewed_by="maria")
    views = [
        (e.staff, e.patient_id) for e in AuditEvent.select().where(AuditEvent.action == audit.VIEW)
    ]
    assert views == [("maria", rosemary.id)]


# -- S10: keyed chain, one snapshot, anchored outside the database ----------------------------------
# Each tamper below is done the way someone with write access to the database (but not to the key
# file) would do it, straight in SQL.


@pytest.fixture
def anchors(tmp_path):
    return tmp_path / "kiosk.anchor"


def _payload(row, prev_hash):
    fields = [
        prev_hash,
        row.seq,
        row.at.isoformat(timespec="microseconds"),
        row.action,
        row.staff,
        row.patient_id,
        row.chart_number,
        row.detail,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _rewrite(hasher, edit=None):
    """Edit a row and recompute every hash after it, and the head, with ``hasher(payload)``."""
    prev = audit.GENESIS
    for row in AuditEvent.select().order_by(AuditEvent.seq):
        if edit:
            edit(row)
        row.prev_hash = prev
        row.hash = prev = hasher(_payload(row, prev))
        row.save()
    last = AuditEvent.select().order_by(AuditEvent.seq.desc()).first()
    AuditHead.update(seq=last.seq if last else 0, last_hash=prev).execute()


def _plain(payload):
    return hashlib.sha256(payload.encode()).hexdigest()


def _mallory(row):
    if row.seq == 2:
        row.staff = "mallory"


def test_s10_chain_is_keyed_not_plain_sha256(store):
    _trail(2)
    first = AuditEvent.get(AuditEvent.seq == 1)
    assert first.hash != _plain(_payload(first, audit.GENESIS))
    assert first.hash == security.current_key().digest(
        audit.CHAIN_PURPOSE, _payload(first, audit.GENESIS)
    )


def test_s10_edit_with_recomputed_plain_hashes_is_found(store):
    _trail()
    _rewrite(_plain, _mallory)
    problems = audit.verify_chain()
    assert problems and problems[0].seq == 1 and "edited" in problems[0].reason


def test_s10_rewrite_with_hashes_keyed_by_another_key_is_found(store):
    _trail()
    other = security.SecretKey(secrets.token_bytes(32))
    _rewrite(lambda payload: other.digest(audit.CHAIN_PURPOSE, payload), _mallory)
    assert {p.seq for p in audit.verify_chain()} == {1, 2, 3, 4, 5}


def test_s10_reordered_rows_are_found(store):
    _trail()
    database.execute_sql("UPDATE audit_event SET seq = 100 WHERE seq = 2")
    database.execute_sql("UPDATE audit_event SET seq = 2 WHERE seq = 3")
    database.execute_sql("UPDATE audit_event SET seq = 3 WHERE seq = 100")
    problems = audit.verify_chain()
    assert {p.seq for p in problems} >= {2, 3}


def test_s10_truncation_without_fixing_the_head_is_found(store, anchors):
    _trail()
    database.execute_sql("DELETE FROM audit_event WHERE seq >= 4")
    assert any("deleted at the end" in p.reason for p in audit.verify_chain(anchors))


def test_s10_truncation_with_the_head_fixed_is_found_against_the_anchor(store, anchors):
    _trail()
    made, problems = audit.anchor(anchors)
    assert problems == [] and made.seq == 5
    third = AuditEvent.get(AuditEvent.seq == 3)
    database.execute_sql("DELETE FROM audit_event WHERE seq >= 4")
    AuditHead.update(seq=3, last_hash=third.hash).execute()
    assert audit.verify_chain() == []  # the database alone cannot tell: the anchor outside it can
    problems = audit.verify_chain(anchors)
    assert [p.seq for p in problems] == [5] and "now ends at event 3" in problems[0].reason


def test_s10_deleting_everything_and_resetting_the_head_is_found_against_the_anchor(store, anchors):
    _trail()
    audit.anchor(anchors)
    database.execute_sql("DELETE FROM audit_event")
    AuditHead.update(seq=0, last_hash=audit.GENESIS).execute()
    problems = audit.verify_chain(anchors)
    assert problems and "now ends at event 0" in problems[0].reason


def test_s10_deleting_everything_without_touching_the_head_is_found(store):
    _trail()
    database.execute_sql("DELETE FROM audit_event")
    assert any("deleted at the end" in p.reason for p in audit.verify_chain())


def test_s10_rewrite_as_plain_legacy_events_is_found_against_the_anchor(store, anchors):
    """Moving where the keyed part begins past the end and recomputing every hash as plain SHA-256
    fools the database alone; the anchor's keyed hash no longer matches."""
    _trail()
    audit.anchor(anchors)
    _rewrite(_plain, _mallory)
    AuditHead.update(keyed_from=100).execute()
    assert audit.verify_chain() == []
    problems = audit.verify_chain(anchors)
    assert [p.seq for p in problems] == [5] and "rewritten" in problems[0].reason


def test_s10_a_forged_or_damaged_anchor_line_is_found(store, anchors):
    _trail()
    audit.anchor(anchors)
    with anchors.open("a") as out:
        out.write(f"2026-12-01T00:00:00Z seq=5 hash={'0' * 64}\nnot an anchor\n")
    reasons = [p.reason for p in audit.verify_chain(anchors)]
    assert len(reasons) == 2 and any("not an anchor line" in r for r in reasons)
    assert any("not made with this key" in r for r in reasons)


def test_s10_anchor_appends_a_private_line_and_refuses_a_tampered_trail(store, anchors):
    _trail(3)
    first, _ = audit.anchor(anchors)
    audit.record(audit.VIEW, staff="maria")
    second, _ = audit.anchor(anchors)
    assert (first.seq, second.seq) == (3, 4) and os.stat(anchors).st_mode & 0o777 == 0o600
    assert anchors.read_text().splitlines() == [first.line, second.line]
    assert audit.last_anchor(anchors) == second
    database.execute_sql("UPDATE audit_event SET staff = 'mallory' WHERE seq = 2")
    made, problems = audit.anchor(anchors)
    assert made is None and problems and len(anchors.read_text().splitlines()) == 2


def test_s10_a_deleted_head_row_is_reported_then_rebuilt_by_the_next_write(store):
    _trail(3)
    database.execute_sql("DELETE FROM audit_head")
    problems = audit.verify_chain()
    assert [p.seq for p in problems] == [0] and "head row is missing" in str(problems[0])
    audit.record(audit.VIEW, staff="maria")  # not a crash of every audited action
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert actions[3:] == [audit.HEAD_REBUILT, audit.VIEW]
    assert AuditHead.select().count() == 1 and audit.verify_chain() == []


def _desk_writes_during(monkeypatch, written):
    """Make another desk (thread, own connection) append an event just as verify starts reading the
    events, after it has read the head row."""

    def desk():
        database.connect(reuse_if_open=True)
        try:
            written.append(audit.record(audit.VIEW, staff="devon"))
        finally:
            database.close()

    class EventsWhileADeskWrites:
        def __getattr__(self, name):
            return getattr(AuditEvent, name)

        def __call__(self, **fields):  # an event made in memory, as audit.record returns it
            return AuditEvent(**fields)

        def select(self, *fields):
            if not written:
                thread = threading.Thread(target=desk)
                thread.start()
                thread.join(timeout=30)
            return AuditEvent.select(*fields)

    monkeypatch.setattr(audit, "AuditEvent", EventsWhileADeskWrites())


def test_s10_verify_reads_one_snapshot_while_a_desk_writes(store, monkeypatch):
    """A desk appending while verify runs is not a cut-off tail (no false alarm)."""
    _trail(3)
    written = []
    _desk_writes_during(monkeypatch, written)
    assert audit.verify_chain() == []
    monkeypatch.undo()
    assert written and audit.verify_chain() == [] and AuditEvent.select().count() == 4


def test_s10_events_written_before_the_chain_was_keyed_still_verify(config, store):
    """A database from before S10: its plain-hashed events are checked as plain, new ones keyed, and
    an edit of an old one is still found."""
    import sqlite3

    from playhouse.migrate import make_index_name

    from kiosk.store.db import close_database
    from kiosk.store.practice import open_store
    from kiosk.store.schema import REPORT_INDEX, SCHEMA_VERSION

    _trail(3)
    _rewrite(_plain)
    close_database()
    con = sqlite3.connect(config.database)
    con.execute("ALTER TABLE audit_head DROP COLUMN keyed_from")
    con.execute("ALTER TABLE practice DROP COLUMN purpose")  # and what later versions add
    for column in ("ended_by", "prior_status", "terminal"):
        con.execute(f"ALTER TABLE registration_pin DROP COLUMN {column}")
    con.execute("DROP INDEX registration_pin_state_expires_at")  # version 9's
    con.execute("DROP INDEX outbox_message_provider_id")  # version 10's
    for column in ("provider_id", "delivery"):
        con.execute(f"ALTER TABLE outbox_message DROP COLUMN {column}")
    con.execute("ALTER TABLE practice DROP COLUMN reminder_days")  # version 11's
    con.execute("DROP INDEX outbox_message_one_reminder")
    con.execute("ALTER TABLE outbox_message DROP COLUMN kind")
    con.execute(f"DROP INDEX {make_index_name('registration_pin', REPORT_INDEX)}")  # version 14's
    con.execute("ALTER TABLE registration_pin DROP COLUMN first_used_at")
    from test_accept_foundation import drop_version_15, drop_version_16, drop_version_17

    drop_version_15(con)
    drop_version_16(con)
    drop_version_17(con)
    con.execute("UPDATE schema_meta SET version = 3")
    con.commit()
    con.close()
    open_store(config)
    assert SCHEMA_VERSION >= 4 and AuditHead.get().keyed_from == 4
    audit.record(audit.VIEW, staff="maria")
    assert audit.verify_chain() == []
    database.execute_sql("UPDATE audit_event SET staff = 'mallory' WHERE seq = 2")
    assert [p.seq for p in audit.verify_chain()] == [2]
