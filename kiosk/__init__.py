"""kiosk: front-desk patient-portal registration. The domain layer; no UI imports here."""

import importlib as _importlib
import os as _os
from pathlib import Path as _Path
from types import ModuleType as _ModuleType

__version__ = "0.1.0"


def _data_dir() -> _Path:
    """The shipped data (training families, carriers, roles, slip fonts): ``kiosk/data`` in an
    installed wheel (pyproject maps the checkout's top-level ``data/`` there), else ``data/``
    beside the package in a source checkout or an editable install."""
    here = _Path(__file__).resolve().parent
    return here / "data" if (here / "data").is_dir() else here.parent / "data"


DATA_DIR = _data_dir()


def _import_peewee_without_postgres() -> None:
    """peewee imports every database driver it finds when it is itself imported. Where psycopg2 is
    installed (the postgres extra, a shared environment), a SQLite desk would carry libpq and
    OpenSSL: 5.5 MiB of a low-spec kiosk's 80 (benchmarks/lowspec.py). So peewee is imported
    first, here, with the PostgreSQL drivers hidden; kiosk.store.db hands it psycopg2 when a
    PostgreSQL database is opened (O1). A process that imported psycopg2 already keeps it as is."""
    import sys

    if "peewee" in sys.modules:
        return
    hidden = [name for name in ("psycopg2", "psycopg") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # ``import`` raises ImportError
    try:
        import peewee  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


# The slip's child process (kiosk.slip.pdf_child) opens no database: peewee's import, some 20 ms
# of one CPU at each slip's letters check and again at its PDF (D1), is left out there
NO_DATABASE = "KIOSK_SLIP_CHILD"
if _os.environ.get(NO_DATABASE) != "1":
    _import_peewee_without_postgres()

_loaded: dict[str, _ModuleType] = {}


def loaded(name: str) -> _ModuleType:
    """The module ``name``, imported by the first call that needs it and then kept, for a function
    called often (a search) that loads its module late: an import statement costs every call tens
    of microseconds of CPU once other processes have had the core (O1). Call its functions as the
    module's attributes (``loaded(name).function``), so that they are looked up at each call."""
    module = _loaded.get(name)
    if module is None:  # kept once imported whole: another thread never sees it half made
        module = _loaded[name] = _importlib.import_module(name)
    return module
