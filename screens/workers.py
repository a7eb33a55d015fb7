"""Every screen's background work: one kind of worker, which never ends the app (S9)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from textual import work


def desk_worker(group: str, name: str):
    """Run the decorated method in a thread, one at a time per ``group``. A failure goes to the
    app's one handler (KioskApp.report_error), which says it in plain words; the app stays up.
    At its end, however it ends, the thread's database connection goes to the next worker (O1)."""

    def decorate(method: Callable[..., Any]) -> Any:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                desk = getattr(self.app, "desk", None)
                if desk is not None:
                    desk.hand_on_connection()

        return work(thread=True, exclusive=True, group=group, name=name, exit_on_error=False)(run)

    return decorate
