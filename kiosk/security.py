"""Hashing of secrets: staff and parent passwords (scrypt, salted) and PINs (keyed HMAC).

A PIN has about 43 bits of entropy: a salted fast hash of it could be brute-forced from a stolen
database. So PINs and verification answers are hashed with HMAC-SHA256 under a key kept *outside*
the database (a key file beside it, or a path from config). The database alone cannot reverse
them, a lookup by hash stays an index probe, and verifying one costs microseconds.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class SecretKeyError(RuntimeError):
    pass


def hash_password(password: str, *, n: int | None = None) -> str:
    n = n or SCRYPT_N
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "scrypt${}${}${}${}${}".format(
        n, SCRYPT_R, SCRYPT_P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


@functools.cache
def unknown_user_hash() -> str:
    """Checked against when the username is unknown, so a wrong name costs the same time as a wrong
    password. Made on first use, not at import: hashing costs start-up ~40 ms (O1)."""
    return hash_password("not a real password")


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


class SecretKey:
    """The key that PIN and answer hashes are made with."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("secret key must be at least 32 bytes")
        self._key = key

    def digest(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def subkey(self, purpose: str) -> bytes:
        """32 bytes for ``purpose`` (e.g. encrypting outbox bodies), derived from this key: one key
        file serves every use, and no derived key reveals the key or another use's key."""
        return hmac.new(self._key, f"subkey:{purpose}".encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return "SecretKey(...)"


_current: SecretKey | None = None


def key_path_for(database_target: str) -> Path | None:
    """The key file that goes with a SQLite database file; None for a URL."""
    if "://" in database_target and not database_target.startswith("sqlite:///"):
        return None
    target = database_target.removeprefix("sqlite:///")
    return Path(target + ".key")


def load_or_create_key(path: Path, *, create: bool = True) -> SecretKey:
    """Read the key file, or make one (0600) if it is missing and ``create`` is set."""
    try:
        if path.exists():
            return _read_key(path)
        if not create:
            raise SecretKeyError(f"key file {path} is missing: PINs cannot be checked without it")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        # Written whole under a temporary name, then linked into place: a desk starting at the same
        # moment either makes the file or reads the complete one the other desk made.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(key.hex() + "\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                return _read_key(path)
        finally:
            temporary.unlink(missing_ok=True)
        return SecretKey(key)
    except OSError as error:
        raise SecretKeyError(f"key file {path}: {error.strerror or error}") from None


def _read_key(path: Path) -> SecretKey:
    raw = path.read_bytes().strip()
    try:
        return SecretKey(bytes.fromhex(raw.decode()))
    except ValueError:
        raise SecretKeyError(f"key file {path} is damaged (expected 64 hex digits)") from None


def set_key(key: SecretKey) -> None:
    global _current
    _current = key


def current_key() -> SecretKey:
    if _current is None:
        raise SecretKeyError("no secret key loaded: open the database with kiosk.store.open_store()")
    return _current


# ---------------------------------------------------------------- encryption at rest (S11)

SEALED = "aesgcm1:"  # the prefix of a sealed text; anything else is an old plain body


class UnsealError(SecretKeyError):
    """A sealed text that this key cannot open (another key file, or the text was altered)."""


def seal(purpose: str, text: str, context: str) -> str:
    """``text`` encrypted (AES-256-GCM) under a key derived from the key file for ``purpose``;
    ``context`` (e.g. the message's id) is authenticated, so a sealed text moved to another row
    does not open. Empty stays empty."""
    if not text:
        return ""
    from cryptography.hazmat.primitives.ciphers.aead import (
        AESGCM,  # loads only when a PIN is sealed
    )

    nonce = secrets.token_bytes(12)
    sealed = AESGCM(current_key().subkey(purpose)).encrypt(nonce, text.encode(), context.encode())
    return SEALED + base64.b64encode(nonce + sealed).decode()


def unseal(purpose: str, stored: str, context: str) -> str:
    """The text :func:`seal` sealed; a plain (older) text as it is; UnsealError if it cannot open."""
    if not stored.startswith(SEALED):
        return stored
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(stored[len(SEALED):])
    try:
        return AESGCM(current_key().subkey(purpose)).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except (InvalidTag, ValueError):
        raise UnsealError("this message cannot be read with this key file") from None
