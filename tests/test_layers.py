"""The layers stay apart: kiosk/ (the domain) imports no Textual and no screens; screens/ (the UI)
imports no Peewee and none of kiosk's storage modules, however it is spelled. The contracts are
import-linter's, in pyproject.toml ([tool.importlinter]); .ci/lint runs them too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )


def test_the_layer_contracts_are_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_screen_importing_the_database_module_breaks_the_contract(tmp_path):
    """`from kiosk.store import db` (the spelling an AST check on module names missed) is caught."""
    # The UI package is named kiosk_screens when installed (pyproject maps the screens/ folder).
    for part, name in (("kiosk", "kiosk"), ("screens", "kiosk_screens")):
        shutil.copytree(
            ROOT / part, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "data")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "kiosk_screens" / "lock.py").open("a") as lock:
        lock.write("\nfrom kiosk.store import db  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "kiosk_screens.lock -> kiosk.store.db" in done.stdout
