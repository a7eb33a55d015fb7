"""O4: importing FHIR R4 (HL7's official examples and SanteDB's family tests, quirks included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.audit import IMPORT
from kiosk.importer import EXIT_SOME_REJECTED, import_files
from kiosk.store.models import AuditEvent, Caregiver, Patient, Relationship

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "fhir-r4"
HL7 = CORPUS / "hl7-r4-examples"
SANTEDB = CORPUS / "santedb-fhir-tests"

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"FHIR R4 corpus not found at {CORPUS}"
)


def corpus_files() -> list[Path]:
    return sorted(HL7.glob("*.json")) + sorted(SANTEDB.glob("*.json"))


def caregivers_of(chart: str) -> list[tuple[str, str, str, int]]:
    patient = Patient.get(Patient.chart_number == chart)
    return sorted(
        (r.caregiver.full_name, r.role, r.authority, r.caregiver.id) for r in patient.relationships
    )


def snapshot() -> tuple:
    """Every row an import may touch, with its update time: equal snapshots mean nothing changed."""
    return (
        sorted(
            Patient.select(
                Patient.chart_number,
                Patient.given_name,
                Patient.family_name,
                Patient.dob,
                Patient.placeholder_name,
                Patient.updated_at,
            ).tuples()
        ),
        sorted(
            Caregiver.select(
                Caregiver.external_id, Caregiver.email, Caregiver.cell, Caregiver.updated_at
            ).tuples()
        ),
        sorted(
            Relationship.select(
                Relationship.caregiver,
                Relationship.patient,
                Relationship.role,
                Relationship.authority,
            ).tuples()
        ),
    )


@needs_corpus
def test_every_corpus_file_imports_or_is_rejected_with_a_reason(store):
    files = corpus_files()
    assert len(files) >= 30

    report = import_files(files)

    for counts in report.files:
        reasons = [p for p in report.problems if p.file == counts.file]
        assert counts.readable, counts.file
        assert counts.patients_created or counts.relationships_created or reasons, counts.file
        assert all(len(p.reason) > 10 for p in reasons)
    merged = next(p for p in report.problems if p.file.endswith("patient-genetics-example1.json"))
    assert merged.reason.endswith("(chart 444222222): merged") and not merged.rejected
    by_file = {Path(p.file).name: p.reason for p in report.rejected}
    assert by_file["patient-example-animal.json"] == "is an animal (patient-animal extension)"
    assert by_file["patient-example-infant-fetal.json"] == "no birth date"
    assert by_file["CreateMultipleBirthPatient.json"] == "no identifier and no id: no chart number"
    assert "is not in this import" not in " ".join(by_file.values())
    assert report.exit_code() == EXIT_SOME_REJECTED
    assert Patient.select().count() == report.total("patients_created") > 200


@needs_corpus
def test_the_twins_and_their_mother_come_out_as_siblings_with_a_mother(store):
    import_files(
        [
            HL7 / "patient-example-infant-twin-1.json",
            HL7 / "patient-example-infant-twin-2.json",
            HL7 / "patient-example-infant-mom.json",
        ]
    )

    jaina, jacen = caregivers_of("MRN7465737865"), caregivers_of("MRN7465676978")
    assert [c[:3] for c in jaina] == [("Leia Organa", "Mother", "Joint")]
    assert jaina == jacen  # the same Caregiver row: one family
    assert Caregiver.select().count() == 1
    mom = Patient.get(Patient.chart_number == "infant-mom")  # no identifier: the resource id
    assert (mom.given_name, mom.family_name) == ("Leia", "Solo")


@needs_corpus
def test_reimporting_the_whole_corpus_changes_nothing(store):
    import_files(corpus_files())
    before = snapshot()

    again = import_files(corpus_files())

    assert snapshot() == before
    assert sum(counts.changed for counts in again.files) == 0
    assert again.total("patients_unchanged") == len(before[0])


@needs_corpus
def test_santedb_family_with_a_bom_shares_one_mother_by_identifier(store):
    report = import_files([SANTEDB / "EntireFamilyRelationship.json"])

    john, jane = caregivers_of("FHR-002"), caregivers_of("FHR-004")
    assert [c[:2] for c in john] == [("SARAH SMITH", "Mother")]
    assert john == jane
    # Patient.link with a bare string instead of a Reference: a warning, the patient is imported.
    assert Patient.get(Patient.chart_number == "FHR-00423").given_name == "SARAH"
    assert any("malformed reference" in p.reason and not p.rejected for p in report.problems)


@needs_corpus
def test_unnamed_newborn_is_flagged_as_a_placeholder_and_takes_the_mothers_family_name(store):
    import_files(
        [HL7 / "patient-example-newborn.json", HL7 / "relatedperson-example-newborn-mom.json"]
    )

    baby = Patient.get(Patient.chart_number == "newborn")
    assert (baby.given_name, baby.family_name, baby.placeholder_name) == (
        "Baby Boy",
        "Everywoman",
        True,
    )
    assert baby.given_key == "babyboy" and baby.family_key == "everywoman"
    assert caregivers_of("newborn")[0][:3] == ("Eve Everywoman", "Mother", "Joint")  # NMTH
    mom = Caregiver.get()
    assert (mom.cell, mom.external_id) == (
        "5555552003",
        "fhir:http://hl7.org/fhir/sid/us-ssn|444222222",
    )


@needs_corpus
def test_relatedperson_without_its_patient_is_rejected_with_the_reason(store):
    report = import_files([HL7 / "relatedperson-example-newborn-mom.json"])

    assert [str(p) for p in report.rejected] == [
        (
            f"{HL7 / 'relatedperson-example-newborn-mom.json'}: RelatedPerson/newborn-mom: rejected: its patient "
            "Patient/newborn is not in this import (import the Patient and RelatedPerson files together)"
        )
    ]
    assert Caregiver.select().count() == 0


def patient(id_: str, chart: str, given: str, birth: str | None = "2020-01-02", **extra) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": id_,
        "identifier": [{"value": chart}],
        "name": [{"use": "official", "family": "Lee", "given": [given]}],
        "gender": "female",
        **extra,
    }
    if birth:
        resource["birthDate"] = birth
    return resource


def related(id_: str, ref, code: str, **extra) -> dict:
    return {
        "resourceType": "RelatedPerson",
        "id": id_,
        "patient": ref,
        "relationship": [{"coding": [{"code": code}]}],
        "name": [{"family": "Lee", "given": ["Kim"]}],
        "gender": "female",
        "telecom": [
            {"system": "phone", "value": "(317) 555-0199", "use": "mobile"},
            {"system": "email", "value": "kim.lee@example.org"},
        ],
        **extra,
    }


def test_ndjson_bad_lines_are_reported_by_line_and_the_rest_is_imported(store, tmp_path):
    lines = [
        json.dumps(patient("a", "C1", "Ada")),
        json.dumps(patient("b", "C2", "Bo", birth=None)),
        "{not json",
        json.dumps(related("r1", {"reference": "Patient/a"}, "MTHFOST")),
        json.dumps(related("r2", "Patient/a", "MTH")),
        json.dumps(related("r3", {"reference": "Patient/"}, "MTH")),
        json.dumps({"resourceType": "Observation", "id": "o1"}),
        json.dumps(patient("c", "C3", "Cy", birth="2021")),
    ]
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.rejected] == [
        ("line 2 (Patient/b)", "no birth date"),
        ("line 3", "not valid JSON (Expecting property name enclosed in double quotes)"),
        (
            "line 5 (RelatedPerson/r2)",
            "malformed patient reference 'Patient/a' (must be an object with a reference)",
        ),
        (
            "line 6 (RelatedPerson/r3)",
            "malformed patient reference 'Patient/' (expected Patient/<id>)",
        ),
        (
            "line 7 (Observation/o1)",
            "Observation resources are not imported (only Patient, RelatedPerson and Bundle)",
        ),
        ("line 8 (Patient/c)", "birth date '2021' is not a full date (YYYY-MM-DD)"),
    ]
    assert [c[:3] for c in caregivers_of("C1")] == [("Kim Lee", "Foster parent", "Joint")]
    assert report.files[0].rejected == 6


def test_unknown_relationship_code_imports_as_other_with_a_warning(store, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"fullUrl": "urn:uuid:p1", "resource": patient("p1", "C9", "Ida")},
                    {"resource": related("r1", {"reference": "urn:uuid:p1"}, "ZZTOP")},
                ],
            }
        ),
        encoding="utf-8",
    )

    report = import_files([path])

    assert caregivers_of("C9")[0][:3] == ("Kim Lee", "Other", "None")
    assert [p.reason for p in report.warnings] == [
        "relationship code ZZTOP not in the roles table; imported as Other"
    ]


def test_a_changed_phone_updates_the_caregiver_and_siblings_share_them(store, tmp_path):
    def export(phone: str) -> Path:
        path = tmp_path / "export.ndjson"
        mother = {
            "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
            "identifier": [{"system": "urn:ehr", "value": "RP-7"}],
        }
        path.write_text(
            "\n".join(
                json.dumps(r)
                for r in [
                    patient("a", "C1", "Ada"),
                    patient("b", "C2", "Bo"),
                    related("r1", {"reference": "Patient/a"}, "PRN", **mother),
                    related("r2", {"reference": "Patient/b"}, "PRN", **mother),
                ]
            ),
            encoding="utf-8",
        )
        return path

    import_files([export("317-555-0100")])
    report = import_files([export("+1 317 555 0111")])

    assert caregivers_of("C1") == caregivers_of("C2")
    assert [c[:3] for c in caregivers_of("C1")] == [("Kim Lee", "Mother", "Joint")]  # PRN, female
    assert [(c.cell, c.external_id) for c in Caregiver.select()] == [
        ("3175550111", "fhir:urn:ehr|RP-7")
    ]
    assert report.total("caregivers_updated") == 1 and report.total("caregivers_created") == 0


def test_the_roles_table_can_be_overridden_by_the_practice(store, tmp_path):
    override = tmp_path / "roles.toml"
    override.write_text(
        '[codes]\nMTH = "Guardian"\n[authority]\nGuardian = "Sole"\n', encoding="utf-8"
    )
    path = tmp_path / "export.ndjson"
    path.write_text(
        json.dumps(patient("a", "C1", "Ada"))
        + "\n"
        + json.dumps(related("r1", {"reference": "Patient/a"}, "MTH")),
        encoding="utf-8",
    )

    import_files([path], roles_path=override)

    assert caregivers_of("C1")[0][:3] == ("Kim Lee", "Guardian", "Sole")


def test_a_bad_roles_table_names_the_problem(store, tmp_path):
    from kiosk.importer.roles import RolesError

    override = tmp_path / "roles.toml"
    override.write_text('[codes]\nMTH = "Mom"\n', encoding="utf-8")

    with pytest.raises(RolesError, match="code MTH -> 'Mom' is not a role"):
        import_files([], roles_path=override)


def test_one_audit_event_per_file_with_its_counts(store, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(patient("a", "C1", "Ada")), encoding="utf-8")
    second.write_text(json.dumps(patient("b", "C2", "Bo", birth=None)), encoding="utf-8")

    import_files([first, second], username="admin")

    events = [
        (e.action, e.staff, json.loads(e.detail))
        for e in AuditEvent.select().where(AuditEvent.action == IMPORT)
    ]
    assert [
        (action, staff, detail["file"], detail["patients_created"], detail["rejected"])
        for action, staff, detail in events
    ] == [("import", "admin", str(first), 1, 0), ("import", "admin", str(second), 0, 1)]
