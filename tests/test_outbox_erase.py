"""S2: an unsent welcome message is erased once the PINs it carries have all ended (O3)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kiosk import audit
from kiosk.config import Config
from kiosk.messages import outbox
from kiosk.store.models import AuditEvent, Patient, RegistrationPin
from kiosk.terms import MessageState, PinState, utcnow

from test_outbox_smtp import _database_bytes, issue_family, queue, row

# The PINs issued here expire 30 days from the real now (messages are queued on the real clock).
EXPIRY = utcnow().replace(microsecond=0) + dt.timedelta(days=30)
BEFORE, AFTER = EXPIRY - dt.timedelta(days=1), EXPIRY + dt.timedelta(seconds=1)


class Refusing:
    """A Sender whose server refuses every address for good: the message fails and keeps its body."""

    def __init__(self):
        self.tried = 0

    def send(self, message):
        self.tried += 1
        raise outbox.SendFailure(
            "the mail server refused the address (550 5.1.1 No such user)", permanent=True
        )

    def close(self):
        pass


@pytest.fixture
def family(training):
    """The Testkiddo children with PINs issued in batch "family-1", and their queued message."""
    kids = list(
        Patient.select().where(Patient.family_name == "Testkiddo").order_by(Patient.chart_number)
    )
    children = issue_family(kids, "family-1", EXPIRY)
    return queue(children, batch="family-1"), children


def end_pins(batch: str, *states: str) -> None:
    pins = list(
        RegistrationPin.select().where(RegistrationPin.batch == batch).order_by(RegistrationPin.id)
    )
    for pin, state in zip(pins, states):
        RegistrationPin.update(state=state).where(RegistrationPin.id == pin.id).execute()


def plain_pins(children) -> list[bytes]:
    return [form.encode() for _, pin in children for form in (pin, pin.replace("-", ""))]


def test_s2_a_queued_message_whose_pins_all_ended_is_failed_erased_and_audited_once(family, config):
    message_id, children = family
    end_pins("family-1", PinState.REPLACED, PinState.REVOKED, PinState.REDEEMED)
    assert outbox.message_body(row(message_id))[0]  # the body is there, sealed (S11)

    assert outbox.erase_stale_bodies(BEFORE) == 1

    message = row(message_id)
    assert (message.state, message.body_text, message.body_html) == ("failed", "", "")
    assert message.last_error == "no longer needed: the PINs it carried have ended"
    [event] = AuditEvent.select().where(AuditEvent.action == audit.MESSAGE_ERASED)
    detail = json.loads(event.detail)
    assert (detail["message_id"], detail["batch"], detail["to"]) == (
        message_id,
        "family-1",
        "c***@example.com",
    )
    assert all(pin.decode() not in event.detail for pin in plain_pins(children))
    on_disk = _database_bytes(config)
    assert [pin for pin in plain_pins(children) if pin in on_disk] == []
    assert outbox.erase_stale_bodies(BEFORE) == 0  # once only
    assert audit.verify_chain() == []


def test_s2_a_failed_message_keeps_its_body_for_retry_until_its_pins_expire(family, config):
    message_id, children = family
    refusing = Refusing()
    assert outbox.deliver_due(Config(), now=BEFORE, senders={"email": refusing}).failed == 1
    assert row(message_id).body_text  # Retry can still send it

    assert outbox.erase_stale_bodies(EXPIRY - dt.timedelta(seconds=1)) == 0
    assert outbox.erase_stale_bodies(AFTER) == 1

    message = row(message_id)
    assert (message.state, message.body_text, message.body_html) == ("failed", "", "")
    assert (
        message.last_error == "the mail server refused the address (550 5.1.1 No such user)"
    )  # why it failed
    with pytest.raises(
        outbox.OutboxError, match="no longer needed: the PINs it carried have ended; issue new PINs"
    ):
        outbox.retry_message(message.id, now=AFTER)
    assert [pin for pin in plain_pins(children) if pin in _database_bytes(config)] == []


def test_s2_one_pin_still_active_keeps_the_message(family):
    message_id, _ = family
    end_pins("family-1", PinState.REVOKED)  # the others are still active and unexpired

    assert outbox.erase_stale_bodies(BEFORE) == 0
    assert (row(message_id).state, row(message_id).body_text != "") == ("queued", True)


def test_s2_delivery_erases_first_and_never_sends_a_message_whose_pins_ended(family):
    message_id, _ = family
    refusing = Refusing()

    report = outbox.deliver_due(Config(), now=AFTER, senders={"email": refusing})

    assert (report.erased, report.sent, report.failed, refusing.tried) == (1, 0, 0, 0)
    assert report.summary() == "0 sent, 0 to retry later, 0 failed, 1 no longer needed (erased)"
    assert (row(message_id).state, row(message_id).body_text) == ("failed", "")


def test_s2_sent_and_sending_messages_are_not_touched(family):
    message_id, _ = family
    outbox.deliver_due(Config(training=True), now=BEFORE)  # training: marked sent, body erased
    other = queue([("Ava", "JFKAY-TTJYV")], batch="family-1", to="jeff@example.com")
    row_other = row(other)
    row_other.state = MessageState.SENDING
    row_other.save()

    assert outbox.erase_stale_bodies(AFTER) == 0
    assert (row(message_id).state, row(message_id).last_error) == ("sent", outbox.TRAINING_NOTE)
    assert row(other).state == "sending" and row(other).body_text
