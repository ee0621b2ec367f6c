"""The merchant decides what is fatal (issue 14 item 6): ``channels.NAME.severity`` raises
or lowers a rule's severity for one target, is checked like every other key, is applied
by build and shown by explain. Through the real CLI, as a subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feedsync.errors import ExitCode
from tests.helpers import COLUMNS, error_line, feed_ids, good_row, run_cli, tip_line, write_csv


def _files(tmp_path: Path, severity: Any) -> tuple[Path, Path]:
    catalog = write_csv(tmp_path / "catalog.csv",
                        [good_row("A1", gtin="4006381333932"), good_row("B2")], COLUMNS)
    config = tmp_path / "shop.yaml"
    config.write_text(json.dumps({"channels": {"google": {"severity": severity}}}),
                      encoding="utf-8")
    return catalog, config


def _build(tmp_path: Path, severity: Any) -> tuple[int, dict[str, Any], str]:
    catalog, config = _files(tmp_path, severity)
    code, out, err = run_cli("build", catalog, "--config", config, "--out", tmp_path / "out",
                             "--json")
    return code, json.loads(out) if code == ExitCode.OK else {}, err


def test_by_default_a_bad_gtin_rejects_the_product(tmp_path: Path) -> None:
    code, report, err = _build(tmp_path, {})
    assert code == ExitCode.OK, err
    assert report["channels"]["google"]["rejected"] == 1
    assert feed_ids(tmp_path / "out" / "google.xml") == ["B2"]


def test_lowering_a_code_to_warning_writes_the_product(tmp_path: Path) -> None:
    code, report, err = _build(tmp_path, {"bad-gtin": "warning"})
    assert code == ExitCode.OK, err
    google = report["channels"]["google"]
    assert (google["written"], google["rejected"], google["warnings"]) == (2, 0, 1)
    assert feed_ids(tmp_path / "out" / "google.xml") == ["A1", "B2"]


def test_raising_one_field_only(tmp_path: Path) -> None:
    # The good row passes every rule; raising a code on one field leaves the others alone.
    code, report, err = _build(tmp_path, {"bad-gtin": {"gtin": "hint"}})
    assert code == ExitCode.OK, err
    assert report["channels"]["google"]["rejected"] == 0
    [top] = [t for t in report["channels"]["google"]["top_issues"] if t["code"] == "bad-gtin"]
    assert top["severity"] == "hint"


def test_explain_shows_the_changed_severity(tmp_path: Path) -> None:
    catalog, config = _files(tmp_path, {"bad-gtin": "warning"})
    code, out, err = run_cli("explain", "A1", catalog, "--config", config, "--json")
    assert code == ExitCode.OK, err
    rules = json.loads(out)["occurrences"][0]["channels"]["google"]["rules"]
    [gtin] = [r for r in rules if r["code"] == "bad-gtin"]
    assert (gtin["verdict"], gtin["severity"]) == ("fail", "warning")


def test_an_unknown_code_is_exit_2_with_close_matches_first(tmp_path: Path) -> None:
    code, _, err = _build(tmp_path, {"bad-gtn": "warning"})
    assert code == ExitCode.USAGE, err
    assert "channels.google.severity.bad-gtn" in error_line(err)
    assert "shop.yaml" in error_line(err)
    assert tip_line(err).startswith("Tip: one of: bad-gtin")


def test_a_field_the_code_does_not_apply_to_is_exit_2(tmp_path: Path) -> None:
    code, _, err = _build(tmp_path, {"bad-gtin": {"titel": "error"}})
    assert code == ExitCode.USAGE, err
    assert "channels.google.severity.bad-gtin.titel" in error_line(err)
    assert "gtin" in tip_line(err)


def test_a_severity_that_is_not_one_is_exit_2(tmp_path: Path) -> None:
    code, _, err = _build(tmp_path, {"bad-gtin": "fatal"})
    assert code == ExitCode.USAGE, err
    assert "severity must be one of error, warning, hint, not 'fatal'" in error_line(err)
