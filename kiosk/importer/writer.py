"""Writing what was read: new rows in bulk, changed rows one by one, whole families per transaction.

Families (patients joined through shared caregivers) are written in chunks of a few hundred, each
chunk one transaction. If a chunk fails (another desk added the same chart number meanwhile), it
is written again family by family, so one bad family is reported and the others land. Nothing of
a family is ever half-written. Portal status, PINs and associations are never touched; a name
fixed at the desk (R2) is not put back to "Baby Girl" by the next night's import.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import peewee

from kiosk.importer.records import CaregiverIn, Collected, LinkIn, PatientIn
from kiosk.importer.report import FileCounts, ImportProblem, Progress
from kiosk.people.names import is_placeholder_name
from kiosk.people.search_index import index_caregivers, index_patients
from kiosk.store.db import lock_rows, run_in_transaction, tuples
from kiosk.store.models import BaseModel, Caregiver, Patient, Relationship
from kiosk.terms import CaregiverRole, fold, utcnow

CHUNK_PATIENTS = 2000  # patients per transaction
ROWS_PER_INSERT = 500  # rows per INSERT statement (well under SQLite's bound-variable limit)
LOOKUP = 900


@dataclass
class _Family:
    charts: list[str] = field(default_factory=list)
    caregivers: list[CaregiverIn] = field(default_factory=list)
    links: list[LinkIn] = field(default_factory=list)


class Writer:
    def __init__(self, collected: Collected, links: list[LinkIn], counts: dict[str, FileCounts]):
        self.data, self.links, self.counts = collected, links, counts
        self.patients: dict[str, tuple] = {}  # chart -> existing row tuple
        self.caregiver_by_key: dict[str, tuple] = {}
        self.caregiver_by_match: dict[tuple, tuple] = {}
        self.caregiver_by_name: dict[
            tuple[int, str, str], tuple
        ] = {}  # (patient id, given, family) -> row
        self.relationships: dict[tuple[int, int], tuple[str, str]] = {}

    # -- loading what kiosk already has -------------------------------------------------------
    def load(self) -> None:
        by_id: dict[int, tuple] = {}
        charts = list(self.data.patients)
        for start in range(0, len(charts), LOOKUP):
            query = Patient.select(
                Patient.id,
                Patient.chart_number,
                Patient.given_name,
                Patient.family_name,
                Patient.dob,
                Patient.sex,
                Patient.preferred_language,
                Patient.placeholder_name,
            )
            for row in tuples(
                query.where(Patient.chart_number.in_(charts[start : start + LOOKUP]))
            ):
                self.patients[row[1]] = row
        for row in tuples(
            Caregiver.select(
                Caregiver.id,
                Caregiver.external_id,
                Caregiver.given_name,
                Caregiver.family_name,
                Caregiver.email,
                Caregiver.cell,
                Caregiver.carrier,
                Caregiver.preferred_language,
            )
        ):
            by_id[row[0]] = row
            if row[1]:
                self.caregiver_by_key[row[1]] = row
            for contact in (row[5], row[4].lower()):
                if contact:
                    self.caregiver_by_match.setdefault((fold(row[2]), fold(row[3]), contact), row)
        ids = [row[0] for row in self.patients.values()]
        for start in range(0, len(ids), LOOKUP):
            links = Relationship.select(
                Relationship.caregiver,
                Relationship.patient,
                Relationship.role,
                Relationship.authority,
            )
            for caregiver_id, patient_id, role, authority in tuples(
                links.where(Relationship.patient.in_(ids[start : start + LOOKUP]))
            ):
                self.relationships[(caregiver_id, patient_id)] = (role, authority)
                row = by_id[caregiver_id]
                self.caregiver_by_name[(patient_id, fold(row[2]), fold(row[3]))] = row

    def existing_caregiver(
        self, caregiver: CaregiverIn, charts: Iterable[str] = ()
    ) -> tuple | None:
        """The caregiver kiosk already has: by identity key, by the same name and phone or email,
        else by the same name among the caregivers of the same child (a changed email)."""
        for key in sorted(caregiver.aliases):
            if key in self.caregiver_by_key:
                return self.caregiver_by_key[key]
        for contact in (caregiver.cell, caregiver.email.lower()):
            row = (
                self.caregiver_by_match.get(
                    (fold(caregiver.given), fold(caregiver.family), contact)
                )
                if contact
                else None
            )
            if row:
                return row
        for chart in charts:
            patient = self.patients.get(chart)
            row = patient and self.caregiver_by_name.get(
                (patient[0], fold(caregiver.given), fold(caregiver.family))
            )
            if row:
                return row
        return None

    # -- families -----------------------------------------------------------------------------
    def families(self) -> list[_Family]:
        parent: dict[tuple[str, Any], tuple[str, Any]] = {}

        def find(node: tuple[str, Any]) -> tuple[str, Any]:
            while parent.setdefault(node, node) != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        for link in self.links:
            parent[find(("c", id(link.caregiver)))] = find(("p", link.chart))
        groups: dict[tuple[str, Any], _Family] = defaultdict(_Family)
        for chart in self.data.patients:
            groups[find(("p", chart))].charts.append(chart)
        seen: set[int] = set()
        for link in self.links:
            family = groups[find(("p", link.chart))]
            family.links.append(link)
            if id(link.caregiver) not in seen:
                seen.add(id(link.caregiver))
                family.caregivers.append(link.caregiver)
        return list(groups.values())

    def write(self, progress: Progress | None = None) -> list[ImportProblem]:
        problems: list[ImportProblem] = []
        families = self.families()
        total, done, chunk = len(self.data.patients), 0, list[_Family]()
        for index, family in enumerate(families):
            chunk.append(family)
            size = sum(len(f.charts) for f in chunk)
            if size >= CHUNK_PATIENTS or index == len(families) - 1:
                problems += self._write_chunk(chunk)
                done += size
                chunk = []
                if progress:
                    progress("Writing", done, total)
        return problems

    def _write_chunk(self, families: list[_Family]) -> list[ImportProblem]:
        try:
            self._count(run_in_transaction(self._write, families))
            return []
        except Exception:  # noqa: BLE001 - retried family by family below, each failure reported
            pass
        problems: list[ImportProblem] = []
        for family in families:
            try:
                self._count(run_in_transaction(self._write, [family]))
            except Exception as error:  # noqa: BLE001 - one family fails, the others land
                for chart in family.charts:
                    patient = self.data.patients[chart]
                    problems.append(
                        ImportProblem(patient.file, patient.where, f"family not written: {error}")
                    )
        return problems

    def _count(self, tally: list[tuple[str, str]]) -> None:
        for file, name in tally:
            setattr(self.counts[file], name, getattr(self.counts[file], name) + 1)

    # -- one transaction's worth --------------------------------------------------------------
    def _write(self, families: list[_Family]) -> list[tuple[str, str]]:
        tally: list[tuple[str, str]] = []
        now = utcnow()
        self.renamed: list[
            int
        ] = []  # patients and caregivers whose search terms (N1) are made again
        self.created_charts: list[str] = []
        self.recontacted: list[int] = []
        self.created_caregivers: list[int] = []
        # O1: the patients this chunk changes, locked in id order before anything else
        lock_rows(
            Patient, [self.patients[c][0] for f in families for c in f.charts if c in self.patients]
        )
        patient_ids = self._write_patients([c for f in families for c in f.charts], now, tally)
        charts: dict[int, list[str]] = defaultdict(
            list
        )  # caregiver -> the charts the file ties them to
        for link in (each for f in families for each in f.links):
            charts[id(link.caregiver)].append(_chart(link))
        caregiver_ids = self._write_caregivers(
            [c for f in families for c in f.caregivers], charts, now, tally
        )
        self._write_relationships(
            [each for f in families for each in f.links], patient_ids, caregiver_ids, tally
        )
        # N1: new and renamed people are found by their new names, in the same transaction
        index_patients(self.renamed + [patient_ids[c] for c in self.created_charts])
        index_caregivers(self.recontacted + [caregiver_ids[k] for k in self.created_caregivers])
        return tally

    def _write_patients(
        self, charts: list[str], now: dt.datetime, tally: list[tuple[str, str]]
    ) -> dict[str, int]:
        ids: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        for chart in charts:
            incoming, row = self.data.patients[chart], self.patients.get(chart)
            if row is None:
                new.append(_new_patient(incoming, now))
                self.created_charts.append(chart)
                tally.append((incoming.file, "patients_created"))
                continue
            ids[chart] = row[0]
            changes = _patient_changes(incoming, row)
            if changes:
                changes.update(updated_at=now)
                Patient.update(**changes).where(Patient.id == row[0]).execute()
                if "given_name" in changes:
                    self.renamed.append(row[0])
                tally.append((incoming.file, "patients_updated"))
            else:
                tally.append((incoming.file, "patients_unchanged"))
        _insert(Patient, new)
        ids.update(_ids(Patient, Patient.chart_number, [row["chart_number"] for row in new]))
        return ids

    def _write_caregivers(
        self,
        caregivers: list[CaregiverIn],
        charts: dict[int, list[str]],
        now: dt.datetime,
        tally: list[tuple[str, str]],
    ) -> dict[int, int]:
        ids: dict[int, int] = {}
        new: list[dict[str, Any]] = []
        for caregiver in caregivers:
            row = self.existing_caregiver(caregiver, charts[id(caregiver)])
            if row is None:
                new.append(
                    dict(
                        given_name=caregiver.given,
                        family_name=caregiver.family,
                        email=caregiver.email,
                        cell=caregiver.cell,
                        carrier=caregiver.carrier,
                        preferred_language=caregiver.language or "en",
                        external_id=caregiver.key,
                        created_at=now,
                        updated_at=now,
                    )
                )
                self.created_caregivers.append(id(caregiver))
                tally.append((caregiver.file, "caregivers_created"))
                continue
            ids[id(caregiver)] = row[0]
            changes = _caregiver_changes(caregiver, row)
            if (
                not row[1] and caregiver.key not in self.caregiver_by_key
            ):  # found by name: known by key from now on
                changes["external_id"] = caregiver.key
                self.caregiver_by_key[caregiver.key] = row
            if changes:
                changes.update(updated_at=now)
                Caregiver.update(**changes).where(Caregiver.id == row[0]).execute()
                if changes.keys() & {"given_name", "family_name", "email", "cell"}:
                    self.recontacted.append(row[0])
                tally.append((caregiver.file, "caregivers_updated"))
        _insert(Caregiver, new)
        by_key = _ids(Caregiver, Caregiver.external_id, [row["external_id"] for row in new])
        for caregiver in caregivers:
            if id(caregiver) not in ids:
                ids[id(caregiver)] = by_key[caregiver.key]
        return ids

    def _write_relationships(
        self,
        links: list[LinkIn],
        patient_ids: dict[str, int],
        caregiver_ids: dict[int, int],
        tally: list[tuple[str, str]],
    ) -> None:
        wanted: dict[tuple[int, int], LinkIn] = {}
        for link in links:  # one caregiver named twice for one child: the more specific role wins
            pair = (caregiver_ids[id(link.caregiver)], patient_ids[_chart(link)])
            known = wanted.get(pair)
            vaguer = (
                known is not None
                and known.role == CaregiverRole.OTHER
                and link.role != CaregiverRole.OTHER
            )
            if known is None or vaguer or link.explicit_authority:
                wanted[pair] = link
        new: list[dict[str, Any]] = []
        for pair, link in wanted.items():
            existing = self.relationships.get(pair)
            if existing is None:
                new.append(
                    dict(
                        caregiver=pair[0], patient=pair[1], role=link.role, authority=link.authority
                    )
                )
                tally.append((link.file, "relationships_created"))
                continue
            role, authority = existing
            if link.explicit_authority or link.role != role:
                changes = {
                    k: v
                    for k, v in (("role", link.role), ("authority", link.authority))
                    if (k == "role" and v != role) or (k == "authority" and v != authority)
                }
                if changes:
                    query = Relationship.update(**changes).where(
                        (Relationship.caregiver == pair[0]) & (Relationship.patient == pair[1])
                    )
                    query.execute()
                    tally.append((link.file, "relationships_updated"))
        _insert(Relationship, new)


def _chart(link: LinkIn) -> str:
    assert link.chart is not None, "links reach the writer resolved (Collected.resolve_links)"
    return link.chart


def _new_patient(incoming: PatientIn, now: dt.datetime) -> dict[str, Any]:
    return dict(
        chart_number=incoming.chart,
        given_name=incoming.given,
        family_name=incoming.family,
        given_key=fold(incoming.given),
        family_key=fold(incoming.family),
        dob=incoming.dob,
        sex=incoming.sex or "U",
        preferred_language=incoming.language or "en",
        placeholder_name=incoming.placeholder,
        created_at=now,
        updated_at=now,
    )


def _patient_changes(incoming: PatientIn, row: tuple) -> dict[str, Any]:
    _, _, given, family, dob, sex, language, placeholder = row
    changes: dict[str, Any] = {}
    name_fixed_at_desk = not placeholder and not is_placeholder_name(given)
    if not (incoming.placeholder and name_fixed_at_desk) and (
        incoming.given,
        incoming.family,
        incoming.placeholder,
    ) != (given, family, placeholder):
        changes.update(
            given_name=incoming.given,
            family_name=incoming.family,
            given_key=fold(incoming.given),
            family_key=fold(incoming.family),
            placeholder_name=incoming.placeholder,
        )
    if incoming.dob != dob:
        changes["dob"] = incoming.dob
    if incoming.sex and incoming.sex != sex:
        changes["sex"] = incoming.sex
    if incoming.language and incoming.language != language:
        changes["preferred_language"] = incoming.language
    return changes


def _caregiver_changes(caregiver: CaregiverIn, row: tuple) -> dict[str, Any]:
    _, _, given, family, email, cell, carrier, language = row
    wanted = dict(
        given_name=caregiver.given or given,
        family_name=caregiver.family or family,
        email=caregiver.email or email,
        cell=caregiver.cell or cell,
        carrier=caregiver.carrier or carrier,
        preferred_language=caregiver.language or language,
    )
    current = dict(
        given_name=given,
        family_name=family,
        email=email,
        cell=cell,
        carrier=carrier,
        preferred_language=language,
    )
    return {k: v for k, v in wanted.items() if current[k] != v}


def _insert(model: type[BaseModel], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), ROWS_PER_INSERT):
        model.insert_many(rows[start : start + ROWS_PER_INSERT]).execute()


def _ids(model: type[BaseModel], column: peewee.Field, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(values), LOOKUP):
        found.update(
            tuples(model.select(column, model.id).where(column.in_(values[start : start + LOOKUP])))
        )
    return found
