"""``feedsync diff``: items added, removed, changed and which attributes changed, between
two feed files (RSS/XML, TSV, Amazon JSON) or the feeds two runs kept (issue 14 item 11).
Feeds come from real builds and pushes through the CLI; the diff runs as a subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedsync.diff import diff_files
from feedsync.errors import ExitCode
from tests.helpers import COLUMNS, error_line, good_row, run_cli, write_csv

GOLDEN = Path(__file__).resolve().parent / "golden"


def _catalogs(tmp_path: Path) -> tuple[Path, Path]:
    old = write_csv(tmp_path / "old.csv", [good_row("A1"), good_row("B2"), good_row("C3")],
                    COLUMNS)
    new = write_csv(tmp_path / "new.csv", [good_row("A1", price="15.00"), good_row("C3"),
                                           good_row("D4")], COLUMNS)
    return old, new


def _build(catalog: Path, out: Path) -> None:
    config = catalog.parent / "feedsync.yaml"
    config.write_text('{"channels": {"google": {"outputs": ["xml", "tsv"]}}}', encoding="utf-8")
    code, _, err = run_cli("build", catalog, "--config", config, "--out", out)
    assert code == ExitCode.OK, err


def _diff(*args: str | Path) -> dict[str, Any]:
    code, out, err = run_cli("diff", *args, "--json")
    assert code == ExitCode.OK, err
    data: dict[str, Any] = json.loads(out)
    return data


@pytest.mark.parametrize("name", ["google.xml", "google.tsv"])
def test_two_builds_differ_by_one_added_one_removed_one_price(tmp_path: Path,
                                                              name: str) -> None:
    old, new = _catalogs(tmp_path)
    _build(old, tmp_path / "a")
    _build(new, tmp_path / "b")
    report = _diff(tmp_path / "a" / name, tmp_path / "b" / name)
    assert (report["added"], report["removed"], report["changed"], report["unchanged"]) == (
        1, 1, 1, 1)
    assert report["added_ids"] == ["D4"] and report["removed_ids"] == ["B2"]
    [change] = report["changes"]
    assert change["id"] == "A1"
    assert change["attributes"] == {"price": {"old": "12.50 USD", "new": "15.00 USD"}}
    assert report["attributes"] == {"price": 1}


def test_the_terminal_view(tmp_path: Path) -> None:
    old, new = _catalogs(tmp_path)
    _build(old, tmp_path / "a")
    _build(new, tmp_path / "b")
    code, out, err = run_cli("diff", tmp_path / "a" / "google.xml", tmp_path / "b" / "google.xml")
    assert code == ExitCode.OK, err
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in out
    assert "changed A1 price: '12.50 USD' -> '15.00 USD'" in out


def test_amazon_json_listings(tmp_path: Path) -> None:
    data = json.loads((GOLDEN / "amazon" / "amazon-listings.json").read_text(encoding="utf-8"))
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    dropped = data["messages"].pop()
    first = data["messages"][0]
    first["attributes"]["item_name"][0]["value"] = "A new name"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(data), encoding="utf-8")
    report = diff_files(old, new)
    assert report.format == "amazon-json"
    assert (report.added, report.removed, report.changed) == (0, 1, 1)
    assert report.removed_ids == [dropped["sku"]]
    assert report.changes[0].id == first["sku"]
    assert list(report.changes[0].attributes) == ["item_name"]


def test_two_formats_cannot_be_compared(tmp_path: Path) -> None:
    code, _, err = run_cli("diff", GOLDEN / "google" / "google.xml",
                           GOLDEN / "google" / "google.tsv")
    assert code == ExitCode.USAGE
    assert "not the same feed format" in error_line(err)


def test_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run_cli("diff", tmp_path / "nope.xml", GOLDEN / "google" / "google.xml")
    assert code == ExitCode.USAGE
    assert "no such feed file" in error_line(err)


def test_two_runs_from_the_state(tmp_path: Path) -> None:
    old, new = _catalogs(tmp_path)
    dest, state = tmp_path / "dest", tmp_path / "state"
    dest.mkdir()
    for catalog in (old, new):
        code, _, err = run_cli("push", catalog, "--channel", "google", "--to",
                               dest.as_uri() + "/", "--state", state, "--force",
                               cwd=tmp_path)
        assert code == ExitCode.OK, err
    code, out, err = run_cli("history", "--state", state, "--json")
    assert code == ExitCode.OK, err
    runs = sorted(r["id"] for r in json.loads(out)["runs"])
    report = _diff("--run", str(runs[0]), "--run", str(runs[-1]), "--channel", "google",
                   "--state", state)
    assert (report["added"], report["removed"], report["changed"]) == (1, 1, 1)
