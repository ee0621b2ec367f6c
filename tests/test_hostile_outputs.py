"""Two outputs that resolve to one file are refused when the config is read (issue 15,
item 4).

Before this, the second writer's commit replaced the first's file: the report said
"written 28" for a channel whose file on disk held the other channel's items (or an issue
log). Each case runs the real CLI as a subprocess and expects exit 2 with one message
naming both keys, before the catalog is read and with nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from feedsync.errors import ExitCode
from tests.helpers import EXAMPLES, error_line, run_cli

CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "two targets, one files: name": (
        {"google-a": {"template": "google", "files": {"xml": "feed.xml"}},
         "google-b": {"template": "google", "files": {"xml": "feed.xml"}}},
        ["channels.google-a.files.xml", "channels.google-b.files.xml"]),
    "a feed named like another target's default": (
        {"google": {}, "meta": {"files": {"csv": "google.xml"}}},
        ["channels.google (output xml: google.xml)", "channels.meta.files.csv"]),
    "a feed named like an issue log": (
        {"google": {}, "meta": {"files": {"csv": "google.issues.jsonl"}}},
        ["channels.google (issue log google.issues.jsonl)", "channels.meta.files.csv"]),
    "a feed named like the catalog's issue log": (
        {"google": {"files": {"xml": "catalog.issues.jsonl"}}},
        ["the catalog's issue log", "channels.google.files.xml"]),
    "a target named catalog": (
        {"catalog": {"template": "google"}},
        ["the catalog's issue log", "channels.catalog (issue log catalog.issues.jsonl)"]),
    "names differing only in case": (
        {"google": {"files": {"xml": "Feed.xml"}}, "meta": {"files": {"csv": "feed.XML"}}},
        ["channels.google.files.xml", "channels.meta.files.csv"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_outputs_on_one_path_are_refused_naming_both_keys(tmp_path: Path,
                                                              case: str) -> None:
    channels, keys = CASES[case]
    config = tmp_path / "feedsync.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "channels": channels}))
    out = tmp_path / "out"
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", out)
    assert code == ExitCode.USAGE, err
    line = error_line(err)
    for key in keys:
        assert key in line, line
    assert not out.exists() or not any(out.iterdir())


def test_distinct_names_for_one_template_still_build(tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "channels": {
        "google-a": {"template": "google"}, "google-b": {"template": "google"}}}))
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out")
    assert code == ExitCode.OK, err
    assert {p.name for p in (tmp_path / "out").glob("*.xml")} == {"google-a.xml",
                                                                 "google-b.xml"}


# --- item 3: a symlink planted at a feed's or an issue log's path ---------------------------

PLANTED = ["google.xml", "google.issues.jsonl", "catalog.issues.jsonl"]


@pytest.mark.parametrize("name", PLANTED)
def test_a_planted_link_out_of_the_output_folder_is_refused(tmp_path: Path, name: str) -> None:
    victim = tmp_path / "home" / ".bashrc"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim)
    code, _, err = run_cli("build", EXAMPLES, "--channel", "google", "--out", out)
    assert code == ExitCode.USAGE, err
    line = error_line(err)
    assert str(out / name) in line and "symbolic link" in line, line
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in out.iterdir()) == [name]   # nothing else written


@pytest.mark.parametrize("name", PLANTED)
def test_a_dangling_link_out_of_the_folder_is_refused_and_creates_nothing(
        tmp_path: Path, name: str) -> None:
    victim = tmp_path / "elsewhere" / "new-file"
    victim.parent.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim)
    code, _, err = run_cli("build", EXAMPLES, "--channel", "google", "--out", out)
    assert code == ExitCode.USAGE, err
    assert str(out / name) in error_line(err)
    assert not victim.exists()


def test_the_opt_in_writes_through_a_link_out_of_the_folder(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "products.xml").write_text("old")
    out = tmp_path / "out"
    out.mkdir()
    (out / "google.xml").symlink_to(www / "products.xml")
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\nfollow_symlinks_outside_output: true\n")
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "--channel", "google",
                           "--out", out)
    assert code == ExitCode.OK, err
    assert (out / "google.xml").is_symlink()
    assert "<rss" in (www / "products.xml").read_text()


def test_a_link_that_stays_in_the_folder_is_written_through(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "kept").mkdir(parents=True)
    (out / "kept" / "real.xml").write_text("old")
    (out / "google.xml").symlink_to(out / "kept" / "real.xml")
    code, _, err = run_cli("build", EXAMPLES, "--channel", "google", "--out", out)
    assert code == ExitCode.OK, err
    assert "<rss" in (out / "kept" / "real.xml").read_text()


def test_the_opt_in_must_be_true_or_false(tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\nfollow_symlinks_outside_output: yes please\n")
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out")
    assert code == ExitCode.USAGE, err
    assert "follow_symlinks_outside_output" in error_line(err)


def test_a_planted_link_at_a_numbered_part_is_refused(tmp_path: Path) -> None:
    """A channel whose limits split the feed: part 2's name is known in advance, so a link
    planted there must be refused like one at the first file."""
    folder = tmp_path / "templates" / "gsmall"
    folder.mkdir(parents=True)
    source = "https://example.com/channel/limits"
    folder.joinpath("channel.yaml").write_text(
        "extends: google\nname: gsmall\nlimits:\n"
        f"  items_per_feed_file: {{value: 3, source: '{source}'}}\n"
        f"  several_files: {{value: true, source: '{source}'}}\n")
    victim = tmp_path / "home" / ".bashrc"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "google-0002.xml").symlink_to(victim)   # the folder keeps google's file name
    config = tmp_path / "feedsync.yaml"
    config.write_text(f"version: 1\ntemplate_dirs: [{tmp_path / 'templates'}]\n"
                      "channels:\n  gsmall: {}\n")
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "--out", out)
    assert code == ExitCode.USAGE, err
    assert str(out / "google-0002.xml") in error_line(err)
    assert victim.read_text() == "precious\n"
    assert not (out / "google.xml").exists()
