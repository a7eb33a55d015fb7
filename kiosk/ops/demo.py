"""A synthetic practice for demonstrations and benchmarks (``kiosk demo generate --patients N``).

Families of one to five siblings with one or two caregivers, each with a realistic role and
contact authority (R15); portal statuses spread across all four (R4); names with hyphens,
apostrophes and accents, so search is exercised the way a real practice would exercise it.

Speed: a million patients are written in well under a minute on SQLite. Rows are built as plain
tuples and written with the driver's own bulk insert (``executemany`` on SQLite, ``execute_values``
on PostgreSQL) in chunks of whole families, one transaction per chunk, so a chunk is all there or
not at all. Bulk inserts skip :meth:`Patient.save`, so the search keys are folded here with
:func:`kiosk.store.models.fold` and the search terms (N1) made here with kiosk.people.search_index. On SQLite
the write-ahead log is made lazier (``synchronous=OFF``, a larger page cache) only while
generating, and restored afterwards. Every index stays in place, and
the tables are analysed at the end so the query planner knows how selective each index is.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable
from typing import Any, TypeVar

from kiosk.people.patients import born_by
from kiosk.people.search_index import add_words, caregiver_terms, lexicon_words, patient_terms
from kiosk.store.db import database, is_sqlite, write_transaction
from kiosk.store.models import (
    BaseModel,
    Caregiver,
    Patient,
    Practice,
    Relationship,
    SearchKey,
    SearchTerm,
    Staff,
)
from kiosk.terms import (
    AgeStage,
    Authority,
    CaregiverRole,
    DatabasePurpose,
    PortalStatus,
    fold,
    utcnow,
)

CHART_PREFIX = "D"  # demo chart numbers: D0000001, D0000002, ... continuing after the last one
CHUNK_PATIENTS = 50_000
# D2: the most one ``kiosk demo generate`` makes, a health system's size (about 27 GB on
# PostgreSQL): a mistyped count such as 10**15 would otherwise write until the disk is full.
MAX_PATIENTS = 10_000_000

# Spanish surnames, a block of FAMILY_NAMES (in their order there, so a seed makes the same practice)
HISPANIC_NAMES = (
    "Ortiz-Reyes",
    "García",
    "Martínez",
    "Rodríguez",
    "Hernández",
    "López",
    "González",
    "Pérez",
    "Sánchez",
    "Ramírez",
    "Torres",
    "Flores",
    "Rivera",
    "Gómez",
    "Díaz",
    "Cruz",
    "Morales",
    "Gutiérrez",
    "Jiménez",
    "Muñoz",
    "Núñez",
    "Castillo",
    "Vásquez",
    "Peña",
    "Ibáñez",
    "Núñez-García",
    "Fernández-López",
)

FAMILY_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Peterson",
    "Cooper",
    "Reed",
    "Bailey",
    "Bell",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "James",
    "Hughes",
    "Price",
    "Sanders",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Fisher",
    "Henderson",
    "Hayes",
    "Graham",
    "Wallace",
    "Hamilton",
    "O'Brien",
    "O'Connor",
    "O'Neil",
    "O'Malley",
    "D'Angelo",
    "D'Amico",
    "McDonald",
    "MacKenzie",
    "DeLuca",
    "Van Buren",
    "van der Berg",
    "St. John",
    "Le Blanc",
    "Al-Sayed",
    "Abu-Bakr",
    "Smith-Jones",
    "Taylor-Brown",
    *HISPANIC_NAMES,
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Kim",
    "Park",
    "Choi",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Huang",
    "Patel",
    "Shah",
    "Singh",
    "Kumar",
    "Gupta",
    "Iyer",
    "Müller",
    "Schäfer",
    "Groß",
    "Öztürk",
    "Şahin",
    "Kowalski",
    "Nowak",
    "Dvořák",
    "Novák",
    "Søren",
    "Åberg",
    "Ólafsdóttir",
    "Lefèvre",
    "Dubois",
    "Moreau",
    "François",
    "Côté",
    "Bélanger",
    "Gagné",
    "Nakamura",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Haddad",
    "Khoury",
    "Cohen",
    "Levi",
    "Friedman",
    "Ivanov",
    "Petrov",
    "Kuznetsov",
    "Rossi",
    "Russo",
    "Esposito",
    "Romano",
    "Ricci",
    "Bianchi",
    "Costa",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Pereira",
    "Almeida",
    "Ferreira",
    "Nielsen",
    "Hansen",
    "Larsen",
    "Johansson",
    "Lindqvist",
    "Berg",
    "Yilmaz",
    "Demir",
    "Kaya",
    "Ali",
    "Hussain",
    "Khan",
    "Ahmed",
    "Rahman",
    "Begum",
)

HISPANIC = frozenset(HISPANIC_NAMES)  # families where Spanish is often the language at home

GIVEN_GIRLS = (
    "Olivia",
    "Emma",
    "Charlotte",
    "Amelia",
    "Sophia",
    "Mia",
    "Isabella",
    "Ava",
    "Evelyn",
    "Luna",
    "Harper",
    "Camila",
    "Sofía",
    "Scarlett",
    "Elizabeth",
    "Eleanor",
    "Emily",
    "Chloé",
    "Mila",
    "Violet",
    "Penelope",
    "Gianna",
    "Aria",
    "Abigail",
    "Ella",
    "Avery",
    "Hazel",
    "Nora",
    "Layla",
    "Lily",
    "Aurora",
    "Nova",
    "Ellie",
    "Madison",
    "Grace",
    "Isla",
    "Willow",
    "Zoë",
    "Riley",
    "Stella",
    "Zoey",
    "Victoria",
    "Emilia",
    "Everly",
    "Leah",
    "Mary-Kate",
    "Anna-Sophia",
    "Renée",
    "Inés",
    "Ximena",
    "Valentina",
    "Lucía",
    "María José",
    "Guadalupe",
    "Noémie",
    "Åsa",
    "Björk",
    "Siobhán",
    "Niamh",
    "Aoife",
    "Saoirse",
    "Mei",
    "Yuna",
    "Aaliyah",
    "Amara",
    "Chiamaka",
    "Fatima",
    "Zainab",
    "Priya",
    "Ananya",
    "D'Asia",
    "Ja'Nya",
    "Nevaeh",
    "Thảo",
    "Linh",
)
GIVEN_BOYS = (
    "Liam",
    "Noah",
    "Oliver",
    "James",
    "Elijah",
    "William",
    "Henry",
    "Lucas",
    "Benjamin",
    "Theodore",
    "Mateo",
    "Levi",
    "Sebastian",
    "Daniel",
    "Jack",
    "Michael",
    "Alexander",
    "Owen",
    "Asher",
    "Samuel",
    "Ethan",
    "Leo",
    "Jackson",
    "Mason",
    "Ezra",
    "John",
    "Hudson",
    "Luca",
    "Aiden",
    "Joseph",
    "David",
    "Jacob",
    "Logan",
    "Luke",
    "Julian",
    "Gabriel",
    "Grayson",
    "Wyatt",
    "Matthew",
    "Maverick",
    "Dylan",
    "Isaac",
    "Elias",
    "Anthony",
    "Thomas",
    "Jayden",
    "Carter",
    "Santiago",
    "Ezekiel",
    "Charles",
    "Jean-Luc",
    "Jean-Baptiste",
    "José",
    "Jesús",
    "Andrés",
    "Nicolás",
    "Joaquín",
    "Martín",
    "Sebastián",
    "Raúl",
    "Björn",
    "Søren",
    "Séamus",
    "Oisín",
    "Cian",
    "Hiroshi",
    "Kenji",
    "Minh",
    "Đức",
    "Chidi",
    "Obinna",
    "Kwame",
    "Omar",
    "Yusuf",
    "Arjun",
    "Rohan",
    "D'Andre",
    "De'Shawn",
    "Ka'ale",
    "Dae-Jung",
    "Zé",
)
ADULT_WOMEN = (
    "Jennifer",
    "Jessica",
    "Ashley",
    "Sarah",
    "Amanda",
    "Melissa",
    "Nicole",
    "Stephanie",
    "Heather",
    "Elizabeth",
    "Megan",
    "Rachel",
    "Lauren",
    "Danielle",
    "María",
    "Ana",
    "Rosa",
    "Guadalupe",
    "Lucía",
    "Mónica",
    "Thúy",
    "Hoa",
    "Mei-Ling",
    "Ngozi",
    "Aisha",
    "Priya",
    "Siobhán",
    "Anne-Marie",
    "Zoë",
)
ADULT_MEN = (
    "Michael",
    "Christopher",
    "Matthew",
    "Joshua",
    "David",
    "Daniel",
    "James",
    "Robert",
    "John",
    "Joseph",
    "Andrew",
    "Ryan",
    "Brandon",
    "Jason",
    "Justin",
    "Juan",
    "José",
    "Luis",
    "Carlos",
    "Jesús",
    "Miguel",
    "Tuấn",
    "Wei",
    "Emeka",
    "Mohammed",
    "Rahul",
    "Seán",
    "Jean-Pierre",
    "D'Marcus",
)

# Household shapes (R15): how often, and each caregiver's (role, contact authority, sex).
HOUSEHOLDS = (
    (46, (("Mother", Authority.JOINT, "F"), ("Father", Authority.JOINT, "M"))),
    (20, (("Mother", Authority.SOLE, "F"),)),
    (5, (("Father", Authority.SOLE, "M"),)),
    (6, (("Mother", Authority.SOLE, "F"), ("Stepparent", Authority.NONE, "M"))),
    (3, (("Father", Authority.SOLE, "M"), ("Stepparent", Authority.NONE, "F"))),
    (6, (("Mother", Authority.JOINT, "F"), ("Mother", Authority.JOINT, "F"))),
    (2, (("Father", Authority.JOINT, "M"), ("Father", Authority.JOINT, "M"))),
    (4, (("Grandparent", Authority.SOLE, "F"),)),
    (2, (("Grandparent", Authority.JOINT, "F"), ("Grandparent", Authority.JOINT, "M"))),
    (3, (("Guardian", Authority.SOLE, "F"),)),
    (2, (("Foster parent", Authority.SOLE, "F"),)),
    (1, (("Mother", Authority.JOINT, "F"), ("Other", Authority.NONE, "F"))),
)
SIBLINGS = ((1, 38), (2, 34), (3, 17), (4, 7), (5, 4))  # (children in the family, how often)
STATUSES = (
    (PortalStatus.UNREGISTERED, 50),
    (PortalStatus.REGISTERED, 28),
    (PortalStatus.PENDING, 12),
    (PortalStatus.SELF_REGISTERED, 10),
)
TEXT_CARRIERS = ("verizon", "uscellular", "cricket", "boost", "metro", "googlefi")
MAIL_DOMAINS = ("example.com", "example.org", "example.net")


T = TypeVar("T")


def _table(choices: Iterable[tuple[T, int]]) -> list[T]:
    """A list where each choice appears as often as its weight: random.choice on it is weighted."""
    return [value for value, weight in choices for _ in range(weight)]


def _next_chart_number() -> int:
    last = (
        Patient.select(Patient.chart_number)
        .where(Patient.chart_number.startswith(CHART_PREFIX))
        .order_by(Patient.chart_number.desc())
        .first()
    )
    if last is None:
        return 1
    digits = last.chart_number[len(CHART_PREFIX) :]
    return int(digits) + 1 if digits.isdigit() else 1


def _next_id(model: type[BaseModel]) -> int:
    return (model.select(model.id).order_by(model.id.desc()).scalar() or 0) + 1


def _columns(model: type[BaseModel], names: tuple[str, ...]) -> str:
    fields = model._meta.fields
    return ", ".join(f'"{fields[name].column_name}"' for name in names)


PATIENT_COLUMNS = (
    "id",
    "chart_number",
    "given_name",
    "family_name",
    "given_key",
    "family_key",
    "dob",
    "sex",
    "preferred_language",
    "portal_status",
    "placeholder_name",
    "created_at",
    "updated_at",
    "age_stage",
)
CAREGIVER_COLUMNS = (
    "id",
    "given_name",
    "family_name",
    "email",
    "cell",
    "carrier",
    "preferred_language",
    "created_at",
    "updated_at",
)
RELATIONSHIP_COLUMNS = ("caregiver", "patient", "role", "authority")
TERM_COLUMNS = ("term", "field", "patient", "caregiver")


def _bulk_insert(model: type[BaseModel], names: tuple[str, ...], rows: list[tuple]) -> None:
    """Write ``rows`` (tuples in the order of ``names``) with the driver's fastest bulk insert."""
    if not rows:
        return
    table = f'"{model._meta.table_name}"'
    columns = _columns(model, names)
    cursor = database.cursor()
    if is_sqlite():
        marks = ", ".join("?" * len(names))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    else:
        from psycopg2.extras import execute_values  # PostgreSQL sites only

        execute_values(cursor, f"INSERT INTO {table} ({columns}) VALUES %s", rows, page_size=5_000)


def _reset_sequences() -> None:
    """PostgreSQL: explicit ids were written, so move the id sequences past them."""
    if is_sqlite():
        return
    for model in (Patient, Caregiver):
        table = model._meta.table_name
        database.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
        )


class _FastSqlite:
    """While generating on SQLite: no fsync per chunk and a larger cache; the old values come back after."""

    SETTINGS = {"synchronous": "OFF", "cache_size": -262_144, "temp_store": "MEMORY"}

    def __enter__(self) -> _FastSqlite:
        self.saved: dict[str, Any] = {}
        if is_sqlite():
            for name, value in self.SETTINGS.items():
                self.saved[name] = database.execute_sql(f"PRAGMA {name}").fetchone()[0]
                database.execute_sql(f"PRAGMA {name} = {value}")
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            database.execute_sql(f"PRAGMA {name} = {value}")
        if self.saved:
            database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class _Families:
    """Builds rows for whole families from one random generator."""

    def __init__(
        self,
        rng: random.Random,
        today: dt.date,
        stamp: str,
        chart: int,
        patient_id: int,
        caregiver_id: int,
    ):
        self.rng, self.stamp = rng, stamp
        self.chart, self.patient_id, self.caregiver_id = chart, patient_id, caregiver_id
        self.family_names = FAMILY_NAMES
        self.keys = {
            name: fold(name)
            for name in (*FAMILY_NAMES, *GIVEN_GIRLS, *GIVEN_BOYS, *ADULT_WOMEN, *ADULT_MEN)
        }
        self.households = _table((shape, weight) for weight, shape in HOUSEHOLDS)
        self.siblings = _table(SIBLINGS)
        self.statuses = _table(STATUSES)
        first = today.toordinal() - 18 * 365  # children: newborn to 18 years
        self.birthdays = [
            dt.date.fromordinal(day).isoformat() for day in range(first, today.toordinal() + 1)
        ]
        # T2: each made-up patient is at the age stage of its birthday already, so the first
        # maintenance run has no transitions to apply to a snapshot of a practice
        teen, adult = born_by(today, 12).isoformat(), born_by(today, 18).isoformat()
        self.stages = {
            day: AgeStage.ADULT
            if day <= adult
            else AgeStage.TEEN
            if day <= teen
            else AgeStage.CHILD
            for day in self.birthdays
        }
        self.patients: list[tuple] = []
        self.caregivers: list[tuple] = []
        self.relationships: list[tuple] = []
        self.terms: list[tuple] = []  # SearchTerm rows (N1)

    def family_name(self) -> str:
        rng = self.rng
        name = rng.choice(self.family_names)
        if rng.random() < 0.04:  # a double-barrelled name made of two others
            name = f"{name}-{rng.choice(self.family_names)}"
            self.keys.setdefault(name, fold(name))
        return name

    def add_family(self) -> int:
        rng, stamp, keys = self.rng, self.stamp, self.keys
        surname = self.family_name()
        spanish = surname in HISPANIC and rng.random() < 0.6
        language = "es" if spanish else "en"
        ids = []
        for role, authority, sex in rng.choice(self.households):
            caregiver_id = self.caregiver_id
            self.caregiver_id += 1
            given = rng.choice(ADULT_WOMEN if sex == "F" else ADULT_MEN)
            parent = role in (CaregiverRole.MOTHER, CaregiverRole.FATHER)
            family = surname if parent or rng.random() < 0.5 else self.family_name()
            contact = rng.random()
            email = (
                f"{keys[given]}.{keys[family] or 'family'}{caregiver_id}@{rng.choice(MAIL_DOMAINS)}"
                if contact < 0.85
                else ""
            )
            cell = f"317555{rng.randrange(10_000):04d}" if contact > 0.25 else ""
            carrier = rng.choice(TEXT_CARRIERS) if cell else ""
            self.caregivers.append(
                (caregiver_id, given, family, email, cell, carrier, language, stamp, stamp)
            )
            self.terms += caregiver_terms(caregiver_id, given, family, email, cell)
            ids.append((caregiver_id, role, authority))
        count = rng.choice(self.siblings)
        for _ in range(count):
            patient_id = self.patient_id
            self.patient_id += 1
            girl = rng.random() < 0.49
            given = rng.choice(GIVEN_GIRLS if girl else GIVEN_BOYS)
            status = rng.choice(self.statuses)
            born = rng.choice(self.birthdays)
            self.patients.append(
                (
                    patient_id,
                    f"{CHART_PREFIX}{self.chart:07d}",
                    given,
                    surname,
                    keys[given],
                    keys[surname],
                    born,
                    "F" if girl else "M",
                    language,
                    status,
                    False,
                    stamp,
                    stamp,
                    self.stages[born],
                )
            )
            self.terms += patient_terms(patient_id, given, surname, self.patients[-1][1])
            self.chart += 1
            for caregiver_id, role, authority in ids:
                self.relationships.append((caregiver_id, patient_id, role, authority))
        return count

    def flush(self) -> tuple[int, int, int]:
        counts = len(self.patients), len(self.caregivers), len(self.relationships)
        with write_transaction():
            _bulk_insert(Patient, PATIENT_COLUMNS, self.patients)
            _bulk_insert(Caregiver, CAREGIVER_COLUMNS, self.caregivers)
            _bulk_insert(Relationship, RELATIONSHIP_COLUMNS, self.relationships)
            _bulk_insert(SearchTerm, TERM_COLUMNS, self.terms)
            add_words(lexicon_words(self.terms))
        self.patients, self.caregivers, self.relationships, self.terms = [], [], [], []
        return counts


def claim_for_demo(n_patients: int, *, force: bool = False) -> bool:
    """D2: may made-up patients go into the open database? Yes when it is a demo or training one,
    or a new one (no staff, no patients: it is marked a demo database from now on); into a
    practice's database only with ``force``. A yes is recorded in the audit trail."""
    from kiosk import audit

    with write_transaction():
        row = Practice.get()
        purpose = row.purpose
        if (
            purpose == DatabasePurpose.PRACTICE
            and not Staff.select().exists()
            and not Patient.select().exists()
        ):
            Practice.update(purpose=DatabasePurpose.DEMO).execute()
            purpose = DatabasePurpose.DEMO
        if purpose == DatabasePurpose.PRACTICE and not force:
            return False
        audit.record(
            audit.DEMO_DATA,
            detail={
                "patients": n_patients,
                "database": str(purpose),
                "forced": purpose == DatabasePurpose.PRACTICE,
            },
        )
    return True


def generate_practice(
    n_patients: int, seed: int = 1, *, today: dt.date | None = None, chunk: int = CHUNK_PATIENTS
) -> str:
    """Add ``n_patients`` synthetic patients in families to the open store; return a one-paragraph report."""
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    started = time.perf_counter()
    today = today or dt.date.today()
    stamp = utcnow().isoformat(sep=" ")
    builder = _Families(
        random.Random(seed),
        today,
        stamp,
        _next_chart_number(),
        _next_id(Patient),
        _next_id(Caregiver),
    )
    made = [0, 0, 0]
    families = 0
    with _FastSqlite():
        while made[0] + len(builder.patients) < n_patients:
            builder.add_family()
            families += 1
            if len(builder.patients) >= chunk:
                made = [a + b for a, b in zip(made, builder.flush())]
        excess = (
            made[0] + len(builder.patients) - n_patients
        )  # the last family may overshoot: trim it
        if excess > 0:
            dropped = {row[0] for row in builder.patients[-excess:]}
            del builder.patients[-excess:]
            builder.relationships = [r for r in builder.relationships if r[1] not in dropped]
            builder.terms = [t for t in builder.terms if t[2] not in dropped]
        made = [a + b for a, b in zip(made, builder.flush())]
        _reset_sequences()
    # fresh planner statistics for the search indexes
    for model in (Patient, Caregiver, Relationship, SearchTerm, SearchKey):
        database.execute_sql(f'ANALYZE "{model._meta.table_name}"')
    seconds = time.perf_counter() - started
    return (
        f"Generated {made[0]:,} patients in {families:,} families, with {made[1]:,} caregivers and "
        f"{made[2]:,} caregiver relationships (seed {seed}), in {seconds:.1f} seconds "
        f"({made[0] / seconds:,.0f} patients a second)."
    )
