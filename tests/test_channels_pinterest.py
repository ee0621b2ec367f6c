"""The Pinterest catalog channel, channel_templates/pinterest/.

Builds the example catalog and real shop exports into all three outputs (TSV, CSV, RSS),
parses each, and holds the channel to exactly the rejections ../shared/specs/pinterest.md
calls for. Limits, value lists and severities come from Pinterest's OpenAPI: a check is an
error where its feed validation schema lists it among the errors ("those items will not
be published"), a warning where it lists it among the warnings.
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
    COLUMNS,
    EXAMPLES,
    G,
    issues_by_product,
    issues_by_row,
    parse_feed,
    read_tsv,
    require_shared,
    write_csv,
)

REQUIRED = ["id", "title", "description", "link", "image_link", "price", "availability"]


def _build(tmp_path: Path, catalog: Path, settings: dict[str, Any] | None = None,
           outputs: list[str] | None = None) -> RunReport:
    raw: dict[str, Any] = dict(settings or {})
    if outputs:
        raw["channels"] = {"pinterest": {"outputs": outputs}}
    report = build(catalog, ["pinterest"], tmp_path, parse_config(raw))
    channel = report.channels[0]
    assert channel.written + channel.rejected == report.products_read
    return report


def _tsv_rows(path: Path) -> list[dict[str, str]]:
    table = read_tsv(path)
    header = table[0]
    for column in REQUIRED:
        assert column in header, column
    assert all(len(row) == len(header) for row in table[1:])
    return [dict(zip(header, row, strict=True)) for row in table[1:]]


def _catalog_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


# --- the example catalog ---------------------------------------------------------------

EXPECTED_REJECTIONS = {
    "COMMA-PRICE-1": {"bad-money"},   # "1,99": a decimal comma is none of Pinterest's formats
    "BAD-AVAIL-1": {"not-in-enum"},   # "maybe"
    "LAMP-ARC": {"not-in-enum"},      # backorder: Pinterest has no such availability
    "NO-PRICE-1": {"missing-required"},   # PRICE_MISSING
    "NO-IMAGE-1": {"missing-required"},   # IMAGE_LINK_MISSING
}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    out = tmp_path_factory.mktemp("pinterest")
    report = _build(out, EXAMPLES, {"defaults": {"currency": "USD"}},
                    outputs=["tsv", "csv", "xml"])
    return out, report


def test_example_catalog_rejects_exactly_the_products_that_break_pinterests_rules(
        example_build: tuple[Path, RunReport]) -> None:
    out, report = example_build
    errors = issues_by_row(report, "error")
    assert {pid: codes for (pid, _), codes in errors.items() if pid != "MUG-350"} == (
        EXPECTED_REJECTIONS)
    assert [codes for (pid, _), codes in errors.items() if pid == "MUG-350"] == [{"duplicate-id"}]
    written = [row["id"] for row in _tsv_rows(out / "pinterest.tsv")]
    expected = [pid for pid in dict.fromkeys(_catalog_ids(EXAMPLES))
                if pid not in EXPECTED_REJECTIONS]
    assert written == expected


def test_example_catalog_warnings_keep_the_product(example_build: tuple[Path, RunReport]) -> None:
    _, report = example_build
    # Two shipping groups (US and CA) and no target country: Pinterest takes one group
    # (SHIPPING_INVALID is a warning); a target country picks one (test below).
    two_groups = {f"TS-100-{c}-{s}": {"too-many-shipping-groups"}
                  for c in ("NAVY", "HEAT") for s in "SML"}
    assert issues_by_product(report, "warning") == {
        **two_groups, "PAN-28": {"too-many-images"}, "BAD-GTIN-1": {"bad-gtin"}}
    # "1,99" now carries its currency ("1,99 USD"); Pinterest cannot read a decimal
    # comma, so it is an error (bad-money), not a currency warning.
    assert issues_by_product(report, "error")["COMMA-PRICE-1"] == {"bad-money"}


def test_three_outputs_hold_the_same_products(example_build: tuple[Path, RunReport]) -> None:
    out, _ = example_build
    tsv = _tsv_rows(out / "pinterest.tsv")
    with (out / "pinterest.csv").open(newline="", encoding="utf-8") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert csv_rows == tsv
    items = parse_feed(out / "pinterest.xml").getroot().findall("channel/item")
    assert [item.findtext(G + "id") for item in items] == [row["id"] for row in tsv]
    for row in tsv:
        assert "\n" not in row["description"]       # one physical line per TSV row
        assert row["availability"] in {"in stock", "out of stock", "preorder"}
    by_id = {row["id"]: row for row in tsv}
    assert by_id["RJ-KIDS-104"]["availability"] == "in stock"
    assert by_id["OUT-002"]["availability"] == "out of stock"
    assert by_id["RJ-KIDS-104"]["sale_price"] == "44.90 USD"
    assert by_id["TS-100-NAVY-S"]["shipping"] == "US::Standard:4.95 USD,CA::Standard:9.95 USD"
    navy = next(i for i in items if i.findtext(G + "id") == "TS-100-NAVY-S")
    shipping = navy.findall(G + "shipping")
    assert [s.findtext(G + "country") for s in shipping] == ["US", "CA"]
    assert [s.findtext(G + "price") for s in shipping] == ["4.95 USD", "9.95 USD"]


# --- rules on small catalogs -----------------------------------------------------------

def _row(product_id: str, **overrides: str) -> dict[str, str]:
    row = {"id": product_id, "title": f"Wool throw {product_id}", "description": "Warm.",
           "link": f"https://shop.example.com/p/{product_id}",
           "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "40.00",
           "currency": "USD", "availability": "in stock", "condition": "new"}
    row.update(overrides)
    return row


def test_openapi_limits_and_values_reject(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("OK-1"),
        _row("OK-2", product_type="Home & Garden > Decor", age_group="kids",
             sale_price="30.00", sale_price_effective_date="2026-11-01T00:00Z/2026-11-30T23:59Z"),
        _row("I" * 128),                                      # id longer than 127
        _row("LINK-1", link="https://shop.example.com/" + "p" * 500),   # LINK_LENGTH_TOO_LONG
        _row("NOLINK-1", link=""),                                     # PRODUCT_LINK_MISSING
        _row("NODESC-1", description=""),                              # DESCRIPTION_MISSING
        _row("CUR-1", price="12.50 ABC"),                              # PRODUCT_PRICE_INVALID
        # Warnings only: Pinterest publishes these items.
        _row("SALE-1", sale_price="40.00"),                  # SALES_PRICE_INVALID
        _row("TYPE-1", product_type="Home & Garden>Decor"),  # '>' without spaces
        _row("TITLE-1", title="x" * 501),                    # TITLE_LENGTH_TOO_LONG: truncated
        _row("AGE-1", age_group="teen"),                     # AGE_GROUP_INVALID
        _row("LABEL-1", custom_label_0="l" * 512),           # CUSTOM_LABEL_LENGTH_TOO_LONG
    ], columns=[*COLUMNS, "custom_label_0"])
    report = _build(tmp_path, catalog)
    assert issues_by_product(report, "error") == {
        "I" * 128: {"too-long"}, "LINK-1": {"too-long"}, "NOLINK-1": {"missing-required"},
        "NODESC-1": {"missing-required"}, "CUR-1": {"unknown-currency"}}
    assert issues_by_product(report, "warning") == {
        "SALE-1": {"sale-price-not-below-price"}, "TYPE-1": {"bad-category-separator"},
        "TITLE-1": {"too-long"}, "AGE-1": {"not-in-enum"}, "LABEL-1": {"too-long"}}
    assert [row["id"] for row in _tsv_rows(tmp_path / "pinterest.tsv")] == [
        "OK-1", "OK-2", "SALE-1", "TYPE-1", "TITLE-1", "AGE-1", "LABEL-1"]


def test_the_target_country_picks_the_one_shipping_group(tmp_path: Path) -> None:
    both = "US::Standard:4.95 USD,CA::Standard:9.95 USD"
    catalog = write_csv(tmp_path / "c.csv", [_row("SHIP-1", shipping=both),
                                             _row("SHIP-2", shipping="CA::Express:20 CAD")],
                        columns=[*COLUMNS, "shipping"])
    report = _build(tmp_path, catalog, {"channels": {"pinterest": {
        "target": {"country": "CA"}, "outputs": ["tsv", "xml"]}}})
    assert issues_by_product(report, "warning") == {}
    rows = {row["id"]: row for row in _tsv_rows(tmp_path / "pinterest.tsv")}
    assert rows["SHIP-1"]["shipping"] == "CA::Standard:9.95 USD"
    assert rows["SHIP-2"]["shipping"] == "CA::Express:20 CAD"
    items = parse_feed(tmp_path / "pinterest.xml").getroot().findall("channel/item")
    shipping = items[0].findall(G + "shipping")
    assert [(s.findtext(G + "country"), s.findtext(G + "price")) for s in shipping] == [
        ("CA", "9.95 USD")]


def test_missing_currency_and_commas_in_images_only_warn(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("NOCUR-1", currency=""),   # written as "40.00": Pinterest reads it as USD
        _row("COMMA-1", image_link="https://cdn.example.com/a,b.jpg"),
    ])
    report = _build(tmp_path, catalog)
    assert issues_by_product(report, "error") == {}
    assert issues_by_product(report, "warning") == {"NOCUR-1": {"price-without-currency"},
                                         "COMMA-1": {"comma-in-image-link"}}
    rows = {row["id"]: row for row in _tsv_rows(tmp_path / "pinterest.tsv")}
    assert rows["NOCUR-1"]["price"] == "40.00"


# --- real exports ----------------------------------------------------------------------

def _real(name: str) -> Path:
    return require_shared() / "data" / name


@pytest.mark.parametrize("feed, products", [
    ("google-feed-pallmann-store/google-merchant-feed.xml", 305),
    ("google-feed-atomra-home-romania/google-merchant-feed.xml", 7),
    ("meta-catalog-landingmaj/facebook-catalog.csv", 36),
])
def test_real_exports_lose_no_product(tmp_path: Path, feed: str, products: int) -> None:
    # All three shops send in-stock/out-of-stock availability, dotted prices with a
    # currency, short titles, and (Pallmann) shipping as FR::Standard:9.90 EUR: nothing in
    # them breaks a Pinterest rule, so nothing may be rejected.
    report = _build(tmp_path, _real(feed))
    assert report.products_read == products
    assert issues_by_row(report, "error") == {}
    rows = _tsv_rows(tmp_path / "pinterest.tsv")
    assert len(rows) == products
    for row in rows:
        assert all(row[field] for field in REQUIRED), row["id"]
    # Pallmann points 282 of its 305 products at images named "PALLMANN_dummy_…", one of
    # them (a colour-tester can) shared by 85 different colours: Pinterest refuses
    # placeholder and template images, so each is flagged, and only flagged, since a URL
    # cannot prove what the picture shows.
    dummies = {row["id"] for row in rows if "dummy" in row["image_link"].lower()}
    assert len(dummies) == (282 if "pallmann" in feed else 0)
    assert issues_by_product(report, "warning") == {pid: {"placeholder-image"} for pid in dummies}
