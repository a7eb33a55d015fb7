"""Importing patients and families from the practice's records: CSV and FHIR R4 (O4).

    report = import_files(["patients.ndjson", "relatedpersons.ndjson"], progress=bar)
    write_template("families.csv")

Importing is idempotent: the same file twice changes nothing, a changed email or phone updates
the caregiver, nobody is duplicated, and portal status and PINs are never reset. Every rejected
row or resource is in ``report.problems`` with its file, line or id, and reason.

This package is imported only by the ``kiosk import`` command and the import screen's worker,
never at start-up. :mod:`kiosk.importer.report` has no database imports (safe for a screen).
"""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Container, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.importer.progress import TextProgress  # noqa: F401
from kiosk.importer.report import (  # noqa: F401 - the public names
    EXIT_NOTHING_READ,
    EXIT_OK,
    EXIT_SOME_REJECTED,
    FileCounts,
    ImportProblem,
    ImportReport,
    Progress,
)

if TYPE_CHECKING:  # loaded by import_files itself, when an import runs
    from kiosk.importer.records import Collected
    from kiosk.importer.roles import RoleTable

SUFFIXES_CSV = (".csv", ".tsv", ".txt")

# O4: the most one import file may hold. A file is read whole (a FHIR document must be), so this
# bounds the memory an import takes; 256 MiB is over a million CSV rows. Larger: split the export.
MAX_FILE_BYTES = 256 * 2**20


def write_template(path: str | Path) -> Path:
    """Write an example CSV with every documented column (``kiosk import --template FILE``)."""
    from kiosk.importer.csv_source import write_template as write

    return write(path)


def import_files(
    paths: Iterable[str | Path],
    *,
    progress: Progress | None = None,
    roles_path: str | Path | None = None,
    username: str = "",
) -> ImportReport:
    """Import CSV and FHIR R4 JSON/NDJSON files into the open store; one audit event per file.

    Raises :class:`kiosk.importer.roles.RolesError` when the roles table is unusable (nothing is
    imported then). Everything else wrong is in the report.
    """
    from kiosk import audit
    from kiosk.importer.writer import Writer

    started = time.perf_counter()
    collected, counts = _read_files(paths, roles_path, progress)
    links = collected.resolve_links()
    writer = Writer(collected, links, counts)
    writer.load()
    collected.problems += writer.write(progress)
    report = _report(collected, counts)
    for file_counts in report.files:
        audit.record(audit.IMPORT, staff=username, detail=file_counts.as_dict())
    report.seconds = time.perf_counter() - started
    return report


def nothing_to_import(
    paths: Iterable[str | Path], roles_path: str | Path | None = None
) -> ImportReport | None:
    """The report of an import that would add no patient (every file unreadable or every row
    rejected), read without the store; None when there is someone to import. D2: a new practice's
    database is made for patients, not for a refused file."""
    collected, counts = _read_files(paths, roles_path, None)
    return None if collected.patients else _report(collected, counts)


def _read_files(
    paths: Iterable[str | Path], roles_path: str | Path | None, progress: Progress | None
) -> tuple[Collected, dict[str, FileCounts]]:
    from kiosk.importer.records import Collected
    from kiosk.importer.roles import load_roles

    roles = load_roles(roles_path)
    collected = Collected()
    counts: dict[str, FileCounts] = {}
    for path in map(Path, paths):
        name = _unique_name(path, counts)
        counts[name] = FileCounts(name)
        counts[name].readable = _read_file(path, name, collected, roles, progress)
    return collected, counts


def _report(collected: Collected, counts: dict[str, FileCounts]) -> ImportReport:
    report = ImportReport(list(counts.values()), collected.problems)
    for problem in report.problems:
        if problem.rejected:
            counts[problem.file].rejected += 1
        else:
            counts[problem.file].warnings += 1
    return report


def _unique_name(path: Path, taken: Container[str]) -> str:
    name = str(path)
    number = 2
    while name in taken:
        name, number = f"{path} ({number})", number + 1
    return name


def _read_file(
    path: Path, name: str, collected: Collected, roles: RoleTable, progress: Progress | None
) -> bool:
    from kiosk.importer.csv_source import read_csv
    from kiosk.importer.fhir_source import read_fhir

    try:
        raw = _read_bounded(path)
    except OSError as error:
        collected.reject(name, "file", f"cannot read it: {error.strerror or error}")
        return False
    except _Refused as refused:
        collected.reject(name, "file", str(refused))
        return False
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is allowed, not required
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        collected.reject(name, f"line {line}", "not UTF-8 text (save the export as UTF-8)")
        return False
    if progress:
        progress(f"Reading {path.name}", 0, len(text))
    looks_json = text.lstrip().startswith(("{", "["))
    if path.suffix.lower() in SUFFIXES_CSV or not looks_json:
        readable = read_csv(name, _lines_with_progress(text, path.name, progress), collected, roles)
    else:
        readable = read_fhir(name, text, collected, roles, progress)
    if progress:
        progress(f"Reading {path.name}", len(text), len(text))
    return readable


class _Refused(Exception):
    """A file the importer will not read: not a regular file, or over :data:`MAX_FILE_BYTES`."""


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, never more than :data:`MAX_FILE_BYTES` of them in memory (O4).

    ``/dev/zero`` or a pipe would otherwise be read until memory ran out, and opening a FIFO
    waits for a writer: it is opened without waiting and refused, as any non-regular file is
    (a regular file reads the same with O_NONBLOCK)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb", closefd=True) as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise _Refused("not a regular file (a folder, device or pipe cannot be imported)")
        if status.st_size > MAX_FILE_BYTES:
            raise _Refused(_too_large())
        raw = file.read(MAX_FILE_BYTES + 1)  # a file still growing stops here too
    if len(raw) > MAX_FILE_BYTES:
        raise _Refused(_too_large())
    return raw


def _too_large() -> str:
    return f"larger than {MAX_FILE_BYTES // 2**20} MiB, the most one file may hold (split it)"


def _lines_with_progress(text: str, label: str, progress: Progress | None) -> Iterator[str]:
    done = 0
    # Lines end at \n, \r or \r\n only (as csv expects): str.splitlines would also break a row at
    # a control character such as \x1c, which the row's check should refuse instead.
    for every, line in enumerate(io.StringIO(text, newline=""), start=1):
        yield line
        done += len(line)
        if progress and every % 5000 == 0:
            progress(f"Reading {label}", done, len(text))
