"""The command line explains itself (issue 14 item 10, "Docs that are true"): ``--version``,
``-h`` as well as ``--help``, help without programmer types (``<bool>``, ``<path>``), one
example per command, ``CATALOG`` optional, and every catalog format named.
"""

from __future__ import annotations

import re

import pytest

import feedsync
from feedsync.cli import app
from feedsync.errors import ExitCode
from tests.helpers import run_cli

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands
                  if c.callback is not None)
TYPES = re.compile(r"<(bool|path|str|int|list\[str\]|int range|float)[^>]*>")


def test_version() -> None:
    code, out, _ = run_cli("--version")
    assert code == ExitCode.OK
    assert out.strip() == f"feedsync {feedsync.__version__}"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(flag: str) -> None:
    code, out, _ = run_cli(flag)
    assert code == ExitCode.OK
    assert "Usage: feedsync" in out and "Commands:" in out
    assert set(COMMANDS) <= set(re.findall(r"^  (\w+)", out, re.M))


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_plain_help_with_an_example(command: str) -> None:
    code, out, _ = run_cli(command, "-h")
    assert code == ExitCode.OK, out
    assert not TYPES.search(out), TYPES.search(out)
    examples = re.findall(r"Example: (feedsync \S+.*)", out)
    assert len(examples) == 1 and examples[0].split()[1] == command


def test_catalog_is_optional_and_every_format_is_named() -> None:
    code, out, _ = run_cli("build", "--help")
    assert code == ExitCode.OK
    assert "Usage: feedsync build [OPTIONS] [CATALOG]" in out
    text = " ".join(out.split())
    for name in ("CSV", "TSV", "JSONL", "Google XML", "WXR", "PrestaShop XML"):
        assert name in text
    assert "Optional when the config names catalog.path" in text
