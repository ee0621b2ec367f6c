"""The merchandiser's controls: joins, category map, overrides, filters, reserve, targets."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsync import build
from feedsync.config import parse_config
from feedsync.errors import ConfigError

G = "{http://base.google.com/ns/1.0}"
HEADER = ["id", "title", "description", "link", "image_link", "price", "currency",
          "availability", "quantity", "brand", "gtin", "product_type", "condition"]


def _catalog(path: Path, rows: list[dict[str, str]], extra: Sequence[str] = ()) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER + list(extra))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" for k in HEADER + list(extra)} | row)
    return path


def _row(pid: str, **kw: str) -> dict[str, str]:
    base = {"id": pid, "title": f"Product {pid}", "description": "A thing.",
            "link": f"https://shop.example.com/{pid}",
            "image_link": f"https://cdn.example.com/{pid}.jpg",
            "price": "10.00", "currency": "USD", "availability": "in_stock", "quantity": "5",
            "brand": "Acme", "gtin": "4006381333931", "condition": "new"}
    return base | kw


def _items(path: Path) -> dict[str, dict[str, str]]:
    root = etree.parse(str(path)).getroot()
    return {i.findtext(f"{G}id"): {c.tag.replace(G, ""): c.text for c in i}
            for i in root.iter("item")}


def _run(tmp_path: Path, catalog: Path, raw: dict[str, Any], channels: Sequence[str] = ()) -> Any:
    config = parse_config(raw, tmp_path / "feedsync.yaml")
    return build(catalog, list(channels), tmp_path / "out", config)


def test_supplemental_join_overrides_and_counts_misses(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [_row("A", quantity="5"), _row("B"), _row("C", gtin="")])
    stock = tmp_path / "stock.csv"
    stock.write_text("id,quantity\nA,0\nB,7\nZ,3\n", encoding="utf-8")
    gtins = tmp_path / "gtin.csv"
    gtins.write_text("id,gtin\nC,4006381333931\nA,0000000000000\n", encoding="utf-8")
    report = _run(tmp_path, catalog, {
        "supplemental": [{"path": "stock.csv", "columns": ["quantity"]},
                         {"path": "gtin.csv", "mode": "fill"}],
        "channels": {"google": {}}})
    items = _items(tmp_path / "out" / "google.xml")
    assert items["C"]["gtin"] == "4006381333931"       # backfilled where empty
    assert items["A"]["gtin"] == "4006381333931"       # fill mode never overwrites
    joins = report.to_dict()["controls"]["supplemental"]
    assert joins[0] == {"path": str(stock), "rows": 3, "matched": 2, "missing": 1,
                        "orphans": 1, "problems": 0}
    assert joins[1]["matched"] == 2 and joins[1]["missing"] == 1


def test_stock_join_drives_availability_through_the_template(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [_row("A", availability="", quantity="3")])
    (tmp_path / "stock.csv").write_text("id,quantity\nA,0\n", encoding="utf-8")
    _run(tmp_path, catalog, {"supplemental": ["stock.csv"], "channels": ["google"]})
    assert _items(tmp_path / "out" / "google.xml")["A"]["availability"] == "out_of_stock"


def test_category_map_fills_and_counts_unmapped(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [
        _row("A", product_type="Mugs"), _row("B", product_type="Teapots"),
        _row("C", product_type="Unknown thing")])
    (tmp_path / "cats.csv").write_text("product_type,google_product_category\nMugs,2169\n"
                                       "Teapots,4490\n", encoding="utf-8")
    report = _run(tmp_path, catalog, {"category_map": "cats.csv", "channels": ["google"]})
    items = _items(tmp_path / "out" / "google.xml")
    assert items["A"]["google_product_category"] == "2169"
    assert "google_product_category" not in items["C"]
    summary = report.to_dict()["controls"]["category_map"]
    assert summary["mapped"] == 2 and summary["unmapped_products"] == 1
    assert summary["unmapped_values"] == {"Unknown thing": 1}


def test_config_override_and_override_column(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [
        _row("A", title="A very long title about a kettle"),
        _row("B", **{"title@google": "Column title for Google"})], extra=["title@google"])
    _run(tmp_path, catalog, {"channels": {"google": {
        "overrides": {"title": "product.title | truncate_words(12)"}}}})
    items = _items(tmp_path / "out" / "google.xml")
    assert items["A"]["title"] == "A very long"
    assert items["B"]["title"] == "Column title for Google"


def test_override_of_unknown_field_is_a_config_error(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [_row("A")])
    with pytest.raises(ConfigError) as caught:
        _run(tmp_path, catalog,
             {"channels": {"google": {"overrides": {"titel": "product.title"}}}})
    assert caught.value.key == "channels.google.overrides.titel"


def test_include_and_exclude_filters_are_counted_and_logged(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [_row("A", brand="Acme"), _row("B", brand="Internal"),
                                            _row("C", brand="Acme", product_type="Samples")])
    report = _run(tmp_path, catalog, {"channels": {"google": {
        "include": "product.brand != 'Internal'",
        "exclude": "product.product_type == 'Samples'"}}})
    channel = report.channels[0]
    assert (channel.written, channel.rejected, channel.filtered) == (1, 0, 2)
    log = [json.loads(line) for line in
           (tmp_path / "out" / "google.issues.jsonl").read_text().splitlines()]
    assert {(e["product_id"], e["code"]) for e in log} == {("B", "include-filter"),
                                                          ("C", "exclude-filter")}


def test_reserve_units_and_percent(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [_row("A", quantity="2", availability=""),
                                            _row("B", quantity="10", availability=""),
                                            _row("P", quantity="0", availability="preorder")])
    _run(tmp_path, catalog, {"channels": {
        "google": {"reserve": 2},
        "tiktok": {"reserve": "50%", "outputs": ["csv"]}}})
    items = _items(tmp_path / "out" / "google.xml")
    assert items["A"]["availability"] == "out_of_stock"   # 2 - 2 = 0: never sell the last units
    assert items["B"]["availability"] == "in_stock"
    with (tmp_path / "out" / "tiktok.csv").open(encoding="utf-8") as handle:
        rows = {r["sku_id"]: r for r in csv.DictReader(handle)}
    assert rows["B"]["availability"] == "in stock"


def test_target_currency_takes_its_column_and_never_converts(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", [
        _row("A", price="10.00", price_EUR="9.50"), _row("B", price="20.00")],
        extra=["price_EUR", "sale_price_EUR"])
    report = _run(tmp_path, catalog, {"channels": {
        "google": {"target": {"country": "US", "currency": "USD"}},
        "google-DE": {"template": "google", "target": {"country": "DE", "currency": "EUR"}}}})
    us = _items(tmp_path / "out" / "google.xml")
    de = _items(tmp_path / "out" / "google-DE.xml")
    assert us["A"]["price"] == "10.00 USD" and us["B"]["price"] == "20.00 USD"
    assert de["A"]["price"] == "9.50 EUR"
    assert "B" not in de
    de_report = next(c for c in report.channels if c.target == "google-DE")
    assert de_report.counts["no-price-in-target-currency"] == 1


def test_bad_reserve_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {"google": {"reserve": "lots"}}})
    assert caught.value.key == "channels.google.reserve"
