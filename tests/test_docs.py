"""The README documents every command and every exit code (sqlite-utils' habit)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from feedsync.cli import app
from feedsync.errors import ExitCode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in
             app.registered_commands]
    assert {"build", "validate", "channels", "explain", "push", "history", "rollback"} <= set(names)
    missing = [n for n in names if f"`feedsync {n}" not in README]
    assert not missing, f"document these commands in README.md: {missing}"


def test_every_exit_code_is_in_the_readme() -> None:
    table = README.split("## Exit codes", 1)[1]
    missing = [code.name for code in ExitCode if f"| {int(code)} " not in table
               and f"{int(code)} / " not in table and f"/ {int(code)} " not in table]
    assert not missing, f"document these exit codes in README.md: {missing}"


RELIABILITY = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
_REF = re.compile(r"`(test_[a-z0-9_]+\.py)(?:::(test_[a-z0-9_]+))?`")


def test_every_test_the_reliability_doc_names_exists() -> None:
    refs = _REF.findall(RELIABILITY.read_text(encoding="utf-8"))
    assert len(refs) > 50
    tests = Path(__file__).resolve().parent
    missing = [f"{f}::{name}" for f, name in refs
               if not (tests / f).is_file()
               or (name and f"def {name}(" not in (tests / f).read_text(encoding="utf-8"))]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_reliability_doc_counts_the_cases_each_hostile_row_runs() -> None:
    hostile = RELIABILITY.read_text(encoding="utf-8").split("## 2. Hostile cases", 1)[1]
    rows = [row for row in hostile.splitlines() if re.match(r"\| H\d+ \|", row)]
    files = sorted({f for row in rows for f, _ in _REF.findall(row)})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *[f"tests/{f}" for f in files]], capture_output=True, text=True, timeout=300,
        cwd=RELIABILITY.parent.parent)
    items = [line for line in done.stdout.splitlines() if "::" in line]
    assert items, done.stdout + done.stderr
    for row in rows:
        said = int(row.rstrip(" |").rsplit("|", 1)[1])
        runs = sum(1 for f, name in set(_REF.findall(row)) for item in items
                   if re.match(rf"tests/{re.escape(f)}::{name}(\[|$)", item))
        name = row.split("|")[1].strip()
        assert runs == said, f"{name}: the doc says {said}, the suite runs {runs}"
