"""The `kiosk` console script: the command line from kiosk.cli, with the UI to start."""

from __future__ import annotations

import sys


def start_app(config) -> None:
    from .app import run_app

    run_app(config)


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import main as cli_main

    return cli_main(argv, start_app=start_app)


if __name__ == "__main__":
    sys.exit(main())
