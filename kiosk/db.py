"""Opening the database: a SQLite file by default, PostgreSQL by URL.

Every model is bound to :data:`database`, a proxy that :func:`open_database` points at a real
database. SQLite runs in WAL mode with foreign keys on and a busy timeout, and every transaction
begins IMMEDIATE so that it takes the write lock up front: a deferred transaction that later
upgrades to a write is where "database is locked" comes from when several desks share one file.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import peewee

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # ms: another desk's write waits, it does not fail
    "synchronous": "normal",
    "cache_size": -16_000,  # KiB
    "secure_delete": 1,  # erased text (a sent message's PINs, S2) is overwritten, not left in free space
}


class DatabaseError(RuntimeError):
    """The database could not be opened or is not one kiosk can use; the message says why."""


def is_url(target: str) -> bool:
    return "://" in target


def connect(target: str | os.PathLike) -> peewee.Database:
    """Make (but do not bind) a Database for a file path or a URL."""
    target = str(target)
    if is_url(target):
        if target.startswith(("postgres://", "postgresql://")):
            try:  # the driver comes with the postgres extra; SQLite sites need not install it (O1)
                import psycopg2  # noqa: F401
            except ImportError:
                raise DatabaseError("PostgreSQL needs the psycopg2 driver: pip install 'kiosk[postgres]'") from None
            from playhouse.db_url import connect as url_connect

            return url_connect(target)
        if target.startswith("sqlite:///"):
            target = target[len("sqlite:///"):]
        else:
            raise DatabaseError(f"database URL {target.split('://')[0]}:// is not supported (use a file path or postgresql://)")
    path = Path(target)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return peewee.SqliteDatabase(
        str(path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", timeout=10, check_same_thread=False
    )


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


def open_database(target: str | os.PathLike) -> peewee.Database:
    """Point :data:`database` at ``target``, create or migrate the schema, and return it."""
    from kiosk import schema

    db = connect(target)
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
    except peewee.DatabaseError as error:  # no such folder, no permission, not an SQLite file, no server
        raise DatabaseError(f"cannot open database {shown(target)}: {_first_line(error)}") from None
    try:
        schema.ensure_schema()
    except peewee.DatabaseError as error:  # a damaged file, or not an SQLite file at all
        db.close()
        raise DatabaseError(f"cannot use database {shown(target)}: {_first_line(error)}") from None
    return db


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def close_database() -> None:
    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextmanager
def read_snapshot():
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
def write_transaction():
    """One action, one transaction: all of it lands or none of it does.

    On SQLite the transaction begins IMMEDIATE (the database's lock_type), taking the write
    lock before the first read so two desks never deadlock upgrading a read to a write.
    """
    with database.atomic() as txn:
        yield txn
