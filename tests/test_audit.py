"""The audit trail (S5): append-only, hash-chained, verifiable, exportable."""

import csv
import datetime as dt
import io

from kiosk import audit
from kiosk.db import database
from kiosk.models import AuditEvent


def _trail(n=5):
    for i in range(n):
        audit.record(audit.VIEW, staff="maria", detail={"i": i}, at=dt.datetime(2026, 11, 20 + i % 3, 9, i))


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
    database.execute_sql("INSERT INTO audit_event (seq, at, action, staff, chart_number, detail, prev_hash, hash) "
                         "VALUES (3, ?, 'issue', 'mallory', '', '{}', ?, ?)", (row.at, row.prev_hash, "f" * 64))
    problems = audit.verify_chain()
    assert problems and problems[0].seq == 3


def test_s5_export_since_a_date(store):
    _trail(6)
    out = io.StringIO()
    count = audit.export_csv(out, dt.date(2026, 11, 22))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 2 and {r["at_utc"][:10] for r in rows} == {"2026-11-22"}
    assert rows[0].keys() >= {"seq", "action", "staff", "hash"}


def test_s5_opening_a_patient_account_is_recorded(training):
    from kiosk.models import Patient
    from kiosk.patients import patient_account

    rosemary = Patient.get(Patient.given_name == "Rosemary")
    patient_account(rosemary.id)  # no viewer (the engine's own reads): nothing recorded
    patient_account(rosemary.id, viewed_by="maria")
    views = [(e.staff, e.patient_id) for e in AuditEvent.select().where(AuditEvent.action == audit.VIEW)]
    assert views == [("maria", rosemary.id)]
