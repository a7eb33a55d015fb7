"""The outbox without a mail server: writing, listing, retrying, and the sender interface (O3, S2)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.messages import outbox
from kiosk.messages.welcome import compose_welcome
from kiosk.store.db import database, write_transaction
from kiosk.store.models import OutboxMessage
from kiosk.terms import utcnow

WELCOME = compose_welcome(
    practice_name="Sunny Hills Pediatrics",
    portal_url="https://portal.example.org/register",
    children=[("Ava", "JFKAY-TTJYV")],
    expires_on=dt.date(2026, 12, 22),
)


def queue(**kwargs) -> str:
    args = {
        "batch": "b1",
        "channel": "email",
        "recipient": "cindy.testkiddo@example.com",
        "welcome": WELCOME,
    } | kwargs
    with write_transaction():
        return outbox.enqueue(**args)


class Recorder:
    """A Sender that keeps what it is given: the shape a future SMS provider would have."""

    def __init__(self, failure: outbox.SendFailure | None = None):
        self.sent: list[outbox.Outgoing] = []
        self.failure = failure
        self.closed = False

    def send(self, message):
        if self.failure:
            raise self.failure
        self.sent.append(message)
        return ""

    def close(self):
        self.closed = True


def test_o3_enqueue_writes_one_queued_message_with_a_stable_message_id(store):
    message_id = queue()
    row = OutboxMessage.get(OutboxMessage.message_id == message_id)
    assert (row.state, row.attempts, row.channel, row.recipient) == (
        "queued",
        0,
        "email",
        "cindy.testkiddo@example.com",
    )
    assert row.subject == WELCOME.subject and outbox.message_body(row) == (
        WELCOME.text,
        WELCOME.html,
    )
    assert message_id.startswith("<") and message_id.endswith("@kiosk>")
    assert queue() != message_id


def test_r7_a_text_message_stores_the_gateway_address_and_only_the_short_body(store):
    message_id = queue(channel="text", recipient="317.555.0101", carrier="verizon")
    row = OutboxMessage.get(OutboxMessage.message_id == message_id)
    assert row.recipient == "3175550101@vtext.com" and row.carrier == "verizon"
    assert outbox.message_body(row) == (WELCOME.sms, "") and row.body_html == ""


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"recipient": "not-an-address"}, "not an email address"),
        (
            {"channel": "text", "recipient": "3175550101", "carrier": "pigeon"},
            "needs the family's cell carrier",
        ),
        (
            {"channel": "text", "recipient": "555-0101", "carrier": "verizon"},
            "not a US cell number",
        ),
        ({"channel": "fax"}, "channel must be email or text"),
    ],
)
def test_o3_a_bad_recipient_rolls_back_the_whole_registration(store, kwargs, words):
    with pytest.raises(outbox.OutboxError, match=words):
        with write_transaction():
            OutboxMessage.create(
                message_id="<other@kiosk>", batch="b0", channel="email", recipient="a@b.co"
            )
            queue(**kwargs)
    assert OutboxMessage.select().count() == 0


def test_o3_the_front_desk_list_masks_the_recipient_and_carries_no_body(store):
    queue()
    queue(channel="text", recipient="(317) 555-0101", carrier="verizon", batch="b2")
    text, mail = outbox.list_messages()
    assert "body_text" not in {f.name for f in fields(outbox.MessageRow)}
    assert (mail.recipient, mail.state, mail.channel) == ("c***@example.com", "queued", "email")
    assert (text.recipient, text.carrier) == ("***-***-0101", "Verizon")
    assert outbox.list_messages(state="failed") == []
    assert [m.batch for m in outbox.list_messages(batch="b2")] == ["b2"]
    assert outbox.count_messages() == {"queued": 2, "sending": 0, "sent": 0, "failed": 0}
    with pytest.raises(outbox.OutboxError, match="state must be one of"):
        outbox.list_messages(state="lost")


@given(st.emails())
def test_s7_a_masked_email_shows_one_letter_and_the_domain(address):
    masked = outbox.mask_recipient("email", address)
    local, _, domain = address.rpartition("@")
    assert masked == f"{local[0]}***@{domain}"


def test_o3_a_sender_gets_the_message_and_a_delivered_one_is_erased(store):
    message_id = queue()
    recorder = Recorder()

    report = outbox.deliver_due(store_config(), senders={"email": recorder, "text": recorder})

    assert report.sent == 1 and recorder.closed
    [sent] = recorder.sent
    assert (sent.message_id, sent.recipient, sent.text, sent.html) == (
        message_id,
        "cindy.testkiddo@example.com",
        WELCOME.text,
        WELCOME.html,
    )
    row = OutboxMessage.get(OutboxMessage.message_id == message_id)
    assert (row.state, row.body_text, row.body_html, row.attempts) == ("sent", "", "", 1)
    with pytest.raises(outbox.OutboxError, match="already sent"):
        outbox.retry_message(row.id)


def test_o3_a_channel_with_no_sender_fails_with_the_reason(store):
    queue(channel="text", recipient="3175550101", carrier="googlefi")
    report = outbox.deliver_due(store_config(), senders={"email": Recorder()})
    assert report.failed == 1
    assert outbox.list_messages()[0].reason == "no way to send 'text' messages is set up"


def test_o3_without_a_mail_server_nothing_is_tried_and_nothing_is_lost(store):
    message_id = queue()
    report = outbox.deliver_due(store_config())
    assert report.problem == "no mail server is set up (smtp.host): messages stay queued"
    row = OutboxMessage.get(OutboxMessage.message_id == message_id)
    assert (row.state, row.attempts, outbox.message_body(row)[0]) == ("queued", 0, WELCOME.text)


def test_o3_nothing_due_opens_no_connection(store):
    assert outbox.deliver_due(store_config(), senders={}) == outbox.DeliveryReport()


def test_o3_retry_makes_a_failed_message_due_now_with_fresh_tries(store):
    message_id = queue()
    outbox.deliver_due(
        store_config(), senders={"email": Recorder(outbox.SendFailure("550 no", permanent=True))}
    )
    [failed] = outbox.list_messages(state="failed")
    assert (failed.attempts, failed.reason) == (1, "550 no")
    now = utcnow()

    again = outbox.retry_message(failed.id, now=now)

    assert (again.state, again.attempts, again.reason, again.next_attempt_at) == (
        "queued",
        0,
        "",
        now,
    )
    assert again.message_id == message_id
    with pytest.raises(outbox.OutboxError, match="no message 999"):
        outbox.retry_message(999)


def test_o3_retry_refuses_a_message_being_sent(store):
    queue()
    OutboxMessage.update(state="sending").execute()
    with pytest.raises(outbox.OutboxError, match="being sent right now"):
        outbox.retry_message(OutboxMessage.get().id)


def test_o3_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [outbox.backoff(n) for n in (1, 2, 3, 7, 8, 20)] == [
        dt.timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)
    ]


def test_o3_the_report_reads_as_a_sentence_for_the_cli():
    report = outbox.DeliveryReport(
        sent=2, deferred=1, failed=0, interrupted=1, problem="could not reach it"
    )
    assert report.summary() == (
        "2 sent, 1 to retry later, 0 failed, 1 interrupted (check with the family, then "
        "retry). Stopped: could not reach it"
    )


def test_s2_sqlite_overwrites_what_it_deletes(store):
    assert database.execute_sql("PRAGMA secure_delete").fetchone()[0] == 1


def test_startup_modules_do_not_load_the_mail_libraries():
    code = (
        "import sys, kiosk.messages.outbox, kiosk.messages.welcome, kiosk.messages.carriers, kiosk.people.contact; "
        "print(sorted(m for m in ('smtplib', 'email.message', 'kiosk.messages.mail') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def store_config():
    from kiosk.config import Config

    return Config()
