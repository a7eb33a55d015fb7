"""Reminders before a family's PINs expire (W3), sent by ``kiosk maintain``.

With the practice's ``reminder_days`` set (0, the default, is off), a family batch whose PINs
expire within that many days, and that still has a child Pending on an unused PIN, gets one
reminder through the outbox: the first names still to register, where the PIN is (the welcome's
email or text, or the slip) and the last day, never the PIN itself, in the language the family
was given its PIN in (kept on each PIN, I1). A family that got no welcome is reminded by email,
else by text: through the SMS provider to any cell when one is set up (I2), else only through a
carrier gateway that still works. One per batch, ever: the outbox holds at most one reminder
row per batch (a partial unique index), so a second run or two desks at once add nothing. A batch
whose welcome was never delivered gets none (the desk sees that failure in the outbox; a reminder
pointing to a message that never came would mislead), and a queued reminder is failed unsent once
its children have registered (:func:`kiosk.messages.outbox.erase_stale_bodies`).
"""

from __future__ import annotations

import datetime as dt

import peewee

from kiosk.messages import outbox
from kiosk.messages.carriers import get_carrier
from kiosk.messages.reminder import compose_reminder
from kiosk.store.db import lock_rows, retrying, tuples, write_transaction
from kiosk.store.models import Caregiver, OutboxMessage, Patient, Practice, RegistrationPin
from kiosk.terms import (
    Channel,
    Delivery,
    MessageKind,
    MessageState,
    PortalStatus,
    RegistrationMethod,
    utcnow,
)


def _waiting(now: dt.datetime) -> peewee.Expression:
    """A PIN whose child still waits for it: active, unexpired, unused, the child Pending."""
    return (
        RegistrationPin.works_at(now)
        & (RegistrationPin.redemptions == 0)
        & (Patient.portal_status == PortalStatus.PENDING)
    )


def send_due(now: dt.datetime | None = None, *, sms_provider: bool = False) -> int:
    """Queue the reminders that are due (W3); return how many. Idempotent; off when the practice's
    ``reminder_days`` is 0. ``sms_provider``: texts go through the SMS provider (I2), so a family
    with a cell on record is reached whatever its carrier (without one: only through a working
    carrier gateway)."""
    now = now or utcnow()
    days = Practice.get().reminder_days
    if days <= 0:
        return 0
    reminded = OutboxMessage.select(OutboxMessage.batch).where(
        OutboxMessage.kind == MessageKind.REMINDER
    )
    due = sorted(
        {
            batch
            for (batch,) in tuples(
                RegistrationPin.select(RegistrationPin.batch)
                .join(Patient)
                .where(
                    _waiting(now)
                    & (RegistrationPin.expires_at <= now + dt.timedelta(days=days))
                    & RegistrationPin.batch.not_in(reminded)
                )
            )
        }
    )
    return sum(_remind(batch, now, sms_provider) for batch in due)


@retrying
def _remind(batch: str, now: dt.datetime, sms_provider: bool) -> bool:
    children = sorted(
        {
            p
            for (p,) in tuples(
                RegistrationPin.select(RegistrationPin.patient).where(
                    RegistrationPin.batch == batch
                )
            )
        }
    )
    try:
        with write_transaction():
            # O1: the children first, in id order: a redemption or a new PIN waits, or went first
            lock_rows(Patient, children)
            pins = list(
                RegistrationPin.select(RegistrationPin, Patient)
                .join(Patient)
                .where((RegistrationPin.batch == batch) & _waiting(now))
                .order_by(Patient.given_name)
            )
            if not pins:
                return False
            return _queue(batch, pins, now, sms_provider)
    except peewee.IntegrityError:  # another run queued this batch's reminder a moment ago
        return False


def _queue(batch: str, pins: list[RegistrationPin], now: dt.datetime, sms_provider: bool) -> bool:
    """Inside the transaction: address and queue the batch's reminder; False when the family
    cannot be reached or never got its welcome."""
    first = pins[0]
    welcome = (
        OutboxMessage.select()
        .where((OutboxMessage.batch == batch) & (OutboxMessage.kind == MessageKind.WELCOME))
        .first()
    )
    caregiver = Caregiver.get_or_none(Caregiver.id == first.recipient_id)
    language = (
        welcome.language
        if welcome
        # I1: the language the desk gave the family its PIN in (slip or desk); older PINs have none
        else first.language or (caregiver.preferred_language if caregiver else "") or "en"
    )
    given_on = first.issued_at.date()
    if first.delivery in (Delivery.EMAIL, Delivery.TEXT):
        if welcome is None or welcome.state != MessageState.SENT:
            return False
        channel, given_on = Channel(first.delivery), (welcome.sent_at or first.issued_at).date()
        where = str(channel)
        address, carrier = (
            (first.recipient_email, "")
            if channel == Channel.EMAIL
            else (first.recipient_cell, "" if sms_provider else first.carrier)
        )
    else:
        if first.method == RegistrationMethod.QUESTION:
            where = "question"
        else:
            where = "slip" if first.print_slip else "desk"
        if caregiver is None:
            return False
        found = get_carrier(caregiver.carrier)
        if caregiver.email:
            channel, address, carrier = Channel.EMAIL, caregiver.email.strip().lower(), ""
        elif caregiver.cell and sms_provider:  # I2: the number itself, whatever its carrier
            channel, address, carrier = Channel.TEXT, caregiver.cell, ""
        elif caregiver.cell and found is not None and not found.retired:
            channel, address, carrier = Channel.TEXT, caregiver.cell, found.key
        else:
            return False
    to = outbox.mask_recipient(Channel.EMAIL, address) if where == "email" else address[-4:]
    practice = Practice.get()
    message = compose_reminder(
        practice_name=practice.name,
        portal_url=practice.portal_url,
        children=[pin.patient.given_name for pin in pins],
        expires_on=first.expires_at.date(),
        where=where,
        to=to,
        given_on=given_on,
        language=language,
    )
    try:
        outbox.enqueue(
            batch=batch,
            channel=channel,
            recipient=address,
            welcome=message,
            language=language,
            carrier=carrier,
            now=now,
            kind=MessageKind.REMINDER,
        )
    except outbox.OutboxError:  # an address the outbox cannot send to: nobody to remind
        return False
    return True
