"""Schema creation and in-place migration.

A new database gets every table at :data:`SCHEMA_VERSION`. An older one is carried forward by
the steps in :data:`MIGRATIONS`, each run in its own transaction, so a later release opens an
existing practice's database without losing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from kiosk.store.db import database, is_sqlite, tuples, write_transaction
from kiosk.store.models import ALL_MODELS, AuditHead, BaseModel, SchemaMeta

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

SCHEMA_VERSION = 34
# RegistrationPin's enrollment report index (W4), by column: version 14 makes it
REPORT_INDEX = ("issued_at", "second_parent", "issued_by_id", "redemptions", "first_used_at")


def _migrator() -> SchemaMigrator:
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

    return SqliteMigrator(database.obj) if is_sqlite() else PostgresqlMigrator(database.obj)


def add_column(model: type[BaseModel], name: str) -> None:
    """Add ``model``'s field ``name`` to an existing table, on SQLite and PostgreSQL alike.

    The way to write a migration step: add the field to the model, bump SCHEMA_VERSION, and add
    a step that calls this (playhouse.migrate fills existing rows with the field's default).
    """
    from peewee import SQL
    from playhouse.migrate import migrate

    field = model._meta.fields[name]
    default = field.default
    if field.null or default is None or callable(default):
        migrate(_migrator().add_column(model._meta.table_name, field.column_name, field))
        return
    # One ALTER TABLE ... NOT NULL DEFAULT: playhouse would add the column, fill it, then make it
    # NOT NULL, which SQLite does by rebuilding the table, and dropping the old table fires
    # ON DELETE CASCADE on every row that refers to it (a patient's PINs and relationships).
    if isinstance(default, bool):
        literal = ("TRUE" if default else "FALSE") if not is_sqlite() else str(int(default))
    elif isinstance(default, (int, float)):
        literal = repr(default)
    else:
        literal = "'" + str(default).replace("'", "''") + "'"
    column = field.clone()
    declared = field.constraints or []
    if not any("DEFAULT" in getattr(c, "sql", "") for c in declared):
        column.constraints = [*declared, SQL(f"DEFAULT {literal}")]
    migrate(
        _migrator().add_column(
            model._meta.table_name, field.column_name, column, allow_not_null=True
        )
    )


def add_index(table: str, columns: tuple[str, ...]) -> None:
    """Index ``table``'s ``columns`` unless it is (named as peewee names a model's index). By name
    and columns, not from the model: a later version's model may index a column this step's
    version does not have yet."""
    from playhouse.migrate import make_index_name

    name = make_index_name(table, list(columns))
    quoted = ", ".join(f'"{column}"' for column in columns)
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({quoted})')


def _v2_practice_key_check() -> None:
    """Version 2: the practice row remembers a check value of the PIN key, so a desk started with a
    missing or different key file is stopped instead of silently failing every parent's PIN."""
    from kiosk.store.models import Practice

    add_column(Practice, "key_check")


def _v3_guessing_limits() -> None:
    """Version 3: redemption tries record the terminal and their outcome, and a try that named no
    child is kept too (patient null), so failures count per terminal and across the practice
    (S8); staff and parent sign-ins get their own table for the growing delay (S12). Older
    attempt rows have no outcome, so the new rules do not count them."""
    from playhouse.migrate import migrate

    from kiosk.store.models import RedemptionAttempt, SignInAttempt

    add_column(RedemptionAttempt, "terminal")
    add_column(RedemptionAttempt, "outcome")
    table = RedemptionAttempt._meta.table_name
    migrate(_migrator().drop_not_null(table, "patient_id"))
    for columns in (("terminal", "at"), ("at",)):
        migrate(_migrator().add_index(table, columns, False))
    database.create_tables([SignInAttempt], safe=True)


def _v4_keyed_audit_chain() -> None:
    """Version 4: audit events are chained with a keyed hash from here on (S10). The events already
    written keep their plain SHA-256 hashes and are still checked as such: the head remembers where
    the keyed part begins."""
    add_column(AuditHead, "keyed_from")
    AuditHead.update(keyed_from=AuditHead.seq + 1).execute()


def _v5_search_terms() -> None:
    """Version 5: the search terms (N1, N2). Names are folded the new way (ß, Ø, Ł, Þ, Æ, Đ as a
    desk types them, other scripts transliterated, so no key is empty), then every patient and
    caregiver gets their SearchTerm rows and every name word its SearchKey rows."""
    from kiosk.people.search_index import index_everything
    from kiosk.store.models import Patient, SearchKey, SearchTerm
    from kiosk.terms import fold

    database.create_tables([SearchTerm, SearchKey], safe=True)
    last = 0
    while True:
        rows = list(
            tuples(
                Patient.select(
                    Patient.id,
                    Patient.given_name,
                    Patient.family_name,
                    Patient.given_key,
                    Patient.family_key,
                )
                .where(Patient.id > last)
                .order_by(Patient.id)
                .limit(20_000)
            )
        )
        if not rows:
            break
        for patient_id, given, family, given_key, family_key in rows:
            if (fold(given), fold(family)) != (given_key, family_key):
                Patient.update(given_key=fold(given), family_key=fold(family)).where(
                    Patient.id == patient_id
                ).execute()
        last = rows[-1][0]
    index_everything()
    if not is_sqlite():
        _tune_postgres_statistics()


def _v6_database_purpose() -> None:
    """Version 6: the practice row says whether this is a practice's database, a demo or a training
    one (D2), so `kiosk demo generate` refuses to put made-up patients among real ones. Every
    existing database is a practice's until someone says otherwise."""
    from kiosk.store.models import Practice

    add_column(Practice, "purpose")


def _v7_pin_life() -> None:
    """Version 7: a PIN remembers the child's status before it (so expiry or revocation puts it back,
    L2), who ended it and the terminal it was issued at (L1). PINs issued before have no prior status:
    they go back to Unregistered."""
    from kiosk.store.models import RegistrationPin

    for name in ("ended_by", "prior_status", "terminal"):
        add_column(RegistrationPin, name)


def _v8_portal_tokens() -> None:
    """Version 8: the tokens practice portals call the redemption API with (P1), kept hashed."""
    from kiosk.store.models import PortalToken

    database.create_tables([PortalToken], safe=True)


def _v9_pin_expiry_index() -> None:
    """Version 9: PINs indexed by state and expiry, so search's "PIN expired" filter (L2) reads
    only the expired and the active-past-date ones."""
    from playhouse.migrate import migrate

    from kiosk.store.models import RegistrationPin

    migrate(_migrator().add_index(RegistrationPin._meta.table_name, ("state", "expires_at"), False))


def _v10_sms_delivery() -> None:
    """Version 10: a text sent through the SMS provider keeps the provider's id for it and the
    delivery status read back (I2)."""
    from kiosk.store.models import OutboxMessage

    for name in ("provider_id", "delivery"):  # add_column makes provider_id's index too
        add_column(OutboxMessage, name)


def _v11_follow_up() -> None:
    """Version 11: the practice's reminder setting (W3, off in every existing database); each
    outbox message says whether it is a welcome or a reminder, and one family batch gets at most
    one reminder (a partial unique index); PINs indexed by issue time and associations by PIN for
    the enrollment report (W4; version 14 replaces both). Every message written before is a
    welcome."""
    from kiosk.store.models import OutboxMessage, Practice

    add_column(Practice, "reminder_days")
    add_column(OutboxMessage, "kind")
    add_index("registration_pin", ("issued_at",))
    add_index("association", ("pin_id", "created_at"))
    database.execute_sql(
        'CREATE UNIQUE INDEX IF NOT EXISTS "outbox_message_one_reminder" ON "outbox_message" '
        '("batch") WHERE ("kind" = \'reminder\')'
    )


def _v12_worklists_and_drives() -> None:
    """Version 12: registration drives and their families (W2), and the indexes the worklists
    read (W1): one provider's appointments by date, active PINs by issue date."""
    from kiosk.store.models import Drive, DriveFamily

    database.create_tables([Drive, DriveFamily], safe=True)
    add_index("appointment", ("provider", "starts_at"))
    add_index("registration_pin", ("state", "issued_at"))


def _v13_search_terms_by_side() -> None:
    """Version 13: the search terms of children and of parents indexed apart (partial indexes), so
    a two-word search reads only the side it joins (N1 at a million patients)."""
    from kiosk.store.models import SearchTerm

    database.create_tables([SearchTerm], safe=True)  # only the indexes it lacks
    database.execute_sql(f'ANALYZE "{SearchTerm._meta.table_name}"')


def backfill_first_use() -> None:
    """A used PIN's first use, from the earliest association it made (version 14)."""
    database.execute_sql(
        'UPDATE "registration_pin" SET "first_used_at" = (SELECT MIN(a."created_at") FROM '
        '"association" AS a WHERE a."pin_id" = "registration_pin"."id") WHERE "redemptions" > 0'
    )


def _v14_report_reads_one_index() -> None:
    """Version 14: a PIN keeps when a parent first used it (W4; filled in for the PINs used
    before, from their associations), and the enrollment report reads everything it needs from
    one index of PINs by issue time (and the status counts from one of patients by status), so
    it stays under a second at a million patients. Version 11's two report indexes go."""
    from kiosk.store.models import RegistrationPin

    add_column(RegistrationPin, "first_used_at")
    backfill_first_use()
    for index in ("registration_pin_issued_at", "association_pin_id_created_at"):
        database.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    add_index("registration_pin", REPORT_INDEX)
    add_index("patient", ("portal_status",))


def _v15_teens_and_access() -> None:
    """Version 15: teens and access over time (T1-T5). The patient's own email and cell (T1) and
    the age transition applied (T2); the practice's teen, majority and ID-check settings; how each
    PIN's recipient was identified (T5); each association's kind, state, end date and reason
    (T4). A patient already past an age keeps what it has: the transitions apply from the day
    they fall on, so existing records are marked with the stage they are at today."""
    import datetime as dt

    from kiosk.people.patients import born_by
    from kiosk.store.models import Association, Patient, Practice, RegistrationPin
    from kiosk.terms import AgeStage

    for name in ("email", "cell", "carrier", "age_stage"):
        add_column(Patient, name)
    for name in ("teen_age", "majority_age", "teen_parent_access", "id_check_default"):
        add_column(Practice, name)
    for name in ("id_check", "id_check_note"):
        add_column(RegistrationPin, name)
    for name in ("kind", "state", "ends_on", "changed_at", "changed_by", "reason"):
        add_column(Association, name)
    add_index("patient", ("age_stage", "dob"))
    today = dt.date.today()
    for years, stage in ((12, AgeStage.TEEN), (18, AgeStage.ADULT)):
        Patient.update(age_stage=stage).where(Patient.dob <= born_by(today, years)).execute()


def _v16_issue_language() -> None:
    """Version 16: each PIN keeps the language its family was given it in (I1), so a reminder
    (W3) to a family that got no welcome message speaks the language the desk chose. Older PINs
    keep "": their reminder reads the welcome's language, else the caregiver's, as before."""
    from kiosk.store.models import RegistrationPin

    add_column(RegistrationPin, "language")


def _v17_outbox_maybe_sent() -> None:
    """Version 17: a message whose last try may have reached the SMS provider says so, so the next
    try looks the text up at the provider before sending a second copy (O3, I2). No message
    written before is marked: as before, they are sent again."""
    from kiosk.store.models import OutboxMessage

    add_column(OutboxMessage, "maybe_sent")


def _v18_caregivers_of_a_child_by_index() -> None:
    """Version 18: a child's caregivers are read from an index of (patient, caregiver) alone,
    which takes the place of the index of patients: a first name with a birth date looks up
    the parents of every child born that day, one index probe each (N1 at a million)."""
    add_index("relationship", ("patient_id", "caregiver_id"))
    database.execute_sql('DROP INDEX IF EXISTS "relationship_patient_id"')


def _charts(batch: int = 20_000) -> Iterator[list[tuple[int, str]]]:
    """Every patient's (id, chart number), ``batch`` at a time, in the order of id."""
    from kiosk.store.models import Patient

    last = 0
    while rows := list(
        tuples(
            Patient.select(Patient.id, Patient.chart_number)
            .where(Patient.id > last)
            .order_by(Patient.id)
            .limit(batch)
        )
    ):
        yield rows
        last = rows[-1][0]


def _v19_chart_numbers() -> None:
    """Version 19: a chart number written with letters (MRN-4567) is found by its number alone
    (4567) too (N1): each such chart gets that search term, as new and changed patients do."""
    from kiosk.people.search_index import CHART, chart_digits, write_terms
    from kiosk.store.models import SearchTerm

    for rows in _charts():
        # a database that got its terms from version 5 on this release has them already
        have = set(
            tuples(
                SearchTerm.select(SearchTerm.patient, SearchTerm.term).where(
                    SearchTerm.patient.between(rows[0][0], rows[-1][0])
                    & (SearchTerm.field == CHART)
                )
            )
        )
        write_terms(
            [
                (number, CHART, patient_id, None)
                for patient_id, chart in rows
                if (number := chart_digits(chart))
                and number != (chart or "").strip().lower()
                and (patient_id, number) not in have
            ]
        )


def _v20_search_functions() -> None:
    """Version 20: on PostgreSQL, the search's hottest statements are held in functions the
    server plans once per connection, through any pooler (N1: kiosk.people.search_pg)."""
    if not is_sqlite():
        from kiosk.people.search_pg import create_functions

        create_functions()


def _v21_search_functions_read_rows() -> None:
    """Version 21: the search's functions also read a parent's children with their rows
    (kiosk_parents); every function is made again (CREATE OR REPLACE)."""
    _v20_search_functions()


def _v22_charts_indexed_alone() -> None:
    """Version 22: chart numbers get an index of their own, so a chart of letters (an imported
    record's id: "newborn") is one probe (N1); and a chart whose digits have letters between them
    (pat-1a2b) loses the number-only term version 19 gave it ("12" is no number a desk types)."""
    from kiosk.people.search_index import CHART, chart_digits
    from kiosk.store.models import SearchTerm

    database.create_tables([SearchTerm], safe=True)  # only the index it lacks
    for rows in _charts():
        for patient_id, chart in rows:
            digits = "".join(ch for ch in chart or "" if ch in "0123456789")
            if digits and digits != (chart or "").strip().lower() and not chart_digits(chart):
                SearchTerm.delete().where(
                    (SearchTerm.patient == patient_id)
                    & (SearchTerm.term == digits)
                    & (SearchTerm.field == CHART)
                ).execute()


def _v23_search_functions_read_lookups() -> None:
    """Version 23: kiosk_parents reads the children found by a parent's phone or email with their
    rows too; every function is made again."""
    _v20_search_functions()


def _v24_search_functions_by_day() -> None:
    """Version 24: the search's functions also look a day's children's parents up by a name part
    (kiosk_born_parents: "ana 5/17/2018"); every function is made again (CREATE OR REPLACE)."""
    _v20_search_functions()


def _v25_search_functions_read_charts() -> None:
    """Version 25: a chart of letters is looked up through kiosk_charts, and chart lookups name
    the field as the charts' own index does (schema 22), so their one plan can use it."""
    _v20_search_functions()


def _v26_search_functions_run_alone() -> None:
    """Version 26: the search's functions start no parallel workers: their one plan guessed
    thousands of rows for a range and started workers for a lookup of a few pages (80-125 ms at
    ten million patients); every function is made again."""
    _v20_search_functions()


def _v27_search_functions_compile_nothing() -> None:
    """Version 27: the search's functions compile no statement (JIT): their one plan's guessed
    cost passed jit_above_cost and compiling took 8 ms of a lookup of four pages."""
    _v20_search_functions()


def _v28_search_functions_name_parents() -> None:
    """Version 28: kiosk_born_parents also reads the names of the parents it finds (its columns
    change: it is dropped and made again), kiosk_parents reads each parent's name once, and
    kiosk_child_begun holds the check whether a child's name part begins with a word (N1)."""
    _v20_search_functions()


def _v29_search_functions_read_childrens_index() -> None:
    """Version 29: kiosk_parts reads a child's name parts from the children's own index (it names
    no caregiver, which that index lacks), not the index of every term: a common first name's range
    there holds its parents' terms too ("amanda": 371 pages at a million patients, N1)."""
    _v20_search_functions()


# PostgreSQL: indexes of the patient's name and birth date that also hold the rest of the row a
# search lists (kiosk.people.search_pg's kiosk_names reads exactly these), so a list of 100
# patients is read from a few index pages (index-only) instead of a heap page a patient: at ten
# million patients, ~9 % of those scattered heap pages came from outside shared_buffers (N1, O1).
# Beside the plain indexes of the model, not in their place: an index built over rows updated
# since the last vacuum serves only once every transaction older than it has ended (PostgreSQL's
# rule for HOT chains), and a long one anywhere on the server (a dump, a bulk load) left the
# searches with no name index meanwhile: walks of (given_key, family_key) and sorts, 2,869 blocks
# an action instead of 330. SQLite keeps the plain ones (no INCLUDE; it reads rows in-process)
COVERED = {
    "patient_listed_by_name": ("family_key", "given_key", "dob"),
    "patient_listed_by_day": ("dob", "family_key", "given_key"),
}
COVERED_COLUMNS = ("id", "given_name", "family_name", "portal_status")
# the plain index of the same columns (Patient.Meta.indexes), which version 30 had replaced
PLAIN = {
    "patient_listed_by_name": "patient_family_key_given_key_dob",
    "patient_listed_by_day": "patient_dob_family_key_given_key",
}


def cover_patient_names() -> None:
    """Build :data:`COVERED`'s indexes, holding :data:`COVERED_COLUMNS` too, where they are not
    (PostgreSQL only)."""
    if is_sqlite():
        return
    database.execute_sql("SET LOCAL maintenance_work_mem = '256MB'")  # a sort in memory at 10M
    for name, columns in COVERED.items():
        database.execute_sql(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "patient" ({", ".join(columns)})'
            f" INCLUDE ({', '.join(COVERED_COLUMNS)})"
        )


def _v30_patient_rows_from_the_name_indexes() -> None:
    """Version 30: on PostgreSQL, indexes of the patient's names and birth date that hold the
    listed columns too (:func:`cover_patient_names`): a search reads its list from the index
    alone. (As first released it built them in the plain indexes' places: version 32 puts
    those back.)"""
    cover_patient_names()


def _v32_plain_name_indexes_beside_the_covering() -> None:
    """Version 32: the plain name and birth-date indexes stay beside the covering ones (see
    :data:`COVERED`): a database whose version 30 put the covering ones in their places gets
    them renamed to theirs and the plain ones built again (PostgreSQL only)."""
    if is_sqlite():
        return
    definitions = dict(
        database.execute_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = 'patient'"
        ).fetchall()
    )
    for name, plain in PLAIN.items():
        if " INCLUDE " in definitions.get(plain, "") and name not in definitions:
            database.execute_sql(f'ALTER INDEX "{plain}" RENAME TO "{name}"')
            definitions.pop(plain)
        if plain not in definitions:
            columns = ", ".join(COVERED[name])
            database.execute_sql(f'CREATE INDEX "{plain}" ON "patient" ({columns})')
    cover_patient_names()


def _v31_audit_head_moved_under_its_lock() -> None:
    """Version 31: on PostgreSQL, the audit head is moved by a function that checks, under the
    head's lock, that it is where the desk built its events on (kiosk.audit.MOVE_FUNCTION), so an
    audited commit holds that lock only while the server runs it (O1, S10)."""
    if not is_sqlite():
        from kiosk import audit

        audit.create_functions()


def _v33_parents_by_birth_date() -> None:
    """Version 33: a parent's name terms beside each child's birth date (``born_parent_term``,
    kiosk.people.born_parents), filled from the records and kept in step by triggers; on
    PostgreSQL kiosk_born_parents reads them (N1: "ana 5/17/2018", one range of one index)."""
    from kiosk.people.born_parents import create_triggers, fill

    fill()
    create_triggers()
    _v20_search_functions()


def _v34_parents_children_by_name() -> None:
    """Version 34: a parent's whole name beside each child's listed row (``parent_name_child``,
    kiosk.people.parent_names), filled from the records and kept in step by triggers; on
    PostgreSQL kiosk_parents reads a whole name's list from it (N1: "Amanda Dvořák", the first
    rows of one range of one index, in the list's order)."""
    from kiosk.people.parent_names import create_triggers, fill

    fill()
    create_triggers()
    _v20_search_functions()


# version N -> function that takes a database at N-1 to N. Add a step here with every change to
# the models; tests/test_accept_foundation.py builds a version-1 database and checks that it comes
# up to date with the same columns as a new one.
MIGRATIONS: dict[int, Callable[[], None]] = {
    2: _v2_practice_key_check,
    3: _v3_guessing_limits,
    4: _v4_keyed_audit_chain,
    5: _v5_search_terms,
    6: _v6_database_purpose,
    7: _v7_pin_life,
    8: _v8_portal_tokens,
    9: _v9_pin_expiry_index,
    10: _v10_sms_delivery,
    11: _v11_follow_up,
    12: _v12_worklists_and_drives,
    13: _v13_search_terms_by_side,
    14: _v14_report_reads_one_index,
    15: _v15_teens_and_access,
    16: _v16_issue_language,
    17: _v17_outbox_maybe_sent,
    18: _v18_caregivers_of_a_child_by_index,
    19: _v19_chart_numbers,
    20: _v20_search_functions,
    21: _v21_search_functions_read_rows,
    22: _v22_charts_indexed_alone,
    23: _v23_search_functions_read_lookups,
    24: _v24_search_functions_by_day,
    25: _v25_search_functions_read_charts,
    26: _v26_search_functions_run_alone,
    27: _v27_search_functions_compile_nothing,
    28: _v28_search_functions_name_parents,
    29: _v29_search_functions_read_childrens_index,
    30: _v30_patient_rows_from_the_name_indexes,
    31: _v31_audit_head_moved_under_its_lock,
    32: _v32_plain_name_indexes_beside_the_covering,
    33: _v33_parents_by_birth_date,
    34: _v34_parents_children_by_name,
}


SCHEMA_LOCK = 0x6B696F736B  # "kiosk": the advisory lock PostgreSQL desks take to create the tables


class SchemaError(RuntimeError):
    pass


def _tune_postgres_statistics() -> None:
    """Name prefixes need finer statistics than PostgreSQL's default: with the default target of
    100, ANALYZE underestimates how many rows "cox" or "Ko, Jean" match and the planner reads and
    sorts thousands of rows instead of walking the index to the first 100 (search p95 ~5-9 ms at
    a million patients, ~2 ms with this)."""
    for column in ("family_key", "given_key"):
        database.execute_sql(f'ALTER TABLE "patient" ALTER COLUMN "{column}" SET STATISTICS 1000')
    database.execute_sql('ALTER TABLE "search_term" ALTER COLUMN "term" SET STATISTICS 1000')


def current_version() -> int:
    if not database.table_exists(SchemaMeta._meta.table_name):
        return 0
    row = SchemaMeta.select().first()
    return row.version if row else 0


def ensure_schema() -> int:
    """Create the tables on first start, or migrate an older database; return the version."""
    version = current_version()
    if version == 0:
        with write_transaction():
            # Desks started at the same moment on a new database: one creates the tables, the others
            # wait here and find them made (on PostgreSQL a second CREATE TABLE would fail on the
            # catalog's unique index; SQLite's IMMEDIATE transaction already holds the write lock).
            if not is_sqlite():
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            version = current_version()
            if version == 0:
                database.create_tables(ALL_MODELS, safe=True)
                SchemaMeta.delete().execute()
                SchemaMeta.create(version=SCHEMA_VERSION)
                if not AuditHead.select().exists():
                    AuditHead.create()
                from kiosk.people import born_parents, parent_names

                born_parents.create_triggers()
                parent_names.create_triggers()
                if not is_sqlite():
                    _tune_postgres_statistics()
                    _v20_search_functions()
                    cover_patient_names()
                    _v31_audit_head_moved_under_its_lock()
                return SCHEMA_VERSION
    _refuse_newer(version)
    while version < SCHEMA_VERSION:
        with write_transaction():
            # Re-read under the write lock: another desk starting the new release at the same
            # moment may have run this step already (a second ALTER TABLE would fail).
            version = _locked_version()
            if version < SCHEMA_VERSION:
                MIGRATIONS[version + 1]()
                version += 1
                SchemaMeta.update(version=version).execute()
    return version


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"database is at schema version {version}, newer than this kiosk ({SCHEMA_VERSION}): upgrade kiosk"
        )


def check_schema() -> int:
    """For a read-only open: the database must be at this kiosk's schema version (nothing is
    created or migrated); return it."""
    version = current_version()
    if version == 0:
        raise SchemaError("this database has no kiosk tables yet: run kiosk init first")
    _refuse_newer(version)
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"database is at schema version {version} and this kiosk needs {SCHEMA_VERSION}: start "
            "kiosk once where it can write the database, which upgrades it"
        )
    return version


def _locked_version() -> int:
    query = SchemaMeta.select()
    if not is_sqlite():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.for_update()
    row = query.first()
    return row.version if row else 0
