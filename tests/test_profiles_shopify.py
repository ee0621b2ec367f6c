"""The Shopify profile: handles grouped into variants, image-only rows, compare-at prices."""

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

HEADER = ["Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags",
          "Published", "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value",
          "Option3 Name", "Option3 Value", "Variant SKU", "Variant Inventory Tracker",
          "Variant Inventory Qty", "Variant Inventory Policy", "Variant Price",
          "Variant Compare At Price", "Variant Barcode", "Image Src", "Image Position",
          "Google Shopping / Gender", "Google Shopping / MPN",
          "Google Shopping / Custom Product", "Variant Image", "Status"]


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def records(items: list[Record | RowProblem]) -> list[dict[str, str]]:
    return [item.data for item in items if isinstance(item, Record)]


SHIRT = [
    {"Handle": "tee", "Title": "Crew Tee", "Body (HTML)": "<p>Soft <b>cotton</b></p>",
     "Vendor": "Nordwind", "Type": "Shirts", "Published": "TRUE", "Option1 Name": "Colour",
     "Option1 Value": "Navy", "Option2 Name": "Size", "Option2 Value": "S",
     "Variant SKU": "TEE-N-S", "Variant Inventory Tracker": "shopify",
     "Variant Inventory Qty": "4", "Variant Inventory Policy": "deny", "Variant Price": "20",
     "Variant Compare At Price": "25", "Variant Barcode": "4006381333931",
     "Image Src": "https://cdn.example.com/tee-front.jpg", "Image Position": "1",
     "Google Shopping / Gender": "Men", "Google Shopping / MPN": "NW-1",
     "Variant Image": "https://cdn.example.com/tee-navy.jpg", "Status": "active"},
    # Option names are given on the first row only: later rows carry the values.
    {"Handle": "tee", "Option1 Value": "Navy", "Option2 Value": "M", "Variant SKU": "",
     "Variant Inventory Tracker": "shopify", "Variant Inventory Qty": "0",
     "Variant Inventory Policy": "continue", "Variant Price": "20",
     "Variant Compare At Price": "15", "Image Src": "https://cdn.example.com/tee-back.jpg",
     "Image Position": "3"},
    # An image-only row: a picture of the product, not a product.
    {"Handle": "tee", "Image Src": "https://cdn.example.com/tee-side.jpg",
     "Image Position": "2"},
    {"Handle": "cap", "Title": "Cap", "Body (HTML)": "A cap", "Vendor": "Nordwind",
     "Product Category": "Apparel & Accessories > Clothing Accessories > Hats",
     "Published": "FALSE", "Option1 Name": "Title", "Option1 Value": "Default Title",
     "Variant SKU": "CAP-1", "Variant Price": "9.5",
     "Google Shopping / Custom Product": "TRUE",
     "Image Src": "https://cdn.example.com/cap.jpg", "Image Position": "1",
     "Status": "draft"},
]


def test_variants_of_a_handle_become_products_with_a_group(tmp_path: Path) -> None:
    out = records(run(write(tmp_path / "products_export.csv", SHIRT)))
    assert [p["id"] for p in out] == ["TEE-N-S", "tee-2", "CAP-1"]
    navy_s, navy_m, cap = out
    assert navy_s["item_group_id"] == navy_m["item_group_id"] == "tee"
    assert "item_group_id" not in cap  # one variant: no group
    assert navy_s["title"] == navy_m["title"] == "Crew Tee"
    assert navy_m["description"] == "<p>Soft <b>cotton</b></p>"  # HTML kept, inherited
    assert navy_m["brand"] == "Nordwind" and navy_s["handle"] == "tee"
    assert (navy_s["color"], navy_s["size"], navy_s["variant_title"]) == ("Navy", "S", "Navy / S")
    assert (navy_m["color"], navy_m["size"]) == ("Navy", "M")
    assert navy_s["gender"] == "male"
    assert "color" not in cap and "variant_title" not in cap  # "Default Title" is no option


def test_image_only_rows_add_images_in_position_order(tmp_path: Path) -> None:
    navy_s, navy_m, cap = records(run(write(tmp_path / "products_export.csv", SHIRT)))
    assert navy_s["image_link"] == "https://cdn.example.com/tee-navy.jpg"  # Variant Image
    assert navy_s["additional_image_link"] == ",".join([
        "https://cdn.example.com/tee-front.jpg", "https://cdn.example.com/tee-side.jpg",
        "https://cdn.example.com/tee-back.jpg"])
    assert navy_m["image_link"] == "https://cdn.example.com/tee-front.jpg"  # first by position
    assert navy_m["additional_image_link"] == ("https://cdn.example.com/tee-side.jpg,"
                                              "https://cdn.example.com/tee-back.jpg")
    assert cap["image_link"] == "https://cdn.example.com/cap.jpg"
    assert "additional_image_link" not in cap


def test_compare_at_price_above_the_price_is_a_sale(tmp_path: Path) -> None:
    navy_s, navy_m, cap = records(run(write(tmp_path / "products_export.csv", SHIRT)))
    assert (navy_s["price"], navy_s["sale_price"]) == ("25", "20")
    # A compare-at price below the price is a data mistake, not a sale.
    assert navy_m["price"] == "20" and "sale_price" not in navy_m
    assert cap["price"] == "9.5"


def test_identifiers_stock_and_status(tmp_path: Path) -> None:
    navy_s, navy_m, cap = records(run(write(tmp_path / "products_export.csv", SHIRT)))
    assert (navy_s["gtin"], navy_s["mpn"]) == ("4006381333931", "NW-1")
    assert "mpn" not in navy_m  # an MPN names one variant: not copied to the others
    assert navy_s["quantity"] == "4" and "availability" not in navy_s
    assert navy_m["availability"] == "in stock"  # policy "continue": sold when sold out
    # No tracker: Shopify does not count the stock, the product is always for sale.
    assert cap["availability"] == "in stock" and "quantity" not in cap
    assert cap["identifier_exists"] == "no"  # custom product without barcode or MPN
    assert cap["product_type"] == "Apparel & Accessories > Clothing Accessories > Hats"
    assert navy_s["published"] == "true" and cap["published"] == "false"
    assert "link" not in navy_s  # Shopify exports have no URL


def test_a_handle_with_image_rows_only_is_reported(tmp_path: Path) -> None:
    rows = [*SHIRT, {"Handle": "ghost", "Image Src": "https://cdn.example.com/g.jpg",
                     "Image Position": "1"}]
    items = run(write(tmp_path / "products_export.csv", rows))
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert [(p.code, p.line) for p in problems] == [("profile-not-a-product", 6)]
    assert len(records(items)) == 3


def test_a_row_without_handle_is_reported(tmp_path: Path) -> None:
    rows = [SHIRT[0], {"Handle": "", "Title": "Orphan", "Variant SKU": "X",
                       "Variant Price": "1"}]
    items = run(write(tmp_path / "products_export.csv", rows))
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert [(p.code, p.line, p.product_id) for p in problems] == [
        ("profile-missing-key", 3, "X")]


def test_detected_from_the_header_and_disabled_by_none(tmp_path: Path) -> None:
    assert profiles.detect(HEADER) == "shopify"
    path = write(tmp_path / "products_export.csv", SHIRT)
    raw = records(run(path, "none"))
    assert len(raw) == 4 and raw[0]["Handle"] == "tee" and "id" not in raw[0]
    assert records(run(path, "shopify")) == records(run(path))


def test_the_documented_link_override_makes_the_feed_valid(tmp_path: Path) -> None:
    """docs/profiles.md: Shopify has no URL; an override builds it from the handle."""
    path = write(tmp_path / "products_export.csv", SHIRT[:3])
    config = parse_config({
        "defaults": {"currency": "USD"},
        "channels": {"google": {"overrides": {
            "link": "'https://shop.example.com/products/' ~ product.handle"}}}})
    report = feedsync.build(path, ["google"], tmp_path / "out", config)
    google = report.channels[0]
    assert (report.products_read, google.written, google.rejected) == (2, 2, 0)
    feed = (tmp_path / "out" / "google.xml").read_text(encoding="utf-8")
    assert "<g:link>https://shop.example.com/products/tee</g:link>" in feed
    assert "<g:item_group_id>tee</g:item_group_id>" in feed
    assert "<g:sale_price>20.00 USD</g:sale_price>" in feed


def test_real_export_with_image_rows(shared_data: Path) -> None:
    """jewelery.csv: 41 rows = 23 variants + 18 image-only rows."""
    items = run(shared_data / "shopify-partners" / "jewelery.csv")
    out = records(items)
    assert len(out) == 23 and len(items) == 23
    bracelet = [p for p in out if p.get("handle") == "chain-bracelet"]
    assert [(p["color"], p["price"], p["sale_price"]) for p in bracelet] == [
        ("Blue", "44.99", "42.99"), ("Black", "44.99", "42.99")]
    # The option is spelled "Colour" on this product: it is a colour all the same.
    assert [p["color"] for p in out if p["handle"] == "gemstone"] == ["Blue", "Purple"]
    earrings = next(p for p in out if p["handle"] == "boho-earrings")
    assert len(earrings["additional_image_link"].split(",")) == 2
