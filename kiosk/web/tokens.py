"""API tokens for practice portals (P1): `kiosk portal token create NAME` prints one once.

A token is 32 random bytes (URL-safe text) behind a short prefix that says what it is. Only its
keyed digest (kiosk.security, the practice key) is stored, so a copy of the database holds no
token a client could present; a token is found by its digest, like a PIN. Revoking keeps the row
(its name stays taken) and is audited, as is creating one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from kiosk import audit, validate
from kiosk.security import current_key
from kiosk.store.db import write_transaction
from kiosk.store.models import PortalToken
from kiosk.terms import utcnow

PREFIX = "kpt_"
MAX_NAME = 64


class TokenError(ValueError):
    """A token command that cannot be done; the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def token_digest(token: str) -> str:
    return current_key().digest("portal token", token)


def _clean_name(name: str) -> str:
    name = validate.one_line(name).strip()
    if not name or len(name) > MAX_NAME:
        raise TokenError(f"a token's name is 1 to {MAX_NAME} characters on one line")
    return name


def create_token(name: str, *, now: dt.datetime | None = None) -> str:
    """Make a token named ``name`` and return it: the only time it is ever shown."""
    name = _clean_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    with write_transaction():
        if PortalToken.select().where(PortalToken.name == name).exists():
            raise TokenError(f"there is already a token named {name!r} (revoked names stay taken)")
        PortalToken.create(name=name, token_hash=token_digest(token), created_at=now)
        audit.record(audit.TOKEN_CREATE, staff="cli", at=now, detail={"name": name})
    return token


def list_tokens() -> list[TokenInfo]:
    return [
        TokenInfo(t.name, t.created_at, t.revoked_at, t.last_used_at)
        for t in PortalToken.select().order_by(PortalToken.name)
    ]


def revoke_token(name: str, *, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    with write_transaction():
        row = PortalToken.get_or_none(PortalToken.name == _clean_name(name))
        if row is None:
            raise TokenError(f"there is no token named {name!r} (see kiosk portal token list)")
        if row.revoked_at is None:
            PortalToken.update(revoked_at=now).where(PortalToken.id == row.id).execute()
            audit.record(audit.TOKEN_REVOKE, staff="cli", at=now, detail={"name": row.name})


def authenticate(token: str, *, now: dt.datetime | None = None) -> str | None:
    """The name of the live token ``token`` is, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = PortalToken.get_or_none(PortalToken.token_hash == token_digest(token))
    if row is None or row.revoked_at is not None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        # at most once a minute: a busy portal must not make every request a write
        with write_transaction():
            PortalToken.update(last_used_at=now).where(PortalToken.id == row.id).execute()
    return str(row.name)
