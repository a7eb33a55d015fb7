"""The data model at the database level: constraints, cascades, indexes, schema version."""

import datetime as dt
import sqlite3

import peewee
import pytest

from kiosk import security
from kiosk.store.db import database, write_transaction
from kiosk.store.models import (
    Association,
    Caregiver,
    Patient,
    PortalAccount,
    RegistrationPin,
    Relationship,
    Staff,
)
from kiosk.store.schema import SCHEMA_VERSION, SchemaError, current_version, ensure_schema
from kiosk.terms import PinState, fold


def _staff():
    return Staff.create(username="amy", display_name="Amy", password_hash="x", portal_user="pp-1")


def _patient(chart="1", given="Rosemary", family="Testkiddo"):
    return Patient.create(
        chart_number=chart, given_name=given, family_name=family, dob=dt.date(2020, 1, 2)
    )


def _pin(patient, staff, state=PinState.ACTIVE, pin_hash=None):
    return RegistrationPin.create(
        patient=patient,
        batch="b",
        issued_by=staff,
        pin_hash=pin_hash,
        expires_at=dt.datetime(2030, 1, 1),
        state=state,
    )


def test_r3_database_refuses_a_second_active_pin_for_one_patient(store):
    staff, patient = _staff(), _patient()
    _pin(patient, staff)
    with pytest.raises(peewee.IntegrityError), write_transaction():
        _pin(patient, staff)
    assert RegistrationPin.select().where(RegistrationPin.state == PinState.ACTIVE).count() == 1


def test_r3_ended_pins_do_not_count_toward_the_one_active(store):
    staff, patient = _staff(), _patient()
    _pin(patient, staff, state=PinState.REPLACED)
    _pin(patient, staff, state=PinState.REPLACED)
    _pin(patient, staff)
    other = _patient(chart="2", given="Basil")
    _pin(other, staff)  # another patient's active PIN is fine
    assert RegistrationPin.select().where(RegistrationPin.state == PinState.ACTIVE).count() == 2


def test_r3_constraint_holds_for_a_raw_sql_writer(store, config):
    """Not only the ORM: a second connection writing SQL directly is refused too."""
    staff, patient = _staff(), _patient()
    _pin(patient, staff)
    raw = sqlite3.connect(config.database)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute(
            "INSERT INTO registration_pin (patient_id, batch, method, access, delivery, print_slip, send_to, "
            "recipient_email, recipient_cell, carrier, second_parent, issued_by_id, issued_at, expires_at, "
            "state, redemptions, ended_reason) VALUES (?, 'b', 'pin', 'full', 'email', 0, 'parent', '', '', "
            "'', 0, ?, '2026-01-01', '2030-01-01', 'active', 0, '')",
            (patient.id, staff.id),
        )
    raw.close()


def test_pin_hashes_are_unique(store):
    staff = _staff()
    _pin(_patient(), staff, pin_hash="h1")
    with pytest.raises(peewee.IntegrityError), write_transaction():
        _pin(_patient(chart="2"), staff, pin_hash="h1")


def test_deleting_a_patient_removes_its_relationships_pins_and_associations(store):
    staff, patient = _staff(), _patient()
    mother = Caregiver.create(given_name="Cindy", family_name="Testkiddo")
    Relationship.create(caregiver=mother, patient=patient, role="Mother")
    pin = _pin(patient, staff)
    account = PortalAccount.create(email="c@example.com", display_name="C", password_hash="x")
    Association.create(account=account, patient=patient, pin=pin)
    patient.delete_instance()
    assert Relationship.select().count() == 0
    assert RegistrationPin.select().count() == 0
    assert Association.select().count() == 0
    assert Caregiver.select().count() == 1 and PortalAccount.select().count() == 1


def test_a_staff_member_who_issued_pins_cannot_be_deleted(store):
    staff = _staff()
    _pin(_patient(), staff)
    with pytest.raises(peewee.IntegrityError):
        staff.delete_instance()


def test_deleting_a_caregiver_keeps_the_pin_but_forgets_the_recipient(store):
    staff, patient = _staff(), _patient()
    mother = Caregiver.create(given_name="Cindy", family_name="Testkiddo")
    pin = RegistrationPin.create(
        patient=patient,
        batch="b",
        issued_by=staff,
        recipient=mother,
        expires_at=dt.datetime(2030, 1, 1),
    )
    mother.delete_instance()
    assert RegistrationPin.get_by_id(pin.id).recipient is None


def test_relationship_is_unique_per_caregiver_and_patient(store):
    patient = _patient()
    mother = Caregiver.create(given_name="Cindy", family_name="Testkiddo")
    Relationship.create(caregiver=mother, patient=patient, role="Mother")
    with pytest.raises(peewee.IntegrityError), write_transaction():
        Relationship.create(caregiver=mother, patient=patient, role="Mother")


def test_search_keys_are_folded_on_save(store):
    patient = _patient(given="Sofía", family="Núñez-García")
    assert (patient.given_key, patient.family_key) == ("sofia", "nunezgarcia")
    assert fold("O'Brien [Jr]") == "obrienjr" and fold(None) == ""


def test_every_search_has_an_index(store):
    def indexed(table):
        return [tuple(c.lower() for c in index.columns) for index in database.get_indexes(table)]

    patient_indexes = indexed("patient")
    # last name / "last, first", first name, DOB, status: each ordered by family_key, given_key, dob
    assert ("family_key", "given_key", "dob") in patient_indexes
    assert ("given_key", "family_key") in patient_indexes
    assert ("dob", "family_key", "given_key") in patient_indexes
    assert ("portal_status", "family_key", "given_key", "dob") in patient_indexes
    assert ("starts_at",) in indexed("appointment")
    plan = " ".join(
        str(row)
        for row in database.execute_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM patient WHERE family_key >= 'tes' AND family_key < 'tet'"
        ).fetchall()
    )
    assert "USING" in plan and "INDEX" in plan


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(store):
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_d1_each_sqlite_connection_caches_at_most_2_mib_of_pages(store):
    """A desk has a connection per worker thread, each with its own page cache: bounded, so a
    large practice's pages do not fill a low-spec kiosk's memory (benchmarks/lowspec.py)."""
    import threading

    seen = [database.execute_sql("PRAGMA cache_size").fetchone()[0]]

    def in_a_worker() -> None:
        seen.append(database.execute_sql("PRAGMA cache_size").fetchone()[0])
        database.close()

    worker = threading.Thread(target=in_a_worker)
    worker.start()
    worker.join()
    assert seen == [-2048, -2048]  # KiB


def test_schema_carries_a_version(store):
    assert current_version() == SCHEMA_VERSION
    assert ensure_schema() == SCHEMA_VERSION  # idempotent on an existing database


def test_an_older_database_is_migrated_in_place(store, monkeypatch):
    from kiosk.store import schema
    from kiosk.store.models import SchemaMeta

    _patient()
    steps = []

    def add_note_column():
        steps.append("2")
        database.execute_sql("ALTER TABLE patient ADD COLUMN note VARCHAR(100) DEFAULT ''")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION + 1, add_note_column)
    assert ensure_schema() == SCHEMA_VERSION + 1
    assert steps == ["2"] and SchemaMeta.get().version == SCHEMA_VERSION + 1
    assert Patient.select().count() == 1  # nothing lost
    assert "note" in [c.name for c in database.get_columns("patient")]


def test_a_newer_database_is_refused_with_a_clear_message(store):
    from kiosk.store.models import SchemaMeta

    SchemaMeta.update(version=SCHEMA_VERSION + 5).execute()
    with pytest.raises(SchemaError, match="upgrade kiosk"):
        ensure_schema()


def test_pin_key_file_is_private_and_stable(store, config):
    key_path = security.key_path_for(config.database)
    assert key_path.exists() and (key_path.stat().st_mode & 0o777) == 0o600
    first = security.current_key().digest("pin", "ABCDEFGHJK")
    assert security.load_or_create_key(key_path).digest("pin", "ABCDEFGHJK") == first
    assert "ABCDEFGHJK" not in first and len(first) == 64


def test_a_missing_key_is_an_error_when_not_allowed_to_create(tmp_path):
    with pytest.raises(security.SecretKeyError, match="missing"):
        security.load_or_create_key(tmp_path / "none.key", create=False)
