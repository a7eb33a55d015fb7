"""Opening kiosk's store: the database, its secret key and the practice settings, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk import security
from kiosk.config import Config
from kiosk.db import is_url, open_database, write_transaction
from kiosk.models import Practice


@dataclass(frozen=True)
class PracticeSettings:
    name: str
    portal_url: str
    pin_lifetime_days: int
    idle_lock_minutes: float
    parents_per_pin: int


def database_target(config: Config) -> str:
    """Where the database is: the configured path or URL, else the platform data directory."""
    return config.database or str(config.data_dir / "kiosk.sqlite3")


def key_file(config: Config, target: str) -> Path:
    if config.pin_key_file:
        return Path(config.pin_key_file).expanduser()
    path = security.key_path_for(target)
    if path is None:
        raise security.SecretKeyError(
            "a PostgreSQL database needs pin_key_file (KIOSK_PIN_KEY_FILE): every desk must share the same key file"
        )
    return path


def open_store(config: Config, *, create_key: bool = True) -> PracticeSettings:
    """Open (creating or migrating) the database, load the PIN key, make sure settings exist."""
    target = database_target(config)
    if not is_url(target):
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
        target = str(Path(target).expanduser())
    open_database(target)
    security.set_key(security.load_or_create_key(key_file(config, target), create=create_key))
    with write_transaction():
        if not Practice.select().exists():
            Practice.create(
                name=config.practice.name,
                portal_url=config.practice.portal_url,
                pin_lifetime_days=config.practice.pin_lifetime_days,
                idle_lock_minutes=config.practice.idle_lock_minutes,
            )
    return practice_settings()


def practice_settings() -> PracticeSettings:
    row = Practice.get()
    return PracticeSettings(row.name, row.portal_url, row.pin_lifetime_days, row.idle_lock_minutes, row.parents_per_pin)


def update_practice(**changes) -> PracticeSettings:
    with write_transaction():
        Practice.update(**changes).execute()
    return practice_settings()
