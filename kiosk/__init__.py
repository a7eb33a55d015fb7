"""kiosk: front-desk patient-portal registration. The domain layer; no UI imports here."""

from pathlib import Path as _Path

__version__ = "0.1.0"


def _data_dir() -> _Path:
    """The shipped data (training families, carriers, roles, slip fonts): ``kiosk/data`` in an
    installed wheel (pyproject maps the checkout's top-level ``data/`` there), else ``data/``
    beside the package in a source checkout or an editable install."""
    here = _Path(__file__).resolve().parent
    return here / "data" if (here / "data").is_dir() else here.parent / "data"


DATA_DIR = _data_dir()
