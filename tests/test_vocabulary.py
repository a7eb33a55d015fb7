"""The desk's words are StrEnums in kiosk.terms, stored as the strings the database already holds."""

import ast
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import terms
from kiosk.people.patients import caregivers_of, search_patients
from kiosk.store.db import write_transaction
from kiosk.store.models import Patient, Relationship
from kiosk.terms import (
    Access,
    Authority,
    Delivery,
    PinState,
    PortalStatus,
    RegistrationMethod,
    SendTo,
)

ROOT = Path(__file__).resolve().parents[1]
VOCABULARIES = [
    terms.PortalStatus,
    terms.CaregiverRole,
    terms.Authority,
    terms.RegistrationMethod,
    terms.Access,
    terms.Delivery,
    terms.SendTo,
    terms.PinState,
    terms.MessageState,
    terms.Channel,
]
STORED = {value for vocabulary in VOCABULARIES for value in vocabulary}


def test_stored_values_are_the_strings_the_database_already_holds():
    """No data migration: each member's value is the string rows were written with before."""
    assert [s.value for s in PortalStatus] == [
        "Unregistered",
        "Self Registered",
        "Pending",
        "Registered",
    ]
    assert [a.value for a in Authority] == ["Joint", "Sole", "None"]
    assert [m.value for m in RegistrationMethod] == ["pin", "question"]
    assert [a.value for a in Access] == ["full", "limited"]
    assert [d.value for d in Delivery] == ["email", "text", "none"]
    assert [s.value for s in SendTo] == ["parent", "minor"]
    assert [s.value for s in PinState] == ["active", "redeemed", "replaced", "revoked", "expired"]
    assert [s.value for s in terms.MessageState] == ["queued", "sending", "sent", "failed"]
    assert [c.value for c in terms.Channel] == ["email", "text"]
    assert Authority.NONE == "None" and f"{Authority.NONE}" == "None"


@given(
    st.sampled_from(VOCABULARIES),
    st.one_of(st.text(max_size=20), st.sampled_from(sorted(STORED)), st.none(), st.integers()),
)
def test_is_one_of_accepts_exactly_the_stored_strings(kind, value):
    """Untrusted words (a CSV cell, a command-line option, a plain-string caller) are checked against
    the stored values, never by enum ``in``, which refuses plain strings on Python 3.11."""
    assert terms.is_one_of(kind, value) == (
        isinstance(value, str) and value in [m.value for m in kind]
    )
    assert all(
        terms.is_one_of(kind, member) and terms.is_one_of(kind, member.value) for member in kind
    )


def test_r4_r9_labels_are_what_the_desk_reads():
    assert PortalStatus.PENDING.label == "Pending Registration"
    assert PortalStatus.SELF_REGISTERED.label == "Self Registered"
    assert (Access.FULL.label, Access.LIMITED.label) == ("Full Access", "Limited: No Chart Access")
    assert Delivery.NONE.label == "Do not send PIN" and SendTo.PARENT.label == "Parent/Guardian"


def test_r4_r15_values_read_back_from_the_database_come_back_typed(store):
    """Rows handed to screens carry members, not the bare strings the database returns."""
    with write_transaction():
        patient = Patient.create(
            chart_number="V-1",
            given_name="Ada",
            family_name="Vocab",
            dob=dt.date(2020, 1, 2),
            portal_status=PortalStatus.PENDING,
        )
    assert Patient.get_by_id(patient.id).portal_status == "Pending"  # stored as the plain string
    [row] = search_patients("vocab")
    assert row.portal_status is PortalStatus.PENDING and row.status_label == "Pending Registration"
    assert search_patients("", "Pending") == [row]  # a plain string still filters
    with pytest.raises(ValueError):
        search_patients("", "Almost registered")
    assert caregivers_of(patient) == ()
    assert Relationship.authority.default == Authority.JOINT


def _string_comparisons(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    yield side.value


def test_screens_compare_no_literal_vocabulary():
    """Screens use the enums: a renamed or mistyped word fails at import, not silently at the desk."""
    offenders = [
        (path.name, word)
        for path in sorted((ROOT / "screens").rglob("*.py"))
        for word in _string_comparisons(path)
        if word in STORED
    ]
    assert offenders == []


def test_models_do_not_re_export_the_vocabulary():
    """Every module takes the words from kiosk.terms; kiosk.store.models exports only the records."""
    import kiosk.store.models

    defined = {
        node.name
        for node in ast.parse(Path(kiosk.store.models.__file__).read_text(encoding="utf-8")).body
        if isinstance(node, ast.ClassDef)
    } | {"ALL_MODELS"}
    offenders = []
    for folder in ("kiosk", "screens", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "kiosk.store.models":
                    offenders += [(path.name, a.name) for a in node.names if a.name not in defined]
    assert offenders == []
