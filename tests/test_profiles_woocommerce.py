"""The WooCommerce profile: variable parents, variations, multi-value cells."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from feedsync import profiles
from feedsync.model import Record, RowProblem
from feedsync.profiles import woocommerce
from feedsync.sources import open_catalog
from tests.helpers import shared_dir

HEADER = ["ID", "Type", "SKU", "Name", "Published", "Short description", "Description",
          "Date sale price starts", "Date sale price ends", "In stock?", "Stock",
          "Sale price", "Regular price", "Categories", "Tags", "Images", "Parent",
          "Grouped products", "External URL", "Attribute 1 name", "Attribute 1 value(s)",
          "Attribute 2 name", "Attribute 2 value(s)"]


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    # WooCommerce writes a BOM and CRLF line ends.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def by_id(items: list[Record | RowProblem]) -> dict[str, dict[str, str]]:
    return {item.data["id"]: item.data for item in items if isinstance(item, Record)}


TEE = {"ID": "44", "Type": "variable", "SKU": "vneck", "Name": "V-Neck", "Published": "1",
       "Description": "A tee", "Categories": "Clothing > Tshirts, Clothing > Sale\\, cheap",
       "Tags": "cotton", "In stock?": "1",
       "Images": "https://cdn.example.com/v1.jpg, https://cdn.example.com/v2.jpg",
       "Attribute 1 name": "Color", "Attribute 1 value(s)": "Blue, Red",
       "Attribute 2 name": "Size", "Attribute 2 value(s)": "S, M"}
BELT = {"ID": "58", "Type": "simple", "SKU": "belt", "Name": "Belt", "Published": "1",
        "Description": "A belt", "Regular price": "65", "Sale price": "55",
        "Date sale price starts": "2024-05-01", "Date sale price ends": "2024-05-31",
        "In stock?": "1", "Stock": "7", "Categories": "Accessories",
        "Images": "https://cdn.example.com/b1.jpg,https://cdn.example.com/b2.jpg",
        "Attribute 1 name": "Colour", "Attribute 1 value(s)": "Brown"}
RED = {"ID": "76", "Type": "variation", "SKU": "vneck-red", "Name": "V-Neck - Red, S",
       "Published": "1", "Regular price": "20", "In stock?": "0", "Parent": "vneck",
       "Images": "https://cdn.example.com/red.jpg",
       "Attribute 1 name": "Color", "Attribute 1 value(s)": "Red",
       "Attribute 2 name": "Size", "Attribute 2 value(s)": "S"}
BLUE = {"ID": "77", "Type": "variation", "SKU": "vneck-blue", "Name": "V-Neck - Blue",
        "Published": "1", "Regular price": "20", "In stock?": "backorder", "Parent": "id:44",
        "Description": "Own text", "Attribute 1 name": "Color",
        "Attribute 1 value(s)": "Blue"}
GROUP = {"ID": "87", "Type": "grouped", "SKU": "set", "Name": "Set",
         "Grouped products": "belt, vneck"}


def test_variations_inherit_from_a_parent_listed_earlier(tmp_path: Path) -> None:
    # The sample data lists simple products between a parent and its variations.
    items = run(write(tmp_path / "wc.csv", [TEE, BELT, RED, BLUE]))
    out = by_id(items)
    assert list(out) == ["belt", "vneck-red", "vneck-blue"]  # the parent is no product
    red, blue = out["vneck-red"], out["vneck-blue"]
    assert red["item_group_id"] == blue["item_group_id"] == "vneck"  # by SKU and by id:44
    assert red["title"] == blue["title"] == "V-Neck"
    assert (red["color"], red["size"], red["variant_title"]) == ("Red", "S", "Red / S")
    assert red["description"] == "A tee" and blue["description"] == "Own text"
    assert red["product_type"] == "Clothing > Tshirts"
    assert red["categories"] == TEE["Categories"]
    assert red["image_link"] == "https://cdn.example.com/red.jpg"
    assert red["additional_image_link"] == ("https://cdn.example.com/v1.jpg,"
                                            "https://cdn.example.com/v2.jpg")
    assert blue["image_link"] == "https://cdn.example.com/v1.jpg"  # the parent's
    assert red["availability"] == "out of stock" and blue["availability"] == "backorder"
    assert not [i for i in items if isinstance(i, RowProblem)]


def test_simple_product_prices_images_and_attributes(tmp_path: Path) -> None:
    belt = by_id(run(write(tmp_path / "wc.csv", [BELT])))["belt"]
    assert (belt["price"], belt["sale_price"]) == ("65", "55")
    assert belt["sale_price_effective_date"] == "2024-05-01T00:00/2024-05-31T23:59"
    # Images separated by "," without a space (the fashion sample) split the same way.
    assert belt["image_link"] == "https://cdn.example.com/b1.jpg"
    assert belt["additional_image_link"] == "https://cdn.example.com/b2.jpg"
    assert (belt["quantity"], belt["availability"]) == ("7", "in stock")
    assert belt["color"] == "Brown" and "variant_title" not in belt
    assert (belt["wc_id"], belt["published"]) == ("58", "true")


def test_multi_value_cells_respect_escaped_commas() -> None:
    from feedsync.profiles.common import split_list
    assert split_list(TEE["Categories"]) == ["Clothing > Tshirts", "Clothing > Sale, cheap"]
    assert split_list("a,b, c") == ["a", "b", "c"]


def test_a_variation_before_its_parent_keeps_its_own_fields(tmp_path: Path) -> None:
    out = by_id(run(write(tmp_path / "wc.csv", [RED, TEE])))
    red = out["vneck-red"]
    assert red["item_group_id"] == "vneck" and red["title"] == "V-Neck - Red, S"
    assert "description" not in red


def test_parents_without_variations_and_grouped_products_are_reported(tmp_path: Path) -> None:
    items = run(write(tmp_path / "wc.csv", [TEE, BELT, GROUP]))
    problems = [(i.code, i.line, i.product_id) for i in items if isinstance(i, RowProblem)]
    assert problems == [("profile-not-a-product", 4, "set"),
                        ("profile-not-a-product", 2, "vneck")]
    assert list(by_id(items)) == ["belt"]


def test_the_parent_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(woocommerce, "MAX_PARENTS", 1)
    other = {**TEE, "ID": "45", "SKU": "hoodie", "Name": "Hoodie"}
    items = run(write(tmp_path / "wc.csv", [TEE, other, RED]))
    # The V-Neck left the cache when the hoodie came: it is reported (no variation seen
    # while it was held), and its variation is listed with its own fields.
    problems = [(i.code, i.product_id) for i in items if isinstance(i, RowProblem)]
    assert ("profile-not-a-product", "vneck") in problems
    assert by_id(items)["vneck-red"]["title"] == "V-Neck - Red, S"


def test_detected_from_the_header_and_disabled_by_none(tmp_path: Path) -> None:
    assert profiles.detect(HEADER) == "woocommerce"
    path = write(tmp_path / "wc.csv", [BELT])
    raw = [i.data for i in run(path, "none") if isinstance(i, Record)]
    assert raw[0]["SKU"] == "belt" and "id" not in raw[0]


def test_real_sample_data(shared_data: Path) -> None:
    items = run(shared_data / "woocommerce" / "sample_products.csv")
    out = by_id(items)
    assert len(out) == 22  # 25 rows - 2 variable parents - 1 grouped
    assert {p["item_group_id"] for p in out.values() if "item_group_id" in p} == {
        "woo-vneck-tee", "woo-hoodie"}
    assert out["woo-hoodie-blue-logo"]["variant_title"] == "Blue / Yes"
    assert out["wp-pennant"]["link"].startswith("https://mercantile.wordpress.org/")
    # Its own image is the parent's first of four: the other three are additional.
    assert out["woo-hoodie-red"]["image_link"].endswith("/hoodie-2.jpg")
    assert out["woo-hoodie-red"]["additional_image_link"].count("https://") == 3
    fashion = run(shared_data / "woocommerce" / "experimental_fashion_sample_9_products.csv")
    assert sorted(i.product_id or "" for i in fashion if isinstance(i, RowProblem)) == [
        "woo-fasion-socks", "woo-fasion-sweater"]
