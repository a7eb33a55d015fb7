"""The slip's PDF made in a short-lived child process (R14, D1): ``python -m kiosk.slip.pdf_child``.

fpdf2, Pillow and fontTools take ~30 MiB that a process never gives back; loaded in the app, the
first printed slip would keep a low-spec kiosk over its memory budget for the rest of the day
(benchmarks/lowspec.py). So the app never imports them: :func:`render_pdf`, :func:`unprintable`
and :func:`render_letters` (a registration drive's letters, W2) send the slip or the letters to a
child on stdin as JSON and read the answer on stdout, and the child exits. A slip or a letter
holds PINs (S2, S9): they travel on the pipe only, never on the command line, in the environment
or in a file. The child draws with :func:`kiosk.slip.pdf.render_slip_pdf`,
:func:`kiosk.slip.pdf.unprintable_names` and :func:`kiosk.followup.letters.draw_letters`, the one
way a slip or a letter is made.

A child that fails writes only its exception's type to stderr (a traceback could quote the slip);
the app raises :class:`SlipChildError` with plain words and never passes stderr on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from kiosk import NO_DATABASE
from kiosk.slip.content import SlipData

CHILD_TIMEOUT_SECONDS = 60
# and this much more a letter: 10,000 letters draw in under a minute (benchmarks/worklist_bench.py),
# so a drive's PDF has eight times that on a loaded machine before the desk is told it failed
LETTER_TIMEOUT_SECONDS = 0.05
_FAILED = "kiosk-slip-child: "  # the child's one line on stderr when it fails, then a type name
_REASON = re.compile(rf"^{re.escape(_FAILED)}(\w+)$", re.MULTILINE)


class SlipChildError(Exception):
    """The child could not make the slip: ``str()`` is plain words for the desk, with no slip text."""


def command() -> list[str]:
    """The child's command line: the app's own interpreter, and nothing from the slip."""
    return [sys.executable, "-m", "kiosk.slip.pdf_child"]


def environment() -> dict[str, str]:
    """The app's own environment, which tells ``kiosk`` that this process opens no database."""
    return {**os.environ, NO_DATABASE: "1"}


def render_pdf(slip: SlipData, layout: str, fonts: Sequence[str] = ()) -> bytes:
    """The slip as PDF bytes, made by the child (blocking: the UI calls it from a worker)."""
    return _ask({"op": "pdf", "slip": _to_json(slip), "layout": layout, "fonts": list(fonts)})


def unprintable(slip: SlipData, fonts: Sequence[str] = ()) -> list[str]:
    """The slip's names with a letter no font prints (:func:`kiosk.slip.pdf.unprintable_names`)."""
    answer = _ask({"op": "unprintable", "slip": _to_json(slip), "fonts": list(fonts)})
    return [str(name) for name in json.loads(answer)]


def render_letters(
    letters: list[dict], practice_name: str, portal_url: str, layout: str, fonts: Sequence[str] = ()
) -> bytes:
    """A registration drive's letters as one PDF, a page each (W2), made by the child: the
    sealed letters' contents (kiosk.followup.drive) as :func:`kiosk.followup.letters.draw_letters`
    takes them."""
    request = {
        "op": "letters",
        "letters": letters,
        "practice_name": practice_name,
        "portal_url": portal_url,
        "layout": layout,
        "fonts": list(fonts),
    }
    return _ask(request, CHILD_TIMEOUT_SECONDS + LETTER_TIMEOUT_SECONDS * len(letters))


def _ask(request: dict[str, Any], timeout: float = CHILD_TIMEOUT_SECONDS) -> bytes:
    try:
        done = subprocess.run(
            command(),
            input=json.dumps(request).encode(),
            env=environment(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SlipChildError(f"making the slip's PDF took over {timeout:.0f} seconds") from None
    except OSError as error:  # no process could be started (out of memory, too many processes)
        raise SlipChildError(
            f"the slip's PDF could not be made ({error.strerror or type(error).__name__})"
        ) from None
    if done.returncode != 0:
        found = _REASON.search(done.stderr.decode(errors="replace"))
        why = f"{found.group(1)} in the PDF maker" if found else "the PDF maker stopped"
        raise SlipChildError(f"the slip's PDF could not be made ({why})")
    return done.stdout


def _to_json(slip: SlipData) -> dict[str, Any]:
    fields = asdict(slip)
    fields["expires_on"] = slip.expires_on.isoformat()
    return fields


def _from_json(fields: dict[str, Any]) -> SlipData:
    return SlipData(
        **{
            **fields,
            "children": tuple((str(name), str(pin)) for name, pin in fields["children"]),
            "expires_on": dt.date.fromisoformat(fields["expires_on"]),
            "patient_ids": tuple(fields.get("patient_ids", ())),
        }
    )


def main() -> int:
    """The child: one request on stdin, its answer on stdout."""
    try:
        request = json.load(sys.stdin.buffer)
        fonts = tuple(request.get("fonts", ()))
        if request["op"] == "letters":
            from kiosk.followup.letters import draw_letters

            answer = draw_letters(
                request["letters"],
                request["practice_name"],
                request["portal_url"],
                request["layout"],
                fonts,
            )
        elif request["op"] == "pdf":
            from kiosk.slip.pdf import render_slip_pdf

            answer = render_slip_pdf(_from_json(request["slip"]), request["layout"], fonts)
        else:
            from kiosk.slip.pdf import unprintable_names

            answer = json.dumps(unprintable_names(_from_json(request["slip"]), fonts)).encode()
    except BaseException as error:  # noqa: BLE001 - no traceback: it could quote the slip's PINs
        sys.stderr.write(f"{_FAILED}{type(error).__name__}\n")
        return 1
    sys.stdout.buffer.write(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
