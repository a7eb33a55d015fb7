"""Errors as the desk reads them (S9, O1), and the error log that keeps the details.

:func:`database_problem` is the one mapping from database and driver exceptions (SQLite,
psycopg2, peewee's wrappers of either, and the disk under them) to plain words that say what
happened and what to do; the CLI and the app's one error handler both use it, so a locked
database, a lost connection, a full disk or a read-only database read the same on SQLite and
PostgreSQL and no raw driver message reaches the desk.

:func:`log_error` writes an unexpected error to the error log (0600): the time, where it
happened, the exception type and a traceback without local variables, with anything shaped like
a PIN, a birth date or a password scrubbed (S9). Nothing here imports psycopg2 or Textual.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LOCKED, LOST, FULL, READ_ONLY, CONFLICT, INVALID, DAMAGED, UNAVAILABLE, DISK = (
    "locked",
    "lost",
    "full",
    "read-only",
    "conflict",
    "invalid",
    "damaged",
    "unavailable",
    "disk",
)

WORDS = {
    LOCKED: "The database is busy: another desk or program has held it too long. Nothing was changed; "
    "wait a moment and try again. If it keeps happening, close the desk or program that is stuck.",
    LOST: "The connection to the database server was lost (the server restarted or the network dropped). "
    "Nothing was changed; try again in a moment. If it keeps happening, tell the administrator.",
    FULL: "The disk is full. Nothing was changed; free some disk space (tell the administrator), then try again.",
    READ_ONLY: "The database is read-only (its file, its folder or the server refuses changes). Nothing was "
    "changed; ask the administrator to make it writable.",
    CONFLICT: "Another desk changed the same records at the same moment. Nothing was changed; try again.",
    INVALID: "A value is too long or not in a form the database accepts. Nothing was changed; correct what "
    "was typed and try again.",
    DAMAGED: "The database is damaged or is not a kiosk database. Stop using it and tell the administrator "
    "(restore it from the backup).",
    UNAVAILABLE: "The database cannot be reached (the server is down or refuses connections, or the file "
    "cannot be opened). Check that it is running and the database setting, then try again.",
    DISK: "The disk the database is on reported an error reading or writing. Nothing was changed; tell the "
    "administrator (check the disk or network share).",
}


@dataclass(frozen=True)
class Problem:
    """A database failure in the desk's words: ``kind`` (one of the constants above) and ``words``."""

    kind: str
    words: str

    def __str__(self) -> str:
        return self.words


# PostgreSQL SQLSTATE codes (by prefix, longest first) and the kind each one is.
_SQLSTATES = [
    ("40P01", CONFLICT),
    ("40001", CONFLICT),
    ("55P03", LOCKED),
    ("57014", LOCKED),
    ("53100", FULL),
    ("53", UNAVAILABLE),
    ("25006", READ_ONLY),
    ("57P", LOST),
    ("08", LOST),
    ("22", INVALID),
    ("23", CONFLICT),
    ("42P01", DAMAGED),
    ("42703", DAMAGED),
    ("XX001", DAMAGED),
    ("XX002", DAMAGED),
]
# psycopg2.errors classes made without a server (tests, other drivers' wrappers) carry no pgcode.
_PG_CLASSES = {
    "DiskFull": "53100",
    "ReadOnlySqlTransaction": "25006",
    "AdminShutdown": "57P01",
    "CrashShutdown": "57P02",
    "CannotConnectNow": "57P03",
    "DeadlockDetected": "40P01",
    "SerializationFailure": "40001",
    "LockNotAvailable": "55P03",
    "QueryCanceled": "57014",
    "StringDataRightTruncation": "22001",
    "TooManyConnections": "53300",
}
# Messages without a code (SQLite, a dead connection), lower case, and the kind each one is.
_MESSAGES = [
    ("database is locked", LOCKED),
    ("database table is locked", LOCKED),
    ("database is busy", LOCKED),
    ("locking protocol", LOCKED),  # SQLite's word while a restore holds the database (D3)
    ("database or disk is full", FULL),
    ("no space left on device", FULL),
    ("readonly database", READ_ONLY),
    ("read-only", READ_ONLY),
    ("server closed the connection", LOST),
    ("connection already closed", LOST),
    ("terminating connection", LOST),
    ("connection is closed", LOST),
    ("ssl syscall error", LOST),
    ("could not connect to server", UNAVAILABLE),
    ("connection refused", UNAVAILABLE),
    ("could not translate host name", UNAVAILABLE),
    ("connection to server at", UNAVAILABLE),
    ("unable to open database file", UNAVAILABLE),
    ("disk i/o error", DISK),
    ("file is not a database", DAMAGED),
    ("disk image is malformed", DAMAGED),
    ("no such table", DAMAGED),
    ("no such column", DAMAGED),
]
_ERRNOS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY, errno.EIO: DISK}


def _kind_of(error: BaseException) -> str | None:
    code = getattr(error, "pgcode", None) or _PG_CLASSES.get(type(error).__name__)
    if code:
        return next((kind for prefix, kind in _SQLSTATES if code.startswith(prefix)), None)
    if isinstance(error, OSError) and error.errno in _ERRNOS:
        return _ERRNOS[error.errno]
    module = type(error).__module__.split(".")[0]
    if module not in {"sqlite3", "peewee", "psycopg2", "psycopg"}:
        return None
    text = str(error).lower()
    return next((kind for fragment, kind in _MESSAGES if fragment in text), None)


def _chain(error: BaseException) -> Iterable[BaseException]:
    """``error`` and what led to it: peewee wraps the driver's exception (its first argument and
    context), and a failed ROLLBACK after SQLite gave up on a full disk hides the real cause
    ("cannot rollback - no transaction is active") in its context."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        )
        pending += [inner, current.__cause__, current.__context__]


def database_problem(error: BaseException) -> Problem | None:
    """The plain-words Problem for a database, driver or disk failure; None for anything else."""
    if (
        type(error).__name__ == "TransactionConflict"
    ):  # kiosk.store.db gave up retrying: its own words
        return Problem(CONFLICT, str(error))
    for each in _chain(error):
        kind = _kind_of(each)
        if kind is not None:
            return Problem(kind, WORDS[kind])
    return None


def is_lost_connection(error: BaseException) -> bool:
    problem = database_problem(error)
    return problem is not None and problem.kind == LOST


def plain_words(error: BaseException, what: str = "") -> str:
    """What the desk reads for any failure: the database mapping's words, else that something
    unexpected stopped ``what``. Never the exception's own text, which may hold a PIN (S9)."""
    problem = database_problem(error)
    if problem is not None:
        return problem.words
    doing = f"{what} did not finish" if what else "That did not finish"
    if (
        isinstance(error, OSError) and error.strerror
    ):  # a file kiosk cannot write: say which and why
        where = f" ({error.filename})" if error.filename else ""
        return f"{doing}: {error.strerror}{where}. Tell the administrator."
    return (
        f"{doing}: something unexpected went wrong. Try again; if it keeps happening, tell the "
        "administrator (the details are in kiosk's error log)."
    )


# -- scrubbing (S9) --------------------------------------------------------------------------
SCRUBBED = "[removed]"
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_SECRET_SHAPES = re.compile(
    "|".join(
        [
            r"(?<![A-Za-z])[A-HJKMNPR-TV-Z]{5}[-\s]?[A-HJKMNPR-TV-Z]{5}(?![A-Za-z])",  # a PIN (kiosk.registration.pins.ALPHABET)
            r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b",  # 2022-05-17
            r"\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b",  # 05/17/2022, 17.05.22
            r"\bdate(?:time)?\(\s*\d{4}\s*,\s*\d{1,2}\s*,\s*\d{1,2}[^)]*\)",  # datetime.date(2022, 5, 17)
            r"\b\d{8}\b",  # 20220517, 05172022
            rf"\b(?:{_MONTHS})[a-z]*\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",  # May 17, 2022
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})[a-z]*\.?,?\s+\d{{4}}\b",  # 17 May 2022
        ]
    ),
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|answer|pin|dob|birth_?date)(['\"]?\s*[=:]\s*)(['\"]?)[^\s,'\")}]+",
    re.IGNORECASE,
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the secrets it may hold (S9): each of ``secrets`` (what was typed into a
    password, PIN, answer or birth-date field), anything shaped like a PIN or a date, a URL's
    password, and ``password=...``-style values."""
    for secret in sorted(
        {s.strip() for s in secrets if s and len(s.strip()) >= 3}, key=len, reverse=True
    ):
        text = re.sub(re.escape(secret), SCRUBBED, text, flags=re.IGNORECASE)
    text = _URL_PASSWORD.sub(rf"\1{SCRUBBED}@", text)
    text = _KEY_VALUE.sub(rf"\1\2\3{SCRUBBED}", text)
    return _SECRET_SHAPES.sub(SCRUBBED, text)


# -- the error log ---------------------------------------------------------------------------
ERROR_LOG_NAME = "errors.log"
_log_lock = threading.Lock()


def log_entry(
    error: BaseException, where: str, *, now: dt.datetime | None = None, secrets: Iterable[str] = ()
) -> str:
    """One entry of the error log: time, where, the exception type and its traceback without
    local variables (traceback.format_exception never shows them), scrubbed."""
    now = now or dt.datetime.now(dt.UTC)
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    body = scrub(f"{where}: {type(error).__name__}\n{details}", secrets)
    return f"--- {now:%Y-%m-%dT%H:%M:%SZ} {body.rstrip()}\n"


def log_error(
    path: Path, error: BaseException, where: str, *, secrets: Iterable[str] = ()
) -> Path | None:
    """Append ``error`` to the error log at ``path`` (made 0600 in a 0700 folder); the path, or
    None when the log itself cannot be written (a full disk must not turn into a second error)."""
    entry = log_entry(error, where, secrets=secrets)
    try:
        with _log_lock:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)  # an older log made with a looser mode is tightened
                os.write(fd, entry.encode("utf-8", "replace"))
            finally:
                os.close(fd)
    except OSError:
        return None
    return path
