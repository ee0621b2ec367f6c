"""Fill counts per channel field (``evaluated`` and ``fill`` in the JSON report)."""

from __future__ import annotations

import csv
from pathlib import Path

from feedsync import build
from feedsync.config import parse_config
from feedsync.report import FieldFill
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
    counter = FieldFill(names)
    expected = dict.fromkeys(names, 0)
    total = FieldFill.FOLD_AT * 3
    for n in range(total):
        mask = n % (1 << len(names))
        for i, name in enumerate(names):
            expected[name] += bool(mask >> i & 1)
        counter.add(mask)
    assert counter.evaluated == total
    assert counter.counts() == expected


def test_fill_mask_reads_lists_and_empty_values() -> None:
    from feedsync.channels.loader import ChannelLibrary
    from feedsync.channels.program import CompiledChannel

    channel = CompiledChannel(ChannelLibrary().load("google"))
    item = dict.fromkeys((f.name for f in channel.fields), "")
    item["id"], item["additional_image_link"] = "A", ["https://x.example/1.jpg"]
    mask = channel.fill_mask(item)
    names = [f.name for f in channel.fields]
    assert {names[i] for i in range(len(names)) if mask >> i & 1} == {
        "id", "additional_image_link"}
    item["additional_image_link"] = []
    assert channel.fill_mask(item) == 1 << names.index("id")
