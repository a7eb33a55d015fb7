"""Words the desk reads carry no rule ids: "(R15)" means nothing at the counter (issue point:
one key per meaning, no rule ids). Every string in the UI and in the domain modules whose messages
reach the screens is checked; docstrings, comments and the command line's help are not messages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE_ID = re.compile(r"\((?:[RSOLTWNDIP]\d{1,2})(?:[,;][^)]*)?\)")
# The command line and kiosk doctor (administrators, with docs/rules.md at hand) and the portal
# API's OpenAPI descriptions (for the practice portal's developers).
NOT_FOR_THE_DESK = {"kiosk/cli.py", "kiosk/ops/doctor.py", "kiosk/web/server.py"}


def messages(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            yield node.lineno, node.value


def test_no_rule_id_in_any_message_the_desk_sees():
    found = []
    for folder in ("screens", "kiosk"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in NOT_FOR_THE_DESK:
                continue
            for line, text in messages(path):
                if RULE_ID.search(text):
                    found.append(f"{name}:{line}: {text[:80]}")
    assert found == []


def test_the_check_finds_a_rule_id():
    assert RULE_ID.search("choose a caregiver with Joint or Sole authority (R15).")
    assert not RULE_ID.search("I'm done (F10)") and not RULE_ID.search("(317) 555-0101")
