"""The terminal report shows what ``--json`` has, and stays readable at 80 columns
(issue 14 items 7 and 8; also the HTML report written by the library, not the CLI).

Reports come from real builds of files on disk; they are rendered with rich at the
width of a small terminal, and through the real CLI.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from feedsync import build
from feedsync.config import parse_config
from feedsync.errors import ExitCode
from feedsync.report import RunReport
from feedsync.terminal import elide, render_report, short_url
from tests.helpers import COLUMNS, good_row, run_cli, write_csv

LONG_ID = "VERY-LONG-PRODUCT-IDENTIFIER-FROM-A-SHOP-0001"


def _report(tmp_path: Path, rows: list[dict[str, str]], raw: dict[str, Any]) -> RunReport:
    catalog = write_csv(tmp_path / "catalog.csv", rows, COLUMNS)
    config = parse_config(raw, tmp_path / "feedsync.yaml")
    return build(catalog, [], tmp_path / "out", config)


def _render(report: RunReport, width: int = 80) -> list[str]:
    buffer = io.StringIO()
    render_report(report, Console(file=buffer, width=width, color_system=None))
    return buffer.getvalue().splitlines()


def _controlled(tmp_path: Path) -> RunReport:
    (tmp_path / "stock.csv").write_text("sku,quantity\nZ1,3\nZ2,4\n", encoding="utf-8")
    with (tmp_path / "cats.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["product_type", "google_product_category"],
                                      ["Mugs", "2169"]])
    rows = [good_row("A1", product_type="Mugs", quantity="5"),
            good_row("B2", product_type="Teapots", quantity="5"),
            good_row("C3", brand="Internal", quantity="5")]
    return _report(tmp_path, rows, {
        "supplemental": [{"path": "stock.csv", "key": "sku"}],
        "category_map": "cats.csv",
        "channels": {"google": {"include": "product.brand != 'Internal'", "reserve": 2}}})


def test_filtered_join_category_map_and_reserve_are_shown(tmp_path: Path) -> None:
    report = _controlled(tmp_path)
    data = report.to_dict()
    google = data["channels"]["google"]
    assert (google["written"], google["rejected"], google["filtered"]) == (2, 0, 1)
    assert google["reserved"] == 2
    text = "\n".join(_render(report, width=120))
    assert "google: 1 products filtered out by include/exclude" in text
    assert "google: reserve applied to 2 products" in text
    join = data["controls"]["supplemental"][0]
    assert join["matched"] == 0
    assert (f"join {join['path']}: 2 rows, 0 products matched, 3 without a row, 2 rows "
            "without a product") in " ".join(text.split())
    assert "matched no product" in " ".join(text.split())
    assert "category map" in text and "1 products not mapped" in " ".join(text.split())
    assert "'Teapots' (1)" in text


def test_the_channel_table_has_a_filtered_column(tmp_path: Path) -> None:
    lines = _render(_controlled(tmp_path), width=120)
    header = next(line for line in lines if line.lstrip().startswith("channel"))
    assert header.split()[:5] == ["channel", "written", "rejected", "filtered", "warnings"]
    row = next(line for line in lines if line.lstrip().startswith("google "))
    assert row.split()[1:4] == ["2", "0", "1"]


def test_at_80_columns_codes_stay_whole_and_urls_and_ids_are_short(tmp_path: Path) -> None:
    rows = [good_row(LONG_ID, price="", image_link=""),
            good_row(LONG_ID + "X", price="", image_link="")]
    report = _report(tmp_path, rows, {"channels": ["google"]})
    lines = _render(report)
    assert all(len(line) <= 80 for line in lines), [x for x in lines if len(x) > 80]
    codes = {s.code for c in report.channels for s in c.top()}
    assert codes
    for code in codes:     # each code printed whole on one line, never split
        assert any(code in line for line in lines), code
    text = "\n".join(lines)
    assert "https://" not in text.split("top issues")[1]   # sources shortened
    assert LONG_ID not in text and elide(LONG_ID) in text


def test_short_url_and_elide() -> None:
    assert short_url("https://support.google.com/merchants/answer/6324405") == (
        "support.google.com/…/6324405")
    assert short_url("https://example.com/") == "example.com"
    assert elide("short") == "short"
    cut = elide(LONG_ID)
    assert len(cut) == 14 and cut.startswith("VERY-L") and cut.endswith("-0001")


def test_the_cli_prints_the_filtered_and_join_lines(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "catalog.csv", [good_row("A1"), good_row("B2")], COLUMNS)
    (tmp_path / "extra.csv").write_text("id,gtin\nNOPE,4006381333931\n", encoding="utf-8")
    config = tmp_path / "feedsync.yaml"
    config.write_text(json.dumps({"supplemental": ["extra.csv"], "channels": {
        "google": {"exclude": "product.id == 'B2'"}}}), encoding="utf-8")
    code, out, err = run_cli("build", catalog, "--config", config, "--out", tmp_path / "out")
    assert code == ExitCode.OK, err
    assert "google: 1 products filtered out" in out
    assert "matched no product" in out


def test_the_library_writes_the_html_report(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "catalog.csv", [good_row("A1")], COLUMNS)
    report = build(catalog, ["google"], tmp_path / "out", parse_config(
        {"report": {"html": "r.html"}}, tmp_path / "feedsync.yaml"))
    assert report.html == str(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
