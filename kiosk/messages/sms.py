"""Text messages through an SMS provider's HTTP API (I2): Twilio's Messages REST API, or any
provider that offers the same contract at another ``sms.base_url``.

The contract, as the provider documents it (and its Python library sends it):

- **Send:** ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP Basic auth with
  the account SID and auth token, a form-encoded body with ``To``, ``From`` (or
  ``MessagingServiceSid``), ``Body`` and, when kiosk has a public status route,
  ``StatusCallback``. A 201 answer is JSON with the message's ``sid`` and ``status``.
- **Read back:** ``GET {base}/2010-04-01/Accounts/{AccountSid}/Messages/{sid}.json`` answers the
  same JSON with the current ``status`` (queued, sending, sent, delivered, undelivered,
  failed ...) and ``error_code``/``error_message`` once it failed.
- **The list:** ``GET {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with the filters
  ``To`` and ``From`` and a ``PageSize`` answers ``{"messages": [...], "next_page_uri"}``, newest
  first, each message with its ``sid``, ``to``, ``direction``, ``body``, ``status`` and
  ``date_created`` (RFC 2822). The create call takes no idempotency key and echoes no reference
  of the client's, so this list is how kiosk finds a text an earlier try left there
  (:meth:`SmsSender.send` with ``maybe_sent``).
- **The account:** ``GET {base}/2010-04-01/Accounts/{AccountSid}.json`` answers the account's
  ``status`` (active, suspended, closed) and ``type`` (Trial, Full): a read that sends nothing,
  which `kiosk doctor` uses to check the address, the SID and the token (:meth:`SmsSender.account`).
- **Status callback:** the provider posts a form with ``MessageSid``, ``MessageStatus`` and
  ``ErrorCode`` to the StatusCallback URL, signed in ``X-Twilio-Signature``: base64 of the
  HMAC-SHA1, keyed with the auth token, of the URL followed by each posted name and value sorted
  by name (:func:`signature`). `kiosk serve` checks it before believing a status
  (kiosk.web.server).
- **Errors:** JSON ``{"code", "message", "more_info", "status"}``. 401 (code 20003): the SID or
  token is wrong, a configuration error that fails the message and stops the run, never retried
  in a loop. 429: too many requests, tried again no sooner than its ``Retry-After``. 5xx, a
  timeout or an unreachable server: tried again later with the outbox's back-off. Other 4xx (a
  number that cannot take texts, a family that replied STOP): that message fails with the
  provider's words.

**Never a blind second copy (O3).** A send whose request went out and whose answer was lost (a
read or write timeout, a dropped connection, a 5xx) may have been taken: the outbox marks the
message ``maybe_sent``, and its next try first reads the list (``To`` the family's number, and
``From`` when set) for a text with the same words made since the message was queued. Found
(and not failed): recorded as sent under that SID, nothing posted. Not there: sent. Bodies the
provider keeps redacted, or a list longer than a page, cannot say: the message is failed
(:data:`~kiosk.messages.outbox.CANNOT_TELL`) for the desk to check with the family, and its
Retry sends it. A connection that was never made (refused, connect timeout) sent nothing: it is
simply tried again.

The auth token is a secret (S9): it goes only into the Authorization header; no message, note or
exception here carries it. httpx is imported when a text is sent, not when kiosk starts.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.config import SmsConfig
from kiosk.messages.outbox import Accepted, Outgoing, SendFailure
from kiosk.people.contact import normalize_us_cell

if TYPE_CHECKING:
    import httpx

API_VERSION = "2010-04-01"
DELIVERED = frozenset({"delivered", "read"})
NOT_DELIVERED = frozenset({"undelivered", "failed", "canceled"})
FINAL = DELIVERED | NOT_DELIVERED
# how far along each status is: a late callback for an earlier status never undoes a later one
PROGRESS = {
    "accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
    "delivered": 5, "read": 6, "undelivered": 5, "failed": 5, "canceled": 5,
}  # fmt: skip
LONGEST_RETRY_AFTER = dt.timedelta(hours=1)
LOOKUP_PAGE = 100  # the list page read before a second try: a family's number gets far fewer
CLOCK_SLACK = dt.timedelta(minutes=10)  # the provider's clock against the desk's, in that look-up
ALREADY_TAKEN = (
    "sent to the SMS provider by an earlier try whose answer was lost (found there, not sent "
    "twice): waiting for delivery"
)


@dataclass(frozen=True)
class Delivery:
    """The provider's word on one message: its status and, once it failed, why."""

    status: str
    error_code: str = ""
    error: str = ""


@dataclass(frozen=True)
class Account:
    """The provider's account, as its account resource reports it."""

    status: str  # active, suspended or closed
    kind: str  # Trial (texts only numbers verified with the provider) or Full


def phone_number(recipient: str) -> str:
    """The E.164 number a text goes to: a stored +1 number as it is, or the number of a carrier
    gateway address (a text queued for a gateway goes through the provider once there is one)."""
    if recipient.startswith("+"):
        return recipient
    digits = normalize_us_cell(recipient.partition("@")[0])
    if digits is None:
        raise SendFailure(f"{recipient!r} is not a US cell number", permanent=True)
    return "+1" + digits


def signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature of a request the provider posts to ``url`` with form ``params``."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_ok(token: str, url: str, params: Mapping[str, str], given: str) -> bool:
    return bool(token) and hmac.compare_digest(signature(token, url, params), given)


class SmsSender:
    """The text channel through the provider: one HTTP connection pool for a delivery run."""

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self._client: httpx.Client | None = None

    @property
    def _account(self) -> str:
        return (
            f"{self.config.base_url.rstrip('/')}/{API_VERSION}/Accounts/{self.config.account_sid}"
        )

    @property
    def _messages(self) -> str:
        return f"{self._account}/Messages"

    def send(self, message: Outgoing) -> Accepted:
        number = phone_number(message.recipient)
        if message.maybe_sent:  # O3: an earlier try may have left it there: never a blind copy
            taken = self._already_taken(message, number)
            if taken is not None:
                return taken
        form = {"To": number, "Body": message.text}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        if self.config.from_number:
            form["From"] = self.config.from_number
        if self.config.status_callback:
            form["StatusCallback"] = self.config.status_callback
        answer = self._call("POST", f"{self._messages}.json", form)
        sid, status = str(answer.get("sid") or ""), str(answer.get("status") or "queued")
        if not sid:
            raise SendFailure(
                "the SMS provider's answer had no message id", permanent=False, stop=True
            )
        if status in NOT_DELIVERED:
            raise SendFailure(not_delivered(_delivery(answer)), permanent=True)
        return Accepted(sid, status, "sent to the SMS provider: waiting for delivery")

    def account(self) -> Account:
        """The account as the provider reports it: a harmless read that proves the address, the
        SID and the token work (kiosk doctor); SendFailure with the provider's words when not."""
        try:
            answer = self._call("GET", f"{self._account}.json")
        finally:
            self.close()
        return Account(str(answer.get("status") or ""), str(answer.get("type") or ""))

    def _already_taken(self, message: Outgoing, number: str) -> Accepted | None:
        """The text an earlier try of ``message`` left at the provider, from the list of texts to
        ``number`` (newest first); None when it is not there. SendFailure (CANNOT_TELL) when the
        list cannot say. The bodies read are compared in memory and never kept (S2, S9)."""
        from kiosk.messages.outbox import CANNOT_TELL

        query = {"To": number, "PageSize": str(LOOKUP_PAGE)}
        if self.config.from_number:
            query["From"] = self.config.from_number
        answer = self._call("GET", f"{self._messages}.json", params=query)
        listed = answer.get("messages")
        since = message.queued_at - CLOCK_SLACK if message.queued_at else None
        wanted, unreadable, older = _words(message.text), False, False
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or str(item.get("direction") or "").startswith("inbound"):
                continue
            made = _instant(item.get("date_created"))
            if made is not None and since is not None and made < since:
                older = True  # made before this message was queued: not one of its tries
                continue
            status = str(item.get("status") or "")
            if item.get("to") != number or status in NOT_DELIVERED:
                continue  # a copy that failed reached nobody: sending again is right
            body = _words(str(item.get("body") or ""))
            if wanted and wanted in body and item.get("sid"):  # a trial account adds words
                return Accepted(str(item.get("sid") or ""), status or "queued", ALREADY_TAKEN)
            unreadable |= not body
        if unreadable or (answer.get("next_page_uri") and not older):
            raise SendFailure(CANNOT_TELL, permanent=True)
        return None

    def delivery(self, provider_id: str) -> Delivery:
        """The message's status now, as the provider reports it (SendFailure when it cannot say)."""
        return _delivery(self._call("GET", f"{self._messages}/{provider_id}.json"))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _call(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        import httpx

        # O3: only a POST creates anything, and only one whose request may have gone out can
        # have been taken: not one whose connection was never made
        unsent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

        if self._client is None:
            self._client = httpx.Client(
                auth=(self.config.account_sid, self.config.auth_token),
                timeout=self.config.timeout_seconds,
                headers={"Accept": "application/json", "User-Agent": "kiosk"},
            )
        try:
            reply = self._client.request(method, url, data=form, params=params)
        except httpx.HTTPError as error:
            taken = method == "POST" and not isinstance(error, unsent)
            if taken:
                said = (
                    f"the SMS provider at {self.host} did not answer in time"
                    if isinstance(error, httpx.TimeoutException)
                    else f"the connection to the SMS provider at {self.host} broke off "
                    f"({type(error).__name__})"
                )
                said += ", and may have taken the text: it is looked up there before any resend"
            elif isinstance(error, httpx.TimeoutException):
                said = f"the SMS provider at {self.host} did not answer in time"
            else:
                said = f"could not reach the SMS provider at {self.host} ({type(error).__name__})"
            raise SendFailure(
                said + ": will try again", permanent=False, stop=True, uncertain=taken
            ) from None
        try:
            body = reply.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if reply.is_success:
            return body
        failure = _failure(reply.status_code, body, reply.headers.get("Retry-After", ""))
        failure.uncertain = method == "POST" and reply.status_code >= 500  # O3: it may be there
        raise failure

    @property
    def host(self) -> str:
        from urllib.parse import urlparse

        return urlparse(self.config.base_url).netloc


def _words(text: str) -> str:
    """The letters and digits of a text, folded: the provider may swap quotes and dashes for
    plain ones (smart encoding) or add its own words, never change a PIN or a name's letters."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(c for c in folded if c.isalnum())


def _instant(value: object) -> dt.datetime | None:
    """An RFC 2822 date of the provider's as naive UTC (the outbox's clock), None when none."""
    try:
        when = email.utils.parsedate_to_datetime(str(value or ""))
    except (TypeError, ValueError):
        return None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _delivery(answer: Mapping[str, Any]) -> Delivery:
    code = answer.get("error_code")
    return Delivery(
        str(answer.get("status") or ""),
        "" if code in (None, "") else str(code),
        str(answer.get("error_message") or ""),
    )


def not_delivered(delivery: Delivery) -> str:
    """Why a text did not arrive, in words the desk can act on."""
    why = ", ".join(
        part
        for part in (f"error {delivery.error_code}" if delivery.error_code else "", delivery.error)
        if part
    )
    return (
        f"the text did not arrive ({delivery.status}{': ' + why if why else ''}): check the cell "
        "number, or send the PINs by email or on a printed slip"
    )


def _failure(status: int, body: Mapping[str, Any], retry_after: str) -> SendFailure:
    """The provider's refusal as words the desk can act on; whether and when to try again."""
    code = body.get("code")
    said = str(body.get("message") or "").strip()
    detail = f"{status}{f', code {code}' if code else ''}{f': {said}' if said else ''}"
    if status in (401, 403):
        return SendFailure(
            f"the SMS provider refused kiosk's credentials ({detail}): check sms.account_sid and "
            "sms.auth_token",
            permanent=True,
            stop=True,
        )
    if status == 404:
        return SendFailure(
            f"the SMS provider does not know this account ({detail}): check sms.account_sid and "
            "sms.base_url",
            permanent=True,
            stop=True,
        )
    if status == 429 or status >= 500:
        return SendFailure(
            f"the SMS provider is {'busy' if status == 429 else 'having trouble'} ({detail}): "
            "will try again",
            permanent=False,
            stop=True,
            retry_after=_retry_after(retry_after),
        )
    return SendFailure(f"the SMS provider refused the message ({detail})", permanent=True)


def _retry_after(value: str) -> dt.timedelta | None:
    """Retry-After as seconds or an HTTP date (RFC 9110), capped at an hour; None without one."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        wait = dt.timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        wait = when - dt.datetime.now(dt.UTC)
    return max(dt.timedelta(0), min(wait, LONGEST_RETRY_AFTER))
