"""Fill counts per channel field (``evaluated`` and ``fill`` in the JSON report)."""

from __future__ import annotations

import csv
from pathlib import Path

from feedsync import build
from feedsync.config import parse_config
from feedsync.fill import MAX_PATTERNS, FillCounter, fill_key
from tests.helpers import COLUMNS


def _catalog(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return path


def _product(n: int, **values: str) -> dict[str, str]:
    base = {"id": f"P-{n}", "title": f"Mug {n}", "description": "A mug.",
            "link": f"https://shop.example.com/p/{n}",
            "image_link": f"https://cdn.example.com/{n}.jpg", "price": "9.50",
            "currency": "USD", "availability": "in_stock", "condition": "new"}
    base.update(values)
    return base


def test_fill_counts_mapped_items_written_or_rejected(tmp_path: Path) -> None:
    rows = [_product(1, brand="Nordwind", gtin="4006381333931"),
            _product(2, brand="Nordwind"),
            _product(3, price=""),               # rejected after mapping: still counted
            _product(2, brand="Copy"),           # duplicate id: rejected, never mapped
            _product(4, color="Red")]
    catalog = _catalog(tmp_path / "catalog.csv", rows)
    report = build(catalog, ["google"], tmp_path / "out",
                   parse_config({"jobs": 1})).to_dict()["channels"]["google"]
    assert (report["written"], report["rejected"]) == (3, 2)
    assert report["evaluated"] == 4
    fill = report["fill"]
    assert fill["id"] == 4 and fill["brand"] == 2 and fill["gtin"] == 1
    assert fill["color"] == 1 and fill["price"] == 3
    assert fill["mpn"] == 0  # every channel field is listed, zeros included


def test_filtered_products_are_not_evaluated(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "catalog.csv",
                       [_product(1, brand="Internal"), _product(2, brand="Nordwind")])
    config = parse_config({"jobs": 1, "channels": {
        "google": {"exclude": "product.brand == 'Internal'"}}})
    report = build(catalog, [], tmp_path / "out", config).to_dict()["channels"]["google"]
    assert report["filtered"] == 1
    assert report["evaluated"] == 1 and report["fill"]["brand"] == 1


def test_many_fill_patterns_fold_into_exact_totals() -> None:
    names = [f"f{i}" for i in range(16)]
    counter = FillCounter(names)
    expected = dict.fromkeys(names, 0)
    total = MAX_PATTERNS * 3
    for n in range(total):
        item = {name: ("x" if n >> i & 1 else "") for i, name in enumerate(names)}
        for name, value in item.items():
            expected[name] += bool(value)
        counter.add(fill_key(item, names))
    assert counter.evaluated == total
    assert counter.counts() == expected


def test_fill_key_reads_lists_and_missing_fields() -> None:
    assert fill_key({"a": ["x"], "b": [], "c": ""}, ["a", "b", "c", "d"]) == b"\x01\x00\x00\x00"
