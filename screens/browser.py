"""The desk's driver in a web browser (``kiosk serve-desk``): Textual's web driver, which also ends
the app when the server's pipe closes.

textual-serve tells an app to quit when its browser goes; if the server itself is killed, the app
only sees its standard input end, and Textual's driver would leave it running with nobody at it.
This one quits then, as a terminal desk does when its SSH connection drops.

Its keys are read by the terminal desk's parser (screens/driver.py, ``DeskParser``): whatever a
page sends on its websocket that is not a key is dropped, not typed into a field, and a kitty key
Textual's parser raises on no longer ends the session. Textual's web driver names its parser as a
module global in the one function that reads the page's input; a browser desk's process runs
that driver alone, so the global is the parser's one patch point.
"""

from __future__ import annotations

from textual import messages
from textual.drivers import web_driver
from textual.drivers.web_driver import WebDriver

from .driver import DeskParser
from .launch import TEXTUAL_SERVE_DRIVER

web_driver.XTermParser = DeskParser  # type: ignore[misc]

__all__ = ["TEXTUAL_SERVE_DRIVER", "BrowserDriver"]


class BrowserDriver(WebDriver):
    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # input ended, not the app: the server is gone
            self._app.post_message(messages.ExitApp())
