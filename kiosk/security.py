"""Secrets in one place: password rules and hashing (scrypt, salted), PIN and answer digests
(keyed HMAC).

A PIN has about 43 bits of entropy: a salted fast hash of it could be brute-forced from a stolen
database. So PINs and verification answers are hashed with HMAC-SHA256 under a key kept *outside*
the database (a key file beside it, or a path from config). The database alone cannot reverse
them, a lookup by hash stays an index probe, and verifying one costs microseconds.

Passwords follow NIST SP 800-63B rev 4 (S12): at least 15 characters for a single-factor
password, checked against a blocklist of common passwords, no composition rules. The blocklist,
data/common-passwords.txt.gz, is the 20,000 most common passwords from breach corpora compiled by
Royce Williams, as Django ships it for its CommonPasswordValidator (BSD licence). Most entries are
shorter than 15 characters, so a password is also refused when it is such an entry padded with
digits or punctuation, or one repeated ("password12345678", "qwertyqwertyqwerty").
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import hmac
import os
import secrets
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiosk import DATA_DIR
from kiosk.i18n import Phrase  # a parent reads the password rules in their language (I1)

# OWASP Password Storage Cheat Sheet (S12) lists equal-strength scrypt settings: N=2^17 r=8 p=1
# (128 MiB), N=2^16 p=2, N=2^15 p=3, N=2^14 r=8 p=5 (16 MiB), N=2^13 p=10. The 16 MiB one keeps a
# low-spec kiosk's peak memory near 80 MiB (the 128 MiB one took it to 180 at every sign-in) at the
# same CPU cost. A hash records its own parameters, so older hashes still verify and are re-hashed
# at the next sign-in (needs_rehash).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
MAX_SCRYPT_N = 2**20  # a stored hash asking for more is refused rather than run (memory)
MAX_SCRYPT_P = 16  # ... or for more passes (time)
MIN_PASSWORD = 15
BLOCKLIST_FILE = DATA_DIR / "common-passwords.txt.gz"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * n bytes (128 MiB at the OWASP cost); hashlib's default cap is 32 MiB.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=maxmem)


class SecretKeyError(RuntimeError):
    pass


def hash_password(password: str, *, n: int | None = None, p: int | None = None) -> str:
    n, p = n or SCRYPT_N, p or SCRYPT_P
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, p)
    encoded_salt, encoded_digest = (
        base64.b64encode(salt).decode(),
        base64.b64encode(digest).decode(),
    )
    return f"scrypt${n}${SCRYPT_R}${p}${encoded_salt}${encoded_digest}"


@functools.cache
def unknown_user_hash() -> str:
    """Checked against when the username is unknown, so a wrong name costs the same time as a wrong
    password. Made on first use, not at import: hashing costs start-up ~40 ms (O1)."""
    return hash_password("not a real password")


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > MAX_SCRYPT_N or int(p) > MAX_SCRYPT_P:
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def needs_rehash(stored: str) -> bool:
    """True when a password hash was made with other parameters than today's (S12)."""
    return not stored.startswith(f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$")


@functools.cache
def _blocklist() -> frozenset[str]:
    with gzip.open(BLOCKLIST_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _cores(lowered: str) -> set[str]:
    """The password, the password without padding digits and punctuation at either end, and the
    unit it repeats, if it is one repeated: what the blocklist is checked against."""
    stripped = lowered.strip("0123456789!@#$%^&*()-_=+.,;:?/ ")
    cores = {lowered, stripped}
    for text in (lowered, stripped):
        for size in range(1, len(text) // 2 + 1):
            if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
                cores.add(text[:size])
                break
    return cores


def password_problem(
    password: str, *, context: Iterable[str] = (), minimum: int = MIN_PASSWORD
) -> str | None:
    """A plain-words reason a new staff or parent password is refused, or None (S12).

    ``context``: this account's words (username, name, the part of the email before the @) that
    must not be in it.
    Both kinds of account are single-factor, so NIST's 15 characters hold for both.
    """
    if len(password) < minimum:
        return Phrase("Use at least {minimum} characters.", minimum=minimum)
    lowered = password.lower()
    if len(set(lowered)) < 5 or _cores(lowered) & _blocklist():
        return Phrase("That password is too common: choose another.")
    for part in " ".join(context).lower().split():
        if len(part) >= 3 and part in lowered:
            return Phrase("Do not use your name or email in the password.")
    return None


def normalize_answer(answer: str) -> str:
    return " ".join(answer.lower().split())


def pin_digest(pin: str) -> str:
    """The keyed digest a PIN is stored and found by (S2); ``pin`` in canonical form."""
    return current_key().digest("pin", pin)


def answer_digest(patient_id: int, answer: str) -> str:
    """The keyed digest of a verification answer, bound to its child (R10, S2)."""
    return current_key().digest("answer", f"{patient_id}:{normalize_answer(answer)}")


_terminal: list[str] = []  # the desk's chosen name (D1, kiosk.ops.terminals), once chosen


def set_terminal(name: str) -> None:
    _terminal[:] = [name[:64]]


def default_terminal() -> str:
    """This desk's terminal name, recorded with every sign-in, redemption try (S8, S12) and audit
    event (D1): the one kiosk.ops.terminals chose, else the host name."""
    return _terminal[0] if _terminal else host_name()


def host_name() -> str:
    return (socket.gethostname() or "local")[:64]


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
        raise SecretKeyError(
            "no secret key loaded: open the database with kiosk.store.practice.open_store()"
        )
    return _current


# ---------------------------------------------------------------- encryption at rest (S11)

SEALED = "aesgcm1:"  # the prefix of a sealed text; anything else is an old plain body
NONCE_BYTES, TAG_BYTES = 12, 16  # GCM's 96-bit nonce and full 128-bit tag


class UnsealError(SecretKeyError):
    """A sealed text that this key cannot open (another key file, or the text was altered)."""


def seal(purpose: str, text: str, context: str) -> str:
    """``text`` encrypted (AES-256-GCM) under a key derived from the key file for ``purpose``;
    ``context`` (e.g. the message's id) is authenticated, so a sealed text moved to another row
    does not open. Empty stays empty."""
    if not text:
        return ""
    nonce = secrets.token_bytes(NONCE_BYTES)
    cipher = _aes_gcm(current_key().subkey(purpose), nonce, context)
    sealed, tag = cipher.encrypt_and_digest(text.encode())
    return SEALED + base64.b64encode(nonce + sealed + tag).decode()


def unseal(purpose: str, stored: str, context: str) -> str:
    """The text :func:`seal` sealed; a plain (older) text as it is; UnsealError if it cannot open."""
    if not stored.startswith(SEALED):
        return stored
    raw = base64.b64decode(stored[len(SEALED) :])
    body, tag = raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    try:
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise ValueError("too short to be sealed")
        cipher = _aes_gcm(current_key().subkey(purpose), raw[:NONCE_BYTES], context)
        return cipher.decrypt_and_verify(body, tag).decode()
    except ValueError:  # a wrong tag (another key, an altered text), or not UTF-8
        raise UnsealError("this message cannot be read with this key file") from None


def _aes_gcm(key: bytes, nonce: bytes, context: str) -> Any:
    """AES-256-GCM with ``context`` as its associated data. PyCryptodome rather than
    cryptography: the same cipher and layout (nonce, ciphertext, 16-byte tag: texts sealed by
    either open with the other) at 1.3 MiB of a low-spec kiosk's memory instead of 7.9 (D1);
    loaded only when a PIN is sealed or opened."""
    AES = _aes()
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(context.encode())
    return cipher


@functools.cache
def _aes() -> Any:
    """PyCryptodome's AES, bound to its C code through ctypes. PyCryptodome binds through cffi
    when cffi can be imported (it comes with cryptography, which other extras install), and
    cffi's binding parses the C declarations with pycparser as the module loads: 1.6 MiB more of
    a low-spec kiosk's memory for good than ctypes, which PyCryptodome uses wherever cffi is
    missing, for the same C code (D1). So cffi is made unimportable while PyCryptodome loads."""
    import sys

    absent = object()
    held = sys.modules.get("cffi", absent)
    sys.modules["cffi"] = None  # type: ignore[assignment]  # ``import cffi`` raises ImportError
    try:
        from Crypto.Cipher import AES
    finally:
        if held is absent:
            del sys.modules["cffi"]
        else:
            sys.modules["cffi"] = held  # type: ignore[assignment]
    return AES
