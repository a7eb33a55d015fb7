"""Shared fixtures: a fresh SQLite store per test, staff, and the training families; the app on
the tests' clock and ``settle`` for the Pilot tests."""

from __future__ import annotations

import datetime as dt
import os

import pytest

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

import kiosk.security  # noqa: E402
from kiosk.config import Config, PracticeConfig  # noqa: E402
from kiosk.db import close_database  # noqa: E402
from kiosk.store import open_store  # noqa: E402

# Password hashing at production cost (scrypt n=2**14) takes ~50 ms a hash; tests need the
# behaviour, not the cost. Hashes record their own n, so verification still checks for real.
kiosk.security.SCRYPT_N = 2**10

# The fixed "today" of the training data and of every test that needs a clock.
TODAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 15, 0, 0)


def desk_app(config: Config):
    """The app as the desk runs it, on the tests' fixed clock (NOW, TODAY)."""
    from screens.app import Clock, create_app

    return create_app(config, clock=Clock(now=lambda: NOW, today=lambda: TODAY))


async def settle(app, pilot) -> None:
    """Let the screen, its workers and whatever they hand back to the screen finish."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(
        database=str(tmp_path / "kiosk.sqlite3"),
        practice=PracticeConfig(name="Sunny Hills Pediatrics", portal_url="https://portal.example.org/register"),
    )


@pytest.fixture
def store(config):
    """An empty, open database (schema, key and practice settings, no people)."""
    settings = open_store(config)
    yield settings
    close_database()


@pytest.fixture
def training(store):
    """The training families from data/, loaded into the fresh store."""
    from kiosk.training import load_training_data

    load_training_data(today=TODAY)
    return store


@pytest.fixture
def front_desk(training):
    """A staff member linked to the Practice Portal (may issue PINs)."""
    from kiosk.staff import authenticate

    return authenticate("maria", "training1")


@pytest.fixture
def unlinked_desk(training):
    """A staff member not linked to the Practice Portal (R1)."""
    from kiosk.staff import authenticate

    return authenticate("devon", "training1")
