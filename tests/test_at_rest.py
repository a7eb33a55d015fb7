"""S11: no plain PIN at rest. Outbox bodies are sealed with a key outside the database and erased
when their PINs end; slip PDFs are deleted once printed or after printer.keep_minutes; the
database, its WAL and shm, the key and slips are readable by kiosk's user only."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import security
from kiosk.cli import main as cli_main
from kiosk.config import Config, PrinterConfig
from kiosk.messages import outbox
from kiosk.people.patients import family_for
from kiosk.registration.engine import IssueRequest, issue_pins, revoke_pin
from kiosk.slip import printing
from kiosk.slip.content import SlipData
from kiosk.store import files
from kiosk.store.db import close_database
from kiosk.store.models import OutboxMessage, Patient
from kiosk.store.practice import open_store

from conftest import NOW, TODAY


class Refusing:
    """A server that refuses for good (permanent) or for now."""

    def __init__(self, permanent: bool):
        self.permanent = permanent

    def send(self, message):
        raise outbox.SendFailure(
            "550 no such user" if self.permanent else "421 try later", permanent=self.permanent
        )

    def close(self):
        pass


def on_disk(config) -> bytes:
    """The database file, its WAL and its shm, as they are (no checkpoint first)."""
    base = Path(config.database)
    return b"".join(
        p.read_bytes() for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()
    )


def pin_forms(result) -> list[bytes]:
    return [
        form.encode()
        for p in result.pins
        for form in (p.pin, p.pin.replace("-", ""), p.pin.lower())
    ]


def in_files(config, result) -> list[bytes]:
    data = on_disk(config)
    return [form for form in pin_forms(result) if form in data]


def issue(front_desk, now=NOW):
    family = family_for(Patient.get(Patient.given_name == "Rosemary").id, today=TODAY)
    cindy = next(c for c in family.caregivers if c.name == "Cindy Testkiddo")
    request = IssueRequest(
        patient_ids=[c.id for c in family.children], recipient_id=cindy.id, email=cindy.email
    )
    return issue_pins(front_desk, request, now=now, today=TODAY)


def message(result) -> OutboxMessage:
    return OutboxMessage.get(OutboxMessage.message_id == result.message_id)


def test_s11_a_queued_message_holds_no_plain_pin_in_the_database_wal_or_shm(front_desk, config):
    result = issue(front_desk)

    assert in_files(config, result) == []
    row = message(result)
    assert row.body_text.startswith(security.SEALED) and row.body_html.startswith(security.SEALED)
    text, html = outbox.message_body(row)
    assert all(p.pin in text and p.pin in html for p in result.pins)  # the key file opens it


@pytest.mark.parametrize("permanent", [True, False])
def test_s11_a_failed_or_deferred_delivery_leaves_no_plain_pin(front_desk, config, permanent):
    result = issue(front_desk)

    report = outbox.deliver_due(Config(), now=NOW, senders={"email": Refusing(permanent)})

    assert (report.failed, report.deferred) == ((1, 0) if permanent else (0, 1))
    assert message(result).body_text  # kept, sealed, for Retry
    assert in_files(config, result) == []


@pytest.mark.parametrize("end", ["revoke", "replace"])
def test_s11_revoking_or_replacing_every_pin_erases_the_unsent_body_from_the_files(
    front_desk, config, end
):
    result = issue(front_desk)
    sealed = message(result).body_text.encode()
    assert sealed in on_disk(config)

    if end == "revoke":
        for issued in result.pins:
            revoke_pin(front_desk, issued.patient_id, now=NOW)
    else:
        issue(front_desk, now=NOW + dt.timedelta(minutes=1))

    row = message(result)
    assert (row.state, row.body_text, row.body_html) == ("failed", "", "")
    assert row.last_error == outbox.NO_LONGER_NEEDED
    data = on_disk(config)
    assert sealed not in data and sealed[8:40] not in data  # not in the file, not left in the WAL


def test_s11_one_pin_revoked_keeps_the_message_for_the_others(front_desk):
    result = issue(front_desk)
    revoke_pin(front_desk, result.pins[0].patient_id, now=NOW)
    assert message(result).state == "queued" and message(result).body_text


def test_s11_a_read_held_open_during_delivery_delays_the_wal_cut_to_the_next_run(
    front_desk, config
):
    result = issue(front_desk)
    sealed = message(result).body_text.encode()
    reader = sqlite3.connect(config.database)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM outbox_message").fetchone()  # another desk's snapshot

    assert outbox.deliver_due(Config(training=True), now=NOW).sent == 1
    assert (
        in_files(config, result) == []
    )  # the old pages kept for the reader hold only the sealed body

    reader.rollback()
    reader.close()
    outbox.deliver_due(Config(training=True), now=NOW)  # the next run finishes the cut
    assert Path(f"{config.database}-wal").stat().st_size == 0
    assert sealed[8:40] not in on_disk(config)


def test_s11_bodies_an_older_kiosk_left_in_plain_text_are_sealed_at_the_next_run(
    front_desk, config
):
    result = issue(front_desk)
    row = message(result)
    text, html = outbox.message_body(row)
    OutboxMessage.update(body_text=text, body_html=html).where(OutboxMessage.id == row.id).execute()
    assert in_files(config, result)

    assert outbox.seal_plain_bodies() == 1

    assert message(result).body_text.startswith(security.SEALED)
    assert outbox.message_body(message(result)) == (text, html)
    assert in_files(config, result) == []


def test_s11_a_body_moved_to_another_message_does_not_open(front_desk):
    result = issue(front_desk)
    sealed = message(result).body_text
    with pytest.raises(security.UnsealError):
        security.unseal(outbox.BODY_KEY, sealed, "<another@kiosk>")


@given(st.text(max_size=300), st.text(max_size=40))
def test_s11_seal_property_opens_to_the_same_text_and_never_shows_it(text, context):
    security.set_key(security.SecretKey(b"k" * 32))
    sealed = security.seal(outbox.BODY_KEY, text, context)
    assert security.unseal(outbox.BODY_KEY, sealed, context) == text
    assert sealed == "" if not text else sealed.startswith(security.SEALED)
    assert len(text) < 10 or text not in sealed  # a PIN's length: never seen in what is stored


def test_s11_a_body_sealed_by_an_earlier_kiosk_still_opens_and_a_short_one_is_refused():
    """AES-256-GCM laid out as nonce, ciphertext, tag: this one was sealed by the cryptography
    package an earlier kiosk used, so a queued outbox keeps working across the upgrade."""
    security.set_key(security.SecretKey(b"k" * 32))
    earlier = "aesgcm1:AAECAwQFBgcICQoLAYzUp8n35/luNmAiV1Q0VJ5PkFK/qGY7PpFDPtbMIQ=="
    assert security.unseal(outbox.BODY_KEY, earlier, "<1@kiosk>") == "PIN 7Q4-K2M-9XF"
    for broken in (earlier[:20], earlier[:-8] + "AAAAAAA="):
        with pytest.raises(security.UnsealError):
            security.unseal(outbox.BODY_KEY, broken, "<1@kiosk>")


def test_s11_d1_sealing_binds_pycryptodome_through_ctypes_not_cffi():
    """A fresh process seals and opens a text: PyCryptodome runs on ctypes, so neither cffi's
    binding nor pycparser (1.6 MiB a low-spec kiosk keeps for good) is loaded, and nothing is
    left in the way of whatever imports cffi later."""
    script = """
import json, sys
from kiosk import security
security.set_key(security.SecretKey(b"k" * 32))
sealed = security.seal("outbox", "PIN 7Q4-K2M-9XF", "<1@kiosk>")
opened = security.unseal("outbox", sealed, "<1@kiosk>")
from Crypto.Util import _raw_api
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("cffi", "pycparser"))
print(json.dumps([opened, _raw_api.backend, loaded]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == ["PIN 7Q4-K2M-9XF", "ctypes", []]


# -- files readable by kiosk's user only ----------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_s11_a_new_store_makes_its_files_0600_in_a_0700_folder(tmp_path):
    config = Config(database=str(tmp_path / "data" / "kiosk.sqlite3"))
    open_store(config)
    try:
        base = Path(config.database)
        made = [base, Path(f"{base}-wal"), Path(f"{base}-shm"), Path(f"{base}.key")]
        assert {p.name: mode(p) for p in made} == {p.name: 0o600 for p in made}
        assert mode(base.parent) == 0o700
    finally:
        close_database()


def test_s11_existing_loose_files_are_tightened_at_start_with_a_note(tmp_path, caplog):
    config = Config(database=str(tmp_path / "data" / "kiosk.sqlite3"))
    open_store(config)
    close_database()
    base = Path(config.database)
    for path in (base, Path(f"{base}.key")):
        path.chmod(0o644)
    base.parent.chmod(0o755)

    with caplog.at_level(logging.WARNING, logger="kiosk"):
        open_store(config)
    close_database()

    assert (mode(base), mode(Path(f"{base}.key")), mode(base.parent)) == (0o600, 0o600, 0o700)
    notes = [r.getMessage() for r in caplog.records]
    assert f"kiosk: file {base} was readable by others (644); now by this user only (600)" in notes
    assert len(notes) == 3 and all("\n" not in note for note in notes)


def test_s11_a_shared_folder_is_never_changed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    files.private_folder(shared)
    assert mode(shared) == 0o1777


# -- slip PDFs ------------------------------------------------------------------------------------

SLIP = SlipData(
    practice_name="Sunny Hills Pediatrics",
    portal_url="https://portal.example.org/register",
    patient_name="Rosemary Testkiddo",
    children=(("Rosemary Testkiddo", "JFKAY-TTJYV"),),
    expires_on=dt.date(2026, 12, 22),
    batch="b1b2c3d4e5f6a7b8",
)


def slip_config(tmp_path, **printer) -> Config:
    return Config(printer=PrinterConfig(output_dir=str(tmp_path / "slips"), **printer))


def test_s11_a_saved_slip_is_0600_and_deleted_after_keep_minutes(tmp_path):
    config = slip_config(tmp_path, keep_minutes=30)
    outcome = printing.print_slip(SLIP, config)
    path = outcome.pdf_path
    assert path is not None and mode(path) == 0o600 and mode(path.parent) == 0o700

    assert files.remove_old_slips(config, now=path.stat().st_mtime + 29 * 60) == 0 and path.exists()
    assert (
        files.remove_old_slips(config, now=path.stat().st_mtime + 30 * 60) == 1
        and not path.exists()
    )


def test_s11_the_next_print_and_the_next_outbox_run_remove_old_slips(tmp_path, store):
    config = slip_config(tmp_path, keep_minutes=0)
    first = printing.print_slip(SLIP, config).pdf_path
    second = printing.print_slip(replace(SLIP, batch="0123456789abcdef"), config).pdf_path
    assert not first.exists() and second.exists()  # keep_minutes 0: gone at the next print

    outbox.deliver_due(config, now=NOW)
    assert not second.exists()


def test_s11_a_saved_slip_is_deleted_once_its_batch_prints(tmp_path, monkeypatch):
    config = replace(
        slip_config(tmp_path),
        printer=PrinterConfig(name="desk", output_dir=str(tmp_path / "slips")),
    )
    answers = iter([(None, "Printer desk did not take the slip: out of paper."), ("desk-7", "")])
    monkeypatch.setattr(printing, "send_to_printer", lambda pdf, printer, title: next(answers))
    other = printing.save_pdf(b"%PDF", replace(SLIP, batch="ffffffffffffffff"), config)

    saved = printing.print_slip(SLIP, config).pdf_path
    assert saved.exists()
    assert printing.print_slip(SLIP, config).printed

    assert not saved.exists() and other.exists()  # only that batch's copy


def test_s11_training_slips_are_deleted_when_training_ends(tmp_path, monkeypatch):
    folder = tmp_path / "slips"
    monkeypatch.setenv("KIOSK_SLIP_DIR", str(folder))
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    real = folder / "slip-20261122-150000-aaaaaaaaaaaa.pdf"
    saved = []

    def start_app(config):
        folder.mkdir(parents=True, exist_ok=True)
        real.write_bytes(b"%PDF")
        saved.append(printing.print_slip(SLIP, config).pdf_path)
        assert saved[0].exists() and saved[0].name.startswith("training-slip-")

    assert cli_main(["--training"], start_app=start_app) == 0
    close_database()

    assert not saved[0].exists() and real.exists()


def test_s11_a_read_only_file_stays_read_only_when_tightened(tmp_path):
    path = tmp_path / "kiosk.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o444)
    assert (
        files.tighten(path)
        == f"kiosk: file {path} was readable by others (444); now by this user only (400)"
    )
    assert mode(path) == 0o400


def test_s11_a_key_file_in_a_new_folder_gets_a_0700_folder(tmp_path):
    config = Config(
        database=str(tmp_path / "kiosk.sqlite3"), pin_key_file=str(tmp_path / "keys" / "pin.key")
    )
    open_store(config)
    close_database()
    assert (mode(tmp_path / "keys"), mode(tmp_path / "keys" / "pin.key")) == (0o700, 0o600)
