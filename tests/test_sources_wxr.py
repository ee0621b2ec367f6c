"""WooCommerce WordPress exports (WXR) as catalogs: detection, mapping, safety, memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import feedsync
from feedsync.config import parse_config
from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog, wxr_source
from tests.helpers import parse_feed, run_cli

DATA = Path("/work/shared/data")
SAMPLE = DATA / "woocommerce" / "sample_products.xml"
CANARY = "CANARY-wxr-5b1d-secret-file-content"
WP = "http://wordpress.org/export/1.2/"
needs_data = pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared/data is not available")
UPLOADS = "https://shop.example/wp-content/uploads"


def wxr(items: str, prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}'
            f'<rss version="2.0" xmlns:excerpt="{WP}excerpt/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:wp="{WP}">\n<channel>\n<title>Shop</title>\n{items}</channel>\n</rss>\n')


def item(post_id: int, post_type: str = "product", *, title: str = "", parent: int = 0,
         kind: str = "", meta: dict[str, str] | None = None, cats: str = "",
         status: str = "publish", content: str = "", url: str = "") -> str:
    metas = "".join(f"<wp:postmeta><wp:meta_key>{k}</wp:meta_key>"
                    f"<wp:meta_value><![CDATA[{v}]]></wp:meta_value></wp:postmeta>\n"
                    for k, v in (meta or {}).items())
    kind_cat = f'<category domain="product_type" nicename="{kind}">{kind}</category>' if kind \
        else ""
    attachment = f"<wp:attachment_url>{url}</wp:attachment_url>" if url else ""
    return (f"<item>\n<title>{title or f'Post {post_id}'}</title>\n"
            f"<link>https://shop.example/?p={post_id}</link>\n"
            f"<content:encoded><![CDATA[{content}]]></content:encoded>\n"
            f"<excerpt:encoded><![CDATA[]]></excerpt:encoded>\n"
            f"<wp:post_id>{post_id}</wp:post_id><wp:status>{status}</wp:status>"
            f"<wp:post_parent>{parent}</wp:post_parent><wp:post_type>{post_type}</wp:post_type>"
            f"{attachment}{kind_cat}{cats}\n{metas}</item>\n")


def write(tmp_path: Path, text: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_all(path: Path, **options: Any) -> list[Record | RowProblem]:
    return list(open_catalog(path, SourceOptions(**options)).records())


def records(path: Path) -> dict[str, Record]:
    found = [i for i in read_all(path) if isinstance(i, Record)]
    by_id = {r.data["id"]: r for r in found}
    assert len(by_id) == len(found), "ids are unique"
    return by_id


# --- the real export -------------------------------------------------------------------

@needs_data
def test_the_sample_export_counts() -> None:
    # 47 items: 18 products (14 simple, 2 variable, 1 grouped, 1 external), 7 variations,
    # 22 attachments. Listed: 14 simple + 1 external + 7 variations; the grouped product is
    # reported; both variable parents have variations, so they are silently parents.
    source = open_catalog(SAMPLE)
    assert source.format == "wxr"
    items = list(source.records())
    found = [i for i in items if isinstance(i, Record)]
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert len(found) == 22
    assert [(p.code, p.line, p.product_id) for p in problems] == [
        ("profile-not-a-product", 3749, "logo-collection")]
    assert sum("item_group_id" in r.data for r in found) == 7
    assert source.bytes_read() == source.bytes_total


@needs_data
def test_the_sample_export_mapping() -> None:
    by_id = records(SAMPLE)
    beanie = by_id["woo-beanie"]
    assert beanie.line == 716
    assert beanie.data == {
        "id": "woo-beanie", "wc_id": "10", "title": "Beanie",
        "description": beanie.data["description"],
        "link": "https://woocommercecore.mystagingwebsite.com/product/beanie/",
        "price": "20", "sale_price": "18", "availability": "in_stock", "weight": "0.2",
        "published": "true", "product_type": "Accessories", "categories": "Accessories",
        "image_link": "https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/"
                      "12/beanie-2.jpg",
        "color": "Red",
    }
    assert beanie.data["description"].startswith("Pellentesque habitant")
    # A variation: the parent's SKU groups it; the parent's title, description, category;
    # its own image (an attachment listed ~1,900 lines later) and the parent's as extras.
    red = by_id["woo-hoodie-red"].data
    assert red["item_group_id"] == "woo-hoodie"
    assert (red["title"], red["product_type"]) == ("Hoodie", "Hoodies")
    assert red["description"].startswith("Pellentesque habitant")
    assert (red["price"], red["sale_price"]) == ("45", "42")
    assert (red["color"], red["variant_title"]) == ("Red", "Red / No")
    assert red["image_link"].endswith("/hoodie-2.jpg")
    assert red["additional_image_link"].split(",") == [
        f"https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/12/{name}"
        for name in ("hoodie-blue-1.jpg", "hoodie-green-1.jpg", "hoodie-with-logo-2.jpg")]
    assert by_id["woo-hoodie-blue-logo"].data["variant_title"] == "Blue / Yes"
    # An external product links to the shop that sells it.
    assert by_id["wp-pennant"].data["link"] == \
        "https://mercantile.wordpress.org/product/wordpress-pennant/"
    # Simple products carry no variant_title and no item_group_id.
    assert "variant_title" not in by_id["woo-tshirt"].data
    assert "item_group_id" not in by_id["woo-tshirt"].data


@needs_data
def test_the_sample_export_builds_into_google(tmp_path: Path) -> None:
    config = parse_config({"defaults": {"currency": "USD"}})
    report = feedsync.build(SAMPLE, ["google"], tmp_path / "out", config)
    assert report.catalog_format == "wxr"
    assert report.products_read == 22
    assert dict(report.problems) == {"profile-not-a-product": 1}
    (google,) = report.channels
    assert (google.written, google.rejected) == (22, 0)
    feed = parse_feed(next((tmp_path / "out").glob("*.xml")))
    g = "{http://base.google.com/ns/1.0}"
    prices = {i.findtext(f"{g}id"): (i.findtext(f"{g}price"), i.findtext(f"{g}sale_price"))
              for i in feed.iter("item")}
    assert prices["woo-belt"] == ("65.00 USD", "55.00 USD")


@needs_data
def test_the_cli_builds_the_sample_export(tmp_path: Path) -> None:
    code, _, stderr = run_cli("build", SAMPLE, "--channel", "google", "--out", tmp_path)
    assert code == 0, stderr


# --- mapping rules on small exports ------------------------------------------------------

def test_variations_before_their_parent_and_attachments_at_the_end(tmp_path: Path) -> None:
    text = wxr(
        item(11, "product_variation", title="Tee - Blue", parent=10,
             meta={"_sku": "TEE-B", "_regular_price": "10", "_stock_status": "outofstock",
                   "_stock": "0", "_thumbnail_id": "31", "attribute_pa_color": "blue",
                   "attribute_pa_size": ""})
        + item(10, title="Tee", kind="variable", content="<p>Soft</p>",
               cats='<category domain="product_cat" nicename="tees">Tees</category>'
                    '<category domain="pa_color" nicename="blue">Navy Blue</category>',
               meta={"_sku": "TEE", "_thumbnail_id": "30", "_product_image_gallery": "31,32"})
        + item(30, "attachment", url=f"{UPLOADS}/tee.jpg")
        + item(31, "attachment", url=f"{UPLOADS}/tee-blue.jpg")
        + item(32, "attachment", url=f"{UPLOADS}/tee-back.jpg"))
    (variation,) = read_all(write(tmp_path, text))
    assert isinstance(variation, Record)
    assert variation.data == {
        "id": "TEE-B", "wc_id": "11", "item_group_id": "TEE", "title": "Tee",
        "description": "<p>Soft</p>", "link": "https://shop.example/?p=11",
        "price": "10", "quantity": "0", "availability": "out_of_stock", "published": "true",
        "product_type": "Tees", "categories": "Tees",
        "image_link": f"{UPLOADS}/tee-blue.jpg",
        "additional_image_link": f"{UPLOADS}/tee.jpg,{UPLOADS}/tee-back.jpg",
        "color": "Navy Blue", "variant_title": "Navy Blue",
    }


def test_not_products_are_reported_and_other_posts_skipped(tmp_path: Path) -> None:
    text = wxr(
        item(1, title="Lonely parent", kind="variable", meta={"_sku": "LONE"})
        + item(2, title="Set", kind="grouped", meta={"_sku": "SET"})
        + item(3, "page", title="About us")
        + item(4, title="Plain", meta={"_regular_price": "5"}))
    items = read_all(write(tmp_path, text))
    assert [(type(i).__name__, getattr(i, "product_id", None)) for i in items] == [
        ("RowProblem", "LONE"), ("RowProblem", "SET"), ("Record", None)]
    assert {i.code for i in items if isinstance(i, RowProblem)} == {"profile-not-a-product"}
    plain = items[2]
    assert isinstance(plain, Record)
    assert plain.data["id"] == "4"  # no SKU: the post id
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line == "<item>"]
    assert plain.line == starts[3]


@pytest.mark.parametrize(("status", "availability"), [
    ("instock", "in_stock"), ("outofstock", "out_of_stock"), ("onbackorder", "backorder"),
    ("", None)])
def test_stock_status(tmp_path: Path, status: str, availability: str | None) -> None:
    text = wxr(item(1, meta={"_sku": "A", "_regular_price": "5", "_stock_status": status}))
    (record,) = read_all(write(tmp_path, text))
    assert isinstance(record, Record)
    assert record.data.get("availability") == availability


def test_prices_follow_google(tmp_path: Path) -> None:
    text = wxr(
        item(1, meta={"_sku": "SALE", "_regular_price": "20", "_sale_price": "15",
                      "_price": "15", "_sale_price_dates_from": "1714521600",
                      "_sale_price_dates_to": "1717199999"})
        + item(2, meta={"_sku": "ODD", "_regular_price": "10", "_sale_price": "12"})
        + item(3, meta={"_sku": "ONLY", "_price": "7.5"})
        + item(4, status="draft", meta={"_sku": "DRAFT", "_regular_price": "1"}))
    by_id = records(write(tmp_path, text))
    sale = by_id["SALE"].data
    assert (sale["price"], sale["sale_price"]) == ("20", "15")
    assert sale["sale_price_effective_date"] == "2024-05-01T00:00/2024-05-31T23:59"
    assert (by_id["ODD"].data["price"], by_id["ODD"].data.get("sale_price")) == ("12", None)
    assert by_id["ONLY"].data["price"] == "7.5"
    assert by_id["DRAFT"].data["published"] == "false"


# --- detection ---------------------------------------------------------------------------

def test_sniffed_from_the_wp_namespace_whatever_the_extension(tmp_path: Path) -> None:
    text = wxr(item(1, meta={"_sku": "A", "_regular_price": "5"}))
    for name in ("export.xml", "export.rss", "export.txt", "export"):
        assert open_catalog(write(tmp_path, text, name)).format == "wxr"
    plain_rss = '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel/></rss>'
    assert open_catalog(write(tmp_path, plain_rss, "feed.xml")).format == "google-xml"


def test_forcing_wxr_on_other_xml_is_refused_with_a_tip(tmp_path: Path) -> None:
    path = write(tmp_path, '<rss version="2.0"><channel><item/></channel></rss>')
    with pytest.raises(CatalogError) as err:
        read_all(path, format="wxr")
    assert "not a WordPress export" in err.value.message
    assert err.value.file == str(path) and err.value.line == 1 and err.value.tip


# --- malformed and hostile input -----------------------------------------------------------

def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    good = item(1, meta={"_sku": "A", "_regular_price": "5"})
    text = wxr(good + "<item><title>broken</item>\n")
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        read_all(path)
    assert err.value.file == str(path)
    assert err.value.line == text.splitlines().index("<item><title>broken</item>") + 1
    assert "malformed XML" in err.value.message


def test_truncated_export_is_fatal(tmp_path: Path) -> None:
    text = wxr(item(1, meta={"_sku": "A", "_regular_price": "5"}))
    path = write(tmp_path, text[: text.index("</channel>")])
    with pytest.raises(CatalogError) as err:
        read_all(path)
    assert err.value.file == str(path) and err.value.line


@pytest.mark.parametrize("padding", ["", "<!-- " + "p" * 70_000 + " -->\n"],
                         ids=["in-the-head", "past-64-KiB"])
def test_external_entity_is_refused_and_the_canary_never_appears(
    tmp_path: Path, padding: str
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    doctype = f'{padding}<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{canary.as_uri()}">]>\n'
    path = write(tmp_path, wxr(item(1, title="&xxe;", meta={"_sku": "&xxe;"}), doctype))
    if not padding:
        assert open_catalog(path).format == "wxr"  # the sniffer skips the DOCTYPE
    seen: list[Any] = []
    with pytest.raises(CatalogError) as err:
        for found in open_catalog(path, SourceOptions(format="wxr")).records():
            seen.append(found)
    assert seen == []
    assert "DTDs/entities not allowed" in err.value.message
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.to_dict())


def test_entity_bomb_is_refused(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    path = write(tmp_path, wxr(item(1, title="&l9;"),
                               f'<!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>\n'))
    with pytest.raises(CatalogError) as err:
        read_all(path)
    assert "DTDs/entities not allowed" in err.value.message


def test_php_serialized_meta_is_never_unserialized(tmp_path: Path) -> None:
    evil = 'O:8:"stdClass":1:{s:1:"a";s:1:"b";}'
    text = wxr(item(1, meta={"_sku": "A", "_regular_price": "5", "_product_attributes": evil}))
    (record,) = read_all(write(tmp_path, text))
    assert isinstance(record, Record) and evil not in record.data.values()


def test_items_are_released_as_they_are_read(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    items = "".join(item(n, meta={"_sku": f"S{n}", "_regular_price": "5"})
                    for n in range(1, 1501))
    path = write(tmp_path, wxr(items))
    before: list[int] = []
    original = wxr_source._post

    def spy(elem: Any, wp: str) -> Any:
        before.append(elem.getparent().index(elem))
        return original(elem, wp)

    monkeypatch.setattr(wxr_source, "_post", spy)
    assert len(read_all(path)) == 1500
    assert len(before) == 3000  # two passes
    assert max(before) == 1  # only the channel's <title> (or the cleared last item) before
