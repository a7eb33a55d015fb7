"""kiosk: front-desk patient-portal registration. The domain layer; no UI imports here."""

import sys as _sys
from pathlib import Path as _Path

__version__ = "0.1.0"


def _data_dir() -> _Path:
    """The shipped data (training families, carriers, roles, slip fonts): ``kiosk/data`` in an
    installed wheel (pyproject maps the checkout's top-level ``data/`` there), else ``data/``
    beside the package in a source checkout or an editable install."""
    here = _Path(__file__).resolve().parent
    return here / "data" if (here / "data").is_dir() else here.parent / "data"


DATA_DIR = _data_dir()

# peewee imports psycopg2 at its own import whenever it is installed, costing every SQLite desk
# start-up time and memory (O1). Hide it while peewee loads; kiosk.db.connect hands psycopg2 to
# peewee on the first PostgreSQL connection.
if "peewee" not in _sys.modules and "psycopg2" not in _sys.modules:
    _sys.modules["psycopg2"] = None  # type: ignore[assignment]
    try:
        import peewee as _peewee  # noqa: F401
    finally:
        del _sys.modules["psycopg2"]
