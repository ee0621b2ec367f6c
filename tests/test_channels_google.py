"""The Google channel's structured attributes as written, and the apparel country scope.

Built through the library's real ``build`` from CSV and Google XML files on disk; the
feeds are parsed with lxml. tests/test_channel_rules_google.py holds the pass/fail pair
of every rule; this file checks what reaches the feed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsync import build
from feedsync.config import parse_config
from feedsync.report import RunReport
from tests.helpers import G, feed_items, good_row, issues_by_product, read_tsv, write_csv

COLUMNS = ["id", "title", "description", "link", "image_link", "price", "currency",
           "availability", "brand", "gtin", "mpn", "condition", "shipping",
           "structured_title", "google_product_category", "color", "gender", "age_group",
           "size", "product_detail"]


def _build(tmp_path: Path, rows: list[dict[str, str]], country: str = "",
           outputs: tuple[str, ...] = ("xml", "tsv")) -> RunReport:
    catalog = write_csv(tmp_path / "catalog.csv", rows, columns=COLUMNS)
    settings: dict[str, Any] = {"outputs": list(outputs)}
    if country:
        settings["target"] = {"country": country}
    return build(catalog, ["google"], tmp_path / "out",
                 parse_config({"channels": {"google": settings}}))


def _children(element: etree._Element) -> dict[str, str]:
    return {etree.QName(child).localname: child.text or "" for child in element}


def test_shipping_with_handling_and_transit_times(tmp_path: Path) -> None:
    # Google's own text example, and a postal-code area, in one product.
    shipping = "US:CA:Overnight:16.00 USD:1:1:2:3,US:94043:Ground:6.49 USD"
    report = _build(tmp_path, [good_row("S-1", shipping=shipping)])
    assert report.channels[0].written == 1
    item = feed_items(tmp_path / "out" / "google.xml")["S-1"]
    groups = [_children(g) for g in item.findall(G + "shipping")]
    assert groups[0] == {"country": "US", "region": "CA", "service": "Overnight",
                         "price": "16.00 USD", "min_handling_time": "1",
                         "max_handling_time": "1", "min_transit_time": "2",
                         "max_transit_time": "3"}
    assert groups[1]["price"] == "6.49 USD" and "min_handling_time" not in groups[1]
    header, row = read_tsv(tmp_path / "out" / "google.tsv")[:2]
    assert dict(zip(header, row, strict=True))["shipping"] == shipping


def test_shipping_times_survive_a_google_xml_feed(tmp_path: Path) -> None:
    feed = tmp_path / "in.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">'
        "<channel><item><g:id>X-1</g:id><g:title>Desk lamp</g:title>"
        "<g:description>Lamp.</g:description><g:link>https://shop.example.com/x</g:link>"
        "<g:image_link>https://cdn.example.com/x.jpg</g:image_link>"
        "<g:price>20.00 USD</g:price><g:availability>in stock</g:availability>"
        "<g:brand>Acme</g:brand><g:mpn>X1</g:mpn>"
        "<g:shipping><g:country>US</g:country><g:region>MA</g:region>"
        "<g:service>Ground</g:service><g:price>6.49 USD</g:price>"
        "<g:min_handling_time>1</g:min_handling_time><g:max_handling_time>3</g:max_handling_time>"
        "<g:min_transit_time>3</g:min_transit_time><g:max_transit_time>7</g:max_transit_time>"
        "</g:shipping></item></channel></rss>", encoding="utf-8")
    report = build(feed, ["google"], tmp_path / "out")
    assert report.channels[0].written == 1
    item = feed_items(tmp_path / "out" / "google.xml")["X-1"]
    assert _children(item.find(G + "shipping")) == {
        "country": "US", "region": "MA", "service": "Ground", "price": "6.49 USD",
        "min_handling_time": "1", "max_handling_time": "3", "min_transit_time": "3",
        "max_transit_time": "7"}


def test_several_gtins_are_repeated_elements(tmp_path: Path) -> None:
    _build(tmp_path, [good_row("G-1", gtin="4006381333931, 0012-3456-7890-5")])
    item = feed_items(tmp_path / "out" / "google.xml")["G-1"]
    assert [g.text for g in item.findall(G + "gtin")] == ["4006381333931", "0012345678905"]
    header, row = read_tsv(tmp_path / "out" / "google.tsv")[:2]
    assert dict(zip(header, row, strict=True))["gtin"] == "4006381333931,0012345678905"


def test_structured_title_discloses_generated_text(tmp_path: Path) -> None:
    title = "trained_algorithmic_media:Stride & Conquer: Men's Blue Running Shoes"
    report = _build(tmp_path, [good_row("T-1", title="", structured_title=title)])
    assert report.channels[0].written == 1
    item = feed_items(tmp_path / "out" / "google.xml")["T-1"]
    assert item.find(G + "title") is None
    assert _children(item.find(G + "structured_title")) == {
        "digital_source_type": "trained_algorithmic_media",
        "content": "Stride & Conquer: Men's Blue Running Shoes"}


def test_product_detail_keeps_colons_in_its_value(tmp_path: Path) -> None:
    _build(tmp_path, [good_row("D-1", product_detail="Display:Ratio:16:9")])
    item = feed_items(tmp_path / "out" / "google.xml")["D-1"]
    assert _children(item.find(G + "product_detail")) == {
        "section_name": "Display", "attribute_name": "Ratio", "attribute_value": "16:9"}


APPAREL = {"color": "Navy", "gender": "male", "age_group": "adult", "size": "M"}


@pytest.mark.parametrize(("country", "rejected"), [
    ("US", True), ("gb", True), ("UK", True), ("FR", True), ("DE", True), ("JP", True),
    ("BR", True), ("CA", False), ("NL", False), ("", False)])
def test_apparel_rules_apply_in_the_listed_countries(tmp_path: Path, country: str,
                                                     rejected: bool) -> None:
    rows = [
        good_row("BY-ID", google_product_category="5598", **{**APPAREL, "color": ""}),
        good_row("BY-PATH", google_product_category="Apparel & Accessories > Shoes",
                 **{**APPAREL, "size": ""}),
        good_row("DEEP-ID", google_product_category="543646",  # ... > Hair Pins > Barrettes
                 **{**APPAREL, "gender": ""}),
        # age_group is optional for cufflinks, gender is not (answer/6324463, 6324479);
        # neither is needed for a watch band.
        good_row("CUFFLINKS", google_product_category="193",
                 **{**APPAREL, "age_group": "", "size": ""}),
        good_row("CUFFLINKS-NO-GENDER",
                 google_product_category="Apparel & Accessories > Clothing Accessories > "
                                         "Cufflinks", **{**APPAREL, "gender": "", "size": ""}),
        good_row("WATCH-BAND", google_product_category="5123",
                 **{**APPAREL, "age_group": "", "gender": "", "size": ""}),
        good_row("NOT-APPAREL", google_product_category="2169"),
        good_row("COMPLETE", google_product_category="212", **APPAREL),
    ]
    report = _build(tmp_path, rows, country, outputs=("xml",))
    errors = issues_by_product(report, "error")
    warnings = issues_by_product(report, "warning")
    if rejected:
        assert errors == {"BY-ID": {"apparel-color-missing"},
                          "BY-PATH": {"apparel-size-missing"},
                          "DEEP-ID": {"apparel-gender-missing"},
                          "CUFFLINKS-NO-GENDER": {"apparel-gender-missing"}}
    else:
        # Outside the six countries only free listings need them: a warning.
        assert errors == {}
        assert {p for p, codes in warnings.items() if "apparel-attributes-missing" in codes} == {
            "BY-ID", "DEEP-ID", "CUFFLINKS-NO-GENDER"}
    assert "NOT-APPAREL" not in errors and "COMPLETE" not in errors
