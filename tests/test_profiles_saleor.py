"""The Saleor profile: a Django fixture joined into variants; Editor.js descriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedsync import profiles
from feedsync.channels.filters import plain_text
from feedsync.model import Record, RowProblem
from feedsync.profiles.saleor import editorjs_html
from feedsync.sources import open_catalog
from tests.helpers import shared_dir


def obj(model: str, pk: int | str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "pk": pk, "fields": fields}


DESCRIPTION = {"time": 1, "version": "2.22.2", "blocks": [
    {"id": "a", "type": "header", "data": {"text": "Plimsolls", "level": 2}},
    {"id": "b", "type": "paragraph", "data": {"text": "Step <b>into</b> summer."}},
    {"id": "c", "type": "list", "data": {"style": "unordered",
                                         "items": ["Canvas", "Rubber sole"]}},
]}
FIXTURE = [
    obj("channel.channel", 2, name="PLN", slug="channel-pln", currency_code="PLN"),
    obj("channel.channel", 1, name="USD", slug="default-channel", currency_code="USD"),
    obj("product.category", 27, name="Apparel", parent=None),
    obj("product.category", 28, name="Sneakers", parent=27),
    obj("attribute.attribute", 37, slug="shoe-size", name="Shoe size"),
    obj("attribute.attribute", 44, slug="brand", name="Brand"),
    obj("attribute.attributevalue", 100, name="40", attribute=37),
    obj("attribute.attributevalue", 101, name="41", attribute=37),
    obj("attribute.attributevalue", 143, name="Saleor Loom", attribute=44),
    obj("product.product", 127, name="White Plimsolls", slug="white-plimsolls",
        description=DESCRIPTION, description_plaintext="Step into summer.", category=28),
    obj("product.product", 131, name="Grey Hoodie", slug="grey-hoodie", description=None,
        description_plaintext="Warm & grey", category=27),
    obj("product.product", 199, name="Ghost", slug="ghost", description=None,
        description_plaintext="", category=None),
    obj("product.productvariant", 326, sku="918223583", name="40", product=127,
        track_inventory=True, is_preorder=False, sort_order=1),
    obj("product.productvariant", 325, sku="918223582", name="", product=127,
        track_inventory=True, is_preorder=False, sort_order=0),
    obj("product.productvariant", 345, sku=None, name="UHJvZHVjdFZhcmlhbnQ6MzQ1",
        product=131, track_inventory=False, is_preorder=False, sort_order=0),
    obj("product.productchannellisting", 76, product=127, channel=1, is_published=True),
    obj("product.productchannellisting", 80, product=131, channel=1, is_published=False),
    obj("product.productvariantchannellisting", 226, variant=325, channel=2, currency="PLN",
        price_amount="240.000", discounted_price_amount="200.000"),
    obj("product.productvariantchannellisting", 227, variant=325, channel=1, currency="USD",
        price_amount="80.000", discounted_price_amount="72.000"),
    obj("product.productvariantchannellisting", 228, variant=326, channel=1, currency="USD",
        price_amount="80.000", discounted_price_amount="80.000"),
    obj("product.productvariantchannellisting", 229, variant=345, channel=1, currency="USD",
        price_amount="45.000", discounted_price_amount="45.000"),
    obj("product.productmedia", 292, product=127, sort_order=1, type="IMAGE",
        image="products/white-plimsolls-2.png"),
    obj("product.productmedia", 291, product=127, sort_order=0, type="IMAGE",
        image="products/white-plimsolls-1.png"),
    obj("warehouse.stock", 1, warehouse="w1", product_variant=325, quantity=500,
        quantity_allocated=20),
    obj("warehouse.stock", 2, warehouse="w2", product_variant=325, quantity=10,
        quantity_allocated=0),
    obj("attribute.assignedproductattributevalue", 1, value=143, product=127),
    obj("attribute.attributevariant", 14, attribute=37, product_type=18),
    obj("attribute.assignedvariantattribute", 50, variant=325, assignment=14),
    obj("attribute.assignedvariantattributevalue", 60, value=100, assignment=50),
    obj("attribute.assignedvariantattribute", 51, variant=326, assignment=14),
    obj("attribute.assignedvariantattributevalue", 61, value=101, assignment=51),
    obj("site.sitesettings", 1, header_text="Test Saleor"),
]


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def by_id(items: list[Record | RowProblem]) -> dict[str, dict[str, str]]:
    return {item.data["id"]: item.data for item in items if isinstance(item, Record)}


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    path = tmp_path / "populatedb_data.json"
    path.write_text(json.dumps(FIXTURE), encoding="utf-8")
    return path


def test_variants_are_joined_from_the_fixture(fixture_file: Path) -> None:
    items = run(fixture_file)
    out = by_id(items)
    assert list(out) == ["918223582", "918223583", "UHJvZHVjdFZhcmlhbnQ6MzQ1"]
    size40, size41, hoodie = out.values()
    assert size40["item_group_id"] == size41["item_group_id"] == "white-plimsolls"
    assert "item_group_id" not in hoodie
    assert (size40["title"], size40["slug"]) == ("White Plimsolls", "white-plimsolls")
    assert (size40["size"], size40["variant_title"]) == ("40", "40")
    assert size41["variant_title"] == "40"  # the variant's own name wins over its values
    assert "variant_title" not in hoodie  # its name is the bare global id
    assert size40["brand"] == "Saleor Loom"
    assert size40["product_type"] == "Apparel > Sneakers"
    assert size40["image_link"] == "products/white-plimsolls-1.png"
    assert size40["additional_image_link"] == "products/white-plimsolls-2.png"
    problems = [(i.code, i.product_id) for i in items if isinstance(i, RowProblem)]
    assert problems == [("profile-not-a-product", "ghost")]


def test_prices_per_channel_and_stock(fixture_file: Path) -> None:
    size40, size41, hoodie = by_id(run(fixture_file)).values()
    # The default (lowest pk) channel gives price and currency, whatever the file order.
    assert (size40["price"], size40["sale_price"], size40["currency"]) == (
        "80.000", "72.000", "USD")
    assert (size40["price_PLN"], size40["sale_price_PLN"]) == ("240.000", "200.000")
    assert "sale_price" not in size41  # discounted = price: no sale
    assert size40["quantity"] == "490"  # 500 - 20 allocated + 10
    assert size41["quantity"] == "0"  # tracked, and no stock anywhere
    assert hoodie["availability"] == "in stock" and "quantity" not in hoodie
    assert (size40["published"], hoodie["published"]) == ("true", "false")


def test_editorjs_to_html_and_text(fixture_file: Path) -> None:
    size40, _, hoodie = by_id(run(fixture_file)).values()
    assert size40["description"] == ("<h2>Plimsolls</h2>\n<p>Step <b>into</b> summer.</p>\n"
                                     "<ul><li>Canvas</li><li>Rubber sole</li></ul>")
    assert plain_text(size40["description"]) == "Plimsolls\nStep into summer.\nCanvas\nRubber sole"
    assert hoodie["description"] == "Warm &amp; grey"  # description_plaintext, as HTML
    assert plain_text(hoodie["description"]) == "Warm & grey"


def test_editorjs_blocks() -> None:
    assert editorjs_html(None) == "" and editorjs_html({"blocks": []}) == ""
    document = {"blocks": [
        {"type": "list", "data": {"style": "ordered", "items": [
            {"content": "one", "items": [{"content": "one.a", "items": []}]}]}},
        {"type": "quote", "data": {"text": "Quoted"}},
        {"type": "code", "data": {"code": "a < b"}},
        {"type": "table", "data": {"content": [["a", "b"]]}},
        {"type": "header", "data": {"text": "H", "level": 9}},
        {"type": "image", "data": {"file": {"url": "x.png"}}},
    ]}
    assert editorjs_html(document).split("\n") == [
        "<ol><li>one<ul><li>one.a</li></ul></li></ol>", "<blockquote>Quoted</blockquote>",
        "<pre>a &lt; b</pre>", "<table><tr><td>a</td><td>b</td></tr></table>", "<h2>H</h2>"]
    # Older Saleor versions keep the document as a JSON string.
    from feedsync.profiles.saleor import _subtree
    text = json.dumps({"blocks": [{"type": "paragraph", "data": {"text": "Hi"}}]})
    assert editorjs_html(_subtree({"description": text}, "description")) == "<p>Hi</p>"


def test_detected_and_disabled_by_none(fixture_file: Path) -> None:
    assert profiles.detect(["model", "pk", "fields.name"]) == "saleor"
    raw = run(fixture_file, "none")
    assert len(raw) == len(FIXTURE) and isinstance(raw[0], Record)
    assert raw[0].data["model"] == "channel.channel"


def test_real_fixture(shared_data: Path) -> None:
    items = run(shared_data / "saleor" / "populatedb_data.json")
    out = by_id(items)
    assert len(out) == 73 and not [i for i in items if isinstance(i, RowProblem)]
    headless = out["headless-omnichannel-mp3"]
    assert headless["description"] == "<p>Launch <b>new markets fast</b></p>"
    assert (headless["price"], headless["currency"], headless["price_PLN"]) == (
        "10.000", "USD", "40.000")
    # 17 variants have no SKU: their id is the global id their name also shows.
    opaque = [p for p in out if p.startswith("UHJvZHVjdFZhcmlhbnQ6")]
    assert len(opaque) == 17
