"""The Microsoft Merchant Center channel, channel_templates/microsoft/: `extends: google`.

It proves a channel can reuse another: the feed must be Google's, field for field, but for
the differences Microsoft documents (description up to 10,000 characters on one line,
shipping required in Austria and Germany, a text file named .txt by default).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from feedsync import build
from feedsync.channels.filters import single_line
from feedsync.channels.loader import ChannelLibrary
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

REQUIRED = ["id", "title", "description", "link", "image_link", "price", "shipping"]


def _build(tmp_path: Path, catalog: Path, channel: str = "microsoft",
           settings: dict[str, Any] | None = None) -> RunReport:
    report = build(catalog, [channel], tmp_path, parse_config(dict(settings or {})))
    assert report.channels[0].written + report.channels[0].rejected == report.products_read
    return report


def _rows(path: Path) -> list[dict[str, str]]:
    table = read_tsv(path)
    header = table[0]
    for column in REQUIRED:
        assert column in header, column
    assert all(len(row) == len(header) for row in table[1:])
    return [dict(zip(header, row, strict=True)) for row in table[1:]]


def _catalog_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


def test_the_channel_is_google_plus_documented_differences() -> None:
    library = ChannelLibrary()
    google, microsoft = library.load("google"), library.load("microsoft")
    assert microsoft.name == "microsoft" and "microsoft" in microsoft.docs
    assert list(microsoft.fields) == list(google.fields)          # same columns, same order
    changed = {name for name in google.fields if microsoft.fields[name] != google.fields[name]}
    # 10,000-character one-line descriptions, GTINs joined by ", ", product_type read as
    # one value.
    assert changed == {"description", "gtin", "product_type"}
    assert [c.code for c in microsoft.checks] == [c.code for c in google.checks] + [
        "shipping-required", "product-type-single-value"]
    assert {o.file for o in microsoft.outputs.values()} == {"microsoft.txt", "microsoft.xml"}
    assert microsoft.default_outputs == ["tsv"]


# --- the example catalog ---------------------------------------------------------------

EXPECTED_REJECTIONS = {   # the same products Google rejects, for the same reasons
    "BAD-GTIN-1": {"bad-gtin"},
    "COMMA-PRICE-1": {"bad-money"},
    "NO-PRICE-1": {"missing-required"},
    "NO-IMAGE-1": {"missing-required"},
    "BAD-AVAIL-1": {"not-in-enum"},
    "LONG-TITLE-1": {"too-long"},     # 194 characters; Microsoft's limit is 150, as Google's
}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, RunReport]]:
    result = {}
    for name, outputs in (("microsoft", ["tsv", "xml"]), ("google", ["tsv"])):
        out = tmp_path_factory.mktemp(name)
        settings = {"defaults": {"currency": "USD"}, "channels": {name: {"outputs": outputs}}}
        result[name] = (out, _build(out, EXAMPLES, name, settings))
    return result


def test_example_catalog_rejects_what_google_rejects(
        builds: dict[str, tuple[Path, RunReport]]) -> None:
    out, report = builds["microsoft"]
    errors = issues_by_row(report, "error")
    assert {pid: codes for (pid, _), codes in errors.items() if pid != "MUG-350"} == (
        EXPECTED_REJECTIONS)
    assert [codes for (pid, _), codes in errors.items() if pid == "MUG-350"] == [{"duplicate-id"}]
    assert errors == issues_by_row(builds["google"][1], "error")
    written = [row["id"] for row in _rows(out / "microsoft.txt")]
    assert written == [pid for pid in dict.fromkeys(_catalog_ids(EXAMPLES))
                       if pid not in EXPECTED_REJECTIONS]


def test_example_feed_equals_googles_but_for_one_line_descriptions(
        builds: dict[str, tuple[Path, RunReport]]) -> None:
    microsoft = _rows(builds["microsoft"][0] / "microsoft.txt")
    google = _rows(builds["google"][0] / "google.tsv")
    assert len(microsoft) == len(google)
    for ours, theirs in zip(microsoft, google, strict=True):
        assert ours["description"] == single_line(theirs["description"])
        assert {k: v for k, v in ours.items() if k != "description"} == (
            {k: v for k, v in theirs.items() if k != "description"})
    # One item per physical line, as Microsoft's text format asks.
    text = (builds["microsoft"][0] / "microsoft.txt").read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(microsoft) + 1


def test_example_xml_output(builds: dict[str, tuple[Path, RunReport]]) -> None:
    out, _ = builds["microsoft"]
    items = parse_feed(out / "microsoft.xml").getroot().findall("channel/item")
    assert [i.findtext(G + "id") for i in items] == [r["id"] for r in _rows(out / "microsoft.txt")]


# --- the differences ---------------------------------------------------------------------

def _row(product_id: str, **overrides: str) -> dict[str, str]:
    row = {"id": product_id, "title": f"Oak side table {product_id}", "description": "Solid oak.",
           "link": f"https://shop.example.com/p/{product_id}",
           "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "120.00",
           "currency": "EUR", "availability": "in_stock", "condition": "new", "brand": "Acme",
           "mpn": f"M-{product_id}"}
    row.update(overrides)
    return row


def test_descriptions_up_to_10000_characters(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("D-6000", description="word " * 1200),      # 5,999 characters after trimming
        _row("D-10001", description="x" * 10001),
    ])
    microsoft = _build(tmp_path / "m", catalog)
    google = _build(tmp_path / "g", catalog, "google")
    errors = {pid: c for (pid, _), c in issues_by_row(microsoft, "error").items()}
    assert errors == {"D-10001": {"too-long"}}
    assert {pid: c for (pid, _), c in issues_by_row(google, "error").items()} == {
        "D-6000": {"too-long"}, "D-10001": {"too-long"}}


def test_shipping_is_required_for_austria_and_germany(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("SHIP-1", shipping="DE::Standard:4.90 EUR"),
        _row("NOSHIP-1"),
    ], columns=[*COLUMNS, "shipping"])
    for country, rejected in (("DE", {"NOSHIP-1"}), ("at", {"NOSHIP-1"}), ("FR", set()),
                              ("", set())):
        out = tmp_path / (country or "none")
        settings = {"channels": {"microsoft": {"target": {"country": country}}}}
        report = _build(out, catalog, settings=settings)
        errors = {pid: codes for (pid, _), codes in issues_by_row(report, "error").items()}
        assert errors == {pid: {"shipping-required"} for pid in rejected}, country


def test_comma_in_product_type_is_a_hint(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("PT-1", product_type="Furniture > Tables, Home > Living room")])
    report = _build(tmp_path, catalog)
    assert issues_by_product(report, "hint") == {"PT-1": {"product-type-single-value"}}
    assert report.channels[0].written == 1


# --- real exports ----------------------------------------------------------------------

def _real(name: str) -> Path:
    return require_shared() / "data" / name


@pytest.mark.parametrize("feed, products", [
    ("google-feed-pallmann-store/google-merchant-feed.xml", 305),
    ("google-feed-atomra-home-romania/google-merchant-feed.xml", 7),
    ("meta-catalog-landingmaj/facebook-catalog.csv", 36),
])
def test_real_exports_match_google(tmp_path: Path, feed: str, products: int) -> None:
    # Microsoft takes Google's feeds as they are, so every finding must be Google's. None of
    # the three shops breaks an error rule (prices with a currency, in-stock values, short
    # titles and descriptions, no shipping needed without an AT/DE target).
    microsoft = _build(tmp_path / "m", _real(feed))
    google = _build(tmp_path / "g", _real(feed), "google")
    assert microsoft.products_read == products
    assert issues_by_row(microsoft, "error") == issues_by_row(google, "error") == {}
    assert len(_rows(tmp_path / "m" / "microsoft.txt")) == products
    warnings = issues_by_product(microsoft, "warning")
    assert warnings == issues_by_product(google, "warning")
    if "pallmann" in feed:
        # 27 titles are written in capitals ("MAGIC OIL 2K CHANGE", "FINISH CARE 0,75L").
        assert warnings and set().union(*warnings.values()) == {"all-caps"}
        assert len(warnings) == 27
    elif "landingmaj" in feed:
        # A brand on every product but no gtin or mpn anywhere in this shop's feed.
        assert set().union(*warnings.values()) == {"missing-identifier"}
        assert len(warnings) == products
    else:
        assert warnings == {}   # Atomra sends identifier_exists=no with its mpn


# --- the text file, unquoted ------------------------------------------------------------

def test_values_are_written_unquoted_and_breaks_reported(tmp_path: Path) -> None:
    # Microsoft asks for values not enclosed in quotes (51084): a quote is written as it
    # is, and a tab or line break (which would end the cell or the row) becomes a space,
    # reported per product and field. Google's TSV quotes as before.
    catalog = write_csv(tmp_path / "c.csv", [
        _row("Q-1", title='Tom & Jerry "Deluxe" Mug', link="https://shop.example.com/p/q1\n"),
        _row("Q-2", google_product_category="Home & Garden >\tDecor\n"),
        _row("Q-3"),
    ], columns=COLUMNS)
    report = _build(tmp_path / "m", catalog)
    text = (tmp_path / "m" / "microsoft.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == 4 and '"' not in lines[0]
    cells = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    header = lines[0].split("\t")
    assert all(len(row) == len(header) for row in cells.values())
    q1 = dict(zip(header, cells["Q-1"], strict=True))
    assert q1["title"] == 'Tom & Jerry "Deluxe" Mug'          # no quoting, no doubling
    assert q1["link"] == "https://shop.example.com/p/q1"      # trailing break trimmed
    assert dict(zip(header, cells["Q-2"], strict=True))["google_product_category"] == (
        "Home & Garden > Decor")
    warnings = issues_by_row(report, "warning")
    assert {pid: codes for (pid, _), codes in warnings.items()} == {
        "Q-2": {"line-break-removed"}}
    google = _build(tmp_path / "g", catalog, "google",
                    {"channels": {"google": {"outputs": ["tsv"]}}})
    assert '"Tom & Jerry ""Deluxe"" Mug"' in (tmp_path / "g" / "google.tsv").read_text(
        encoding="utf-8")
    assert not issues_by_row(google, "warning")


def test_quoting_none_needs_a_tab_delimited_writer(tmp_path: Path) -> None:
    from feedsync.errors import TemplateError
    from feedsync.writers.base import Column, Layout
    from feedsync.writers.delimited import csv_writer

    with pytest.raises(TemplateError, match="tab-delimited"):
        csv_writer(Layout(columns=(Column("id", "id"),), options={"quoting": "none"}))
    with pytest.raises(TemplateError, match="minimal or none"):
        csv_writer(Layout(columns=(Column("id", "id"),), options={"quoting": "all"}))
