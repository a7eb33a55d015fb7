"""Keys typed ahead are never lost: they reach the screen in the order they were pressed, each once
the one before it has been dealt with and the screen is ready for it.

A desk that knows the flow types it without looking: a name, Enter (open the patient), r (the
registration window), Ctrl+R (issue), p, p. Textual hands each key to whatever screen is on top
when the key is read, so a key read while the patient page or the family is still loading, or
before the screen a previous key opened is on top, was dropped or went into the wrong box.

The App mixes :class:`HoldsTypeAhead` in: every key from the terminal joins one queue, and one
task hands them on in order. Before each key it waits until

- the key before it has been handled: every message it caused on the App and the screen on top
  (the key bubbling up to its binding, an Input's Submitted, a screen pushed) has been processed;
- the screen on top is mounted and its ``holds_keys`` is false. A screen sets ``holds_keys``
  while it cannot take the desk's next key yet: the patient page and the family loading, PINs
  being issued, a sign-in being checked, the search's Enter waiting for its results.

A screen that stays busy longer than ``HOLD_SECONDS`` gets its keys anyway (as before: a key it
cannot use is ignored), so a hung database never swallows Escape. Ctrl+L (Lock) never waits, and
locking or signing out drops the keys still waiting: they were meant for the screens now hidden.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from textual import events
from textual.app import App
from textual.message_pump import MessagePump

HOLD_SECONDS = 3.0
POLL_SECONDS = 0.005
NEVER_HELD = frozenset({"ctrl+l"})  # Lock goes first: the desk is stepping away


class HoldsTypeAhead:
    """Mixed into the App before ``App`` (see the module docstring)."""

    _typed: deque[events.Key] | None = None
    _key_pump: asyncio.Task | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if event.key in NEVER_HELD:
                self.drop_typed_keys()
            else:
                if self._typed is None:
                    self._typed = deque()
                self._typed.append(event)
                if self._key_pump is None:
                    self._key_pump = asyncio.create_task(self._pump_keys())
                return
        await super().on_event(event)  # type: ignore[misc]  # the App's, after this mixin

    def drop_typed_keys(self) -> None:
        """Forget keys still waiting (the screens they were meant for are being hidden)."""
        if self._typed:
            self._typed.clear()

    @property
    def typing(self) -> bool:
        """Keys are still on their way to a screen."""
        return self._key_pump is not None

    async def _pump_keys(self) -> None:
        app: App = self  # type: ignore[assignment]  # a mixin of the App
        try:
            while self._typed:
                await self._until_ready(app)
                if not self._typed:
                    break
                key = self._typed.popleft()
                await App.on_event(app, key)
                await self._until_handled(app)
        except Exception as error:  # noqa: BLE001 - a key that fails is reported; the desk goes on
            self._typed = None
            app._handle_exception(error)
        finally:
            self._key_pump = None
            if self._typed:  # a key came in as the pump ended
                self._key_pump = asyncio.create_task(self._pump_keys())

    @staticmethod
    async def _until_ready(app: App) -> None:
        """Until the screen on top is mounted and takes keys, or HOLD_SECONDS have passed."""
        give_up = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < give_up:
            screen = app.screen
            if screen.is_mounted and not getattr(screen, "holds_keys", False):
                return
            await asyncio.sleep(POLL_SECONDS)

    @staticmethod
    async def _until_handled(app: App, rounds: int = 12) -> None:
        """Until the App and the screen on top have processed every message queued so far, and
        what those messages queued in turn (a key bubbles up one node at a time).

        The screen itself counts, and so does a message a node has taken off its queue without
        handling it yet: a key bubbles from the focused widget to the screen and only then to the
        App, where the screen's bindings run (the patient page's r). Left out, r could still be
        waiting on a busy screen when Ctrl+R went to the patient page, which has no Ctrl+R, and
        was lost (R5, R14: the PINs were never issued, on a loaded desk)."""
        for _ in range(rounds):
            if not await _processed([app, *app.screen.walk_children(with_self=True)]):
                return
            if all(_idle(node) for node in [app, *app.screen.walk_children(with_self=True)]):
                return


def _idle(node: MessagePump) -> bool:
    """Nothing waits on ``node``: its queue is empty and it holds no message it peeked at (Textual
    takes the next message off the queue to see whether it replaces the one at hand)."""
    return node.message_queue_size == 0 and node._pending_message is None


async def _processed(nodes) -> bool:
    """Wait until each of ``nodes`` has processed what was queued on it before now (a callback
    queued behind it, as Textual's own test pilot waits); False after HOLD_SECONDS."""
    pending = 0
    done = asyncio.Event()

    def one_done() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            done.set()

    for node in nodes:
        if node.call_later(one_done):
            pending += 1
    if pending:
        try:
            await asyncio.wait_for(done.wait(), HOLD_SECONDS)
        except TimeoutError:
            return False
    return True
