"""Which desk this is (D1): a named terminal with its own printer, slip layout and language.

The name comes from, first to last: ``--terminal``; ``KIOSK_TERMINAL`` (which an SSH key's
``environment=`` option, or ``SetEnv`` in an sshd ``Match`` block, sets per desk); the SSH
connection's source address (or a browser desk's, which ``kiosk serve-desk`` passes in
``KIOSK_DESK_ADDRESS``) matched against each ``[terminals.NAME] addresses``; for a desk none of
those names, the host name and that address (``kiosk01-10.1.2.9``: each such desk its own, the
same at every sign-in); else (a console on the server itself) the host name. The chosen
name is what the guessing limits count per terminal (S8, S12) and what every audit event records.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import quote, urlunsplit

from kiosk import security
from kiosk.config import LANGUAGES, TERMINAL_NAME, Config, ConfigError, TerminalConfig

_language = ["en"]  # this desk's default language (D1); one process is one desk
# The browser's address of a browser desk's session, set by ``kiosk serve-desk`` (D1)
DESK_ADDRESS = "KIOSK_DESK_ADDRESS"


def http_url(host: str, port: int) -> str:
    """The address a server listening on ``host``:``port`` says it is at: an IPv6 address in
    brackets (``http://[::]:8810``, not ``http://:::8810``), its zone as ``%25`` (RFC 6874)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        shown = host  # a name: localhost, kiosk01.example.org
    else:
        shown = f"[{quote(str(address), safe=':')}]" if address.version == 6 else str(address)
    return urlunsplit(("http", f"{shown}:{port}", "", "", ""))


def ssh_client(env: Mapping[str, str]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The desk's address: the SSH client's (``SSH_CONNECTION`` is "client-ip client-port
    server-ip server-port"), else a browser desk's (``KIOSK_DESK_ADDRESS``), an IPv4 client on an
    IPv6 socket as IPv4; None for a console on the server itself."""
    words = (env.get("SSH_CONNECTION", "") or env.get(DESK_ADDRESS, "")).split()
    try:
        client = ipaddress.ip_address(words[0]) if words else None
    except ValueError:
        return None
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        return client.ipv4_mapped
    return client


def unnamed_ssh_desk(env: Mapping[str, str]) -> str:
    """D1: the name of an SSH desk that no key, Match block or ``addresses`` names: the host name
    and the client's address, so two such desks are not one terminal in the audit and the guessing
    limits. Readable, and stable while the desk keeps its address (not its port, which changes
    each time); an IPv6 address's colons become '-' (a terminal name has none). "" outside SSH."""
    client = ssh_client(env)
    if client is None:
        return ""
    address = str(client).split("%")[0].replace(":", "-")
    scope = client.scope_id if isinstance(client, ipaddress.IPv6Address) else None
    if scope:  # a link-local desk (fe80::1%eth0): '%' is no name's, and the link is the desk's own
        address += "_" + (scope if _SCOPE.fullmatch(scope) else _digest(scope))
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", security.host_name())
    return f"{host[: 63 - len(address)]}-{address}"


# An interface name as Linux spells them (IFNAMSIZ: at most 15); any other scope (a number on
# some systems, or whatever a client's address claims) is named by a digest, so it stays safe,
# short and the same at every sign-in.
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")


def _digest(scope: str) -> str:
    return hashlib.blake2s(scope.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()


def from_ssh_address(config: Config, env: Mapping[str, str]) -> str:
    """The terminal whose ``addresses`` hold the SSH client's address; "" when none does."""
    client = ssh_client(env)
    if client is None:
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
            "--terminal",
            f"a terminal name is at most 64 letters, digits, '.', '_' or '-', not {option!r}",
        )
    name = option or config.terminal or from_ssh_address(config, env)
    if not name:  # not one of [terminals]: its own name, the printer and language of [printer]
        return replace(config, terminal=unnamed_ssh_desk(env) or security.default_terminal())
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
