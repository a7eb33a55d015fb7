"""D1: named terminals with their own printer, layout and language, chosen by option, variable or
SSH address, recorded by every audit event; and the OpenSSH recipe, run through a real sshd."""

import itertools
import json
import os
import pty
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kiosk import audit, security
from kiosk.config import ConfigError, config_from_mapping, load_config
from kiosk.ops import terminals
from kiosk.store.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent
DESKS = {
    "terminals": {
        "front-1": {"printer": "front-laser", "language": "en"},
        "checkout": {
            "printer": "receipt-q",
            "layout": "receipt",
            "language": "es",
            "addresses": ["10.1.2.8", "10.1.3.0/24"],
        },
    },
    "printer": {"name": "office"},
}


@pytest.fixture(autouse=True)
def _forget_terminal():
    yield
    security._terminal.clear()
    terminals._language[0] = "en"


def test_d1_terminal_settings_are_read_and_checked():
    config = config_from_mapping(DESKS)
    assert config.terminals["checkout"].addresses == ("10.1.2.8", "10.1.3.0/24")
    for bad, key in (
        ({"terminals": {"x": {"layout": "poster"}}}, "terminals.x.layout"),
        ({"terminals": {"x": {"addresses": ["not-an-ip"]}}}, "terminals.x.addresses"),
        ({"terminals": {"x": {"language": "tlh"}}}, "terminals.x.language"),
        ({"terminals": {"x y": {}}}, "terminals.x y"),
        ({"terminals": {"x": {"queue": "p"}}}, "terminals.x.queue"),
    ):
        with pytest.raises(ConfigError) as caught:
            config_from_mapping(bad)
        assert caught.value.key == key


def test_d1_the_deploy_example_config_is_valid():
    config = load_config(ROOT / "deploy" / "config.example.toml", env={})
    assert set(config.terminals) == {"front-1", "checkout"}


@pytest.mark.parametrize(
    "option, env, name, printer, layout",
    [
        (
            "front-1",
            {"SSH_CONNECTION": "10.1.2.8 5 10.0.0.1 22"},
            "front-1",
            "front-laser",
            "letter",
        ),
        (None, {"SSH_CONNECTION": "10.1.3.77 5 10.0.0.1 22"}, "checkout", "receipt-q", "receipt"),
        (
            None,
            {"SSH_CONNECTION": "192.168.9.9 5 10.0.0.1 22"},
            f"{socket.gethostname()}-192.168.9.9",
            "office",
            "letter",
        ),
        (None, {}, socket.gethostname()[:64], "office", "letter"),  # at the server's own console
    ],
)
def test_d1_the_terminal_is_chosen_by_option_then_variable_then_ssh_address(
    option, env, name, printer, layout
):
    config = terminals.choose(config_from_mapping(DESKS), option, env)
    assert (config.terminal, config.printer.name, config.printer.layout) == (name, printer, layout)


def test_d1_each_unnamed_ssh_desk_has_a_name_of_its_own_and_keeps_it():
    """No key, Match block or addresses names these desks: each is the host and its address,
    the same at every connection (the port changes, the name does not), a valid terminal name
    for IPv6 and IPv4-on-IPv6 clients too; and with [terminals] configured it is not refused."""
    from kiosk.config import TERMINAL_NAME

    def name(connection: str, settings: dict | None = None) -> str:
        config = config_from_mapping(settings or {})
        return terminals.choose(config, None, {"SSH_CONNECTION": connection}).terminal

    host = socket.gethostname()
    first, again = name("10.1.2.9 50211 10.0.0.1 22"), name("10.1.2.9 61544 10.0.0.1 22")
    assert first == again == f"{host}-10.1.2.9" != name("10.1.2.10 50211 10.0.0.1 22")
    assert name("::ffff:10.1.2.9 50211 ::ffff:10.0.0.1 22") == first
    assert name("2001:db8::5 50211 2001:db8::1 22") == f"{host}-2001-db8--5"
    assert name("10.1.2.9 50211 10.0.0.1 22", DESKS) == first  # not one of DESKS: its own name
    assert name("10.1.3.77 5 10.0.0.1 22", DESKS) == "checkout"  # its address names it
    assert name("not-an-address 5 10.0.0.1 22") == host[:64]
    for connection in ("10.1.2.9 1 10.0.0.1 22", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff 1 ::1 22"):
        assert TERMINAL_NAME.fullmatch(name(connection))


async def test_d1_an_unnamed_ssh_desk_is_shown_and_audited_under_its_own_name(config, front_desk):
    """The desk's name is in the header of its screens (80x24) and in the audit of what it does."""
    from kiosk_screens.widgets import DeskHeader

    from conftest import desk_app, settle

    desk_config = terminals.choose(config, None, {"SSH_CONNECTION": "10.1.2.9 50211 10.0.0.1 22"})
    terminals.use(desk_config)
    expected = f"{socket.gethostname()}-10.1.2.9"
    app = desk_app(desk_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert expected in str(app.screen.query_one(DeskHeader).render())
    event = audit.record(audit.VIEW, staff="maria")
    assert json.loads(event.detail)["terminal"] == expected


@pytest.mark.parametrize("width, shown", [(80, False), (120, True)])
async def test_d1_the_header_names_the_printer_whole_or_not_at_all(
    config, front_desk, width, shown
):
    """At 80 columns the sign-in's header read "printer f… front-1": the printer cut to one letter
    beside the desk's name, as if front-1 were the printer. The printer is named whole where it
    fits, else left out; the desk's name is always there."""
    from kiosk_screens.widgets import DeskHeader

    from conftest import desk_app, settle

    printer = replace(config.printer, name="front-laser")
    app = desk_app(replace(config, terminal="front-1", printer=printer))
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(app, pilot)
        header = str(app.screen.query_one(DeskHeader).render())
    assert "front-1 · Not signed in" in header and "f…" not in header, header
    assert ("printer front-laser" in header) is shown, header


def test_d1_kiosk_terminal_variable_names_the_desk():
    config = load_config(None, env={"KIOSK_TERMINAL": "checkout", "KIOSK_CONFIG": ""})
    config = terminals.choose(config_from_mapping({**DESKS, "terminal": config.terminal}), None, {})
    assert config.terminal == "checkout" and config.language == "es"


def test_d1_an_unknown_terminal_is_refused_when_terminals_are_configured():
    with pytest.raises(ConfigError, match=r"no \[terminals.front-9\]"):
        terminals.choose(config_from_mapping(DESKS), "front-9", {})
    with pytest.raises(ConfigError):
        terminals.choose(config_from_mapping(DESKS), "bad name;rm", {})


def test_d1_a_name_too_long_is_refused_saying_how_long_a_name_may_be():
    """A 65-character KIOSK_TERMINAL or --terminal was refused as not "letters, digits, '.', '_'
    or '-'", which it was: the message now gives the length too; 64 is a name."""
    longest = "a" * 64
    assert terminals.choose(config_from_mapping({}), longest, {}).terminal == longest
    with pytest.raises(ConfigError, match="at most 64"):
        terminals.choose(config_from_mapping({}), longest + "a", {})
    with pytest.raises(ConfigError, match="at most 64"):
        load_config(None, env={"KIOSK_TERMINAL": longest + "a", "KIOSK_CONFIG": ""})


def test_d1_every_audit_event_records_the_terminal_under_the_chain(store):
    terminals.use(terminals.choose(config_from_mapping(DESKS), "checkout", {}))
    event = audit.record(audit.VIEW, staff="maria")
    assert (
        json.loads(event.detail)["terminal"] == "checkout"
        and security.default_terminal() == "checkout"
    )
    assert audit.verify_chain() == []
    AuditEvent.update(detail=event.detail.replace("checkout", "front-1")).where(
        AuditEvent.id == event.id
    ).execute()
    assert [p.seq for p in audit.verify_chain()] == [event.seq]  # the hash covers the terminal


# -- the OpenSSH recipe, through a real sshd on loopback ------------------------------------------
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _events(db: Path, action: str) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            json.loads(d)
            for (d,) in con.execute("SELECT detail FROM audit_event WHERE action = ?", (action,))
        ]
    finally:
        con.close()


@pytest.mark.skipif(
    SSHD is None or not shutil.which("ssh"), reason="no OpenSSH server here (CI installs it)"
)
def test_d1_a_desk_over_ssh_signs_in_as_its_terminal_with_its_printer(tmp_path):
    """deploy/sshd_kiosk.conf's rules on a throwaway sshd: the key's environment= names the desk, the
    ForceCommand runs kiosk in the pty ssh -tt asks for; maria signs in; the audit records front-1
    and the header shows front-1's printer."""
    from kiosk.config import Config
    from kiosk.ops.training import load_training_data
    from kiosk.store.db import close_database
    from kiosk.store.practice import open_store

    user = os.environ.get("USER") or __import__("getpass").getuser()
    db = tmp_path / "kiosk.sqlite3"
    open_store(Config(database=str(db)))
    load_training_data()
    close_database()
    (tmp_path / "kiosk.toml").write_text(
        f'database = "{db}"\n[terminals.front-1]\nprinter = "front-laser"\n'
        '[terminals.checkout]\nprinter = "receipt-q"\n',
        encoding="utf-8",
    )
    for name in ("host", "desk", "unnamed"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True
        )
    (tmp_path / "authorized_keys").write_text(
        'environment="KIOSK_TERMINAL=front-1",restrict,pty '
        + (tmp_path / "desk.pub").read_text()
        + "restrict,pty "
        + (tmp_path / "unnamed.pub").read_text()  # names no terminal
    )
    (tmp_path / "authorized_keys").chmod(0o600)
    launcher = tmp_path / "kiosk-desk"
    launcher.write_text(
        f"#!/bin/sh\nexport PYTHONPATH={ROOT} TEXTUAL_ANIMATIONS=none HOME={tmp_path}\n"
        f"exec {sys.executable} -m kiosk_screens.launch\n"
    )
    launcher.chmod(0o755)
    recipe = (ROOT / "deploy" / "sshd_kiosk.conf").read_text(encoding="utf-8")
    recipe = (
        recipe.replace("Match User kiosk", f"Match User {user}")
        .replace("ForceCommand /usr/local/bin/kiosk", f"ForceCommand {launcher}")
        .replace("KIOSK_CONFIG=/etc/kiosk/config.toml", f"KIOSK_CONFIG={tmp_path / 'kiosk.toml'}")
    )
    port = _free_port()
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        f"PermitRootLogin prohibit-password\n{recipe}"
    )
    Path("/run/sshd").mkdir(exist_ok=True) if os.geteuid() == 0 else None
    server = subprocess.Popen(
        [SSHD, "-D", "-E", str(tmp_path / "sshd.log"), "-f", str(tmp_path / "sshd_config")]
    )
    main, child = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(
        child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0)
    )  # room for the whole header
    client = None
    try:
        listening = time.monotonic() + 60  # a loaded CI machine starts sshd slowly
        while time.monotonic() < listening:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        options = ["-i", str(tmp_path / "desk"), "-o", "StrictHostKeyChecking=no"]
        options += ["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"]
        options += ["-o", "LogLevel=ERROR"]
        # ForceCommand: what the client asks for is ignored
        client = _ssh_in_pty(child, port, [*options, f"{user}@127.0.0.1", "anything-else"])
        screen = _read_until(main, b"your kiosk username", client)
        os.write(main, b"maria\r")
        time.sleep(0.5)
        os.write(main, b"training1\r")
        deadline = time.monotonic() + 60
        while not _events(db, audit.SIGN_IN) and time.monotonic() < deadline:
            screen += _drain(main)
            time.sleep(0.2)
        screen += _drain(main)
        os.write(main, b"\x11")  # ctrl+q
        client.wait(timeout=30)
        refused = _refusals(port, options, f"{user}@127.0.0.1")
        unnamed = _sign_in_screen(port, [*options[2:], "-i", str(tmp_path / "unnamed")], user)
    finally:
        if client and client.poll() is None:
            client.kill()
        server.terminate()
        server.wait(timeout=10)
        os.close(main)
    signed_in = _events(db, audit.SIGN_IN)
    assert signed_in and signed_in[-1]["terminal"] == "front-1", (tmp_path / "sshd.log").read_text()
    text = screen.decode("utf-8", "replace")
    assert "front-1" in text and "front-laser" in text  # the header: which desk, which printer
    # a key that names no desk: the host and the client's address, not the host alone
    assert f"{socket.gethostname()}-127.0.0.1" in unnamed, unnamed
    assert refused == {
        "command": (False, True),
        "forwarding": (False, False),
        "sftp": (False, False),
    }, refused


def _ssh_in_pty(child: int, port: int, args: list[str]) -> subprocess.Popen:
    """ssh -tt to ``port`` with ``args``, on the pty whose other end is ``child`` (closed here)."""
    client = subprocess.Popen(
        ["ssh", "-tt", "-p", str(port), *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env=dict(os.environ, TERM="xterm-256color"),
        start_new_session=True,
    )
    os.close(child)
    return client


def _sign_in_screen(port: int, options: list[str], user: str) -> str:
    """What a desk's pty shows up to its sign-in, through ssh -tt with ``options``; then ctrl+q."""
    main, child = pty.openpty()
    client = _ssh_in_pty(child, port, [*options, f"{user}@127.0.0.1"])
    try:
        screen = _read_until(main, b"your kiosk username", client)
        os.write(main, b"\x11")  # ctrl+q
        client.wait(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
        os.close(main)
    return screen.decode("utf-8", "replace")


def _refusals(port: int, options: list[str], where: str) -> dict[str, tuple[bool, bool]]:
    """D1: what the recipe leaves a desk's key besides the app: for a command without a pty, a
    port forward and sftp, (whether it worked, whether kiosk said it needs a terminal). Each call
    must end by itself: an app left drawing into a session with no terminal would hang it."""

    def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=30)

    tries = {
        "command": run(["ssh", "-T", "-p", str(port), *options, where, "id"]),
        "forwarding": run(["ssh", "-W", f"127.0.0.1:{port}", "-p", str(port), *options, where]),
        "sftp": run(["sftp", "-b", "-", "-P", str(port), *options, where], stdin="ls /\n"),
    }
    return {
        name: (done.returncode == 0 or "uid=" in done.stdout, "needs a terminal" in done.stderr)
        for name, done in tries.items()
    }


def _drain(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.05)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def _read_until(fd: int, wanted: bytes, client: subprocess.Popen, seconds: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        seen += _drain(fd)
        assert client.poll() is None or wanted in seen, seen.decode("utf-8", "replace")[-2000:]
    assert wanted in seen, seen.decode("utf-8", "replace")[-2000:]
    return seen


@pytest.mark.skipif(SSHD is None, reason="no OpenSSH server here (CI installs it)")
def test_d1_the_recipes_address_block_names_the_desk_and_keeps_the_config(tmp_path):
    """deploy/sshd_kiosk.conf's commented block for a desk known by its address, switched on: sshd
    keeps only the first SetEnv that matches, so the block must come first and carry KIOSK_CONFIG
    too, or the desk would be nameless (or configless)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host")], check=True
    )
    recipe = (ROOT / "deploy" / "sshd_kiosk.conf").read_text(encoding="utf-8")
    on = recipe.replace("#Match User kiosk Address", "Match User kiosk Address")
    on = on.replace("#    SetEnv KIOSK_CONFIG=", "    SetEnv KIOSK_CONFIG=")
    assert on != recipe
    (tmp_path / "sshd_config").write_text(f"HostKey {tmp_path / 'host'}\nUsePAM no\n{on}")
    desk = _effective(tmp_path / "sshd_config", "kiosk", "10.1.2.7")
    other = _effective(tmp_path / "sshd_config", "kiosk", "10.1.2.99")
    config = "KIOSK_CONFIG=/etc/kiosk/config.toml"
    assert desk["setenv"].split() == [config, "KIOSK_TERMINAL=front-2"]
    assert other["setenv"].split() == [config]
    for seen in (desk, other):
        assert seen["forcecommand"] == "/usr/local/bin/kiosk" and seen["disableforwarding"] == "yes"


def _effective(config: Path, user: str, address: str) -> dict[str, str]:
    """What sshd -T says ``config`` sets for ``user`` connecting from ``address``, by keyword."""
    done = subprocess.run(
        [SSHD or "sshd", "-T", "-f", str(config), "-C", f"user={user},host=d,addr={address}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    said: dict[str, str] = {}
    for key, _, value in (line.partition(" ") for line in done.stdout.splitlines()):
        said[key] = f"{said[key]} {value}" if key in said else value  # one line per variable
    return said


@pytest.mark.skipif(SSHD is None, reason="no OpenSSH server here (CI installs it)")
def test_d1_the_recipe_gives_a_desk_one_session_per_connection(tmp_path):
    """One key could open any number of desks: ten sessions over each connection (sshd's default
    MaxSessions, through ControlMaster) and unauthenticated connections up to 100. The kiosk account
    gets one session per connection; the server's other accounts keep sshd's default; MaxStartups,
    the whole server's, caps the connections still signing in."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host")], check=True
    )
    recipe = (ROOT / "deploy" / "sshd_kiosk.conf").read_text(encoding="utf-8")
    (tmp_path / "sshd_config").write_text(f"HostKey {tmp_path / 'host'}\nUsePAM no\n{recipe}")
    desk = _effective(tmp_path / "sshd_config", "kiosk", "10.1.2.7")
    admin = _effective(tmp_path / "sshd_config", "admin", "10.1.2.7")
    assert desk["maxsessions"] == "1" and admin["maxsessions"] == "10"
    assert desk["maxstartups"] == admin["maxstartups"] == "10:30:60"


def test_d1_the_limits_file_holds_the_kiosk_account_to_a_few_desks():
    """The per-account limit sshd cannot set: pam_limits' maxlogins for the kiosk group, in the
    syntax limits.d reads (domain, type, item, value), installed where the README says."""
    lines = (ROOT / "deploy" / "limits_kiosk.conf").read_text(encoding="utf-8").splitlines()
    rules = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    assert [rule[:3] for rule in rules] == [["@kiosk", "hard", "maxlogins"]]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "deploy/limits_kiosk.conf /etc/security/limits.d/kiosk.conf" in readme
    # the number the admin reads in the README is the one the file sets
    assert rules[0][3] == "16" and "at most 16 desks signed in at once" in readme


def test_d1_the_app_without_a_terminal_says_so_and_ends(tmp_path):
    """An SSH session without a pty (ssh -T, a command, scp, sftp) runs the ForceCommand with pipes:
    kiosk says it needs a terminal and ends, and training leaves nothing behind (D2)."""
    from conftest import fresh_user_env, run_python

    env = fresh_user_env(tmp_path, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    done = run_python("-m", "kiosk_screens.launch", "--training", env=env, cwd=tmp_path)
    assert done.returncode != 0 and "needs a terminal" in done.stderr, done.stderr
    assert "\x1b[" not in done.stdout and not list(tmp_path.glob("kiosk-training-*"))


def test_d1_a_desk_draws_in_utf8_whatever_locale_its_ssh_client_sent(tmp_path):
    """Debian's ssh sends LANG and sshd accepts it: a client's LANG=es_ES.ISO-8859-1 made Python
    write the screen in Latin-1, and every box, bar and dash came out as \\u2500 text.
    PYTHONIOENCODING stands in for that locale (which a test machine may not have)."""
    from desk_terminal import DeskTerminal

    terminal = DeskTerminal(["--training"], tmp_path, env={"PYTHONIOENCODING": "latin-1"})
    try:
        terminal.wait_for("Staff sign-in", "your kiosk username")
        assert "\\u2" not in terminal.text and "─" in terminal.text, terminal.text
    finally:
        terminal.close()


def test_d1_a_key_that_is_not_utf8_types_its_latin1_letter_and_the_desk_stays_up(tmp_path):
    """A reception PC whose terminal sends Latin-1 typed "é" as the one byte 0xE9: Textual's input
    thread stopped with UnicodeDecodeError and the desk went down with its work."""
    from desk_terminal import DeskTerminal

    terminal = DeskTerminal(["--training"], tmp_path)
    try:
        terminal.wait_for("your kiosk username")
        os.write(terminal.fd, b"Jos\xe9 \xff")
        terminal.press("x")
        terminal.wait_for("José ÿx")
        terminal.settle()
        assert "Traceback" not in terminal.text and "Staff sign-in" in terminal.text
    finally:
        terminal.close()


async def test_d1_a_click_beyond_the_screen_leaves_the_field_the_desk_types_in(training, config):
    """Over SSH a terminal can report a click beyond the screen the app knows of (resized a moment
    before the app hears of it, or a garbled or hostile report): the sign-in keeps its username
    field focused, and what is typed next lands there, not nowhere."""
    from textual import events
    from textual.widgets import Input

    from conftest import desk_app, settle

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        field = app.screen.query_one("#username", Input)
        assert app.screen.focused is field
        for kind in (events.MouseDown, events.MouseUp, events.Click):
            app.post_message(kind(None, 81, 10, 0, 0, 1, False, False, False, 81, 10))
        app.post_message(events.MouseDown(None, 99999, 99999, 0, 0, 1, False, False, False))
        await settle(app, pilot)
        await pilot.press(*"maria")
        await settle(app, pilot)
        assert app.screen.focused is field and field.value == "maria"


_scopes = st.none() | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="%"), min_size=1, max_size=40
).filter(lambda s: not any(c.isspace() for c in s))


@given(address=st.ip_addresses(), scope=_scopes, port=st.integers(1, 65535))
def test_d1_an_unnamed_desk_is_named_safely_and_stably_from_any_address(address, scope, port):
    """D1: whatever address the SSH connection came from (IPv4, IPv6, IPv4-on-IPv6, a link-local
    one with its interface, fe80::1%eth0, or any scope a client claims), the desk's name is a valid
    terminal name (no '%', nothing a header or the audit would misread), the same at every port,
    and two desks on different links or addresses are not one terminal."""
    from kiosk.config import TERMINAL_NAME

    def desk(text: str, port: int = 22) -> str:
        env = {"SSH_CONNECTION": f"{text} {port} 10.0.0.1 22"}
        return terminals.choose(config_from_mapping({}), None, env).terminal

    text = str(address) + (f"%{scope}" if scope and address.version == 6 else "")
    name = desk(text, port)
    assert TERMINAL_NAME.fullmatch(name) and name == desk(text), name
    other = f"{address}%{scope or ''}x"
    if (
        address.version == 6
        and address.ipv4_mapped is None
        and terminals.ssh_client({"SSH_CONNECTION": f"{other} 5 ::1 22"})
    ):
        assert desk(other) != name


def test_d1_a_link_local_desk_is_named_after_its_address_and_link():
    host = socket.gethostname()
    assert terminals.unnamed_ssh_desk({"SSH_CONNECTION": "fe80::1%eth0 5 fe80::2%eth0 22"}) == (
        f"{host}-fe80--1_eth0"
    )


# -- what a terminal (or whoever writes into the SSH channel) sends that is not a key -------------
_ST = st.sampled_from(["\x07", "\x1b\\", "\x9c", "\x18", "\x1a"])
_payload = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
_control_strings = st.builds(
    lambda opener, payload, end: opener + payload + end,
    st.sampled_from(["\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\x9d", "\x90", "\x9f"]),
    _payload,
    _ST,
)
_csi = st.builds(
    lambda opener, params, middle, final: opener + params + middle + final,
    st.sampled_from(["\x1b[", "\x9b"]),
    st.text(st.characters(min_codepoint=0x30, max_codepoint=0x3F), max_size=80),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2F), max_size=3),
    st.characters(min_codepoint=0x40, max_codepoint=0x7E),
)
_escapes = st.builds(
    lambda middle, final: "\x1b" + middle + final,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2F), min_size=1, max_size=3),
    st.characters(min_codepoint=0x30, max_codepoint=0x7E),
)
_typed = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=20,
)


def _typed_by(parser, chunks: list[str]) -> str:
    from textual import events

    keys = [e for chunk in chunks for e in parser.feed(chunk)] + list(parser.feed(""))
    return "".join(e.character for e in keys if isinstance(e, events.Key) and e.is_printable)


def _unknown(sequence: str) -> bool:
    from kiosk_screens.driver import DeskParser

    sequence = sequence.replace("\x9b", "\x1b[")  # no part of it a key: ESC - is one in Textual
    if sequence == "\x1b[M":  # an X10 mouse report's start: three bytes follow
        return False
    return not any(DeskParser()._understood(sequence[:end]) for end in range(2, len(sequence) + 1))


@given(
    pieces=st.lists(
        st.one_of(_typed, _control_strings, _csi, _escapes),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 4000), max_size=6),
)
def test_d1_no_sequence_a_terminal_sends_is_typed_and_no_typed_key_is_lost(pieces, cuts):
    """D1: replies and unknown sequences (OSC 52 with a clipboard, DCS, APC, PM, SOS, with BEL,
    ST, CAN or SUB at their end, 7- or 8-bit; CSI and ESC sequences Textual has no meaning for,
    however long), between and around what the desk types and cut anywhere into reads, leave
    exactly the typed text: none of theirs reaches a field, none of the desk's is swallowed."""
    from kiosk_screens.driver import DeskParser

    assume(all(_unknown(p) for p in pieces if p[0] in "\x1b\x9b"))
    stream = "".join(pieces)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    typed = "".join(p for p in pieces if not p.startswith(("\x1b", "\x9b", "\x9d", "\x90", "\x9f")))
    assert _typed_by(DeskParser(), chunks) == typed


def test_d1_keys_mouse_reports_and_pastes_still_read_as_textual_reads_them():
    """The gate passes on what Textual understands: arrows, function keys (xterm, SS3, the Linux
    console's), kitty keys, Esc, alt+key, a mouse click, cursor and mode reports, a paste (with
    any escape sequence inside it dropped)."""
    from textual import events, messages

    from kiosk_screens.driver import DeskParser

    parser = DeskParser()
    seen = list(parser.feed("\x1b[A\x1b[15~\x1bOP\x1b[[A\x1b[97;5u\x1b[<0;5;5M\x1b[<0;5;5m"))
    seen += parser.feed("\x1b[3;4R\x1b[?2026;2$y\x1b[200~Jos\x1b]0;x\x07\xe9\x1b[201~\x1bx\x1b\x1b")
    seen += parser.feed("")  # the end of input: a lone Esc is the key
    assert [e.key if isinstance(e, events.Key) else type(e) for e in seen] == [
        "up",
        "f5",
        "f1",
        "f1",
        "ctrl+a",
        events.MouseDown,
        events.MouseUp,
        events.CursorPosition,
        messages.TerminalSupportsSynchronizedOutput,
        events.Paste,
        "alt+x",
        "escape",
        "escape",
    ]
    assert next(e for e in seen if isinstance(e, events.Paste)).text == "José"


def test_d1_after_a_reply_cut_short_the_desk_keys_are_read(monkeypatch):
    """A reply that stops halfway (its packet lost, or sent so) is dropped at the first pause, its
    tail too when it comes (cut right after its opener, the opener alone is alt+key); a broken CSI
    likewise; the Esc key, alt+key and typing after them are read as keys. A clock of the test's
    own stands for the pauses."""
    from textual import events

    from kiosk_screens import driver

    clock = [0.0]
    monkeypatch.setattr(driver, "get_time", lambda: clock[0])
    parser = driver.DeskParser()

    def keys(data: str) -> list[str]:
        return [e.key for e in parser.feed(data) if isinstance(e, events.Key)]

    def pause() -> list[str]:
        clock[0] += 1.0
        return [e.key for e in parser.tick() if isinstance(e, events.Key)]

    assert keys("\x1b]11;rgb:0/0/0\x1b") + pause() == []  # ST cut after its ESC
    assert keys("\x1b") + pause() == ["escape"]
    assert keys("\x1b]52;c;QUJD") + pause() + keys("QUJDQUJD\x07") + keys("a") == ["a"]
    assert keys("\x1bP1$r0m") + pause() + keys("b") == ["b"]
    assert keys("\x1b[1;") + pause() + keys("c") == ["c"]
    assert keys("\x1b") + keys("x") + keys("\x1b[") + pause() == ["alt+x", "left_square_bracket"]
    # cut right after its opener: ESC ] is alt+] by then (as Textual reads it), the rest dropped
    assert keys("\x1b]") + pause() + keys("52;c;QUJD\x07") + keys("d") == [
        "right_square_bracket",
        "d",
    ]


_presses = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E),  # a key typed
        st.sampled_from(["\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX"]),  # alt+], alt+P, ...
    ),
    min_size=1,
    max_size=12,
)


@given(
    presses=_presses,
    gaps=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=12, max_size=12),
    polls=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_d1_alt_close_bracket_alone_is_a_key_and_the_keys_typed_after_it_are_read(
    presses, gaps, polls
):
    """D1: alt+] sends ESC ], which also opens a terminal's OSC reply. It is alt+] as Textual
    reads it (likewise ESC P, _, ^ and X), and every key typed after it is read, whether the
    driver polled in the pause or not: after ESCDELAY (the desk's 25 ms), or within it, where a
    key is no part of a reply (a reply ends with BEL or ST, and no key typed does). A clock of
    the test's own stands for the pauses: each key, in a read of its own as a keyboard sends
    them, comes under STRING_PAUSE_S after the one before, a quick typist's pace or quicker."""
    from unittest import mock

    from textual import events

    from kiosk_screens import driver
    from kiosk_screens.launch import ESCDELAY_MS

    delay = ESCDELAY_MS / 1000
    clock = [0.0]
    with (
        mock.patch.object(driver, "get_time", side_effect=lambda: clock[0]),
        mock.patch.object(driver.constants, "ESCAPE_DELAY", delay),
    ):
        parser = driver.DeskParser()
        seen: list[events.Message] = []
        for press, gap, poll in zip(presses, gaps, polls, strict=False):
            clock[0] += gap * driver.STRING_PAUSE_S
            if poll:
                seen += parser.tick()
            seen += parser.feed(press)
        clock[0] += 1.0
        seen += parser.tick()
        seen += parser.feed("")
        expected = [
            (key.key, key.character)
            for press in presses
            for key in parser._sequence_to_key_events(press[-1], alt=len(press) == 2)
        ]
        assert [(e.key, e.character) for e in seen if isinstance(e, events.Key)] == expected


def test_d1_a_key_10_ms_after_alt_close_bracket_is_a_key_and_replies_are_still_dropped(
    monkeypatch,
):
    """D1: "a" 10 ms after alt+] is alt+] then "a"; an arrow key, Esc or an in-band resize that
    soon after are read too. A reply whose body comes in a later read than its ESC ] is still
    dropped once its BEL or ST comes, however it is cut. A clock of the test's own."""
    from textual import events

    from kiosk_screens import driver

    clock = [0.0]
    monkeypatch.setattr(driver, "get_time", lambda: clock[0])
    monkeypatch.setattr(driver.constants, "ESCAPE_DELAY", 0.025)
    parser = driver.DeskParser()

    def read(*chunks: str, gap: float = 0.01) -> list:
        seen = []
        for chunk in chunks:
            seen += parser.feed(chunk)
            clock[0] += gap
        clock[0] += 1.0
        return [*seen, *parser.tick()]

    def keys(*chunks: str, gap: float = 0.01) -> list[str]:
        return [e.key for e in read(*chunks, gap=gap) if isinstance(e, events.Key)]

    assert keys("\x1b]", "a") == ["right_square_bracket", "a"]
    assert keys("\x1b]", "a", "b", "\r") == ["right_square_bracket", "a", "b", "enter"]
    assert keys("\x1b]", "\x1b[A") == ["right_square_bracket", "up"]
    assert keys("\x1b]", "x", "\x1b") == ["right_square_bracket", "x", "escape"]
    assert keys("\x1bP", "q") == ["alt+shift+p", "q"]  # alt+P, as DCS opens
    [resize] = [e for e in read("\x1b]", "\x1b[48;30;100;0;0t") if isinstance(e, events.Resize)]
    assert tuple(resize.size) == (100, 30)
    # replies, their bodies in later reads than their openers, still never reach a field
    assert keys("\x1b]", "11;rgb:0/0/0\x07", "z") == ["z"]
    assert keys("\x1b]", "11;rgb:", "0/0/0\x1b", "\\", "z", gap=0.001) == ["z"]
    assert keys("\x1b]", "52;c;" + "QUJD" * 40 + "\x07", "y") == ["y"]


def test_d1_replies_sent_to_the_desk_over_a_real_pty_never_reach_the_field(tmp_path):
    """The app in a real pseudo-terminal: while maria types her name, her terminal (or anyone
    writing into the SSH channel) sends an OSC 52 clipboard reply, DCS and APC replies, a device
    attributes report, unknown CSI and ESC sequences, and kitty keys Textual's parser raised on (the
    app ended with a traceback). The field shows what she typed, nothing else; the desk stays up."""
    from desk_terminal import DeskTerminal

    terminal = DeskTerminal(["--training"], tmp_path)
    try:
        terminal.wait_for("your kiosk username")
        os.write(terminal.fd, b"ma")
        os.write(terminal.fd, b"\x1b]52;c;SGVsbG8gd29ybGQ=\x07r")
        os.write(terminal.fd, b"\x1bP1$r0;1m\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[?62;22c")
        os.write(terminal.fd, b"\x1b[99;1x\x1b(B\x1b[" + b"1;" * 40 + b"q\x1b]11;rgb:0/0/0\x1b\\i")
        os.write(terminal.fd, b"\x1b[:;1u\x1b[99999999999u")  # kitty keys Textual could not read
        terminal.press("a")
        terminal.wait_for("maria")
        terminal.settle()
        text = terminal.text
        assert "Staff sign-in" in text and "Traceback" not in text
        field = next(line for line in text.splitlines() if "maria" in line)
        assert field.split("▊")[1].split("▎")[0].strip() == "maria", text
    finally:
        terminal.close()


def test_d1_a_key_typed_right_after_alt_close_bracket_reaches_the_field_over_a_real_pty(tmp_path):
    """D1: the app in a real pseudo-terminal: maria types "ma", alt+] (ESC ], which Textual reads
    as "]"), then "r" as soon as the desk has read ESC ] (well within ESCDELAY, in a read of its
    own as a keyboard sends it), then "ia": the field shows every key, none taken for a reply."""
    import fcntl
    import struct
    import termios

    from desk_terminal import DeskTerminal

    terminal = DeskTerminal(["--training"], tmp_path)
    desk_side = None
    try:
        terminal.wait_for("your kiosk username")
        desk_side = os.open(os.readlink(f"/proc/{terminal.pid}/fd/0"), os.O_RDONLY | os.O_NOCTTY)

        def unread() -> int:  # what the desk has not read yet of what was written to it
            return struct.unpack("i", fcntl.ioctl(desk_side, termios.FIONREAD, b"\0" * 4))[0]

        terminal.press("m")
        terminal.press("a")
        terminal.wait_for("ma")
        terminal.press("\x1b]")
        # the pty hands what is written to the desk's side a moment later: once there, and then
        # read by the desk, "r" comes in a read of its own (or, on a busy machine, after ESCDELAY)
        arrived = time.monotonic() + 0.015
        while not unread() and time.monotonic() < arrived:
            time.sleep(0.0002)
        give_up = time.monotonic() + 20
        while unread() and time.monotonic() < give_up:
            time.sleep(0.0002)
        terminal.press("r")
        terminal.press("i")
        terminal.press("a")
        terminal.wait_for("ma]ria")
        terminal.settle()
        field = next(line for line in terminal.text.splitlines() if "ma]ria" in line)
        assert field.split("▊")[1].split("▎")[0].strip() == "ma]ria", terminal.text
    finally:
        if desk_side is not None:
            os.close(desk_side)
        terminal.close()


@pytest.mark.parametrize("term", ["dumb", "vt52", None])
def test_d1_a_terminal_that_cannot_draw_the_app_is_told_so_in_one_line(tmp_path, term):
    """TERM=dumb (a dumb terminal, Emacs' shell), a VT52 and no TERM at all got the app's full
    screen of ANSI escapes anyway. The desk is told in one line what it needs, no escape sequence
    is written, the app ends with a non-zero status, and training leaves nothing (D2)."""
    from desk_terminal import DeskTerminal

    terminal = DeskTerminal(["--training"], tmp_path, env={"TERM": term or ""})
    raw, give_up = b"", time.monotonic() + 20
    try:
        while time.monotonic() < give_up:  # a drawing app never stops writing (its cursor blinks)
            ready = select.select([terminal.fd], [], [], 1)[0]
            chunk = os.read(terminal.fd, 65536) if ready else b""
            if ready and not chunk:
                break
            raw += chunk
    except OSError:  # the app has ended and closed its side
        pass
    ended, status = os.waitpid(terminal.pid, os.WNOHANG)
    for _ in range(100):  # its output ended: it is ending
        if ended:
            break
        time.sleep(0.1)
        ended, status = os.waitpid(terminal.pid, os.WNOHANG)
    if not ended:  # still drawing after 20 s: it did not refuse
        terminal.close()
    else:
        os.close(terminal.fd)
    assert ended, raw.decode("utf-8", "replace")[-500:]
    said = raw.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) != 0 and "\x1b" not in said, repr(said)
    assert len(said.strip().splitlines()) == 1 and f"TERM={term or '(not set)'}" in said, said
    assert "needs a full-screen terminal" in said and "xterm-256color" in said
    assert not list(tmp_path.glob("kiosk-training-*"))  # nothing left behind


@pytest.mark.parametrize(
    "term, refused",
    [
        ("xterm-256color", False),
        ("tmux-256color", False),
        ("screen", False),
        ("linux", False),
        ("vt100", False),
        ("xterm-kitty-not-in-terminfo", False),  # a newer terminal: it speaks xterm's sequences
        ("dumb", True),
        ("unknown", True),
        ("", True),
        (None, True),
        ("vt52", True),
    ],
)
def test_d1_which_terminals_can_draw_the_app(term, refused):
    """Each in a process of its own: curses reads one terminal's terminfo entry a process."""
    from conftest import run_python

    done = run_python(
        "-c",
        "import sys; from kiosk_screens.launch import cannot_draw; "
        f"print(repr(cannot_draw({term!r}, sys.stdout.fileno())))",
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout.strip() != "''") is refused, done.stdout


@given(
    rows=st.integers(0, 10**10),
    columns=st.integers(0, 10**10),
    split=st.integers(0, 40),
)
def test_d1_an_in_band_resize_never_asks_for_more_than_the_largest_desk(rows, columns, split):
    """D1: whatever size an in-band resize (ESC [ 48 ; rows ; columns ; ... t) names, written by a
    terminal or into the SSH channel, and however it is cut into reads, the desk is drawn at most
    MAX_SIZE: Textual allocates the whole screen it is told of, in the memory all desks share."""
    from textual import events
    from textual._xterm_parser import _MAX_SEQUENCE_SEARCH_THRESHOLD

    from kiosk_screens.driver import MAX_SIZE, DeskParser

    sequence = f"\x1b[48;{rows};{columns};0;0t"
    parser = DeskParser()
    pieces = [piece for piece in (sequence[:split], sequence[split:]) if piece]
    seen = [event for piece in [*pieces, ""] for event in parser.feed(piece)]
    resizes = [event for event in seen if isinstance(event, events.Resize)]
    if len(sequence) > _MAX_SEQUENCE_SEARCH_THRESHOLD:  # longer than any sequence read: dropped
        assert resizes == []
        return
    [resize] = resizes  # read, once
    width, height = resize.size
    assert (width, height) == (max(min(columns, MAX_SIZE[0]), 1), max(min(rows, MAX_SIZE[1]), 1))


def _largest_cell_addressed(terminal, lines: int = 24, seconds: float = 60) -> tuple[int, int]:
    """Read the app's raw output until it has drawn below row ``lines`` and been quiet a while
    (or ``seconds`` passed): the furthest (column, row) it moved the cursor to (Textual draws each
    line after ESC [ row ; column H). The field's blinking cursor writes now and then, so a quiet
    second alone could come before a loaded machine's redraw."""
    import re

    def largest(out: bytes) -> tuple[int, int]:
        moves = [(int(c), int(r)) for r, c in re.findall(rb"\x1b\[(\d+);(\d+)H", out)]
        return max(c for c, _ in moves), max(r for _, r in moves)

    out, quiet_since, give_up = b"", time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < give_up:
        if select.select([terminal.fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(terminal.fd, 1 << 16)
            except OSError:
                break
            out += chunk
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0 and out and largest(out)[1] > lines:
            break
    return largest(out)


@pytest.mark.parametrize("how", ["pty", "in-band"])
def test_d1_a_desk_that_asks_for_a_huge_screen_is_drawn_at_the_largest_desk(tmp_path, how):
    """D1: an SSH client sets its pty's size to anything up to 65535 x 65535 (ssh's window-change;
    stty rows/cols at the desk) or writes an in-band resize; a desk at 30000 x 30000 took over a
    GiB of the server's memory. The app in a real pty, asked for 2000 x 1000, draws no cell
    beyond MAX_SIZE and is still at the sign-in, taking keys."""
    import fcntl
    import signal
    import struct
    import termios

    from desk_terminal import DeskTerminal
    from kiosk_screens.driver import MAX_SIZE

    # COLUMNS and LINES exported, as a login profile may: the pty's size still wins
    terminal = DeskTerminal(["--training"], tmp_path, env={"COLUMNS": "80", "LINES": "24"})
    try:
        terminal.wait_for("your kiosk username")
        terminal.settle()
        if how == "pty":
            fcntl.ioctl(terminal.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 1000, 2000, 0, 0))
            os.kill(terminal.pid, signal.SIGWINCH)
        else:
            os.write(terminal.fd, b"\x1b[48;1000;2000;0;0t")
        columns, rows = _largest_cell_addressed(terminal)
        # redrawn larger (the resize was taken), and within the bound
        assert rows == MAX_SIZE[1] and 80 < columns <= MAX_SIZE[0], (columns, rows)
        fcntl.ioctl(terminal.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.kill(terminal.pid, signal.SIGWINCH)
        if how == "in-band":
            os.write(terminal.fd, b"\x1b[48;24;80;0;0t")
        terminal.settle()
        terminal.press("m")
        terminal.wait_for("Staff sign-in", "m")
        assert os.waitpid(terminal.pid, os.WNOHANG) == (0, 0)  # the desk is still up
    finally:
        terminal.close()
