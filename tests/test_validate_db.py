"""Bad input gets the same plain answer on SQLite and PostgreSQL (O5): a 256-character or NUL name
is refused with the field named before it reaches either database, and nothing is stored."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack

import pytest

from kiosk.config import Config
from kiosk.importer import import_files
from kiosk.people.staff import StaffError, add_staff, authenticate, get_staff, link_staff
from kiosk.registration import portal
from kiosk.registration.engine import RegistrationError, fix_given_name, revoke_pin
from kiosk.store.db import close_database, write_transaction
from kiosk.store.models import Patient, PortalAccount, Staff
from kiosk.store.practice import open_store

from test_postgres import postgres_store

LONG = "x" * 256
NUL = "Ana\x00Sofia"
CONTROL = "has a control character in it (such as a tab, a line break or NUL)"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    """An open store on SQLite, or in a fresh PostgreSQL schema; one staff member, one patient."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            open_store(Config(database=str(tmp_path / "kiosk.sqlite3")))
            stack.callback(close_database)
        else:
            stack.enter_context(postgres_store(tmp_path))
        staff = add_staff(
            "maria", "Maria Lopez", "a long front desk passphrase", portal_user="portal-maria"
        )
        with write_transaction():
            child = Patient.create(
                chart_number="C1",
                given_name="Baby Girl",
                family_name="Lee",
                dob=dt.date(2026, 11, 20),
                placeholder_name=True,
            )
        yield {"staff": get_staff(staff.id), "child": child.id}


@pytest.mark.parametrize(
    "name, message",
    [
        (LONG, "Given name is at most 60 characters (this one has 256)."),
        (NUL, f"Given name {CONTROL}."),
    ],
)
def test_o5_a_long_or_nul_given_name_gets_the_same_answer_on_both_databases(
    database, name, message
):
    with pytest.raises(RegistrationError) as caught:
        fix_given_name(database["staff"], database["child"], name)
    assert [(p.field, p.message) for p in caught.value.problems] == [("given_name", message)]
    assert Patient.get_by_id(database["child"]).given_name == "Baby Girl"


@pytest.mark.parametrize(
    "name, message",
    [
        (LONG, "Display name is at most 120 characters (this one has 256)."),
        (NUL, f"Display name {CONTROL}."),
    ],
)
def test_o5_staff_add_refuses_a_long_or_nul_display_name(database, name, message):
    with pytest.raises(StaffError) as caught:
        add_staff("devon", name, "another long desk passphrase")
    assert str(caught.value) == message
    assert not Staff.select().where(Staff.username == "devon").exists()


@pytest.mark.parametrize(
    "name, field, message",
    [
        (LONG, "name", "Your name is at most 120 characters (this one has 256)."),
        (NUL, "name", f"Your name {CONTROL}."),
    ],
)
def test_o5_parent_account_refuses_a_long_or_nul_name(database, name, field, message):
    with pytest.raises(portal.PortalError) as caught:
        portal.create_account("ana@example.org", name, "correct horse battery staple")
    assert (caught.value.field, str(caught.value)) == (field, message)
    assert PortalAccount.select().count() == 0


def test_o5_the_importer_rejects_long_and_nul_names_by_row_on_both_databases(database, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(
        "chart_number,given_name,family_name,birth_date\n"
        f"2,{LONG},Lee,2018-01-01\n2b,Ann,{NUL},2018-01-01\n3,Cy,Lee,2018-01-01\n",
        encoding="utf-8",
    )

    report = import_files([path])

    assert [(p.where, p.reason) for p in report.problems] == [
        ("line 2", "given name is at most 60 characters (this one has 256)"),
        ("line 3", f"family name {CONTROL}"),
    ]
    assert sorted(c for (c,) in Patient.select(Patient.chart_number).tuples()) == ["3", "C1"]


def test_o5_linking_a_username_with_nul_names_nobody(database):
    with pytest.raises(StaffError) as caught:
        link_staff("ma\x00ria", "portal-x")
    assert str(caught.value) == "No staff member 'ma ria'."


@pytest.mark.parametrize(
    "reason, message",
    [
        ("x" * 256, "The reason is at most 200 characters (this one has 256)."),
        ("moved\x00away", f"The reason {CONTROL}."),
    ],
)
def test_o5_a_revoke_reason_is_checked_before_it_is_stored(database, reason, message):
    with pytest.raises(RegistrationError) as caught:
        revoke_pin(database["staff"], database["child"], reason)
    assert [(p.field, p.message) for p in caught.value.problems] == [("reason", message)]


def test_o5_a_sign_in_name_with_nul_is_a_failed_sign_in_not_a_raw_error(database):
    assert authenticate("ma\x00ria", "a long front desk passphrase") is None
    assert authenticate("maria", "a long front desk passphrase") is not None
    portal.create_account("ana@example.org", "Ana Lee", "correct horse battery staple")
    with pytest.raises(portal.PortalError) as caught:
        portal.sign_in("ana\x00@example.org", "correct horse battery staple")
    assert caught.value.field == "password"
    assert (
        portal.sign_in("ana@example.org", "correct horse battery staple").email == "ana@example.org"
    )
