"""Cell carriers and their email-to-SMS gateways (R7), read from data/carriers.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Carrier:
    key: str
    name: str
    gateway: str
    retired: bool
    note: str

    def address_for(self, cell: str) -> str:
        return f"{cell}@{self.gateway}"


@cache
def carriers() -> tuple[Carrier, ...]:
    raw = tomllib.loads((DATA_DIR / "carriers.toml").read_text(encoding="utf-8"))
    return tuple(
        Carrier(key, row["name"], row["gateway"], bool(row.get("retired", False)), row.get("note", ""))
        for key, row in raw.items()
    )


def get_carrier(key: str) -> Carrier | None:
    return next((c for c in carriers() if c.key == key), None)
