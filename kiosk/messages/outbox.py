"""The outbox (O3): welcome messages are written with the PINs they carry, then delivered.

A message's life: ``queued`` -> ``sending`` -> ``sent`` (body erased once delivered, S2), or back
to ``queued`` with a later ``next_attempt_at`` after a temporary failure, or ``failed`` with the
reason.

- **Written with the PINs.** :func:`enqueue` joins the caller's transaction: the registration
  and its message land together or not at all.
- **Delivered with retries.** :func:`deliver_due` sends what is due, one message at a time. A
  temporary problem (server unreachable, 4xx reply) keeps the message queued and waits 1, 2, 4 ...
  minutes (at most an hour) before the next try; after :data:`MAX_ATTEMPTS` tries it is
  ``failed``. A permanent problem (login refused 535, address refused 550) fails it at once with
  the reason. When the server itself is the problem (unreachable, login refused) the run stops
  there, so the other messages keep their attempts and nobody's account is locked by a storm of
  bad logins.
- **Never silently sent twice.** Before talking to the server a message is marked ``sending``,
  its attempt counted and a lease (:data:`SENDING_LEASE`) set in ``next_attempt_at``, in a
  transaction of its own. If kiosk stops between the server accepting the message and the row
  being marked ``sent``, the row is still ``sending`` when its lease runs out. Policy: such a row
  is **not resent automatically**. The next run marks it ``failed`` with the reason
  :data:`INTERRUPTED` so the front desk can check with the family and press Retry, which sends
  it again under the same Message-ID (a receiving server that de-duplicates drops the copy). A
  row still inside its lease belongs to a run that may be alive (another desk, cron) and is left
  alone. A try that may have reached the server without its answer (an SMS provider's timeout
  after the post, a 5xx; :attr:`SendFailure.uncertain`), and an interrupted one, mark the row
  ``maybe_sent``: the SMS provider's sender then looks the text up in the provider's list before
  sending it again and records the copy it finds as sent (kiosk.messages.sms); when the list
  cannot say, the message fails with :data:`CANNOT_TELL` and the desk's Retry sends it.
- **Training mode** (O2) sends nothing: each message is marked ``sent`` with the note
  ``training: not sent`` and its body erased, exactly as a real delivery would leave it.
- **Nothing to steal.** The body holds the plain PINs, so it is stored sealed (AES-GCM under a
  key derived from the key file, which is not in the database; S11) and erased in the same
  transaction that marks the message sent; SQLite overwrites freed space (``secure_delete``) and
  the WAL is checkpointed and truncated after a run that sent or erased anything (again at the
  next run when a desk's open read kept it from finishing). Failed messages keep their body so
  Retry can send them, but only while it is worth sending: once every PIN of the message's family
  batch has expired or been replaced, revoked or redeemed, :func:`erase_stale_bodies` (run at the
  start of every delivery, and by the revoke or replacement itself) erases the body of its failed
  and still-queued messages, and a queued one is failed with the reason :data:`NO_LONGER_NEEDED`.
  Neither bodies nor PINs are ever logged or written to the audit trail.

The send itself is behind :class:`Sender`, one per channel: email over SMTP; text through an SMS
provider's HTTP API when ``[sms]`` is set up (I2, kiosk.messages.sms), else through the carrier's
email-to-SMS gateway where it still works. A provider's text is ``sent`` once the provider takes
it; its delivery status is read back afterwards (:func:`read_back_deliveries` at each run, or the
provider's status callback through `kiosk serve`, :func:`record_delivery`): ``delivered`` is noted,
``undelivered`` or ``failed`` turns the message ``failed`` with the provider's reason so the desk
sees that the family got nothing. Such a text is not delivered when the provider takes it, so it
keeps its sealed body (S11) until the provider reports it ``delivered`` (S2): one that does not
arrive can be sent again (Retry, or to another caregiver) without new PINs. The body is erased
as soon as it is delivered, when its PINs end (expiry, replacement, revocation), and after
:data:`READ_BACK_DAYS` without a final status, when kiosk stops asking.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import peewee
from peewee import fn

from kiosk import audit, security
from kiosk.config import Config
from kiosk.messages.carriers import get_carrier
from kiosk.messages.welcome import Welcome
from kiosk.people.contact import normalize_us_cell, valid_email
from kiosk.store import files
from kiosk.store.db import (
    Prepared,
    database,
    insert_sql,
    is_sqlite,
    tuples,
    write_transaction,
)
from kiosk.store.models import OutboxMessage, Patient, RegistrationPin
from kiosk.terms import Channel, MessageKind, MessageState, PinState, is_one_of, utcnow

MAX_ATTEMPTS = 12  # 1+2+4+...+60+60...: about seven hours of outage before a message is failed
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_WAIT = dt.timedelta(hours=1)
SENDING_LEASE = dt.timedelta(minutes=10)  # longer than any one SMTP conversation can take
TRAINING_NOTE = "training: not sent"
INTERRUPTED = (
    "interrupted while sending: it may have been sent. Check with the family before you retry; "
    "a retry sends the same message again"
)
NO_LONGER_NEEDED = "no longer needed: the PINs it carried have ended"
UNREPORTED = "taken by the SMS provider, and no delivery report came: its words are erased"
CANNOT_TELL = (
    "it may have been sent: an earlier try's answer was lost and the SMS provider's list cannot "
    "show whether it took the text. Check with the family before you retry; a retry sends it again"
)
BODY_KEY = "outbox-body"  # the purpose the body's encryption key is derived for (S11)


class OutboxError(ValueError):
    """A request the outbox cannot do; the message says why in plain words."""


# ---------------------------------------------------------------- writing (inside the registration)


def enqueue(
    *,
    batch: str,
    channel: str,
    recipient: str,
    welcome: Welcome,
    language: str = "en",
    carrier: str = "",
    now: dt.datetime | None = None,
    kind: MessageKind = MessageKind.WELCOME,
) -> str:
    """Write one queued message inside the caller's transaction; return its Message-ID.

    ``channel`` "email": ``recipient`` is the address. ``channel`` "text": ``recipient`` is the
    cell number (any common way of writing it) and ``carrier`` the carrier key; the message goes
    to the carrier's gateway with the short body. A text without a carrier is kept as the E.164
    number for the SMS provider (I2). Raises :class:`OutboxError` on a bad address,
    which rolls back the caller's transaction: no PINs without their message.
    """
    if channel == Channel.EMAIL:
        if not valid_email(recipient):
            raise OutboxError(f"{recipient!r} is not an email address kiosk can send to")
        subject, text, html = welcome.subject, welcome.text, welcome.html
    elif channel == Channel.TEXT and not carrier:
        digits = normalize_us_cell(recipient)
        if digits is None:
            raise OutboxError(f"{recipient!r} is not a US cell number")
        recipient = "+1" + digits
        subject, text, html = welcome.subject, welcome.sms or welcome.text, ""
    elif channel == Channel.TEXT:
        found = get_carrier(carrier)
        if found is None:
            raise OutboxError(f"a text message needs the family's cell carrier (not {carrier!r})")
        try:
            recipient = found.address_for(recipient)
        except ValueError as error:
            raise OutboxError(str(error)) from None
        subject, text, html = welcome.subject, welcome.sms or welcome.text, ""
    else:
        raise OutboxError(f"channel must be email or text, not {channel!r}")
    message_id = f"<{secrets.token_hex(16)}@kiosk>"
    # in the caller's transaction (O3) with no savepoint of its own: nothing here is caught and
    # carried on from, and a savepoint is two more round trips to a PostgreSQL server per issue
    row = dict(
        message_id=message_id,
        batch=batch,
        kind=kind,
        channel=channel,
        recipient=recipient,
        carrier=carrier if channel == Channel.TEXT else "",
        language=language,
        subject=subject,
        body_text=_seal(text, message_id),
        body_html=_seal(html, message_id),
        created_at=now or utcnow(),
        next_attempt_at=now or utcnow(),
    )
    with nullcontext() if database.in_transaction() else write_transaction():
        database.execute_sql(*insert_sql(OutboxMessage, [row]))  # written once (O1)
    return message_id


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class Outgoing:
    """One message as a :class:`Sender` sees it."""

    message_id: str
    channel: str
    recipient: str
    subject: str
    text: str
    html: str
    language: str
    # an earlier try may have reached the provider (see SendFailure.uncertain): look before sending
    maybe_sent: bool = False
    queued_at: dt.datetime | None = None  # when the message was written (naive UTC)


class SendFailure(Exception):
    """A message was not delivered. ``permanent``: trying again will not help. ``stop``: the
    problem is the server or its settings, so the run stops instead of failing every message.
    ``retry_after``: the server said when to try again (a 429's Retry-After), if longer than the
    usual back-off. ``uncertain``: the request reached the server and its answer was lost (a
    timeout after sending, a 5xx), so the server may have taken the message: the row is marked
    ``maybe_sent`` and the next try asks before sending again."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        stop: bool = False,
        retry_after: dt.timedelta | None = None,
        uncertain: bool = False,
    ):
        super().__init__(reason)
        self.reason, self.permanent, self.stop = reason, permanent, stop
        self.retry_after, self.uncertain = retry_after, uncertain


@dataclass(frozen=True)
class Accepted:
    """What an SMS provider answers for a message it took (I2): its id for the message, the status
    it gave, and the note the desk sees until the delivery status comes back."""

    provider_id: str
    status: str
    note: str


class Sender(Protocol):
    """Delivers messages of one channel. ``send`` returns a note to keep ("" for none), or
    :class:`Accepted` from a provider whose delivery status is read back later, or raises
    :class:`SendFailure`; ``close`` ends any connection."""

    def send(self, message: Outgoing) -> str | Accepted: ...

    def close(self) -> None: ...


class TrainingSender:
    """Training mode (O2): nothing leaves the machine."""

    def send(self, message: Outgoing) -> str:
        return TRAINING_NOTE

    def close(self) -> None:
        pass


class DeliveryTracker(Protocol):
    """A sender whose messages' delivery status can be asked for afterwards (the SMS provider)."""

    def delivery(self, provider_id: str) -> Any: ...  # kiosk.messages.sms.Delivery


def senders_for(config: Config) -> dict[str, Sender]:
    """The sender for each channel under this configuration: SMTP for email (and for text through
    carrier gateways), the SMS provider for text when ``[sms]`` is set up (I2)."""
    if config.training:
        return {Channel.EMAIL: TrainingSender(), Channel.TEXT: TrainingSender()}
    senders: dict[str, Sender] = {}
    if config.smtp.host:
        from kiosk.messages.mail import (
            smtp_senders,  # smtplib and email load only when something is sent
        )

        senders.update(smtp_senders(config.smtp, practice_name=_practice_name(config)))
    if config.sms.configured:
        from kiosk.messages.sms import SmsSender

        senders[Channel.TEXT] = SmsSender(config.sms)
    return senders


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0  # temporary failure: still queued, tried again later
    failed: int = 0  # failed now (permanent, or out of attempts)
    interrupted: int = 0  # found "sending" past its lease: failed, staff decide (see module docs)
    problem: str = ""  # why the run stopped early, in plain words ("" when it did not)
    erased: int = (
        0  # unsent messages whose PINs have all ended: body erased (see erase_stale_bodies)
    )
    delivered: int = 0  # texts the SMS provider reported delivered during this run (I2)
    undelivered: int = 0  # ... and reported undelivered or failed: now failed

    def summary(self) -> str:
        parts = [f"{self.sent} sent", f"{self.deferred} to retry later", f"{self.failed} failed"]
        if self.delivered:
            parts.append(f"{self.delivered} texts delivered")
        if self.undelivered:
            parts.append(f"{self.undelivered} texts did not arrive")
        if self.interrupted:
            parts.append(f"{self.interrupted} interrupted (check with the family, then retry)")
        if self.erased:
            parts.append(f"{self.erased} no longer needed (erased)")
        return ", ".join(parts) + (f". Stopped: {self.problem}" if self.problem else "")


def deliver_due(
    config: Config,
    now: dt.datetime | None = None,
    limit: int = 100,
    senders: Mapping[str, Sender] | None = None,
) -> DeliveryReport:
    """Send the messages that are due (at most ``limit``) and record each outcome.

    Safe to run from several places at once (app worker threads, ``kiosk outbox send`` from cron):
    a message is claimed by one run only. ``now`` fixes the clock (naive UTC) for tests.
    """
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    if senders is None and not config.training and (config.smtp.host or config.sms.configured):
        senders = senders_for(config)
    report = _send_due(config, clock, limit, senders)
    tracker = (senders or {}).get(Channel.TEXT)
    if tracker is not None and hasattr(tracker, "delivery") and not report.problem:
        try:
            read_back_deliveries(tracker, clock(), report)  # type: ignore[arg-type]
        finally:
            tracker.close()
    return report


def _send_due(
    config: Config,
    clock: Callable[[], dt.datetime],
    limit: int,
    senders: Mapping[str, Sender] | None,
) -> DeliveryReport:
    report = DeliveryReport()
    report.interrupted = _fail_interrupted(clock())
    report.erased = erase_stale_bodies(clock())
    seal_plain_bodies()
    if _wal_to_truncate:
        truncate_wal()
    files.remove_old_slips(config)  # saved slip PDFs hold PINs too (S11)
    due = OutboxMessage.select().where(
        OutboxMessage.state == MessageState.QUEUED, OutboxMessage.next_attempt_at <= clock()
    )
    if not due.exists():
        return report
    channels: list[str] | None = None
    if senders is None:
        if not config.training:
            report.problem = "no mail server is set up (smtp.host): messages stay queued"
            return report
        senders = senders_for(config)
    elif not config.training and not config.smtp.host and config.sms.configured:
        channels = [Channel.TEXT]  # only texts can go: emails wait for a mail server
        if due.where(OutboxMessage.channel != Channel.TEXT).exists():
            report.problem = "no mail server is set up (smtp.host): emails stay queued"
    try:
        for _ in range(limit):
            row = _claim_next(clock(), channels)
            if row is None:
                break
            sender = senders.get(row.channel)
            try:
                if sender is None:
                    raise SendFailure(
                        f"no way to send {row.channel!r} messages is set up", permanent=True
                    )
                note = sender.send(_outgoing(row))
            except SendFailure as failure:
                _record_failure(row, failure, clock(), report)
                if failure.stop:
                    report.problem = failure.reason
                    break
            else:
                _record_sent(row, note, clock())
                report.sent += 1
    finally:
        for sender in {id(s): s for s in senders.values()}.values():  # channels may share one
            sender.close()
    if report.sent:
        truncate_wal()
    return report


READ_BACK_DAYS = 3  # a provider's text still without a final status after this is left as sent
DELIVERED_NOTE = "delivered"


def read_back_deliveries(
    tracker: DeliveryTracker, now: dt.datetime, report: DeliveryReport, limit: int = 200
) -> None:
    """Ask the SMS provider how each text it took lately is doing, and record it (I2). Texts sent
    within :data:`READ_BACK_DAYS` whose status is not final yet, oldest first; a provider that
    cannot answer stops the reading (its reason in ``report.problem``) until the next run."""
    from kiosk.messages.sms import FINAL

    pending = (
        OutboxMessage.select(OutboxMessage.provider_id)
        .where(
            OutboxMessage.state == MessageState.SENT,
            OutboxMessage.provider_id != "",
            OutboxMessage.delivery.not_in(sorted(FINAL)),
            OutboxMessage.sent_at >= now - dt.timedelta(days=READ_BACK_DAYS),
        )
        .order_by(OutboxMessage.sent_at)
        .limit(limit)
    )
    for (provider_id,) in list(tuples(pending)):
        try:
            found = tracker.delivery(provider_id)
        except SendFailure as failure:
            report.problem = failure.reason
            return
        outcome = record_delivery(provider_id, found.status, found.error_code, found.error, now)
        report.delivered += outcome == DELIVERED_NOTE
        report.undelivered += outcome == MessageState.FAILED


def record_delivery(
    provider_id: str,
    status: str,
    error_code: str = "",
    error: str = "",
    now: dt.datetime | None = None,
) -> str:
    """Record the delivery status the SMS provider reported for its message ``provider_id``
    (polled, or posted to the status callback). Returns "delivered" or "failed" when the message
    reached that end now, "" otherwise (unknown id, no change, or a status older than the one
    kept: callbacks may arrive out of order). A text that did not arrive fails with the
    provider's reason, so the desk sees it and can reach the family another way."""
    from kiosk.messages.sms import DELIVERED, NOT_DELIVERED, PROGRESS, Delivery, not_delivered

    now = now or utcnow()
    with write_transaction():
        row = OutboxMessage.get_or_none(OutboxMessage.provider_id == provider_id)
        if row is None or row.state != MessageState.SENT or not status or row.delivery == status:
            return ""
        if PROGRESS.get(status, 0) <= PROGRESS.get(row.delivery, 0) and status != row.delivery:
            return ""
        changes: dict[str, object] = {"delivery": status}
        outcome = ""
        if status in DELIVERED:  # S2: delivered, so its words go
            changes |= {"last_error": DELIVERED_NOTE, "body_text": "", "body_html": ""}
            outcome = DELIVERED_NOTE
        elif status in NOT_DELIVERED:
            reason = not_delivered(Delivery(status, error_code, error))
            changes |= {"state": MessageState.FAILED, "last_error": reason, "next_attempt_at": now}
            outcome = MessageState.FAILED
        OutboxMessage.update(**changes).where(
            OutboxMessage.id == row.id, OutboxMessage.state == MessageState.SENT
        ).execute()
        if outcome == MessageState.FAILED:
            _audit(audit.SEND_FAILED, row, reason=str(changes["last_error"]))
    if outcome == DELIVERED_NOTE and row.body_text:
        truncate_wal()
    return outcome


def erase_stale_bodies(now: dt.datetime | None = None, batches: Iterable[str] | None = None) -> int:
    """Erase the body of every failed, queued or undelivered message whose PINs have all ended,
    and of every text the SMS provider took more than :data:`READ_BACK_DAYS` ago without saying
    it was delivered; return how many.

    A message is stale when its family batch had PINs and none is still active and unexpired
    (each has expired, or been replaced, revoked or redeemed): the PINs it carries open nothing,
    so it must not be sent and its body is only something to steal (S2). A reminder (W3) is stale
    once none is still unused: the children it names have registered. A queued one is failed
    with :data:`NO_LONGER_NEEDED`; a failed one keeps its reason; a sent one stays sent. One audit
    event per message. ``batches`` limits the look to those family batches.
    """
    now = now or utcnow()
    count = 0
    for row in _stale(now, batches):
        with write_transaction():
            if (erased := _erase(row, now)) is not None:
                audit.record_all([erased])
                count += 1
    if count:
        truncate_wal()
    return count


def erase_ended_batches(batches: Iterable[str], now: dt.datetime, events: list[Any]) -> int:
    """S11 inside the caller's transaction, which has just ended PINs of ``batches`` (a replacement
    or a revoke, its patients locked first): erase those batches' stale bodies as
    :func:`erase_stale_bodies` does, with their events added to ``events`` for the caller to write
    last; return how many. In the same transaction, the same write to the audit chain (O1: the
    audit head is taken once, not again by a second transaction right after) and no moment in
    between. The caller cuts the WAL once it has committed (:func:`truncate_wal`)."""
    batches = list(batches)
    count = 0
    for row in _stale(now, batches) if batches else []:
        if (erased := _erase(row, now)) is not None:
            events.append(erased)
            count += 1
    return count


def _stale(now: dt.datetime, batches: Iterable[str] | None) -> list[OutboxMessage]:
    """The messages :func:`erase_stale_bodies` erases (of ``batches``, when given)."""
    if batches is not None:  # an issue or revoke that ended PINs: written once (O1)
        return _unique(_STALE_OF.rows(now=now, batches=list(batches)))
    # S11: a text the provider took that no report called delivered within the read-back window
    unreported = OutboxMessage.select().where(
        OutboxMessage.state == MessageState.SENT,
        (OutboxMessage.body_text != "") | (OutboxMessage.body_html != ""),
        OutboxMessage.sent_at < now - dt.timedelta(days=READ_BACK_DAYS),
    )
    return _unique([*_stale_select(now), *unreported])


def _unique(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    return list({row.id: row for row in rows}.values())  # one stale and unreported: once


def _stale_select(now: Any) -> Any:
    """The select of :func:`_stale`'s messages whose PINs have ended."""
    # EXISTS of the message's own batch (batch is never NULL: the same rows as IN and NOT IN), an
    # index probe a message: NOT IN read every active PIN of the practice into a hash each time,
    # most of the server's CPU for an issue that replaced PINs (O1)
    issued = RegistrationPin.select(RegistrationPin.id).where(
        RegistrationPin.batch == OutboxMessage.batch
    )
    # W3: a reminder is stale as soon as no PIN of its batch is still waiting for its first parent
    waiting = issued.where(
        RegistrationPin.state == PinState.ACTIVE,
        RegistrationPin.expires_at > now,
        (OutboxMessage.kind != MessageKind.REMINDER) | (RegistrationPin.redemptions == 0),
    )
    stale = OutboxMessage.select().where(
        OutboxMessage.state.in_((MessageState.QUEUED, MessageState.FAILED, MessageState.SENT)),
        (OutboxMessage.body_text != "") | (OutboxMessage.body_html != ""),
        fn.EXISTS(issued),
        ~fn.EXISTS(waiting),
    )
    return stale


_STALE_OF = Prepared(
    lambda now, batches: _stale_select(now).where(OutboxMessage.batch.in_(batches))
)


# a message's body erased if its state is still the one read (and a queued one failed), written
# once (kiosk.store.db.Prepared): an issue that replaces a family's PINs erases its old welcome (O1)
_ERASE = Prepared(
    lambda id, was, state: OutboxMessage.update(state=state, body_text="", body_html="").where(
        OutboxMessage.id == id, OutboxMessage.state == was
    )
)
_ERASE_QUEUED = Prepared(
    lambda id, was, state, at: OutboxMessage.update(
        state=state, body_text="", body_html="", last_error=NO_LONGER_NEEDED, next_attempt_at=at
    ).where(OutboxMessage.id == id, OutboxMessage.state == was)
)


def _erase(row: OutboxMessage, now: dt.datetime) -> audit.Pending | None:
    """Erase ``row``'s body in the current transaction if its state is still the one read (a run
    may have claimed it since); the audit event to write for it, or None."""
    state = MessageState.FAILED if row.state != MessageState.SENT else MessageState.SENT
    if row.state == MessageState.QUEUED:
        at = OutboxMessage.next_attempt_at.db_value(now)
        changed = _ERASE_QUEUED.count(id=row.id, was=row.state, state=state, at=at)
    else:
        changed = _ERASE.count(id=row.id, was=row.state, state=state)
    if not changed:
        return None
    why = NO_LONGER_NEEDED if row.state != MessageState.SENT else UNREPORTED
    return audit.event(audit.MESSAGE_ERASED, detail=_audit_detail(row, reason=why))


def _practice_name(config: Config) -> str:
    from kiosk.store.practice import practice_settings

    try:
        return practice_settings().name
    except Exception:  # noqa: BLE001 - no practice row yet: the configured name is the right one
        return config.practice.name


def _claim_next(now: dt.datetime, channels: list[str] | None = None) -> OutboxMessage | None:
    """Mark the next due message ``sending`` (one attempt more, a lease) and commit, or None."""
    while True:
        with write_transaction():
            query = OutboxMessage.select(OutboxMessage.id).where(
                OutboxMessage.state == MessageState.QUEUED, OutboxMessage.next_attempt_at <= now
            )
            if channels is not None:
                query = query.where(OutboxMessage.channel.in_(channels))
            row = query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).first()
            if row is None:
                return None
            claimed = (
                OutboxMessage.update(
                    state=MessageState.SENDING,
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + SENDING_LEASE,
                )
                .where(OutboxMessage.id == row.id, OutboxMessage.state == MessageState.QUEUED)
                .execute()
            )
        if claimed:  # else another run took it first: look again
            return OutboxMessage.get_by_id(row.id)


def _seal(body: str, message_id: str) -> str:
    return security.seal(BODY_KEY, body, message_id)


def message_body(row: OutboxMessage) -> tuple[str, str]:
    """The message's (text, html) as it will be sent: opened with the key file (S11)."""
    return (
        security.unseal(BODY_KEY, row.body_text, row.message_id),
        security.unseal(BODY_KEY, row.body_html, row.message_id),
    )


def _outgoing(row: OutboxMessage) -> Outgoing:
    try:
        text, html = message_body(row)
    except security.UnsealError as error:
        raise SendFailure(f"{error}: issue new PINs for the family", permanent=True) from None
    return Outgoing(
        row.message_id,
        row.channel,
        row.recipient,
        row.subject,
        text,
        html,
        row.language,
        maybe_sent=row.maybe_sent,
        queued_at=row.created_at,
    )


def seal_plain_bodies() -> int:
    """Encrypt the bodies an older kiosk left in plain text (S11); return how many messages."""

    def plain(body: peewee.Field) -> peewee.Expression:
        return (body != "") & ~body.startswith(security.SEALED)

    unsent = (MessageState.QUEUED, MessageState.SENDING, MessageState.FAILED)
    rows = list(
        OutboxMessage.select().where(
            OutboxMessage.state.in_(unsent),
            plain(OutboxMessage.body_text) | plain(OutboxMessage.body_html),
        )
    )
    for row in rows:
        sealed = {
            name: body if body.startswith(security.SEALED) else _seal(body, row.message_id)
            for name, body in (("body_text", row.body_text), ("body_html", row.body_html))
        }
        with (
            write_transaction()
        ):  # only if still what was read: a run may have sent and erased it since
            OutboxMessage.update(**sealed).where(
                OutboxMessage.id == row.id,
                OutboxMessage.body_text == row.body_text,
                OutboxMessage.body_html == row.body_html,
            ).execute()
    if rows:
        truncate_wal()
    return len(rows)


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th try failed for a temporary reason."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def _record_sent(row: OutboxMessage, outcome: str | Accepted, now: dt.datetime) -> None:
    from kiosk.messages.sms import DELIVERED

    accepted = outcome if isinstance(outcome, Accepted) else None
    note = accepted.note if accepted else str(outcome)
    # S2: delivered is when the body goes. A text the SMS provider took is on its way, not there:
    # its sealed body (S11) stays until the provider says delivered, so one that does not arrive
    # can be sent again without new PINs
    on_its_way = accepted is not None and accepted.status not in DELIVERED
    with write_transaction():
        OutboxMessage.update(
            state=MessageState.SENT,
            sent_at=now,
            next_attempt_at=now,
            last_error=note,
            provider_id=accepted.provider_id if accepted else "",
            delivery=accepted.status if accepted else "",
            **({} if on_its_way else {"body_text": "", "body_html": ""}),
        ).where(OutboxMessage.id == row.id).execute()
        _audit(audit.SEND, row, note=note)


def _record_failure(
    row: OutboxMessage, failure: SendFailure, now: dt.datetime, report: DeliveryReport
) -> None:
    # I2: once a try may have reached the provider, every later try looks there first
    maybe_sent = {"maybe_sent": True} if failure.uncertain else {}
    with write_transaction():
        if failure.permanent or row.attempts >= MAX_ATTEMPTS:
            reason = (
                failure.reason
                if failure.permanent
                else f"gave up after {row.attempts} tries: {failure.reason}"
            )
            OutboxMessage.update(
                state=MessageState.FAILED, next_attempt_at=now, last_error=reason, **maybe_sent
            ).where(OutboxMessage.id == row.id).execute()
            _audit(audit.SEND_FAILED, row, reason=reason)
            report.failed += 1
        else:
            wait = max(backoff(row.attempts), failure.retry_after or dt.timedelta(0))
            OutboxMessage.update(
                state=MessageState.QUEUED,
                next_attempt_at=now + wait,
                last_error=failure.reason,
                **maybe_sent,
            ).where(OutboxMessage.id == row.id).execute()
            report.deferred += 1


def _fail_interrupted(now: dt.datetime) -> int:
    """Rows left ``sending`` past their lease: fail them for staff to decide (never resend blindly)."""
    count = 0
    stale = OutboxMessage.select().where(
        OutboxMessage.state == MessageState.SENDING, OutboxMessage.next_attempt_at <= now
    )
    for row in stale:
        # maybe_sent: a desk's Retry of a provider's text looks it up there first (I2)
        with write_transaction():
            if (
                OutboxMessage.update(
                    state=MessageState.FAILED, last_error=INTERRUPTED, maybe_sent=True
                )
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.state == MessageState.SENDING,
                    OutboxMessage.next_attempt_at <= now,
                )
                .execute()
            ):
                _audit(audit.SEND_FAILED, row, reason=INTERRUPTED)
                count += 1
    return count


def _audit(action: str, row: OutboxMessage, **extra: str) -> None:
    """One event per child in the message's family batch; never the body, never a PIN."""
    detail = _audit_detail(row, **extra)
    patients: list[Patient | None] = list(
        Patient.select().join(RegistrationPin).where(RegistrationPin.batch == row.batch).distinct()
    )
    # together, as the caller's last step: the audit head locked once, last (S10, O1)
    audit.record_all(
        [audit.event(action, patient=patient, detail=detail) for patient in patients or [None]]
    )


def _audit_detail(row: OutboxMessage, **extra: str) -> dict:
    return {
        "message_id": row.message_id,
        "batch": row.batch,
        "channel": row.channel,
        "to": mask_recipient(row.channel, row.recipient),
        "attempts": row.attempts,
        **({"kind": row.kind} if row.kind != MessageKind.WELCOME else {}),
        **{key: value for key, value in extra.items() if value},
    }


_wal_to_truncate = False  # an erasure's checkpoint was blocked: the next run tries again


def truncate_wal() -> bool:
    """Erased bodies must not linger in the WAL file: checkpoint it and cut it to zero. Inside a
    transaction, or while another desk holds a read open, it cannot finish: it is tried again at
    the next outbox run (and bodies are sealed in the meantime, S11). True when it finished."""
    global _wal_to_truncate
    if not is_sqlite():
        return True
    _wal_to_truncate = True
    if database.in_transaction():
        return False
    try:
        busy = database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except peewee.DatabaseError:  # another desk is writing: tried again next run
        return False
    _wal_to_truncate = bool(busy)
    return not busy


# ---------------------------------------------------------------- what the front desk sees


@dataclass(frozen=True)
class MessageRow:
    """One outbox message for a list on screen: no body, the recipient masked."""

    id: int
    message_id: str
    batch: str
    channel: Channel
    recipient: str  # masked: c***@example.com, ***-***-0101
    carrier: str  # carrier name for a text message
    language: str
    subject: str
    state: MessageState
    attempts: int
    reason: str  # why it failed or is waiting, or a note (training: not sent)
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    kind: MessageKind = MessageKind.WELCOME  # a reminder carries no PIN (W3)


def mask_recipient(channel: str, recipient: str) -> str:
    """Enough to recognise whom a message is for, not enough to read off an address or number."""
    local, _, domain = recipient.rpartition("@")
    if channel == Channel.TEXT:  # a gateway address, or the provider's +1 number (I2)
        return f"***-***-{recipient.partition('@')[0][-4:]}"
    return f"{local[:1]}***@{domain}"


def _row(message: OutboxMessage) -> MessageRow:
    carrier = get_carrier(message.carrier) if message.carrier else None
    return MessageRow(
        message.id,
        message.message_id,
        message.batch,
        Channel(message.channel),
        mask_recipient(message.channel, message.recipient),
        carrier.name if carrier else message.carrier,
        message.language,
        message.subject,
        MessageState(message.state),
        message.attempts,
        message.last_error,
        message.created_at,
        message.next_attempt_at,
        message.sent_at,
        MessageKind(message.kind),
    )


_LISTED = (
    OutboxMessage.id,
    OutboxMessage.message_id,
    OutboxMessage.batch,
    OutboxMessage.channel,
    OutboxMessage.recipient,
    OutboxMessage.carrier,
    OutboxMessage.language,
    OutboxMessage.subject,
    OutboxMessage.state,
    OutboxMessage.attempts,
    OutboxMessage.last_error,
    OutboxMessage.created_at,
    OutboxMessage.next_attempt_at,
    OutboxMessage.sent_at,
    OutboxMessage.kind,
)


def list_messages(
    state: str | None = None, limit: int = 200, batch: str | None = None
) -> list[MessageRow]:
    """Newest first; ``state`` one of queued, sending, sent, failed (None: all). With ``batch``: that
    family's welcome (its reminder, W3, is listed only among all messages)."""
    query = OutboxMessage.select(*_LISTED)  # the bodies are never read for a list
    if state is not None:
        if not is_one_of(MessageState, state):
            raise OutboxError(f"state must be one of {', '.join(MessageState)}, not {state!r}")
        query = query.where(OutboxMessage.state == state)
    if batch is not None:
        query = query.where(
            (OutboxMessage.batch == batch) & (OutboxMessage.kind == MessageKind.WELCOME)
        )
    return [
        _row(m)
        for m in query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(
            limit
        )
    ]


def count_messages() -> dict[MessageState, int]:
    """How many messages are in each state (every state present, 0 when none)."""
    counts = dict.fromkeys(MessageState, 0)
    for state, count in tuples(
        OutboxMessage.select(OutboxMessage.state, fn.COUNT(OutboxMessage.id)).group_by(
            OutboxMessage.state
        )
    ):
        counts[state] = count
    return counts


def retry_message(message_id: int, now: dt.datetime | None = None) -> MessageRow:
    """Queue a failed message again, due now, with a fresh set of tries and the same Message-ID
    (:func:`queue_again`).

    Refused (:class:`OutboxError`) for an unknown, sent or sending message, and for one whose
    PINs have all ended (its body is erased: issue new PINs instead)."""
    now = now or utcnow()
    erase_stale_bodies(now)
    with write_transaction():
        message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
        if message is None:
            raise OutboxError(f"there is no message {message_id}")
        if message.state == MessageState.SENT:
            raise OutboxError("this message was already sent")
        if message.state == MessageState.SENDING:
            raise OutboxError("this message is being sent right now")
        if message.provider_id and not message.body_text:
            raise OutboxError(  # I2: taken by the SMS provider, then not delivered
                "this text did not arrive, and its words have been erased: issue new PINs, or "
                "give them by email or on a printed slip"  # S2
            )
        if not message.body_text and not message.body_html:
            raise OutboxError(
                "this message is no longer needed: the PINs it carried have ended; issue new PINs "
                "to send the family a new one"
            )
        queue_again(message.id, now)
    return _row(OutboxMessage.get_by_id(message_id))


def queue_again(message_id: int, now: dt.datetime, **changes: Any) -> None:
    """The message due now with a fresh set of tries and the same Message-ID; ``changes`` are
    other columns to set with it (a new recipient). The caller checks that it may be sent. A text
    that may have reached the SMS provider is still looked up there first, unless the provider
    could not tell (:data:`CANNOT_TELL`): then the desk has checked with the family and sends it."""
    OutboxMessage.update(
        state=MessageState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        maybe_sent=OutboxMessage.maybe_sent & (OutboxMessage.last_error != CANNOT_TELL),
        provider_id="",  # I2: a new send: a late report on the copy that failed is not about it
        delivery="",
        **changes,
    ).where(OutboxMessage.id == message_id).execute()
