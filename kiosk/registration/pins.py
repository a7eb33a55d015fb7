"""Registration PINs (S1): 10 letters from a CSPRNG, no look-alikes, grouped for reading."""

from __future__ import annotations

import secrets

# Letters only, without the ones people misread: I and L (1), O and Q (0), U (V).
ALPHABET = "ABCDEFGHJKMNPRSTVWXYZ"
LENGTH = 10
GROUP = 5
_SEPARATORS = str.maketrans("", "", " -\t")


def generate_pin() -> str:
    """A new PIN in canonical form (10 upper-case letters, no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def format_pin(pin: str) -> str:
    """Grouped for reading aloud and printing: ``JFKAY-TTJYV``."""
    return "-".join(pin[i : i + GROUP] for i in range(0, len(pin), GROUP))


def normalize_pin(text: object) -> str | None:
    """Canonical form of what a parent typed, or None if it cannot be a PIN.

    Any case, with or without the dash and spaces, is accepted.
    """
    if not isinstance(text, str):
        return None
    pin = text.translate(_SEPARATORS).upper()
    if len(pin) != LENGTH or any(ch not in ALPHABET for ch in pin):
        return None
    return pin
