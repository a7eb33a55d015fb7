"""Words people read carry no rule ids: "(R15)" means nothing at the counter, nor "(D2)" to the
administrator a command refuses. Every string in the UI, the command line (its help and what it
says) and the domain modules whose messages reach either is checked; docstrings and comments,
where the ids say why, are not messages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A rule id anywhere in parentheses: "(S5)", "(L2, L4, L5)", "(default unregistered; W1)"; FHIR R4
# is the standard's release, no rule
RULE_ID = re.compile(r"\([^()]*?(?<!FHIR )\b[RSOLTWNDIP]\d{1,2}\b[^()]*\)")
# The portal API's OpenAPI descriptions, for the practice portal's developers (docs/rules.md, P1)
NOT_FOR_THE_DESK = {"kiosk/web/server.py"}


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


def test_no_rule_id_in_any_message_the_desk_or_the_command_line_says():
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
    assert RULE_ID.search("list or revoke registration PINs (L2, L4, L5)")
    assert RULE_ID.search("only patients on this list (default unregistered; W1)")
    assert not RULE_ID.search("I'm done (F10)") and not RULE_ID.search("(317) 555-0101")
    assert not RULE_ID.search("Import patients and families (CSV, FHIR R4 JSON or NDJSON)")


def test_no_rule_id_in_any_help_the_command_line_prints():
    """What `kiosk --help` and every command's and subcommand's --help print, as people read
    them: no rule id (the ids stay in the code's comments)."""
    import argparse

    from kiosk import cli

    def helps(parser):
        yield parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from helps(sub)

    printed = list(helps(cli.build_parser()))
    assert len(printed) > 20
    assert [match.group() for text in printed for match in RULE_ID.finditer(text)] == []
