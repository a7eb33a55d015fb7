"""Text messages through an SMS provider's HTTP API (I2), against a local server that answers as
Twilio's Messages API documents: the send, the read-back, the status callback, and each failure
(401, 429 with Retry-After, 5xx, a timeout, a refused number). No network: loopback only."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import re
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from kiosk import audit
from kiosk.config import Config, ConfigError, SmsConfig, config_from_mapping
from kiosk.messages import outbox, sms
from kiosk.messages.welcome import compose_welcome
from kiosk.registration.engine import IssueRequest
from kiosk.store.db import write_transaction
from kiosk.store.models import AuditEvent, OutboxMessage

from conftest import NOW, desk, find_patient
from test_portal_api import run_server
from test_postgres import pg_store

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "f00dfacef00dfacef00dfacef00dface"
WELCOME = compose_welcome(
    practice_name="Sunny Hills Pediatrics",
    portal_url="https://portal.example.org/register",
    children=[("Ava", "JFKAY-TTJYV")],
    expires_on=dt.date(2026, 12, 22),
)
CALLBACK = "https://kiosk.example.org/sms/status"


class Provider:
    """The provider's documented endpoints (send, read back, the list, the account) on a loopback
    port. ``script`` holds the next answers
    to a send, each (status, JSON body, headers, seconds to wait first); empty: 201 and a new SID;
    a body of None: the message is taken as usual and the answer waits (accepted, then a timeout).
    ``messages`` is each accepted message's current state, which a test changes as the carrier
    would after the send."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.script: list[tuple[int, dict, dict[str, str], float]] = []
        self.messages: dict[str, dict] = {}
        self.account = {
            "sid": SID,
            "friendly_name": "Sunny Hills",
            "status": "active",
            "type": "Full",
        }
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                provider.answer(self, "POST")

            def do_GET(self):
                provider.answer(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(handler.rfile.read(length).decode())) if length else {}
        path, _, query = handler.path.partition("?")
        self.requests.append((method, path, dict(handler.headers), form or dict(parse_qsl(query))))
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        base = f"/2010-04-01/Accounts/{SID}/Messages"
        if handler.headers.get("Authorization") != expected:
            status, body, headers, wait = 401, _error(20003, "Authenticate", 401), {}, 0.0
        elif method == "POST" and path == f"{base}.json" and self.script and self.script[0][1]:
            status, body, headers, wait = self.script.pop(0)
        elif method == "POST" and path == f"{base}.json":
            wait = self.script.pop(0)[3] if self.script else 0.0
            sid = f"SM{len(self.messages):032x}"
            self.messages[sid] = {"sid": sid, "status": "queued", "to": form.get("To"),
                                  "from": form.get("From"), "body": form.get("Body"),
                                  "direction": "outbound-api", "error_code": None,
                                  "error_message": None,
                                  "date_created": email.utils.formatdate(usegmt=True)}  # fmt: skip
            status, body, headers = 201, self.messages[sid], {}
        elif method == "GET" and path == f"{base}.json":  # the list: newest first, filtered
            asked = dict(parse_qsl(query))
            found = [m for m in reversed(self.messages.values())
                     if all(m[key.lower()] == asked[key] for key in ("To", "From") if key in asked)]  # fmt: skip
            size = int(asked.get("PageSize", 50))
            more = f"{base}.json?Page=1" if len(found) > size else None
            status, body, headers, wait = (
                200,
                {"messages": found[:size], "next_page_uri": more},
                {},
                0.0,
            )
        elif method == "GET" and path == f"/2010-04-01/Accounts/{SID}.json":
            status, body, headers, wait = 200, self.account, {}, 0.0
        elif method == "GET" and (sid := re.fullmatch(rf"{base}/(SM\w+)\.json", path)):
            status, body, headers, wait = 200, self.messages[sid[1]], {}, 0.0
        else:
            status, body, headers, wait = 404, _error(20404, "Not found", 404), {}, 0.0
        time.sleep(wait)
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up waiting (the timeout test)
            pass

    def sends(self) -> list[dict[str, str]]:
        return [form for method, _, _, form in self.requests if method == "POST"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}  # fmt: skip


@pytest.fixture
def provider():
    server = Provider()
    yield server
    server.close()


def sms_config(provider: Provider, **changes) -> Config:
    settings = SmsConfig(
        account_sid=SID,
        auth_token=TOKEN,
        from_number="+13175550100",
        base_url=provider.url,
        status_callback=CALLBACK,
        timeout_seconds=5,
    )
    return Config(sms=replace(settings, **changes))


def queue_text(batch: str = "b1", cell: str = "(317) 555-0101") -> str:
    with write_transaction():
        return outbox.enqueue(batch=batch, channel="text", recipient=cell, welcome=WELCOME, now=NOW)


def row(message_id: str) -> OutboxMessage:
    return OutboxMessage.get(OutboxMessage.message_id == message_id)


def test_i2_a_text_is_posted_to_the_provider_exactly_as_documented(store, provider):
    message_id = queue_text()
    report = outbox.deliver_due(sms_config(provider), now=NOW)
    assert report.sent == 1 and report.problem == ""
    [(method, path, headers, form)] = provider.requests[:1]
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
    assert (
        headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {
        "To": "+13175550101",
        "From": "+13175550100",
        "Body": WELCOME.sms,
        "StatusCallback": CALLBACK,
    }
    sent = row(message_id)
    assert (sent.state, sent.provider_id, sent.delivery) == ("sent", "SM" + "0" * 32, "queued")
    assert sent.last_error == "sent to the SMS provider: waiting for delivery"
    assert outbox.list_messages()[0].recipient == "***-***-0101"


def test_i2_a_messaging_service_is_sent_instead_of_a_from_number(store, provider):
    queue_text()
    outbox.deliver_due(
        sms_config(provider, from_number="", messaging_service_sid="MG0123456789abcdef"), now=NOW
    )
    [form] = provider.sends()
    assert form["MessagingServiceSid"] == "MG0123456789abcdef" and "From" not in form


def test_i2_delivery_read_back_after_the_send_marks_the_text_delivered(store, provider):
    message_id = queue_text()
    config = sms_config(provider)
    outbox.deliver_due(config, now=NOW)
    sid = row(message_id).provider_id
    assert outbox.deliver_due(config, now=NOW).delivered == 0  # still queued at the carrier
    provider.messages[sid]["status"] = "delivered"  # the carrier's report arrives later
    report = outbox.deliver_due(config, now=NOW + dt.timedelta(minutes=1))
    assert report.delivered == 1 and "1 texts delivered" in report.summary()
    assert provider.requests[-1][:2] == ("GET", f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
    done = row(message_id)
    assert (done.state, done.delivery, done.last_error) == ("sent", "delivered", "delivered")
    assert done.body_text == "" and done.body_html == ""  # S2: delivered, so erased
    asked = len(provider.requests)
    outbox.deliver_due(config, now=NOW + dt.timedelta(minutes=2))
    assert len(provider.requests) == asked  # a final status is not asked for again


@pytest.mark.parametrize("backend", ["store", "pg_store"])  # SQLite, PostgreSQL
def test_i2_s2_a_text_that_did_not_arrive_fails_and_retry_sends_the_same_pins(
    request, backend, provider
):
    request.getfixturevalue(backend)
    message_id = queue_text()
    config = sms_config(provider)
    outbox.deliver_due(config, now=NOW)
    sid = row(message_id).provider_id
    provider.messages[sid].update(
        status="undelivered", error_code=30003, error_message="Unreachable destination handset"
    )
    report = outbox.deliver_due(config, now=NOW + dt.timedelta(minutes=5))
    assert report.undelivered == 1
    failed = outbox.list_messages()[0]
    assert failed.state == "failed" and failed.reason.startswith(
        "the text did not arrive (undelivered: error 30003, Unreachable destination handset)"
    )
    assert AuditEvent.select().where(AuditEvent.action == audit.SEND_FAILED).exists()
    # S2: it was never delivered, so its sealed words are still there: no new PINs needed
    outbox.retry_message(failed.id, now=NOW + dt.timedelta(minutes=6))
    again = outbox.deliver_due(config, now=NOW + dt.timedelta(minutes=6))
    first, second = provider.sends()
    assert again.sent == 1 and second["Body"] == first["Body"] == WELCOME.sms
    resent = row(message_id)
    assert resent.state == "sent" and resent.provider_id not in ("", sid)
    provider.messages[resent.provider_id]["status"] = "delivered"
    outbox.deliver_due(config, now=NOW + dt.timedelta(minutes=7))
    assert row(message_id).body_text == ""  # delivered: erased


def test_s2_s11_a_text_on_its_way_is_kept_sealed_and_erased_once_delivered(store, config, provider):
    from kiosk import security

    message_id = queue_text()
    outbox.deliver_due(sms_config(provider), now=NOW)
    waiting = row(message_id)
    assert waiting.state == "sent" and waiting.body_text.startswith(security.SEALED)  # S11
    files = [Path(config.database), Path(config.database + "-wal")]
    at_rest = b"".join(f.read_bytes() for f in files if f.exists())
    assert b"JFKAY" not in at_rest and b"TTJYV" not in at_rest  # never in plain words
    sid = waiting.provider_id
    assert _reported(sid, "delivered") == "delivered"
    assert row(message_id).body_text == ""


def _reported(sid: str, status: str) -> str:
    """The provider's word as the status callback would bring it."""
    return outbox.record_delivery(sid, status, now=NOW + dt.timedelta(minutes=1))


def test_s2_s11_a_text_with_no_report_is_erased_after_the_read_back_days(store, provider):
    message_id = queue_text()
    outbox.deliver_due(sms_config(provider), now=NOW)
    assert row(message_id).body_text  # on its way
    assert outbox.erase_stale_bodies(NOW + dt.timedelta(days=outbox.READ_BACK_DAYS - 1)) == 0
    assert outbox.erase_stale_bodies(NOW + dt.timedelta(days=outbox.READ_BACK_DAYS, hours=1)) == 1
    kept = row(message_id)
    assert (kept.state, kept.body_text, kept.body_html) == ("sent", "", "")
    assert AuditEvent.select().where(AuditEvent.action == audit.MESSAGE_ERASED).exists()


def test_s11_a_text_on_its_way_is_erased_when_its_pins_are_revoked(front_desk, config, provider):
    front = desk(replace(config, sms=sms_config(provider).sms), staff=front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    caregiver = next(c for c in front.family(rosemary.id).caregivers if c.has_authority)
    result = front.issue(
        IssueRequest([rosemary.id], recipient_id=caregiver.id, delivery="text", cell="3175550101")
    )
    assert front.deliver_outbox().sent == 1 and row(result.message_id).body_text
    assert front.revoke(rosemary.id, "the family asked for a new one")
    gone = row(result.message_id)
    assert (gone.state, gone.body_text) == ("sent", "")  # S11: erased by the revoke itself


def test_i2_401_is_a_configuration_error_that_stops_the_run_and_never_shows_the_token(
    store, provider
):
    first, second = queue_text("b1"), queue_text("b2")
    report = outbox.deliver_due(sms_config(provider, auth_token="wrong-token-123"), now=NOW)
    assert report.failed == 1 and report.sent == 0
    assert "refused kiosk's credentials (401, code 20003: Authenticate)" in report.problem
    assert "check sms.account_sid and sms.auth_token" in report.problem
    assert row(first).state == "failed"  # not retried forever
    assert (row(second).state, row(second).attempts) == ("queued", 0)  # the run stopped
    assert len(provider.sends()) == 1
    shown = report.summary() + " ".join(m.reason for m in outbox.list_messages())
    assert "wrong-token-123" not in shown and TOKEN not in shown


def test_i2_429_waits_at_least_as_long_as_retry_after_asks(store, provider):
    first, second = queue_text("b1"), queue_text("b2")
    provider.script.append(
        (429, _error(20429, "Too Many Requests", 429), {"Retry-After": "300"}, 0)
    )
    report = outbox.deliver_due(sms_config(provider), now=NOW)
    assert report.deferred == 1 and "busy (429, code 20429" in report.problem
    waiting = row(first)
    assert waiting.state == "queued" and waiting.next_attempt_at == NOW + dt.timedelta(minutes=5)
    assert row(second).attempts == 0
    report = outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=5))
    assert report.sent == 2


def test_i2_a_server_error_is_tried_again_with_the_outbox_backoff(store, provider):
    message_id = queue_text()
    provider.script.append((503, _error(20500, "Service Unavailable", 503), {}, 0))
    report = outbox.deliver_due(sms_config(provider), now=NOW)
    waiting = row(message_id)
    assert report.deferred == 1 and waiting.state == "queued"
    assert waiting.maybe_sent  # O3: a 5xx after the post says nothing of whether it was taken
    assert waiting.next_attempt_at == NOW + outbox.backoff(1)
    assert waiting.last_error.endswith("will try again") and "503" in waiting.last_error
    assert outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=1)).sent == 1


def test_i2_a_provider_that_does_not_answer_in_time_is_tried_again(store, provider):
    message_id = queue_text()
    provider.script.append((201, {"sid": "SMlate", "status": "queued"}, {}, 2.0))
    report = outbox.deliver_due(sms_config(provider, timeout_seconds=0.3), now=NOW)
    waiting = row(message_id)
    assert report.deferred == 1 and waiting.state == "queued" and waiting.maybe_sent
    assert "did not answer in time, and may have taken the text" in waiting.last_error
    # O3: the provider's list has no such text (its answer was all that came): sent once more
    later = NOW + dt.timedelta(minutes=1)
    assert outbox.deliver_due(sms_config(provider), now=later).sent == 1
    messages = f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert [m for m, p, _, _ in provider.requests if p == messages] == ["POST", "GET", "POST"]


def test_i2_an_unreachable_provider_keeps_the_text_queued(store, provider):
    message_id = queue_text()
    provider.close()
    report = outbox.deliver_due(sms_config(provider), now=NOW)
    assert report.deferred == 1 and row(message_id).state == "queued"
    assert "could not reach the SMS provider" in report.problem
    assert not row(message_id).maybe_sent  # no connection, nothing sent: no look-up needed


# -- O3: a text the provider took whose answer was lost is never sent twice --------------------


def _taken_then_timed_out(provider: Provider) -> tuple[str, str]:
    """Queue a text; the provider takes it and answers too late. Return the message and SID."""
    message_id = queue_text()
    provider.script.append((201, None, {}, 2.0))  # taken, then the answer comes after 2 s
    report = outbox.deliver_due(sms_config(provider, timeout_seconds=0.3), now=NOW)
    assert report.deferred == 1 and len(provider.sends()) == 1
    waiting = row(message_id)
    assert (waiting.state, waiting.maybe_sent, waiting.provider_id) == ("queued", True, "")
    assert waiting.body_text  # still there: kiosk does not know yet that it went
    return message_id, next(iter(provider.messages))


def test_o3_i2_a_text_taken_before_a_timeout_is_found_and_not_sent_twice(store, provider):
    message_id, sid = _taken_then_timed_out(provider)
    report = outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=1))
    assert report.sent == 1 and len(provider.sends()) == 1  # no second copy
    looked = [f for m, p, _, f in provider.requests if p.endswith("/Messages.json") and m == "GET"]
    assert looked == [{"To": "+13175550101", "From": "+13175550100", "PageSize": "100"}]
    done = row(message_id)
    assert (done.state, done.provider_id) == ("sent", sid)
    assert done.last_error == sms.ALREADY_TAKEN
    assert AuditEvent.select().where(AuditEvent.action == audit.SEND).exists()
    provider.messages[sid]["status"] = "delivered"  # and its delivery is followed as any other
    report = outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=2))
    done = row(message_id)
    assert report.delivered == 1 and (done.delivery, done.body_text) == ("delivered", "")


def test_o3_i2_postgres_a_text_taken_before_a_timeout_is_not_sent_twice(pg_store, provider):
    message_id, sid = _taken_then_timed_out(provider)
    assert outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=1)).sent == 1
    done = row(message_id)
    assert len(provider.sends()) == 1 and (done.state, done.provider_id) == ("sent", sid)


def test_o3_i2_a_copy_that_failed_at_the_provider_is_sent_again(store, provider):
    message_id, sid = _taken_then_timed_out(provider)
    provider.messages[sid]["status"] = "failed"  # it reached nobody
    assert outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=1)).sent == 1
    assert len(provider.sends()) == 2 and row(message_id).provider_id != sid


@pytest.mark.parametrize("backend", ["store", "pg_store"])  # SQLite, PostgreSQL
def test_o3_i2_when_the_provider_cannot_tell_the_desk_decides(request, backend, provider):
    request.getfixturevalue(backend)
    message_id, sid = _taken_then_timed_out(provider)
    provider.messages[sid]["body"] = ""  # the provider keeps bodies redacted
    report = outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=1))
    failed = row(message_id)
    assert report.failed == 1 and len(provider.sends()) == 1  # never a blind second copy
    assert failed.state == "failed" and failed.last_error == outbox.CANNOT_TELL
    assert "Check with the family before you retry" in outbox.list_messages()[0].reason
    outbox.retry_message(failed.id, now=NOW)  # the desk checked: the family has nothing
    assert not row(message_id).maybe_sent
    assert outbox.deliver_due(sms_config(provider), now=NOW + dt.timedelta(minutes=2)).sent == 1
    assert len(provider.sends()) == 2


def test_o3_i2_a_text_interrupted_mid_send_is_looked_up_when_the_desk_retries(store, provider):
    message_id = queue_text()
    sealed = row(message_id).body_text
    outbox.deliver_due(sms_config(provider), now=NOW)  # sent: the provider has the words
    sid = row(message_id).provider_id
    with write_transaction():  # as if kiosk had stopped between the provider's 201 and the save
        OutboxMessage.update(state="sending", provider_id="", delivery="", body_text=sealed).where(
            OutboxMessage.message_id == message_id
        ).execute()
    later = NOW + outbox.SENDING_LEASE
    outbox.deliver_due(sms_config(provider), now=later)
    interrupted = row(message_id)
    assert (interrupted.state, interrupted.maybe_sent) == ("failed", True)
    outbox.retry_message(interrupted.id, now=later)
    assert row(message_id).maybe_sent  # a retry after an interruption still looks first
    assert outbox.deliver_due(sms_config(provider), now=later).sent == 1
    assert len(provider.sends()) == 1 and row(message_id).provider_id == sid


def test_i2_a_refused_number_fails_that_text_and_the_run_goes_on(store, provider):
    first, second = queue_text("b1"), queue_text("b2", "317-555-0102")
    provider.script.append(
        (
            400,
            _error(21211, "The 'To' number +13175550101 is not a valid phone number.", 400),
            {},
            0,
        )
    )
    report = outbox.deliver_due(sms_config(provider), now=NOW)
    assert (report.failed, report.sent, report.problem) == (1, 1, "")
    assert row(first).last_error.startswith("the SMS provider refused the message (400, code 21211")
    assert row(second).state == "sent"


def test_i2_a_text_queued_for_a_carrier_gateway_goes_through_the_provider(store, provider):
    with write_transaction():
        outbox.enqueue(
            batch="b1",
            channel="text",
            recipient="3175550101",
            welcome=WELCOME,
            carrier="verizon",
            now=NOW,
        )
    assert outbox.deliver_due(sms_config(provider), now=NOW).sent == 1
    assert provider.sends()[0]["To"] == "+13175550101"


def test_i2_with_a_provider_the_desk_texts_any_carrier_without_choosing_one(
    front_desk, provider, config
):
    front = desk(replace(config, sms=sms_config(provider).sms), staff=front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    family = front.family(rosemary.id)
    caregiver = next(c for c in family.caregivers if c.has_authority)
    request = IssueRequest(
        [rosemary.id], recipient_id=caregiver.id, delivery="text", cell="(317) 555-0101"
    )
    assert front.check_issue(request) == []
    result = front.issue(request)
    assert row(result.message_id).recipient == "+13175550101"
    assert front.deliver_outbox().sent == 1 and provider.sends()[0]["To"] == "+13175550101"


def test_i2_a_welcome_redirected_to_a_cell_on_a_retired_carrier_goes_through_the_provider(
    front_desk, provider, config
):
    """L4 with a provider: the other parent's carrier closed its gateway, the text still goes."""
    from kiosk.registration.pin_life import ContactChange

    front = desk(replace(config, sms=sms_config(provider).sms), staff=front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    cindy, jeff = [c for c in front.family(rosemary.id).caregivers if c.has_authority][:2]
    front.update_contact(jeff.id, ContactChange(cell="(317) 555-0199", carrier="att"))
    request = IssueRequest(
        [rosemary.id], recipient_id=cindy.id, delivery="text", cell="(317) 555-0101"
    )
    result = front.issue(request)  # queued, not yet sent
    message, report = front.redirect_welcome(rosemary.id, jeff.id)
    assert report.sent == 1 and message is not None and message.recipient == "***-***-0199"
    assert provider.sends()[0]["To"] == "+13175550199"
    assert row(result.message_id).carrier == ""


# -- the status callback on `kiosk serve` ------------------------------------------------------


@pytest.fixture
def serve(store, provider, config):
    configured = replace(config, sms=sms_config(provider).sms)
    server, thread, url = run_server(configured)
    yield url
    server.should_exit = True
    thread.join(10)


def _callback(url: str, params: dict[str, str], token: str = TOKEN) -> httpx.Response:
    signed = sms.signature(token, CALLBACK, params)
    return httpx.post(
        f"{url}/sms/status", data=params, headers={"X-Twilio-Signature": signed}, timeout=10
    )


def test_i2_a_signed_status_callback_records_the_delivery(serve, provider, config):
    message_id = queue_text()
    outbox.deliver_due(sms_config(provider), now=NOW)
    sid = row(message_id).provider_id
    params = {"AccountSid": SID, "MessageSid": sid, "MessageStatus": "sent"}
    assert _callback(serve, params).status_code == 204
    assert row(message_id).delivery == "sent"
    failed = params | {"MessageStatus": "failed", "ErrorCode": "30007"}
    assert _callback(serve, failed).status_code == 204
    assert row(message_id).state == "failed"
    assert "(failed: error 30007)" in row(message_id).last_error


def test_i2_a_late_callback_never_undoes_a_later_status(serve, provider):
    message_id = queue_text()
    outbox.deliver_due(sms_config(provider), now=NOW)
    sid = row(message_id).provider_id
    assert _callback(serve, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    assert _callback(serve, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    assert (row(message_id).delivery, row(message_id).last_error) == ("delivered", "delivered")


def test_i2_an_unsigned_or_forged_callback_changes_nothing(serve, provider):
    message_id = queue_text()
    outbox.deliver_due(sms_config(provider), now=NOW)
    params = {"MessageSid": row(message_id).provider_id, "MessageStatus": "failed"}
    assert httpx.post(f"{serve}/sms/status", data=params, timeout=10).status_code == 403
    assert _callback(serve, params, token="not-the-token").status_code == 403
    assert row(message_id).state == "sent"


def test_i2_the_signature_matches_the_providers_published_example():
    params = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
              "To": "+18005551212", "Caller": "+14158675309"}  # fmt: skip
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sms.signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


# -- settings ----------------------------------------------------------------------------------


def test_i2_settings_need_a_token_and_a_sender_and_never_show_the_token():
    with pytest.raises(ConfigError, match="sms.auth_token"):
        config_from_mapping({"sms": {"account_sid": SID, "from_number": "+13175550100"}})
    with pytest.raises(ConfigError, match="sms.from_number"):
        config_from_mapping({"sms": {"account_sid": SID, "auth_token": TOKEN}})
    with pytest.raises(ConfigError, match="E.164"):
        config_from_mapping({"sms": {"from_number": "317-555-0100"}})
    config = config_from_mapping(
        {"sms": {"account_sid": SID, "auth_token": TOKEN, "from_number": "+13175550100"}}
    )
    assert config.sms.configured and TOKEN not in repr(config)


def test_i2_retry_after_reads_seconds_and_http_dates_and_is_capped():
    assert sms._retry_after("120") == dt.timedelta(minutes=2)
    assert sms._retry_after("86400") == dt.timedelta(hours=1)
    assert sms._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == dt.timedelta(0)  # in the past
    assert sms._retry_after("soon") is None and sms._retry_after("") is None
