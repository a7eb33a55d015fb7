"""Opening kiosk's store: the database, its secret key and the practice settings, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk import security
from kiosk.config import Config
from kiosk.store import files
from kiosk.store.db import DatabaseError, database, is_url, open_database, write_transaction
from kiosk.store.models import Practice, RegistrationPin
from kiosk.terms import Access, DatabasePurpose, IdCheck

KEY_CHECK_TEXT = "kiosk key check"


@dataclass(frozen=True)
class PracticeSettings:
    name: str
    portal_url: str
    pin_lifetime_days: int
    idle_lock_minutes: float
    parents_per_pin: int
    purpose: str = DatabasePurpose.PRACTICE  # D2: a practice's database, a demo or a training one
    reminder_days: int = 0  # W3: days before expiry a family is reminded; 0: no reminders
    teen_age: int = 12  # T1, T2
    majority_age: int = 18  # T2
    teen_parent_access: Access = Access.LIMITED  # T1, T2
    id_check_default: IdCheck = IdCheck.PHOTO_ID  # T5


def database_target(config: Config) -> str:
    """Where the database is: the configured path or URL, else the platform data directory."""
    return config.database or str(config.data_dir / "kiosk.sqlite3")


def key_file(config: Config, target: str) -> Path:
    if config.pin_key_file:
        return Path(config.pin_key_file).expanduser()
    path = security.key_path_for(target)
    if path is None:
        raise security.SecretKeyError(
            "a PostgreSQL database needs pin_key_file (KIOSK_PIN_KEY_FILE): every desk must share the same key file"
        )
    return path


def anchor_file(config: Config) -> Path:
    """Where the audit chain is anchored (S10): the configured file, else beside the database (for
    PostgreSQL, beside its key file). A file the practice backs up with the database and key."""
    if config.audit_anchor_file:
        return Path(config.audit_anchor_file).expanduser()
    target = database_target(config)
    if is_url(target) and not target.startswith("sqlite:///"):
        return key_file(config, target).with_name("kiosk-audit.anchor")
    return Path(target.removeprefix("sqlite:///") + ".anchor").expanduser()


def open_store(
    config: Config, *, create_key: bool = True, read_only: bool = False
) -> PracticeSettings:
    """Open (creating or migrating) the database, load the PIN key, make sure settings exist.

    ``read_only``: open without writing anything (no folder, schema, key or settings is made), for
    the commands that only look, so they work on a read-only database.
    """
    target = database_target(config)
    notes: list[str | None] = []
    if not is_url(target):
        folder = Path(target).expanduser().parent
        if folder.is_file():
            raise DatabaseError(f"cannot put the database in {folder}: it is a file, not a folder")
        if read_only and not Path(target).expanduser().is_file():
            raise DatabaseError(f"there is no database at {target}: run kiosk init first")
        target = str(Path(target).expanduser())
        if not read_only:  # a command that only looks makes nothing and changes no mode
            try:
                notes.append(
                    files.private_folder(folder)
                )  # S11: the database, WAL and shm, for kiosk only
            except OSError as error:
                raise DatabaseError(
                    f"cannot make the folder {folder} for the database: {error.strerror}"
                ) from None
            try:
                files.private_file(
                    Path(target)
                )  # made 0600 before SQLite makes it: its WAL and shm follow
            except FileExistsError:
                notes.append(files.tighten(Path(target)))  # before it opens, for the same reason
            except OSError:  # a read-only folder, say: opening it says what is wrong, in words
                pass
    open_database(target, read_only=read_only)
    if (
        not is_url(target) and not read_only
    ):  # said once the database proved usable: an error stays one line
        files.note(*notes, *(files.tighten(Path(target + suffix)) for suffix in ("-wal", "-shm")))
    path = key_file(config, target)
    row = Practice.select().first()
    if not path.exists() and _holds_hashes():
        # A new key would make every issued PIN and verification answer fail for the parents (and
        # their failures would lock and revoke the PINs): stop and say what to restore.
        raise security.SecretKeyError(
            f"key file {path} is missing, and this database holds PINs made with it: restore it from "
            "your backup (or set pin_key_file to where it is); a new key would make every issued PIN unusable"
        )
    if read_only:
        return _look_only(path, row)
    created = (
        not path.exists()
    )  # nothing was hashed with the old key (checked above): nothing is lost
    if create_key and not path.parent.exists():
        files.private_folder(
            path.parent
        )  # a PostgreSQL site's key folder: 0700, like the database's
    key = security.load_or_create_key(path, create=create_key)
    files.note(files.tighten(path))
    check = key.digest("check", KEY_CHECK_TEXT)
    if row is not None and row.key_check and row.key_check != check and not created:
        raise _wrong_key(path)
    security.set_key(key)
    with write_transaction():
        if is_url(target) and not Practice.select().exists():
            # PostgreSQL: two desks starting on a new database make one practice row, not two
            database.execute_sql(
                f'LOCK TABLE "{Practice._meta.table_name}" IN SHARE ROW EXCLUSIVE MODE'
            )
        if not Practice.select().exists():
            Practice.create(
                name=config.practice.name,
                portal_url=config.practice.portal_url,
                pin_lifetime_days=config.practice.pin_lifetime_days,
                idle_lock_minutes=config.practice.idle_lock_minutes,
                reminder_days=config.practice.reminder_days,
                teen_age=config.practice.teen_age,
                majority_age=config.practice.majority_age,
                teen_parent_access=config.practice.teen_parent_access,
                id_check_default=config.practice.id_check_default,
                key_check=check,
            )
        else:
            Practice.update(key_check=check).where(Practice.key_check != check).execute()
    files.remove_old_slips(config)  # S11: slips past printer.keep_minutes go at start too
    return practice_settings()


def _wrong_key(path: Path) -> security.SecretKeyError:
    return security.SecretKeyError(
        f"key file {path} is not the key this database was set up with: every desk must use the "
        "same key file (restore the right one from your backup)"
    )


def _look_only(path: Path, row: Practice | None) -> PracticeSettings:
    """The read-only end of open_store: the key is loaded (and checked) if it is there; nothing is made."""
    if row is None:
        raise DatabaseError("this database has no practice settings yet: run kiosk init first")
    if path.exists():
        key = security.load_or_create_key(path, create=False)
        if row.key_check and row.key_check != key.digest("check", KEY_CHECK_TEXT):
            raise _wrong_key(path)
        security.set_key(key)
    return practice_settings()


def _holds_hashes() -> bool:
    """True once any PIN or verification answer has been hashed with this database's key."""
    return (
        RegistrationPin.select()
        .where(RegistrationPin.pin_hash.is_null(False) | RegistrationPin.answer_hash.is_null(False))
        .exists()
    )


def practice_settings() -> PracticeSettings:
    row = Practice.get()
    return PracticeSettings(
        row.name,
        row.portal_url,
        row.pin_lifetime_days,
        row.idle_lock_minutes,
        row.parents_per_pin,
        row.purpose,
        row.reminder_days,
        row.teen_age,
        row.majority_age,
        Access(row.teen_parent_access),
        IdCheck(row.id_check_default),
    )


def update_practice(**changes: Any) -> PracticeSettings:
    with write_transaction():
        Practice.update(**changes).execute()
    return practice_settings()
