"""Acceptance of O4: import CSV and FHIR R4, as a practice's nightly export would arrive."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kiosk.importer import EXIT_OK, EXIT_SOME_REJECTED, clean, import_files
from kiosk.people.contact import valid_email
from kiosk.store.models import Caregiver, Patient, RegistrationPin, Relationship
from kiosk.terms import Delivery, PinState, PortalStatus

from conftest import NOW, TODAY, kiosk_cli

HEADER = (
    "chart_number,given_name,family_name,birth_date,sex,caregiver_id,caregiver_given_name,"
    "caregiver_family_name,relationship,authority,email,cell\n"
)


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def families() -> dict[str, set[str]]:
    """Caregiver full name -> the chart numbers they are tied to."""
    found: dict[str, set[str]] = {}
    for relationship in (
        Relationship.select(Relationship, Caregiver, Patient)
        .join(Caregiver)
        .switch(Relationship)
        .join(Patient)
    ):
        found.setdefault(
            f"{relationship.caregiver.full_name}#{relationship.caregiver.id}", set()
        ).add(relationship.patient.chart_number)
    return found


def test_o4_siblings_share_a_mother_named_with_the_same_phone_written_differently_or_the_same_email(
    store, tmp_path
):
    """No caregiver id in the export: the same name with the same cell (however punctuated) or the
    same email is one person, so the three children are one family."""
    path = write(
        tmp_path / "f.csv",
        HEADER
        + "1,Ann,Lee,2018-01-01,F,,Kim,Lee,MTH,,kim@example.org,(317) 555-0199\n"
        + "2,Bob,Lee,2019-01-01,M,,Kim,Lee,MTH,,,+1 317 555 0199\n"
        + "3,Cat,Lee,2020-01-01,F,,KIM,LEE,MTH,,kim@example.org,\n",
    )

    report = import_files([path])

    assert report.problems == []
    assert Caregiver.select().count() == 1
    assert list(families().values()) == [{"1", "2", "3"}]
    again = import_files([path])
    assert sum(counts.changed for counts in again.files) == 0
    assert Caregiver.select().count() == 1


def test_o4_a_stray_quote_is_reported_by_its_line_and_the_other_rows_import(store, tmp_path):
    path = write(
        tmp_path / "f.csv",
        HEADER
        + "1,Ann,Lee,2018-01-01,F\n"
        + '2,"Bob'
        + "x" * 200_000
        + ",Lee,2019-01-01,M\n"
        + "3,Cat,Lee,2020-01-01,F\n",
    )

    report = import_files([path])

    assert [(p.where, p.rejected) for p in report.problems] == [("line 3", True)]
    assert (
        "not readable as CSV" in report.problems[0].reason and "quotes" in report.problems[0].reason
    )
    assert sorted(c for (c,) in Patient.select(Patient.chart_number).tuples()) == ["1", "3"]
    assert report.exit_code() == EXIT_SOME_REJECTED


def test_o4_a_row_whose_quoted_value_runs_over_lines_is_named_by_its_first_line(store, tmp_path):
    path = write(
        tmp_path / "f.csv",
        HEADER
        + "1,Ann,Lee,2018-01-01,F\n"
        + '2,"Bob\nand more",Lee,,M\n'
        + "3,Cat,Lee,2020-01-01,F\n",
    )

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.problems] == [("lines 3-4", "no birth date")]
    assert Patient.select().count() == 2


def test_o4_bom_semicolons_unknown_code_and_unnamed_newborn(store, tmp_path):
    """An Excel-style export: byte-order mark, semicolons, a code not in the roles table, a newborn
    with no given name (flagged as a placeholder, R2), a bad date and a row with no birth date."""
    text = (
        HEADER.replace(",", ";")
        + "\n".join(
            [
                "20;;Ortiz;2026-11-20;F;P9;Lucia;Ortiz;MTH;;lucia@example.org;",
                "21;Mateo;Ortiz;2019-13-01;M;P9;Lucia;Ortiz;MTH;;lucia@example.org;",
                "22;Sofia;Ortiz;;F;P9;Lucia;Ortiz;MTH;;lucia@example.org;",
                "23;Diego;Ortiz;2017-05-05;M;P9;Lucia;Ortiz;XYZ;;lucia@example.org;",
            ]
        )
        + "\n"
    )
    path = write(tmp_path / "excel.csv", text, bom=True)

    report = import_files([path])

    assert [(p.where, p.rejected, p.reason) for p in report.problems] == [
        ("line 3", True, "birth date '2019-13-01' is not a real date"),
        ("line 4", True, "no birth date"),
        ("line 5", False, "relationship 'XYZ' is not in the roles table; imported as Other"),
    ]
    baby = Patient.get(Patient.chart_number == "20")
    assert (baby.given_name, baby.family_name, baby.placeholder_name) == (
        "Baby Girl",
        "Ortiz",
        True,
    )
    lucia = Caregiver.get()
    roles = {r.patient.chart_number: (r.role, r.authority) for r in lucia.relationships}
    assert roles == {"20": ("Mother", "Joint"), "23": ("Other", "None")}


def test_o4_o5_a_name_with_control_characters_is_rejected_with_the_reason_and_fhir_quirks_still_name_the_patient(
    store, tmp_path
):
    """Control characters are refused, not silently changed: that record is rejected, the rest imports."""
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "q1",
                    "identifier": [{"value": "Q1"}],
                    "name": [{"family": "Lee", "given": "Peter"}],
                    "birthDate": "2019-01-01",
                }
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "q2",
                    "identifier": [{"value": "Q2"}],
                    "name": [{"family": ["Old", "Style"], "given": ["Ma\x1b[2Jry", "Ann"]}],
                    "birthDate": "2019-01-01",
                }
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "q3",
                    "identifier": [{"value": "Q3"}],
                    "name": [{"family": "Lee", "given": ["Zed"]}],
                    "birthDate": 20190101,
                }
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "q4",
                    "identifier": [{"value": "Q4"}],
                    "name": [{"family": ["Old", "Style"], "given": ["Mary", "Ann"]}],
                    "birthDate": "2019-01-01",
                }
            },
        ],
    }
    path = write(tmp_path / "quirks.json", json.dumps(bundle))
    csv_path = write(
        tmp_path / "f.csv", HEADER + "9,Fa\x00y,Lee,2018-01-01,F\n" + "10,Fay,Lee,2018-01-01,F\n"
    )

    report = import_files([path, csv_path])

    control = "given name has a control character in it (such as a tab, a line break or NUL)"
    assert [(p.where, p.reason) for p in report.problems] == [
        ("Bundle entry 2 (Patient/q2)", control),
        (
            "Bundle entry 3 (Patient/q3)",
            "birth date 20190101 is not written as a date (YYYY-MM-DD)",
        ),
        ("line 2", control),
    ]

    names = dict(Patient.select(Patient.chart_number, Patient.given_name).tuples())
    assert names == {"Q1": "Peter", "Q4": "Mary Ann", "10": "Fay"}
    assert Patient.get(Patient.chart_number == "Q4").family_name == "Old Style"


@given(st.text(max_size=40))
def test_o4_an_imported_email_is_one_registration_accepts_or_blank(text):
    address = clean.email_address(text)
    assert address == "" or valid_email(address)


def test_o4_import_keeps_a_pending_patients_pin_and_a_new_email_reaches_the_caregiver(
    front_desk, tmp_path
):
    """The night after the desk issued PINs for Rosemary and Basil, the export arrives with Cindy's
    new email: Cindy is updated, the PINs and Pending status stay, and the PIN still redeems."""
    from kiosk.people.patients import family_for, search_patients
    from kiosk.registration import portal
    from kiosk.registration.engine import IssueRequest, issue_pins

    kids = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}
    family = family_for(kids["Rosemary"], today=TODAY)
    cindy = next(c for c in family.caregivers if c.name.startswith("Cindy"))
    result = issue_pins(
        front_desk,
        IssueRequest(
            [kids["Rosemary"], kids["Basil"]], recipient_id=cindy.id, delivery=Delivery.NONE
        ),
        now=NOW,
        today=TODAY,
    )
    pins_before = list(RegistrationPin.select().order_by(RegistrationPin.id).tuples())
    rows = []
    for given_name in ("Rosemary", "Basil"):
        patient = Patient.get_by_id(kids[given_name])
        rows.append(
            f"{patient.chart_number},{patient.given_name},{patient.family_name},{patient.dob},,,"
            f"Cindy,Testkiddo,MTH,Joint,cindy.new@example.org,"
        )
    path = write(tmp_path / "nightly.csv", HEADER + "\n".join(rows) + "\n")

    for _ in range(2):
        report = import_files([path])
        assert report.rejected == []
        assert Patient.select().where(Patient.family_name == "Testkiddo").count() == 2

    assert Caregiver.get_by_id(cindy.id).email == "cindy.new@example.org"
    assert Caregiver.select().where(Caregiver.given_name == "Cindy").count() == 1
    assert list(RegistrationPin.select().order_by(RegistrationPin.id).tuples()) == pins_before
    assert {Patient.get_by_id(i).portal_status for i in kids.values()} == {PortalStatus.PENDING}
    assert (
        RegistrationPin.select()
        .where(
            RegistrationPin.state == PinState.ACTIVE, RegistrationPin.patient == kids["Rosemary"]
        )
        .count()
        == 1
    )
    account = portal.create_account(
        "cindy.new@example.org", "Cindy Testkiddo", "maple-kite-harbor-42"
    )
    redeemed = portal.redeem(
        account.id, Patient.get_by_id(kids["Rosemary"]).dob, pin=result.pins[0].pin, now=NOW
    )
    assert redeemed.given_name == "Rosemary"


def test_o4_command_line_template_import_and_reimport(tmp_path):
    """`kiosk import --template`, then the file twice: the second run adds nothing (exit 0 both)."""
    db, template = tmp_path / "cli.sqlite3", tmp_path / "families.csv"

    def kiosk(*args):
        return kiosk_cli("--db", str(db), "import", *args)

    made = kiosk("--template", str(template))
    assert made.returncode == 0 and template.exists()
    first, second = kiosk(str(template)), kiosk(str(template))
    assert first.returncode == second.returncode == EXIT_OK, first.stderr
    assert first.stdout.startswith("4 patients added, 0 updated, 0 unchanged; 4 caregivers added")
    assert second.stdout.startswith(
        "0 patients added, 0 updated, 4 unchanged; 0 caregivers added, 0 updated; "
        "0 relationships added, 0 updated"
    )
