"""Backup and restore (D3): a consistent copy while desks keep working, and a guarded restore.

``kiosk backup FILE`` copies a SQLite database with SQLite's online backup API in one step: the
copy reads one snapshot (WAL lets desks keep writing meanwhile), so it is never half of one
desk's action. The PIN key file is never in the copy: with the key, a stolen backup's PIN and
answer hashes could be tried offline, so the practice keeps it apart (it is named, not copied).

``kiosk restore FILE`` puts a backup in the database's place only when no desk, sender or other
kiosk process has the database open: every SQLite connection to a WAL database holds a shared
lock on one byte of its ``-shm`` file (SQLite's "dead man switch"); taking that byte exclusively
fails while any connection lives and, held through the restore, keeps new ones out. The database
it replaces is kept beside it (``NAME.before-restore-STAMP``), never deleted.

PostgreSQL has its own tools: the commands say which (pg_dump, pg_restore), with the password hidden.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import Config
from kiosk.store.db import is_url, wal_is_empty
from kiosk.store.files import another_owner
from kiosk.store.models import AuditEvent, Practice, SchemaMeta

SHM_DEAD_MAN_SWITCH = (
    128  # byte of the -shm file every open connection locks shared (SQLite's os_unix.c)
)


class BackupError(RuntimeError):
    """A backup or restore that did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class Done:
    lines: list[str]  # what to tell the user, one line each


def _sqlite_path(config: Config) -> Path:
    from kiosk.store.practice import database_target

    target = database_target(config)
    if is_url(target) and not target.startswith("sqlite:///"):
        raise PostgresTarget(target)
    return Path(target.removeprefix("sqlite:///")).expanduser()


class PostgresTarget(BackupError):
    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


def pg_command(tool: str, url: str, file: str) -> str:
    """The pg_dump or pg_restore command for ``url``, without its password: PGPASSWORD or
    ~/.pgpass supplies it (a password left in the URL, even as ***, would be used instead).

    pg_dump's file would be made with the shell's umask (0644 under the usual 022): readable by
    every account on the machine, patients' details and PIN hashes included (S11). The command
    writes it through a subshell with umask 077 (0600, the user's own umask left as it was) and
    noclobber (never over an existing file, as kiosk backup never overwrites).
    """
    import shlex
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is not None:
        userinfo, host = parts.netloc.rsplit("@", 1)
        url = urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}@{host}"))
    if tool == "pg_dump":
        dump = shlex.join([tool, "--format=custom", "--dbname", url])
        return f"(umask 077 && set -C && {dump} > {shlex.quote(file)})"
    # One transaction: a restore that fails halfway (a dump from another kiosk, a full disk) leaves
    # the database as it was, not half dropped (D3)
    args = [tool, "--format=custom", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    return shlex.join([*args, "--dbname", url, file])


def postgres_sessions(url: str) -> int | None:
    """D3: how many other sessions have ``url``'s database open now (desks, services, a pooler's
    server connections); None when the server cannot be asked (down, no such database yet)."""
    import peewee

    from kiosk.store.db import DatabaseError, connect

    try:
        db = connect(url)
        db.connect()
    except (DatabaseError, peewee.DatabaseError):
        return None
    try:
        row = db.execute_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"  # not autovacuum
        ).fetchone()
        return int(row[0])
    except peewee.DatabaseError:
        return None
    finally:
        db.close()
        db.close_all()  # type: ignore[attr-defined]  # a pool's close() keeps it open


def key_files_note(config: Config) -> list[str]:
    """D3: where the key and anchor files are, and that they are kept apart from the backup."""
    from kiosk.security import SecretKeyError
    from kiosk.store.practice import anchor_file, database_target, key_file

    target = database_target(config)
    try:
        key = str(key_file(config, target))
    except SecretKeyError:
        key = "(pin_key_file is not set)"
    return [
        f"Not in the backup: the key file {key} and the audit anchor file {anchor_file(config)}.",
        (
            "Keep a copy of the key file separately (another medium, locked away): the backup is no use "
            "without it, and the two together let someone try PINs offline."
        ),
    ]


def backup(config: Config, destination: str | os.PathLike) -> Done:
    """Copy the database to ``destination`` (0600, refused if it exists) while desks keep working."""
    source = _sqlite_path(config)
    dest = Path(destination).expanduser()
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if dest.exists():
        raise BackupError(f"{dest} already exists: name a new file (a backup never overwrites one)")
    if not dest.parent.is_dir():  # said plainly, not as the temporary file's name that failed
        raise BackupError(f"there is no folder {dest.parent}: make it first (mkdir -m 700)")
    if dest.resolve() in _own_files(config, source):
        raise BackupError(
            f"{dest} is a name the database's own files take (its WAL, lock, journal, anchor or "
            "key file): name the backup elsewhere"
        )
    _remove_left_over(dest.parent, ".*.partial-[0-9]*")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    held = _held_open(partial)  # 0600 before a byte is in it
    try:
        try:
            _copy(f"file:{source}?mode=ro", str(partial))
        except sqlite3.OperationalError:
            if not wal_is_empty(source):
                raise
            # D3: on a full disk SQLite cannot make the -shm file a reader needs, and no desk can
            # have the database open (it would have made it); with nothing in the WAL the file
            # itself is the whole database, read as it is, onto the disk the backup goes to
            _copy(f"file:{source}?immutable=1", str(partial))
        events = _check(partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
        os.close(held)
    return Done(
        [
            f"Backed up {source} to {dest} ({events} audit events; integrity check ok).",
            *key_files_note(config),
        ]
    )


def _held_open(partial: Path) -> int:
    """Make ``partial`` (0600, never over a file) and hold it locked while the copy is made: a
    backup or restore killed halfway leaves it unlocked, for the next one to remove (D2)."""
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _remove_left_over(folder: Path, pattern: str) -> None:
    """D2, S11: remove the partial copies in ``folder`` that a killed backup or restore left (a
    whole database's patients, under a name nobody looks at); one still being made is locked."""
    for path in folder.glob(pattern):
        try:  # never a link's target; a FIFO planted under such a name must not hold us (NONBLOCK)
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # a partial copy is a plain file
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink(missing_ok=True)
        except OSError:  # its backup or restore is still at work
            pass
        finally:
            os.close(fd)


def _own_files(config: Config, database: Path) -> set[Path]:
    """The database and the files SQLite and kiosk keep beside it, made when needed: a backup
    written under one of those names would be taken for it (D3)."""
    from kiosk.security import SecretKeyError
    from kiosk.store.practice import anchor_file, key_file

    own = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]
    own.append(anchor_file(config))
    try:
        own.append(key_file(config, str(database)))
    except SecretKeyError:
        pass
    return {path.expanduser().resolve() for path in own}


def _copy(source_uri: str, dest: str) -> None:
    """SQLite's online backup in one step (pages=-1): one read snapshot, so one consistent state."""
    src = sqlite3.connect(source_uri, uri=True, timeout=30)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out, pages=-1)
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            out.close()
    finally:
        src.close()
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check(path: Path) -> int:
    """The copy passes PRAGMA integrity_check and is a kiosk database; its number of audit events."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = con.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(
                f"the copy fails SQLite's integrity check ({verdict}); nothing was kept"
            )
        try:
            return int(
                con.execute(f'SELECT count(*) FROM "{AuditEvent._meta.table_name}"').fetchone()[0]
            )
        except sqlite3.DatabaseError:
            raise BackupError(f"{path} is not a kiosk database") from None
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database ({error})") from None
    finally:
        con.close()


@contextmanager
def no_one_connected(database: Path) -> Iterator[None]:
    """Hold the database's connection lock (see the module text) for the block; BackupError when a
    desk or any other process has the database open."""
    if not database.exists():
        yield  # nothing to open yet
        return
    # With no -shm no connection has it open; made here and locked, it keeps out a desk that
    # starts during the restore (it would write to the database being set aside)
    fd = os.open(f"{database}-shm", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DEAD_MAN_SWITCH)
        except OSError:
            raise BackupError(
                f"{database} is in use (a desk, the outbox sender or another kiosk has it open): "
                "close them all, then restore"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def restore(config: Config, backup_file: str | os.PathLike) -> Done:
    """Put ``backup_file`` in the database's place, keeping the old one; refused while it is in use
    or when the backup needs a different key file than the one configured."""
    target = _sqlite_path(config)
    source = Path(backup_file).expanduser()
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    if target.exists() and source.resolve() == target.resolve():
        raise BackupError(f"{source} is the database itself: name a file kiosk backup made")
    refusal = another_owner(
        target,
        "kiosk restore ...",
        "the desks, running as that account, could not open the database it puts in its place",
    )
    if refusal:
        raise BackupError(refusal)
    events = _check(source)
    _newer_schema(source)
    _same_key(config, source, target)
    _same_purpose(source, target)
    kept = None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with no_one_connected(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_left_over(target.parent, f".{target.name}.restoring-[0-9]*")
        partial = target.with_name(f".{target.name}.restoring-{os.getpid()}")
        held = _held_open(partial)
        try:
            # The copy first, the swap after: a restore that cannot finish (a full disk) leaves
            # the database in its place, not set aside with nothing where desks look for it
            _copy(f"file:{source}?mode=ro", str(partial))
            if target.exists():
                kept = target.with_name(f"{target.name}.before-restore-{stamp}")
                for suffix in (
                    "",
                    "-wal",
                ):  # the WAL may hold the old database's last changes: kept with it
                    if Path(f"{target}{suffix}").exists():
                        os.replace(f"{target}{suffix}", f"{kept}{suffix}")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
            os.close(held)
        Path(f"{target}-shm").unlink(missing_ok=True)  # the old database's shared memory: stale now
    lines = [f"Restored {target} from {source} ({events} audit events)."]
    if kept:
        lines.append(f"The database it replaced is kept as {kept}.")
    lines += _set_anchors_aside(config, source, stamp, kept)
    lines.append(
        "Run kiosk audit verify to check the restored audit trail against your anchor file."
    )
    return Done(lines)


def _set_anchors_aside(config: Config, source: Path, stamp: str, kept: Path | None) -> list[str]:
    """S10, D3: anchors taken after the backup name events the restored trail never had, so kiosk
    audit verify would fail on every run from now on. The anchor file is kept whole (beside the
    replaced database, as its anchor file, when it was beside the database) and keeps only the
    lines the backup can answer for: an anchor the backup's own events contradict still fails."""
    from kiosk.audit import read_anchors
    from kiosk.store.practice import anchor_file

    path = anchor_file(config)
    anchors, _ = read_anchors(path)
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        (last,) = con.execute(f'SELECT max(seq) FROM "{AuditEvent._meta.table_name}"').fetchone()
    finally:
        con.close()
    later = [a for a in anchors if a.seq > (last or 0)]
    if not later:
        return []
    beside = kept is not None and path == Path(f"{_sqlite_path(config)}.anchor")
    whole = (
        Path(f"{kept}.anchor") if beside else path.with_name(f"{path.name}.before-restore-{stamp}")
    )
    os.replace(path, whole)
    text = whole.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    moved = {a.line for a in later}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(line for line in text if line.strip() not in moved)
    lost = f"{(last or 0) + 1} to {max(a.seq for a in later)}"
    return [
        f"Events {lost} happened after this backup and are not in the restored database.",
        f"{len(later)} anchor line(s) naming them left {path}; all are kept in {whole}.",
    ]


def _newer_schema(source: Path) -> None:
    """A backup from a newer kiosk: every desk here would refuse it once it is in place."""
    from kiosk.store.schema import SCHEMA_VERSION

    version = _one_value(source, f'SELECT max(version) FROM "{SchemaMeta._meta.table_name}"')
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BackupError(
            f"{source} was made by a newer kiosk (schema version {version}, this kiosk "
            f"{SCHEMA_VERSION}): upgrade kiosk first, then restore"
        )


def _same_purpose(source: Path, target: Path) -> None:
    """D2: a demo or training database restored over a practice's would put made-up families where
    every desk looks for the real ones (its own key file passing, as a demo made beside the
    practice shares it). A backup older than the database's purpose, which has none, is a practice's."""
    from kiosk.terms import DatabasePurpose

    if not target.is_file():
        return
    sql = f'SELECT purpose FROM "{Practice._meta.table_name}" LIMIT 1'
    theirs = _one_value(source, sql)
    if theirs in (None, DatabasePurpose.PRACTICE):
        return
    # Read as it is: a read-only connection would leave a -wal file where there was none, which the
    # restore would then keep beside the replaced database
    ours = _one_value(target, sql, "mode=ro" if Path(f"{target}-wal").exists() else "immutable=1")
    if ours != DatabasePurpose.PRACTICE:
        return
    raise BackupError(
        f"{source} is a {theirs} database (made-up families), and {target} is a practice's: "
        "restore a backup of the practice, or give the demo its own --db"
    )


def _one_value(source: Path, sql: str, flags: str = "mode=ro") -> object:
    """The first column of the first row ``sql`` reads from the backup; None when it has none."""
    con = sqlite3.connect(f"file:{source}?{flags}", uri=True)
    try:
        row = con.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        row = None
    finally:
        con.close()
    return row[0] if row else None


def _same_key(config: Config, source: Path, target: Path) -> None:
    """The backup's PIN hashes need the key file it was made with (S2): refuse a mismatch."""
    from kiosk import security
    from kiosk.store.practice import KEY_CHECK_TEXT, key_file

    path = key_file(config, str(target))
    check = _one_value(source, f'SELECT key_check FROM "{Practice._meta.table_name}" LIMIT 1')
    if not check:
        return
    if not path.exists():
        raise BackupError(
            f"the key file {path} is missing: put the key file kept with this backup there first"
        )
    key = security.load_or_create_key(path, create=False)
    if key.digest("check", KEY_CHECK_TEXT) != check:
        raise BackupError(
            f"this backup was made with a different key file than {path}: put the key file "
            "kept with this backup there first (every PIN in it needs that key)"
        )
