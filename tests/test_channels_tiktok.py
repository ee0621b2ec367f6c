"""The TikTok catalog channel, channel_templates/tiktok/.

Builds the example catalog and real shop exports with the library, parses the CSV, and
holds the channel to exactly the rejections ../shared/specs/tiktok.md calls for. TikTok
publishes few numbers, so many findings are warnings: those products must stay in the feed.
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
    issues_by_product,
    issues_by_row,
    require_shared,
    write_csv,
)

# The 9 required fields, in TikTok's order, then the optional ones.
REQUIRED = ["sku_id", "title", "description", "availability", "condition", "price", "link",
            "image_link", "brand"]
TIKTOK_AVAILABILITY = {"in stock", "available for order", "preorder", "out of stock",
                       "discontinued"}


def _build(tmp_path: Path, catalog: Path, settings: dict[str, Any] | None = None) -> RunReport:
    report = build(catalog, ["tiktok"], tmp_path, parse_config(dict(settings or {})))
    channel = report.channels[0]
    assert channel.written + channel.rejected == report.products_read
    return report


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames is not None
        assert reader.fieldnames[:9] == REQUIRED
        return list(reader)


def _catalog_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


# --- the example catalog ---------------------------------------------------------------

# TikTok: "You will receive an error message if any of the required fields are missing".
EXPECTED_REJECTIONS = {
    "NO-PRICE-1": {"missing-required"},      # price
    "NO-IMAGE-1": {"missing-required"},      # image_link
    "GIFT-CARD-50": {"missing-required"},    # brand
    "BOWL-HANDMADE": {"missing-required"},   # brand
    "COMMA-PRICE-1": {"bad-money"},          # "1,99" is no amount: the price is missing
    "CAPS-1": {"promotional-text"},          # "FREE SHIPPING": TikTok's own example phrase
    "BAD-AVAIL-1": {"not-in-enum"},          # "maybe" is not a TikTok availability
}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    out = tmp_path_factory.mktemp("tiktok")
    return out, _build(out, EXAMPLES, {"defaults": {"currency": "USD"}})


def test_example_catalog_rejects_exactly_the_products_that_break_tiktoks_rules(
        example_build: tuple[Path, RunReport]) -> None:
    out, report = example_build
    errors = issues_by_row(report, "error")
    assert {pid: codes for (pid, _), codes in errors.items() if pid != "MUG-350"} == (
        EXPECTED_REJECTIONS)
    assert [codes for (pid, _), codes in errors.items() if pid == "MUG-350"] == [{"duplicate-id"}]
    written = [row["sku_id"] for row in _rows(out / "tiktok.csv")]
    expected = [pid for pid in dict.fromkeys(_catalog_ids(EXAMPLES))
                if pid not in EXPECTED_REJECTIONS]
    assert written == expected


def test_example_catalog_warnings_keep_the_product(example_build: tuple[Path, RunReport]) -> None:
    _, report = example_build
    # Numbers TikTok does not publish itself stay warnings.
    assert issues_by_product(report, "warning") == {"BAD-GTIN-1": {"bad-gtin"},
                                                    "PAN-28": {"too-many-images"}}


def test_example_catalog_values(example_build: tuple[Path, RunReport]) -> None:
    out, _ = example_build
    rows = {row["sku_id"]: row for row in _rows(out / "tiktok.csv")}
    for row in rows.values():
        assert row["availability"] in TIKTOK_AVAILABILITY, row
        assert row["condition"] in {"new", "refurbished", "used"}, row
        assert "<" not in row["description"] or "5 < 6" in row["description"]
    assert rows["RJ-KIDS-104"]["availability"] == "in stock"
    assert rows["LAMP-ARC"]["availability"] == "available for order"
    assert rows["OUT-002"]["availability"] == "out of stock"
    assert rows["MUG-350"]["price"] == "12.50 USD"
    assert rows["MUG-350"]["title"] == 'Tom & Jerry "Deluxe" Mug – 350 ml'
    assert rows["TEMPLATE-TEXT-1"]["title"] == "Mug {{ 7*7 }} edition"


# --- rules on small catalogs -----------------------------------------------------------

def _row(product_id: str, **overrides: str) -> dict[str, str]:
    row = {"id": product_id, "title": f"Canvas tote {product_id}", "description": "A bag.",
           "link": f"https://shop.example.com/p/{product_id}",
           "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "15",
           "currency": "GBP", "availability": "in_stock", "condition": "new", "brand": "Acme"}
    row.update(overrides)
    return row


def test_emoji_invisible_characters_and_missing_fields_are_rejected(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("OK-1"),
        _row("OK-2", title="Café crème tote – 40 × 30 cm"),   # accents and × are fine
        _row("EMOJI-1", title="Canvas tote 🎁"),
        _row("EMOJI-2", title="Sunny tote ☀️"),
        _row("ZWSP\u200b1"),                                   # zero-width space in the id
        _row("NODESC-1", description=""),
        _row("NOCOND-1", condition=""),
        _row("COND-1", condition="like new"),
        _row("DISC-1", availability="discontinued"),          # a TikTok value: kept
    ])
    report = _build(tmp_path, catalog)
    assert issues_by_product(report, "error") == {
        "EMOJI-1": {"emoji-in-title"}, "EMOJI-2": {"emoji-in-title"},
        "ZWSP\u200b1": {"format-char"}, "NODESC-1": {"missing-required"},
        "NOCOND-1": {"missing-required"}, "COND-1": {"not-in-enum"}}
    rows = {row["sku_id"]: row for row in _rows(tmp_path / "tiktok.csv")}
    assert set(rows) == {"OK-1", "OK-2", "DISC-1"}
    assert rows["OK-1"]["price"] == "15.00 GBP"
    assert rows["DISC-1"]["availability"] == "discontinued"


# --- real exports ----------------------------------------------------------------------

def _real(name: str) -> Path:
    return require_shared() / "data" / name


@pytest.mark.parametrize("feed, products", [
    ("google-feed-pallmann-store/google-merchant-feed.xml", 305),
    ("google-feed-atomra-home-romania/google-merchant-feed.xml", 7),
    ("meta-catalog-landingmaj/facebook-catalog.csv", 36),
])
def test_real_exports_lose_no_product(tmp_path: Path, feed: str, products: int) -> None:
    # All three shops send the nine fields with values TikTok accepts (Meta-style or
    # Google-style availability, both mapped), so nothing may be rejected. Emoji appear
    # in these shops' descriptions only, where TikTok does not forbid them.
    report = _build(tmp_path, _real(feed))
    assert report.products_read == products
    assert issues_by_row(report, "error") == {}
    assert issues_by_row(report, "warning") == {}   # and nothing to warn about either
    rows = _rows(tmp_path / "tiktok.csv")
    assert len(rows) == products
    for row in rows:
        assert row["availability"] in TIKTOK_AVAILABILITY
        assert all(row[field] for field in REQUIRED), row["sku_id"]
