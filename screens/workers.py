"""Every screen's background work: one kind of worker, which never ends the app (S9)."""

from __future__ import annotations

from textual import work


def desk_worker(group: str, name: str):
    """Run the decorated method in a thread, one at a time per ``group``. A failure goes to the
    app's one handler (KioskApp.report_error), which says it in plain words; the app stays up."""
    return work(thread=True, exclusive=True, group=group, name=name, exit_on_error=False)
