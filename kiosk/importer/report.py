"""What an import did: counts per file and every rejected row or resource, with its reason.

Plain dataclasses and no database imports, so a screen can show a report without loading peewee.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

# progress(label, done, total): "Reading families.csv", 5_000, 100_000
Progress = Callable[[str, int, int], None]

EXIT_OK, EXIT_SOME_REJECTED, EXIT_NOTHING_READ = 0, 1, 2


@dataclass(frozen=True)
class ImportProblem:
    """A row or resource the import rejected, or imported with a warning, and why (O4)."""

    file: str
    where: str  # "line 12", "entry 3 (Patient/pat1)", "Patient/example"
    reason: str
    rejected: bool = True  # False: imported, with a warning

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {'rejected' if self.rejected else 'warning'}: {self.reason}"


@dataclass
class FileCounts:
    file: str
    readable: bool = True
    patients_created: int = 0
    patients_updated: int = 0
    patients_unchanged: int = 0
    caregivers_created: int = 0
    caregivers_updated: int = 0
    relationships_created: int = 0
    relationships_updated: int = 0
    rejected: int = 0
    warnings: int = 0

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def changed(self) -> int:
        return (
            self.patients_created
            + self.patients_updated
            + self.caregivers_created
            + self.caregivers_updated
            + self.relationships_created
            + self.relationships_updated
        )


@dataclass
class ImportReport:
    files: list[FileCounts] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.rejected]

    @property
    def warnings(self) -> list[ImportProblem]:
        return [p for p in self.problems if not p.rejected]

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.files)

    def exit_code(self) -> int:
        """0 everything imported, 1 something rejected or unreadable, 2 no file could be read."""
        if not self.files or not any(counts.readable for counts in self.files):
            return EXIT_NOTHING_READ
        return EXIT_SOME_REJECTED if self.rejected else EXIT_OK

    def summary(self) -> str:
        return (
            f"{self.total('patients_created')} patients added, {self.total('patients_updated')} updated, "
            f"{self.total('patients_unchanged')} unchanged; {self.total('caregivers_created')} caregivers added, "
            f"{self.total('caregivers_updated')} updated; {self.total('relationships_created')} relationships added, "
            f"{self.total('relationships_updated')} updated; {len(self.rejected)} rejected, "
            f"{len(self.warnings)} warnings"
        )
