"""Opening the database: a SQLite file by default, PostgreSQL by URL.

Every model is bound to :data:`database`, a proxy that :func:`open_database` points at a real
database. SQLite runs in WAL mode with foreign keys on and a busy timeout, and every transaction
begins IMMEDIATE so that it takes the write lock up front: a deferred transaction that later
upgrades to a write is where "database is locked" comes from when several desks share one file.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import logging
import os
import random
import re
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import peewee

if TYPE_CHECKING:
    from kiosk.store.models import BaseModel

P = ParamSpec("P")
T = TypeVar("T")

database = peewee.DatabaseProxy()

# libpq startup options of a read-only command's connection (a session SET would outlive it, below)
READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"
# PostgreSQL connections a process keeps open for its next worker threads: with the screen's own,
# a desk holds two between actions (O1; 64 desks need 128 of the server's max_connections)
IDLE_CONNECTIONS = 2
BUSY_TIMEOUT_MS = 10_000  # another desk's write waits, it does not fail
# Pages each connection keeps in its own cache, at most (about SQLite's default). A desk has a
# connection per worker thread, and searching a large practice fills whatever it is given: at
# 16 MiB a connection held 16.5 MiB after a thousand searches of benchmarks/run.py's million
# patients, enough to take a low-spec kiosk over its memory budget (D1), and no search took less
# CPU time than at 2 MiB (the system's file cache keeps the pages). An import writes a few per
# cent more to the WAL (benchmarks/import_bench.py: 53 MB against 50 for 10,000 patients).
SQLITE_CACHE_KIB = 2_048
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "synchronous": "normal",
    "cache_size": -SQLITE_CACHE_KIB,  # negative: KiB, not pages
    "secure_delete": 1,  # erased text (a sent message's PINs, S2) is overwritten, not left in free space
}
# Prepared statements each connection keeps (Python's default is 128). A desk has a connection per
# worker thread, and a search's IN lists of every length are statements of their own: at 128 the
# caches held 1.4 MiB more of a low-spec kiosk's memory over 30 families than at 32 (D1), and
# preparing a statement again costs well under a millisecond.
SQLITE_CACHED_STATEMENTS = 32


class DatabaseError(RuntimeError):
    """The database could not be opened or is not one kiosk can use; the message says why."""


def is_url(target: str) -> bool:
    return "://" in target


def connect(target: str | os.PathLike, *, read_only: str = "") -> peewee.Database:
    """Make (but do not bind) a Database for a file path or a URL. ``read_only`` opens a SQLite
    file read-only: "ro" as a reader among writers, "immutable" when nobody can be writing it."""
    target = str(target)
    if is_url(target):
        if target.startswith(("postgres://", "postgresql://")):
            try:  # the driver comes with the postgres extra; SQLite sites need not install it (O1)
                import psycopg2  # noqa: F401
            except ImportError:
                raise DatabaseError(
                    "PostgreSQL needs the psycopg2 driver: pip install 'kiosk[postgres]'"
                ) from None
            _give_peewee_psycopg2()
            return _postgres(target)
        if target.startswith("sqlite:///"):
            target = target[len("sqlite:///") :]
        else:
            raise DatabaseError(
                f"database URL {target.split('://')[0]}:// is not supported (use a file path or postgresql://)"
            )
    path = Path(target)
    if read_only:
        from urllib.parse import quote

        # No journal_mode pragma (it writes) and plain BEGIN: a read takes no write lock.
        pragmas = {k: v for k, v in SQLITE_PRAGMAS.items() if k != "journal_mode"}
        uri = f"file:{quote(str(path.absolute()))}?{'mode=ro' if read_only == 'ro' else 'immutable=1'}"
        return peewee.SqliteDatabase(
            uri,
            uri=True,
            pragmas=pragmas,
            timeout=10,
            check_same_thread=False,
            cached_statements=SQLITE_CACHED_STATEMENTS,
        )
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return peewee.SqliteDatabase(
        str(path),
        pragmas=SQLITE_PRAGMAS,
        lock_type="IMMEDIATE",
        timeout=10,
        check_same_thread=False,
        cached_statements=SQLITE_CACHED_STATEMENTS,
    )


def _give_peewee_psycopg2() -> None:
    """peewee was imported without psycopg2 (kiosk/__init__.py: a SQLite desk does not load it);
    give it the driver as its own import would have, once a PostgreSQL database is opened."""
    if getattr(peewee, "psycopg2", None) is not None:
        return
    import psycopg2
    from psycopg2 import extensions
    from psycopg2.extras import Json, register_uuid

    register_uuid()
    names = ("psycopg2", "pg_extensions", "pg_register_uuid", "Json_pg2")
    for name, value in zip(names, (psycopg2, extensions, register_uuid, Json), strict=True):
        setattr(peewee, name, value)
    adapter = peewee.Psycopg2Adapter  # its class body read these when psycopg2 was there
    adapter.txn_idle = extensions.TRANSACTION_STATUS_IDLE
    adapter.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
    adapter.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN


def _postgres(url: str) -> peewee.Database:
    """A PostgreSQL database that reconnects after the server restarted or dropped the connection.

    Without it every later action on that connection fails with "connection already closed" until
    kiosk restarts. Outside a transaction the statement is retried once on a new connection; inside
    one nothing is retried (what it wrote is gone) and the caller reads the lost-connection words
    (kiosk.errors), and the next action reconnects.
    """
    from playhouse.db_url import parse
    from playhouse.pool import PooledPostgresqlDatabase
    from playhouse.shortcuts import ReconnectMixin

    class ReconnectingPostgresqlDatabase(
        ReconnectMixin, _LastStatements, _HandedOn, PooledPostgresqlDatabase
    ):
        reconnect_errors = (
            (peewee.OperationalError, "server closed the connection"),
            (peewee.OperationalError, "terminating connection"),
            (peewee.InterfaceError, "connection already closed"),
        )

    settings = parse(url)
    if not settings.get("database"):
        raise DatabaseError(
            f"database URL {shown(url)} has no database name (postgresql://host/NAME)"
        )
    return ReconnectingPostgresqlDatabase(max_connections=None, **settings)


class _HandedOn:
    """A thread's PostgreSQL connection handed on to the next thread once it has ended (O1).

    peewee gives every thread a connection of its own, and the screens run every search and action
    on a new worker thread: without this, each would open a new connection, a new server process
    (some milliseconds of the server's CPU and round trips before the first statement, more with
    TLS or a password). A thread still never shares its connection while it runs; a worker hands
    its connection on at its end (``hand_on``, called by the screens' ``desk_worker``), the
    connection of any other thread that has ended is given to the next thread that asks, and at
    most ``IDLE_CONNECTIONS`` are kept waiting. ``close()`` still closes (a command that looked and
    leaves, a test dropping its schema). A waiting connection is not asked first whether the
    server still has it (a round trip more for every action): one the server dropped fails its
    first statement, which ReconnectMixin sends again on a new connection, a transaction's BEGIN
    too (it comes before the transaction)."""

    _pool_lock: threading.RLock
    _in_use: dict
    _connections: list

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._owners: dict[int, threading.Thread] = {}
        self._handing = threading.local()
        super().__init__(*args, **kwargs)

    def _connect(self) -> Any:
        with self._pool_lock:
            for key, owner in list(self._owners.items()):
                if not owner.is_alive():
                    del self._owners[key]
                    left = self._in_use.get(key)
                    if left is not None:  # its thread ended with it open: to the next thread
                        super()._close(left.connection)  # type: ignore[misc]
            while len(self._connections) > IDLE_CONNECTIONS:
                _, _, spare = heapq.heappop(self._connections)  # the oldest
                self._close_raw(spare)  # type: ignore[attr-defined]
            conn = super()._connect()  # type: ignore[misc]
            self._owners[id(conn)] = threading.current_thread()
            return conn

    def _is_closed(self, conn: Any) -> bool:
        return bool(conn.closed)

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        with self._pool_lock:
            self._owners.pop(id(conn), None)
            # close() closes; only hand_on gives the connection back to wait for the next thread
            super()._close(conn, not getattr(self._handing, "on", False))  # type: ignore[misc]
            while len(self._connections) > IDLE_CONNECTIONS:
                _, _, spare = heapq.heappop(self._connections)  # the oldest
                self._close_raw(spare)  # type: ignore[attr-defined]

    def hand_on(self) -> None:
        """This thread is done with its connection (a worker at its end): it waits for the next
        thread now, instead of once another thread notices this one has ended, so a desk holds
        no third connection between actions."""
        if self.is_closed() or self.in_transaction():  # type: ignore[attr-defined]
            return
        self._handing.on = True
        try:
            self.close()  # type: ignore[attr-defined]
        finally:
            self._handing.on = False


class _LastStatements:
    """A transaction's last statements sent together with its COMMIT, in one round trip (O1).

    The audit head (kiosk.audit, S10) is locked by an audited transaction's last statements and
    stays locked until its COMMIT has been flushed to disk, and every audited action of every desk
    (each account page, S5, each issue) queues behind that one row. Sent one by one, the lock, the
    events, the head and the COMMIT were four round trips with the lock held, each a wait for a
    CPU on a busy server; with :func:`at_commit` they are two: the locked head comes back, then the
    writes and the COMMIT go together. All or nothing still: a failing statement aborts the
    transaction and the COMMIT after it is not run (the transaction is rolled back as before).

    A step may also guess (the audit head as last read, without its lock) and check its guess in
    its SQL, under the lock, in the same round trip: then no lock is held while the answer travels
    back and the desk computes, only while the server runs the last statements. A wrong guess
    raises ``serialization_failure`` with the message :data:`GUESSED_WRONG` and, as its detail,
    what to guess now: the statements after a savepoint are rolled back and the steps are made
    again with that detail (``step(detail)``), in one more round trip; after :data:`GUESSES`
    wrong guesses, with :data:`LOCK_INSTEAD` (they lock what they read, as before)."""

    _at_commit: threading.local

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._at_commit = threading.local()
        super().__init__(*args, **kwargs)

    def add_commit_step(self, step: CommitStep) -> None:
        steps = getattr(self._at_commit, "steps", None)
        if steps is None:
            steps = self._at_commit.steps = []
        steps.append(step)

    def _take_steps(self) -> list[CommitStep]:
        steps = getattr(self._at_commit, "steps", None) or []
        self._at_commit.steps = []
        return steps

    def commit(self) -> None:
        steps = self._take_steps()
        if not steps:
            super().commit()  # type: ignore[misc]
            return
        guess: str | None = None  # the first time the steps read what they guess
        attempt = 0
        while True:
            attempt += 1
            locked = guess == LOCK_INSTEAD
            statements, params = self._made(steps, guess)
            # the first try sets a savepoint; a guess again first rolls the wrong one back to it
            first = "SAVEPOINT" if attempt == 1 else "" if locked else "ROLLBACK TO SAVEPOINT"
            sent = [f"{first} kiosk_commit"] if first else []
            try:
                self._run("; ".join([*sent, *statements, "COMMIT"]), params)
                return
            except peewee.OperationalError as error:
                guess = guessed_wrong(error)
                if guess is None or locked:
                    raise
            if guess == "" or attempt >= GUESSES:  # nothing to guess, or wrong every time: lock
                self._run("ROLLBACK TO SAVEPOINT kiosk_commit", [])
                guess = LOCK_INSTEAD

    def _made(self, steps: list[CommitStep], guess: str | None) -> tuple[list[str], list[Any]]:
        statements: list[str] = []
        params: list[Any] = []
        # the steps read and lock inside this transaction still: no reconnecting, no BEGIN again
        self.push_transaction(_COMMITTING)  # type: ignore[attr-defined]
        try:
            for step in steps:
                sql, values = step(guess)
                if sql:
                    statements.append(sql)
                    params.extend(values)
        finally:
            self.pop_transaction()  # type: ignore[attr-defined]
        return statements, params

    def _run(self, sql: str, params: list[Any]) -> None:
        # peewee's own wrapper, as its commit uses: the driver's errors become peewee's (IntegrityError,
        # a deadlock for kiosk.store.db.retrying)
        with peewee.__exception_wrapper__:  # type: ignore[attr-defined]
            self.cursor().execute(sql, params)  # type: ignore[attr-defined]

    def rollback(self) -> None:
        self._take_steps()
        super().rollback()  # type: ignore[misc]


_COMMITTING = object()  # on peewee's transaction stack while a commit's last statements are made
# A commit step's SQL raises serialization_failure with this message when what it guessed (the audit
# head, kiosk.audit) has moved; its detail is what to guess now ("": nothing, lock instead)
GUESSED_WRONG = "kiosk: a commit step guessed wrong"
GUESSES = 3  # tries of a commit's steps with a guess, before they lock what they read instead
LOCK_INSTEAD = "lock"  # what a step is given once it must lock what it reads (no guess is this)
# step(None): read (and guess) now; step(detail): guess that; step(LOCK_INSTEAD): lock what you read
CommitStep = Callable[[str | None], tuple[str, list[Any]]]


def guessed_wrong(error: BaseException) -> str | None:
    """What a commit step should guess now, when ``error`` is its SQL saying its guess was wrong
    (:data:`GUESSED_WRONG`); else None."""
    for candidate in (error, getattr(error, "orig", None), error.__cause__, error.__context__):
        diag = getattr(candidate, "diag", None)
        if (
            getattr(candidate, "pgcode", None) == "40001"
            and diag is not None
            and (diag.message_primary == GUESSED_WRONG)
        ):
            return diag.message_detail or ""
    return None


def at_commit(step: CommitStep) -> bool:
    """Make ``step`` run when the current transaction commits, just before it, and send the SQL it
    returns (statements joined by ``;``, and their parameters) with the COMMIT in one round trip;
    True if so. False where it cannot be (SQLite, no transaction, or inside a savepoint, which may
    be rolled back on its own): then the caller writes now. ``step`` is called again when its SQL
    says it guessed wrong (see :class:`_LastStatements`)."""
    db = database.obj
    if isinstance(db, _LastStatements) and database.transaction_depth() == 1:
        db.add_commit_step(step)
        return True
    return False


def run_alone(sql: str, params: list[Any]) -> str | None:
    """``sql`` in a transaction of its own whose BEGIN and COMMIT go with it in one round trip
    (PostgreSQL, outside a transaction: a round trip fewer than BEGIN first). None when it
    committed; when its SQL says a guess was wrong (:data:`GUESSED_WRONG`), rolled back and what
    to guess now ("": nothing, as where it cannot be done so). Any other error: rolled back and
    raised, as peewee's (a connection lost here is said as at any commit, kiosk.errors)."""
    db = database.obj
    if not isinstance(db, _LastStatements):
        return ""
    lost = (peewee.DatabaseError, peewee.InterfaceError)
    try:
        db._run(f"BEGIN; {sql}; COMMIT", params)
        return None
    except lost as error:
        moved = guessed_wrong(error)
        try:
            db._run("ROLLBACK", [])
        except lost:  # the connection is gone, maybe after the COMMIT: said as at any commit
            db.close()  # type: ignore[attr-defined]
            raise error from None
        if moved is None:
            raise
        return moved


def commit_step(kind: type[T]) -> T | None:
    """The step of type ``kind`` the current transaction will run when it commits, if one was made
    (see :func:`at_commit`): a caller may add to it instead of making a second."""
    db = database.obj
    if isinstance(db, _LastStatements) and database.transaction_depth() == 1:
        for step in getattr(db._at_commit, "steps", None) or []:
            if isinstance(step, kind):
                return step
    return None


def shown(target: str | os.PathLike) -> str:
    """The database as it may be printed: a URL's password is replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    target = str(target)
    if not is_url(target):
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_database(target: str | os.PathLike, *, read_only: bool = False) -> peewee.Database:
    """Point :data:`database` at ``target``, create or migrate the schema, and return it.

    ``read_only`` (the commands that only look: staff list, audit verify and export, outbox list)
    writes nothing, not even a migration, so they work on a database whose file, folder or server
    refuses changes; the schema must already be this kiosk's.
    """
    from kiosk.store import schema

    try:
        db = _connected(target, "ro" if read_only else "")
    except (
        peewee.DatabaseError
    ) as error:  # no such folder, no permission, not an SQLite file, no server
        if not (read_only and not is_url(str(target)) and wal_is_empty(target)):
            raise DatabaseError(
                f"cannot open database {shown(target)}: {_why(error, target)}"
            ) from None
        # A WAL database in a folder kiosk cannot write, or on a full disk: SQLite cannot make the
        # shared-memory file a reader needs. With no -wal file, or an empty one (what a failed
        # opening leaves), there is nothing beyond the file itself to read.
        try:
            db = _connected(target, "immutable")
        except peewee.DatabaseError:
            raise DatabaseError(
                f"cannot open database {shown(target)}: {_why(error, target)}"
            ) from None
    try:
        schema.check_schema() if read_only else schema.ensure_schema()
    except peewee.DatabaseError as error:  # a damaged file, or not an SQLite file at all
        db.close()
        raise DatabaseError(f"cannot use database {shown(target)}: {_why(error)}") from None
    return db


def wal_is_empty(path: str | os.PathLike) -> bool:
    """Whether every change committed to the SQLite file ``path`` is in the file itself: no -wal
    beside it, or an empty one (an opening that failed on a full disk leaves one behind)."""
    wal = Path(f"{path}-wal")
    try:
        return wal.stat().st_size == 0
    except FileNotFoundError:
        return True


def exists(target: str | os.PathLike) -> bool:
    """D2: whether ``target`` is a kiosk database already: a SQLite file that is there, or a
    PostgreSQL database that holds kiosk's tables (an empty one is no kiosk database yet). Looks
    without making anything: no file, folder, table or key."""
    from kiosk.store.models import SchemaMeta

    target = str(target)
    if not target.startswith(("postgres://", "postgresql://")):
        return Path(target.removeprefix("sqlite:///")).expanduser().exists()
    db = connect(target)  # not bound: the command's own opening comes after
    try:
        db.connect()
        return bool(db.table_exists(SchemaMeta._meta.table_name))
    except peewee.DatabaseError as error:  # no server, no such database, no permission
        raise DatabaseError(f"cannot open database {shown(target)}: {_why(error)}") from None
    finally:
        db.close()


def _connected(target: str | os.PathLike, read_only: str) -> peewee.Database:
    db = connect(target, read_only=read_only)
    database.initialize(db)
    if read_only and not isinstance(db, peewee.SqliteDatabase):
        # The server holds a read-only command to that. A startup parameter, not a session SET: behind
        # a pooler in transaction mode (pgbouncer) a SET stays on the shared server connection and
        # would make other desks' writes fail. A pooler that refuses the parameter gets none (the
        # read-only commands write nothing; docs/postgresql.md).
        given = db.connect_params.get("options")
        db.connect_params["options"] = f"{given or ''} {READ_ONLY_OPTIONS}".strip()
        try:
            db.connect(reuse_if_open=True)
        except peewee.OperationalError as error:
            if "unsupported startup parameter" not in str(error):
                raise
            if given is None:
                del db.connect_params["options"]
            else:
                db.connect_params["options"] = given
    db.connect(reuse_if_open=True)
    if read_only and isinstance(db, peewee.SqliteDatabase):
        db.execute_sql(
            "SELECT count(*) FROM sqlite_master"
        )  # read now: a file it cannot read fails here
    return db


def _why(error: Exception, target: str | os.PathLike | None = None) -> str:
    """A read-only, locked or full database in plain words (kiosk.errors); else SQLite's or the
    server's own first line, which names the problem with the file or the server."""
    from kiosk.errors import FULL, LOCKED, READ_ONLY, WORDS, database_problem

    problem = database_problem(error)
    if problem is not None and problem.kind in {FULL, LOCKED, READ_ONLY}:
        return problem.words
    if target is not None and _no_room_beside(target):
        # SQLite cannot make the -shm file a WAL database needs and says "disk I/O error"
        return WORDS[FULL]
    # kiosk init run as root for a kiosk account's desks: SQLite says only "unable to open"
    owner = _someone_elses(target) if target is not None else ""
    if owner:
        import getpass

        me = getpass.getuser()
        return (
            f"it belongs to {owner}, and {me} cannot read and write it: run kiosk as {owner}, or "
            f"give the database and its key file to {me} (chown)"
        )
    return _first_line(error)


def _someone_elses(target: str | os.PathLike) -> str:
    """The owner of SQLite file ``target`` (or of its -wal or -shm) when this account may not read
    and write it; "" otherwise."""
    if is_url(str(target)):
        return ""
    for path in (Path(f"{target}{suffix}").expanduser() for suffix in ("", "-wal", "-shm")):
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            try:
                import pwd

                return pwd.getpwuid(path.stat().st_uid).pw_name
            except (KeyError, OSError):
                return f"user {path.stat().st_uid}"
    return ""


def _no_room_beside(target: str | os.PathLike) -> bool:
    """Whether the folder of SQLite file ``target`` has no room for the files SQLite makes beside it."""
    if is_url(str(target)):
        return False
    try:
        return shutil.disk_usage(Path(target).expanduser().parent).free < 64 * 1024
    except OSError:
        return False


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def close_database() -> None:
    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


def hand_on_connection() -> None:
    """A worker thread is done: its PostgreSQL connection waits for the next worker (O1); nothing
    on SQLite, whose connections cost nothing to open."""
    if isinstance(database.obj, _HandedOn):
        database.obj.hand_on()


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextmanager
def read_snapshot() -> Iterator[None]:
    """One consistent view of the database for a long read that must not see desks' writes land
    half-way through it (S10: ``kiosk audit verify``). Joins the caller's transaction if there is one.

    SQLite: a deferred transaction (WAL gives it the snapshot of its first read and takes no write
    lock, so desks keep writing). PostgreSQL: REPEATABLE READ, READ ONLY.
    """
    if database.in_transaction():
        yield
        return
    if is_sqlite():
        txn = database.atomic(lock_type="DEFERRED")
    else:
        txn = database.atomic(isolation_level="REPEATABLE READ READ ONLY")
    with txn:
        yield


@contextmanager
def write_transaction() -> Iterator[Any]:
    """One action, one transaction: all of it lands or none of it does.

    On SQLite the transaction begins IMMEDIATE (the database's lock_type), taking the write
    lock before the first read so two desks never deadlock upgrading a read to a write.
    """
    if database.in_transaction() or not is_sqlite():
        with database.atomic() as txn:
            yield txn
        return
    # One writer at a time in this process: the others wait on a lock that wakes them the moment
    # the write commits. Left to SQLite's busy handler, threads of the portal service (P1) contend
    # by sleeping and polling, up to 100 ms a time, so a busy service answered in seconds. Other
    # processes (desks, further workers) still wait through busy_timeout.
    # Past busy_timeout the write goes ahead to SQLite, which says "database is locked" as before.
    waited = _sqlite_writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        with database.atomic() as txn:
            yield txn
    finally:
        if waited:
            _sqlite_writer.release()


_sqlite_writer = threading.Lock()


# -- O1 on PostgreSQL: one lock order, and a bounded retry of the whole transaction ----------------
# Every transaction that changes patients or their PINs first locks those patients' rows in id
# order (lock_rows), and the audit head (kiosk.audit) is always the last lock taken. Two desks on
# the same family then queue on the first patient instead of deadlocking. Whatever still collides
# (a deadlock, or a serialization failure) is run again from the start a few times, with random
# waits, before the desk hears anything.
CONFLICT_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
CONFLICT_TRIES = 8
CONFLICT_MESSAGE = (
    "Other desks kept changing the same patients at the same moment, so nothing was saved. "
    "Try again."
)
conflict_retries = 0  # how many times this process ran a transaction again (benchmarks print it)


class TransactionConflict(peewee.OperationalError):
    """Still colliding after every retry; nothing was written. The message is for the desk."""

    def __init__(self) -> None:
        super().__init__(CONFLICT_MESSAGE)


def is_conflict(error: BaseException) -> bool:
    """True for PostgreSQL's deadlock and serialization failures (peewee wraps the driver's error)."""
    return any(code in CONFLICT_SQLSTATES for code in _sqlstates(error))


def sqlstate(error: BaseException) -> str:
    """PostgreSQL's SQLSTATE of ``error`` ("" when it has none)."""
    return next(iter(_sqlstates(error)), "")


def _sqlstates(error: BaseException) -> list[str]:
    """The SQLSTATEs ``error`` carries (peewee wraps the driver's error; the original is its cause)."""
    candidates = (error, getattr(error, "orig", None), error.__cause__, error.__context__)
    return [code for c in candidates if (code := getattr(c, "pgcode", None))]


def retrying(fn: Callable[P, T]) -> Callable[P, T]:
    """Run ``fn`` again, whole, when its transaction loses a deadlock or serialization conflict.

    Only the outermost call retries (inside someone else's transaction the conflict goes up to
    theirs); ``fn`` must do all its writing in transactions and keep nothing from a failed try.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        global conflict_retries
        if database.in_transaction():
            return fn(*args, **kwargs)
        for attempt in range(1, CONFLICT_TRIES + 1):
            try:
                return fn(*args, **kwargs)
            except peewee.DatabaseError as error:
                if not is_conflict(error):
                    raise
                if attempt == CONFLICT_TRIES:
                    raise TransactionConflict from None
            conflict_retries += 1
            time.sleep(
                random.uniform(0, min(0.5, 0.005 * 2**attempt))
            )  # jitter: the two desks part ways
        raise TransactionConflict  # not reached: the last try returns or raises

    return run


def run_in_transaction(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in one write transaction, run again on a deadlock (see retrying)."""

    @retrying
    def once() -> T:
        with write_transaction():
            return fn(*args, **kwargs)

    return once()


def lock_rows(model: type[BaseModel], ids: Iterable[int | None]) -> None:
    """Lock ``model``'s rows ``ids`` in id order, first thing in a write transaction (O1).

    FOR NO KEY UPDATE is the lock an UPDATE of the row takes anyway, and it does not block other
    desks inserting rows that refer to it (an attempt, an audit event). SQLite needs nothing: its
    IMMEDIATE transaction holds the whole database's write lock already.
    """
    wanted = sorted({i for i in ids if i is not None})
    if wanted and not is_sqlite():
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = Prepared(
                lambda ids: (
                    model.select(model.id)
                    .where(model.id.in_(ids))
                    .order_by(model.id)
                    .for_update("FOR NO KEY UPDATE")  # type: ignore[arg-type]  # stubs: bool
                )
            )
        lock(ids=wanted)


_LOCKS: dict[type, Prepared] = {}  # lock_rows's statement for each model, written once


class _Slot:
    """Where a named value (or the ``item``th of a list value) goes in a :class:`Prepared`
    statement's parameters."""

    def __init__(self, name: str, item: int | None = None):
        self.name, self.item = name, item

    def of(self, values: dict[str, Any]) -> Any:
        value = values[self.name]
        return value if self.item is None else value[self.item]


def _slot(name: str, value: Any) -> peewee.Value | list[peewee.Value]:
    if isinstance(value, list | tuple):  # an IN list: a placeholder for each item
        return [peewee.Value(_Slot(name, n), converter=False) for n in range(len(value))]
    return peewee.Value(_Slot(name), converter=False)


# A Prepared statement as written: its SQL, its parameters (a _Slot where a value goes), the query,
# and how peewee's cursor wrapper reads its columns (kept from the first run that read a row:
# working that out from the cursor's description again was a fifth of a desk's CPU for a page)
_Made = tuple[str, list[Any], peewee.BaseQuery, dict[str, Any]]
# a cursor wrapper's own state, never kept (peewee's CursorWrapper.__init__)
_PER_CURSOR = frozenset({"cursor", "count", "index", "populated", "row_cache"})


class Prepared:
    """A hot query whose SQL peewee writes once per kind of database, then runs with new values.

    peewee builds the SQL of every query afresh, and for the portal's redemptions (P1) that took
    more of the CPU than the database spent running them; for an account page (S5, L1), half of
    the desk's CPU. ``build(**slots)`` makes the query with a placeholder per named value (use
    them where the values go; a value is sent as given, so pass an id, not a model instance);
    calling ``Prepared(**values)`` runs the SQL with those values, in the current connection and
    transaction, and returns the rows as plain tuples (a datetime column may come back as text on
    SQLite: convert it with the field's ``python_value``); :meth:`rows` and :meth:`first` return
    them as the query itself would (model instances, with the models it joins), :meth:`count`
    how many rows an UPDATE changed (give it values as the field's ``db_value`` makes them); on PostgreSQL,
    outside a transaction, the statement is prepared on the connection (:func:`run_planned_once`:
    an account page's were half of the server's CPU for it, planning). Every other
    parameter of the query is kept as it was built. A list value (for ``in_``) is given to
    ``build`` as a list of placeholders, one an item: the SQL is written once for each length
    (for the first :data:`SHAPES_KEPT` shapes; another is written each time it is run).
    """

    SHAPES_KEPT = 16

    def __init__(self, build: Callable[..., peewee.BaseQuery]):
        self.build = build
        self._made: dict[tuple, _Made] = {}

    def _made_now(self, values: dict[str, Any]) -> _Made:
        # the SQL depends on the dialect, and on the length of each list
        lengths = (len(v) if isinstance(v, list | tuple) else -1 for _, v in sorted(values.items()))
        shape = (is_sqlite(), *lengths)
        made = self._made.get(shape)
        if made is None:
            slots = {name: _slot(name, value) for name, value in values.items()}
            query = self.build(**slots).bind(database.obj)
            sql, params = query.sql()
            made = (sql, params, query, {})
            if len(self._made) < self.SHAPES_KEPT:
                self._made[shape] = made
        return made

    def statement(self, **values: Any) -> tuple[str, list[Any]]:
        """The SQL and its parameters with these values, not run (to send with other statements)."""
        return self._bound(self._made_now(values), values)

    @staticmethod
    def _bound(made: _Made, values: dict[str, Any]) -> tuple[str, list[Any]]:
        sql, params, _, _ = made
        return sql, [p.of(values) if isinstance(p, _Slot) else p for p in params]

    def _run(self, values: dict[str, Any]) -> tuple[Any, _Made]:
        made = self._made_now(values)
        # a SELECT outside a transaction, on a connection of the server's own: planned once there
        return run_planned_once(*self._bound(made, values)), made

    def __call__(self, **values: Any) -> list[tuple[Any, ...]]:
        cursor, _ = self._run(values)
        return list(cursor.fetchall())

    def rows(self, **values: Any) -> list[Any]:
        """The rows as the query gives them (for a model's select, its instances)."""
        cursor, (_, _, query, reader) = self._run(values)
        wrapper = query._get_cursor_wrapper(cursor)  # type: ignore[attr-defined]
        if reader:  # the same SQL gives the same columns: read them as the first time
            vars(wrapper).update(reader)
        rows = list(wrapper)
        if not reader and wrapper.initialized:
            reader.update((k, v) for k, v in vars(wrapper).items() if k not in _PER_CURSOR)
        return rows

    def first(self, **values: Any) -> Any | None:
        """The first row as the query gives it, or None (build it with ``.limit(1)``)."""
        rows = self.rows(**values)
        return rows[0] if rows else None

    def count(self, **values: Any) -> int:
        """How many rows an UPDATE or DELETE changed (as its ``execute()`` says)."""
        cursor, _ = self._run(values)
        return int(cursor.rowcount)


# INSERTs of a few rows, written once for each model, row count and columns (O1: an account
# page's audit event, S5, an issue's PINs; peewee writing them each time was a tenth of the desk's
# CPU for a page)
_INSERTS: dict[tuple[type, tuple[str, ...]], Prepared] = {}
INSERT_ROWS_KEPT = 8  # rows; a longer insert is written each time


def insert_sql(model: type[BaseModel], rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """The INSERT of ``rows`` (dicts of field or column names, all with the same keys) into
    ``model``, without RETURNING, and its parameters, each value converted as peewee converts it
    (the field's ``db_value``). Written each time when a field the rows leave out has a callable
    default (made anew for each insert) or there are many rows."""
    keys = tuple(rows[0]) if rows else ()
    fields = model._meta.combined
    made_each_time = any(
        callable(field.default) and field.name not in keys and field.column_name not in keys
        for field in model._meta.sorted_fields
    )
    if (
        made_each_time
        or not 0 < len(rows) <= INSERT_ROWS_KEPT
        or any(tuple(r) != keys for r in rows)
    ):
        sql, params = model.insert_many(rows).returning().sql()
        return sql, list(params)
    shape = (model, tuple(f"{key}_{n}" for n in range(len(rows)) for key in keys))
    insert = _INSERTS.get(shape)
    if insert is None:
        count = len(rows)
        insert = _INSERTS[shape] = Prepared(
            lambda **slots: model.insert_many(
                [{key: slots[f"{key}_{n}"] for key in keys} for n in range(count)]
            ).returning()
        )
    return insert.statement(
        **{
            f"{key}_{n}": fields[key].db_value(value)
            for n, row in enumerate(rows)
            for key, value in row.items()
        }
    )


def tuples(query: peewee.BaseQuery) -> Iterator[tuple[Any, ...]]:
    """The query's rows as plain tuples, read once without being kept (``query.tuples().iterator()``),
    typed as such: peewee's stubs type its rows as model instances."""
    return iter(query.tuples().iterator())


# -- O1 on PostgreSQL: a search's statement planned once a connection ------------------------------
# PostgreSQL plans every statement sent as text, and a search's one statement (the functions'
# arms in one UNION ALL, kiosk.people.search) took 0.2 to 0.35 ms of the server's CPU to plan
# against 0.3 to 0.7 to run. Prepared (PREPARE, then EXECUTE), it is planned once on each server
# connection. A prepared statement belongs to one server connection, so nothing is prepared
# through a pooler (pgbouncer gives each transaction whichever server connection is free: the
# connection's process id, as the server's greeting gave it, is then not the server process's
# own), nor inside a transaction (a statement that fails there aborts it).
PLAN_ONCE = True  # benchmarks that EXPLAIN what a search sends turn it off, to see the statements
PREPARED_KEPT = 128  # statements a connection keeps prepared at most; others are sent as text
# each connection's prepared statements (None: it goes through a pooler), by id() with a weak
# reference to tell a new connection at a dead one's address: looked up at every search, where a
# WeakKeyDictionary made two weak references a lookup
_prepared: dict[int, tuple[weakref.ref, set[str] | None]] = {}
_unpreparable: set[str] = set()  # a statement PostgreSQL would not prepare: always sent as text
NO_SUCH_STATEMENT, STATEMENT_EXISTS, CHANGED_SHAPE = "26000", "42P05", "0A000"
# a statement's prepared name and the EXECUTE that runs it, made once a statement (its hash of
# a kilobyte of SQL, and the EXECUTE's marks, cost each search more than a lookup)
_names: dict[str, tuple[str, str]] = {}
NAMES_KEPT = 4096
_PEEWEE_LOG = logging.getLogger("peewee")  # where peewee logs each statement it sends


def rows_planned_once(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``%s`` marks its parameters): on PostgreSQL, over a connection of its
    own to the server and outside a transaction, prepared on the connection the first time (in
    the same round trip as its first run) and run prepared after that; otherwise (and on
    SQLite) sent as it is. The same rows either way."""
    rows: list[tuple[Any, ...]] = run_planned_once(sql, params).fetchall()
    return rows


def run_planned_once(sql: str, params: list[Any]) -> Any:
    """The cursor of SELECT ``sql`` run as :func:`rows_planned_once` runs it."""
    db = database.obj
    if not (PLAN_ONCE and params) or isinstance(db, peewee.SqliteDatabase) or db.in_transaction():
        return db.execute_sql(sql, params)
    named = _names.get(sql)
    if named is None:
        name = "kiosk_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
        named = (name, f"EXECUTE {name}({', '.join(['%s'] * len(params))})")
        if len(_names) < NAMES_KEPT:
            _names[sql] = named
    name, run = named
    connection = db.connection()
    known = _prepared_on(connection) if name not in _unpreparable else None
    if known is None or (name not in known and len(known) >= PREPARED_KEPT) or "$" in sql:
        return db.execute_sql(sql, params)
    if name in known and not (db.query_hooks or _PEEWEE_LOG.isEnabledFor(logging.DEBUG)):
        # prepared already: straight to the driver, past peewee's layers (its log, its wrapper
        # of errors, ReconnectMixin's retry), which cost a search more than the EXECUTE itself.
        # Whatever fails here is sent again below, through all of them, as it always was
        try:
            cursor = connection.cursor()
            cursor.execute(run, params)
            return cursor
        except Exception:  # noqa: BLE001 - run again below, where it is handled
            pass
    first, again = name not in known, ""
    for _ in range(3):
        try:
            sent = f"{again}{_prepare(name, sql)}; {run}" if first else run
            cursor = db.execute_sql(sent, params)
        except peewee.DatabaseError as error:
            state = sqlstate(error)
            if state == NO_SUCH_STATEMENT and not first:  # the server forgot it (DISCARD ALL)
                known.discard(name)
                first = True
                continue
            if state == CHANGED_SHAPE and not first:  # a migration changed what a function returns
                first, again = True, f"DEALLOCATE {name}; "
                continue
            if state == STATEMENT_EXISTS and first:  # an earlier try made it, then failed
                known.add(name)
                first = False
                continue
            if not (first and state.startswith("42")):
                raise
            _unpreparable.add(name)  # PostgreSQL would not prepare it (a parameter of no type)
            break
        known.add(name)
        return cursor
    return db.execute_sql(sql, params)


def _prepare(name: str, sql: str) -> str:
    """``PREPARE name AS sql``, its ``%s`` marks numbered ($1, $2, ...), a ``%%`` left for the
    driver to make ``%``."""
    marks = itertools.count(1)
    return f"PREPARE {name} AS " + re.sub(
        "%[s%]", lambda mark: f"${next(marks)}" if mark[0] == "%s" else "%%", sql
    )


def _prepared_on(connection: Any) -> set[str] | None:
    """The statements prepared on ``connection``; None when it goes through a pooler."""
    key = id(connection)
    kept = _prepared.get(key)
    if kept is None or kept[0]() is not connection:
        # forgotten with the connection (a new one may come at its address)
        forget = weakref.ref(connection, functools.partial(_forget, key))
        kept = _prepared[key] = (forget, set() if _own_server_process(connection) else None)
    return kept[1]


def _forget(key: int, _: object) -> None:
    _prepared.pop(key, None)


def _own_server_process(connection: Any) -> bool:
    """Whether ``connection`` reaches the server itself (no pooler between): the process id the
    server's greeting gave is the id of the process running its statements."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return bool(pid == connection.get_backend_pid())
