"""The Meta (Facebook / Instagram) catalog channel, channel_templates/meta/.

Builds the example catalog and real shop exports with the library, parses what was
written, and holds the channel to exactly the rejections its rules (and
../shared/specs/meta.md) call for: each rejected product for the codes expected, every
other product written.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from feedsync import build
from feedsync.config import parse_config
from feedsync.report import RunReport
from tests.helpers import (
    EXAMPLES,
    G,
    issues_by_product,
    issues_by_row,
    parse_feed,
    require_shared,
    write_csv,
)

REQUIRED_COLUMNS = ["id", "title", "description", "availability", "condition", "price", "link",
                    "image_link", "brand", "gtin", "mpn"]
META_AVAILABILITY = {"in stock", "out of stock", "preorder", "available for order",
                     "discontinued", "pending", "mark_as_sold"}


def _build(tmp_path: Path, catalog: Path, settings: dict[str, Any] | None = None,
           outputs: list[str] | None = None) -> RunReport:
    raw: dict[str, Any] = dict(settings or {})
    if outputs:
        raw["channels"] = {"meta": {"outputs": outputs}}
    report = build(catalog, ["meta"], tmp_path, parse_config(raw))
    channel = report.channels[0]
    assert channel.written + channel.rejected == report.products_read
    return report


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames is not None
        for column in REQUIRED_COLUMNS:
            assert column in reader.fieldnames, column
        return list(reader)


def _catalog_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


# --- the example catalog ---------------------------------------------------------------

# What the example catalog must lose in the Meta feed, and why. Everything else is kept.
EXPECTED_REJECTIONS = {
    "NO-PRICE-1": {"missing-required"},      # price is on Meta's own checklist
    "NO-IMAGE-1": {"missing-required"},      # image_link is on Meta's own checklist
    "BAD-AVAIL-1": {"not-in-enum"},          # "maybe" is not a ProductItem_availability
    "COMMA-PRICE-1": {"bad-money"},          # "1,99": Meta's template says "don't use a comma"
    "GIFT-CARD-50": {"missing-identifier"},  # none of brand, gtin, mpn ("include at least one")
    "BOWL-HANDMADE": {"missing-identifier"},
}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    out = tmp_path_factory.mktemp("meta")
    report = _build(out, EXAMPLES, {"defaults": {"currency": "USD"}}, outputs=["csv", "xml"])
    return out, report


def test_example_catalog_rejects_exactly_the_products_that_break_metas_rules(
        example_build: tuple[Path, RunReport]) -> None:
    out, report = example_build
    errors = issues_by_row(report, "error")
    by_id = {product_id: codes for (product_id, _line), codes in errors.items()
             if product_id != "MUG-350"}
    assert by_id == EXPECTED_REJECTIONS
    # The second MUG-350 row repeats an id: only that row is dropped.
    assert [codes for (pid, _), codes in errors.items() if pid == "MUG-350"] == [{"duplicate-id"}]
    assert report.channels[0].rejected == len(EXPECTED_REJECTIONS) + 1

    written = [row["id"] for row in _rows(out / "meta.csv")]
    expected = [pid for pid in dict.fromkeys(_catalog_ids(EXAMPLES))
                if pid not in EXPECTED_REJECTIONS]
    assert written == expected   # every product that satisfies the rules, in catalog order


def test_example_catalog_values_use_metas_spellings(example_build: tuple[Path, RunReport]) -> None:
    out, _ = example_build
    rows = {row["id"]: row for row in _rows(out / "meta.csv")}
    for row in rows.values():
        assert row["availability"] in META_AVAILABILITY, row
        assert row["condition"] in {"new", "refurbished", "used"}, row
        assert "<" not in row["description"] or "5 < 6" in row["description"]
        assert "&nbsp;" not in row["description"] and "&amp;" not in row["description"]
    assert rows["TS-100-NAVY-S"]["availability"] == "in stock"        # catalog: "in stock"
    assert rows["RJ-KIDS-104"]["availability"] == "in stock"          # catalog: "in_stock"
    assert rows["OUT-002"]["availability"] == "out of stock"          # from quantity 0
    assert rows["LAMP-ARC"]["availability"] == "available for order"  # catalog: backorder
    assert rows["KETTLE-1L"]["availability"] == "preorder"
    assert rows["TS-100-NAVY-S"]["price"] == "24.00 USD"
    assert rows["TS-100-NAVY-S"]["description"] == (
        "Soft organic cotton jersey, pre-shrunk.\n180 g/m²\nMachine wash 30 °C")
    # Meta writes the UTC offset with a colon, Google without.
    assert rows["RJ-KIDS-104"]["sale_price_effective_date"] == (
        "2026-11-20T00:00-08:00/2026-12-01T23:59-08:00")
    assert len(rows["PAN-28"]["additional_image_link"].split(",")) == 10
    assert rows["TEMPLATE-TEXT-1"]["title"] == "Mug {{ 7*7 }} edition"


def test_example_catalog_warnings_keep_the_product(example_build: tuple[Path, RunReport]) -> None:
    _, report = example_build
    warnings = issues_by_product(report, "warning")
    assert warnings == {"BAD-GTIN-1": {"bad-gtin"},          # GS1 check digit
                        "PAN-28": {"too-many-images"}}       # 12 extra images, 10 kept
    hints = issues_by_product(report, "hint")
    assert "commerce-identifiers" in hints["NO-IDS-1"]       # brand but no gtin/mpn


def test_xml_output_is_rss_with_the_g_namespace(example_build: tuple[Path, RunReport]) -> None:
    out, _ = example_build
    root = parse_feed(out / "meta.xml").getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("channel/item")
    csv_ids = [row["id"] for row in _rows(out / "meta.csv")]
    assert [item.findtext(G + "id") for item in items] == csv_ids
    for item in items:
        for field in ("title", "description", "availability", "price", "link", "image_link"):
            assert item.findtext(G + field), (item.findtext(G + "id"), field)
    pan = next(i for i in items if i.findtext(G + "id") == "PAN-28")
    assert len(pan.findall(G + "additional_image_link")) == 10


# --- rules on small catalogs -----------------------------------------------------------

def _row(product_id: str, **overrides: str) -> dict[str, str]:
    row = {"id": product_id, "title": f"Linen shirt {product_id}", "description": "A shirt.",
           "link": f"https://shop.example.com/p/{product_id}",
           "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "30.00",
           "currency": "EUR", "availability": "in stock", "condition": "new", "brand": "Acme",
           "mpn": f"M-{product_id}"}
    row.update(overrides)
    return row


def test_html_left_after_cleaning_and_bad_enums_are_rejected(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("OK-1"),
        # Double-escaped: after decoding once, "&nbsp;" is still an entity in the text.
        _row("HTML-1", description="Soft&amp;nbsp;linen"),
        _row("GENDER-1", gender="women"),
        _row("AGE-1", age_group="all ages"),           # Meta's own value, with a space
        _row("AGE-2", age_group="baby"),
        _row("COND-1", condition="as new"),
        _row("URL-1", link="shop.example.com/p/URL-1"),
        _row("GOOGLE-AVAIL-1", availability="out_of_stock"),   # Google's spelling: mapped
    ])
    report = _build(tmp_path, catalog)
    errors = {pid: codes for (pid, _), codes in issues_by_row(report, "error").items()}
    assert errors == {"HTML-1": {"html-in-description"}, "GENDER-1": {"not-in-enum"},
                      "AGE-2": {"not-in-enum"}, "COND-1": {"not-in-enum"},
                      "URL-1": {"bad-url"}}
    rows = {row["id"]: row for row in _rows(tmp_path / "meta.csv")}
    assert rows["AGE-1"]["age_group"] == "all ages"
    assert rows["GOOGLE-AVAIL-1"]["availability"] == "out of stock"


def test_variants_need_a_variant_field(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("V-1", item_group_id="G1", color="Red"),
        _row("V-2", item_group_id="G1", size="M"),
        _row("V-3", item_group_id="G1"),          # a variant that says nothing about itself
        _row("SOLO-1")
    ])
    report = _build(tmp_path, catalog)
    assert issues_by_row(report, "error") == {}
    assert issues_by_product(report, "warning") == {"V-3": {"variant-attribute-missing"}}


def test_shallow_text_category_is_a_warning(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("C-1", google_product_category="Apparel & Accessories"),
        _row("C-2", google_product_category="Apparel & Accessories > Clothing"),
        _row("C-3", google_product_category="212")
    ])
    report = _build(tmp_path, catalog)
    assert issues_by_product(report, "warning") == {"C-1": {"category-too-shallow"}}


# --- real exports ----------------------------------------------------------------------

def _real(name: str) -> Path:
    return require_shared() / "data" / name


def test_real_meta_catalog_export_is_accepted_whole(tmp_path: Path) -> None:
    # aqua-reve.com's own Meta feed: its descriptions hold &nbsp; and &amp; entities, which
    # Meta forbids; plain_text decodes them, so every product is written, as plain text.
    catalog = _real("meta-catalog-landingmaj/facebook-catalog.csv")
    report = _build(tmp_path, catalog)
    assert report.products_read == 36
    assert issues_by_row(report, "error") == {}
    rows = _rows(tmp_path / "meta.csv")
    assert [row["id"] for row in rows] == _catalog_ids(catalog)
    for row in rows:
        assert "&nbsp;" not in row["description"] and "&amp;" not in row["description"]
        assert row["availability"] in {"in stock", "out of stock"}
        assert row["price"].endswith(" EUR")
    # brand but no gtin/mpn anywhere in this shop: fine for ads, advice for Shops.
    assert {c.code for c in report.channels[0].codes.values()} == {"commerce-identifiers"}


@pytest.mark.parametrize("feed, products", [
    ("google-feed-pallmann-store/google-merchant-feed.xml", 305),
    ("google-feed-atomra-home-romania/google-merchant-feed.xml", 7),
])
def test_real_google_feeds_convert_to_meta_without_loss(
        tmp_path: Path, feed: str, products: int) -> None:
    # Both shops' Google feeds carry every field Meta requires, with valid values, so none
    # of their products may be lost. Google's "in_stock" must come out as Meta's "in stock".
    report = _build(tmp_path, _real(feed))
    assert report.products_read == products
    assert issues_by_row(report, "error") == {}
    assert report.channels[0].codes == {}     # brand + mpn on every product: no hint either
    rows = _rows(tmp_path / "meta.csv")
    assert len(rows) == products
    assert {row["availability"] for row in rows} <= {"in stock", "out of stock"}
