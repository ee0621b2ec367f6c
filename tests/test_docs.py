"""The README documents every command and every exit code (sqlite-utils' habit)."""

from __future__ import annotations

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
