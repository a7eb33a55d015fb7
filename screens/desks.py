"""Browser desks: the desk app in a web browser, through textual-serve (``kiosk serve-desk``).
The UI's side, as the server starts apps: the CLI (kiosk.cli) decides what to serve and gets
``serve_desks`` from the ``kiosk`` console script (launch.py), as it gets ``start_app``.

Each browser that opens the page gets a websocket and, behind it, a ``kiosk`` process of its own:
the same app a terminal runs, starting at the same staff sign-in (S1; nothing signs it in, and
the idle lock and guessing limits hold as at any desk, S6, S12). Every session is the server's
terminal when one is named (``--terminal``, ``KIOSK_TERMINAL``), else the terminal its browser's
address picks (D1, ``kiosk.ops.terminals``): a ``[terminals.NAME]`` listing it, or the host name
and the address. Whatever the page sends on its websocket, malformed or not, never ends a session.

The page and everything it loads come from this server: textual-serve's own script
(``textual.js``: its terminal, xterm.js, bundled; MIT), stylesheet (xterm.js's, MIT), background
image and Roboto Mono fonts (Apache-2.0), served from the installed package, with a page template
of ours (``templates/app_index.html`` beside this module) in place of textual-serve's, which loads
the font from Google Fonts. A desk then works without the internet and tells no one else that it is open.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from kiosk.ops.terminals import DESK_ADDRESS, http_url

from .driver import MAX_SIZE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8810  # beside kiosk serve's 8800
TEMPLATES = Path(__file__).parent / "templates"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
# The screen a browser may ask for, opening or resizing: at most a terminal desk's (MAX_SIZE).
# Textual allocates and draws the whole screen it is told of, so a page's (or an attacker's)
# 10**9 x 10**9 would take the app's memory and CPU; what is asked beyond is clamped.
MIN_SIZE = (20, 5)

log = logging.getLogger("kiosk.desks")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def screen_size(width: Any, height: Any) -> tuple[int, int]:
    """The screen (columns, rows) to give an app for a browser's ``width`` and ``height``: whatever
    the page sent (text, a float, a huge number, null), within MIN_SIZE and MAX_SIZE; 80 x 24 for
    what is no number."""
    size = []
    for value, default, low, high in zip(
        (width, height), (80, 24), MIN_SIZE, MAX_SIZE, strict=True
    ):
        try:
            cells = int(value)
        except (TypeError, ValueError, OverflowError):  # null, a list, "abc", NaN, Infinity
            cells = default
        size.append(min(max(cells, low), high))
    return size[0], size[1]


class DeskAppService(AppService):
    """textual-serve's app service, the screen size of every resize the page sends bounded
    (screen_size): the websocket's JSON is the browser's, whoever wrote the page. ``address`` is
    the browser's, given to its app so that it names its terminal by it (D1)."""

    def __init__(self, *args: Any, address: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address = address

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment.pop(DESK_ADDRESS, None)  # never the server's own, whoever set it
        if self.address:
            environment[DESK_ADDRESS] = self.address
        return environment

    async def set_terminal_size(self, width: int, height: int) -> None:
        await super().set_terminal_size(*screen_size(width, height))


async def handle_message(
    text: str, app_service: AppService, websocket: web.WebSocketResponse
) -> None:
    """One message from the page, as textual-serve's page sends them (``["stdin", text]``,
    ``["resize", {"width": W, "height": H}]``, ``["ping", data]``, ``["blur"]``, ``["focus"]``).
    Anything else (not JSON, not a list, a missing or wrong part) is ignored: one bad message from
    a page, or from someone else's script, must not end the desk's session and its work (D1)."""
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):  # not JSON; nested beyond the parser's depth
        return
    if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
        return
    kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
    if kind == "stdin" and isinstance(data, str):
        keys = data.encode("utf-8", errors="ignore")  # a lone surrogate is no key
        if keys:  # an empty packet reads as the end of input: the app would quit
            await app_service.send_bytes(keys)
    elif kind == "resize" and isinstance(data, dict):
        await app_service.set_terminal_size(*screen_size(data.get("width"), data.get("height")))
    elif kind == "ping":
        await websocket.send_json(["pong", data])
    elif kind == "blur":
        await app_service.blur()
    elif kind == "focus":
        await app_service.focus()


def desk_command(options: list[str]) -> str:
    """The shell command textual-serve starts for each browser: this Python running the kiosk
    console script's module with ``options`` (quoted: textual-serve runs it through a shell)."""
    return "exec " + shlex.join([sys.executable, "-m", "kiosk_screens.launch", *options])


class DeskServer(Server):
    """textual-serve's server with the page's links kept on this server, the websocket refused to
    other sites' pages, and a log that never shows a session's local variables (keystrokes: S9)."""

    def __init__(
        self, command: str, *, host: str, port: int, terminal: str, sessions: int = 16
    ) -> None:
        super().__init__(
            command,
            host=host,
            port=port,
            title=f"kiosk: {terminal}" if terminal else "kiosk",
            public_url=http_url(host, port),
            templates_path=TEMPLATES,
        )
        self.terminal = terminal
        self.sockets: set[web.WebSocketResponse] = set()
        # Each session is an app process of its own (some 50 MiB): without a bound, anyone who
        # reaches the port could open sessions until the machine's memory ran out (D1)
        self.max_sessions = sessions

    def initialize_logging(self) -> None:
        # textual-serve's own handler prints tracebacks with their local variables, which in the
        # websocket's loop are what the desk typed: a password (S9). Plain lines instead.
        logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def _process_messages(
        self, websocket: web.WebSocketResponse, app_service: AppService
    ) -> None:
        """textual-serve's loop over the page's messages, each one read by handle_message."""
        async for message in websocket:
            if message.type == WSMsgType.TEXT:
                await handle_message(message.data, app_service, websocket)

    async def on_startup(self, app: web.Application) -> None:
        """Nothing to say yet: the address is said once it is listening (serve)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every browser's websocket, so its app quits and the server stops at once
        (aiohttp would otherwise wait for each session to end by itself)."""
        for socket in list(self.sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"the desk server stopped")

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve(), saying where once the port is open, and stopping on Ctrl+C or
        SIGTERM (aiohttp's own handlers) with the browsers' sessions (their apps quit)."""
        self.initialize_logging()
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            print=lambda *_: print(
                f"Browser desks for terminal {self.terminal or 'named by each browser address'} "
                f"at {self.public_url}/ "
                "(each one signs in; Ctrl+C stops them all)",
                flush=True,
            ),
        )

    async def _make_app(self) -> web.Application:
        """textual-serve's app (its page, websocket, downloads and static files), every route behind
        _check_request (a middleware: the static files too) and no folder of the static files
        listed: a folder is answered 404, as a file that is not there."""
        app = web.Application(middlewares=[self._checked])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _checked(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every request checked (_check_request) before its route's handler; a folder of the
        static files, which aiohttp answers 403 (naming it a folder), is 404 as nothing there."""
        self._check_request(request)
        try:
            return await handler(request)
        except web.HTTPForbidden:
            if request.match_info.route.name != "static":
                raise
            raise web.HTTPNotFound from None

    def _check_request(self, request: web.Request) -> None:
        """Refuse what a page of another site could send through the desk's own browser, on every
        route (the page, its websocket, its static files): a request from elsewhere (its Origin is not this server), and, on loopback, a name
        that is not loopback's (DNS rebinding: evil.example resolving to 127.0.0.1)."""
        host = urlsplit(f"//{request.host}").hostname or ""
        if is_loopback(self.host) and not is_loopback(host):
            raise web.HTTPForbidden(text="browser desks answer only at a loopback address")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="a page of another site may not open a desk")

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its links relative or to the address the browser used (so a server on
        0.0.0.0 works from another machine), never to another host."""
        if "ping" in request.query:  # textual.js first fetches ?ping=URL: never another host
            raise web.HTTPFound(request.rel_url.without_query_params("ping"))
        scheme = "wss" if request.secure else "ws"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, its socket kept in ``sockets`` while it is open (on_shutdown)."""
        if len(self.sockets) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"this desk server has {self.max_sessions} browsers open already "
                "(kiosk serve-desk --max-sessions): close one and reload"
            )
        websocket = web.WebSocketResponse(heartbeat=15)
        # the page's own size, within what a screen can be (not a page's idea of a huge one)
        width, height = screen_size(request.query.get("width"), request.query.get("height"))
        app_service: AppService | None = None
        self.sockets.add(websocket)
        try:
            await websocket.prepare(request)

            async def close() -> None:  # when the app exits
                await websocket.close()

            app_service = DeskAppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
                address=request.remote or "",
            )
            await app_service.start(width, height)
            await self._process_messages(websocket, app_service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # noqa: BLE001 - one session's failure must not stop the rest
            log.error("a browser desk's session failed: %s", type(error).__name__)
        finally:
            self.sockets.discard(websocket)
            if app_service is not None:
                await app_service.stop()  # its app quits
        return websocket


def serve_desks(
    options: list[str], *, host: str, port: int, terminal: str, sessions: int = 16
) -> None:
    """Serve the desk on ``host``:``port`` until Ctrl+C or SIGTERM; each browser session runs
    ``kiosk OPTIONS`` (desk_command), at most ``sessions`` at once."""
    if not is_loopback(host):
        print(
            f"kiosk: warning: browser desks on {host} are open to that network over plain "
            "HTTP: staff passwords cross it readable",
            file=sys.stderr,
        )
    command = desk_command(options)
    DeskServer(command, host=host, port=port, terminal=terminal, sessions=sessions).serve()
