"""kiosk: front-desk patient-portal registration. The domain layer; no UI imports here."""

import sys as _sys

__version__ = "0.1.0"

# peewee imports psycopg2 at its own import whenever it is installed, costing every SQLite desk
# start-up time and memory (O1). Hide it while peewee loads; kiosk.db.connect hands psycopg2 to
# peewee on the first PostgreSQL connection.
if "peewee" not in _sys.modules and "psycopg2" not in _sys.modules:
    _sys.modules["psycopg2"] = None  # type: ignore[assignment]
    try:
        import peewee as _peewee  # noqa: F401
    finally:
        del _sys.modules["psycopg2"]
