"""Happy paths of ``feedsync build``, ``validate`` and ``channels``, as a user runs them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from feedsync.cli import app
from feedsync.errors import ExitCode
from tests.helpers import (
    EXAMPLES,
    G_NS,
    REPO,
    G,
    feed_ids,
    good_row,
    parse_feed,
    read_issues,
    read_tsv,
    report_accounts_for_all,
    run_cli,
    write_config,
    write_csv,
)

GOOGLE_DOCS = "https://support.google.com/merchants/answer/7052112"


def _build_json(out: Path, *extra: str | Path) -> dict:
    code, stdout, stderr = run_cli("build", EXAMPLES, "--channel", "google", "--out", out,
                                   "--json", *extra)
    assert code == ExitCode.OK, stderr
    return json.loads(stdout)


def test_readme_first_command(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "feedsync build examples/catalog.csv --channel google --out out/" in readme
    code, stdout, stderr = run_cli("build", "examples/catalog.csv", "--channel", "google",
                                   "--out", tmp_path / "out", cwd=REPO)
    assert code == ExitCode.OK, stderr
    feed = tmp_path / "out" / "google.xml"
    data = feed.read_bytes()
    root = parse_feed(feed).getroot()
    assert root.tag == "rss" and root.nsmap == {"g": G_NS}
    assert data.count(b"xmlns:g=") == 1 and data.count(b"xmlns") == 1
    assert len(list(root.iter("item"))) > 0
    issues = read_issues(tmp_path / "out" / "google.issues.jsonl")
    assert issues and all(i["code"] and i["severity"] and i["source"] for i in issues)
    assert (tmp_path / "out" / "catalog.issues.jsonl").exists()
    # the human report names the channel, the file and the issue codes with their sources
    assert "google" in stdout and "google.xml" in stdout
    assert "bad-gtin" in stdout and "https://support.google.com/merchants/" in stdout
    assert stderr.strip() == ""


def test_json_report_shape_and_accounting(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = _build_json(out)
    assert report["version"] == 1 and report["command"] == "build"
    assert report["exit_code"] == ExitCode.OK
    catalog = report["catalog"]
    assert catalog["format"] == "csv" and catalog["path"].endswith("catalog.csv")
    assert catalog["read"] == 35 and catalog["skipped"] == 0
    google = report["channels"]["google"]
    for key in ("written", "rejected", "warnings", "file", "issues", "top_issues",
                "issue_log"):
        assert key in google, key
    assert google["file"] == str(out / "google.xml")
    report_accounts_for_all(report)
    assert google["written"] > 0 and google["rejected"] > 0
    assert len(feed_ids(out / "google.xml")) == google["written"]

    # the counts by code are exactly the issue log's
    logged = read_issues(out / "google.issues.jsonl")
    assert dict(Counter(i["code"] for i in logged)) == google["issues"]
    rejected_ids = {(i["product_id"], i["line"]) for i in logged if i["severity"] == "error"}
    assert len(rejected_ids) == google["rejected"]
    assert sum(1 for i in logged if i["severity"] == "warning") == google["warnings"]
    for top in google["top_issues"]:
        assert top["source"].startswith("https://") and top["examples"]
    # the deliberate problems of examples/catalog.csv are all caught
    for code in ("bad-gtin", "missing-required", "duplicate-id", "too-long", "not-in-enum",
                 "all-caps", "promotional-text", "too-many-images", "missing-identifier"):
        assert code in google["issues"], code


def test_defaults_from_config_fill_missing_values(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "no-currency.csv",
                        [good_row(f"N{i}", currency="", condition="") for i in range(3)])
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                                   tmp_path / "a", "--json")
    assert code == ExitCode.OK, stderr
    without = json.loads(stdout)["channels"]["google"]
    assert without["written"] == 0 and without["issues"]["bad-money"] == 3
    config = write_config(tmp_path / "feedsync.yaml",
                          'defaults: {currency: "USD", condition: "new"}\n')
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                                   tmp_path / "b", "--json", "--config", config)
    assert code == ExitCode.OK, stderr
    assert json.loads(stdout)["channels"]["google"]["written"] == 3
    items = parse_feed(tmp_path / "b" / "google.xml").getroot().iter("item")
    assert [(i.findtext(G + "price"), i.findtext(G + "condition")) for i in items] == [
        ("12.50 USD", "new")] * 3


def test_validate_writes_no_feed(tmp_path: Path) -> None:
    built = _build_json(tmp_path / "built")
    code, stdout, stderr = run_cli("validate", EXAMPLES, "--channel", "google", "--json",
                                   cwd=tmp_path)
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    assert report["command"] == "validate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built"]  # nothing else written
    ours, theirs = report["channels"]["google"], built["channels"]["google"]
    for key in ("written", "rejected", "warnings", "issues"):
        assert ours[key] == theirs[key], key
    assert ours["file"] is None


def test_validate_with_out_writes_only_the_issue_logs(tmp_path: Path) -> None:
    code, _, stderr = run_cli("validate", EXAMPLES, "--channel", "google", "--out", tmp_path)
    assert code == ExitCode.OK, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.issues.jsonl",
                                                          "google.issues.jsonl"]


def test_channels_lists_google_with_its_docs(tmp_path: Path) -> None:
    code, stdout, stderr = run_cli("channels")
    assert code == ExitCode.OK, stderr
    line = next(line for line in stdout.splitlines() if line.split()[:1] == ["google"])
    assert GOOGLE_DOCS in line and "xml:rss" in line
    code, stdout, _ = run_cli("channels", "--json")
    assert code == ExitCode.OK
    data = json.loads(stdout)
    assert data["version"] == 1
    google = next(c for c in data["channels"] if c["name"] == "google")
    assert google["docs"] == GOOGLE_DOCS
    assert {"xml:rss", "tsv:tsv"} <= set(google["outputs"])


def test_channels_includes_template_dirs(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "mine"
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text("extends: google\ntitle: My shop feed\n"
                                         "docs: https://mine.example.com/docs\n")
    config = write_config(tmp_path / "feedsync.yaml", "template_dirs: [templates]\n")
    code, stdout, _ = run_cli("channels", "--json", "--config", config)
    assert code == ExitCode.OK
    mine = next(c for c in json.loads(stdout)["channels"] if c["name"] == "mine")
    assert mine["docs"] == "https://mine.example.com/docs" and mine["title"] == "My shop feed"


def test_both_outputs_from_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feedsync.yaml",
                          "defaults: {currency: \"USD\"}\n"
                          "channels:\n  google:\n    outputs: [xml, tsv]\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("build", EXAMPLES, "--config", config, "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    google = json.loads(stdout)["channels"]["google"]
    assert google["files"] == {"xml": str(out / "google.xml"), "tsv": str(out / "google.tsv")}
    xml_ids = feed_ids(out / "google.xml")
    rows = read_tsv(out / "google.tsv")
    header = rows[0]
    assert header[:4] == ["id", "title", "structured_title", "description"]
    assert all(len(row) == len(header) for row in rows)
    assert [row[0] for row in rows[1:]] == xml_ids
    assert len(xml_ids) == google["written"]
    # the TSV writes the multi-valued shipping in Google's text syntax
    shipping = header.index("shipping")
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["TS-100-NAVY-S"][shipping] == "US::Standard:4.95 USD,CA::Standard:9.95 USD"


def test_two_targets_of_one_template(tmp_path: Path) -> None:
    config = write_config(tmp_path / "feedsync.yaml", """\
defaults: {currency: "USD"}
channels:
  google: {}
  google-CA:
    template: google
    target: {country: "CA", language: "en"}
""")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("build", EXAMPLES, "--config", config, "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    assert set(report["channels"]) == {"google", "google-CA"}
    report_accounts_for_all(report)
    assert report["channels"]["google-CA"]["file"] == str(out / "google-CA.xml")
    assert (out / "google-CA.issues.jsonl").exists()
    assert feed_ids(out / "google-CA.xml") == feed_ids(out / "google.xml")


def test_report_on_a_pipe_has_no_escape_codes(tmp_path: Path) -> None:
    code, stdout, stderr = run_cli("build", EXAMPLES, "--channel", "google", "--out", tmp_path,
                                   env={"TERM": "xterm-256color"})
    assert code == ExitCode.OK
    assert "\x1b" not in stdout and "\x1b" not in stderr
    assert "\r" not in stderr  # no progress bar redraws


def test_rebuild_replaces_the_feed_and_leaves_no_temp_files(tmp_path: Path) -> None:
    _build_json(tmp_path)
    first = (tmp_path / "google.xml").read_bytes()
    _build_json(tmp_path)
    assert (tmp_path / "google.xml").read_bytes() == first  # deterministic
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "catalog.issues.jsonl", "google.issues.jsonl", "google.xml"]


def test_build_through_typer_runner(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", str(EXAMPLES), "--channel", "google", "--out",
                                      str(tmp_path), "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    report_accounts_for_all(report)
    assert len(feed_ids(tmp_path / "google.xml")) == report["channels"]["google"]["written"]


def test_error_through_typer_runner(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", str(tmp_path / "nope.csv"), "--channel",
                                      "google", "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.CATALOG
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "nope.csv" in errors[0]
