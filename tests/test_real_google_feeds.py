"""Two live merchants' Google feeds (../shared/data) read as catalogs and rebuilt.

A rebuilt feed must not invent problems: every product our rules reject is listed here
with the reason it is really wrong, and everything else goes through with its images,
shipping groups and prices intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsync.channels.filters import plain_text, single_line
from feedsync.errors import ExitCode
from tests.helpers import (
    G,
    feed_items,
    read_issues,
    report_accounts_for_all,
    require_shared,
    run_cli,
)

# id -> why our rules are right to reject it. Each was checked against the data by hand.
REJECTED: dict[str, dict[str, str]] = {
    "pallmann": {},
    "atomra": {},
}
FEEDS = {
    "pallmann": ("google-feed-pallmann-store/google-merchant-feed.xml", 305),
    "atomra": ("google-feed-atomra-home-romania/google-merchant-feed.xml", 7),
}


def _source_items(path: Path) -> dict[str, etree._Element]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    items = [e for e in root.iter() if isinstance(e.tag, str)
             and etree.QName(e).localname in ("entry", "item")]
    return {e.findtext(G + "id"): e for e in items}


def _text(element: etree._Element, name: str) -> str:
    """A field as the feed gives it: ``g:name``, else RSS's own ``name``."""
    value = element.findtext(G + name)
    if value is None:
        value = element.findtext(name)
    return value or ""


@pytest.fixture(scope="module", params=sorted(FEEDS))
def rebuilt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[str, dict[str, etree._Element], dict[str, etree._Element],
                       dict[str, Any], list[dict[str, Any]]]:
    name = request.param
    relative, count = FEEDS[name]
    source = require_shared() / "data" / relative
    out = tmp_path_factory.mktemp(f"real-{name}")
    code, stdout, stderr = run_cli("build", source, "--channel", "google", "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    report_accounts_for_all(report)
    assert report["catalog"]["format"] == "google-xml"
    assert report["catalog"]["read"] == count and report["catalog"]["skipped"] == 0
    source_items = _source_items(source)
    assert len(source_items) == count
    return (name, source_items, feed_items(out / "google.xml"), report,
            read_issues(out / "google.issues.jsonl"))


def test_no_false_errors(rebuilt: Any) -> None:
    name, source, items, report, issues = rebuilt
    rejected = {i["product_id"] for i in issues if i["severity"] == "error"}
    details = {pid: sorted({(i["code"], i["field"]) for i in issues
                            if i["product_id"] == pid and i["severity"] == "error"})
               for pid in rejected}
    assert rejected == set(REJECTED[name]), details
    assert set(items) == set(source) - rejected
    assert report["channels"]["google"]["rejected"] == len(rejected)


def test_text_prices_and_links_survive(rebuilt: Any) -> None:
    _, source, items, _, _ = rebuilt
    for product_id, item in items.items():
        original = source[product_id]
        assert item.findtext(G + "title") == single_line(plain_text(_text(original, "title")))
        assert item.findtext(G + "link") == _text(original, "link").strip()
        assert item.findtext(G + "image_link") == _text(original, "image_link").strip()
        amount, currency = _text(original, "price").split()
        assert item.findtext(G + "price") == f"{float(amount):.2f} {currency}"
        for field in ("brand", "mpn", "condition", "google_product_category"):
            assert (item.findtext(G + field) or "") == _text(original, field).strip(), field


def test_additional_images_survive(rebuilt: Any) -> None:
    _, source, items, _, _ = rebuilt
    total = 0
    for product_id, item in items.items():
        expected = [e.text for e in source[product_id].findall(G + "additional_image_link")]
        assert [e.text for e in item.findall(G + "additional_image_link")] == expected
        total += len(expected)
    if any(source[p].find(G + "additional_image_link") is not None for p in source):
        assert total > 0


def _shipping(element: etree._Element) -> list[dict[str, str]]:
    return [{etree.QName(child).localname: (child.text or "").strip() for child in group}
            for group in element.findall(G + "shipping")]


def test_shipping_sub_elements_survive(rebuilt: Any) -> None:
    _, source, items, _, _ = rebuilt
    for product_id, item in items.items():
        assert _shipping(item) == _shipping(source[product_id]), product_id


def test_availability_is_normalised(rebuilt: Any) -> None:
    name, source, items, _, _ = rebuilt
    spellings = {_text(source[p], "availability") for p in items}
    assert {item.findtext(G + "availability") for item in items.values()} <= {
        "in_stock", "out_of_stock", "preorder", "backorder"}
    if name == "atomra":
        assert spellings == {"in stock"}  # the space form, normalised below
        assert {item.findtext(G + "availability") for item in items.values()} == {"in_stock"}
