"""Files that hold secrets at rest (S11): the database with its WAL and shm, the key file, slips.

They are made readable by kiosk's user only (0600, in 0700 folders). Files and folders found
looser, from an older kiosk or a copy, are tightened at start with a one-line note, as long as
they are this user's own: a shared or system folder (``/tmp``, a home folder) is never changed.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Config

log = logging.getLogger("kiosk")

FILE_MODE, FOLDER_MODE = 0o600, 0o700
TRAINING_PREFIX = (
    "training-"  # training slips are told apart from real ones, and go when training ends
)


def private_folder(folder: Path) -> str | None:
    """Make ``folder`` (0700) if it is missing, else tighten it if it is this user's own; the note
    to give when it was tightened."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file, not a folder")
    if not folder.exists():
        folder.mkdir(parents=True, mode=FOLDER_MODE)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is cut by the umask; be exact
        return None
    return _tighten(folder, FOLDER_MODE, "folder")


def private_file(path: Path) -> None:
    """Make ``path`` as an empty 0600 file (SQLite then gives its WAL and shm the same mode);
    FileExistsError when it is there."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def tighten(path: Path) -> str | None:
    """Take away group and other access from an existing file of this user's; the note to give
    when it did (None when there was nothing to do)."""
    return _tighten(path, FILE_MODE, "file")


def note(*notes: str | None) -> None:
    """Say each change in one line (kiosk's log: the terminal, before the app starts)."""
    for text in notes:
        if text:
            log.warning("%s", text)


def another_owner(path: Path, command: str, otherwise: str) -> str | None:
    """The refusal of ``command`` run by another account than the one ``path`` belongs to (sudo,
    as root): what it writes would be root's, and the desks, running as the owner, could not open
    it (``otherwise``, D3, S10); None when this account owns ``path`` or it is not there."""
    other = other_owner(path)
    if other is None:
        return None
    owner, account = other
    run_as = f"run it as {owner} (sudo -u {account} {command})"
    return f"{path} belongs to {owner}: {run_as}, or {otherwise}"


def other_owner(path: Path) -> tuple[str, str] | None:
    """Who ``path`` belongs to, when not this account: (their name in words, sudo's ``-u``
    argument); None when this account owns it or it is not there."""
    if not path.exists() or path.stat().st_uid == os.geteuid():
        return None
    import pwd

    uid = path.stat().st_uid
    try:
        owner = pwd.getpwuid(uid).pw_name
        return owner, owner
    except KeyError:  # an account with no name here (a copied folder): sudo takes its number
        return f"user {uid}", f"'#{uid}'"


def practice_owner_path(key: Path) -> Path | None:
    """The file or folder whose account kiosk's files must belong to (S11): the key file (every
    practice has one, beside a SQLite database or where ``pin_key_file`` says), else, for a new
    practice, the nearest folder above it that is there, if this account could make files in it
    (not a shared, sticky one such as ``/tmp``)."""
    key = key.expanduser().absolute()
    if key.exists():
        return key
    folder = next(f for f in key.parents if f.exists())
    shared = folder.stat().st_mode & stat.S_ISVTX
    return folder if folder.is_dir() and not shared and os.access(folder, os.W_OK) else None


def _tighten(path: Path, wanted: int, kind: str) -> str | None:
    """Clear the group and other bits (keeping the owner's, as far as ``wanted`` allows)."""
    try:
        status = path.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(status.st_mode)
    is_kind = stat.S_ISDIR(status.st_mode) if kind == "folder" else stat.S_ISREG(status.st_mode)
    if not is_kind or not mode & 0o077 or status.st_uid != os.getuid() or mode & stat.S_ISVTX:
        return None
    if kind == "folder" and path.resolve() in {Path.home().resolve(), Path("/")}:
        return None
    tightened = mode & wanted  # group and other access taken away; a read-only file stays read-only
    try:
        os.chmod(path, tightened)
    except OSError as error:
        return f"kiosk: {kind} {path} is readable by others ({mode:o}) and could not be changed: {error.strerror}"
    return f"kiosk: {kind} {path} was readable by others ({mode:o}); now by this user only ({tightened:o})"


def slip_folder(config: Config) -> Path:
    """Where slip PDFs are saved: printer.output_dir, else slips/ in the data directory."""
    return (
        Path(config.printer.output_dir).expanduser()
        if config.printer.output_dir
        else config.data_dir / "slips"
    )


SHARED_FOLDER_MODE, SHARED_FILE_MODE = 0o2750, 0o640


def ready_slip_folder(config: Config) -> tuple[Path, int, int]:
    """The slip folder, made or checked, with the mode and group a slip saved there gets: kiosk's
    user's alone (0700 and 0600, S11), or, with ``printer.output_group``, readable by that group
    (the staff who reprint a slip a printer refused; a desk over SSH cannot open a file on the
    server): the folder 2750 with that group (setgid: files in it take the group), slips 0640."""
    folder = slip_folder(config)
    group = config.printer.output_group
    if not group:
        note(private_folder(folder))
        return folder, FILE_MODE, -1
    import grp

    gid = grp.getgrnam(group).gr_gid
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file, not a folder")
    if not folder.exists():
        folder.mkdir(parents=True, mode=FOLDER_MODE)
    status = folder.stat()
    if status.st_uid == os.getuid() and (
        status.st_gid != gid or stat.S_IMODE(status.st_mode) != SHARED_FOLDER_MODE
    ):
        os.chown(folder, -1, gid)  # kiosk's user must be in the group (the README says so)
        os.chmod(folder, SHARED_FOLDER_MODE)  # nobody else: the slips hold PINs
    return folder, SHARED_FILE_MODE, gid


def remove_old_slips(config: Config, *, now: float | None = None) -> int:
    """Delete saved slips older than ``printer.keep_minutes`` (S11); return how many. Run by every
    print, start and outbox run."""
    cutoff = (time.time() if now is None else now) - config.printer.keep_minutes * 60
    return remove_slips(config, "*slip-*.pdf", older_than=cutoff)


def remove_training_slips(config: Config) -> int:
    """Delete the slips training mode saved (when training mode ends, S11); return how many."""
    return remove_slips(config, f"{TRAINING_PREFIX}slip-*.pdf")


def remove_slips(config: Config, pattern: str, *, older_than: float | None = None) -> int:
    """Delete kiosk's slip files matching ``pattern`` in the slip folder (best effort: a file
    another desk removed first, or one that cannot be removed now, is left to the next run)."""
    folder = slip_folder(config)
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.glob(pattern):
        try:
            if older_than is None or path.stat().st_mtime <= older_than:
                path.unlink()
                count += 1
        except OSError:
            continue
    return count
