"""The outbox (O3): welcome messages are written with the PINs they carry, then delivered."""

from __future__ import annotations

import secrets

from kiosk.models import OutboxMessage
from kiosk.welcome import Welcome


def enqueue(*, batch: str, channel: str, recipient: str, welcome: Welcome, language: str = "en",
            carrier: str = "") -> str:
    """Write one queued message inside the caller's transaction; return its Message-ID."""
    message_id = f"<{secrets.token_hex(16)}@kiosk>"
    OutboxMessage.create(message_id=message_id, batch=batch, channel=channel, recipient=recipient,
                         carrier=carrier, language=language, subject=welcome.subject,
                         body_text=welcome.text, body_html=welcome.html)
    return message_id
