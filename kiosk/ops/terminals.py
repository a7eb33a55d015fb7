"""Which desk this is (D1): a named terminal with its own printer, slip layout and language.

The name comes from, first to last: ``--terminal``; ``KIOSK_TERMINAL`` (which an SSH key's
``environment=`` option, or ``SetEnv`` in an sshd ``Match`` block, sets per desk); the SSH
connection's source address matched against each ``[terminals.NAME] addresses``; else the host
name. The chosen name is what the guessing limits count per terminal (S8, S12) and what every
audit event records.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import replace

from kiosk import security
from kiosk.config import LANGUAGES, TERMINAL_NAME, Config, ConfigError, TerminalConfig

_language = ["en"]  # this desk's default language (D1); one process is one desk


def from_ssh_address(config: Config, env: Mapping[str, str]) -> str:
    """The terminal whose ``addresses`` hold the SSH client's address (``SSH_CONNECTION`` is
    "client-ip client-port server-ip server-port"); "" when none does."""
    words = env.get("SSH_CONNECTION", "").split()
    if not words:
        return ""
    try:
        client = ipaddress.ip_address(words[0])
    except ValueError:
        return ""
    for name, desk in config.terminals.items():
        if any(client in ipaddress.ip_network(a, strict=False) for a in desk.addresses):
            return name
    return ""


def choose(
    config: Config, option: str | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """``config`` for this desk: its terminal name set and its printer, layout and language applied.
    A name that is not among configured ``[terminals]`` is refused (a typo would print elsewhere)."""
    env = os.environ if env is None else env
    if option is not None and not TERMINAL_NAME.fullmatch(option):
        raise ConfigError(
            "--terminal", f"a terminal name is letters, digits, '.', '_' or '-', not {option!r}"
        )
    name = option or config.terminal or from_ssh_address(config, env)
    if not name:
        return replace(config, terminal=security.default_terminal())
    desk = config.terminals.get(name)
    if desk is None:
        if config.terminals:
            raise ConfigError(
                "terminal",
                f"there is no [terminals.{name}] (configured: "
                f"{', '.join(sorted(config.terminals))})",
            )
        desk = TerminalConfig()
    printer = replace(
        config.printer,
        name=desk.printer or config.printer.name,
        layout=desk.layout or config.printer.layout,
    )
    return replace(
        config, terminal=name, printer=printer, language=desk.language or config.language
    )


def use(config: Config) -> None:
    """Make ``config.terminal`` the terminal this process records and counts (S8, S12, D1), and its
    language the one slips and messages use for a family without one (I1)."""
    if config.terminal:
        security.set_terminal(config.terminal)
    _language[0] = config.language or LANGUAGES[0]


def default_language() -> str:
    return _language[0]
