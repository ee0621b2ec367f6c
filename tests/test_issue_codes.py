"""The issue-code catalogue (feedsync/codes.py) holds every code feedsync can report,
and docs/issue-codes.md is generated from it.

Where codes come from: the field checks (CHECKS), the shipped channel folders (`code:` on
rules and checks), and the Python code itself, found through its syntax tree (not a text
pattern): any string given as the code of an ``Issue``, ``RowProblem``, ``ItemRejected``,
``GateReason`` or catalogue lookup, and the module constants that hold codes (profiles'
row problems, the sources' and the gate's code lists).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from feedsync.codes import CODES, markdown, shipped_channel_codes
from feedsync.gate import GATE_CODES
from feedsync.rules.checks import CHECKS
from feedsync.sources import ROW_PROBLEM_CODES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "issue-codes.md"
TEMPLATES = ROOT / "channel_templates"
_CODE = re.compile(r"^[a-z]+(?:-[a-z]+)+$")
# Calls that take a code: the keyword ``code=`` or this positional index.
_CODE_ARGS = {"Issue": 0, "RowProblem": 2, "ItemRejected": 0, "GateReason": 0,
              "_problem": 1,  # csv_source's RowProblem helper
              "_BadValue": 2,  # the Amazon writer's value refusal
              "add": 0}  # apis.base.IssueSink.add (kebab-case strings only, see _CODE)


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and _CODE.match(n.value)]


def python_codes() -> dict[str, set[str]]:
    """Code -> the modules that emit it, from every module's syntax tree."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "feedsync").rglob("*.py")):
        if path.name == "codes.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        codes: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in _CODE_ARGS:
                    index = _CODE_ARGS[name]
                    if len(node.args) > index:
                        codes += _strings(node.args[index])
                    codes += [s for k in node.keywords if k.arg == "code"
                              for s in _strings(k.value)]
            elif isinstance(node, ast.FunctionDef):
                # a default code (``code: str = "amazon-bad-value"``) is emitted too
                arguments = node.args
                named = arguments.args[len(arguments.args) - len(arguments.defaults):]
                codes += [s for a, d in zip(named, arguments.defaults, strict=True)
                          if a.arg == "code" for s in _strings(d)]
            elif isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "CODES":
                codes += _strings(node.slice)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                if isinstance(node.value, ast.Constant | ast.Tuple):
                    codes += [s for s in _strings(node.value)
                              if s.startswith(("row-", "profile-"))]
        for code in codes:
            found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_python_scan_sees_every_kind_of_emitter() -> None:
    codes = python_codes()
    # one code from each kind of place: pipeline, controls, program, a source, a
    # profile constant, the Amazon writer (missed by the old text pattern), the gate
    for code in ("duplicate-id", "no-price-in-target-currency", "invalid-xml-char",
                 "row-ragged", "profile-not-a-product", "amazon-bad-value",
                 "amazon-no-product-type", "amazon-schema", "amazon-duplicate-sku",
                 "feed-shrunk", "expression-failed", "include-filter"):
        assert code in codes, code


def test_every_code_feedsync_emits_is_in_the_catalogue() -> None:
    emitted = set(python_codes()) | {c.code for c in CHECKS.values()} | set(
        shipped_channel_codes(TEMPLATES)) | set(GATE_CODES) | set(ROW_PROBLEM_CODES)
    missing = sorted(emitted - set(CODES))
    assert not missing, f"add to feedsync/codes.py: {missing}"
    unused = sorted(set(CODES) - emitted)
    assert not unused, f"in the catalogue but emitted nowhere: {unused}"


def test_checks_match_their_catalogue_entries() -> None:
    for name, check in CHECKS.items():
        entry = CODES[check.code]
        assert (entry.area, entry.check) == ("check", name), check.code


@pytest.mark.parametrize("channel_file", sorted(TEMPLATES.glob("*/channel.yaml")),
                         ids=lambda p: p.parent.name)
def test_shipped_channel_codes_are_catalogued(channel_file: Path) -> None:
    codes = {c for c, folders in shipped_channel_codes(TEMPLATES).items()
             if channel_file.parent.name in folders}
    assert codes <= set(CODES), sorted(codes - set(CODES))


def test_gate_and_row_codes_are_catalogued_in_their_sections() -> None:
    assert {CODES[c].area for c in GATE_CODES} == {"gate"}
    assert {CODES[c].area for c in ROW_PROBLEM_CODES} == {"row"}


def test_issue_codes_page_is_generated_from_the_catalogue() -> None:
    expected = markdown(shipped_channel_codes(TEMPLATES))
    if os.environ.get("FEEDSYNC_UPDATE_DOCS") == "1":
        DOC.write_text(expected, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == expected, (
        "run `FEEDSYNC_UPDATE_DOCS=1 python -m pytest tests/test_issue_codes.py` and read "
        "the diff of docs/issue-codes.md")
