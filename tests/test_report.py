"""W4: the enrollment report's numbers on a practice whose answers are known, built with the app's
clock (each PIN issued, each parent's use, at a set moment), on SQLite and PostgreSQL; the CSV and
the table of `kiosk report`."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from kiosk.cli import main
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.desk import Desk
from kiosk.followup.report import Funnel, default_since, enrollment_report, week_of
from kiosk.people.staff import add_staff, authenticate
from kiosk.registration import portal
from kiosk.registration.engine import IssueRequest
from kiosk.store.db import write_transaction
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.terms import Authority, PortalStatus

from test_postgres import postgres_store

PASSWORD = "front-desk-password-1"
SINCE = dt.date(2026, 11, 2)  # a Monday
TODAY = dt.date(2026, 11, 22)  # a Sunday: the report covers the weeks of Nov 2, 9 and 16


def at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute) if day > 0 else dt.datetime(2026, 10, 26, hour)


def build_practice(config: Config) -> None:
    """Six children of one mother; Maria and Lee issue their PINs, parents use some of them:

    ========  ===========================  ===========  ===========================
    child     issued (by, when)            week of      first use (days)
    ========  ===========================  ===========  ===========================
    Ava       Maria, Mon Nov 2 10:00       Nov 2        Wed Nov 4 12:00 (2); a 2nd parent Nov 10
    Ben       Maria, Wed Nov 4 09:00       Nov 2        Mon Nov 9 10:00 (5)
    Cal       Lee,   Thu Nov 5 09:00       Nov 2        never
    Dee       Lee,   Mon Nov 9 09:00       Nov 9        Tue Nov 10 08:00 (0)
    Eve       Maria, Sun Nov 15 23:00      Nov 9        never: replaced by Lee's
    Eve       Lee,   Tue Nov 17 09:00      Nov 16       Fri Nov 20 18:00 (3)
    Fay       Maria, Mon Oct 26 09:00      (before)     Tue Oct 27 (not counted)
    ========  ===========================  ===========  ===========================
    """
    add_staff("maria", "Maria Lopez", PASSWORD, portal_user="portal-maria")
    add_staff("lee", "Lee Park", PASSWORD, portal_user="portal-lee")
    staff = {name: authenticate(name, PASSWORD) for name in ("maria", "lee")}
    with write_transaction():
        mother = Caregiver.create(given_name="Ana", family_name="Field", email="ana@example.org")
        kids = {}
        for n, name in enumerate(("Ava", "Ben", "Cal", "Dee", "Eve", "Fay"), 1):
            kids[name] = Patient.create(
                chart_number=f"W{n}", given_name=name, family_name="Field", dob=dt.date(2018, 1, n)
            )
            Relationship.create(
                caregiver=mother, patient=kids[name], role="Mother", authority=Authority.JOINT
            )
    parents = [
        portal.create_account(f"parent{n}@example.org", f"Parent {n}", "a long enough passphrase 1")
        for n in (1, 2)
    ]

    def issue(name: str, by: str, when: dt.datetime) -> str:
        desk = Desk(config, clock=Clock.fixed(when), staff=staff[by])
        request = IssueRequest(
            patient_ids=[kids[name].id], recipient_id=mother.id, delivery="none", print_slip=True
        )
        return desk.issue(request).pins[0].pin

    def use(name: str, pin: str, when: dt.datetime, parent: int = 0) -> None:
        portal.redeem(parents[parent].id, kids[name].dob, pin=pin, terminal="home", now=when)

    fay = issue("Fay", "maria", at(0))
    use("Fay", fay, at(0) + dt.timedelta(days=1))
    ava = issue("Ava", "maria", at(2, 10))
    ben = issue("Ben", "maria", at(4))
    issue("Cal", "lee", at(5))
    use("Ava", ava, at(4, 12))
    dee = issue("Dee", "lee", at(9))
    use("Ben", ben, at(9, 10))
    use("Dee", dee, at(10, 8))
    use("Ava", ava, at(10), parent=1)  # a second parent: not the first use
    issue("Eve", "maria", at(15, 23))
    eve = issue("Eve", "lee", at(17))
    use("Eve", eve, at(20, 18))


def check_known_answers(report) -> None:
    assert dict(report.statuses) == {
        PortalStatus.UNREGISTERED: 0,
        PortalStatus.SELF_REGISTERED: 0,
        PortalStatus.PENDING: 1,  # Cal
        PortalStatus.REGISTERED: 5,
    }
    assert report.weeks == (
        Funnel("2026-11-02", 3, 2, 3.5),
        Funnel("2026-11-09", 2, 1, 0.0),
        Funnel("2026-11-16", 1, 1, 3.0),
    )
    assert report.staff == (Funnel("Lee Park", 3, 2, 1.5), Funnel("Maria Lopez", 3, 2, 3.5))
    assert report.total == Funnel("All", 6, 4, 2.5)
    assert report.total.rate == pytest.approx(4 / 6)


def test_w4_report_numbers_on_a_known_practice(config, store):
    build_practice(config)
    check_known_answers(enrollment_report(SINCE, TODAY))


def test_w4_pins_used_before_schema_13_get_their_first_use_from_their_associations(config, store):
    from kiosk.store.models import RegistrationPin
    from kiosk.store.schema import backfill_first_use

    build_practice(config)
    RegistrationPin.update(first_used_at=None).execute()
    backfill_first_use()
    check_known_answers(enrollment_report(SINCE, TODAY))


def test_w4_report_numbers_on_postgres(tmp_path):
    with postgres_store(tmp_path):
        build_practice(Config())
        check_known_answers(enrollment_report(SINCE, TODAY))


def test_w4_weeks_with_nothing_issued_are_listed_and_a_later_since_leaves_earlier_pins_out(
    config, store
):
    build_practice(config)
    report = enrollment_report(dt.date(2026, 11, 16), dt.date(2026, 11, 29))
    assert report.weeks == (Funnel("2026-11-16", 1, 1, 3.0), Funnel("2026-11-23", 0, 0, None))
    assert report.weeks[1].rate is None and report.staff == (Funnel("Lee Park", 1, 1, 3.0),)


def test_w4_an_empty_practice_reports_zeros(store):
    report = enrollment_report(SINCE, TODAY)
    assert report.patients == 0 and report.total == Funnel("All", 0, 0, None)
    assert len(report.weeks) == 3 and report.staff == ()


def test_w4_default_reach_is_twelve_weeks_from_a_monday():
    since = default_since(TODAY)
    assert since == dt.date(2026, 8, 31) and since.weekday() == 0
    assert week_of(TODAY) == dt.date(2026, 11, 16)


def test_w4_csv_has_a_row_per_figure(config, store):
    build_practice(config)
    rows = list(csv.DictReader(io.StringIO(enrollment_report(SINCE, TODAY).csv())))
    assert rows[0] == {
        "section": "status",
        "name": "Unregistered",
        "patients": "0",
        "issued": "",
        "registered": "",
        "rate_percent": "",
        "median_days": "",
    }
    week = next(r for r in rows if r["section"] == "week" and r["name"] == "2026-11-02")
    assert (week["issued"], week["registered"], week["rate_percent"], week["median_days"]) == (
        "3",
        "2",
        "66.7",
        "3.5",
    )
    assert [r["name"] for r in rows if r["section"] == "staff"] == ["Lee Park", "Maria Lopez"]
    assert rows[-1]["section"] == "total" and rows[-1]["median_days"] == "2.5"


def test_w4_cli_report_csv_and_table(config, store, capsys, monkeypatch):
    build_practice(config)
    args = ["--db", config.database, "report", "--since", "2026-11-02"]
    assert main([*args, "--csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("section,name,patients,") and "staff,Maria Lopez,,3,2,66.7,3.5" in out
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "Registered" in table and "Maria Lopez" in table and "66.7%" in table
    assert max(len(line) for line in table.splitlines()) <= 80
    assert main([*args[:-1], "last week"]) != 0
    assert "--since" in capsys.readouterr().err
