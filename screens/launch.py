"""The `kiosk` console script: the command line from kiosk.cli, with the UI to start."""

from __future__ import annotations

import os
import sys

ESCDELAY_MS = 25


def start_app(config) -> None:
    # Before Textual is imported (textual.constants reads it once): how long a lone Esc is
    # waited on before it is taken as the key (screens/driver.py says why 25 ms)
    os.environ.setdefault("ESCDELAY", str(ESCDELAY_MS))
    from .app import run_app

    run_app(config)


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import main as cli_main

    return cli_main(argv, start_app=start_app)


if __name__ == "__main__":
    sys.exit(main())
