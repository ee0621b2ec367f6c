"""Nested YAML aliases (issue 15, item 11): a 1 KB "billion laughs" file is refused at once.

Each case runs the real CLI as a subprocess on a file of a few hundred bytes whose aliases
expand to 10^8 values (or refer to themselves). Before the bound the build hung walking
the expanded tree; now it ends with the documented code and a message naming the file:
2 for the config, 4 for a channel folder's ``channel.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from tests.helpers import EXAMPLES, error_line, run_cli

LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10) if prev else ', '.join(['lol'] * 10)}]\n"
    for prev, name in zip(["", *"abcdefg"], "abcdefgh", strict=True))
SELF = "loop: &loop [1, *loop]\n"


@pytest.mark.parametrize("bomb", [LAUGHS, SELF], ids=["billion-laughs", "self-reference"])
def test_a_config_of_nested_aliases_is_refused_with_exit_2(tmp_path: Path, bomb: str) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\n" + bomb)
    assert len(config.read_bytes()) < 1024
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out",
                           timeout=60)
    assert code == ExitCode.USAGE, err
    assert str(config) in error_line(err) and "alias" in error_line(err)


@pytest.mark.parametrize("bomb", [LAUGHS, SELF], ids=["billion-laughs", "self-reference"])
def test_a_channel_file_of_nested_aliases_is_refused_with_exit_4(tmp_path: Path,
                                                                 bomb: str) -> None:
    folder = tmp_path / "channels" / "bomb"
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text("extends: google\n" + bomb)
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\ntemplate_dirs: [channels]\nchannels:\n  bomb: {}\n")
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out",
                           timeout=60)
    assert code == ExitCode.TEMPLATE, err
    assert "channel.yaml" in error_line(err) and "alias" in error_line(err)


def test_a_config_using_aliases_modestly_still_loads(tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\ndefaults: &d {}\nchannels:\n  google: *d\n")
    code, out, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out")
    assert code == ExitCode.OK, err
    assert (tmp_path / "out" / "google.xml").is_file(), out
