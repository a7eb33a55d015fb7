"""N1 on PostgreSQL: the search's functions (kiosk.people.search_pg) return what the statements
they hold return, read only indexes, and come with a new or a migrated database."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.config import Config
from kiosk.people import search
from kiosk.people.patients import search_patients
from kiosk.people.search_pg import _ROW, FUNCTIONS, SEEKED_FAMILIES
from kiosk.store.db import close_database, database, write_transaction
from kiosk.store.models import Caregiver, Patient, Relationship, SchemaMeta
from kiosk.store.practice import open_store
from kiosk.store.schema import COVERED, COVERED_COLUMNS, PLAIN, SCHEMA_VERSION, current_version
from kiosk.terms import Authority, CaregiverRole, PortalStatus

from test_postgres import PG_URL, SKIP_REASON, postgres_store
from test_search import _statements

pytestmark = pytest.mark.skipif(not PG_URL, reason=SKIP_REASON)
TODAY = dt.date(2026, 11, 22)
# more families in the "ga" prefix than the function seeks one by one, so "last, first" is read
# by seeks and then by a walk of the rest; each (family, given, dob) once, so the order is total
FAMILIES = ["Gaa", "Gab", "Gac", "Gad", "Gae", "Gaf", "Gag", "Gb", "Ha"]
GIVEN = ["Ada", "Bea", "Zed", "Zeb", "Zoe"]
assert len(FAMILIES) > SEEKED_FAMILIES + 2


def _add_patients() -> None:
    with write_transaction():
        n = 0
        for f, family in enumerate(FAMILIES):
            parent = Caregiver.create(
                given_name="Pat",
                family_name=family,
                email=f"pat.{family.lower()}@example.org",
                cell=f"317555{f:04d}",
            )
            for g, given in enumerate(GIVEN[: 2 + f % 4]):
                n += 1
                child = Patient.create(
                    chart_number=f"C{n:03d}",
                    given_name=given,
                    family_name=family,
                    dob=dt.date(2015, 1, 1 + (f + g) % 3),
                    portal_status=PortalStatus.UNREGISTERED,
                )
                Relationship.create(
                    caregiver=parent,
                    patient=child,
                    role=CaregiverRole.MOTHER,
                    authority=Authority.JOINT,
                )


@pytest.fixture
def store(tmp_path):
    with postgres_store(tmp_path, load=_add_patients) as url:
        yield url


@pytest.mark.parametrize("limit", [1, 3, 100])
@pytest.mark.parametrize(
    "family, given, day",
    [
        ("g", "z", None),  # "G, Z": seeks, then the walk of the rest
        ("ga", "ze", None),
        ("gaf", "b", None),
        ("g", "", None),  # a last-name prefix
        ("", "ze", None),
        ("x", "a", None),  # no such family
        ("", "", 2),  # a birth date
        ("ga", "", 1),
        ("", "zo", 3),
        ("g", "a", 1),
    ],
)
def test_n1_the_names_function_returns_the_structured_rows(store, family, given, day, limit):
    """kiosk_names gives the rows structured_sql gives, in its order (N1: "last, first" seeks
    the first families of a prefix and walks the rest; the same list either way)."""
    born = dt.date(2015, 1, day) if day else None
    call = search.names_call(family, given, None, born, limit)
    assert call is not None
    text = search._with_names(search.structured_sql(family, given, None, born, limit), whole=True)
    expected = text.rows()
    assert call.rows() == expected
    assert expected or family == "x"


@pytest.mark.parametrize(
    "kind, low",
    [
        ("chart", "c001"),
        ("chart", "c01"),
        ("phone", "3175550003"),
        ("phone", "317555"),
        ("email", "pat.gab@example.org"),
        ("caregiver_full", "patgac"),
        ("caregiver_full", "patgacx"),
    ],
)
def test_n1_the_terms_function_returns_the_lookups_rows(store, kind, low):
    high = low if kind == "phone" and len(low) == 10 else search._upper(low)
    rows = search.term_sql(kind, low, high, None, None, 100)
    assert "kiosk_terms" in rows.text
    expected = search.term_text_sql(kind, low, high, None, None, 100).rows()
    assert sorted(rows.rows()) == sorted(expected)
    assert expected or low.endswith("x")


@pytest.mark.parametrize("charts", [["c001"], ["c002", "smith", "c002"], ["nobody"]])
def test_n1_the_charts_function_finds_charts_typed_whole(store, charts):
    call = search.charts_call(charts, None, 100)
    assert "kiosk_charts" in call.text
    expected = search.lettered_charts_sql(charts, None, 100).rows()
    assert sorted(call.rows()) == sorted(expected)
    assert expected or charts == ["nobody"]


@pytest.mark.parametrize(
    "kind, low",
    [
        ("caregiver_full", "patgac"),
        ("caregiver_full", "patg"),
        ("caregiver_full", "patgacx"),
        ("phone", "3175550002"),
        ("phone", "317555"),
        ("email", "pat.gab@example.org"),
    ],
)
def test_n1_the_parents_function_reads_the_childrens_rows(store, kind, low):
    """kiosk_parents gives a parent's children with their rows (and, for a whole name, the
    parent's name) as the lookup joined to them does: no statement more reads the list (N1)."""
    high = low if kind == "phone" and len(low) == 10 else search._upper(low)
    terms = search.term_sql(kind, low, high, None, None, 100)
    call = search._lookup_arm(terms) if kind != "caregiver_full" else search._with_rows(terms)
    joined = search._with_rows(search.term_text_sql(kind, low, high, None, None, 100))
    assert "kiosk_parents" in call.text and "kiosk_parents" not in joined.text
    expected = joined.rows()
    named = kind == "caregiver_full"  # only a whole name's list says the parent's name
    assert sorted(call.rows()) == sorted(
        row if named else (*row[:9], None, None) for row in expected
    )
    assert expected or low.endswith("x")


@pytest.mark.parametrize("typed", ["gab", "g", "pat", "ze", "nobody"])
@pytest.mark.parametrize("side", ["patient", "caregiver"])
def test_n1_the_parts_function_returns_the_name_parts(store, typed, side):
    words = list(search.parse_query(typed).words)
    call = search.parts_call(words, side, None, None, 100)
    assert call is not None
    expected = search.word_sql(words, side, None, None, 100).rows()
    assert sorted(call.rows()) == sorted(expected)


@pytest.mark.parametrize("typed", ["pat", "p", "pa", "gab", "nobody"])
@pytest.mark.parametrize("born", [dt.date(2015, 1, 2), dt.date(2015, 1, 9)])
def test_n1_the_born_parents_function_returns_the_day_s_childrens_parents(store, typed, born):
    """kiosk_born_parents gives the children born that day with a parent whose name part begins
    with the word (a letter: is the part), as the join of the day's children, their parents and the
    parents' terms does, and nothing when no parent's name part begins so (N1: "pat 1/2/2015")."""
    query = search.parse_query(f"{typed} {born:%m/%d/%Y}", TODAY)
    words = list(query.words)
    for status in (None, PortalStatus.UNREGISTERED, PortalStatus.REGISTERED):
        named = search.dated_names_sql(query, status, 100)
        assert named is not None
        assert ("kiosk_born_parents" in named[1].text) == (status is None)
        # the day's children from kiosk_names, so the statement is planned once a connection:
        # the same children in the same order as the birth-date index gives them written out
        assert ('"patient"' in named[0].text) == (status is not None)
        assert named[0].rows() == search.day_sql(status, born).rows()
        expected = search._born_word_sql(
            words, "caregiver", status, born, 100, exact=True, tolerant=False, strict=-1
        ).rows()
        rows = named[1].rows()
        assert sorted(row[:3] for row in rows) == sorted(expected)
        # with the name of the parent each was found by, as stored (the list shows it)
        parents = {c.id: (c.given_name, c.family_name) for c in Caregiver.select()}
        assert all(parents[row[1]] == row[3:] for row in rows)
        found = typed in ("pat", "pa", "gab") and born.day == 2
        assert bool(expected) == (found and status != PortalStatus.REGISTERED)


@pytest.mark.parametrize("typed", ["ze", "z", "zed", "pat", "p", "gab", "nobody"])
def test_n1_the_child_begun_function_counts_as_the_postings_statement(store, typed):
    """kiosk_child_begun says whether a child's name part begins with the word (a letter: is
    the part) as the postings statement written out does (N1: a parent's whole name)."""
    (word,) = search.parse_query(typed).words
    call = search.begun_sql(word)
    assert "kiosk_child_begun" in call.text
    expected = search.postings_sql(word, "patient", 1).rows()
    assert call.rows() == expected
    assert expected[0][0] == (typed in ("ze", "zed", "gab"))


def _nested_plans(sql) -> str:
    """The plans of the statements inside the functions ``sql`` calls, as auto_explain logs them,
    made the first time they run, with sequential scans off (a toy table: the plan a big one
    gets)."""
    connection = database.connection()
    database.execute_sql("LOAD 'auto_explain'")
    settings = {
        "auto_explain.log_min_duration": "0",
        "auto_explain.log_nested_statements": "on",
        "auto_explain.log_level": "notice",
        "client_min_messages": "notice",
        "enable_seqscan": "off",
    }
    for name, value in settings.items():
        database.execute_sql(f"SET {name} = {value}")
    del connection.notices[:]
    sql.rows()
    plans = "\n".join(connection.notices)
    for name in settings:
        database.execute_sql(f"RESET {name}")
    return plans


@pytest.mark.parametrize(
    "make",
    [
        lambda: search.names_call("g", "z", None, None, 100),
        lambda: search.names_call("g", "", None, None, 100),
        lambda: search.names_call("", "z", None, dt.date(2015, 1, 2), 100),
        lambda: search.names_call("ga", "b", None, dt.date(2015, 1, 2), 100),
        lambda: search.term_sql("caregiver_full", "patgab", "patgac", None, None, 100),
        lambda: search.term_sql("chart", "c001", "c001", None, None, 100),
        lambda: search.charts_call(["c001", "newborn"], None, 100),
        lambda: search._with_rows(search.term_sql("caregiver_full", "pat", "pau", None, None, 9)),
        lambda: search.parts_call(list(search.parse_query("gab").words), "patient", None, None, 9),
        lambda: search.parts_call(list(search.parse_query("g").words), "caregiver", None, None, 9),
        lambda: search.dated_names_sql(search.parse_query("pat 1/2/2015", TODAY), None, 9)[1],
        lambda: search.dated_names_sql(search.parse_query("p 1/2/2015", TODAY), None, 9)[1],
        lambda: search.begun_sql(search.parse_query("ze").words[0]),
        lambda: search.begun_sql(search.parse_query("z").words[0]),
    ],
)
def test_n1_the_functions_read_only_indexes(store, make):
    """Each statement a function runs, with the one plan it keeps for every value, reads an
    index: never a scan of the table (N1 at a million patients)."""
    plans = _nested_plans(make())
    print(plans)
    assert "Index" in plans and "Seq Scan" not in plans, plans


@pytest.mark.parametrize("typed", ["gab", "g", "pat"])
def test_n1_a_child_s_name_parts_are_read_from_the_children_s_index(store, typed):
    """kiosk_parts reads the children's side from the children's own index alone, never from the
    index of every term, whose range for a word holds the parents' terms too: a common first
    name, few children's and thousands of parents' ("amanda": 371 pages, 8 ms at a million)."""
    words = list(search.parse_query(typed).words)
    plans = _nested_plans(search.parts_call(words, "patient", None, None, 9))
    assert "Index Only Scan using search_term_child_terms" in plans, plans
    assert "search_term_term_patient_id_caregiver_id_field" not in plans, plans


def test_n1_the_covering_indexes_hold_every_column_the_names_function_lists(store):
    """The covering indexes hold every column kiosk_names reads of a patient (its conditions and
    order their keys, its list the rest), so each of its statements can be an index-only scan: a
    few index pages for a list, not a heap page a patient (N1 at ten million patients, where ~9 %
    of those came from outside shared_buffers). Which one the planner takes is a matter of cost
    and of the visibility map (benchmarks/run.py counts the blocks a search reads)."""
    listed = {column.strip().removeprefix("p.") for column in _ROW.split(",")}
    definitions = _patient_indexes()
    for name, keys in COVERED.items():
        assert listed <= set(keys) | set(COVERED_COLUMNS), (name, listed)
        assert definitions[name].endswith(
            f"({', '.join(keys)}) INCLUDE ({', '.join(COVERED_COLUMNS)})"
        )


def _patient_indexes() -> dict[str, str]:
    return dict(
        database.execute_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = 'patient'"
        ).fetchall()
    )


def test_n1_the_plain_name_indexes_come_back_beside_the_covering_ones(tmp_path):
    """A database whose version 30 built the covering indexes in the plain ones' places (a search
    had no usable name index until every older transaction ended) gets the plain ones back and
    the covering ones under their own names (N1)."""
    with postgres_store(tmp_path, load=_add_patients) as url:
        for name, plain in PLAIN.items():  # as the first version 30 left them
            database.execute_sql(f'DROP INDEX "{plain}"')
            database.execute_sql(f'ALTER INDEX "{name}" RENAME TO "{plain}"')
        SchemaMeta.update(version=31).execute()
        close_database()
        open_store(Config(database=url, pin_key_file=str(tmp_path / "pin.key")))
        assert current_version() == SCHEMA_VERSION
        definitions = _patient_indexes()
        for name, plain in PLAIN.items():
            assert " INCLUDE " not in definitions[plain], definitions
            assert definitions[name].endswith(f"INCLUDE ({', '.join(COVERED_COLUMNS)})")
        assert [row.given_name for row in search_patients("gab, z", today=TODAY)] == ["Zed"]


def test_n1_a_migrated_database_gets_the_search_functions(tmp_path):
    """A database of schema 19 (no functions) is carried to this version with them, and its
    searches run through them."""
    with postgres_store(tmp_path) as url:
        database.execute_sql(
            "DROP FUNCTION kiosk_names, kiosk_terms, kiosk_parents, kiosk_parts,"
            " kiosk_born_parents, kiosk_charts, kiosk_child_begun"
        )
        SchemaMeta.update(version=19).execute()
        close_database()
        open_store(Config(database=url, pin_key_file=str(tmp_path / "pin.key")))
        assert current_version() == SCHEMA_VERSION
        with write_transaction():
            Patient.create(
                chart_number="C1", given_name="Zoe", family_name="Gab", dob=dt.date(2015, 1, 1)
            )
        assert [row.given_name for row in search_patients("gab, z", today=TODAY)] == ["Zoe"]
        definitions = _patient_indexes()
        for name, plain in PLAIN.items():  # the listed columns in their own indexes (30, 32)
            assert definitions[name].endswith(f"INCLUDE ({', '.join(COVERED_COLUMNS)})")
            assert " INCLUDE " not in definitions[plain], definitions


def test_n1_the_functions_keep_one_plan_start_no_workers_and_compile_nothing(store):
    """Each function keeps one plan for every value, starts no parallel workers and compiles
    nothing: a generic plan guesses thousands of rows for a range, and workers or JIT for a few
    index pages cost milliseconds (N1 at ten million patients)."""
    settings = database.execute_sql(
        "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = current_schema() AND p.proname LIKE 'kiosk%%'"
    ).fetchall()
    assert len(settings) == len(FUNCTIONS)
    for name, config in settings:
        assert "plan_cache_mode=force_generic_plan" in config, name
        assert "max_parallel_workers_per_gather=0" in config, name
        assert "jit=off" in config, name


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
@pytest.mark.parametrize(
    "typed", ["gab, z", "ga, ze", "g, a", "pat gab", "zed gab", "gab", "ze", "pat", "g", "ha"]
)
def test_n1_arms_read_only_for_room_change_no_list(store, monkeypatch, typed, limit):
    """What the first statement reads only for a list with room (a parent's whole name, whether a
    child's name part begins with a word, a word's name parts on both sides) is skipped when the
    first prefix fills the list, and read by its own statement if the list has room after all:
    the list is the one every arm read gives (N1, O1: "Côté, J" read 100 children of parents
    Côté J* for a list its own patients filled)."""
    sent = _statements(monkeypatch)
    gated = search.find_patients(typed, today=TODAY, limit=limit, tolerant=False)
    assert gated and sent[0].startswith("WITH "), sent
    monkeypatch.setattr(search, "GATED", False)
    assert search.find_patients(typed, today=TODAY, limit=limit, tolerant=False) == gated


def test_n1_a_word_s_name_parts_come_with_the_first_statement(store, monkeypatch):
    """One word no last name begins ("ze": Zed, Zeb) finds the children by their name parts in
    the statement of today's search, then reads their rows: two statements, not three (O1)."""
    sent = _statements(monkeypatch)
    rows = search.find_patients("ze", today=TODAY, tolerant=False)
    assert {row.given_name for row in rows} == {"Zed", "Zeb"}
    assert len(sent) == 2 and "kiosk_parts" in sent[0] and "kiosk_parts" not in sent[1], sent
