"""Delivering welcome messages through a real SMTP server on loopback (O3, R6, R7, S2, S7)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
from dataclasses import replace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kiosk import audit, security
from kiosk.config import SmtpConfig
from kiosk.messages import outbox
from kiosk.messages.welcome import compose_welcome
from kiosk.registration.pins import format_pin, generate_pin
from kiosk.store.db import write_transaction
from kiosk.store.models import AuditEvent, OutboxMessage, Patient, RegistrationPin, Staff
from kiosk.store.practice import practice_settings
from kiosk.terms import MessageState, utcnow

URL = "https://portal.example.org/register"
EXPIRES = dt.date(2026, 12, 22)
USER, PASSWORD = "frontdesk", "s3cret-pass"


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses the addresses it is told to."""

    def __init__(self):
        self.received: list = []
        self.replies: dict[str, str] = {}  # address -> SMTP reply to its RCPT TO

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            (
                envelope.rcpt_tos[:],
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A real SMTP server the test can start and stop on a fixed loopback port."""

    def __init__(self, port: int, auth: bool = False):
        self.port, self.auth, self.inbox, self._controller = port, auth, Inbox(), None

    def start(self) -> Server:
        extra = (
            {"authenticator": _authenticator, "auth_required": True, "auth_require_tls": False}
            if self.auth
            else {}
        )
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **extra)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self):
        return self.inbox.received


@pytest.fixture
def server():
    running = Server(free_port()).start()
    yield running
    running.stop()


@pytest.fixture
def auth_server():
    running = Server(free_port(), auth=True).start()
    yield running
    running.stop()


def smtp_config(config, port: int, **smtp):
    return replace(
        config,
        smtp=SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="none",
            sender="portal@sunnyhills.example",
            timeout_seconds=5,
            **smtp,
        ),
    )


def queue(
    children,
    *,
    to="cindy.testkiddo@example.com",
    channel="email",
    carrier="",
    language="en",
    batch="b1",
):
    welcome = compose_welcome(
        practice_name="Sunny Hills Pediatrics",
        portal_url=URL,
        children=children,
        expires_on=EXPIRES,
        language=language,
    )
    with write_transaction():
        return outbox.enqueue(
            batch=batch,
            channel=channel,
            recipient=to,
            welcome=welcome,
            language=language,
            carrier=carrier,
        )


def row(message_id: str) -> OutboxMessage:
    return OutboxMessage.get(OutboxMessage.message_id == message_id)


def issue_family(
    children: list[Patient], batch: str, expires_at: dt.datetime | None = None
) -> list[tuple[str, str]]:
    """What the registration engine does for the PINs: plain PINs in hand, only hashes stored.

    By default the PINs expire 30 days from the real now, because these tests deliver on the real clock."""
    issuer = Staff.get(Staff.username == "maria")
    issued = []
    with write_transaction():
        for child in children:
            pin = generate_pin()
            RegistrationPin.create(
                patient=child,
                batch=batch,
                pin_hash=security.current_key().digest("pin", pin),
                issued_by=issuer,
                expires_at=expires_at or utcnow() + dt.timedelta(days=30),
            )
            issued.append((child.given_name, format_pin(pin)))
    return issued


# ---------------------------------------------------------------- what the parent receives


def test_r6_the_family_gets_one_email_with_every_pin_and_no_dob_or_chart_number(
    training, server, config
):
    kids = list(
        Patient.select().where(Patient.family_name == "Testkiddo").order_by(Patient.chart_number)
    )
    assert len(kids) >= 2
    children = issue_family(kids, "family-1")
    message_id = queue(children, batch="family-1")

    report = outbox.deliver_due(smtp_config(config, server.port))

    assert (report.sent, report.failed, report.deferred) == (1, 0, 0)
    [(envelope_to, message)] = server.received
    assert envelope_to == ["cindy.testkiddo@example.com"]
    assert message["To"] == "cindy.testkiddo@example.com"
    assert message["From"].addresses[0].display_name == practice_settings().name
    assert message["From"].addresses[0].addr_spec == "portal@sunnyhills.example"
    assert message["Subject"] == "Sunny Hills Pediatrics: your patient portal registration"
    assert message["Message-ID"] == message_id
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message.get_content_type() == "multipart/alternative"
    for name, pin in children:
        assert f"{name}: {pin}" in text
        assert pin in html and name in html
    for kid in kids:
        for written in (
            kid.chart_number,
            kid.dob.isoformat(),
            f"{kid.dob:%m/%d/%Y}",
            f"{kid.dob:%B} {kid.dob.day}",
        ):
            assert written not in text and written not in html and written not in message["Subject"]
    assert row(message_id).state == MessageState.SENT


def test_r7_a_text_message_goes_to_the_carrier_gateway_with_the_short_body(store, server, config):
    message_id = queue(
        [("Ava", "JFKAY-TTJYV")], to="(317) 555-0101", channel="text", carrier="googlefi"
    )

    assert outbox.deliver_due(smtp_config(config, server.port)).sent == 1

    [(envelope_to, message)] = server.received
    assert envelope_to == ["3175550101@msg.fi.google.com"]
    assert message["Subject"] is None and message.get_content_type() == "text/plain"
    body = message.get_content().strip()
    assert (
        body
        == f"Sunny Hills Pediatrics portal PIN: Ava JFKAY-TTJYV. Register at {URL} by December 22, 2026."
    )
    assert message["Message-ID"] == message_id


def test_r6_spanish_family_gets_the_spanish_message(store, server, config):
    queue(
        [("Sofía", "JFKAY-TTJYV"), ("Mateo", "ABCDE-FGHJK")],
        to="ana.nunez@example.com",
        language="es",
    )

    outbox.deliver_due(smtp_config(config, server.port))

    [(_, message)] = server.received
    assert message["Subject"] == "Sunny Hills Pediatrics: su registro en el portal de pacientes"
    assert message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()
    assert "Sofía: JFKAY-TTJYV" in text and "Los PIN vencen el 22 de diciembre de 2026." in text


# ---------------------------------------------------------------- outages and refusals (O3)


def test_o3_server_down_keeps_every_message_queued_and_delivers_them_when_it_returns(store, config):
    down = Server(free_port())  # nothing listens on this port yet
    cfg = smtp_config(config, down.port)
    ids = [
        queue([(f"Kid{i}", format_pin(generate_pin()))], to=f"parent{i}@example.com")
        for i in range(3)
    ]
    t0 = utcnow()

    report = outbox.deliver_due(cfg, now=t0)

    assert report.sent == 0 and report.deferred == 1
    assert "could not reach the mail server 127.0.0.1" in report.problem
    assert [row(i).state for i in ids] == ["queued"] * 3
    first = row(ids[0])
    assert first.attempts == 1 and first.next_attempt_at == t0 + dt.timedelta(minutes=1)
    assert "could not reach the mail server" in first.last_error
    assert [row(i).attempts for i in ids[1:]] == [
        0,
        0,
    ]  # the run stopped: the others kept their tries
    assert (
        outbox.deliver_due(cfg, now=t0 + dt.timedelta(seconds=30)).deferred == 1
    )  # the next one due
    assert row(ids[0]).attempts == 1  # not due yet: not tried

    down.start()
    try:
        report = outbox.deliver_due(cfg, now=t0 + dt.timedelta(hours=1))
    finally:
        down.stop()

    assert report.sent == 3 and report.problem == ""
    assert sorted(to for [to], _ in down.received) == [
        "parent0@example.com",
        "parent1@example.com",
        "parent2@example.com",
    ]
    assert [row(i).state for i in ids] == ["sent"] * 3


def test_o3_login_refused_fails_the_message_with_the_reason_for_the_front_desk(
    store, auth_server, config
):
    first = queue([("Ava", "JFKAY-TTJYV")])
    second = queue([("Ben", "ABCDE-FGHJK")], to="jeff@example.com")
    wrong = smtp_config(config, auth_server.port, username=USER, password="wrong")

    report = outbox.deliver_due(wrong)

    assert report.failed == 1 and "refused kiosk's login (535" in report.problem
    [failed] = outbox.list_messages(state="failed")
    assert failed.message_id == first
    assert "535" in failed.reason and "check smtp.username and smtp.password" in failed.reason
    assert (
        row(second).state == "queued" and row(second).attempts == 0
    )  # one bad login, not one per message
    assert auth_server.received == []
    event = AuditEvent.select().where(AuditEvent.action == audit.SEND_FAILED).get()
    assert "535" in json.loads(event.detail)["reason"]

    right = smtp_config(config, auth_server.port, username=USER, password=PASSWORD)
    outbox.retry_message(failed.id)
    assert outbox.deliver_due(right).sent == 2
    assert len(auth_server.received) == 2


def test_o3_a_refused_address_fails_that_message_and_the_others_still_go(store, server, config):
    server.inbox.replies["nobody@example.com"] = "550 5.1.1 No such user"
    refused = queue([("Ava", "JFKAY-TTJYV")], to="nobody@example.com")
    fine = queue([("Ben", "ABCDE-FGHJK")], to="jeff@example.com")

    report = outbox.deliver_due(smtp_config(config, server.port))

    assert (report.sent, report.failed) == (1, 1)
    assert row(refused).state == "failed"
    assert row(refused).last_error == "the mail server refused the address (550 5.1.1 No such user)"
    assert row(fine).state == "sent"


def test_o3_a_temporary_refusal_backs_off_then_gives_up_after_the_last_try(store, server, config):
    server.inbox.replies["busy@example.com"] = "451 4.3.0 Try again later"
    message_id = queue([("Ava", "JFKAY-TTJYV")], to="busy@example.com")
    cfg, t = smtp_config(config, server.port), utcnow()
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        assert outbox.deliver_due(cfg, now=t).deferred == 1
        message = row(message_id)
        assert (message.state, message.attempts) == ("queued", attempt)
        waits.append(message.next_attempt_at - t)
        t = message.next_attempt_at

    report = outbox.deliver_due(cfg, now=t)

    assert waits[:4] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(waits) == dt.timedelta(hours=1)
    assert report.failed == 1
    assert row(message_id).state == "failed"
    assert row(message_id).last_error.startswith(
        f"gave up after {outbox.MAX_ATTEMPTS} tries: the mail server refused"
    )


# ---------------------------------------------------------------- never sent twice by accident


class Crash(BaseException):
    """kiosk stopping dead (power cut, kill -9) between the server's 250 and the database write."""


class CrashAfterSending:
    def __init__(self, real):
        self.real = real

    def send(self, message):
        self.real.send(message)
        raise Crash

    def close(self):
        self.real.close()


def test_o3_a_message_left_sending_by_a_crash_is_not_resent_but_shown_to_staff(
    store, server, config
):
    from kiosk.messages.mail import smtp_senders

    message_id = queue([("Ava", "JFKAY-TTJYV")])
    cfg, t0 = smtp_config(config, server.port), utcnow()
    crashing = {
        "email": CrashAfterSending(
            smtp_senders(cfg.smtp, practice_name="Sunny Hills Pediatrics")["email"]
        )
    }
    with pytest.raises(Crash):
        outbox.deliver_due(cfg, now=t0, senders=crashing)
    assert len(server.received) == 1
    assert (row(message_id).state, row(message_id).attempts) == ("sending", 1)

    # Within the lease another run may still be sending it: leave it alone.
    soon = outbox.deliver_due(cfg, now=t0 + dt.timedelta(minutes=1))
    assert soon.interrupted == 0 and row(message_id).state == "sending"

    later = outbox.deliver_due(cfg, now=t0 + outbox.SENDING_LEASE + dt.timedelta(seconds=1))
    assert later.interrupted == 1 and later.sent == 0
    assert len(server.received) == 1  # not sent again behind anyone's back
    [shown] = outbox.list_messages(state="failed")
    assert shown.reason.startswith(
        "interrupted while sending: it may have been sent. Check with the family"
    )

    outbox.retry_message(shown.id)  # staff checked: the family did not get it
    assert outbox.deliver_due(cfg, now=t0 + dt.timedelta(minutes=20)).sent == 1
    first, second = (message for _, message in server.received)
    assert (
        first["Message-ID"] == second["Message-ID"] == message_id
    )  # the same message, recognisably


# ---------------------------------------------------------------- S2: nothing to steal afterwards


def _database_bytes(config) -> bytes:
    from pathlib import Path

    path = Path(config.database)
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )


def test_s2_the_body_is_erased_once_sent_and_no_plain_pin_is_left_in_the_database_file(
    training, server, config
):
    kids = list(Patient.select().where(Patient.family_name == "Núñez-García"))
    children = issue_family(kids, "family-2")
    message_id = queue(children, batch="family-2", language="es")
    pins = [pin for _, pin in children] + [pin.replace("-", "") for _, pin in children]
    assert not any(
        pin.encode() in _database_bytes(config) for _, pin in children
    )  # sealed while queued (S11)

    assert outbox.deliver_due(smtp_config(config, server.port)).sent == 1

    message = row(message_id)
    assert (message.body_text, message.body_html) == ("", "")
    assert message.subject and message.sent_at is not None
    on_disk = _database_bytes(config)
    for pin in pins:
        assert pin.encode() not in on_disk and pin.encode("utf-16-le") not in on_disk


def test_s5_sending_is_audited_for_each_child_without_the_pin(training, server, config):
    kids = list(Patient.select().where(Patient.family_name == "Testkiddo"))
    children = issue_family(kids, "family-3")
    message_id = queue(children, batch="family-3")

    outbox.deliver_due(smtp_config(config, server.port))

    events = list(AuditEvent.select().where(AuditEvent.action == audit.SEND))
    assert sorted(e.patient_id for e in events) == sorted(k.id for k in kids)
    for event in events:
        detail = json.loads(event.detail)
        assert detail["message_id"] == message_id and detail["to"] == "c***@example.com"
        for _, pin in children:
            assert pin not in event.detail and pin.replace("-", "") not in event.detail
    assert audit.verify_chain() == []


# ---------------------------------------------------------------- O2: training sends nothing


def test_o2_training_mode_sends_nothing_and_says_so(store, server, config):
    message_id = queue([("Ava", "JFKAY-TTJYV")])

    report = outbox.deliver_due(replace(smtp_config(config, server.port), training=True))

    assert report.sent == 1 and server.received == []
    message = row(message_id)
    assert (message.state, message.last_error, message.body_text) == (
        "sent",
        "training: not sent",
        "",
    )
    assert outbox.list_messages()[0].reason == "training: not sent"


# ---------------------------------------------------------------- settings and several senders at once


def test_o3_starttls_asked_of_a_server_without_it_fails_with_the_setting_to_check(
    store, server, config
):
    message_id = queue([("Ava", "JFKAY-TTJYV")])
    cfg = replace(
        smtp_config(config, server.port),
        smtp=replace(smtp_config(config, server.port).smtp, security="starttls"),
    )

    report = outbox.deliver_due(cfg)

    assert report.failed == 1 and server.received == []
    assert "does not offer what smtp.security asks for" in row(message_id).last_error


def test_o1_two_desks_delivering_at_once_send_each_message_exactly_once(store, server, config):
    import threading

    from kiosk.store.db import database

    ids = [
        queue([(f"Kid{i}", format_pin(generate_pin()))], to=f"parent{i}@example.com")
        for i in range(12)
    ]
    cfg, reports = smtp_config(config, server.port), []

    def desk():
        try:
            reports.append(outbox.deliver_due(cfg))
        finally:
            database.close()  # each thread's own connection

    desks = [threading.Thread(target=desk) for _ in range(3)]
    for thread in desks:
        thread.start()
    for thread in desks:
        thread.join()

    assert sum(r.sent for r in reports) == 12
    assert sorted(m["Message-ID"] for _, m in server.received) == sorted(ids)
    assert {row(i).state for i in ids} == {"sent"}
