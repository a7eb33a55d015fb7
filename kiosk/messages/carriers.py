"""Cell carriers and their email-to-SMS gateways (R7), read from data/carriers.toml.

A text message goes out as an email to ``<cell>@<gateway>``. Several carriers have shut their
gateway down; choosing one of those warns the receptionist (:func:`carrier_warning`) and points
to email or a printed slip instead.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from kiosk import DATA_DIR
from kiosk.people.contact import normalize_us_cell


@dataclass(frozen=True)
class Carrier:
    key: str
    name: str
    gateway: str
    retired: bool
    note: str

    def address_for(self, cell: str) -> str:
        """The gateway address for a US cell number written any common way; ValueError if it is not one."""
        digits = normalize_us_cell(cell)
        if digits is None:
            raise ValueError(f"{cell!r} is not a US cell number (10 digits, like (317) 555-0101)")
        return f"{digits}@{self.gateway}"


@cache
def carriers() -> tuple[Carrier, ...]:
    raw = tomllib.loads((DATA_DIR / "carriers.toml").read_text(encoding="utf-8"))
    return tuple(
        Carrier(
            key, row["name"], row["gateway"], bool(row.get("retired", False)), row.get("note", "")
        )
        for key, row in raw.items()
    )


def get_carrier(key: str) -> Carrier | None:
    return next((c for c in carriers() if c.key == key), None)


def carrier_warning(key: str) -> str | None:
    """What to tell the receptionist before texting through this carrier, or None when it is fine."""
    carrier = get_carrier(key)
    if carrier is None:
        return "Choose the family's cell carrier from the list, or send the welcome by email or print the PIN slip."
    if carrier.retired:
        reason = f" {carrier.note}" if carrier.note else ""
        return (
            f"{carrier.name} no longer passes email to text messages, so the family would not get the text."
            f"{reason} Send the welcome by email or print the PIN slip instead."
        )
    if carrier.note:
        return f"{carrier.note} Email or a printed PIN slip is more dependable."
    return None
