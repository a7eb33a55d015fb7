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

Starting a child, loading fpdf2 and drawing took most of a second after p on a low-spec kiosk. So
the child that checks a slip's letters when its preview opens (:class:`SlipChild`) stays: it makes
the slip's PDF ahead while the desk reads the preview, hands it over when p is pressed (made again
if the printer's settings changed meanwhile), and exits. It ends as well when the preview closes, when the app ends (its stdin closes) and after
:data:`IDLE_SECONDS` with nothing asked; a print with no child waiting starts a fresh one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from kiosk import NO_DATABASE
from kiosk.slip.content import SlipData

CHILD_TIMEOUT_SECONDS = 60
# and this much more a letter: 10,000 letters draw in under a minute (benchmarks/worklist_bench.py),
# so a drive's PDF has eight times that on a loaded machine before the desk is told it failed
LETTER_TIMEOUT_SECONDS = 0.05
IDLE_SECONDS = 600  # a preview left open this long: its child ends, and p starts a fresh one
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
        raise _not_started(error) from None
    if done.returncode != 0:
        raise _failure(done.stderr)
    return done.stdout


def _failure(stderr: bytes) -> SlipChildError:
    found = _REASON.search(stderr.decode(errors="replace"))
    why = f"{found.group(1)} in the PDF maker" if found else "the PDF maker stopped"
    return SlipChildError(f"the slip's PDF could not be made ({why})")


class SlipChild:
    """The child for one slip's preview: :meth:`unprintable` starts it and checks the letters,
    :meth:`render_pdf` has it make the PDF (the last thing it does), :meth:`close` ends it unused.
    Safe from worker threads: a print asked while the letters are checked waits for that answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def unprintable(
        self, slip: SlipData, fonts: Sequence[str] = (), layout: str | None = None
    ) -> list[str]:
        """The letters' check; with ``layout``, the child then makes the PDF ahead, so p finds
        it made (every counter visit prints the slip, R14)."""
        request: dict[str, Any] = {
            "op": "unprintable",
            "slip": _to_json(slip),
            "fonts": list(fonts),
            "keep": True,
            "framed": True,
        }
        if layout is not None:
            request["layout"] = layout
        with self._lock:
            self._end()
            try:
                self._process = subprocess.Popen(
                    command(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=environment(),
                )
            except OSError as error:
                raise _not_started(error) from None
            answer = _exchange(self._process, request)
            if answer is None:
                self._process = None
                raise SlipChildError("the slip's PDF could not be made (the PDF maker stopped)")
        return [str(name) for name in json.loads(answer)]

    def render_pdf(self, slip: SlipData, layout: str, fonts: Sequence[str] = ()) -> bytes:
        """The PDF, from the waiting child when there is one, else from a fresh one."""
        request = {"op": "pdf", "slip": _to_json(slip), "layout": layout, "fonts": list(fonts)}
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return _ask(request)
        try:
            answer = _exchange(process, {**request, "framed": True})
        finally:  # it exits by itself: tearing down its libraries takes a moment nobody waits for
            _let_go(process)
        return _ask(request) if answer is None else answer  # None: it had ended, idle

    def close(self) -> None:
        """The preview closed unprinted: the child sees its stdin end and exits (never blocks)."""
        process, self._process = self._process, None
        if process is not None:
            _let_go(process)

    def _end(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _exchange(process: subprocess.Popen[bytes], request: dict[str, Any]) -> bytes | None:
    """One request and its framed answer (its length on a line, then the bytes); None when the
    child had already ended without a word (idle); SlipChildError when it failed."""
    assert process.stdin is not None and process.stdout is not None
    watchdog = threading.Timer(CHILD_TIMEOUT_SECONDS, process.kill)
    watchdog.start()
    try:
        process.stdin.write((json.dumps(request) + "\n").encode())
        process.stdin.flush()
        size = process.stdout.readline()
        answer = process.stdout.read(int(size)) if size.strip().isdigit() else b""
    except OSError:
        answer, size = b"", b""
    finally:
        watchdog.cancel()
    if size.strip().isdigit() and len(answer) == int(size):
        return answer
    process.kill()
    _, err = process.communicate()
    if process.returncode == 0:
        return None
    if process.returncode == -9 and not err:
        raise SlipChildError(f"making the slip's PDF took over {CHILD_TIMEOUT_SECONDS:.0f} seconds")
    raise _failure(err)


def _let_go(process: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin, so it exits, and reap it on a thread of its own."""
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass
    threading.Thread(target=process.wait, name="slip-child-reaper", daemon=True).start()


def _not_started(error: OSError) -> SlipChildError:
    return SlipChildError(
        f"the slip's PDF could not be made ({error.strerror or type(error).__name__})"
    )


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
    """The child: a request on stdin and its answer on stdout, then it exits. A request marked
    "framed" (:class:`SlipChild`) has its answer framed by its length; one marked "keep" keeps the
    child: it makes that slip's PDF ahead while the desk reads the preview, and reads the next."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    ahead: tuple[tuple[Any, ...] | None, bytes] | None = None  # the PDF made ahead, and for what
    while True:
        line = stdin.readline()  # a one-off request has no newline: it ends with stdin
        if not line.strip():
            return 0  # the preview closed unprinted
        try:
            request = json.loads(line)
            if ahead is not None and ahead[0] == _pdf_for(request):
                answer = ahead[1]
            else:
                answer = _answer(request)
            if request.get("framed"):
                stdout.write(b"%d\n" % len(answer))
            stdout.write(answer)
            stdout.flush()
        except BaseException as error:  # noqa: BLE001 - no traceback: it could quote the slip's PINs
            sys.stderr.write(f"{_FAILED}{type(error).__name__}\n")
            return 1
        if not request.get("keep"):
            return 0
        if "layout" in request:
            made = {**request, "op": "pdf"}
            try:
                ahead = (_pdf_for(made), _answer(made))
            except Exception:  # noqa: BLE001 - asked for, it is made again and says why it failed
                ahead = None
        if not select.select([stdin], [], [], IDLE_SECONDS)[0]:
            return 0


def _pdf_for(request: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a PDF request asks for (its slip, layout and fonts); None for any other request."""
    if request.get("op") != "pdf":
        return None
    return (request["slip"], request["layout"], request.get("fonts", []))


def _answer(request: dict[str, Any]) -> bytes:
    fonts = tuple(request.get("fonts", ()))
    if request["op"] == "letters":
        from kiosk.followup.letters import draw_letters

        return draw_letters(
            request["letters"],
            request["practice_name"],
            request["portal_url"],
            request["layout"],
            fonts,
        )
    if request["op"] == "pdf":
        from kiosk.slip.pdf import render_slip_pdf

        return render_slip_pdf(_from_json(request["slip"]), request["layout"], fonts)
    from kiosk.slip.pdf import unprintable_names

    return json.dumps(unprintable_names(_from_json(request["slip"]), fonts)).encode()


if __name__ == "__main__":
    sys.exit(main())
