"""Every rule of the google, microsoft and google_local_inventory folders, by example.

For each rule (a field rule, named by field and issue code, or an item check) the table
below holds one product that passes it and one that breaks it. Each channel's products
are built in one real run per target country (catalog and store files on disk, the
library's ``build``); the broken product must carry the rule's code on the rule's field
at the severity its channel file gives, and the passing one must carry no error at all.
``test_every_rule_has_examples`` fails when a rule is added without a pair (or a pair
names a rule that no longer exists), so a new rule cannot land untested.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from feedsync import build
from feedsync.channels.loader import ChannelLibrary
from feedsync.config import parse_config
from feedsync.rules.checks import CHECKS
from tests.helpers import good_row, read_issues


@dataclass(frozen=True)
class Case:
    """One rule: ``good`` overrides make a product pass it, ``bad`` ones break it."""

    field: str
    code: str
    good: Mapping[str, str]
    bad: Mapping[str, str]
    country: str = ""
    store: Mapping[str, str] = dataclasses.field(default_factory=dict)  # store row
    bad_store: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _gtin(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


GTINS = [_gtin(f"400638133{i:03d}") for i in range(11)]
IMAGES = ",".join(f"https://cdn.example.com/x-{i}.jpg" for i in range(11))
APPAREL = {"google_product_category": "212", "color": "Navy", "gender": "male",
           "age_group": "adult", "size": "M"}
LONG = "x" * 2001

GOOGLE: list[Case] = [
    Case("id", "missing-required", {}, {"id": ""}),
    Case("id", "too-long", {"id": "A" * 50}, {"id": "A" * 51}),
    Case("title", "missing-required", {"title": "", "structured_title": "default:Blue shirt"},
         {"title": "", "structured_title": ""}),
    Case("title", "too-long", {"title": "t" * 150}, {"title": "t" * 151}),
    Case("title", "private-use-char", {"title": "Shirt ©"}, {"title": "Shirt \ue000"}),
    Case("title", "promotional-text", {"title": "Cotton shirt"},
         {"title": "Cotton shirt free shipping"}),
    Case("title", "all-caps", {"title": "Cotton Shirt Classic"},
         {"title": "COTTON SHIRT CLASSIC"}),
    Case("title", "placeholder-text", {"title": "Linen shirt"}, {"title": "Lorem ipsum shirt"}),
    Case("structured_title", "bad-structured-title",
         {"structured_title": "trained_algorithmic_media:Stride & Conquer: Men's Shoes"},
         {"structured_title": "ai:Men's shoes"}),
    Case("description", "missing-required",
         {"description": "", "structured_description": "default:Soft cotton."},
         {"description": "", "structured_description": ""}),
    Case("description", "too-long", {"description": "d" * 5000}, {"description": "d" * 5001}),
    Case("description", "private-use-char", {"description": "Soft."},
         {"description": "Soft \uf8ff."}),
    Case("structured_description", "bad-structured-description",
         {"structured_description": "trained_algorithmic_media:A soft: cotton shirt."},
         {"structured_description": "default:" + "d" * 5001}),
    Case("link", "missing-required", {}, {"link": ""}),
    Case("link", "bad-url", {"link": "https://shop.example.com/p/caf%C3%A9"},
         {"link": "https://shop.example.com/p/café"}),
    Case("link", "too-long", {"link": "https://shop.example.com/" + "p" * 1975},
         {"link": "https://shop.example.com/" + "p" * 1976}),
    Case("image_link", "missing-required", {}, {"image_link": ""}),
    Case("image_link", "bad-url", {}, {"image_link": "/media/x.jpg"}),
    Case("image_link", "too-long", {"image_link": "https://cdn.example.com/" + "i" * 1976},
         {"image_link": "https://cdn.example.com/" + "i" * 1977}),
    Case("additional_image_link", "bad-url",
         {"additional_image_link": ",".join(IMAGES.split(",")[:3])},
         {"additional_image_link": "https://cdn.example.com/a.jpg,media/b.jpg"}),
    Case("additional_image_link", "too-long",
         {"additional_image_link": "https://cdn.example.com/" + "a" * 1976},
         {"additional_image_link": "https://cdn.example.com/" + "a" * 1977}),
    Case("availability", "missing-required", {"availability": "", "quantity": "3"},
         {"availability": "", "quantity": ""}),
    Case("availability", "not-in-enum", {"availability": "In Stock"},
         {"availability": "available"}),
    Case("availability_date", "bad-date", {"availability_date": "2026-12-25T13:00-0800"},
         {"availability_date": "next week"}),
    Case("availability_date", "too-long", {"availability_date": "2026-12-25T13:00:00-08:00"},
         {"availability_date": "2026-12-25T13:00:00.5-08:00"}),
    Case("availability_date", "date-too-far-ahead", {"availability_date": "2027-11-30T00:00Z"},
         {"availability_date": "2028-01-01T00:00Z"}),
    Case("price", "missing-required", {}, {"price": ""}),
    Case("price", "bad-money", {"price": "15.00", "currency": "GBP"},
         {"price": "0", "currency": "GBP"}),
    Case("sale_price", "bad-money", {"sale_price": "10.00"}, {"sale_price": "nan"}),
    Case("sale_price_effective_date", "bad-date-range",
         {"sale_price_effective_date": "2016-02-24T13:00-0800/2016-02-29T15:30-0800"},
         {"sale_price_effective_date": "2016-02-24T13:00-0800"}),
    Case("sale_price_effective_date", "too-long",
         {"sale_price_effective_date": "2016-02-24T13:00:00-08:00/2016-02-29T15:30:00-08:00"},
         {"sale_price_effective_date": "2016-02-24T13:00:00.5-08:00/2016-02-29T15:30:00-08:00"}),
    Case("unit_pricing_measure", "bad-unit-pricing-measure",
         {"unit_pricing_measure": "1.5kg"}, {"unit_pricing_measure": "1.5 kilos"}),
    Case("unit_pricing_base_measure", "bad-unit-pricing-base-measure",
         {"unit_pricing_base_measure": "100 g"}, {"unit_pricing_base_measure": "0.5 g"}),
    Case("product_type", "too-long", {"product_type": "Home > Decor, " + "p" * 750},
         {"product_type": "p" * 751}),
    Case("brand", "too-long", {"brand": "b" * 70}, {"brand": "b" * 71}),
    Case("gtin", "bad-gtin", {"gtin": "4006-3813 33931"}, {"gtin": "4006381333932"}),
    Case("gtin", "gtin-coupon-range", {"gtin": "9781455582341"},  # an ISBN: 978 is no coupon
         {"gtin": _gtin("981234567890")}),
    Case("gtin", "gtin-restricted-range", {"gtin": _gtin("00000012345")},  # a UPC-A
         {"gtin": _gtin("041234567890")}),
    Case("gtin", "too-many-values", {"gtin": ", ".join(GTINS[:10])},
         {"gtin": ", ".join(GTINS)}),
    Case("mpn", "too-long", {"mpn": "m" * 70}, {"mpn": "m" * 71}),
    Case("identifier_exists", "not-in-enum", {"identifier_exists": "FALSE", "gtin": ""},
         {"identifier_exists": "maybe"}),
    Case("condition", "not-in-enum", {"condition": "Refurbished"}, {"condition": "mint"}),
    Case("adult", "not-in-enum", {"adult": "no"}, {"adult": "perhaps"}),
    Case("multipack", "pattern-mismatch", {"multipack": "6"}, {"multipack": "0"}),
    Case("is_bundle", "not-in-enum", {"is_bundle": "yes"}, {"is_bundle": "bundle"}),
    Case("certification", "bad-certification", {"certification": "EC:EPREL:123456"},
         {"certification": "EPREL 123456"}),
    Case("age_group", "not-in-enum", {"age_group": "kids"}, {"age_group": "teen"}),
    Case("gender", "not-in-enum", {"gender": "female"}, {"gender": "women"}),
    Case("color", "too-long", {"color": "/".join(["c" * 32] * 3)},          # 98 characters
         {"color": "/".join(["c" * 32] * 3) + "/ccc"}),
    Case("color", "color-too-long", {"color": "Red/" + "g" * 40}, {"color": "Red/" + "g" * 41}),
    Case("color", "color-not-a-name", {"color": "Navy Blue"}, {"color": "multicolor"}),
    Case("size", "too-long", {"size": "s" * 100}, {"size": "s" * 101}),
    Case("size_type", "not-in-enum", {"size_type": "petite, maternity"},
         {"size_type": "slim"}),
    Case("size_type", "too-many-values", {"size_type": "big, tall"},
         {"size_type": "big, tall, plus"}),
    Case("size_system", "not-in-enum", {"size_system": "eu"}, {"size_system": "XX"}),
    Case("material", "too-long", {"material": "m" * 200}, {"material": "m" * 201}),
    Case("pattern", "too-long", {"pattern": "p" * 100}, {"pattern": "p" * 101}),
    Case("item_group_id", "too-long", {"item_group_id": "g" * 50}, {"item_group_id": "g" * 51}),
    Case("item_group_title", "too-long", {"item_group_title": "t" * 150, "item_group_id": "G"},
         {"item_group_title": "t" * 151, "item_group_id": "G"}),
    Case("variant_option", "bad-variant-option", {"variant_option": "Shoe width:wide,Size:10"},
         {"variant_option": "wide"}),
    Case("variant_option", "too-many-values",
         {"variant_option": ",".join(f"o{i}:v" for i in range(30))},
         {"variant_option": ",".join(f"o{i}:v" for i in range(31))}),
    Case("product_highlight", "too-long", {"product_highlight": "Quiet,Light"},
         {"product_highlight": "Quiet," + "h" * 151}),
    Case("product_highlight", "too-many-values",
         {"product_highlight": ",".join(f"h{i}" for i in range(100))},
         {"product_highlight": ",".join(f"h{i}" for i in range(101))}),
    Case("product_detail", "bad-product-detail",
         {"product_detail": "General:Product Type:Digital player,:Resolution:432 x 240"},
         {"product_detail": "Resolution 432 x 240"}),
    Case("product_detail", "too-many-values",
         {"product_detail": ",".join(f":n{i}:v" for i in range(1000))},
         {"product_detail": ",".join(f":n{i}:v" for i in range(1001))}),
    Case("shipping", "bad-shipping",
         {"shipping": "US:CA:Overnight:16.00 USD:1:1:2:3,US:94043:Ground:0 USD,CH:::9.90 CHF"},
         {"shipping": "US:CA:Overnight:16.00 USD:3:1"}),
    Case("shipping_handling_business_days", "bad-business-days",
         {"shipping_handling_business_days": "Mon-Fri"},
         {"shipping_handling_business_days": "Mon;Tuesday"}),
    Case("shipping_transit_business_days", "bad-business-days",
         {"shipping_transit_business_days": "M;T;W;R;F;S"},
         {"shipping_transit_business_days": "weekdays"}),
    Case("tax", "bad-tax", {"tax": "US:CA:8.75:yes"}, {"tax": "DE::19:no"}),
    Case("excluded_destination", "not-in-enum", {"excluded_destination": "Display_ads"},
         {"excluded_destination": "Buy on Google listings"}),
    *(Case(f"custom_label_{i}", "too-long", {f"custom_label_{i}": "l" * 100},
           {f"custom_label_{i}": "l" * 101}) for i in range(5)),
    # item checks
    Case("availability_date", "availability-date-required",
         {"availability": "preorder", "availability_date": "2027-01-10T09:00Z"},
         {"availability": "preorder"}),
    Case("sale_price", "sale-price-not-below-price", {"sale_price": "9.99"},
         {"sale_price": "12.50"}),
    Case("sale_price", "sale-price-currency-differs", {"sale_price": "9.99 USD"},
         {"sale_price": "9.99 EUR"}),
    Case("gtin", "missing-identifier", {"gtin": "", "mpn": "AC-1"}, {"gtin": "", "mpn": ""}),
    Case("identifier_exists", "identifier-exists-contradicts-gtin",
         {"identifier_exists": "no", "gtin": "", "mpn": ""}, {"identifier_exists": "no"}),
    Case("additional_image_link", "too-many-images",
         {"additional_image_link": IMAGES.rsplit(",", 1)[0]}, {"additional_image_link": IMAGES}),
    Case("color", "apparel-color-missing", APPAREL, {**APPAREL, "color": ""}, country="US"),
    Case("gender", "apparel-gender-missing",
         {**APPAREL, "google_product_category": "Apparel & Accessories > Clothing > Shirts & Tops"},
         {**APPAREL, "gender": "",
          "google_product_category": "Apparel & Accessories > Clothing > Shirts & Tops"},
         country="US"),
    Case("age_group", "apparel-age-group-missing",
         {**APPAREL, "google_product_category": "Apparel & Accessories > Jewelry > Rings",
          "size": ""},
         {**APPAREL, "google_product_category": "188", "age_group": ""}, country="US"),
    Case("size", "apparel-size-missing",
         {**APPAREL, "google_product_category": "169", "size": ""},  # belts: no size needed
         {**APPAREL, "google_product_category": "187", "size": ""}, country="US"),
    Case("color", "apparel-attributes-missing", APPAREL,
         {**APPAREL, "google_product_category": "5598", "color": "", "gender": ""}),
    Case("condition", "condition-missing-for-used",
         {"title": "Used camera body", "condition": "used"},
         {"title": "Used camera body", "condition": ""}),
    Case("certification", "energy-efficiency-class-replaced",
         {"energy_efficiency_class": "A", "certification": "EC:EPREL:123456"},
         {"energy_efficiency_class": "A"}),
    Case("product_highlight", "product-highlight-too-few",
         {"product_highlight": "Quiet,Light"}, {"product_highlight": "Quiet"}),
    Case("item_group_title", "item-group-title-without-id",
         {"item_group_title": "Crew tee", "item_group_id": "TS-1"},
         {"item_group_title": "Crew tee"}),
]

# Microsoft is Google's rules plus its own: the same table, but for its differences.
MICROSOFT: list[Case] = [
    *(c for c in GOOGLE if (c.field, c.code) not in {("description", "too-long"),
                                                     ("product_type", "too-long")}),
    Case("description", "too-long", {"description": "d" * 10000},
         {"description": "d" * 10001}),
    Case("product_type", "too-long", {"product_type": "p" * 750}, {"product_type": "p" * 751}),
    Case("shipping", "shipping-required", {"shipping": "DE::Standard:4.90 EUR"},
         {"shipping": ""}, country="DE"),
    Case("product_type", "product-type-single-value", {"product_type": "Home > Decor"},
         {"product_type": "Home > Decor, Garden"}),
]

LOCAL: list[Case] = [
    Case("store_code", "missing-required", {}, {}, store={"store_code": "S1"},
         bad_store={"store_code": ""}),
    Case("id", "missing-required", {}, {"id": ""}),
    Case("id", "too-long", {"id": "A" * 50}, {"id": "A" * 51}),
    Case("quantity", "bad-quantity", {}, {}, store={"quantity": "0"},
         bad_store={"quantity": "-1"}),
    Case("availability", "missing-required", {}, {},
         store={"quantity": "", "availability": "limited availability"},
         bad_store={"quantity": "", "availability": ""}),
    Case("availability", "not-in-enum", {}, {}, store={"quantity": "", "availability":
                                                        "on_display_to_order"},
         bad_store={"quantity": "", "availability": "maybe"}),
    Case("price", "bad-money", {}, {}, store={"price": "22.00"},
         bad_store={"price": "22,00"}),
    Case("pickup_method", "not-in-enum", {}, {}, store={"pickup_method": "ship_to_store"},
         bad_store={"pickup_method": "drone"}),
    Case("pickup_sla", "not-in-enum", {}, {}, store={"pickup_sla": "same day"},
         bad_store={"pickup_sla": "tomorrow"}),
    Case("instore_product_location", "too-long", {}, {},
         store={"instore_product_location": "l" * 20},
         bad_store={"instore_product_location": "l" * 21}),
    Case("pickup_sla", "pickup-method-without-sla", {}, {},
         store={"pickup_method": "buy", "pickup_sla": "next_day"},
         bad_store={"pickup_method": "buy", "pickup_sla": ""}),
]

TABLES = {"google": GOOGLE, "microsoft": MICROSOFT, "google_local_inventory": LOCAL}
STORE_COLUMNS = ["store_code", "id", "quantity", "availability", "price", "pickup_method",
                 "pickup_sla", "instore_product_location"]


def _rules(channel: str) -> dict[tuple[str, str], str]:
    """(field, code) -> severity of every rule and item check of a channel folder."""
    spec = ChannelLibrary().load(channel)
    rules: dict[tuple[str, str], str] = {}
    for spec_field in spec.fields.values():
        for rule in spec_field.rules:
            key = (spec_field.name, rule.code or CHECKS[rule.check].code)
            assert key not in rules, f"{channel}: two rules named {key}"
            rules[key] = rule.severity
    for check in spec.checks:
        key = (check.field or "", check.code)
        assert key not in rules, f"{channel}: two rules named {key}"
        rules[key] = check.severity
    return rules


@pytest.mark.parametrize("channel", sorted(TABLES))
def test_every_rule_has_examples(channel: str) -> None:
    cases = [(c.field, c.code) for c in TABLES[channel]]
    assert len(cases) == len(set(cases)), "a rule has two example pairs"
    assert set(cases) == set(_rules(channel)), (
        f"rules without examples: {sorted(set(_rules(channel)) - set(cases))}; "
        f"examples without a rule: {sorted(set(cases) - set(_rules(channel)))}")


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
    return path


def _run(channel: str, tmp_path: Path, rows: list[dict[str, str]], country: str,
         stock: list[dict[str, str]] | None) -> dict[str, set[tuple[str, str, str]]]:
    """Build ``rows``: the (code, field, severity) of each finding, by product id."""
    catalog = _write(tmp_path / "catalog.csv", rows)
    settings: dict[str, Any] = {"target": {"country": country}} if country else {}
    if stock is not None:
        settings["stock"] = {"path": str(_write(tmp_path / "stores.csv", stock))}
    config = parse_config({"defaults": {"currency": "USD"}, "channels": {channel: settings}})
    report = build(catalog, [channel], tmp_path / "out", config)
    log = report.channels[0].issue_log
    assert log is not None
    found: dict[str, set[tuple[str, str, str]]] = {}
    for issue in read_issues(Path(log)):
        found.setdefault(issue["product_id"], set()).add(
            (issue["code"], issue["field"], issue["severity"]))
    return found


def _product(index: int, overrides: Mapping[str, str]) -> dict[str, str]:
    row = good_row(f"P-{index}")
    row.update(overrides)
    return row


def _store_row(product_id: str, case: Case, bad: bool) -> dict[str, str]:
    row = {"store_code": "S1", "id": product_id, "quantity": "3"}
    row.update(case.store)
    if bad:
        row.update(case.bad_store)
    return row


@pytest.mark.parametrize("channel", sorted(TABLES))
def test_each_rule_passes_its_good_example_and_fails_its_bad_one(channel: str,
                                                                 tmp_path: Path) -> None:
    rules = _rules(channel)
    local = channel == "google_local_inventory"
    cases = TABLES[channel]
    for country in sorted({c.country for c in cases}):
        chosen = [(i, c) for i, c in enumerate(cases) if c.country == country]
        for bad in (False, True):
            where = tmp_path / f"{country or 'none'}-{'bad' if bad else 'good'}"
            where.mkdir()
            rows = [_product(i, c.bad if bad else c.good) for i, c in chosen]
            assert len({r["id"] for r in rows}) == len(rows)
            stock = ([_store_row(r["id"], c, bad) for r, (_, c) in zip(rows, chosen,
                                                                          strict=True)]
                     if local else None)
            found = _run(channel, where, rows, country, stock)
            for row, (_, case) in zip(rows, chosen, strict=True):
                issues = found.get(row["id"], set())
                name = f"{channel} {case.field}/{case.code} ({'bad' if bad else 'good'})"
                if not bad:
                    assert not {x for x in issues if x[2] == "error"}, (name, issues)
                    assert not {x for x in issues if x[:2] == (case.code, case.field)}, name
                elif not _dropped_by_reader(case, local):
                    expected = (case.code, case.field, rules[(case.field, case.code)])
                    assert expected in issues, (name, issues)


def _dropped_by_reader(case: Case, local: bool) -> bool:
    """A store row without a store code or an id never reaches the channel's rules: the
    stock reader counts it as a problem (tests/test_channels_local_inventory.py)."""
    return local and (case.bad_store.get("store_code") == "" or case.bad.get("id") == "")
