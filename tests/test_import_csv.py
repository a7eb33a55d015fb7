"""O4: importing the CSV format; idempotence, placeholders (R2), and what an import never resets."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from kiosk.importer import (
    EXIT_NOTHING_READ,
    EXIT_OK,
    EXIT_SOME_REJECTED,
    clean,
    import_files,
    write_template,
)
from kiosk.importer.csv_source import COLUMNS
from kiosk.importer.progress import TextProgress
from kiosk.store.models import Caregiver, Patient, RegistrationPin, Relationship
from kiosk.terms import PinState, PortalStatus


def write_rows(path, rows, bom=False):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows([{column: row.get(column, "") for column in COLUMNS} for row in rows])
    path.write_text(("\ufeff" if bom else "") + out.getvalue(), encoding="utf-8")
    return path


def child(chart, given, **extra):
    return {
        "chart_number": chart,
        "given_name": given,
        "family_name": "Diaz",
        "birth_date": "2018-02-03",
        "sex": "F",
        **extra,
    }


MOM = {
    "caregiver_id": "M1",
    "caregiver_given_name": "Rosa",
    "caregiver_family_name": "Diaz",
    "relationship": "MTH",
    "email": "rosa@example.org",
    "cell": "317-555-0123",
}


def test_the_template_imports_as_families(store, tmp_path):
    path = write_template(tmp_path / "template.csv")

    report = import_files([path])

    assert report.exit_code() == EXIT_OK and report.problems == []
    ana = Patient.get(Patient.chart_number == "10001")
    luis = Patient.get(Patient.chart_number == "10002")
    shared = {r.caregiver.id for r in ana.relationships} & {
        r.caregiver.id for r in luis.relationships
    }
    assert [Caregiver.get_by_id(i).full_name for i in shared] == ["María López"]
    assert sorted((r.caregiver.given_name, r.role, r.authority) for r in ana.relationships) == [
        ("José", "Father", "Joint"),
        ("María", "Mother", "Joint"),
    ]
    baby = Patient.get(Patient.chart_number == "10003")
    assert baby.placeholder_name and baby.given_name == "Baby Girl"
    foster = Patient.get(Patient.chart_number == "10004").relationships.get()
    assert (foster.role, foster.authority, foster.caregiver.cell) == (
        "Foster parent",
        "Sole",
        "5553301200",
    )


def test_same_file_twice_changes_nothing_and_a_new_email_updates_the_caregiver(store, tmp_path):
    path = write_rows(
        tmp_path / "f.csv", [child("1", "Eva", **MOM), child("2", "Leo", **MOM)], bom=True
    )
    import_files([path])
    again = import_files([path])
    assert (
        sum(counts.changed for counts in again.files) == 0
        and again.total("patients_unchanged") == 2
    )

    moved = {**MOM, "email": "rosa.diaz@example.org"}
    write_rows(path, [child("1", "Eva", **moved), child("2", "Leo", **moved)])
    report = import_files([path])

    assert [(c.email, c.external_id) for c in Caregiver.select()] == [
        ("rosa.diaz@example.org", "csv:M1")
    ]
    assert Relationship.select().count() == 2 and Patient.select().count() == 2
    assert report.total("caregivers_updated") == 1


def test_siblings_without_a_caregiver_id_share_a_caregiver_by_name_and_cell(store, tmp_path):
    mom = {**MOM, "caregiver_id": "", "cell": "(317) 555 0123"}
    path = write_rows(
        tmp_path / "f.csv", [child("1", "Eva", **mom), child("2", "Leo", **{**mom, "email": ""})]
    )

    import_files([path])
    import_files([path])

    assert Caregiver.select().count() == 1
    assert Relationship.select().count() == 2


def test_bad_rows_are_reported_by_line_and_the_rest_is_imported(store, tmp_path):
    path = write_rows(
        tmp_path / "f.csv",
        [
            child("1", "Eva", **MOM),
            child("2", "Leo", birth_date=""),
            child("3", "Mia", birth_date="2019-02-30"),
            child("", "Noa"),
            child("1", "Someone Else"),
            child("5", "Ian", **{**MOM, "authority": "Maybe"}),
            child("6", "", sex="M", **{**MOM, "relationship": "AUNTIE", "cell": "12345"}),
        ],
    )

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.rejected] == [
        ("line 3", "no birth date"),
        ("line 4", "birth date '2019-02-30' is not a real date"),
        ("line 5", "no chart number"),
        ("line 6", f"chart number 1 is already Eva Diaz ({path}, line 2) in this import"),
        ("line 7", "caregiver not imported: authority 'Maybe' is not Joint, Sole or None"),
    ]
    assert [(p.where, p.reason) for p in report.warnings] == [
        ("line 8", "relationship 'AUNTIE' is not in the roles table; imported as Other"),
        ("line 8", "cell '12345' is not a US 10-digit number; left blank"),
    ]
    assert sorted(Patient.select(Patient.chart_number).tuples()) == [("1",), ("5",), ("6",)]
    baby = Patient.get(Patient.chart_number == "6")
    assert (baby.given_name, baby.placeholder_name) == ("Baby Boy", True)
    assert report.exit_code() == EXIT_SOME_REJECTED


def test_import_never_resets_portal_status_or_pins(training, tmp_path):
    registered = Patient.get(Patient.portal_status == PortalStatus.REGISTERED)
    pins = list(RegistrationPin.select().where(RegistrationPin.patient == registered).tuples())
    assert pins
    path = write_rows(
        tmp_path / "f.csv",
        [
            {
                "chart_number": registered.chart_number,
                "given_name": registered.given_name,
                "family_name": registered.family_name + "-Moss",
                "birth_date": registered.dob.isoformat(),
            }
        ],
    )

    report = import_files([path])

    again = Patient.get_by_id(registered.id)
    assert report.total("patients_updated") == 1
    assert (again.family_name, again.portal_status) == (
        registered.family_name + "-Moss",
        PortalStatus.REGISTERED,
    )
    assert again.family_key == registered.family_key + "moss"
    assert (
        list(RegistrationPin.select().where(RegistrationPin.patient == registered).tuples()) == pins
    )
    assert RegistrationPin.select().where(RegistrationPin.state == PinState.ACTIVE).count() > 0


def test_a_name_fixed_at_the_desk_is_not_put_back_to_a_placeholder(store, tmp_path):
    path = write_rows(tmp_path / "f.csv", [child("7", "Baby Girl")])
    import_files([path])
    Patient.update(
        given_name="Camila", given_key="camila", placeholder_name=False
    ).execute()  # R2 name fix

    report = import_files([path])

    fixed = Patient.get()
    assert (fixed.given_name, fixed.placeholder_name) == ("Camila", False)
    assert report.total("patients_unchanged") == 1


def test_unreadable_files_are_reported_and_nothing_read_is_exit_2(store, tmp_path):
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "chart_number,given_name,family_name,birth_date\n1,Jos\xe9,Ruiz,2019-01-01\n".encode(
            "latin-1"
        )
    )
    other = tmp_path / "other.csv"
    other.write_text("id,name\n1,x\n", encoding="utf-8")

    report = import_files([latin, other, tmp_path / "missing.csv"])

    assert [(p.where, p.reason) for p in report.rejected] == [
        ("line 2", "not UTF-8 text (save the export as UTF-8)"),
        (
            "line 1",
            (
                "not a kiosk CSV: no chart_number or birth_date column "
                "(write an example with `kiosk import --template FILE`)"
            ),
        ),
        ("file", "cannot read it: No such file or directory"),
    ]
    assert report.exit_code() == EXIT_NOTHING_READ


def test_progress_is_reported_and_drawn_as_text(store, tmp_path):
    path = write_rows(tmp_path / "f.csv", [child(str(n), "Eva") for n in range(50)])
    calls = []
    import_files([path], progress=lambda label, done, total: calls.append((label, done, total)))
    assert calls[0][:2] == ("Reading f.csv", 0)
    assert calls[-1] == ("Writing", 50, 50)

    log = io.StringIO()
    bar = TextProgress(log)
    for label, done, total in calls:
        bar(label, done, total)
    bar.finish()
    assert log.getvalue().splitlines()[-1] == "Writing: 100%"


@given(st.text(alphabet="0123456789 ()-.+", max_size=20))
def test_a_cell_is_ten_digits_or_blank(text):
    cell = clean.us_cell(text)
    assert cell == "" or (len(cell) == 10 and cell.isdigit() and cell[0] not in "01")


async def test_import_screen_runs_in_a_worker_and_shows_the_rejected_rows(config, store, tmp_path):
    from textual.widgets import Input, ProgressBar

    from kiosk_screens.import_screen import ImportScreen

    from conftest import desk_app, settle

    path = write_rows(
        tmp_path / "f [1].csv",
        [child("1", "Eva", **MOM), child("2", "O'Brien [Jr]", birth_date="")],
    )
    seen = []

    def run_import(paths, progress):
        seen.append(paths)
        return import_files(paths, progress=progress)

    app = desk_app(config)  # every kiosk screen sits on the KioskApp (its typed Desk)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ImportScreen(run_import))
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#import-paths", Input).value = f'"{path}"'
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.pause()
        assert seen == [[str(path)]]
        bar = screen.query_one("#import-progress", ProgressBar)
        assert bar.percentage == 1.0
        lines = str(screen.query_one("#problem-lines").render()).splitlines()
        assert lines == [f"{path}: line 3: rejected: no birth date"]
        assert str(screen.query_one("#import-summary").render()).startswith("1 patients added")
    assert Patient.select().count() == 1
