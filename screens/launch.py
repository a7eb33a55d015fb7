"""The `kiosk` console script: the command line from kiosk.cli, with the UI to start."""

from __future__ import annotations

import codecs
import os
import sys

ESCDELAY_MS = 25
# What textual-serve puts in TEXTUAL_DRIVER for every app it starts (kiosk serve-desk)
TEXTUAL_SERVE_DRIVER = "textual.drivers.web_driver:WebDriver"


def has_terminal() -> bool:
    """A pty to draw on, or a browser desk's page: textual-serve talks to its apps over pipes."""
    if os.environ.get("TEXTUAL_DRIVER") == TEXTUAL_SERVE_DRIVER:
        return True
    return sys.stdin.isatty() and sys.stdout.isatty()


# Terminals every desk uses (PuTTY, Windows, macOS and Linux terminals, tmux, screen) speak xterm's
# sequences, all Textual writes: they are taken without looking them up
XTERM_LIKE = ("xterm", "screen", "tmux")


def cannot_draw(term: str | None, fd: int) -> str:
    """Why a terminal called ``term`` cannot show the app, or "" when it can (D1). Textual writes
    ANSI/xterm sequences whatever TERM says: a dumb terminal (TERM=dumb, Emacs' shell, a
    hardcopy or a line printer) or a VT52 showed them as a screenful of escapes. Refused: no
    TERM, dumb or unknown, and a terminal whose terminfo entry cannot move the cursor as ANSI
    does or clear the screen. A TERM this server has no terminfo entry for (a newer terminal's)
    is taken, as every terminal in use today speaks xterm's sequences."""
    if term and term.startswith(XTERM_LIKE):
        return ""
    if term in (None, "", "dumb", "unknown"):
        return f"TERM={term or '(not set)'}"
    try:  # only for a terminal named otherwise: the console, a VT, an odd one
        import curses
    except ImportError:  # a Python built without curses: nothing to look the terminal up in
        return ""
    try:
        curses.setupterm(term, fd)
    except curses.error:  # no terminfo entry for this TERM here
        return ""
    cursor, clear = curses.tigetstr("cup") or b"", curses.tigetstr("clear")
    if curses.tigetflag("hc") > 0 or not cursor.startswith(b"\x1b[") or not clear:
        return f"TERM={term}"
    return ""


def utf8_terminal() -> None:
    """Draw in UTF-8 whatever the locale says. Textual reads keys as UTF-8 and draws boxes and
    bars, but writes through sys.__stderr__ in the locale's encoding: a desk whose SSH client sent
    LANG=es_ES.ISO-8859-1 (Debian's ssh sends LANG, sshd accepts it by default) saw \u2500 where
    every line should be, and any name outside Latin-1 the same way (D1)."""
    stream = sys.__stderr__
    if stream is not None and codecs.lookup(stream.encoding or "ascii").name != "utf-8":
        stream.reconfigure(encoding="utf-8")


def start_app(config, **run) -> None:
    """Start the app; ``run`` goes to App.run (benchmarks/lowspec.py runs it headless this way)."""
    # D1: an SSH session without a pty (ssh -T, a command, scp, sftp) has no screen to draw on;
    # drawing into the pipe anyway left an app behind on the server after the client had gone
    if not run.get("headless") and not has_terminal():
        from kiosk.cli import CliError

        raise CliError(
            "the app needs a terminal and this session has none (over SSH: ssh -t; "
            "commands, scp and sftp are not offered)"
        )
    if not run.get("headless"):
        if os.environ.get("TEXTUAL_DRIVER") != TEXTUAL_SERVE_DRIVER and (
            why := cannot_draw(os.environ.get("TERM"), sys.stdout.fileno())
        ):
            from kiosk.cli import CliError

            raise CliError(
                f"the app needs a full-screen terminal and this one cannot show it ({why}): use "
                "a terminal window that sets TERM (xterm-256color, linux, screen, tmux) and ssh -t"
            )
        utf8_terminal()
    # Before Textual is imported (textual.constants reads it once): how long a lone Esc is
    # waited on before it is taken as the key (screens/driver.py says why 25 ms)
    os.environ.setdefault("ESCDELAY", str(ESCDELAY_MS))
    from .app import run_app

    run_app(config, **run)


def serve_desks(
    options: list[str], *, host: str, port: int, terminal: str, sessions: int = 16
) -> None:
    """Serve browser desks (``kiosk serve-desk``, desks.py): textual-serve runs ``kiosk OPTIONS``
    for each browser. Its extra is imported only here, so a terminal desk never loads it."""
    from kiosk.cli import CliError

    try:
        from .desks import serve_desks as serve
    except ImportError:
        raise CliError("browser desks need their extra: pip install 'kiosk[browser]'") from None
    serve(options, host=host, port=port, terminal=terminal, sessions=sessions)


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import main as cli_main

    return cli_main(argv, start_app=start_app, serve_desks=serve_desks)


if __name__ == "__main__":
    sys.exit(main())
