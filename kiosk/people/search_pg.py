"""PostgreSQL functions that hold the search's hottest statements, so the server plans them once.

A statement sent as text is planned every time it arrives, and for the search's statements the
planning (0.2 to 0.9 ms: several indexes on each table, 1,000-value statistics) took several
times longer than running them (0.05 to 0.3 ms at a million patients, N1). psycopg2 sends no
server-side prepared statements, and those would not pass pgbouncer in transaction mode, which
docs/postgresql.md recommends: the next transaction may be on another server connection. A
PL/pgSQL function keeps the plan of each statement in it for the life of the server connection,
whatever pooler is in front; ``plan_cache_mode = force_generic_plan`` makes it one plan for every
value (tests/test_search_pg.py checks they are index scans and that each function returns what its
statement in kiosk.people.search returns). A statement the functions do not cover (a status
filter, a name in another script) is still sent as text.

:data:`FUNCTIONS` is created by the schema (kiosk.store.schema), a new database and a migrated
one alike.
"""

from __future__ import annotations

from kiosk.people.parent_names import LISTED
from kiosk.people.search_index import CAREGIVER, CAREGIVER_FULL, CHART, FAMILY, FULL, GIVEN

# one plan for every value; no parallel workers and no JIT: one generic plan guesses thousands of
# rows for a range (rows=28738 for a parent's whole name at ten million patients, cost 142,720),
# and starting workers for it took 80-125 ms, compiling it 8 ms, of a lookup of a few index pages
_SETTINGS = (
    "SET plan_cache_mode = force_generic_plan SET max_parallel_workers_per_gather = 0 SET jit = off"
)

# patient rows of a name prefix (kiosk.people.search.structured_sql with the listed columns)
_ROW = "p.id, p.given_key, p.family_key, p.given_name, p.family_name, p.dob, p.portal_status"
_ORDER = "ORDER BY p.family_key, p.given_key, p.dob"
_FAMILY = "p.family_key >= f_lo AND p.family_key < f_hi"
_GIVEN = "p.given_key >= g_lo AND p.given_key < g_hi"
# a family prefix whose first families are seeked one by one before the rest is walked: PostgreSQL
# 15 has no skip scan, and "G, Zé" walks the (family, given, dob) index through every earlier given
# name of each family in range; a seek of (family, given prefix) each reads only the rows wanted
SEEKED_FAMILIES = 4
_NAME_FIELDS = " OR ".join(f"t.field = '{name}'" for name in (GIVEN, FAMILY, FULL, CAREGIVER))

NAMES = f"""
CREATE OR REPLACE FUNCTION kiosk_names(f_lo text, f_hi text, g_lo text, g_hi text, born date,
    lim integer)
RETURNS TABLE (id integer, given_key varchar, family_key varchar, given_name varchar,
    family_name varchar, dob date, portal_status varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
DECLARE
    fam varchar;
    got integer := 0;
    n integer;
BEGIN
    IF born IS NOT NULL THEN
        IF f_lo = '' AND g_lo = '' THEN
            RETURN QUERY SELECT {_ROW} FROM patient p WHERE p.dob = born {_ORDER} LIMIT lim;
        ELSIF g_lo = '' THEN
            RETURN QUERY SELECT {_ROW} FROM patient p WHERE p.dob = born AND {_FAMILY}
                {_ORDER} LIMIT lim;
        ELSIF f_lo = '' THEN
            RETURN QUERY SELECT {_ROW} FROM patient p WHERE p.dob = born AND {_GIVEN}
                {_ORDER} LIMIT lim;
        ELSE
            RETURN QUERY SELECT {_ROW} FROM patient p WHERE p.dob = born AND {_FAMILY}
                AND {_GIVEN} {_ORDER} LIMIT lim;
        END IF;
        RETURN;
    END IF;
    IF g_lo = '' THEN
        RETURN QUERY SELECT {_ROW} FROM patient p WHERE {_FAMILY} {_ORDER} LIMIT lim;
        RETURN;
    ELSIF f_lo = '' THEN
        RETURN QUERY SELECT {_ROW} FROM patient p WHERE {_GIVEN} {_ORDER} LIMIT lim;
        RETURN;
    END IF;
    FOR seek IN 1..{SEEKED_FAMILIES} LOOP
        IF fam IS NULL THEN
            SELECT min(p.family_key) INTO fam FROM patient p WHERE {_FAMILY};
        ELSE
            SELECT min(p.family_key) INTO fam FROM patient p
                WHERE p.family_key > fam AND p.family_key < f_hi;
        END IF;
        IF fam IS NULL THEN
            RETURN;
        END IF;
        RETURN QUERY SELECT {_ROW} FROM patient p WHERE p.family_key = fam AND {_GIVEN}
            ORDER BY p.given_key, p.dob LIMIT lim - got;
        GET DIAGNOSTICS n = ROW_COUNT;
        got := got + n;
        IF got >= lim THEN
            RETURN;
        END IF;
    END LOOP;
    RETURN QUERY SELECT {_ROW} FROM patient p
        WHERE p.family_key > fam AND p.family_key < f_hi AND {_GIVEN} {_ORDER} LIMIT lim - got;
END
$$"""

# a chart number's patients, or the children of caregivers with a phone, email or whole name
# (kiosk.people.search.term_sql, without a status or a birth date)
TERMS = f"""
CREATE OR REPLACE FUNCTION kiosk_terms(lo text, hi text, kind text, lim integer)
RETURNS TABLE (patient_id integer, caregiver_id integer, term varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    IF kind = '{CHART}' AND hi = lo THEN
        RETURN QUERY SELECT t.patient_id, t.caregiver_id, t.term FROM search_term t
            WHERE t.term = lo AND t.field = '{CHART}' LIMIT lim;
    ELSIF kind = '{CHART}' THEN
        RETURN QUERY SELECT t.patient_id, t.caregiver_id, t.term FROM search_term t
            WHERE t.term >= lo AND t.term < hi AND t.field = '{CHART}' LIMIT lim;
    ELSIF hi = lo THEN
        RETURN QUERY SELECT r.patient_id, t.caregiver_id, t.term FROM search_term t
            JOIN relationship r ON r.caregiver_id = t.caregiver_id
            WHERE t.term = lo AND t.field = kind LIMIT lim;
    ELSE
        RETURN QUERY SELECT r.patient_id, t.caregiver_id, t.term FROM search_term t
            JOIN relationship r ON r.caregiver_id = t.caregiver_id
            WHERE t.term >= lo AND t.term < hi AND t.field = kind LIMIT lim;
    END IF;
END
$$"""

# patients whose chart is one of these whole (kiosk.people.search.lettered_charts_sql), through
# the charts' own partial index: its condition is written as the index's, so the one plan uses it
CHARTS = f"""
CREATE OR REPLACE FUNCTION kiosk_charts(charts text[], lim integer)
RETURNS TABLE (patient_id integer, caregiver_id integer, term varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    RETURN QUERY SELECT t.patient_id, NULL::integer, t.term FROM search_term t
        WHERE t.term = ANY(charts) AND t.field = '{CHART}' LIMIT lim;
END
$$"""

# the children of caregivers with a whole name, a phone or an email, with their rows (and, for a
# whole name, the caregiver's name, which the list shows: kiosk.people.search._with_rows)
_PARENT_ROW = f"s.patient_id, {_ROW.removeprefix('p.id, ')}, s.caregiver_id, s.term"
_PARENT_TERMS = (
    "(SELECT r.patient_id, t.caregiver_id, t.term FROM search_term t"
    " JOIN relationship r ON r.caregiver_id = t.caregiver_id WHERE {} AND t.field = kind"
    " LIMIT lim) s JOIN patient p ON p.id = s.patient_id"
)
# a whole name's children, the first of the list's order (by the child's name), with their rows
# and the parent's name: one range of parent_name_child's (term, family, given, dob) index
# (schema 34, kiosk.people.parent_names; "Ashley Turner": 7 pages, not 716 of a walk of the
# parents' names, their relationships and each child's row, N1)
_NAMED = f"""SELECT b.patient_id, b.given_key, b.family_key, b.given_name, b.family_name, b.dob,
            b.portal_status, b.caregiver_id, b.term, b.carer_given, b.carer_family
            FROM parent_name_child b WHERE {{}} ORDER BY b.{LISTED.replace(", ", ", b.")} LIMIT lim"""
PARENTS = f"""
CREATE OR REPLACE FUNCTION kiosk_parents(lo text, hi text, kind text, lim integer)
RETURNS TABLE (patient_id integer, given_key varchar, family_key varchar, given_name varchar,
    family_name varchar, dob date, portal_status varchar, caregiver_id integer, term varchar,
    carer_given varchar, carer_family varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    IF kind = '{CAREGIVER_FULL}' AND hi = lo THEN
        RETURN QUERY {_NAMED.format("b.term = lo")};
    ELSIF kind = '{CAREGIVER_FULL}' THEN
        RETURN QUERY {_NAMED.format("b.term >= lo AND b.term < hi")};
    ELSIF hi = lo THEN
        RETURN QUERY SELECT {_PARENT_ROW}, NULL::varchar, NULL::varchar
            FROM {_PARENT_TERMS.format("t.term = lo")};
    ELSE
        RETURN QUERY SELECT {_PARENT_ROW}, NULL::varchar, NULL::varchar
            FROM {_PARENT_TERMS.format("t.term >= lo AND t.term < hi")};
    END IF;
END
$$"""

# one word's name parts on one side (kiosk.people.search.word_sql of one word, exact). A child's
# term has no caregiver (kiosk.people.search_index), so the children's side names none: a column
# the children's own index (search_term_child_terms) lacks made the one plan read the index of
# every term, walking the parents' terms of the word too ("amanda": 371 pages, 8 ms, not 3)
PARTS = f"""
CREATE OR REPLACE FUNCTION kiosk_parts(lo text, hi text, children boolean, lim integer)
RETURNS TABLE (patient_id integer, caregiver_id integer, term varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    IF children AND hi = lo THEN
        RETURN QUERY SELECT t.patient_id, NULL::integer, t.term FROM search_term t
            WHERE t.term = lo AND ({_NAME_FIELDS}) AND t.patient_id IS NOT NULL LIMIT lim;
    ELSIF children THEN
        RETURN QUERY SELECT t.patient_id, NULL::integer, t.term FROM search_term t
            WHERE t.term >= lo AND t.term < hi AND ({_NAME_FIELDS})
            AND t.patient_id IS NOT NULL LIMIT lim;
    ELSIF hi = lo THEN
        RETURN QUERY SELECT r.patient_id, t.caregiver_id, t.term FROM search_term t
            JOIN relationship r ON r.caregiver_id = t.caregiver_id
            WHERE t.term = lo AND ({_NAME_FIELDS}) AND t.caregiver_id IS NOT NULL LIMIT lim;
    ELSE
        RETURN QUERY SELECT r.patient_id, t.caregiver_id, t.term FROM search_term t
            JOIN relationship r ON r.caregiver_id = t.caregiver_id
            WHERE t.term >= lo AND t.term < hi AND ({_NAME_FIELDS})
            AND t.caregiver_id IS NOT NULL LIMIT lim;
    END IF;
END
$$"""

# the children born on a day with a parent whose name part is in range (kiosk.people.search.word_sql
# of one word on the parents' side, with a birth date), with the parent's name, which the list
# shows: one range of the (birth date, parent's term) index of born_parent_term (schema 33,
# kiosk.people.born_parents), in the order the day's children are listed by name, each child's
# parents by id, as the join of the day's children, their parents and the parents' terms gave
# them (N1: "ana 5/17/2018": ~1,000 pages at a million patients that way, a few this way)
_BORN_HITS = """SELECT b.patient_id, b.caregiver_id, b.term, c.given_name, c.family_name
                FROM born_parent_term b JOIN patient p ON p.id = b.patient_id
                JOIN caregiver c ON c.id = b.caregiver_id
                WHERE b.dob = born AND {} ORDER BY p.family_key, p.given_key, b.patient_id,
                b.caregiver_id LIMIT lim"""
BORN_PARENTS = f"""
CREATE OR REPLACE FUNCTION kiosk_born_parents(born date, lo text, hi text, lim integer)
RETURNS TABLE (patient_id integer, caregiver_id integer, term varchar, carer_given varchar,
    carer_family varchar)
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    IF hi = lo THEN
        RETURN QUERY {_BORN_HITS.format("b.term = lo")};
    ELSE
        RETURN QUERY {_BORN_HITS.format("b.term >= lo AND b.term < hi")};
    END IF;
END
$$"""
# the functions whose columns changed since they were first made: dropped before they are made
# again (CREATE OR REPLACE keeps a function's columns)
RESHAPED = ("kiosk_born_parents(date, text, text, integer)",)

# does a child's name part begin with a word (kiosk.people.search.postings_sql of one word, on
# the children's side, counted up to 1): written in a function, it is planned once, not with
# every search of a parent's whole name ("amanda smith": a parent's first name, mostly no
# child's); the children's own index alone, as the condition names it (N1)
CHILD_BEGUN = f"""
CREATE OR REPLACE FUNCTION kiosk_child_begun(lo text, hi text)
RETURNS integer
LANGUAGE plpgsql STABLE {_SETTINGS} AS $$
BEGIN
    IF hi = lo THEN
        RETURN (SELECT COUNT(*) FROM (SELECT 1 FROM search_term t WHERE t.term = lo
            AND ({_NAME_FIELDS}) AND t.patient_id IS NOT NULL LIMIT 1) counted);
    END IF;
    RETURN (SELECT COUNT(*) FROM (SELECT 1 FROM search_term t WHERE t.term >= lo AND t.term < hi
        AND ({_NAME_FIELDS}) AND t.patient_id IS NOT NULL LIMIT 1) counted);
END
$$"""

FUNCTIONS = (NAMES, TERMS, CHARTS, PARENTS, PARTS, BORN_PARENTS, CHILD_BEGUN)


def create_functions() -> None:
    """Create (or replace) the search's functions in the current schema (PostgreSQL only)."""
    from kiosk.store.db import database

    for signature in RESHAPED:
        database.execute_sql(f"DROP FUNCTION IF EXISTS {signature}")
    for text in FUNCTIONS:
        database.execute_sql(text)
