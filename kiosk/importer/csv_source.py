"""Reading the CSV format: one row per patient and caregiver (a patient with two parents is two rows).

Columns (header row required, any order, case and spaces ignored; ``,`` ``;`` or tab separated):

===================== =========================================================================
chart_number          required; the patient's chart number in the practice's records
given_name            patient's given name; empty or "Baby Girl" and the like: a placeholder (R2)
family_name           patient's family name
birth_date            required; YYYY-MM-DD or MM/DD/YYYY
sex                   F, M, O or U (female, male, other, unknown)
language              en or es (English, Spanish)
caregiver_id          the caregiver's id in the practice's records: the same id in several rows
                      is one person, so their children are siblings
caregiver_given_name  caregiver columns may be empty for a patient with no caregiver
caregiver_family_name
relationship          a role (Mother, Father, Stepparent, Guardian, Foster parent, Grandparent,
                      Other) or a code from data/roles.toml (MTH, FTH, PRN, GUARD, MTHFOST, ...)
authority             Joint, Sole or None; empty: the role's default from data/roles.toml
email                 caregiver's email
cell                  caregiver's US cell phone, any punctuation
carrier               caregiver's cell carrier (a key of data/carriers.toml: verizon, att, ...)
caregiver_language    en or es
===================== =========================================================================
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from kiosk import validate
from kiosk.importer import clean
from kiosk.importer.records import CaregiverIn, Collected, LinkIn, PatientIn, placeholder_given_name
from kiosk.importer.roles import RoleTable
from kiosk.messages.carriers import get_carrier
from kiosk.people.names import is_placeholder_name
from kiosk.terms import Authority, fold, is_one_of
from kiosk.validate import InputProblem

PATIENT_COLUMNS = ("chart_number", "given_name", "family_name", "birth_date", "sex", "language")
CAREGIVER_COLUMNS = (
    "caregiver_id",
    "caregiver_given_name",
    "caregiver_family_name",
    "relationship",
    "authority",
    "email",
    "cell",
    "carrier",
    "caregiver_language",
)
COLUMNS = PATIENT_COLUMNS + CAREGIVER_COLUMNS
REQUIRED = ("chart_number", "birth_date")

# The template's people, each written once: a caregiver's columns are the same on every row that
# names them, so the example shows siblings sharing a caregiver the way a real export does.
_ANA = ["10001", "Ana", "García López", "2016-03-14", "F", "es"]
_LUIS = ["10002", "Luis", "García López", "2019-11-02", "M", "es"]
_MARIA = [
    "C-501",
    "María",
    "López",
    "Mother",
    "",
    "maria.lopez@example.org",
    "(555) 201-3344",
    "verizon",
    "es",
]
_JOSE = ["C-502", "José", "García", "FTH", "Joint", "", "555-201-7788", "", "es"]
_NEWBORN = ["10003", "Baby Girl", "Nguyen", "2026-11-20", "F", "en"]
_LINH = ["C-610", "Linh", "Nguyen", "MTH", "", "linh.nguyen@example.org", "", "", "en"]
_JORDAN = ["10004", "Jordan", "Smith", "2012-06-30", "U", "en"]
_PAT = ["C-720", "Pat", "Smith", "MTHFOST", "Sole", "", "555 330 1200", "", "en"]
TEMPLATE_ROWS = [
    [*_ANA, *_MARIA],
    [*_ANA, *_JOSE],
    [*_LUIS, *_MARIA],
    [*_NEWBORN, *_LINH],
    [*_JORDAN, *_PAT],
]


def write_template(path: str | Path) -> Path:
    """An example CSV with every column, a family of two siblings and a placeholder newborn."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(TEMPLATE_ROWS)
    return path


def _header_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


MAX_ROW = 10_000  # characters in one row: every column together, far above what a real row holds


class _RowTooLong(Exception):
    pass


class _Lines:
    """The file's lines for csv.reader: counted, and one row bounded at :data:`MAX_ROW` characters.

    A 10 MB value, or a quote left open, would otherwise make csv read the rest of the file as one
    value, or report each of its lines as a row: the row is skipped instead, with the lines of a
    quoted value that closes further on, and the rows after it are read as usual.
    """

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines, self.again = lines, deque[str]()
        self.number, self.size, self.quotes = 0, 0, 0

    def __iter__(self) -> _Lines:
        return self

    def _next(self) -> str:
        return self.again.popleft() if self.again else next(self.lines)

    def __next__(self) -> str:
        line = self._next()
        self.number += 1
        self.size += len(line)
        self.quotes += line.count('"')
        if self.size > MAX_ROW:
            raise _RowTooLong
        return line

    def row_read(self) -> None:
        self.size = self.quotes = 0

    def skip_row(self) -> None:
        """Skip the rest of an overlong row. Inside a quoted value every quote is doubled: an odd
        count so far means a quote is open, and the next line with an odd count closes it. With no
        such line the quote was a stray one: the lines after the overlong one are read as rows."""
        if self.quotes % 2:
            ahead = []
            while (line := self._pull()) is not None:
                ahead.append(line)
                if line.count('"') % 2:
                    self.number += len(ahead)
                    break
            else:
                self.again.extendleft(reversed(ahead))
        self.row_read()

    def _pull(self) -> str | None:
        try:
            return self._next()
        except StopIteration:
            return None


def _span(start: int, end: int) -> str:
    return f"line {start}" if end <= start else f"lines {start}-{end}"


def read_csv(name: str, lines: Iterable[str], into: Collected, roles: RoleTable) -> bool:
    """Read rows into ``into``; False (and a rejection) when the file is not a usable CSV."""
    lines = iter(lines)
    first = next(lines, "")
    delimiter = max(",;\t", key=first.count)
    counted = _Lines(_chain(first, lines))
    reader = csv.reader(counted, delimiter=delimiter)
    try:
        header = [_header_key(column) for column in next(reader, [])]
    except _RowTooLong:
        header = []
    counted.row_read()
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        into.reject(
            name,
            "line 1",
            f"not a kiosk CSV: no {' or '.join(missing)} column "
            f"(write an example with `kiosk import --template FILE`)",
        )
        return False
    unknown = [column for column in header if column and column not in COLUMNS]
    if unknown:
        into.warn(name, "line 1", f"columns ignored: {clean.shown(', '.join(unknown), 200)}")
    index = {column: header.index(column) for column in COLUMNS if column in header}
    while True:
        start = counted.number + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except _RowTooLong:
            quote = counted.quotes % 2 == 1
            counted.skip_row()
            into.reject(
                name,
                _span(start, counted.number),
                f"not readable as CSV (a row longer than {MAX_ROW} "
                "characters)" + ("; check the quotes on this line" if quote else ""),
            )
            reader = csv.reader(counted, delimiter=delimiter)
            continue
        except csv.Error as error:  # e.g. a stray quote swallowing the lines after it
            counted.row_read()
            into.reject(
                name,
                f"line {start}",
                f"not readable as CSV ({error}); check the quotes on this line",
            )
            continue
        counted.row_read()
        # A quoted value may run over several lines: name the row's first line (and its last).
        where = _span(start, counted.number)
        if not any(cell.strip() for cell in row):
            continue
        values = {column: (row[i].strip() if i < len(row) else "") for column, i in index.items()}
        _read_row(name, where, values, into, roles)
    return True


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _read_row(
    name: str, where: str, row: dict[str, str], into: Collected, roles: RoleTable
) -> None:
    if not row.get("chart_number", ""):
        into.reject(name, where, "no chart number")
        return
    try:
        chart = clean.text(row["chart_number"], "chart number", validate.CHART_NUMBER)
        dob = validate.parse_birth_date(row.get("birth_date"))
        sex = clean.sex_code(row.get("sex"))
        given = clean.text(row.get("given_name"), "given name")
        family = clean.text(row.get("family_name"), "family name")
    except InputProblem as error:
        into.reject(name, where, str(error))
        return
    if not given:
        given = placeholder_given_name(sex, dob)
    language = clean.language_code(row.get("language"))
    if row.get("language") and language is None:
        into.warn(
            name, where, f"language {clean.shown(row['language'])} is not offered; English is used"
        )
    patient = PatientIn(
        name, where, chart, given, family, dob, sex, language, is_placeholder_name(given)
    )
    if not into.add_patient(patient):
        return
    if any(row.get(column) for column in CAREGIVER_COLUMNS):
        _read_caregiver(name, where, chart, row, into, roles)


def _read_caregiver(
    name: str, where: str, chart: str, row: dict[str, str], into: Collected, roles: RoleTable
) -> None:
    try:
        given = clean.text(row.get("caregiver_given_name"), "caregiver given name")
        family = clean.text(row.get("caregiver_family_name"), "caregiver family name")
        caregiver_id = clean.text(row.get("caregiver_id"), "caregiver id", validate.IDENTIFIER)
    except InputProblem as error:
        into.reject(name, where, f"caregiver not imported: {error} (the patient was imported)")
        return
    if not (given or family):
        into.reject(
            name, where, "caregiver not imported: no caregiver name (the patient was imported)"
        )
        return
    authority = row.get("authority", "").capitalize()
    if authority and not is_one_of(Authority, authority):
        into.reject(
            name,
            where,
            f"caregiver not imported: authority {clean.shown(row['authority'])} "
            "is not Joint, Sole or None",
        )
        return
    match = roles.match([row.get("relationship", "")])
    if match.unknown_codes:
        into.warn(
            name,
            where,
            f"relationship {clean.shown(match.unknown_codes[0])} is not in the roles table; "
            "imported as Other",
        )
    raw_cell, raw_email = row.get("cell", ""), row.get("email", "")
    cell, email = clean.contact(raw_cell, raw_email, partial(into.warn, name, where))
    carrier = row.get("carrier", "").lower()
    if carrier and get_carrier(carrier) is None:
        into.warn(
            name,
            where,
            f"carrier {clean.shown(row['carrier'])} is not in the carrier table; left blank",
        )
        carrier = ""
    language = clean.language_code(row.get("caregiver_language"))
    key = f"csv:{caregiver_id}" if caregiver_id else f"csv:{chart}:{fold(given)}:{fold(family)}"
    caregiver = into.add_caregiver(
        CaregiverIn(
            name,
            where,
            key,
            given,
            family,
            email,
            cell,
            carrier,
            language,
            phone=clean.digits(raw_cell),
        )
    )
    into.add_link(
        LinkIn(
            name,
            where,
            caregiver,
            match.role,
            authority or match.authority,
            explicit_authority=bool(authority),
            chart=chart,
        )
    )
