"""O1 on PostgreSQL: how many server connections one desk (the app) keeps while it works.

A desk is a process with its screen's thread and a worker thread per search and action; each
worker's connection is handed to the next worker at its end (kiosk.store.db), and the screen's
own once the app has started. Needs KIOSK_TEST_PG_URL, like tests/test_postgres.py.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from kiosk.config import Config
from kiosk.store.db import IDLE_CONNECTIONS

from conftest import desk_app, load_training, settle
from test_postgres import postgres_store
from test_ui_staff import sign_in

pytestmark = pytest.mark.postgres

FAMILIES = ["testkiddo", "kim", "okafor", "haddad", "johnson"]


class Counted:
    """The server connections the desk opens, and how many it holds (in a thread's use, or
    waiting for the next worker) at each look."""

    def __init__(self, monkeypatch) -> None:
        import psycopg2

        self.opened = 0
        self.most = 0
        real = psycopg2.connect

        def connect(*args, **kwargs):
            self.opened += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(psycopg2, "connect", connect)

    def look(self) -> int:
        from kiosk.store.db import database

        held = len(database.obj._in_use) + len(database.obj._connections)
        self.most = max(self.most, held)
        return held


async def test_o1_pg_a_desk_keeps_two_connections_and_opens_none_per_search(tmp_path, monkeypatch):
    """A morning's work at one desk at 80x24 (sign in; for each of five families its name typed
    key by key, each key a search on a worker while the last may still run; its account;
    Register) holds at most IDLE_CONNECTIONS (2) server connections between actions and three
    while workers overlap, and opens none per search (a desk held four between actions)."""
    with postgres_store(tmp_path, load=load_training) as url:
        counted = Counted(monkeypatch)
        app = desk_app(Config(database=url, pin_key_file=str(tmp_path / "pin.key")))
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(app, pilot)
            between = [counted.look()]
            for name in FAMILIES:
                box = app.screen.query_one("#search", Input)
                box.focus()
                box.value = ""
                for key in name:
                    await pilot.press(key)
                    counted.look()
                for keys in (None, "enter", "enter", "r", "ctrl+r"):
                    if keys:
                        await pilot.press(keys)
                    await settle(app, pilot)
                    between.append(counted.look())
                for _ in range(3):
                    await pilot.press("escape")
                    await settle(app, pilot)
                    counted.look()
    searches = sum(len(name) for name in FAMILIES)
    print(
        f"\nO1: {counted.opened} connections opened for {searches} keys typed and "
        f"{len(FAMILIES)} families; held at most {counted.most} at once, "
        f"{max(between)} between actions"
    )
    assert max(between) <= IDLE_CONNECTIONS == 2
    assert counted.most <= 3
    assert counted.opened <= 2  # none per search: the workers hand theirs on
