"""O4 with bad input: oversized, deeply nested, out-of-range and control-character records are
rejected one by one with a short reason; the rest of the file imports and the report stays short."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.importer import import_files
from kiosk.store.models import Caregiver, Patient

HEADER = (
    "chart_number,given_name,family_name,birth_date,sex,caregiver_id,caregiver_given_name,"
    "caregiver_family_name,relationship,email,cell\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CONTROL = "has a control character in it (such as a tab, a line break or NUL)"


def charts() -> list[str]:
    return sorted(chart for (chart,) in Patient.select(Patient.chart_number).tuples())


def test_o4_a_huge_quoted_value_over_many_lines_is_one_short_rejection_and_the_next_row_imports(
    store, tmp_path
):
    huge = "x\n" * 1_000_000  # 2 MB, a million lines, inside one quoted value
    path = write(
        tmp_path / "f.csv",
        HEADER
        + "1,Ann,Lee,2018-01-01,F\n"
        + f'2,"{huge}",Lee,2019-01-01,M\n'
        + "3,Cat,Lee,2020-01-01,F\n",
    )

    report = import_files([path])

    assert [(p.where, p.rejected) for p in report.problems] == [("lines 3-1000003", True)]
    assert "longer than 10000 characters" in report.problems[0].reason
    assert len(report.problems[0].reason) < 120
    assert charts() == ["1", "3"]


def test_o4_a_10_mb_value_on_one_line_is_rejected_and_the_rows_around_it_import(store, tmp_path):
    path = write(
        tmp_path / "f.csv",
        HEADER
        + "1,Ann,Lee,2018-01-01,F\n"
        + f"2,{'x' * 10_000_000},Lee,2019-01-01,M\n"
        + "3,Cat,Lee,2020-01-01,F\n",
    )

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.problems] == [
        ("line 3", "not readable as CSV (a row longer than 10000 characters)")
    ]
    assert charts() == ["1", "3"]


def test_o4_names_and_charts_over_the_limits_and_birth_dates_out_of_range_are_rejected_by_row(
    store, tmp_path
):
    rows = [
        "1,Ann,Lee,2018-01-01,F",
        f"2,{'A' * 1000},Lee,2018-01-01,F",
        f"{'9' * 65},Bo,Lee,2018-01-01,M",
        "4,Cy,Lee,0001-01-01,F",
        "5,Di,Lee,2099-01-01,F",
        "6,Ed,Lee,1899-12-31,M",
        "7,Flo,Lee,2018-01-01,F,C1,Ro\tsa,Lee,MTH,rosa@example.org,",
        "8,Gus,Lee,1900-01-01,M",
    ]
    path = write(tmp_path / "f.csv", HEADER + "\n".join(rows) + "\n")

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.problems] == [
        ("line 3", "given name is at most 60 characters (this one has 1000)"),
        ("line 4", "chart number is at most 64 characters (this one has 65)"),
        ("line 5", "birth date '0001-01-01' is not between 1900-01-01 and today"),
        ("line 6", "birth date '2099-01-01' is not between 1900-01-01 and today"),
        ("line 7", "birth date '1899-12-31' is not between 1900-01-01 and today"),
        (
            "line 8",
            f"caregiver not imported: caregiver given name {CONTROL} (the patient was imported)",
        ),
    ]
    assert charts() == ["1", "7", "8"]
    assert Caregiver.select().count() == 0


def nested(depth: int) -> str:
    return '{"resourceType": "Patient", "extension": ' + "[" * depth + "]" * depth + "}"


def patient(chart: str, born: str = "2019-01-01") -> dict:
    return {
        "resourceType": "Patient",
        "id": chart.lower(),
        "identifier": [{"value": chart}],
        "name": [{"family": "Lee", "given": ["Ann"]}],
        "birthDate": born,
    }


def test_o4_an_ndjson_line_nested_too_deep_is_rejected_and_the_other_lines_import(store, tmp_path):
    path = write(
        tmp_path / "p.ndjson",
        "\n".join([json.dumps(patient("P1")), nested(100_000), json.dumps(patient("P2"))]) + "\n",
    )

    report = import_files([path])

    assert [(p.where, p.rejected) for p in report.problems] == [("line 2", True)]
    assert "nested too deep" in report.problems[0].reason
    assert charts() == ["P1", "P2"]


def test_o4_a_json_file_nested_too_deep_is_one_rejection_and_the_other_files_import(
    store, tmp_path
):
    deep = write(tmp_path / "deep.json", nested(5_000))
    good = write(tmp_path / "good.json", json.dumps(patient("P3")))

    report = import_files([deep, good])

    assert [(p.file, p.where) for p in report.problems] == [(str(deep), "line 1")]
    assert charts() == ["P3"]


def test_o4_bundles_nested_inside_bundles_are_bounded(store, tmp_path):
    bundle: dict = {"resourceType": "Bundle", "entry": [{"resource": patient("P4")}]}
    for _ in range(50):
        bundle = {"resourceType": "Bundle", "entry": [{"resource": bundle}]}
    path = write(
        tmp_path / "b.json",
        json.dumps(
            {"resourceType": "Bundle", "entry": [{"resource": bundle}, {"resource": patient("P5")}]}
        ),
    )

    report = import_files([path])

    assert len(report.problems) == 1 and "a Bundle inside 5 others" in report.problems[0].reason
    assert charts() == ["P5"]


def test_o4_fhir_names_with_nul_are_rejected_and_reported_values_are_short(store, tmp_path):
    bad = {**patient("P6"), "name": [{"family": "Lee", "given": ["A\x00nn"]}]}
    related = {
        "resourceType": "RelatedPerson",
        "id": "r1",
        "patient": {"reference": {"deep": ["x" * 5000]}},
        "name": [{"family": "Lee", "given": ["Rosa"]}],
    }
    path = write(
        tmp_path / "p.ndjson",
        "\n".join(json.dumps(r) for r in (bad, patient("P7"), related)) + "\n",
    )

    report = import_files([path])

    assert [(p.where, p.reason[:40]) for p in report.problems] == [
        ("line 1 (Patient/p6)", "given name has a control character in it"),
        ("line 3 (RelatedPerson/r1)", "malformed patient reference {'reference'"),
    ]
    assert all(len(p.reason) < 200 for p in report.problems)
    assert charts() == ["P7"]


def test_o4_a_file_over_the_size_limit_is_refused_whole_and_nothing_is_imported(
    store, tmp_path, monkeypatch
):
    import kiosk.importer

    monkeypatch.setattr(kiosk.importer, "MAX_FILE_BYTES", 2**20)
    path = write(tmp_path / "big.csv", HEADER + "1,Ann,Lee,2018-01-01,F\n" * 50_000)  # 1.2 MB
    assert path.stat().st_size > 2**20

    report = import_files([path])

    assert [(p.file, p.where, p.rejected) for p in report.problems] == [(str(path), "file", True)]
    assert "larger than 1 MiB" in report.problems[0].reason
    assert charts() == []


def test_o4_a_device_is_refused_as_not_a_regular_file_instead_of_read(store):
    report = import_files(["/dev/null"])

    assert [(p.file, p.where) for p in report.problems] == [("/dev/null", "file")]
    assert "not a regular file" in report.problems[0].reason
    assert charts() == []


def test_o4_a_fifo_is_refused_without_waiting_for_a_writer_or_reading_it(store, tmp_path):
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    # The test holds the pipe open with a row in it: a reader that read it would wait for its end
    held = os.open(fifo, os.O_RDWR)
    try:
        os.write(held, (HEADER + "1,Ann,Lee,2018-01-01,F\n").encode())
        report = import_files([fifo])
    finally:
        os.close(held)

    assert [(p.where, p.rejected) for p in report.problems] == [("file", True)]
    assert "not a regular file" in report.problems[0].reason
    assert charts() == []
