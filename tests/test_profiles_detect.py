"""The profile hook: detection from the header, naming a profile, and turning it off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import feedsync
from feedsync import profiles
from feedsync.config import parse_config
from feedsync.errors import ConfigError
from feedsync.model import Record, RowProblem
from feedsync.sources import open_catalog
from tests.helpers import EXAMPLES, shared_dir

# Each real export and the profile its header must select (None: no profile, the file is
# already in canonical columns or is not a product list).
DETECTED = {
    "shopify-partners/apparel.csv": "shopify",
    "shopify-partners/home-and-garden.csv": "shopify",
    "shopify-partners/jewelery.csv": "shopify",
    "shopify-template/product_template.csv": "shopify",
    "shopify-template-excel-roundtrip/product_template.csv": "shopify",
    "woocommerce/sample_products.csv": "woocommerce",
    "woocommerce/experimental_sample_9_products.csv": "woocommerce",
    "woocommerce/experimental_fashion_sample_9_products.csv": "woocommerce",
    "magento2-sample-data/products.csv": "magento",
    "magento2-sample-data/products_gear_bags.csv": "magento",
    "magento2-sample-data/products_training_video_download.csv": "magento",
    "magento2-sample-data/yoga_bundle.csv": "magento",
    "prestashop/products_import.csv": "prestashop",
    "prestashop/combinations_import.csv": "prestashop-combinations",
    "prestashop/categories_import.csv": None,
    "thirtybees/products_import.csv": "prestashop",
    "thirtybees/combinations_import.csv": "prestashop-combinations",
    "medusa/exported-products-comma.csv": "medusa",
    "medusa/exported-products-semicolon.csv": "medusa",
    "saleor/populatedb_data.json": "saleor",
    "meta-catalog-landingmaj/facebook-catalog.csv": None,
    "google-feed-pallmann-store/google-merchant-feed.xml": None,
    "google-feed-atomra-home-romania/google-merchant-feed.xml": None,
}


def first_columns(path: Path) -> list[str]:
    for item in open_catalog(path).records():
        if isinstance(item, Record):
            return list(item.data)
    raise AssertionError(f"{path} has no record")


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_each_real_export_selects_its_profile(name: str) -> None:
    shared = shared_dir()
    if shared is None or not (shared / "data" / name).is_file():
        pytest.skip("../shared/data (the real shop exports) is not available")
    assert profiles.detect(first_columns(shared / "data" / name)) == DETECTED[name]


def test_every_profile_is_registered_once_and_detectors_do_not_overlap() -> None:
    assert set(profiles.PROFILES) == {"shopify", "woocommerce", "magento", "prestashop",
                                      "prestashop-combinations", "medusa", "saleor"}
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/data (the real shop exports) is not available")
    for name, expected in DETECTED.items():
        path = shared / "data" / name
        if not path.is_file():
            continue
        columns = first_columns(path)
        accepting = [p for p, (detector, _) in profiles.PROFILES.items() if detector(columns)]
        assert accepting == ([expected] if expected else []), name


def test_a_canonical_catalog_has_no_profile() -> None:
    assert profiles.detect(first_columns(EXAMPLES)) is None
    through = list(profiles.apply(open_catalog(EXAMPLES).records()))
    plain = list(open_catalog(EXAMPLES).records())
    assert through == plain


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        profiles.apply(iter([]), "shopfiy")
    assert caught.value.key == "catalog.profile"
    assert "shopify" in (caught.value.tip or "")


def test_row_problems_before_the_first_record_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "products_export.csv"
    path.write_text("Handle,Title,Body (HTML),Variant Price\n"
                    "a,b\n"  # ragged: a row problem comes before the first record
                    "tee,Tee,<p>x</p>,5\n", encoding="utf-8")
    items = list(profiles.apply(open_catalog(path).records()))
    assert isinstance(items[0], RowProblem) and items[0].code == "row-ragged"
    assert isinstance(items[1], Record) and items[1].data["id"] == "tee-1"


def test_catalog_profile_none_in_config_turns_mapping_off(tmp_path: Path) -> None:
    path = tmp_path / "products_export.csv"
    path.write_text("Handle,Title,Body (HTML),Variant Price,Variant SKU\n"
                    "tee,Tee,<p>x</p>,5,TEE-1\n", encoding="utf-8")
    mapped = feedsync.validate(path, ["google"], config=parse_config({}))
    assert mapped.products_read == 1
    assert ("missing-required", "id") not in mapped.channels[0].codes  # id from Variant SKU
    raw = feedsync.validate(path, ["google"], config=parse_config(
        {"catalog": {"profile": "none"}}))
    assert ("missing-required", "id") in raw.channels[0].codes  # "Handle" is not "id"
    named = feedsync.validate(path, ["google"], config=parse_config(
        {"catalog": {"profile": "shopify"}}))
    assert named.channels[0].codes.keys() == mapped.channels[0].codes.keys()


def counted(rows: list[dict[str, str]], pulled: list[int]) -> Iterator[Record | RowProblem]:
    for line, row in enumerate(rows, start=2):
        pulled.append(line)
        yield Record("mem.csv", line, row)


def group_rows(name: str, group: int) -> list[dict[str, str]]:
    """Two rows of product group ``group`` in the shape profile ``name`` reads."""
    if name == "shopify":
        return [{"Handle": f"h{group}", "Title": "T", "Body (HTML)": "", "Variant Price": "1",
                 "Variant SKU": f"S{group}-{n}", "Option1 Name": "Size",
                 "Option1 Value": str(n)} for n in (1, 2)]
    if name == "medusa":
        return [{"Product Id": f"p{group}", "Product Handle": "h", "Product Title": "T",
                 "Variant Id": f"v{group}-{n}", "Variant Price EUR": "1"} for n in (1, 2)]
    if name == "woocommerce":
        return [{"Type": "variable", "SKU": f"p{group}", "Name": "T", "Regular price": "",
                 "Parent": "", "In stock?": "1"},
                {"Type": "variation", "SKU": f"p{group}-1", "Name": "T", "Regular price": "1",
                 "Parent": f"p{group}", "In stock?": "1"}]
    assert name == "magento"
    return [{"sku": f"p{group}-1", "product_type": "simple", "name": "T", "price": "1",
             "attribute_set_code": "Top", "visibility": "Not Visible Individually"},
            {"sku": f"p{group}", "product_type": "configurable", "name": "T", "price": "1",
             "attribute_set_code": "Top", "visibility": "Catalog, Search",
             "configurable_variations": f"sku=p{group}-1,size=S"}]


@pytest.mark.parametrize("name", ["shopify", "medusa", "woocommerce", "magento"])
def test_profiles_stream_one_group_at_a_time(name: str) -> None:
    """The first product comes out before the third group is read: nothing waits for the
    end of the catalog."""
    rows = [row for group in range(1000) for row in group_rows(name, group)]
    pulled: list[int] = []
    stream = profiles.apply(counted(rows, pulled), name)
    first = next(stream)
    assert isinstance(first, Record) and first.data["id"]
    assert len(pulled) <= 5, f"{name} read {len(pulled)} rows before its first product"
    assert sum(1 for _ in stream) >= 999
