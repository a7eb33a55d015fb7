"""The layers stay apart: kiosk/ imports no Textual, screens/ no Peewee."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield path, [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path, [node.module]


def test_domain_imports_no_textual():
    offenders = [(p.name, m) for p, mods in _imports("kiosk") for m in mods if m.split(".")[0] in {"textual", "screens"}]
    assert offenders == []


def test_screens_import_no_peewee():
    offenders = [(p.name, m) for p, mods in _imports("screens") for m in mods
                 if m.split(".")[0] in {"peewee", "playhouse"} or m in {"kiosk.models", "kiosk.db"}]
    assert offenders == []
