"""Every rule of the Meta, TikTok, Pinterest and Amazon folders, one example each way.

For each rule (a field rule, named ``field:code``, or an item check, named by its field
and code) the table below holds products that satisfy it and products that break it, as
overrides of one valid product per channel. One catalog per channel (and target) is
built through the library; a passing product must carry no finding of that rule and no
error at all, a breaking one must carry the rule's code on the rule's field, at the
severity the channel folder gives. ``test_every_rule_has_examples`` fails as soon as a
rule is added to a folder without examples here (or an example names no rule).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from feedsync import build
from feedsync.channels.loader import ChannelLibrary
from feedsync.config import parse_config
from feedsync.rules.checks import CHECKS
from tests.helpers import COLUMNS, read_issues, write_csv

Row = dict[str, str]


@dataclass(frozen=True)
class Case:
    passing: list[Row] = field(default_factory=lambda: [{}])
    failing: list[Row] = field(default_factory=list)
    target: dict[str, str] = field(default_factory=dict)        # for both
    fail_target: dict[str, str] | None = None                   # for failing, if other


def _ok(*rows: Row) -> list[Row]:
    return list(rows)


def _images(count: int, length: int = 40) -> str:
    """``count`` image URLs of ``length`` characters each (for count < 10)."""
    stem = "i" * max(1, length - 29)
    return ",".join(f"https://cdn.example.com/{n}{stem}.jpg" for n in range(count))


BASE: dict[str, Row] = {
    "meta": {"title": "Linen shirt", "description": "A shirt.",
             "link": "https://shop.example.com/p/1", "image_link": "https://cdn.example.com/1.jpg",
             "price": "30.00", "currency": "EUR", "availability": "in stock",
             "condition": "new", "brand": "Acme", "mpn": "M-1"},
    "tiktok": {"title": "Canvas tote", "description": "A bag.",
               "link": "https://shop.example.com/p/1", "image_link": "https://cdn.example.com/1.jpg",
               "price": "15", "currency": "GBP", "availability": "in_stock", "condition": "new",
               "brand": "Acme"},
    "pinterest": {"title": "Wool throw", "description": "Warm.",
                  "link": "https://shop.example.com/p/1",
                  "image_link": "https://cdn.example.com/1.jpg", "price": "40.00",
                  "currency": "USD", "availability": "in stock", "condition": "new"},
    "amazon": {"title": "Plain cotton shirt", "description": "A soft shirt.",
               "link": "https://shop.example.com/p/1", "image_link": "https://cdn.example.com/1.jpg",
               "price": "12.50", "currency": "USD", "availability": "in_stock", "quantity": "5",
               "brand": "Acme", "condition": "new",
               "product_type": "Apparel & Accessories > Clothing > Shirts & Tops"},
}

# The severity each rule must have, as the channel's own page gives it (the channel
# folders cite the page): every rule not named here is an error.
WARNINGS: dict[str, set[str]] = {
    "meta": {"id:too-long", "title:too-long", "description:too-long", "brand:too-long",
             "item_group_id:too-long", "gtin:bad-gtin", "quantity_to_sell_on_facebook:bad-quantity",
             "sale_price_effective_date:bad-date-range-format",
             "item_group_id:variant-attribute-missing",
             "google_product_category:category-too-shallow",
             "commerce_tax_category:tax-category-outside-us",
             "additional_image_link:too-many-images",
             "additional_image_link:additional-images-too-long"},
    "tiktok": {"sku_id:too-long", "title:too-long", "description:too-long",
               "title:promotional-text-possible", "price:zero-price", "gtin:bad-gtin",
               "additional_image_link:bad-url", "additional_image_link:too-many-images",
               "sale_price:bad-money", "sale_price_effective_date:bad-date-range"},
    # Pinterest's OpenAPI lists these among CatalogsFeedValidationWarnings (published,
    # value truncated or dropped), or Pinterest does not say (zero price, commas, names).
    "pinterest": {"title:too-long", "description:too-long", "product_type:too-long",
                  *{f"custom_label_{n}:too-long" for n in range(5)},
                  "image_link:comma-in-image-link", "image_link:placeholder-image",
                  "price:price-without-currency", "price:zero-price",
                  "additional_image_link:bad-url", "additional_image_link:too-many-images",
                  "sale_price:bad-money", "sale_price:sale-price-not-below-price",
                  "sale_price:inconsistent-currency",
                  "sale_price_effective_date:bad-date-range", "condition:missing-condition",
                  "condition:not-in-enum", "gender:not-in-enum", "age_group:not-in-enum",
                  "size_type:not-in-enum", "size_system:not-in-enum", "gtin:bad-gtin",
                  "product_type:bad-category-separator", "shipping:bad-shipping",
                  "shipping:too-many-shipping-groups", "tax:bad-tax"},
    "amazon": {"sku:too-long", "fulfillment_availability:missing-quantity",
               "other_product_image_locator:too-many-images"},
}
HINTS: dict[str, set[str]] = {"meta": {"brand:commerce-identifiers"},
                              "tiktok": {"image_link:image-format"}}


def expected_severity(channel: str, key: str) -> str:
    if key in HINTS.get(channel, set()):
        return "hint"
    return "warning" if key in WARNINGS[channel] else "error"


GOOD_DATES = "2026-11-01T00:00-08:00/2026-11-30T23:59-08:00"
NO_AVAILABILITY = {"availability": "", "quantity": ""}

CASES: dict[str, dict[str, Case]] = {
    "meta": {
        "id:missing-required": Case(failing=[{"id": ""}]),
        "id:too-long": Case(_ok({"id": "I" * 100}), [{"id": "I" * 101}]),
        "title:missing-required": Case(failing=[{"title": ""}]),
        "title:too-long": Case(_ok({"title": "t" * 200}), [{"title": "t" * 201}]),
        "description:missing-required": Case(failing=[{"description": "<p></p>"}]),
        "description:html-in-description": Case(_ok({"description": "5 < 6 &amp; more"}),
                                                [{"description": "Soft&amp;nbsp;linen"}]),
        "description:too-long": Case(_ok({"description": "d" * 9999}),
                                     [{"description": "d" * 10000}]),
        "availability:missing-required": Case(failing=[NO_AVAILABILITY]),
        "availability:not-in-enum": Case(_ok({"availability": "out_of_stock"},
                                             {"availability": "backorder"}),
                                         [{"availability": "maybe"}]),
        "condition:missing-required": Case(failing=[{"condition": ""}]),
        "condition:not-in-enum": Case(_ok({"condition": "used_like_new"}, {"condition": "cpo"}),
                                      [{"condition": "as new"}]),
        "price:missing-required": Case(failing=[{"price": ""}]),
        "price:bad-money": Case(_ok({"price": "0.01"}, {"price": "19.99 GBP"}),
                                [{"price": "0"}, {"price": "-5"}, {"price": "1,99"},
                                 {"price": "12.50 ABC"}, {"price": "NaN"}]),
        "sale_price:bad-money": Case(_ok({"sale_price": "20.00"}),
                                     [{"sale_price": "0"}, {"sale_price": "20,00"}]),
        "sale_price_effective_date:bad-date-range": Case(
            _ok({"sale_price_effective_date": GOOD_DATES}),
            [{"sale_price_effective_date": "November"}]),
        "sale_price_effective_date:bad-date-range-format": Case(
            _ok({"sale_price_effective_date": "2026-11-01T00:00-0800/2026-11-30T23:59-0800"}),
            [{"sale_price_effective_date": "2026-11-01/2026-11-30"}]),
        "link:missing-required": Case(failing=[{"link": ""}]),
        "link:bad-url": Case(failing=[{"link": "shop.example.com/p/1"}]),
        "image_link:missing-required": Case(failing=[{"image_link": ""}]),
        "image_link:bad-url": Case(failing=[{"image_link": "/media/1.jpg"}]),
        "additional_image_link:bad-url": Case(_ok({"additional_image_link": _images(2)}),
                                              [{"additional_image_link": "img/2.jpg"}]),
        "brand:too-long": Case(_ok({"brand": "b" * 100}), [{"brand": "b" * 101}]),
        "gtin:bad-gtin": Case(_ok({"gtin": "4006381333931"}), [{"gtin": "4006381333932"}]),
        "commerce_tax_category:not-in-enum": Case(
            _ok({"commerce_tax_category": "fb_aprl_clothing"}),
            [{"commerce_tax_category": "FB_CLOTHES"}]),
        "item_group_id:too-long": Case(_ok({"item_group_id": "g" * 100, "color": "Red"}),
                                       [{"item_group_id": "g" * 101, "color": "Red"}]),
        "gender:not-in-enum": Case(_ok({"gender": "Female"}), [{"gender": "women"}]),
        "age_group:not-in-enum": Case(_ok({"age_group": "all_ages"}), [{"age_group": "baby"}]),
        "origin_country:not-in-enum": Case(_ok({"origin_country": "de"}),
                                           [{"origin_country": "Germany"}]),
        "quantity_to_sell_on_facebook:bad-quantity": Case(_ok({"quantity": "3"}),
                                                          [{"quantity": "2.5"}]),
        "brand:missing-identifier": Case(
            _ok({"brand": "", "mpn": "", "gtin": "4006381333931"}, {"brand": "", "mpn": "M-2"}),
            [{"brand": "", "mpn": "", "gtin": ""}]),
        "brand:commerce-identifiers": Case(_ok({"mpn": "", "gtin": "4006381333931"}),
                                           [{"mpn": ""}]),
        "item_group_id:variant-attribute-missing": Case(
            _ok({"item_group_id": "G1", "size": "M"}), [{"item_group_id": "G1"}]),
        "google_product_category:category-too-shallow": Case(
            _ok({"google_product_category": "Apparel & Accessories > Clothing"},
                {"google_product_category": "212"},
                {"google_product_category": "Apparel & Accessories",
                 "commerce_tax_category": "FB_APRL"}),
            [{"google_product_category": "Apparel & Accessories"}]),
        "commerce_tax_category:tax-category-outside-us": Case(
            _ok({"commerce_tax_category": "FB_APRL"}),
            [{"commerce_tax_category": "FB_APRL"}],
            target={"country": "US"}, fail_target={"country": "GB"}),
        "additional_image_link:too-many-images": Case(
            _ok({"additional_image_link": _images(10)}),
            [{"additional_image_link": _images(11)}]),
        "additional_image_link:additional-images-too-long": Case(
            _ok({"additional_image_link": _images(9, 200)}),
            [{"additional_image_link": _images(10, 210)}]),
    },
    "tiktok": {
        "sku_id:missing-required": Case(failing=[{"id": ""}]),
        "sku_id:format-char": Case(_ok({"id": "Café-1"}), [{"id": "TOTE\u200b1"}]),
        "sku_id:too-long": Case(_ok({"id": "S" * 50}), [{"id": "S" * 51}]),
        "title:missing-required": Case(failing=[{"title": ""}]),
        "title:emoji-in-title": Case(_ok({"title": "Café tote – 40 × 30 cm"}),
                                     [{"title": "Canvas tote 🎁"}, {"title": "Sunny tote ☀️"}]),
        "title:format-char": Case(failing=[{"title": "Canvas\u00adtote"}]),
        "title:promotional-text": Case(_ok({"title": "Wholesome canvas tote"}),
                                       [{"title": "Canvas tote, free shipping"},
                                        {"title": "High quality tote"}]),
        "title:promotional-text-possible": Case(_ok({"title": "Salerno canvas tote"}),
                                                [{"title": "Canvas tote on sale"}]),
        "title:too-long": Case(_ok({"title": "t" * 255}), [{"title": "t" * 256}]),
        "description:missing-required": Case(failing=[{"description": ""}]),
        "description:too-long": Case(_ok({"description": "d" * 5000}),
                                     [{"description": "d" * 5001}]),
        "availability:missing-required": Case(failing=[NO_AVAILABILITY]),
        "availability:not-in-enum": Case(_ok({"availability": "discontinued"},
                                             {"availability": "backorder"}),
                                         [{"availability": "maybe"}]),
        "condition:missing-required": Case(failing=[{"condition": ""}]),
        "condition:not-in-enum": Case(_ok({"condition": "refurbished"}),
                                      [{"condition": "like new"}]),
        "price:missing-required": Case(failing=[{"price": ""}]),
        "price:bad-money": Case(_ok({"price": "0"}, {"price": "9.99 USD"}),
                                [{"price": "1,99"}, {"price": "-1"}, {"price": "12.50 ABC"},
                                 {"price": "inf"}]),
        "price:zero-price": Case(_ok({"price": "0.50"}), [{"price": "0"}]),
        "link:missing-required": Case(failing=[{"link": ""}]),
        "link:bad-url": Case(failing=[{"link": "shop.example.com/p/1"}]),
        "image_link:missing-required": Case(failing=[{"image_link": ""}]),
        "image_link:bad-url": Case(failing=[{"image_link": "/media/1.jpg"}]),
        "image_link:image-format": Case(_ok({"image_link": "https://cdn.example.com/1.png?v=2"},
                                            {"image_link": "https://cdn.example.com/1.JPEG"}),
                                        [{"image_link": "https://cdn.example.com/1.webp"}]),
        "brand:missing-required": Case(failing=[{"brand": ""}]),
        "additional_image_link:bad-url": Case(_ok({"additional_image_link": _images(2)}),
                                              [{"additional_image_link": "img/2.jpg"}]),
        "sale_price:bad-money": Case(_ok({"sale_price": "10.00"}), [{"sale_price": "0"}]),
        "sale_price_effective_date:bad-date-range": Case(
            _ok({"sale_price_effective_date": GOOD_DATES}),
            [{"sale_price_effective_date": "soon"}]),
        "gtin:bad-gtin": Case(_ok({"gtin": "4006381333931"}), [{"gtin": "123"}]),
        "additional_image_link:too-many-images": Case(
            _ok({"additional_image_link": _images(10)}),
            [{"additional_image_link": _images(11)}]),
    },
    "pinterest": {
        "id:missing-required": Case(failing=[{"id": ""}]),
        "id:too-long": Case(_ok({"id": "I" * 127}), [{"id": "I" * 128}]),
        "title:missing-required": Case(failing=[{"title": ""}]),
        "title:too-long": Case(_ok({"title": "t" * 500}), [{"title": "t" * 501}]),
        "description:missing-required": Case(failing=[{"description": ""}]),
        "description:too-long": Case(_ok({"description": "d" * 10000}),
                                     [{"description": "d" * 10001}]),
        "link:missing-required": Case(failing=[{"link": ""}]),
        "link:too-long": Case(_ok({"link": "https://shop.example.com/" + "p" * 486}),
                              [{"link": "https://shop.example.com/" + "p" * 487}]),
        "link:bad-url": Case(failing=[{"link": "shop.example.com/p/1"}]),
        "image_link:missing-required": Case(failing=[{"image_link": ""}]),
        "image_link:bad-url": Case(failing=[{"image_link": "/media/1.jpg"}]),
        "image_link:too-long": Case(_ok({"image_link": "https://cdn.example.com/" + "i" * 1976}),
                                    [{"image_link": "https://cdn.example.com/" + "i" * 1977}]),
        "image_link:comma-in-image-link": Case(
            _ok({"image_link": "https://cdn.example.com/a%2Cb.jpg"}),
            [{"image_link": "https://cdn.example.com/a,b.jpg"}]),
        "image_link:placeholder-image": Case(
            failing=[{"image_link": "https://cdn.example.com/placeholder.jpg"},
                     {"image_link": "https://cdn.example.com/PALLMANN_dummy_1.png"}]),
        "price:missing-required": Case(failing=[{"price": ""}]),
        "price:bad-money": Case(_ok({"price": "24.99USD"}),
                                [{"price": "1,99"}, {"price": "-1"}, {"price": "NaN"}]),
        "price:price-without-currency": Case(failing=[{"currency": ""}]),
        "price:zero-price": Case(_ok({"price": "0.50"}), [{"price": "0"}, {"price": "0 EUR"}]),
        "price_currency:unknown-currency": Case(_ok({"price": "40 EUR"}, {"currency": ""}),
                                                [{"price": "12.50 ABC"}]),
        "availability:missing-required": Case(failing=[NO_AVAILABILITY]),
        "availability:not-in-enum": Case(_ok({"availability": "preorder"}),
                                         [{"availability": "backorder"}]),
        "additional_image_link:bad-url": Case(_ok({"additional_image_link": _images(2)}),
                                              [{"additional_image_link": "img/2.jpg"}]),
        "additional_image_link:too-long": Case(
            _ok({"additional_image_link": _images(1, 2000)}),
            [{"additional_image_link": _images(1, 2001)}]),
        "sale_price:bad-money": Case(_ok({"sale_price": "30.00"}), [{"sale_price": "1,99"}]),
        "sale_price_effective_date:bad-date-range": Case(
            _ok({"sale_price_effective_date": "2026-11-01T00:00Z/2026-11-30T23:59Z"}),
            [{"sale_price_effective_date": "all of November"}]),
        "condition:missing-condition": Case(failing=[{"condition": ""}]),
        "condition:not-in-enum": Case(_ok({"condition": "Refurbished"}),
                                      [{"condition": "like new"}]),
        "gtin:bad-gtin": Case(_ok({"gtin": "4006381333931"}), [{"gtin": "4006381333932"}]),
        "product_type:too-long": Case(_ok({"product_type": "p" * 1000}),
                                      [{"product_type": "p" * 1001}]),
        "product_type:bad-category-separator": Case(
            _ok({"product_type": "Home & Garden > Decor"}),
            [{"product_type": "Home & Garden>Decor"}]),
        "item_group_id:too-long": Case(_ok({"item_group_id": "g" * 127}),
                                       [{"item_group_id": "g" * 128}]),
        "size_type:not-in-enum": Case(_ok({"size_type": "big and tall"}),
                                      [{"size_type": "huge"}]),
        "size_system:not-in-enum": Case(_ok({"size_system": "mex"}), [{"size_system": "XX"}]),
        "gender:not-in-enum": Case(_ok({"gender": "unisex"}), [{"gender": "women"}]),
        "age_group:not-in-enum": Case(_ok({"age_group": "kids"}), [{"age_group": "teen"}]),
        "shipping:too-many-shipping-groups": Case(
            _ok({"shipping": "US::Standard:4.95 USD,CA::Standard:9.95 USD"}),
            [{"shipping": "US::Standard:4.95 USD,CA::Standard:9.95 USD"}],
            target={"country": "us"}, fail_target={}),
        "shipping:bad-shipping": Case(_ok({"shipping": "US:NY:Standard:0 USD"},
                                          {"shipping": ":::4.95"}),
                                      [{"shipping": "US:Standard:4.95 USD"}]),
        "tax:bad-tax": Case(_ok({"tax": "US:CA:8.25:yes"}), [{"tax": "US:8.25"}]),
        **{f"custom_label_{n}:too-long": Case(_ok({f"custom_label_{n}": "l" * 511}),
                                              [{f"custom_label_{n}": "l" * 512}])
           for n in range(5)},
        "sale_price:sale-price-not-below-price": Case(_ok({"sale_price": "39.99"}),
                                                      [{"sale_price": "40.00"},
                                                       {"sale_price": "45"}]),
        "sale_price:inconsistent-currency": Case(_ok({"sale_price": "30.00"}),
                                                 [{"sale_price": "30.00 EUR"}]),
        "additional_image_link:too-many-images": Case(
            _ok({"additional_image_link": _images(10)}),
            [{"additional_image_link": _images(11)}]),
    },
    "amazon": {
        "sku:missing-required": Case(failing=[{"id": ""}]),
        "sku:too-long": Case(_ok({"id": "S" * 40}), [{"id": "S" * 41}]),
        "item_name:missing-required": Case(failing=[{"title": ""}]),
        "externally_assigned_product_identifier:bad-gtin": Case(
            _ok({"gtin": "4006381333931"}, {"gtin": "0 12345 67890 5"}),
            [{"gtin": "4006381333932"}, {"gtin": "12345"}]),
        "condition_type:missing-required": Case(failing=[{"condition": ""}]),
        "condition_type:not-in-enum": Case(_ok({"condition": "used_good"},
                                               {"condition": "Refurbished"}),
                                           [{"condition": "used"}]),
        "purchasable_offer:missing-required": Case(failing=[{"price": ""}]),
        "purchasable_offer:bad-money": Case(_ok({"price": "0.01"}),
                                            [{"price": "0"}, {"price": "1,99"},
                                             {"price": "12.50 ABC"}]),
        "fulfillment_availability:missing-quantity": Case(
            _ok({"quantity": "", "availability": "out_of_stock"}),
            [{"quantity": "", "availability": "in_stock"}]),
        "fulfillment_availability:bad-quantity": Case(_ok({"quantity": "0"}),
                                                      [{"quantity": "2.5"}]),
        "main_product_image_locator:bad-url": Case(
            failing=[{"image_link": "https://cdn.example.com/bild-groß.jpg"},
                     {"image_link": "/media/1.jpg"}]),
        "other_product_image_locator:bad-url": Case(_ok({"additional_image_link": _images(2)}),
                                                    [{"additional_image_link": "img/2.jpg"}]),
        "other_product_image_locator:too-many-images": Case(
            _ok({"additional_image_link": _images(8)}),
            [{"additional_image_link": _images(9)}]),
    },
}


def rule_severities(channel: str) -> dict[str, str]:
    """``field:code`` -> severity for every rule and item check of a channel folder."""
    spec = ChannelLibrary().load(channel)
    found: dict[str, str] = {}
    for spec_field in spec.fields.values():
        for rule in spec_field.rules:
            key = f"{spec_field.name}:{rule.code or CHECKS[rule.check].code}"
            assert key not in found, f"{channel}: two rules report {key}"
            found[key] = rule.severity
    for check in spec.checks:
        key = f"{check.field}:{check.code}"
        assert key not in found, f"{channel}: two rules report {key}"
        found[key] = check.severity
    return found


@pytest.mark.parametrize("channel", sorted(CASES))
def test_every_rule_has_examples(channel: str) -> None:
    rules = set(rule_severities(channel))
    cases = CASES[channel]
    assert sorted(rules - set(cases)) == [], "add passing and failing examples for these rules"
    assert sorted(set(cases) - rules) == [], "these examples name no rule of the folder"
    for key, case in cases.items():
        assert case.passing and case.failing, key
    wrong = {key: (found, expected_severity(channel, key))
             for key, found in rule_severities(channel).items()
             if found != expected_severity(channel, key)}
    assert wrong == {}, "severity (folder, channel's page) differs"


def _config(channel: str, target: dict[str, str], tmp_path: Path) -> Any:
    settings: dict[str, Any] = {"target": target} if target else {}
    if channel == "amazon":
        types = tmp_path / "types.csv"
        types.write_text("key,amazon_product_type\n*,SHIRT\n", encoding="utf-8")
        settings["options"] = {"listings": {
            "seller_id": "A1EXAMPLE0SELLER", "marketplace_id": "ATVPDKIKX0DER",
            "language_tag": "en_US", "product_types_file": str(types)}}
    return parse_config({"channels": {channel: settings}})


def _runs(channel: str) -> dict[tuple[tuple[str, str], ...], list[tuple[str, bool, Row]]]:
    """Rows grouped by the target they are built for: (rule, passing?, row)."""
    runs: dict[tuple[tuple[str, str], ...], list[tuple[str, bool, Row]]] = defaultdict(list)
    for key, case in CASES[channel].items():
        fail_target = case.target if case.fail_target is None else case.fail_target
        for passing, rows, target in ((True, case.passing, case.target),
                                      (False, case.failing, fail_target)):
            for n, overrides in enumerate(rows):
                row = {**BASE[channel], "id": f"{'P' if passing else 'F'}{n}-{key}",
                       **overrides}
                runs[tuple(sorted(target.items()))].append((key, passing, row))
    return runs


@pytest.mark.parametrize("channel", sorted(CASES))
def test_each_rule_passes_and_fails_as_its_examples_say(channel: str, tmp_path: Path) -> None:
    problems: list[str] = []
    for number, (target, rows) in enumerate(_runs(channel).items()):
        folder = tmp_path / str(number)
        folder.mkdir()
        columns = list(dict.fromkeys([*COLUMNS, *(c for _, _, row in rows for c in row)]))
        catalog = write_csv(folder / "catalog.csv", [row for _, _, row in rows], columns)
        report = build(catalog, [channel], folder / "out", _config(channel, dict(target),
                                                                     folder))
        log = report.channels[0].issue_log
        assert log is not None
        by_line: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for issue in read_issues(Path(log)):
            by_line[issue["line"]].append(issue)
        for line, (key, passing, row) in enumerate(rows, start=2):
            field_name, code = key.split(":")
            mine = [i for i in by_line[line] if (i["field"], i["code"]) == (field_name, code)]
            errors = [i["code"] for i in by_line[line] if i["severity"] == "error"]
            shown = {k: v[:40] for k, v in row.items() if BASE[channel].get(k) != v}
            label = f"{channel} {key} {'pass' if passing else 'fail'} {shown}"
            if passing and (mine or errors):
                problems.append(f"{label}: {[i['code'] for i in mine] or errors}")
            elif not passing and [i["severity"] for i in mine] != [
                    expected_severity(channel, key)]:
                problems.append(f"{label}: expected one {expected_severity(channel, key)}, got "
                                f"{[(i['code'], i['severity']) for i in by_line[line]]}")
    assert problems == []
