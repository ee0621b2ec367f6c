"""The Magento 2 profile: configurables and their children, packed attributes, fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from feedsync import profiles
from feedsync.model import Record, RowProblem
from feedsync.profiles import magento
from feedsync.sources import open_catalog
from tests.helpers import shared_dir

HEADER = ["sku", "store_view_code", "attribute_set_code", "product_type", "categories", "name",
          "description", "short_description", "product_online", "visibility", "price",
          "special_price", "special_price_from_date", "special_price_to_date", "url_key",
          "base_image", "additional_attributes", "qty", "is_in_stock",
          "configurable_variations", "additional_images"]


@pytest.fixture
def shared_data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        pytest.skip("../shared/data (the real shop exports) is not available")
    return shared / "data"


def write(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def run(path: Path, name: str = "auto") -> list[Record | RowProblem]:
    return list(profiles.apply(open_catalog(path).records(), name))


def by_id(items: list[Record | RowProblem]) -> dict[str, dict[str, str]]:
    return {item.data["id"]: item.data for item in items if isinstance(item, Record)}


def child(sku: str, size: str, color: str, **extra: str) -> dict[str, str]:
    return {"sku": sku, "product_type": "simple", "attribute_set_code": "Top",
            "name": f"Hoodie-{size}-{color}", "visibility": "Not Visible Individually",
            "price": "52", "qty": "100", "is_in_stock": "1", "product_online": "1",
            "base_image": f"/m/h/{sku.lower()}.jpg",
            "additional_attributes": f"has_options=0,size={size},color={color}", **extra}


PARENT = {"sku": "MH01", "product_type": "configurable", "attribute_set_code": "Top",
          "name": "Chaz Hoodie", "description": "<p>Warm &bull; soft</p>",
          "visibility": "Catalog, Search", "price": "52", "special_price": "45",
          "special_price_from_date": "2024-01-01", "special_price_to_date": "2024-01-31",
          "product_online": "1", "url_key": "chaz-hoodie",
          "categories": "Default Category/Men/Tops/Hoodies,Default Category/Collections/Eco",
          "base_image": "/m/h/mh01_main.jpg", "additional_images": "/m/h/a.jpg,/m/h/b.jpg",
          "additional_attributes": ("has_options=1,material=Cotton|Polyester,"
                                    "pattern=Solid,climate=Cool|Windy,manufacturer=Luma"),
          "configurable_variations": ("sku=MH01-XS-Black,size=XS,color=Black|"
                                      "sku=MH01-S-Gray,size=S,color=Gray")}
SIMPLE = {"sku": "24-MB01", "product_type": "simple", "attribute_set_code": "Bag",
          "name": "Duffle", "visibility": "Catalog, Search", "price": "34", "qty": "0",
          "is_in_stock": "0", "product_online": "2"}


def test_children_before_their_parent_join_its_group(tmp_path: Path) -> None:
    rows = [child("MH01-XS-Black", "XS", "Black"), child("MH01-S-Gray", "S", "Gray"), PARENT,
            SIMPLE]
    items = run(write(tmp_path / "catalog_product.csv", rows))
    out = by_id(items)
    assert list(out) == ["MH01-XS-Black", "MH01-S-Gray", "24-MB01"]  # the parent is none
    black = out["MH01-XS-Black"]
    assert black["item_group_id"] == "MH01"
    assert black["title"] == "Chaz Hoodie"
    assert (black["size"], black["color"], black["variant_title"]) == ("XS", "Black", "XS / Black")
    assert black["description"] == "<p>Warm &bull; soft</p>"  # inherited, HTML kept
    assert (black["material"], black["pattern"], black["brand"]) == (
        "Cotton/Polyester", "Solid", "Luma")
    assert black["product_type"] == "Men > Tops > Hoodies"
    assert black["url_key"] == "chaz-hoodie"  # children have no page of their own
    assert black["image_link"] == "/m/h/mh01-xs-black.jpg"  # its own image
    assert not [i for i in items if isinstance(i, RowProblem)]


def test_children_after_their_parent_join_it_too(tmp_path: Path) -> None:
    rows = [PARENT, child("MH01-XS-Black", "XS", "Black"), SIMPLE,
            child("MH01-S-Gray", "S", "Gray")]
    out = by_id(run(write(tmp_path / "catalog_product.csv", rows)))
    assert out["MH01-XS-Black"]["item_group_id"] == out["MH01-S-Gray"]["item_group_id"] == "MH01"


def test_packed_fields_prices_and_stock(tmp_path: Path) -> None:
    parent_as_simple = {**PARENT, "sku": "MH99", "product_type": "simple",
                        "configurable_variations": ""}
    out = by_id(run(write(tmp_path / "catalog_product.csv", [parent_as_simple, SIMPLE])))
    hoodie, bag = out["MH99"], out["24-MB01"]
    assert (hoodie["price"], hoodie["sale_price"]) == ("52", "45")
    assert hoodie["sale_price_effective_date"] == "2024-01-01T00:00/2024-01-31T23:59"
    assert hoodie["additional_image_link"] == "/m/h/a.jpg,/m/h/b.jpg"
    assert hoodie["categories"] == PARENT["categories"]
    assert (bag["availability"], bag["quantity"], bag["published"]) == (
        "out of stock", "0", "false")


def test_values_with_commas_stay_whole() -> None:
    assert magento._pairs("a=1,b=x,y,c=2") == [("a", "1"), ("b", "x,y"), ("c", "2")]


def test_orphans_parents_without_children_and_store_views(tmp_path: Path) -> None:
    lonely = {**PARENT, "sku": "MJ01", "configurable_variations": "sku=MJ01-XS,size=XS"}
    store_view = {**SIMPLE, "store_view_code": "de"}
    rows = [child("MH01-XS-Black", "XS", "Black"), lonely, store_view]
    items = run(write(tmp_path / "catalog_product.csv", rows))
    out = by_id(items)
    # A child whose parent never comes is listed alone.
    assert "item_group_id" not in out["MH01-XS-Black"]
    problems = [(i.code, i.product_id) for i in items if isinstance(i, RowProblem)]
    assert sorted(problems) == [("profile-not-a-product", "24-MB01"),
                                ("profile-not-a-product", "MJ01")]


def test_waiting_children_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(magento, "MAX_WAITING", 1)
    rows = [child("MH01-XS-Black", "XS", "Black"), child("MH01-S-Gray", "S", "Gray"), PARENT]
    out = by_id(run(write(tmp_path / "catalog_product.csv", rows)))
    # The first child was pushed out of the waiting rows before its parent came.
    assert "item_group_id" not in out["MH01-XS-Black"]
    assert out["MH01-S-Gray"]["item_group_id"] == "MH01"


def test_sample_data_fixture_format(tmp_path: Path) -> None:
    header = ["category", "name", "sku", "price", "qty", "description", "material", "gender",
              "attribute_set"]
    row = {"category": "Gear\nBags", "name": "Duffle", "sku": "24-MB01", "price": "34",
           "qty": "100", "description": "<p>Big", "material": "Nylon\nPolyester",
           "gender": "Men\nWomen", "attribute_set": "Bag"}
    path = write(tmp_path / "products_gear_bags.csv", [row], header)
    assert profiles.detect(header) == "magento"
    (bag,) = by_id(run(path)).values()
    assert (bag["id"], bag["title"], bag["price"], bag["quantity"]) == (
        "24-MB01", "Duffle", "34", "100")
    assert bag["product_type"] == "Gear > Bags"
    assert (bag["material"], bag["gender"]) == ("Nylon/Polyester", "unisex")


def test_detected_from_the_header_and_disabled_by_none(tmp_path: Path) -> None:
    assert profiles.detect(HEADER) == "magento"
    raw = [i.data for i in run(write(tmp_path / "p.csv", [PARENT]), "none")
           if isinstance(i, Record)]
    assert raw[0]["sku"] == "MH01" and "id" not in raw[0]


def test_real_luma_catalog(shared_data: Path) -> None:
    items = run(shared_data / "magento2-sample-data" / "products.csv")
    out = by_id(items)
    assert len(out) == 1847 and not [i for i in items if isinstance(i, RowProblem)]
    assert len({p["item_group_id"] for p in out.values()}) == 147
    assert out["MH01-XS-Gray"]["variant_title"] == "XS / Gray"
