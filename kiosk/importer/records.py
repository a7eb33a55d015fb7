"""What the readers found, before it touches the database, and the run-wide merging of it.

Readers add patients, caregivers and links (caregiver -> patient, with role) to a
:class:`Collected`. The same patient may appear in several rows or files (a CSV repeats the
child on every caregiver row); the same caregiver too (one RelatedPerson per child, or the
mother named as a contact of each twin). Both are merged here: patients by chart number,
caregivers by identity key or by the same name and the same phone or email.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk.importer.report import ImportProblem
from kiosk.terms import CaregiverRole, fold


@dataclass
class PatientIn:
    file: str
    where: str
    chart: str
    given: str
    family: str
    dob: dt.date
    sex: str | None = None  # None: the record does not say, keep what kiosk has
    language: str | None = None
    placeholder: bool = False

    def same_person(self, other: PatientIn) -> bool:
        return (fold(self.given), fold(self.family), self.dob) == (
            fold(other.given),
            fold(other.family),
            other.dob,
        )


@dataclass
class CaregiverIn:
    file: str
    where: str
    key: str  # becomes Caregiver.external_id
    given: str
    family: str
    email: str = ""
    cell: str = ""
    carrier: str = ""
    language: str | None = None
    phone: str = ""  # the phone's digits, even when it is not a US cell
    aliases: set[str] = field(default_factory=set)  # every key this person came with in this run

    def match_keys(self) -> list[tuple[str, str, str]]:
        """(name, phone) and (name, email): the same name with either one is the same person."""
        name = (fold(self.given), fold(self.family))
        contacts = (self.cell or self.phone, self.email.lower())
        return [(*name, contact) for contact in contacts if contact]

    def absorb(self, other: CaregiverIn) -> None:
        """Take the later record's non-empty details (a changed phone or email wins)."""
        self.aliases |= other.aliases | {other.key}
        for name in ("given", "family", "email", "cell", "carrier", "language"):
            value = getattr(other, name)
            if value:
                setattr(self, name, value)
        if other.phone and not other.cell:
            self.phone = other.phone


@dataclass
class LinkIn:
    file: str
    where: str
    caregiver: CaregiverIn
    role: str
    authority: str
    explicit_authority: bool = False  # the file said the authority; else it is the role's default
    chart: str | None = None  # known, or resolved from patient_ref
    patient_refs: tuple[
        str, ...
    ] = ()  # FHIR reference still to resolve (as written, then as Patient/id)
    scope: str = ""  # the file whose references patient_ref is looked up in first


@dataclass
class Collected:
    patients: dict[str, PatientIn] = field(default_factory=dict)  # chart -> patient
    caregivers: list[CaregiverIn] = field(default_factory=list)
    links: list[LinkIn] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    local_refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, ref) -> chart
    global_refs: dict[str, set[str]] = field(default_factory=dict)  # ref -> charts
    rejected_refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, ref) -> why
    _by_key: dict[str, CaregiverIn] = field(default_factory=dict)
    _by_match: dict[tuple, CaregiverIn] = field(default_factory=dict)

    def reject(self, file: str, where: str, reason: str) -> None:
        self.problems.append(ImportProblem(file, where, reason))

    def warn(self, file: str, where: str, reason: str) -> None:
        self.problems.append(ImportProblem(file, where, reason, rejected=False))

    def add_patient(self, patient: PatientIn, refs: tuple[str, ...] = ()) -> bool:
        """Add (or merge) a patient; False and a rejection when the chart belongs to someone else."""
        known = self.patients.get(patient.chart)
        if known is not None and not known.same_person(patient):
            why = (
                f"chart number {patient.chart} is already {known.given} {known.family} "
                f"({known.file}, {known.where}) in this import"
            )
            self.reject(patient.file, patient.where, why)
            for ref in refs:
                self.rejected_refs[(patient.file, ref)] = f"its patient {ref} was rejected: {why}"
            return False
        if known is None:
            self.patients[patient.chart] = patient
        else:
            if known.file != patient.file:
                self.warn(
                    patient.file,
                    patient.where,
                    f"same patient as {known.file}, {known.where} (chart {patient.chart}): merged",
                )
            for name in ("sex", "language"):
                if getattr(patient, name) is not None:
                    setattr(known, name, getattr(patient, name))
        for ref in refs:
            self.local_refs[(patient.file, ref)] = patient.chart
            self.global_refs.setdefault(ref, set()).add(patient.chart)
        return True

    def add_caregiver(self, caregiver: CaregiverIn) -> CaregiverIn:
        """The run's one record for this person: merged by key, or by the same name and contact."""
        caregiver.aliases.add(caregiver.key)
        matches = caregiver.match_keys()
        known = self._by_key.get(caregiver.key) or next(
            (self._by_match[match] for match in matches if match in self._by_match), None
        )
        if known is None:
            known = caregiver
            self.caregivers.append(known)
        else:
            known.absorb(caregiver)
        for key in known.aliases:
            self._by_key[key] = known
        for match in known.match_keys() + matches:
            self._by_match.setdefault(match, known)
        return known

    def add_link(self, link: LinkIn) -> None:
        self.links.append(link)

    def resolve_links(self) -> list[LinkIn]:
        """Links whose patient is known; the others are rejected with the reason."""
        resolved = []
        for link in self.links:
            if link.chart is None:
                chart, why = self._resolve(link)
                if chart is None:
                    self.reject(link.file, link.where, why)
                    continue
                link.chart = chart
            if link.chart not in self.patients:
                self.reject(link.file, link.where, f"its patient (chart {link.chart}) was rejected")
                continue
            resolved.append(link)
        self._fill_placeholder_family_names(resolved)
        return resolved

    def _resolve(self, link: LinkIn) -> tuple[str | None, str]:
        """(chart, "") for the patient a reference names, or (None, why not)."""
        for ref in link.patient_refs:
            if (link.scope, ref) in self.local_refs:
                return self.local_refs[(link.scope, ref)], ""
            if (link.scope, ref) in self.rejected_refs:
                return None, self.rejected_refs[(link.scope, ref)]
        for ref in link.patient_refs:
            charts = self.global_refs.get(ref, set())
            if len(charts) > 1:
                return None, f"{ref} is ambiguous: several files have a patient with that id"
            if charts:
                return next(iter(charts)), ""
        ref = link.patient_refs[0]
        why = next((w for (f, r), w in self.rejected_refs.items() if r in link.patient_refs), None)
        return None, why or (
            f"its patient {ref} is not in this import "
            "(import the Patient and RelatedPerson files together)"
        )

    def _fill_placeholder_family_names(self, links: list[LinkIn]) -> None:
        """An unnamed newborn takes a family name from a caregiver (a mother first)."""
        for link in sorted(links, key=lambda link: link.role != CaregiverRole.MOTHER):
            patient = self.patients[link.chart] if link.chart is not None else None
            if patient and patient.placeholder and not patient.family and link.caregiver.family:
                patient.family = link.caregiver.family


def placeholder_given_name(sex: str | None, dob: dt.date, today: dt.date | None = None) -> str:
    """The given name an unnamed patient is imported under (flagged, R2): "Baby Girl" for a child."""
    today = today or dt.date.today()
    if (today - dob).days > 18 * 365:
        return "Unknown"
    return {"F": "Baby Girl", "M": "Baby Boy"}.get(sex or "", "Baby")
