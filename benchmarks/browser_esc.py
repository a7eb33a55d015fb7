"""Back (a lone Esc) on a browser desk: the real ``kiosk serve-desk`` server and its websocket,
driven as textual-serve's page drives it (tests/test_browser_desks.py's ``DeskServer``), the app's
output read by a VT100 screen (pyte). maria signs in; then, ``--rounds`` times, F1 opens the key
list and Esc alone (nothing sent after it) closes it, each key timed from the moment it is sent
until

- ``react``: the page's screen first changes (the desk sees the key was taken), and
- ``done``: the screen shows what the key does (the list shown; the list gone).

F1 is sent whole and taken at once: what any key costs through the server. Esc is taken only once
ESCDELAY (25 ms) passes with nothing after it. Prints p50 and p95 of each against the 100 ms every
desk key must meet, and the machine's load (a shared machine makes the figures noisy).

    python benchmarks/browser_esc.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
import pyte  # noqa: E402

from desk_keys import HEADER, load, row  # noqa: E402

from test_browser_desks import DeskServer, maria_at_search  # noqa: E402

HELP = "esc or f1: close this list"
KEYS = {"f1": ("\x1bOP", True), "escape": ("\x1b", False)}  # what is sent; HELP on the screen after


async def settle(
    ws: aiohttp.ClientWebSocketResponse, stream: pyte.ByteStream, seconds: float
) -> None:
    """Read the app's output for ``seconds`` (its cursor blinks: it is never quiet for long)."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        try:
            message = await ws.receive(timeout=left)
        except TimeoutError:
            return
        if message.type == aiohttp.WSMsgType.BINARY:
            stream.feed(message.data)


async def timed(ws, stream: pyte.ByteStream, key: str) -> tuple[float, float]:
    """Send ``key`` alone; (react, done) in ms."""
    keys, shown = KEYS[key]
    screen = stream.listener
    before = "\n".join(screen.display)
    sent = time.monotonic()
    await ws.send_json(["stdin", keys])
    reacted, give_up = None, sent + 30
    while True:
        if time.monotonic() > give_up:
            raise SystemExit(f"browser_esc: after {key} the screen never showed what it does")
        message = await ws.receive(timeout=30)
        if message.type != aiohttp.WSMsgType.BINARY:
            raise SystemExit(f"browser_esc: the session ended after {key}: {message}")
        stream.feed(message.data)
        now, text = time.monotonic(), "\n".join(screen.display)
        if reacted is None and text != before:
            reacted = now
        if (HELP in text) == shown:
            return (reacted - sent) * 1000, (now - sent) * 1000


async def rounds(url: str, count: int) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in KEYS}
    async with maria_at_search(url) as (ws, stream):
        await settle(ws, stream, 1.0)
        for _ in range(count):
            for key in KEYS:
                times[key].append(await timed(ws, stream, key))
                await settle(ws, stream, 0.3)  # the desk reads the screen before the next key
    return times


def main() -> None:
    from kiosk.cli import whole_between

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=whole_between(1, 100_000), default=30, help="F1 then Esc, this often (30)"
    )
    args = parser.parse_args()
    from kiosk.config import Config
    from kiosk.ops.training import load_training_data
    from kiosk.store.db import close_database
    from kiosk.store.practice import open_store

    with contextlib.ExitStack() as cleanup:
        folder = tempfile.TemporaryDirectory(
            prefix="kiosk-browser-esc-", ignore_cleanup_errors=True
        )
        work = Path(cleanup.enter_context(folder))
        db = work / "kiosk.sqlite3"
        open_store(Config(database=str(db)))
        load_training_data()
        close_database()
        print(f"# {args.rounds} rounds; {load()}", flush=True)
        server = DeskServer(db, work, "--terminal", "front-1")
        cleanup.callback(server.stop)  # before its folder goes
        times = asyncio.run(rounds(server.url, args.rounds))
        print(f"# after the run: {load()}", flush=True)
        print(HEADER)
        for key, pairs in times.items():
            print(row(key, [r for r, _ in pairs], [d for _, d in pairs]), flush=True)


if __name__ == "__main__":
    main()
