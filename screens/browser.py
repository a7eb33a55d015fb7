"""The desk's driver in a web browser (``kiosk serve-desk``): Textual's web driver, reading its keys
as a terminal desk does, answering a lone Esc as soon, and ending the app when the server's pipe
closes.

Its keys are read by the terminal desk's parser (screens/driver.py, ``DeskParser``): whatever a
page sends on its websocket that is not a key is dropped, not typed into a field, and a kitty key
Textual's parser raises on no longer ends the session.

A lone Esc (the desk's Back key; ESC ] for alt+] likewise) is only an Esc once ESCDELAY has passed
with nothing after it, and the web driver looks again only when its reader's 100 ms wait for the
server's next packet runs out: Back took 130 ms on a browser desk, over the 100 ms every desk key
must meet (benchmarks/browser_esc.py). While the parser holds such a prefix, the reader here waits
ESC_POLL_S instead, as a terminal desk's does (D1); idle, it wakes every 100 ms as Textual's does.

textual-serve tells an app to quit when its browser goes; if the server itself is killed, the app
only sees its standard input end, and Textual's driver would leave it running with nobody at it.
This one quits then, as a terminal desk does when its SSH connection drops.
"""

from __future__ import annotations

import os
import selectors
import sys
from codecs import getincrementaldecoder
from traceback import format_exc

from textual import log, messages
from textual.drivers._byte_stream import ByteStream
from textual.drivers.web_driver import WebDriver, _ExitInput

from .driver import ESC_POLL_S, IDLE_POLL_S, LATIN1_FALLBACK, DeskParser
from .launch import TEXTUAL_SERVE_DRIVER

__all__ = ["TEXTUAL_SERVE_DRIVER", "BrowserDriver"]


class BrowserDriver(WebDriver):
    def run_input_thread(self) -> None:
        """Read the server's packets and dispatch their events: Textual 8.2's own loop
        (WebDriver.run_input_thread with its InputReader; textual is pinned), with the desk's
        parser and a shorter wait while it holds a prefix."""
        assert sys.__stdin__ is not None
        fileno = sys.__stdin__.fileno()
        parser = DeskParser(debug=self._debug)
        decode = getincrementaldecoder("utf-8")(LATIN1_FALLBACK).decode
        # the server sends the page's keys and its own messages as packets (web_driver's framing)
        byte_stream = ByteStream()
        with selectors.DefaultSelector() as selector:
            selector.register(fileno, selectors.EVENT_READ)
            try:
                while not self.exit_event.is_set():
                    if selector.select(ESC_POLL_S if parser.waiting else IDLE_POLL_S):
                        data = os.read(fileno, 4096)
                        if not data:  # the server's pipe closed
                            break
                        for packet_type, payload in byte_stream.feed(data):
                            if packet_type == "D":  # the page's keys
                                for event in parser.feed(decode(payload)):
                                    self.process_message(event)
                            else:
                                self._on_meta(packet_type, payload)
                    for event in parser.tick():  # a lone Esc resolved once ESCDELAY is over
                        self.process_message(event)
            except _ExitInput:  # the server says the app has exited
                pass
            except Exception:  # noqa: BLE001 - as Textual's: logged, and the app quits below
                log(format_exc())
        if not self.exit_event.is_set():  # input ended, not the app: the server is gone
            self._app.post_message(messages.ExitApp())
