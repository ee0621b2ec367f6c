"""Every issue code feedsync can report is documented in docs/issue-codes.md."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from feedsync.rules.checks import CHECKS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "issue-codes.md").read_text(encoding="utf-8")
_PYTHON_CODE = re.compile(r'(?:code=|RowProblem\([^)]*?)"((?:row-)?[a-z]+(?:-[a-z]+)+)"')


def documented(code: str) -> bool:
    return f"`{code}`" in DOC


def python_codes() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "feedsync").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(_PYTHON_CODE.findall(text))
        found.update(re.findall(r'"(row-[a-z-]+)"', text))
        found.update(re.findall(r'^[A-Z_]+ = "((?:profile|row)-[a-z-]+)"', text, re.M))
    return found


def template_codes() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "channel_templates").glob("*/channel.yaml"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for field in (raw.get("fields") or {}).values():
            if isinstance(field, dict):
                found.update(r["code"] for r in field.get("rules", []) if "code" in r)
        found.update(c["code"] for c in raw.get("checks", []) or [])
    return found


def test_check_codes_are_documented() -> None:
    missing = sorted(c.code for c in CHECKS.values() if not documented(c.code))
    assert not missing, f"add to docs/issue-codes.md: {missing}"


def test_codes_raised_in_python_are_documented() -> None:
    codes = python_codes()
    assert {"duplicate-id", "row-ragged", "profile-not-a-product"} <= codes  # the scan works
    missing = sorted(c for c in codes if not documented(c))
    assert not missing, f"add to docs/issue-codes.md: {missing}"


def test_codes_in_channel_templates_are_documented() -> None:
    codes = template_codes()
    assert "availability-date-required" in codes
    missing = sorted(c for c in codes if not documented(c))
    assert not missing, f"add to docs/issue-codes.md: {missing}"
