"""PrestaShop / thirty bees: both dialects, discounts, combinations joined to products."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feedsync import profiles
from feedsync.model import Record, RowProblem
from feedsync.sources import open_catalog
from tests.helpers import shared_dir

# PrestaShop 1.7+: ";" between cells, "," inside them.
PRESTA_PRODUCTS = (
    "Product ID;Active (0/1);Name *;Categories (x,y,z...);Price tax excluded;"
    "Discount amount;Discount percent;Discount from (yyyy-mm-dd);Discount to (yyyy-mm-dd);"
    "Reference #;Manufacturer;EAN13;UPC;MPN;Quantity;Visibility;Summary;Description;"
    "Tags (x,y,z...);URL rewritten;Available for order (0 = No, 1 = Yes);"
    "Image URLs (x,y,z...);Feature(Name:Value:Position);Condition\n"
    "1;1;iPod Nano;iPods,Music;100;;5.5;2013-06-01;2018-12-31;RP-1;Apple;4006381333931;;;160;"
    "both;<p>Short</p>;<p>New design.</p>;apple, ipod;ipod-nano;1;"
    "https://cdn.example.com/1.jpg,https://cdn.example.com/2.jpg;Color:Silver:1;new\n"
    "2;0;iPod shuffle;iPods;60;10;;;;;Apple;;036000291452;SH-1;0;none;;<p>Tiny</p>;;;0;;;used\n"
)
PRESTA_COMBINATIONS = (
    "Product ID*;Attribute (Name:Type:Position)*;Value (Value:Position)*;Reference;EAN13;"
    "Impact on price;Quantity;Image URLs (x,y,z...)\n"
    "1;Color:color:0, Disk space:select:1;Blue:0, 16GB:1;RP-1-B16;4006381333948;40;10;"
    "https://cdn.example.com/b.jpg\n"
    "1;Color:color:0, Disk space:select:1;Blue:0, 8GB:1;;;0;0;\n"
    ";Color:color:0;Red:0;RP-X;;0;1;\n"
)
# thirty bees: "," between cells, ";" inside them.
BEES_PRODUCTS = (
    "Product ID,Active (0/1),Name *,Categories (x;y;z...),"
    "Price tax excluded or Price tax included,Reference #,EAN13,Quantity,Description,"
    "Tags (x;y;z...),Image URLs (x;y;z...)\n"
    "1,1,iPod Nano,iPods;Music,100,RP-1,1234567890123,160,<p>New</p>,apple; ipod,"
    "https://cdn.example.com/1.jpg;https://cdn.example.com/2.jpg\n"
)
BEES_COMBINATIONS = (
    "Product ID*,Product Reference,Attribute (Name:Type:Position)*,Value (Value:Position)*,"
    "Reference,EAN13,Impact on price,Quantity,Image URL,Default (0 = No; 1 = Yes)\n"
    "1,,Color:color:0; Disk space:select:3,Yellow:0; 16GB:1,RP-1-Y16,,20.5,3,,1\n"
)


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def by_id(items: list[Record | RowProblem]) -> dict[str, dict[str, str]]:
    return {item.data["id"]: item.data for item in items if isinstance(item, Record)}


def test_prestashop_products(tmp_path: Path) -> None:
    out = by_id(run(write(tmp_path / "products_import.csv", PRESTA_PRODUCTS)))
    nano, shuffle = out["RP-1"], out["2"]  # no reference: the product id
    assert (nano["title"], nano["price"], nano["brand"]) == ("iPod Nano", "100", "Apple")
    assert nano["description"] == "<p>New design.</p>"
    assert (nano["sale_price"], nano["sale_price_effective_date"]) == (
        "94.50", "2013-06-01T00:00/2018-12-31T23:59")
    assert nano["product_type"] == "iPods" and nano["tags"] == "apple, ipod"
    assert nano["image_link"] == "https://cdn.example.com/1.jpg"
    assert nano["additional_image_link"] == "https://cdn.example.com/2.jpg"
    assert (nano["gtin"], nano["quantity"], nano["condition"]) == ("4006381333931", "160", "new")
    assert nano["color"] == "Silver" and "variant_title" not in nano
    assert (nano["product_id"], nano["link_rewrite"], nano["published"]) == (
        "1", "ipod-nano", "true")
    assert (shuffle["gtin"], shuffle["mpn"], shuffle["sale_price"]) == (
        "036000291452", "SH-1", "50.00")
    assert (shuffle["availability"], shuffle["published"]) == ("out of stock", "false")


def test_combinations_join_the_products_file_beside_them(tmp_path: Path) -> None:
    write(tmp_path / "products_import.csv", PRESTA_PRODUCTS)
    items = run(write(tmp_path / "combinations_import.csv", PRESTA_COMBINATIONS))
    out = by_id(items)
    assert list(out) == ["RP-1-B16", "1-2", "2"]  # product 2 has no combination: as it is
    blue16, blue8 = out["RP-1-B16"], out["1-2"]
    assert blue16["item_group_id"] == blue8["item_group_id"] == "1"
    assert (blue16["title"], blue16["description"]) == ("iPod Nano", "<p>New design.</p>")
    assert (blue16["price"], blue16["sale_price"]) == ("140.00", "132.30")  # 100 + 40, -5.5 %
    assert (blue8["price"], blue8["sale_price"]) == ("100.00", "94.50")
    assert (blue16["color"], blue16["variant_title"]) == ("Blue", "Blue / 16GB")
    assert blue16["gtin"] == "4006381333948" and "gtin" not in blue8  # not the product's
    assert blue16["image_link"] == "https://cdn.example.com/b.jpg"
    assert blue8["image_link"] == "https://cdn.example.com/1.jpg"  # the product's
    assert (blue16["quantity"], blue8["quantity"]) == ("10", "0")
    problems = [(i.code, i.line, i.product_id) for i in items if isinstance(i, RowProblem)]
    assert problems == [("profile-missing-key", 4, "RP-X")]


def test_combinations_without_products_file_have_no_price(tmp_path: Path) -> None:
    items = run(write(tmp_path / "combinations_import.csv", PRESTA_COMBINATIONS))
    blue16 = by_id(items)["RP-1-B16"]
    assert "price" not in blue16 and "title" not in blue16  # the rules reject it for that
    assert blue16["item_group_id"] == "1" and blue16["color"] == "Blue"


def test_thirty_bees_dialect(tmp_path: Path) -> None:
    write(tmp_path / "products_import.csv", BEES_PRODUCTS)
    out = by_id(run(tmp_path / "products_import.csv"))
    assert out["RP-1"]["product_type"] == "iPods" and out["RP-1"]["tags"] == "apple, ipod"
    assert out["RP-1"]["additional_image_link"] == "https://cdn.example.com/2.jpg"
    # The placeholder EAN13 is passed on: the gtin rule rejects it, as it should.
    assert out["RP-1"]["gtin"] == "1234567890123"
    variant = by_id(run(write(tmp_path / "combinations_import.csv", BEES_COMBINATIONS)))
    yellow = variant["RP-1-Y16"]
    assert (yellow["color"], yellow["variant_title"], yellow["price"]) == (
        "Yellow", "Yellow / 16GB", "120.50")


def test_companion_found_by_name(tmp_path: Path) -> None:
    write(tmp_path / "shop-products.csv", PRESTA_PRODUCTS)
    out = by_id(run(write(tmp_path / "shop-combinations.csv", PRESTA_COMBINATIONS)))
    assert out["RP-1-B16"]["price"] == "140.00"


def test_detected_from_the_header_and_disabled_by_none(tmp_path: Path) -> None:
    assert profiles.detect(PRESTA_PRODUCTS.split("\n")[0].split(";")) == "prestashop"
    assert profiles.detect(BEES_PRODUCTS.split("\n")[0].split(",")) == "prestashop"
    assert profiles.detect(PRESTA_COMBINATIONS.split("\n")[0].split(";")) == \
        "prestashop-combinations"
    assert profiles.detect(["Category ID", "Active (0/1)", "Name *", "Parent category"]) is None
    raw = run(write(tmp_path / "products_import.csv", PRESTA_PRODUCTS), "none")
    assert isinstance(raw[0], Record) and raw[0].data["Name *"] == "iPod Nano"


def test_real_sample_files(shared_data: Path, tmp_path: Path) -> None:
    items = run(shared_data / "prestashop" / "combinations_import.csv")
    out = by_id(items)
    # 27 rows, the first one ragged (24 cells for 23 columns: reported by the reader), and
    # the 3 products without combinations.
    assert [i.code for i in items if isinstance(i, RowProblem)] == ["row-ragged"]
    assert len(items) == 30 and out["RP-Nano-Yellow-16GB"]["price"] == "140.00"
    assert out["RP-Nano-Blue-8GB"]["gtin"] == "0000080446393"  # leading zeros kept
    alone = tmp_path / "combinations_import.csv"
    shutil.copy(shared_data / "thirtybees" / "combinations_import.csv", alone)
    combinations = [i for i in run(alone) if isinstance(i, Record)]
    assert len(combinations) == 27  # no products file beside it: combinations only
    assert not any("price" in c.data for c in combinations)


def test_companion_given_explicitly(tmp_path: Path) -> None:
    from feedsync.profiles.prestashop import combinations_profile

    products = write(tmp_path / "elsewhere.csv", PRESTA_PRODUCTS)
    path = write(tmp_path / "variants.csv", PRESTA_COMBINATIONS)
    out = by_id(list(combinations_profile(open_catalog(path).records(), products)))
    assert out["RP-1-B16"]["price"] == "140.00"
