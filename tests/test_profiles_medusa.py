"""The Medusa profile: one row per variant, a price column per currency."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import feedsync
from feedsync import profiles
from feedsync.config import parse_config
from feedsync.model import Record, RowProblem
from feedsync.sources import open_catalog
from tests.helpers import shared_dir

HEADER = ["Product Id", "Product Handle", "Product Title", "Product Status",
          "Product Description", "Product Thumbnail", "Product Image 1", "Product Image 2",
          "Product Material", "Product Tag 1", "Product Tag 2", "Variant Id", "Variant Title",
          "Variant Sku", "Variant Ean", "Variant Manage Inventory",
          "Variant Option 1 Name", "Variant Option 1 Value", "Variant Option 2 Name",
          "Variant Option 2 Value", "Variant Price DKK", "Variant Price EUR",
          "Variant Price USD"]
PRODUCT = {"Product Id": "prod_01", "Product Handle": "tee", "Product Title": "Tee",
           "Product Status": "published", "Product Description": "<p>Soft</p>\nline 2",
           "Product Thumbnail": "https://cdn.example.com/t.jpg",
           "Product Image 1": "https://cdn.example.com/t.jpg",
           "Product Image 2": "https://cdn.example.com/t2.jpg", "Product Material": "Cotton",
           "Product Tag 1": "summer", "Product Tag 2": "sale",
           "Variant Manage Inventory": "false", "Variant Option 1 Name": "size",
           "Variant Option 2 Name": "color"}
ROWS = [
    {**PRODUCT, "Variant Id": "variant_01", "Variant Title": "L / green",
     "Variant Option 1 Value": "L", "Variant Option 2 Value": "green",
     "Variant Price EUR": "45", "Variant Price USD": "50", "Variant Ean": "4006381333931"},
    {**PRODUCT, "Variant Id": "variant_02", "Variant Sku": "TEE-S", "Variant Title": "",
     "Variant Option 1 Value": "S", "Variant Option 2 Value": "green",
     "Variant Price DKK": "300", "Variant Price EUR": "40", "Variant Manage Inventory": "true"},
    {"Product Id": "prod_02", "Product Handle": "cap", "Product Title": "Cap",
     "Product Status": "draft", "Variant Id": "variant_03", "Variant Price USD": "9"},
]


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def write(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def by_id(items: list[Record | RowProblem]) -> dict[str, dict[str, str]]:
    return {item.data["id"]: item.data for item in items if isinstance(item, Record)}


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_variants_group_and_options(tmp_path: Path, delimiter: str) -> None:
    out = by_id(run(write(tmp_path / "exported-products.csv", ROWS, delimiter)))
    assert list(out) == ["variant_01", "TEE-S", "variant_03"]  # SKU, else the variant id
    large, small, cap = out.values()
    assert large["item_group_id"] == small["item_group_id"] == "prod_01"
    assert "item_group_id" not in cap
    assert (large["title"], large["handle"], large["tags"]) == ("Tee", "tee", "summer, sale")
    assert large["description"] == "<p>Soft</p>\nline 2"
    assert (large["size"], large["color"], large["variant_title"]) == ("L", "green", "L / green")
    assert small["variant_title"] == "S / green"  # no variant title: the option values
    assert (large["material"], large["gtin"]) == ("Cotton", "4006381333931")
    assert large["image_link"] == "https://cdn.example.com/t.jpg"
    assert large["additional_image_link"] == "https://cdn.example.com/t2.jpg"
    assert large["availability"] == "in stock" and "availability" not in small
    assert (large["published"], cap["published"]) == ("true", "false")


def test_a_price_per_currency(tmp_path: Path) -> None:
    large, small, cap = by_id(run(write(tmp_path / "exported-products.csv", ROWS))).values()
    # The first currency with a price, in column order, is the product's price.
    assert (large["price"], large["currency"]) == ("45", "EUR")
    assert (large["price_EUR"], large["price_USD"]) == ("45", "50") and "price_DKK" not in large
    assert (small["price"], small["currency"]) == ("300", "DKK")
    assert (cap["price"], cap["currency"]) == ("9", "USD")


def test_a_target_currency_picks_its_price_column(tmp_path: Path) -> None:
    path = write(tmp_path / "exported-products.csv", ROWS[:2])
    config = parse_config({"channels": {"google": {
        "target": {"currency": "USD"},
        "overrides": {"link": "'https://shop.example.com/products/' ~ product.handle"}}}})
    report = feedsync.build(path, ["google"], tmp_path / "out", config)
    google = report.channels[0]
    assert (google.written, google.rejected) == (1, 1)
    errors = {key: c.count for key, c in google.codes.items() if c.severity == "error"}
    assert errors == {("no-price-in-target-currency", "price"): 1}  # the DKK/EUR-only one
    feed = (tmp_path / "out" / "google.xml").read_text(encoding="utf-8")
    assert "<g:price>50.00 USD</g:price>" in feed


def test_detected_from_the_header_and_disabled_by_none(tmp_path: Path) -> None:
    assert profiles.detect(HEADER) == "medusa"
    raw = run(write(tmp_path / "exported-products.csv", ROWS), "none")
    assert isinstance(raw[0], Record) and raw[0].data["Variant Id"] == "variant_01"


def test_real_exports_comma_and_semicolon_agree(shared_data: Path) -> None:
    comma = by_id(run(shared_data / "medusa" / "exported-products-comma.csv"))
    semicolon = by_id(run(shared_data / "medusa" / "exported-products-semicolon.csv"))
    assert comma == semicolon and len(comma) == 3
    first = comma["variant_01J44RRJZW1T9KQB6XG7Q6K61F"]
    assert (first["price"], first["currency"], first["price_USD"]) == ("30", "DKK", "100")
    assert first["item_group_id"] == "prod_01J44RRJZ3M5F63NY82434RNM5"
