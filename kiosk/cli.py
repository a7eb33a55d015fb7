"""The `kiosk` command: start the app, set up a database, manage staff, audit, outbox, import.

Every error is one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kiosk import __version__
from kiosk.terms import MessageState

if TYPE_CHECKING:  # loaded by the commands that use them
    from kiosk.config import Config
    from kiosk.desk import Desk
    from kiosk.messages.outbox import MessageRow
    from kiosk.people.staff import StaffUser

EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An error to print as one line."""


class _Parser(argparse.ArgumentParser):
    def error(
        self, message: str
    ) -> NoReturn:  # one line, exit 2 (argparse's own rule), no usage dump
        raise CliError(f"{message} (see {self.prog} --help)")


# The largest whole number SQLite and PostgreSQL (bigint) compare with
LARGEST_WHOLE = 2**63 - 1


def _whole(text: str) -> int:
    """argparse's int, within what a database takes: a larger --limit, id or day count crashed
    the command (OverflowError, IntegrityError) instead of saying so in one line."""
    value = int(text)  # ValueError: argparse says "invalid int value"
    if abs(value) > LARGEST_WHOLE:
        raise argparse.ArgumentTypeError(f"{text} is too large a number")
    return value


_whole.__name__ = "int"  # argparse names the type in "invalid int value: 'abc'"


def whole_between(low: int, high: int) -> Callable[[str], int]:
    """_whole held to ``low``..``high``, for a count of things to make or run (the benchmarks'
    ``--patients`` is held to demo.MAX_PATIENTS, as ``kiosk demo generate``'s: a mistyped
    10**15 wrote until the disk was full)."""

    def between(text: str) -> int:
        value = _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}, not {text}")
        return value

    between.__name__ = "int"
    return between


def _init_arguments(init: argparse.ArgumentParser) -> None:
    init.add_argument(
        "--admin", required=True, metavar="USERNAME", help="the first administrator's username"
    )
    init.add_argument(
        "--name", required=True, metavar="DISPLAY_NAME", help="their name as the desk shows it"
    )
    init.add_argument(
        "--portal-user", metavar="ID", help="Practice Portal user to link the administrator to"
    )
    init.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def _staff_arguments(staff: argparse.ArgumentParser) -> None:
    staff_sub = staff.add_subparsers(
        dest="staff_command", metavar="{add,link,list,unlock}", required=True, parser_class=_Parser
    )
    add = staff_sub.add_parser("add", help="add a staff member")
    add.add_argument("username", help="the name they sign in with")
    add.add_argument(
        "--name", required=True, metavar="DISPLAY_NAME", help="their name as the desk shows it"
    )
    add.add_argument(
        "--portal-user", metavar="ID", help="Practice Portal user to link them to"
    )  # R1
    add.add_argument("--admin", action="store_true", help="make them an administrator")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    link = staff_sub.add_parser("link", help="link a staff member to a Practice Portal user")  # R1
    link.add_argument("username", help="the staff member's username")
    link.add_argument("portal_user", nargs="?", help="Practice Portal user id (omit with --unlink)")
    link.add_argument("--unlink", action="store_true", help="remove the link instead")
    staff_sub.add_parser("list", help="list staff members")
    unlock = staff_sub.add_parser(
        "unlock", help="unlock a username after 100 wrong passwords in a row"
    )  # S12
    unlock.add_argument("username", help="the staff member's username")


def _audit_arguments(aud: argparse.ArgumentParser) -> None:
    aud_sub = aud.add_subparsers(
        dest="audit_command", metavar="{verify,anchor,export}", required=True, parser_class=_Parser
    )
    aud_sub.add_parser(
        "verify",
        help="check the hash chain and its anchors; name any edited, inserted or deleted event",
    )
    aud_sub.add_parser(
        "anchor",
        help="append where the chain ends now to the anchor file (run daily, "
        "back the file up) and print the line",
    )
    export = aud_sub.add_parser("export", help="write the audit trail as CSV")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="only events from this day on")
    export.add_argument(
        "--out",
        metavar="FILE",
        help="write it to FILE, readable by you only (default or -: standard output)",
    )


def _outbox_arguments(box: argparse.ArgumentParser) -> None:
    box_sub = box.add_subparsers(
        dest="outbox_command", metavar="{send,list,retry}", required=True, parser_class=_Parser
    )
    send = box_sub.add_parser(
        "send", help="deliver every message that is due (for cron or systemd)"
    )
    send.add_argument(
        "--limit",
        type=_whole,
        default=100,
        metavar="N",
        help="send at most N messages (default 100)",
    )
    lst = box_sub.add_parser("list", help="list messages and their state")
    lst.add_argument("--state", choices=list(MessageState), help="only messages in this state")
    retry = box_sub.add_parser(
        "retry", help="queue a failed message again (its number from kiosk outbox list)"
    )
    retry.add_argument(
        "id", type=_whole, metavar="ID", help="the message number kiosk outbox list shows"
    )


def _import_arguments(imp: argparse.ArgumentParser) -> None:
    imp.add_argument("files", nargs="*", metavar="FILE", help="CSV or FHIR R4 (JSON, NDJSON) files")
    imp.add_argument("--template", metavar="FILE", help="write an example CSV file and exit")
    imp.add_argument(
        "--roles", metavar="FILE", help="role and authority table (default: data/roles.toml)"
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar")


def _demo_arguments(demo: argparse.ArgumentParser) -> None:
    demo_sub = demo.add_subparsers(
        dest="demo_command", metavar="{generate}", required=True, parser_class=_Parser
    )
    gen = demo_sub.add_parser(
        "generate", help="generate a synthetic practice, only into a new or demo database"
    )  # D2
    gen.add_argument(
        "--patients",
        type=_whole,
        required=True,
        metavar="N",
        help="how many patients to make (1 to 10,000,000)",
    )
    gen.add_argument(
        "--seed", type=_whole, default=1, help="random seed: the same seed makes the same practice"
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="add made-up patients to a database that is not a demo one (recorded in the audit)",
    )


def _search_arguments(find: argparse.ArgumentParser) -> None:
    find.add_argument("query", metavar="QUERY", help="what the desk would type in the search box")
    find.add_argument(
        "--status",
        metavar="S",
        help="only patients with this portal status "
        "(Unregistered, Self Registered, Pending, Registered), or 'PIN expired'",  # L2
    )
    find.add_argument("--json", action="store_true", help="one JSON object a line")
    find.add_argument(
        "--limit", type=_whole, default=100, metavar="N", help="at most N patients (default 100)"
    )


def _drive_arguments(drive: argparse.ArgumentParser) -> None:
    from kiosk.terms import WorklistKind

    kinds = ", ".join(k.replace(" ", "-") for k in WorklistKind)
    drive.add_argument(
        "--worklist",
        default="unregistered",
        metavar="KIND",
        help=f"the families: {kinds} (default unregistered)",  # W1
    )
    drive.add_argument(
        "--days",
        type=_whole,
        default=14,
        metavar="N",
        help="the window of pending-over, expiring and turning (default 14)",
    )
    drive.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="appointments: the first day (default today)",
    )
    drive.add_argument(
        "--to", dest="end", metavar="DATE", help="appointments: the last day (default --from)"
    )
    drive.add_argument("--provider", default="", help="appointments: only this provider's")
    drive.add_argument(
        "--limit", type=_whole, metavar="N", help="at most N families (default: all of them)"
    )
    drive.add_argument(
        "--no-letters",
        dest="letters",
        action="store_false",
        help="no letters (default: one letter per family in one PDF)",
    )
    drive.add_argument(
        "--messages",
        action="store_true",
        help="also queue one welcome message per family (email, else text) in the outbox",
    )
    drive.add_argument(
        "--print",
        dest="print_letters",
        action="store_true",
        help="send the letters to the printer (else they are saved as a PDF that is deleted "
        "after printer.keep_minutes)",
    )
    drive.add_argument(
        "--dry-run",
        action="store_true",
        help="say how many families, children, letters and messages; change nothing",
    )
    drive.add_argument(
        "--by",
        metavar="USERNAME",
        help="the staff member issuing the PINs (needed unless --dry-run or --list)",
    )
    drive.add_argument(
        "--resume",
        type=_whole,
        metavar="ID",
        help="run a drive that stopped again: its finished families are skipped",
    )
    drive.add_argument(
        "--list", dest="list_drives", action="store_true", help="list drives and their families"
    )
    drive.add_argument("--quiet", action="store_true", help="no progress bar")


def _backup_arguments(back: argparse.ArgumentParser) -> None:
    back.add_argument(
        "file", metavar="FILE", help="the new backup file (0600; never overwrites one)"
    )


def _restore_arguments(rest: argparse.ArgumentParser) -> None:
    rest.add_argument("file", metavar="FILE", help="a file kiosk backup made")


def _pin_arguments(pin: argparse.ArgumentParser) -> None:
    pin_sub = pin.add_subparsers(
        dest="pin_command", metavar="{list,revoke}", required=True, parser_class=_Parser
    )
    lst = pin_sub.add_parser(
        "list", help="list PINs: active, expiring soon, expired, or locked children"
    )  # L2, L5
    which = lst.add_mutually_exclusive_group()
    which.add_argument("--active", action="store_true", help="active PINs (the default)")
    which.add_argument(
        "--expiring", type=_whole, metavar="DAYS", help="active PINs that expire within DAYS days"
    )
    which.add_argument("--expired", action="store_true", help="expired PINs")
    which.add_argument(
        "--locked", action="store_true", help="children whose redemption is locked now"
    )  # S4, L5
    revoke = pin_sub.add_parser("revoke", help="revoke a child's active PIN, with a reason")  # L4
    revoke.add_argument("chart_number", metavar="CHART", help="the child's chart number")
    revoke.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    revoke.add_argument(
        "--by", required=True, metavar="USERNAME", help="the staff member revoking it"
    )


def _maintain_arguments(maintain: argparse.ArgumentParser) -> None:
    maintain.add_argument(
        "--reminder-days",
        type=_whole,
        metavar="DAYS",
        help="first set the practice's reminders: families are reminded DAYS days before "  # W3
        "their PINs expire, 0 turns reminders off (kept in the database for every desk)",
    )


def _report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        help="count the PINs issued from this day on (default: the Monday 12 weeks back)",
    )
    report.add_argument(
        "--csv",
        action="store_true",
        help="write CSV (section,name,patients,issued,registered,rate_percent,median_days; one "
        "row per figure) instead of a table",
    )


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host", metavar="ADDRESS", help="listen on this address (default: serve.host, 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_whole, metavar="N", help="listen on this port (default: serve.port, 8800)"
    )
    serve.add_argument(
        "--workers",
        type=_whole,
        default=1,
        metavar="N",
        help="serve from N processes (default 1); the limits hold across them",  # S4, S8
    )
    serve.add_argument(
        "--training",
        dest="serve_training",
        action="store_true",
        help="serve a fresh throwaway training database: prints an API token and a PIN to try",
    )


def _serve_desk_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="listen on this address (default 127.0.0.1: browsers on this machine only). "
        "WARNING: another address opens the desk to that network over plain HTTP, staff "
        "passwords readable on the way; only on a network you trust",
    )
    serve.add_argument(
        "--port", type=_whole, default=8810, metavar="N", help="listen on this port (default 8810)"
    )
    serve.add_argument(
        "--terminal",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="the terminal every browser desk of this server is: its [terminals.NAME] printer, "
        "slip layout and language (default: KIOSK_TERMINAL, else each browser's own: the "
        "[terminals] entry whose addresses hold its address, else the host name and its address)",
    )
    serve.add_argument(
        "--training",
        dest="desk_training",
        action="store_true",
        help="each browser gets its own throwaway training database",  # O2
    )
    serve.add_argument(
        "--max-sessions",
        type=_whole,
        default=16,
        metavar="N",
        help="at most N browsers at once, each its own app (default 16; 1 to 256): "
        "one more is refused",
    )


def _portal_arguments(portal: argparse.ArgumentParser) -> None:
    portal_sub = portal.add_subparsers(
        dest="portal_command", metavar="{token,openapi}", required=True, parser_class=_Parser
    )
    token = portal_sub.add_parser("token", help="API tokens for practice portals")  # P1
    token_sub = token.add_subparsers(
        dest="token_command", metavar="{create,list,revoke}", required=True, parser_class=_Parser
    )
    create = token_sub.add_parser(
        "create", help="make a token and print it (the only time it is shown)"
    )
    create.add_argument("name", help="which portal it is for, e.g. main-portal")
    token_sub.add_parser("list", help="list tokens: name, made, last used, revoked")
    revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("name", help="the token's name")
    openapi = portal_sub.add_parser(
        "openapi", help="print the API's OpenAPI document (docs/portal-openapi.json)"
    )
    openapi.add_argument("--out", metavar="FILE", help="write it here instead")


# Each command: its help line and what adds its arguments.
SUBCOMMANDS = {
    "init": ("create the database, practice settings and the first administrator", _init_arguments),
    "staff": ("add staff or link them to the Practice Portal", _staff_arguments),
    "audit": ("check or export the audit trail", _audit_arguments),  # S5
    "outbox": ("deliver or list welcome messages", _outbox_arguments),  # O3
    "import": ("import patients and families from CSV or FHIR R4 files", _import_arguments),  # O4
    "demo": ("synthetic data for demonstrations and benchmarks", _demo_arguments),
    "search": ("find patients as the search box does", _search_arguments),  # N1, N2
    "drive": (
        "a registration drive: PINs, letters and messages for a worklist's families",  # W1, W2
        _drive_arguments,
    ),
    "backup": (
        "copy the database while desks keep working; key files stay out",  # D3
        _backup_arguments,
    ),
    "doctor": (
        "check this desk is ready: config, database, key file, mail, printer, disk, clock",
        lambda parser: None,
    ),
    "restore": (
        "put a backup in the database's place, when no desk is using it",  # D3
        _restore_arguments,
    ),
    "pin": ("list or revoke registration PINs", _pin_arguments),  # L2, L4, L5
    "maintain": (
        (
            "expire PINs, erase unsent messages whose PINs ended, queue due reminders; safe to "
            "run every few minutes"  # L2, W3
        ),
        _maintain_arguments,
    ),
    "report": (
        "enrollment: patients by status, PINs issued and registered by week and staff",  # W4
        _report_arguments,
    ),
    "serve": (
        "run the portal's redemption API and the parents' registration page",  # P1, P2
        _serve_arguments,
    ),
    "portal": (
        "API tokens for the practice's portal, and the API's OpenAPI document",  # P1
        _portal_arguments,
    ),
    "serve-desk": (
        "the desk app in web browsers on this machine, each with its own staff sign-in",  # D1
        _serve_desk_arguments,
    ),
}


# The options every command shares: before the command, or after it (``kiosk doctor --terminal
# front-1``, ``kiosk demo generate --db demo.sqlite3``), as the README and kiosk's own messages
# write them; an option given after the command wins.
SHARED_OPTIONS: dict[str, dict[str, str]] = {
    "--config": {
        "metavar": "FILE",
        "help": "TOML config file (default: KIOSK_CONFIG or the user config dir)",
    },
    "--db": {
        "metavar": "PATH_OR_URL",
        "help": "SQLite file or postgresql:// URL (default: KIOSK_DB or the data dir)",
    },
    "--terminal": {
        "metavar": "NAME",
        "help": "this desk's [terminals.NAME]: its printer, slip layout and language (default: "
        "KIOSK_TERMINAL, the SSH client's address, the host name)",
    },
}


def _shared_options(parser: argparse.ArgumentParser, default: object) -> None:
    """Add the shared options ``parser`` and the commands under it do not define themselves; below
    the top, unset ones are left out of the namespace (SUPPRESS) so the top's value stands."""
    for option, spec in SHARED_OPTIONS.items():
        if option not in parser._option_string_actions:
            parser.add_argument(option, default=default, **spec)  # type: ignore[arg-type]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _shared_options(command, argparse.SUPPRESS)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the commands it names get their arguments (the others
    are still listed by --help), which keeps the app's start-up short."""
    parser = _Parser(
        prog="kiosk", description="Front-desk patient-portal registration for a pediatric practice."
    )
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    _shared_options(parser, None)
    parser.add_argument(
        "--training",
        action="store_true",
        help="start on a fresh throwaway database loaded with the training families",  # O2
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, (help_line, add_arguments) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_line)
        if argv is None or name in argv:
            add_arguments(command)
            _shared_options(command, argparse.SUPPRESS)
    return parser


def _read_password(from_stdin: bool, prompt: str = "Password: ") -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for a password: use --password-stdin")
    from getpass import getpass

    try:
        first = getpass(prompt)
        again = getpass("Again: ")
    except EOFError:  # Ctrl+D at the prompt: nothing typed, nothing made
        raise CliError("no password given") from None
    if again != first:
        raise CliError("the two passwords differ")
    return first


def load(args: argparse.Namespace) -> Config:
    from kiosk.config import load_config
    from kiosk.ops import terminals

    config = load_config(args.config)
    if args.db:
        config = config.with_database(args.db)
    config = terminals.choose(config, args.terminal)  # D1: this desk's name, printer and language
    terminals.use(config)
    return config


def open_configured(
    args: argparse.Namespace, *, training: bool = False, read_only: bool = False
) -> Config:
    """Load the config and open the store; ``read_only`` for a command that only looks, so it works
    on a database kiosk may not change (nothing is created, migrated or written)."""
    from dataclasses import replace

    from kiosk.store.practice import open_store

    config = load(args)
    if training:
        from kiosk.ops.training import (
            load_training_data,
            remove_training_leftovers,
            stage_training_scenes,
            training_database_path,
        )

        remove_training_leftovers()  # D2: what a killed training run left behind
        database = training_database_path()
        # D2, S11: its slips go in its own folder, so they go with it (after a kill too, at the
        # next start), and a training that ends never deletes another desk's
        printer = replace(config.printer, output_dir=str(database.parent))
        config = replace(
            config, database=str(database), training=True, pin_key_file="", printer=printer
        )
        open_store(config)
        load_training_data()
        stage_training_scenes()
    else:
        if not read_only:
            _own_account(args)
        open_store(config, read_only=read_only)
    return config


def open_desk(args: argparse.Namespace, *, read_only: bool = False) -> Desk:
    """The front desk the command works at: the configured store (``read_only`` as for
    open_configured), the real clock, the configured senders and printer, nobody signed in."""
    from kiosk.desk import Desk

    return Desk(open_configured(args, read_only=read_only))


def cmd_run(args: argparse.Namespace, start_app: Callable[[Config], object] | None = None) -> int:
    if start_app is None:
        raise CliError(
            "this entry point has no user interface; start the app with the kiosk command"
        )
    if not args.training:
        _require_database(args)
    config = open_configured(args, training=args.training)
    from kiosk.people.staff import staff_count
    from kiosk.registration.pin_life import maintain

    # L2: what expired while no desk ran is expired before anyone looks
    maintain(sms_provider=config.sms.configured)

    if not staff_count():
        raise CliError(
            'this database has no staff yet: run kiosk init --admin USERNAME --name "YOUR NAME" '
            "first, or try kiosk --training"
        )
    if config.training:
        # D2: a desk whose SSH connection drops (SIGHUP), or that is stopped with kill or at a
        # shutdown (SIGTERM), still cleans up after itself
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():  # only there can a handler be set
            signal.signal(signal.SIGHUP, _hung_up)
            signal.signal(signal.SIGTERM, _hung_up)
    try:
        start_app(config)
    finally:
        if config.training:  # S11: training slips hold (made-up) PINs and go when training ends
            from kiosk.ops.training import remove_training_folder
            from kiosk.store.db import close_database
            from kiosk.store.files import remove_training_slips

            remove_training_slips(config)
            close_database()
            remove_training_folder(config.database)  # D2: its database goes too
    return 0


def _hung_up(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _require_database(args: argparse.Namespace) -> None:
    """D2: only kiosk init (and the commands that add data) make a database; the others say there
    is none instead of leaving an empty one behind."""
    from kiosk.store.db import exists, shown
    from kiosk.store.practice import database_target

    target = database_target(load(args))
    if not exists(target):  # on PostgreSQL: an empty database gets no tables from a refusal
        raise CliError(
            f"there is no database at {shown(target)}: run kiosk init first "
            "(or try kiosk --training)"
        )


def _own_account(args: argparse.Namespace) -> None:
    """S11, D3: every command that writes the practice's files (its database, key, anchor, slips,
    error log, a backup) runs as the account they belong to, the desks' and the services'. Run by
    another (sudo, as root), what it made would be that one's: a new database or key, the anchor
    file, the slip folder, a backup, which the desks and the daily timers could not use. Refused in
    one line naming the account to run it as; the commands that only look run as anyone."""
    import getpass

    from kiosk.security import SecretKeyError
    from kiosk.store.files import another_owner, practice_owner_path
    from kiosk.store.practice import database_target, key_file

    config = load(args)
    try:
        path = practice_owner_path(key_file(config, database_target(config)))
    except SecretKeyError:  # PostgreSQL with no pin_key_file: opening says so
        return
    words = [args.command or "", *(v for k, v in vars(args).items() if k.endswith("_command"))]
    refusal = path and another_owner(
        path,
        " ".join(["kiosk", *filter(None, words), "..."]),
        f"the files it writes would be {getpass.getuser()}'s, which the desks and timers cannot use",
    )
    if refusal:
        raise CliError(refusal)


def cmd_init(args: argparse.Namespace) -> int:
    from kiosk.people.staff import (
        StaffError,
        add_first_administrator,
        check_password_rules,
        staff_count,
    )
    from kiosk.store.db import exists
    from kiosk.store.practice import database_target

    password = None
    target = database_target(load(args))
    _own_account(args)  # before the password is asked for
    if not exists(target):
        # D2: a refused password leaves no empty database, tables or key file behind
        password = _read_password(args.password_stdin)
        problem = check_password_rules(password, args.admin, args.name)
        if problem:
            raise StaffError(problem)
    config = open_configured(args)
    if (
        staff_count()
    ):  # said before asking for a password; add_first_administrator checks again under the lock
        raise CliError("this database already has staff; use kiosk staff add")
    if password is None:
        password = _read_password(args.password_stdin)
    user = add_first_administrator(args.admin, args.name, password, portal_user=args.portal_user)
    print(f"Created {database_target(config)} with administrator {user.username}.")
    return 0


def cmd_staff(args: argparse.Namespace) -> int:
    from kiosk.people import staff

    if args.staff_command != "list":  # D2: a first staff member made here would keep kiosk init out
        _require_database(args)
    open_configured(args, read_only=args.staff_command == "list")
    if args.staff_command == "add":
        if not staff.staff_count():
            raise CliError("this database has no administrator yet: run kiosk init first")
        user = staff.add_staff(
            args.username,
            args.name,
            _read_password(args.password_stdin),
            portal_user=args.portal_user,
            is_admin=args.admin,
        )
        print(
            f"Added {user.username}"
            + (
                f", linked to {user.portal_user}."
                if user.is_linked
                else " (not linked: cannot issue PINs until linked)."
            )
        )
    elif args.staff_command == "link":
        if args.unlink == bool(args.portal_user):
            raise CliError("give a Practice Portal user id, or --unlink")
        user = staff.link_staff(args.username, None if args.unlink else args.portal_user)
        print(
            f"{user.username} is now "
            + (f"linked to {user.portal_user}." if user.is_linked else "not linked.")
        )
    elif args.staff_command == "unlock":
        failures = staff.unlock_staff(args.username)
        print(
            f"{args.username.strip().lower()} is unlocked ({failures} wrong passwords in a row cleared)."
        )
    else:
        for user in staff.list_staff():
            print(
                f"{user.username:<16} {user.display_name:<28} {user.portal_user or '(not linked)'}"
                + ("  admin" if user.is_admin else "")
            )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from kiosk import audit
    from kiosk.store.practice import anchor_file

    since = None
    if getattr(args, "since", None):  # a usage error is said before the database is opened
        from kiosk.validate import parse_date

        since = parse_date(args.since)
        if since is None:
            raise CliError(f"--since must be a date like 2026-11-01, not {args.since!r}")
    if args.audit_command == "anchor":
        _require_database(args)
    desk = open_desk(args, read_only=args.audit_command != "anchor")
    anchors = anchor_file(desk.config)
    if args.audit_command in ("verify", "anchor"):
        if args.audit_command == "anchor":
            made, problems = audit.anchor(anchors)
        else:
            made, problems = None, desk.verify_audit(anchors)
        for problem in problems:
            print(problem)
        if problems:
            if args.audit_command == "anchor":
                print(
                    f"Not anchored: the trail does not verify (nothing written to {anchors}).",
                    file=sys.stderr,
                )
            return EXIT_ERROR
        if made is not None:
            print(made)
            if sys.stderr.isatty():  # a person is told where it went; cron mails no note daily
                print(f"Appended to {anchors}: keep it with your backups.", file=sys.stderr)
            return 0
        last = audit.last_anchor(anchors)
        print(
            "Audit trail intact"
            + (
                f", up to the anchor of {last.at} (event {last.seq})."
                if last
                else f"; not anchored yet: run kiosk audit anchor daily (it writes {anchors})."
            )
        )
        return 0
    if args.out and args.out != "-":
        # Chart numbers and the names a fix changed are in it: the kiosk account's alone (S11)
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with open(fd, "w", newline="", encoding="utf-8") as out:
            count = desk.export_audit(out, since)
        print(f"Wrote {count} events to {args.out}.", file=sys.stderr)
    else:
        desk.export_audit(sys.stdout, since)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from kiosk.messages.outbox import OutboxError

    _require_database(args)  # D2: a sender on a wrong path must fail, not make an empty database
    desk = open_desk(args, read_only=args.outbox_command == "list")
    if args.outbox_command == "send":
        if args.limit < 1:
            raise CliError("--limit must be at least 1")
        report = desk.deliver_outbox(limit=args.limit)
        # Non-zero whenever a message due now did not go (the server unreachable, a refusal), so a
        # cron job or systemd timer reports it; messages left by --limit are not a failure. Then
        # the summary goes to standard error too: cron (output to /dev/null, as the README has it)
        # mails that, not a "0 sent" line every five minutes.
        undelivered = report.failed or report.deferred or report.interrupted or report.problem
        print(report.summary(), file=sys.stderr if undelivered else sys.stdout)
        return EXIT_ERROR if undelivered else 0
    if args.outbox_command == "retry":
        try:
            row = desk.retry_message(args.id)
        except OutboxError as error:
            print(f"kiosk: cannot retry message {args.id}: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(
            f"Message {row.id} to {row.recipient} is {row.state} again: it goes with the next delivery."
        )
        return 0
    for row in desk.messages(state=args.state):
        print(_message_line(row))
    return 0


def _message_line(row: MessageRow) -> str:
    """One outbox message as a line of ``kiosk outbox list``: number, state, when, to whom, why."""
    when = f"{row.sent_at or row.created_at:%Y-%m-%d %H:%M}"
    return (
        f"{row.id:>5}  {row.state:<7}  {when}  {row.channel:<5}  {row.recipient:<28}  "
        f"{row.attempts} {'try' if row.attempts == 1 else 'tries'}  {row.reason}"
    ).rstrip()


def cmd_import(args: argparse.Namespace) -> int:
    from kiosk import importer
    from kiosk.importer.roles import RolesError

    if args.template:
        importer.write_template(Path(args.template))
        print(f"Wrote an example CSV to {args.template}.")
        return 0
    if not args.files:
        raise CliError("name at least one file to import, or --template FILE")
    from kiosk.store.db import exists
    from kiosk.store.practice import database_target

    progress = None if args.quiet else importer.TextProgress(sys.stderr)
    try:
        # D2: importing may make a new practice's database, but not for files it refuses whole
        refused = None
        if not exists(database_target(load(args))):
            refused = importer.nothing_to_import(args.files, roles_path=args.roles)
        report = refused or open_desk(args).import_files(
            [Path(f) for f in args.files], progress=progress, roles_path=args.roles
        )
    except RolesError as error:
        raise CliError(str(error)) from None
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(report.summary())
    return report.exit_code()


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.ops import demo

    if not 1 <= args.patients <= demo.MAX_PATIENTS:
        raise CliError(f"--patients must be between 1 and {demo.MAX_PATIENTS:,}")
    open_configured(args)
    if not demo.claim_for_demo(args.patients, force=args.force):
        raise CliError(
            "this is a practice's database: demo data goes only into a new database or one made "
            "for demos (kiosk demo generate --db demo.sqlite3 ...), or add --force"  # D2
        )
    report = demo.generate_practice(args.patients, seed=args.seed)
    print(report)
    return 0


def _cells(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a Chinese, Japanese or Korean letter takes
    two, an accent, a Thai vowel sign or a zero-width joiner none, so the columns after a name line
    up in any script (N2)."""
    import unicodedata

    used = sum(
        0
        if unicodedata.category(ch) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(ch) in "WF"
        else 1
        for ch in text
    )
    return text + " " * (width - used)


def cmd_search(args: argparse.Namespace) -> int:
    """The search box's results (N1, N2) on the command line: the same function, the same order."""
    import json

    from kiosk.terms import PortalStatus, SearchFilter

    _require_database(args)  # D2: a read-only command creates nothing
    status: str | None = None
    if args.status:
        choices: list[PortalStatus | SearchFilter] = [*PortalStatus, *SearchFilter]
        by_word: dict[str, str] = {s.lower().replace(" ", ""): s for s in choices}
        by_word.update((s.label.lower().replace(" ", ""), s) for s in choices)
        status = by_word.get(args.status.lower().replace(" ", "").replace("-", ""))
        if status is None:
            names = ", ".join([*PortalStatus, *(f.label for f in SearchFilter)])
            raise CliError(f"--status must be one of {names}, not {args.status!r}")
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    open_configured(args, read_only=True)
    from kiosk.people.patients import search_patients

    rows = search_patients(args.query, status, limit=args.limit)
    if not rows and not args.json:  # a person at a terminal is told; a script reads no lines
        print(f"No patients match {args.query!r}.", file=sys.stderr)
    for row in rows:
        if args.json:
            print(
                json.dumps(
                    {
                        "id": row.id,
                        "family_name": row.family_name,
                        "given_name": row.given_name,
                        "dob": row.dob.isoformat(),
                        "age": row.age,
                        "portal_status": row.portal_status,
                        "reason": row.reason,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(
                f"{row.id:>8}  {_cells(row.name, 36)}  {row.dob:%m/%d/%Y}  {row.age:>6}  "
                f"{row.status_label:<20}  {row.reason}".rstrip()
            )
    return 0


def cmd_drive(args: argparse.Namespace) -> int:
    """W2 on the command line: the dry run, the drive with a progress bar, a resumed one, the list."""
    from kiosk.followup.drive import DriveOptions
    from kiosk.followup.worklist import WorklistError, WorklistQuery
    from kiosk.terms import WorklistKind, is_one_of
    from kiosk.validate import parse_date

    kind = args.worklist.lower().replace("-", " ")
    if not is_one_of(WorklistKind, kind):
        names = ", ".join(k.replace(" ", "-") for k in WorklistKind)
        raise CliError(f"--worklist must be one of {names}, not {args.worklist!r}")
    dates = {}
    for name in ("start", "end"):
        text = getattr(args, name)
        dates[name] = parse_date(text) if text else None
        if text and dates[name] is None:
            raise CliError(f"--{'from' if name == 'start' else 'to'}: {text!r} is not a date")
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1")
    if not (args.letters or args.messages):
        raise CliError("a drive with --no-letters needs --messages")
    _require_database(args)  # D2
    desk = open_desk(args)
    if args.list_drives:
        for row in desk.drives():
            state = "finished" if row.finished else "stopped"
            print(
                f"{row.id:>5}  {row.created_at:%Y-%m-%d %H:%M}  {row.created_by:<12}  {state:<8}  "
                f"{row.done} done, {row.skipped} skipped, {row.waiting} waiting  {row.worklist}"
            )
        return 0
    query = WorklistQuery(
        WorklistKind(kind), args.days, dates["start"], dates["end"], args.provider
    )
    options = DriveOptions(args.letters, args.messages, args.print_letters)
    if not args.dry_run:
        from kiosk.registration import pin_life

        if not args.by:
            raise CliError("say who issues the PINs: --by USERNAME (or --dry-run)")
        desk.sign_in(_staff_for_drive(pin_life.staff_named(args.by), args.by))
    try:
        if args.resume is None:
            plan = desk.plan_drive(query, options, limit=args.limit)
            print(f"{query.describe()}: {plan.summary()}.")
            for family in plan.families:
                if family.problem:
                    print(f"  skipped: {family.family.caregiver_name}: {family.problem}")
            if args.dry_run or not plan.issued:
                return 0
            drive_id = desk.start_drive(plan)
        elif args.resume in {row.id for row in desk.drives()}:
            drive_id = args.resume
        else:
            raise CliError(f"no drive {args.resume} (kiosk drive --list shows them)")
    except WorklistError as error:
        raise CliError(str(error)) from None
    from kiosk.importer import TextProgress
    from kiosk.slip.pdf_child import SlipChildError

    progress = None if args.quiet else TextProgress(sys.stderr)
    try:
        report = desk.run_drive(drive_id, print_letters=args.print_letters, progress=progress)
    except SlipChildError as error:  # the letters stay sealed: --resume makes them (W2)
        raise CliError(
            f"drive {drive_id}: the letters were not made ({error}); "
            f"kiosk drive --resume {drive_id} tries again"
        ) from None
    if progress:
        progress.finish()
    for line in report.skipped:
        print(f"  skipped: {line}")
    print(report.summary())
    return 0


def _staff_for_drive(user: StaffUser | None, username: str) -> StaffUser:
    """The staff member named by ``--by``, who must be linked to the Practice Portal (R1)."""
    if user is None:
        raise CliError(f"no active staff member {username!r}")
    if not user.is_linked:
        from kiosk.registration.engine import NOT_LINKED

        raise CliError(NOT_LINKED)
    return user


def cmd_backup(args: argparse.Namespace) -> int:
    """D3: SQLite's online backup; PostgreSQL's own tools, named with the password hidden."""
    from kiosk.ops import backup

    if args.file == "-":  # D3: a backup is a 0600 file, never standard output (nor a file named -)
        raise CliError(
            f"{args.command} takes a file, not - (standard output or input): name the file, "
            "or write ./- for a file named -"
        )
    _own_account(args)  # a backup restore (run as the database's owner) cannot read is no backup
    config = load(args)
    try:
        done = (
            backup.restore(config, args.file)
            if args.command == "restore"
            else backup.backup(config, args.file)
        )
    except backup.PostgresTarget as pg:
        tool = "pg_restore" if args.command == "restore" else "pg_dump"
        others = backup.postgres_sessions(pg.url) if tool == "pg_restore" else None
        if others:  # D3: pg_restore would drop the tables under the desks using them
            from kiosk.store.db import shown

            print(
                f"kiosk: {shown(pg.url)} is in use ({others} other connection(s): desks, kiosk "
                "serve, the outbox sender, a pooler): stop them all, then run kiosk restore again "
                "for the pg_restore command",
                file=sys.stderr,
            )
            return EXIT_ERROR
        made = " into a new file only you can read (0600)" if tool == "pg_dump" else ""
        print(
            f"kiosk {args.command} handles SQLite files; for PostgreSQL use {tool}{made} (the "
            "password from PGPASSWORD or ~/.pgpass):",
            file=sys.stderr,
        )
        print(backup.pg_command(tool, pg.url, args.file))
        if args.command == "backup":
            for line in backup.key_files_note(config):
                print(line, file=sys.stderr)
        return EXIT_ERROR
    except backup.BackupError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return EXIT_ERROR
    for line in done.lines:
        print(line)
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    from kiosk.registration import pin_life

    _require_database(args)  # D2
    open_configured(args, read_only=args.pin_command == "list")
    if args.pin_command == "revoke":
        from kiosk.registration.engine import RegistrationError, revoke_pin

        user = pin_life.staff_named(args.by)
        if user is None:
            raise CliError(f"no active staff member {args.by!r}")
        try:
            patient = pin_life.patient_by_chart(args.chart_number)
            ended = revoke_pin(user, patient.id, args.reason)
        except (pin_life.PinLifeError, RegistrationError) as error:
            print(f"kiosk: {error}", file=sys.stderr)
            return EXIT_ERROR
        if not ended:
            print(f"kiosk: {patient.full_name} has no active PIN to revoke.", file=sys.stderr)
            return EXIT_ERROR
        print(
            f"Revoked the PIN of {patient.full_name} ({patient.chart_number}); any unsent welcome is erased."
        )
        return 0
    from kiosk.followup.worklist import MAX_DAYS

    if args.expiring is not None and not 0 <= args.expiring <= MAX_DAYS:
        raise CliError(f"--expiring must be between 0 and {MAX_DAYS} days")
    if args.locked:
        for patient, until in pin_life.locked_children():
            print(
                f"{patient.chart_number:<10}  {patient.full_name:<30}  locked until {until:%Y-%m-%d %H:%M} UTC"
            )
        return 0
    for row in pin_life.list_pins(
        active=args.active or not args.expired, expiring_days=args.expiring, expired=args.expired
    ):
        facts = row.facts
        print(
            f"{row.chart_number:<10}  {facts.patient_name:<30}  {facts.kind:<24}  {facts.state_words:<40}  "
            f"{facts.issued_at:%Y-%m-%d}  {facts.delivery_words}".rstrip()
        )
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from kiosk.registration.pin_life import maintain

    days = args.reminder_days
    if days is not None and not 0 <= days <= 60:
        raise CliError("--reminder-days must be between 0 (off) and 60")
    _require_database(args)  # D2: a timer on a wrong path must fail, not make an empty database
    config = open_configured(args)
    if days is not None:
        from kiosk.store.practice import update_practice

        update_practice(reminder_days=days)
        print(f"Reminders {f'{days} days before PINs expire' if days else 'off'}.")
    print(maintain(sms_provider=config.sms.configured).summary())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """W4: the enrollment report as a table, or CSV for a spreadsheet."""
    since = None
    if args.since:  # a usage error is said before the database is opened
        from kiosk.validate import parse_date

        since = parse_date(args.since)
        if since is None:
            raise CliError(f"--since must be a date like 2026-11-01, not {args.since!r}")
    report = open_desk(args, read_only=True).enrollment_report(since)
    sys.stdout.write(report.csv() if args.csv else report.table())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """One line per check, exit 1 when any fails (for a desk being set up, or a monitoring job)."""
    from kiosk.config import ConfigError, default_config_path
    from kiosk.ops import doctor

    try:
        config = load(args)
    except ConfigError as error:
        print(doctor.Check(doctor.FAIL, "config", str(error)))
        return EXIT_ERROR
    file = (
        args.config
        or os.environ.get("KIOSK_CONFIG")
        or (str(default_config_path()) if default_config_path().is_file() else "")
    )
    words = f"{file or 'no file: defaults and KIOSK_* variables'}; terminal {config.terminal}"
    return doctor.report(doctor.run_checks(config, words, Path(file) if file else None))


def _need_portal_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CliError("the portal service needs its extra: pip install 'kiosk[portal]'") from None


def cmd_serve(args: argparse.Namespace) -> int:
    """P1-P3: the API and the page on this database, or (--training) on a throwaway training one."""
    _need_portal_extra()
    from kiosk.web.server import serve

    if args.port is not None and not 1 <= args.port <= 65535:
        raise CliError("--port must be between 1 and 65535")
    if not 1 <= args.workers <= 64:
        raise CliError("--workers must be between 1 and 64")
    if not args.serve_training:
        _require_database(args)
    config = open_configured(args, training=args.serve_training)
    try:
        if config.training:
            _print_training_try(config, args)
        serve(config, host=args.host, port=args.port, workers=args.workers)
    finally:
        if config.training:  # D2: the training database goes when the demo ends
            from kiosk.ops.training import remove_training_folder
            from kiosk.store.db import close_database

            close_database()
            remove_training_folder(config.database)
    return 0


def _print_training_try(config: Config, args: argparse.Namespace) -> None:
    """A token and one made-up family's PIN, so the demo can be tried at once (training data only)."""
    from kiosk.people.patients import family_for
    from kiosk.people.staff import authenticate
    from kiosk.registration.engine import IssueRequest, issue_pins
    from kiosk.store.models import Patient
    from kiosk.web import tokens as portal_tokens

    token = portal_tokens.create_token("training")
    child = (
        Patient.select().where(Patient.given_name == "Rosemary").first() or Patient.select().first()
    )
    family = family_for(child.id)
    recipient = next((c.id for c in family.caregivers if c.has_authority), None)
    from kiosk.terms import Delivery

    desk = authenticate("maria", "training1")
    if desk is None:
        raise CliError("the training data has no desk to issue a PIN with")
    result = issue_pins(
        desk,
        IssueRequest(
            patient_ids=[c.id for c in family.children],
            recipient_id=recipient,
            delivery=Delivery.NONE,
        ),
    )
    from kiosk.ops.terminals import http_url

    where = http_url(args.host or config.serve.host, args.port or config.serve.port)
    print(f"Training demo (made-up families). API token: {token}")
    for pin in result.pins:
        dob = next(c.dob for c in family.children if c.given_name == pin.given_name)
        print(
            f"  {pin.given_name}: born {dob:%Y-%m-%d}, PIN {pin.pin}  ->  {where}/register?pin={pin.pin}"
        )
    sys.stdout.flush()


def cmd_serve_desk(
    args: argparse.Namespace, serve_desks: Callable[..., object] | None = None
) -> int:
    """Browser desks (kiosk_screens.desks, passed in as ``serve_desks`` by the ``kiosk`` console
    script): every browser session is ``kiosk`` in a process of its own, at the staff sign-in, as
    the terminal named here, else as the one its browser's address picks (D1)."""
    if serve_desks is None:
        raise CliError(
            "this entry point has no user interface; serve browser desks with the kiosk command"
        )
    if not 1 <= args.port <= 65535:
        raise CliError("--port must be between 1 and 65535")
    if not 1 <= args.max_sessions <= 256:
        raise CliError("--max-sessions must be between 1 and 256")
    # D1: the server is no SSH desk, whoever started it over SSH: its sessions are not named after
    # that connection's address. And a browser's terminal is an xterm, not the Linux console.
    os.environ.pop("SSH_CONNECTION", None)
    os.environ.pop("KIOSK_DESK_ADDRESS", None)
    os.environ["TERM"] = "xterm-256color"
    options = [
        *(["--config", args.config] if args.config else []),
        *(["--db", args.db] if args.db else []),
    ]
    if args.desk_training:
        config = load(args)
        options.append("--training")
    else:  # said once here, not by every browser's session as it ends
        _require_database(args)
        _own_account(args)  # each session writes
        from kiosk.people.staff import staff_count
        from kiosk.store.db import close_database

        config = open_configured(args, read_only=True)
        has_staff = staff_count()
        close_database()
        if not has_staff:
            raise CliError(
                "this database has no staff yet: run kiosk init --admin USERNAME "
                '--name "YOUR NAME" first'
            )
    # D1: a terminal named here (--terminal, KIOSK_TERMINAL) is every session's; else each
    # browser's session is named by the browser's address, as an SSH desk is by its client's
    from kiosk.config import load_config

    named = args.terminal or load_config(args.config).terminal
    if named:
        options += ["--terminal", config.terminal]
    serve_desks(
        options,
        host=args.host,
        port=args.port,
        terminal=config.terminal if named else "",
        sessions=args.max_sessions,
    )
    return 0


def cmd_portal(args: argparse.Namespace) -> int:
    from kiosk.web import tokens as portal_tokens

    if args.portal_command == "openapi":
        _need_portal_extra()
        from kiosk.config import Config as _Config
        from kiosk.web.server import create_app, openapi_text

        text = openapi_text(create_app(_Config()))
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"Wrote {args.out}.", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    _require_database(args)
    open_configured(args, read_only=args.token_command == "list")
    try:
        if args.token_command == "create":
            token = portal_tokens.create_token(args.name)
            print(token)
            print(
                f"Token {args.name!r} made: give it to the portal now; it is not shown again.",
                file=sys.stderr,
            )
        elif args.token_command == "revoke":
            portal_tokens.revoke_token(args.name)
            print(f"Token {args.name!r} is revoked.")
        else:
            for info in portal_tokens.list_tokens():
                used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
                state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "live"
                print(f"{info.name:<24} made {info.created_at:%Y-%m-%d %H:%M}  {used:<16}  {state}")
    except portal_tokens.TokenError as error:
        raise CliError(str(error)) from None
    return 0


COMMANDS = {
    "init": cmd_init,
    "staff": cmd_staff,
    "audit": cmd_audit,
    "outbox": cmd_outbox,
    "import": cmd_import,
    "demo": cmd_demo,
    "search": cmd_search,
    "drive": cmd_drive,
    "backup": cmd_backup,
    "restore": cmd_backup,
    "doctor": cmd_doctor,
    "pin": cmd_pin,
    "maintain": cmd_maintain,
    "report": cmd_report,
    "serve": cmd_serve,
    "portal": cmd_portal,
    "serve-desk": cmd_serve_desk,
}


def main(
    argv: list[str] | None = None,
    *,
    start_app: Callable[[Config], object] | None = None,
    serve_desks: Callable[..., object] | None = None,
) -> int:
    """Run the command line. ``start_app(config)`` starts the UI and ``serve_desks(options, host=,
    port=, terminal=)`` serves it to browsers; the ``kiosk`` console script (screens/launch.py)
    passes both, so this domain module never imports the UI itself."""
    from kiosk.config import ConfigError
    from kiosk.people.staff import StaffError
    from kiosk.security import SecretKeyError
    from kiosk.store.db import DatabaseError
    from kiosk.store.schema import SchemaError

    try:
        args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
        if args.training and args.command:
            raise CliError("--training only starts the app; it takes no command")
        if args.command is None:
            return cmd_run(args, start_app)
        if args.command == "serve-desk":
            return cmd_serve_desk(args, serve_desks)
        return COMMANDS[args.command](args)
    except CliError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # kiosk ... | head: the reader has all it wanted; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # exit's flush: quiet too
        return EXIT_ERROR
    except OSError as error:  # a file named on the command line or in config: say which and why
        where = f"{error.filename}: " if error.filename else ""
        print(f"kiosk: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_ERROR
    except (ConfigError, DatabaseError, SchemaError, SecretKeyError, StaffError) as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kiosk: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last line of defence: one line, not a traceback
        from kiosk.errors import database_problem

        problem = database_problem(
            error
        )  # a locked or read-only database, a full disk, a lost server
        if problem is not None:
            print(f"kiosk: {problem.words}", file=sys.stderr)
            return EXIT_ERROR
        if os.environ.get("KIOSK_DEBUG"):
            raise
        # The exception's text may hold a PIN or a birth date (S9): it goes to the error log only.
        log = _log_unexpected(error, argv)
        where = f"the details are in {log}" if log else "set KIOSK_DEBUG=1 for details"
        print(f"kiosk: unexpected error ({type(error).__name__}); {where}", file=sys.stderr)
        return EXIT_ERROR


def _log_unexpected(error: Exception, argv: list[str] | None) -> Path | None:
    """Write ``error`` to the configured error log (S9: scrubbed, no local variables); its path,
    or None when the log cannot be written."""
    from itertools import pairwise

    from kiosk.config import ConfigError, default_data_dir, load_config
    from kiosk.errors import log_error

    words = sys.argv[1:] if argv is None else argv
    secrets: tuple[str, ...] = ()
    try:
        config = load_config(next((b for a, b in pairwise(words) if a == "--config"), None))
        path, secrets = config.error_log, (config.sms.auth_token, config.smtp.password)  # S9
    except (ConfigError, OSError):
        path = default_data_dir() / "errors.log"
    command = [w for w in words if w in SUBCOMMANDS or w.isalpha()][
        :2
    ]  # "kiosk staff add", not its values
    return log_error(path, error, " ".join(["kiosk", *command]), secrets=secrets)


if __name__ == "__main__":
    sys.exit(main())
