"""Import speed (O4): 100,000 patients from CSV, in families of 1-5 siblings, into a fresh SQLite store.

    python benchmarks/import_bench.py [PATIENTS]

Prints ``import_100k_seconds VALUE s`` (the whole import: reading, matching, writing, audit),
then the same file again (``reimport_100k_seconds``: nothing changes, every row is compared).
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from kiosk.config import Config
from kiosk.importer import import_files
from kiosk.importer.csv_source import COLUMNS
from kiosk.store.db import close_database
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.store.practice import open_store

GIVEN = [
    "Ana",
    "Luis",
    "Maya",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Mateo",
    "Ava",
    "Elijah",
    "Mia",
    "Lucas",
]
FAMILY = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Johnson",
    "Lopez",
    "Brown",
    "Martinez",
    "Davis",
    "Kim",
    "Patel",
]


def write_families(path: Path, patients: int, seed: int = 9) -> int:
    rng = random.Random(seed)
    chart, family_no = 100000, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        while chart < 100000 + patients:
            family_no += 1
            family = rng.choice(FAMILY)
            parents = [("Mother", rng.choice(GIVEN)), ("Father", rng.choice(GIVEN))][
                : rng.randint(1, 2)
            ]
            for _ in range(min(rng.randint(1, 5), 100000 + patients - chart)):
                chart += 1
                dob = f"{rng.randint(2008, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                child = [
                    str(chart),
                    rng.choice(GIVEN),
                    family,
                    dob,
                    rng.choice("FM"),
                    rng.choice(["en", "es"]),
                ]
                for number, (role, given) in enumerate(parents):
                    cell = f"555{family_no:07d}"[-10:]
                    writer.writerow(
                        [
                            *child,
                            f"F{family_no}-{number}",
                            given,
                            family,
                            role,
                            "",
                            f"p{family_no}.{number}@example.org",
                            cell,
                            "",
                            "en",
                        ]
                    )
    return family_no


def main() -> None:
    patients = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory(prefix="kiosk-import-bench-") as folder:
        measure(patients, Path(folder))


def measure(patients: int, folder: Path) -> None:
    source = folder / "families.csv"
    families = write_families(source, patients)
    open_store(Config(database=str(folder / "kiosk.sqlite3")))
    started = time.perf_counter()
    report = import_files([source])
    first = time.perf_counter() - started
    assert Patient.select().count() == patients, report.summary()
    print(
        f"# {patients} patients, {families} families, {Caregiver.select().count()} caregivers, "
        f"{Relationship.select().count()} relationships; {len(report.rejected)} rejected",
        file=sys.stderr,
    )
    started = time.perf_counter()
    again = import_files([source])
    second = time.perf_counter() - started
    assert (
        again.total("patients_unchanged") == patients and again.total("caregivers_created") == 0
    ), again.summary()
    close_database()
    label = "100k" if patients == 100_000 else str(patients)
    print(f"import_{label}_seconds {first:.2f} s")
    print(f"reimport_{label}_seconds {second:.2f} s")


if __name__ == "__main__":
    main()
