"""Every real shop export in ../shared/data, through its profile, into every channel.

Each catalog file is built twice into every channel template that ships
(``ChannelLibrary().available()``):

- **as exported**: the only configuration is the shop's currency (none of these exports
  except Medusa's and Saleor's carries one), and what Amazon cannot run without
  (a placeholder seller id, the marketplace that sells in the file's currency, and a
  product-type table mapping everything to Amazon's generic ``PRODUCT`` type);
- **configured**: as a merchant would configure it after reading docs/profiles.md: a
  ``link`` override per channel (no export holds the product page URL) and
  ``defaults: {condition: new}`` (Amazon, Meta and TikTok require a condition, and most exports
  have none). This pass shows what a missing link would otherwise hide.

For both, the test asserts that nothing but a documented ``FeedsyncError`` escapes, that
every rejected product is rejected for a reason named in ``EXPECTED`` below (a set of
``code:field`` per file and channel, built by inspecting each case by hand: the comments
say why each reason is a real fault of the data), and that the row problems and the number
of products read are the ones each profile must give. A reason that turned out to be our
rules rejecting valid data would be listed in ``FALSE_ERRORS`` and marked
``xfail(strict=True)``; none was found.

Amazon refuses to write a feed in which every product was rejected (``GateRefused``, exit
5): then the rules' findings come from ``validate`` instead, and every product must have
been rejected by them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import feedsync
from feedsync import profiles
from feedsync.channels.loader import ChannelLibrary
from feedsync.config import Config, parse_config
from feedsync.errors import CatalogError, GateRefused
from feedsync.model import Record
from feedsync.report import RunReport
from feedsync.sources import open_catalog
from tests.helpers import shared_dir

SHARED = shared_dir()
DATA = SHARED / "data" if SHARED is not None else Path("/nonexistent")
CHANNELS = sorted(ChannelLibrary().available())
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not available"),
]

# --- files that are not catalogs (named, with the reason) -----------------------------
# Each is checked for what it does instead: refused with a documented error, or read
# without any profile claiming it.
NOT_CATALOGS: dict[str, str] = {
    "README.md": "the folder's description of the files",
    "prestashop/categories_import.csv":
        "PrestaShop's category tree (Category ID, Parent category, ...): no product fields; "
        "no profile claims it, and as a plain catalog every row lacks id, title and price",
}
# Files that are no catalog on their own: refused with CatalogError (exit 3) before
# anything is written. The prestashop-xml reader refuses a fixture's language files (their
# tip says to read data/product.xml, which joins the English texts).
LANGUAGE_FILE = ("PrestaShop installer fixture language file: the {} texts of the products, "
                 "no prices; read data/product.xml instead (prestashop-xml joins langs/en)")
REFUSED: dict[str, str] = {
    "prestashop/fixtures-fashion/langs/en/data/product.xml": LANGUAGE_FILE.format("English"),
    "prestashop/fixtures-fashion/langs/fa/data/product.xml": LANGUAGE_FILE.format("Persian"),
    "prestashop/fixtures-fashion/langs/fr/data/product.xml": LANGUAGE_FILE.format("French"),
}

# --- the reasons, as code:field ---------------------------------------------------------
LINK = "missing-required:link"            # no export holds the product page URL
IMAGE_REL = "bad-url:image_link"          # image path relative to the shop's media folder
EXTRA_REL = "bad-url:additional_image_link"
NO_IMAGE = "missing-required:image_link"  # the Magento sample-data fixtures have no images
GTIN = "bad-gtin:gtin"                    # check digit fails (placeholder, Excel, fakes)
COUPON = "gtin-coupon-range:gtin"         # a 12-digit barcode starting with 5: a coupon
RESTRICTED = "gtin-restricted-range:gtin"  # a 12-digit barcode starting 2 or 4 (GS1 02/04)
DUPLICATE = "duplicate-id:id"             # the same Reference on two combinations
NO_AVAILABILITY = "missing-required:availability"
NO_PRICE = "missing-required:price"
ZERO_PRICE = "bad-money:price"            # a free download: price 0 is not a price
NO_DESCRIPTION = "missing-required:description"
CONDITION = "missing-required:condition"   # Meta and TikTok require a condition
NO_BRAND = "missing-required:brand"        # TikTok requires a brand
NO_IDENTIFIER = "missing-identifier:brand"  # Meta needs one of brand, gtin, mpn
AMAZON_CONDITION = "missing-required:condition_type"
AMAZON_USED = "not-in-enum:condition_type"  # "used" without Amazon's grade (used_good, ...)
AMAZON_GTIN = "bad-gtin:externally_assigned_product_identifier"
AMAZON_IMAGE = "bad-url:main_product_image_locator"
AMAZON_EXTRA = "bad-url:other_product_image_locator"
AMAZON_NO_PRICE = "missing-required:purchasable_offer"
AMAZON_ZERO_PRICE = "bad-money:purchasable_offer"


# What the configured pass (link override, default condition) must remove.
CONFIGURED_AWAY = {LINK, CONDITION, AMAZON_CONDITION}


@dataclass(frozen=True)
class Expect:
    """What one catalog file must give: products read, row problems, and the rejection
    reasons per channel in both passes (a channel left out has no rejection)."""

    read: int
    exported: dict[str, set[str]]
    configured: dict[str, set[str]] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    marketplace: str = "ATVPDKIKX0DER"   # Amazon's, for offers in this file's currency


# Local inventory lists a product's store rows (store code, quantity, availability, price),
# so only those fields can reject it there; its entries are given where it has any.
LOCAL = "google_local_inventory"


def every(*reasons: str, but: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """The same reasons in every channel but local inventory, except where ``but`` says
    otherwise."""
    table = {name: set(reasons) for name in CHANNELS if name != LOCAL}
    table.update(but or {})
    return table


# Which channels treat a missing link as an error: every one whose feed has a link (Google,
# Microsoft, Meta, Pinterest's PRODUCT_LINK_MISSING, TikTok's nine required fields);
# Amazon's listings have no link.
NEEDS_LINK = ("google", "microsoft", "meta", "pinterest", "tiktok")


def with_link(table: dict[str, set[str]]) -> dict[str, set[str]]:
    return {name: reasons | ({LINK} if name in NEEDS_LINK else set())
            for name, reasons in table.items()}


EXPECTED: dict[str, Expect] = {
    # Real merchant feeds already in Google's / Meta's vocabulary: no profile, all valid.
    # Their prices carry their own currency, so Amazon is given a marketplace selling in
    # it: Pallmann and aqua-reve.com price in EUR (amazon.de, amazon.fr). No Amazon
    # marketplace sells in RON (Amazon's marketplace-ids page), so Atomra's walk uses an
    # id outside marketplaces.csv, which the writer does not currency-check; on any listed
    # marketplace every Atomra offer is rightly refused (amazon-currency-mismatch).
    "google-feed-pallmann-store/google-merchant-feed.xml": Expect(
        read=305, exported={}, marketplace="A1PA6795UKMFR9"),
    "google-feed-atomra-home-romania/google-merchant-feed.xml": Expect(
        read=7, exported={}, marketplace="A0NOMARKETRON0"),
    "meta-catalog-landingmaj/facebook-catalog.csv": Expect(
        read=36, exported={}, marketplace="A13V1IB3VIYZZH"),
    # Shopify Partners demo CSVs (2018 columns). No URL; no condition column.
    "shopify-partners/apparel.csv": Expect(
        read=22,  # 20 products, one with 3 sizes
        exported=with_link(every(but={"meta": {CONDITION}, "tiktok": {CONDITION},
                                      "amazon": {AMAZON_CONDITION}}))),
    "shopify-partners/home-and-garden.csv": Expect(
        read=21,
        exported=with_link(every(but={"meta": {CONDITION}, "tiktok": {CONDITION},
                                      "amazon": {AMAZON_CONDITION}}))),
    "shopify-partners/jewelery.csv": Expect(
        read=23,  # 41 rows: 23 variants, 18 image-only rows
        exported=with_link(every(but={"meta": {CONDITION}, "tiktok": {CONDITION},
                                      "amazon": {AMAZON_CONDITION}}))),
    # Shopify's sample template: 14 of 16 barcodes fail the check digit (made-up numbers),
    # 3 start with 5 (GS1's coupon range for 12-digit codes) and 3 with 2 or 4 (restricted
    # circulation, 02/04 as GTIN-13): Google's GTIN page disapproves both (answer/6324461).
    # Meta, Pinterest and TikTok only warn about a bad GTIN.
    "shopify-template/product_template.csv": Expect(
        read=16,  # 17 rows, one image-only
        exported=with_link(every(but={"google": {GTIN, COUPON, RESTRICTED},
                                      "microsoft": {GTIN, COUPON, RESTRICTED},
                                      "amazon": {AMAZON_GTIN}})),
        configured=every(but={"google": {GTIN, COUPON, RESTRICTED},
                              "microsoft": {GTIN, COUPON, RESTRICTED},
                              "amazon": {AMAZON_GTIN}})),
    # The same template after an Excel round-trip: every barcode became 3.65275E+11.
    "shopify-template-excel-roundtrip/product_template.csv": Expect(
        read=16,
        exported=with_link(every(but={"google": {GTIN}, "microsoft": {GTIN},
                                      "amazon": {AMAZON_GTIN}})),
        configured=every(but={"google": {GTIN}, "microsoft": {GTIN},
                              "amazon": {AMAZON_GTIN}})),
    # WooCommerce sample data. Its one external product has a link (External URL); the
    # grouped product and the variable parents are not products. No brand, gtin or mpn
    # anywhere (Meta needs one of them, TikTok a brand).
    "woocommerce/sample_products.csv": Expect(
        read=22, problems={"profile-not-a-product": 1},
        exported=with_link(every(but={"meta": {CONDITION, NO_IDENTIFIER},
                                      "tiktok": {CONDITION, NO_BRAND},
                                      "amazon": {AMAZON_CONDITION}}))),
    # Two variable products listed without their variations, and a grouped product.
    "woocommerce/experimental_sample_9_products.csv": Expect(
        read=6, problems={"profile-not-a-product": 3},
        exported=with_link(every(but={"meta": {CONDITION, NO_IDENTIFIER},
                                      "tiktok": {CONDITION, NO_BRAND},
                                      "amazon": {AMAZON_CONDITION}}))),
    # The Blouse has an empty Regular price.
    "woocommerce/experimental_fashion_sample_9_products.csv": Expect(
        read=7, problems={"profile-not-a-product": 2},
        exported=with_link(every(NO_PRICE, but={
            "meta": {NO_PRICE, CONDITION, NO_IDENTIFIER},
            "tiktok": {CONDITION, NO_PRICE, NO_BRAND},
            "amazon": {AMAZON_CONDITION, AMAZON_NO_PRICE}})),
        configured=every(NO_PRICE, but={"meta": {NO_PRICE, NO_IDENTIFIER},
                                        "tiktok": {NO_PRICE, NO_BRAND},
                                        "amazon": {AMAZON_NO_PRICE}})),
    # Magento's Luma catalog: images are paths inside the media folder (/m/h/mh01.jpg), so
    # not URLs; 651 children have additional images, relative too (an error for Google,
    # Microsoft and Meta; Pinterest and TikTok publish the item without them). No brand.
    "magento2-sample-data/products.csv": Expect(
        read=1847,  # 147 configurables are parents, not products
        exported=with_link(every(IMAGE_REL, EXTRA_REL, but={
            "meta": {IMAGE_REL, EXTRA_REL, CONDITION, NO_IDENTIFIER},
            "pinterest": {IMAGE_REL}, "tiktok": {CONDITION, IMAGE_REL, NO_BRAND},
            "amazon": {AMAZON_CONDITION, AMAZON_IMAGE, AMAZON_EXTRA}})),
        configured=every(IMAGE_REL, EXTRA_REL, but={
            "meta": {IMAGE_REL, EXTRA_REL, NO_IDENTIFIER}, "pinterest": {IMAGE_REL},
            "tiktok": {IMAGE_REL, NO_BRAND}, "amazon": {AMAZON_IMAGE, AMAZON_EXTRA}})),
    # Magento's sample-data fixtures hold no image at all.
    "magento2-sample-data/products_gear_bags.csv": Expect(
        read=14,
        exported=with_link(every(NO_IMAGE, but={
            "meta": {NO_IMAGE, CONDITION, NO_IDENTIFIER},
            "tiktok": {CONDITION, NO_IMAGE, NO_BRAND}, "amazon": {AMAZON_CONDITION}})),
        configured=every(NO_IMAGE, but={"meta": {NO_IMAGE, NO_IDENTIFIER},
                                        "tiktok": {NO_IMAGE, NO_BRAND}, "amazon": set()})),
    # Downloads: no stock column, so no availability; one video costs 0 (Meta: price not
    # positive; TikTok and Pinterest only warn of a zero price).
    "magento2-sample-data/products_training_video_download.csv": Expect(
        read=6,
        exported=with_link(every(NO_IMAGE, NO_AVAILABILITY, ZERO_PRICE, but={
            "meta": {NO_IMAGE, NO_AVAILABILITY, ZERO_PRICE, CONDITION, NO_IDENTIFIER},
            "pinterest": {NO_IMAGE, NO_AVAILABILITY}, LOCAL: {ZERO_PRICE},
            "tiktok": {CONDITION, NO_AVAILABILITY, NO_IMAGE, NO_BRAND},
            "amazon": {AMAZON_CONDITION, AMAZON_ZERO_PRICE}})),
        configured=every(NO_IMAGE, NO_AVAILABILITY, ZERO_PRICE, but={
            "meta": {NO_IMAGE, NO_AVAILABILITY, ZERO_PRICE, NO_IDENTIFIER},
            "pinterest": {NO_IMAGE, NO_AVAILABILITY},
            "tiktok": {NO_AVAILABILITY, NO_IMAGE, NO_BRAND},
            LOCAL: {ZERO_PRICE},
            "amazon": {AMAZON_ZERO_PRICE}})),
    # A bundle priced by its options: no price of its own.
    "magento2-sample-data/yoga_bundle.csv": Expect(
        read=1,
        exported=with_link(every(NO_IMAGE, NO_PRICE, but={
            "meta": {NO_IMAGE, NO_PRICE, CONDITION, NO_IDENTIFIER},
            "tiktok": {CONDITION, NO_PRICE, NO_IMAGE, NO_BRAND},
            "amazon": {AMAZON_CONDITION, AMAZON_NO_PRICE}})),
        configured=every(NO_IMAGE, NO_PRICE, but={
            "meta": {NO_IMAGE, NO_PRICE, NO_IDENTIFIER},
            "tiktok": {NO_PRICE, NO_IMAGE, NO_BRAND}, "amazon": {AMAZON_NO_PRICE}})),
    # The same WooCommerce sample data as a WordPress export (wxr reader): the 7 variations
    # are products, their 2 variable parents are not, the grouped product is reported. Every
    # item carries its product page <link> (variations: ?attribute_pa_color=...), so only
    # the missing condition and brand remain, as in the CSV.
    "woocommerce/sample_products.xml": Expect(
        read=22, problems={"profile-not-a-product": 1},
        exported=every(but={"meta": {CONDITION, NO_IDENTIFIER},
                            "tiktok": {CONDITION, NO_BRAND}, "amazon": {AMAZON_CONDITION}})),
    # PrestaShop's installer fixtures (prestashop-xml reader; texts joined from langs/en).
    # Images are files of the installer (img/), not in the XML, and there is no URL.
    # Condition is "new" on every row, so Amazon accepts them.
    "prestashop/fixtures-fashion/data/product.xml": Expect(
        read=19,
        exported=with_link(every(NO_IMAGE, but={"tiktok": {NO_IMAGE, NO_BRAND},
                                                "amazon": set()})),
        configured=every(NO_IMAGE, but={"tiktok": {NO_IMAGE, NO_BRAND}, "amazon": set()})),
    # Its 39 combinations, joined with product.xml beside them (price + impact): the same
    # missing images and links.
    "prestashop/fixtures-fashion/data/product_attribute.xml": Expect(
        read=39,
        exported=with_link(every(NO_IMAGE, but={"tiktok": {NO_IMAGE, NO_BRAND},
                                                "amazon": set()})),
        configured=every(NO_IMAGE, but={"tiktok": {NO_IMAGE, NO_BRAND}, "amazon": set()})),
    # Medusa's exporter test fixtures: images are bare file names (test-image.png), and the
    # export holds no stock level for variants whose inventory Medusa manages. No brand.
    "medusa/exported-products-comma.csv": Expect(
        read=3,
        exported=with_link(every(IMAGE_REL, EXTRA_REL, NO_AVAILABILITY, but={
            "meta": {IMAGE_REL, EXTRA_REL, NO_AVAILABILITY, CONDITION, NO_IDENTIFIER},
            "pinterest": {IMAGE_REL, NO_AVAILABILITY},
            "tiktok": {CONDITION, NO_AVAILABILITY, IMAGE_REL, NO_BRAND},
            LOCAL: set(),
            "amazon": {AMAZON_CONDITION, AMAZON_IMAGE, AMAZON_EXTRA}})),
        configured=every(IMAGE_REL, EXTRA_REL, NO_AVAILABILITY, but={
            "meta": {IMAGE_REL, EXTRA_REL, NO_AVAILABILITY, NO_IDENTIFIER},
            "pinterest": {IMAGE_REL, NO_AVAILABILITY},
            "tiktok": {NO_AVAILABILITY, IMAGE_REL, NO_BRAND}, LOCAL: set(),
            "amazon": {AMAZON_IMAGE, AMAZON_EXTRA}})),
    # ... and the same data, semicolon-separated.
    "medusa/exported-products-semicolon.csv": Expect(read=3, exported={}),
    # PrestaShop's import samples: the EAN13 placeholder 1234567890123 fails the check
    # digit; images on http://localhost are not reachable (Meta, Pinterest, TikTok and
    # Google reject the main image; Amazon's "used" needs a grade).
    "prestashop/products_import.csv": Expect(
        read=7,
        exported=with_link(every(IMAGE_REL, EXTRA_REL, GTIN, but={
            "meta": {IMAGE_REL, EXTRA_REL}, "pinterest": {IMAGE_REL}, "tiktok": {IMAGE_REL},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_EXTRA, AMAZON_USED}})),
        configured=every(IMAGE_REL, EXTRA_REL, GTIN, but={
            "meta": {IMAGE_REL, EXTRA_REL}, "pinterest": {IMAGE_REL}, "tiktok": {IMAGE_REL},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_EXTRA, AMAZON_USED}})),
    # Combinations joined to products_import.csv beside them: 26 readable rows (the first
    # has a stray trailing ";", a ragged row) + the 3 products without combinations. 19 of
    # the combination EAN13s fail the check digit (leading zeros are kept, 7 pass), two
    # combinations share a Reference, and the products' localhost images are inherited.
    "prestashop/combinations_import.csv": Expect(
        read=29, problems={"row-ragged": 1},
        exported=with_link(every(IMAGE_REL, EXTRA_REL, GTIN, DUPLICATE, but={
            "meta": {IMAGE_REL, EXTRA_REL, DUPLICATE},
            "pinterest": {IMAGE_REL, DUPLICATE},
            "tiktok": {IMAGE_REL, DUPLICATE}, LOCAL: {DUPLICATE},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_EXTRA, AMAZON_USED, DUPLICATE}})),
        configured=every(IMAGE_REL, EXTRA_REL, GTIN, DUPLICATE, but={
            "meta": {IMAGE_REL, EXTRA_REL, DUPLICATE},
            "pinterest": {IMAGE_REL, DUPLICATE},
            "tiktok": {IMAGE_REL, DUPLICATE}, LOCAL: {DUPLICATE},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_EXTRA, AMAZON_USED, DUPLICATE}})),
    # thirty bees: the same data in the other dialect (one image URL per product).
    "thirtybees/products_import.csv": Expect(
        read=7,
        exported=with_link(every(IMAGE_REL, GTIN, but={
            "meta": {IMAGE_REL}, "pinterest": {IMAGE_REL}, "tiktok": {IMAGE_REL},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_USED}})),
        configured=every(IMAGE_REL, GTIN, but={
            "meta": {IMAGE_REL}, "pinterest": {IMAGE_REL}, "tiktok": {IMAGE_REL},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_USED}})),
    "thirtybees/combinations_import.csv": Expect(
        read=30,  # 27 combinations (no ragged row here) + 3 products without any
        exported=with_link(every(IMAGE_REL, GTIN, DUPLICATE, but={
            "meta": {IMAGE_REL, DUPLICATE}, "pinterest": {IMAGE_REL, DUPLICATE},
            "tiktok": {IMAGE_REL, DUPLICATE}, LOCAL: {DUPLICATE},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_USED, DUPLICATE}})),
        configured=every(IMAGE_REL, GTIN, DUPLICATE, but={
            "meta": {IMAGE_REL, DUPLICATE}, "pinterest": {IMAGE_REL, DUPLICATE},
            "tiktok": {IMAGE_REL, DUPLICATE}, LOCAL: {DUPLICATE},
            "amazon": {AMAZON_GTIN, AMAZON_IMAGE, AMAZON_USED, DUPLICATE}})),
    # Saleor's fixture: media paths are relative to Saleor's media URL (products/x.png);
    # 9 products have neither an Editor.js description nor a plain-text one. No brand.
    "saleor/populatedb_data.json": Expect(
        read=73,
        exported=with_link(every(IMAGE_REL, EXTRA_REL, NO_DESCRIPTION, but={
            "meta": {IMAGE_REL, EXTRA_REL, NO_DESCRIPTION, CONDITION, NO_IDENTIFIER},
            "pinterest": {IMAGE_REL, NO_DESCRIPTION},
            "tiktok": {CONDITION, NO_DESCRIPTION, IMAGE_REL, NO_BRAND},
            "amazon": {AMAZON_CONDITION, AMAZON_IMAGE, AMAZON_EXTRA}})),
        configured=every(IMAGE_REL, EXTRA_REL, NO_DESCRIPTION, but={
            "meta": {IMAGE_REL, EXTRA_REL, NO_DESCRIPTION, NO_IDENTIFIER},
            "pinterest": {IMAGE_REL, NO_DESCRIPTION},
            "tiktok": {NO_DESCRIPTION, IMAGE_REL, NO_BRAND},
            "amazon": {AMAZON_IMAGE, AMAZON_EXTRA}})),
}
EXPECTED["medusa/exported-products-semicolon.csv"] = EXPECTED["medusa/exported-products-comma.csv"]

# Products that our rules reject although their data is valid: (file, channel, pass) ->
# what is wrong with the rule. Each is run as xfail(strict=True). None found.
FALSE_ERRORS: dict[tuple[str, str, str], str] = {}


def catalog_files() -> Iterator[str]:
    for path in sorted(DATA.rglob("*")):
        if path.is_file():
            yield path.relative_to(DATA).as_posix()


def test_every_file_is_classified() -> None:
    files = set(catalog_files())
    classified = set(NOT_CATALOGS) | set(REFUSED) | set(EXPECTED)
    assert files - classified == set(), "inspect the new file and add it to a table"
    assert classified - files == set(), "a file named in a table is gone"


def test_every_channel_has_expectations() -> None:
    known = {"google", "google_local_inventory", "microsoft", "meta", "pinterest", "tiktok",
             "amazon"}
    assert set(CHANNELS) == known, "inspect the new channel's results and add them"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_in_other_formats_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        feedsync.build(DATA / name, [c for c in CHANNELS if c != "amazon"], tmp_path / "out",
                       make_config(tmp_path, configured=False))
    assert caught.value.file == str(DATA / name)
    assert "data/product.xml" in (caught.value.tip or "")  # what to read instead
    assert not list((tmp_path / "out").glob("*.xml"))  # nothing was written


def test_the_category_file_is_no_product_list() -> None:
    rows = [r for r in open_catalog(DATA / "prestashop/categories_import.csv").records()
            if isinstance(r, Record)]
    assert len(rows) == 3 and profiles.detect(rows[0].data) is None
    assert "Category ID" in rows[0].data and "Price tax excluded" not in rows[0].data


def make_config(tmp_path: Path, configured: bool, catalog: Path | None = None,
                marketplace: str = "ATVPDKIKX0DER") -> Config:
    """The walk's config. Channels that cannot run without settings get placeholders:
    Amazon its seller and marketplace ids and a product-type table (everything is Amazon's
    generic PRODUCT type); local inventory a store stock file with one store holding every
    product of ``catalog`` (its quantity left to the catalog)."""
    types = tmp_path / "amazon_product_types.csv"
    types.write_text("key,amazon_product_type\n*,PRODUCT\n", encoding="utf-8")
    library = ChannelLibrary()
    channels: dict[str, Any] = {}
    for name in CHANNELS:
        channels[name] = {}
        if name == "amazon":
            channels[name]["options"] = {"listings": {
                "seller_id": "A1PLACEHOLDER0", "marketplace_id": marketplace,
                "language_tag": "en_US", "product_types_file": str(types)}}
        if library.load(name).fan_out == "stock":
            channels[name]["stock"] = {"path": str(store_stock(tmp_path, catalog))}
        if configured and "link" in library.load(name).fields:
            channels[name]["overrides"] = {"link": "'https://shop.example.com/p/' ~ product.id"}
    defaults = {"currency": "USD"}
    if configured:
        defaults["condition"] = "new"
    return parse_config({"defaults": defaults, "channels": channels})


def store_stock(tmp_path: Path, catalog: Path | None) -> Path:
    """A store stock file: store STORE-1 holds 3 of every product id of ``catalog``.

    Each row states its stock: a store row without a quantity or availability is rejected
    (it must not take the online stock, issue 11), which would hide the catalog's own
    faults here.
    """
    path = tmp_path / "stores.csv"
    ids: dict[str, None] = {}
    if catalog is not None:
        for item in profiles.apply(open_catalog(catalog).records()):
            if isinstance(item, Record) and item.data.get("id"):
                ids.setdefault(item.data["id"], None)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_code", "id", "quantity"])
        for product_id in ids or {"NO-PRODUCT": None}:
            writer.writerow(["STORE-1", product_id, "3"])
    return path


@dataclass
class Outcome:
    read: int
    problems: dict[str, int]
    written: dict[str, int]
    rejected: dict[str, int]
    reasons: dict[str, set[str]]


def walk(name: str, tmp_path: Path, configured: bool) -> Outcome:
    """Build ``name`` into every channel (Amazon on its own: its gate can stop a run)."""
    config = make_config(tmp_path, configured, DATA / name, EXPECTED[name].marketplace)
    others = [c for c in CHANNELS if c != "amazon"]
    report = feedsync.build(DATA / name, others, tmp_path / "out", config)
    outcome = Outcome(report.products_read, dict(report.problems), {}, {}, {})
    collect(outcome, report)
    if "amazon" in CHANNELS:
        try:
            amazon = feedsync.build(DATA / name, ["amazon"], tmp_path / "amazon", config)
        except GateRefused:
            # Every product was rejected: the rules say why (validate runs no writer).
            amazon = feedsync.validate(DATA / name, ["amazon"], config=config)
            assert amazon.channels[0].rejected == amazon.products_read
        collect(outcome, amazon)
    return outcome


def collect(outcome: Outcome, report: RunReport) -> None:
    for channel in report.channels:
        outcome.written[channel.target] = channel.written
        outcome.rejected[channel.target] = channel.rejected
        outcome.reasons[channel.target] = {
            f"{c.code}:{c.field}" for c in channel.codes.values() if c.severity == "error"}
        assert channel.written + channel.rejected + channel.filtered == report.products_read


def cases() -> Iterator[Any]:
    for name in sorted(EXPECTED):
        for which in ("exported", "configured"):
            marks = [pytest.mark.xfail(strict=True, reason=FALSE_ERRORS[(name, c, which)])
                     for c in CHANNELS if (name, c, which) in FALSE_ERRORS]
            yield pytest.param(name, which, marks=marks, id=f"{name}-{which}")


@pytest.mark.parametrize(("name", "which"), list(cases()))
def test_rejections_are_the_data_faults_named(name: str, which: str, tmp_path: Path) -> None:
    expect = EXPECTED[name]
    outcome = walk(name, tmp_path, configured=which == "configured")
    assert outcome.read == expect.read
    assert outcome.problems == expect.problems
    table = expect.exported if which == "exported" else (
        expect.configured or {c: r - CONFIGURED_AWAY for c, r in expect.exported.items()})
    wanted = {c: table.get(c, set()) for c in CHANNELS}
    assert outcome.reasons == wanted
    for channel in CHANNELS:  # a channel with no reason rejects nothing
        assert (outcome.rejected[channel] == 0) == (not wanted[channel]), channel

