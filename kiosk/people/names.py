"""Placeholder names (R2): a newborn registered as "Baby Girl" cannot be issued a PIN."""

from __future__ import annotations

import re

_WORDS = (
    r"(?:babygirl|babyboy|baby|babe|infant|newborn|nb|bb|bg|twin|triplet|unknown|unk|unnamed|"
    r"boy|girl|male|female|son|daughter|fbaby|mbaby)"
)
_MARK = r"#?(?:[a-d]|[1-4]|i{1,3})"  # birth order: A, B, 1, 2, #1, II
# The whole given name is placeholder words, then perhaps a birth-order mark after a separator:
# "Baby Boy", "Twin A", "Baby B", "Female Baby", "BG", "baby-girl 2".
_PLACEHOLDER = re.compile(rf"^(?:{_WORDS}[\s._-]*)+(?:[\s._-]+{_MARK})?$", re.IGNORECASE)
# Run together: "BabyBoy", "TwinA", "BabyB" (a mark only straight after baby/twin/triplet).
_SQUASHED = re.compile(
    rf"^(?:{_WORDS})+(?:(?<=baby|twin)|(?<=triplet)){_MARK}$|^(?:{_WORDS})+$", re.IGNORECASE
)
_SEPARATORS = re.compile(r"[\s._-]+")


def is_placeholder_name(given_name: str | None) -> bool:
    """True for an unofficial given name (Baby, Baby Boy, BG, Twin A, Infant, Unknown, ...)."""
    if given_name is None:
        return True
    text = given_name.strip()
    if not text:
        return True
    return bool(_PLACEHOLDER.match(text) or _SQUASHED.match(_SEPARATORS.sub("", text)))


def placeholder_message(given_name: str) -> str:
    return (
        f'"{given_name}" is a placeholder name. Enter the child\'s given name in Basic Info '
        "before issuing a PIN."
    )
