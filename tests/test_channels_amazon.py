"""The Amazon channel: an SP-API JSON_LISTINGS_FEED, channel_templates/amazon/.

Every feed written here is loaded whole and validated with jsonschema against Amazon's own
schemas (listings-feed-schema-v2.json for the document, listings-feed-message-schema-v2.json
for each message), on real files, through the library and the CLI. The delta tests build
twice into one output directory and read what the second build sends.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from feedsync import build, validate
from feedsync.channels.loader import builtin_templates_dir
from feedsync.config import parse_config
from feedsync.errors import ConfigError, ExitCode, GateRefused
from feedsync.pipeline import prepare_run
from feedsync.report import RunReport
from feedsync.writers import WRITERS, Column, ItemRejected, Layout
from feedsync.writers import amazon as amazon_writer
from tests.helpers import (
    EXAMPLES,
    error_line,
    read_issues,
    run_cli,
    snapshot,
    temp_files,
    write_config,
    write_csv,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "channel_templates" / "amazon"
SPECS = Path(os.environ.get("FEEDSYNC_SHARED", "/work/shared")) / "specs" / "amazon"
GOLDEN = Path(__file__).resolve().parent / "golden" / "amazon"
FEED = "amazon-listings.json"
SIDECAR = ".feedsync-amazon-amazon.sqlite"
SELLER = {"seller_id": "A1EXAMPLE0SELLER", "marketplace_id": "ATVPDKIKX0DER",
          "language_tag": "en_US"}
KEY = "channels.amazon.options.listings"


def _schema(name: str) -> Any:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


FEED_SCHEMA = _schema("listings-feed-schema-v2.json")
MESSAGE_SCHEMA = _schema("listings-feed-message-schema-v2.json")


def _raw(options: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    listings = {**SELLER, **(options or {})}
    return {"defaults": {"currency": "USD"},
            "channels": {"amazon": {"options": {"listings": listings}}}, **extra}


def _build(catalog: Path, out: Path, options: Mapping[str, Any] | None = None,
           **extra: Any) -> RunReport:
    report = build(catalog, ["amazon"], out, parse_config(_raw(options, **extra)))
    channel = report.channels[0]
    assert channel.written + channel.rejected == report.products_read
    return report


def _document(path: Path) -> dict[str, Any]:
    """The whole feed, loaded at once, after checking it as Amazon would."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    FEED_SCHEMA.validate(document)
    for message in document["messages"]:
        MESSAGE_SCHEMA.validate(message)
    ids = [m["messageId"] for m in document["messages"]]
    assert ids == list(range(1, len(ids) + 1))
    return document


def _messages(out: Path) -> dict[str, dict[str, Any]]:
    messages = _document(out / FEED)["messages"]
    by_sku = {m["sku"]: m for m in messages}
    assert len(by_sku) == len(messages), "a SKU appears twice in one feed"
    return by_sku


def _errors(report: RunReport) -> dict[str, set[str]]:
    log = report.channels[0].issue_log
    assert log is not None
    found: dict[str, set[str]] = defaultdict(set)
    for issue in read_issues(Path(log)):
        if issue["severity"] == "error":
            found[issue["product_id"]].add(issue["code"])
    return dict(found)


def _issues(report: RunReport, code: str) -> list[dict[str, Any]]:
    log = report.channels[0].issue_log
    assert log is not None
    return [i for i in read_issues(Path(log)) if i["code"] == code]


def _row(product_id: str, **overrides: str) -> dict[str, str]:
    row = {"id": product_id, "title": f"Plain cotton shirt {product_id}",
           "description": "A soft shirt.", "link": f"https://shop.example.com/p/{product_id}",
           "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "12.50",
           "currency": "USD", "availability": "in_stock", "quantity": "5", "brand": "Acme",
           "condition": "new", "color": "Blue", "size": "M",
           "product_type": "Apparel & Accessories > Clothing > Shirts & Tops"}
    row.update(overrides)
    return row


SHIRTS = [_row(f"SH-{n}") for n in range(1, 7)]


# --- the example catalog ------------------------------------------------------------------

# What the example catalog loses in the Amazon feed, and why. Everything else is written.
EXPECTED_REJECTIONS = {
    "GIFT-CARD-50": {"amazon-no-product-type"},   # no row for "Gift Cards": deliberately
    "BAD-GTIN-1": {"bad-gtin"},                   # GS1 check digit
    "NO-PRICE-1": {"missing-required"},           # purchasable_offer
    "COMMA-PRICE-1": {"bad-money"},               # "1,99"
    "CAM-USED-3": {"not-in-enum"},                # "used" has no Amazon grade
    "CAPS-1": {"amazon-no-product-type"},         # rows with no category at all
    "NO-IMAGE-1": {"amazon-no-product-type"},
    "LONG-TITLE-1": {"amazon-no-product-type"},
    "BAD-AVAIL-1": {"amazon-no-product-type"},
    "NO-IDS-1": {"amazon-no-product-type"},
    "TEMPLATE-TEXT-1": {"amazon-no-product-type"},
}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunReport]:
    out = tmp_path_factory.mktemp("amazon")
    return out, _build(EXAMPLES, out)


def test_example_feed_validates_against_amazons_schemas(
        example_build: tuple[Path, RunReport]) -> None:
    out, report = example_build
    document = _document(out / FEED)
    assert document["header"] == {"sellerId": "A1EXAMPLE0SELLER", "version": "2.0",
                                  "issueLocale": "en_US"}
    assert {m["operationType"] for m in document["messages"]} == {"UPDATE"}  # first build
    assert report.channels[0].written == len(document["messages"]) == 23


def _broken(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of ``message`` that Amazon's message schema must refuse, one fault each."""
    without_sku = {k: v for k, v in message.items() if k != "sku"}
    return [without_sku, {**message, "operationType": "REPLACE"},
            {**message, "messageId": "one"}, {**message, "attributes": ["item_name"]},
            {**message, "sku": ""}, {**message, "productType": 7}]


def test_the_fast_schema_check_agrees_with_jsonschema(
        example_build: tuple[Path, RunReport]) -> None:
    """jsonschema-rs decides first (writers/amazon.py): it must accept and refuse exactly
    what jsonschema does, on every example message and on broken copies of each."""
    fast, full = amazon_writer.fast_message_validator(), amazon_writer.message_validator()
    out, _ = example_build
    messages = _document(out / FEED)["messages"]
    for message in messages:
        assert fast.is_valid(message) and full.is_valid(message)
        for broken in _broken(message):
            assert not full.is_valid(broken), broken
            assert not fast.is_valid(broken), broken
    assert len(messages) == 23


def test_example_catalog_rejects_exactly_what_amazon_cannot_take(
        example_build: tuple[Path, RunReport]) -> None:
    out, report = example_build
    errors = _errors(report)
    assert errors.pop("MUG-350") == {"duplicate-id"}   # the second MUG-350 row only
    assert errors == EXPECTED_REJECTIONS
    written = list(_messages(out))
    assert "MUG-350" in written
    assert not set(written) & set(EXPECTED_REJECTIONS)
    gift = _issues(report, "amazon-no-product-type")
    gift_card = next(i for i in gift if i["product_id"] == "GIFT-CARD-50")
    assert gift_card["field"] == "product_type" and "'Gift Cards'" in gift_card["message"]
    assert gift_card["source"].startswith("https://developer-docs.amazon.com/")


def test_example_attributes_have_amazons_shapes(example_build: tuple[Path, RunReport]) -> None:
    out, _ = example_build
    messages = _messages(out)
    market, lang = "ATVPDKIKX0DER", "en_US"
    shirt = messages["TS-100-NAVY-S"]
    assert (shirt["productType"], shirt["requirements"]) == ("SHIRT", "LISTING")
    assert shirt["attributes"] == {
        "item_name": [{"value": "Organic Cotton Crew T-Shirt – Navy Blue, S",
                       "language_tag": lang, "marketplace_id": market}],
        "brand": [{"value": "Nordwind", "language_tag": lang, "marketplace_id": market}],
        "product_description": [{"value": "Soft organic cotton jersey, pre-shrunk.\n180 g/m²\n"
                                          "Machine wash 30 °C",
                                 "language_tag": lang, "marketplace_id": market}],
        "externally_assigned_product_identifier": [
            {"type": "ean", "value": "4006381300018", "marketplace_id": market}],
        "condition_type": [{"value": "new_new", "marketplace_id": market}],
        "purchasable_offer": [{"currency": "USD", "marketplace_id": market,
                               "our_price": [{"schedule": [{"value_with_tax": 24.0}]}]}],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 10}],
        "main_product_image_locator": [
            {"media_location": "https://cdn.example.com/images/crew-tee-navy.jpg",
             "marketplace_id": market}],
        "other_product_image_locator_1": [
            {"media_location": "https://cdn.example.com/images/crew-tee-back.jpg",
             "marketplace_id": market}],
        "other_product_image_locator_2": [
            {"media_location": "https://cdn.example.com/images/crew-tee-detail.jpg",
             "marketplace_id": market}],
        "color": [{"value": "Navy Blue", "language_tag": lang, "marketplace_id": market}],
        "size": [{"value": "S", "language_tag": lang, "marketplace_id": market}],
    }
    kettle = messages["KETTLE-1L"]["attributes"]
    assert kettle["externally_assigned_product_identifier"][0]["type"] == "upc"  # 12 digits
    assert kettle["fulfillment_availability"][0]["quantity"] == 0
    # Currency from the config's defaults when the row has none.
    kids = messages["RJ-KIDS-104"]["attributes"]["purchasable_offer"][0]
    assert kids["currency"] == "USD" and kids["our_price"][0]["schedule"][0] == {
        "value_with_tax": 59.9}
    pan = messages["PAN-28"]["attributes"]   # 12 extra images: 8 kept
    assert [k for k in pan if k.startswith("other_")] == [
        f"other_product_image_locator_{n}" for n in range(1, 9)]
    refurbished = messages["CHAIR-REFURB-7"]["attributes"]["condition_type"]
    assert refurbished == [{"value": "refurbished_refurbished", "marketplace_id": market}]
    # Empty values are left out (an UPDATE removes them on Amazon).
    assert "externally_assigned_product_identifier" not in messages["BOWL-HANDMADE"]["attributes"]


def test_golden_feed(tmp_path: Path) -> None:
    """Byte for byte, like tests/test_golden.py, with the settings Amazon needs.

    The config is test_golden.py's (every output, no defaults) plus the three settings
    the channel cannot run without, so that harness can share these files once it passes
    them. FEEDSYNC_UPDATE_GOLDEN=1 rewrites tests/golden/amazon/; read it before committing.
    """
    config = write_config(tmp_path / "feedsync.yaml", json.dumps(
        {"channels": {"amazon": {"outputs": ["listings"], "options": {"listings": SELLER}}}}))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("build", EXAMPLES, "--config", config, "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)["channels"]["amazon"]
    produced = {FEED: (out / FEED).read_bytes()}
    lines = sorted(f"{i['product_id']} {i['code']} {i['field']}"
                   for i in read_issues(Path(report["issue_log"])))
    produced["issues.txt"] = "".join(line + "\n" for line in lines).encode("utf-8")
    if os.environ.get("FEEDSYNC_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, data in produced.items():
            (GOLDEN / name).write_bytes(data)
        return
    for name, data in produced.items():
        if not (GOLDEN / name).is_file():
            pytest.fail(f"tests/golden/amazon/{name} is missing; run FEEDSYNC_UPDATE_GOLDEN=1 "
                        "python -m pytest tests/test_channels_amazon.py -k golden")
        assert data == (GOLDEN / name).read_bytes(), (
            f"{name} differs from tests/golden/amazon/; if intended, run "
            "FEEDSYNC_UPDATE_GOLDEN=1 python -m pytest tests/test_channels_amazon.py -k golden")
    _document(GOLDEN / FEED)


# --- configuration ----------------------------------------------------------------------

def test_missing_seller_id_stops_the_cli_before_the_catalog_is_read(tmp_path: Path) -> None:
    listings = {k: v for k, v in SELLER.items() if k != "seller_id"}
    config = write_config(tmp_path / "feedsync.yaml", json.dumps(
        {"channels": {"amazon": {"options": {"listings": listings}}}}))
    missing_catalog = tmp_path / "not-there.csv"   # the config error must come first
    code, _, stderr = run_cli("build", missing_catalog, "--config", config, "--out",
                              tmp_path / "out")
    assert code == ExitCode.USAGE
    assert f"{KEY}.seller_id" in error_line(stderr)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("missing", ["seller_id", "marketplace_id", "language_tag"])
def test_each_required_setting_is_named_by_its_key_path(tmp_path: Path, missing: str) -> None:
    listings = {k: v for k, v in SELLER.items() if k != missing}
    raw = {"channels": {"amazon-de": {"template": "amazon",
                                      "options": {"listings": listings}}}}
    with pytest.raises(ConfigError) as caught:
        build(tmp_path / "not-there.csv", [], tmp_path, parse_config(raw))
    assert caught.value.key == f"channels.amazon-de.options.listings.{missing}"


@pytest.mark.parametrize(("option", "value"), [
    ("language_tag", "english"), ("seller_id", 12345), ("mode", "fast"),
    ("requirements", "LISTING_EVERYTHING"), ("report_included_data", ["everything"]),
    ("max_bytes", 0), ("max_delete_fraction", 2), ("product_types_file", "nowhere.csv"),
    ("sellerid", "A1"),
])
def test_bad_settings_are_refused_before_the_catalog_is_read(
        tmp_path: Path, option: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build(tmp_path / "not-there.csv", ["amazon"], tmp_path,
              parse_config(_raw({option: value})))
    assert caught.value.key == f"{KEY}.{option}"


def test_report_included_data_goes_into_the_header(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", SHIRTS[:1])
    _build(catalog, tmp_path / "out", {"report_included_data": ["issues", "offers"],
                                       "issue_locale": "de_DE"})
    header = _document(tmp_path / "out" / FEED)["header"]
    assert header["report"] == {"includedData": ["issues", "offers"], "apiVersion": "2021-08-01"}
    assert header["issueLocale"] == "de_DE"


# --- product types ----------------------------------------------------------------------

def test_unmapped_product_type_is_rejected_and_named(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        _row("OK-1"), _row("ODD-1", product_type="Widgets > Gizmos", google_product_category="")])
    report = _build(catalog, tmp_path / "out")
    assert _errors(report) == {"ODD-1": {"amazon-no-product-type"}}
    issue = _issues(report, "amazon-no-product-type")[0]
    assert issue["field"] == "product_type" and "'Widgets > Gizmos'" in issue["message"]
    assert list(_messages(tmp_path / "out")) == ["OK-1"]


def test_product_types_file_takes_precedence_over_the_channel_table(tmp_path: Path) -> None:
    table = tmp_path / "types.csv"
    table.write_text("key,amazon_product_type\n"
                     "Widgets > Gizmos,GIZMO\n"
                     "Apparel & Accessories > Clothing > Shirts & Tops,T_SHIRT_TEST\n"
                     "*,PRODUCT\n", encoding="utf-8")
    catalog = write_csv(tmp_path / "c.csv", [
        _row("SHIRT-1"), _row("GIZMO-1", product_type="Widgets > Gizmos"),
        _row("OTHER-1", product_type="Something else"),
        _row("COAT-1", product_type="", google_product_category="5598")])
    report = _build(catalog, tmp_path / "out", {"product_types_file": str(table)})
    assert report.channels[0].rejected == 0
    types = {sku: m["productType"] for sku, m in _messages(tmp_path / "out").items()}
    # file > channel table > file's `*` row
    assert types == {"SHIRT-1": "T_SHIRT_TEST", "GIZMO-1": "GIZMO", "OTHER-1": "PRODUCT",
                     "COAT-1": "COAT"}


def test_shipped_tables_are_well_formed() -> None:
    folder = builtin_templates_dir() / "amazon"
    for name in ("product_types.csv", "conditions.csv"):
        rows = (folder / name).read_text(encoding="utf-8").splitlines()[1:]
        keys = [row.split(",")[0] for row in rows]
        assert len(keys) == len(set(keys)), name
    for name in ("listings-feed-schema-v2.json", "listings-feed-message-schema-v2.json",
                 "listings-feed-processing-report-schema-v2.json"):
        shipped = (folder / name).read_bytes()
        if (SPECS / name).is_file():   # byte for byte Amazon's (specs/amazon.md)
            assert shipped == (SPECS / name).read_bytes(), name


# --- every build is a full envelope; deltas are push's (tests/test_api_amazon.py) -------

def test_every_build_writes_every_sku_as_update(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(write_csv(tmp_path / "one.csv", SHIRTS), out)
    second = [dict(r) for r in SHIRTS if r["id"] != "SH-6"]
    second[0]["price"] = "14.00"
    _build(write_csv(tmp_path / "two.csv", second), out)
    messages = _messages(out)
    assert sorted(messages) == [f"SH-{n}" for n in range(1, 6)]   # no DELETE from a build
    assert {m["operationType"] for m in messages.values()} == {"UPDATE"}
    assert messages["SH-1"]["attributes"]["purchasable_offer"][0]["our_price"] == [
        {"schedule": [{"value_with_tax": 14.0}]}]
    assert not (out / SIDECAR).exists()          # no sidecar: the state is push's


@pytest.mark.parametrize("option", [{"mode": "delta"}, {"deletes": False},
                                    {"max_delete_fraction": 0.5}])
def test_sidecar_options_are_refused_with_what_replaced_them(tmp_path: Path,
                                                            option: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        _build(write_csv(tmp_path / "c.csv", SHIRTS), tmp_path / "out", option)
    name = next(iter(option))
    assert caught.value.key == f"{KEY}.{name}"
    assert "gone" in caught.value.message


def test_failed_build_leaves_the_previous_feed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path / "feedsync.yaml", json.dumps(_raw()))
    code, _, stderr = run_cli("build", write_csv(tmp_path / "one.csv", SHIRTS), "--config",
                              config, "--out", out)
    assert code == ExitCode.OK, stderr
    before = snapshot(out)
    # A JSON catalog cut off after four good products: the writer has seen them, then
    # the reader fails.
    text = json.dumps([_row(f"NEW-{n}") for n in range(1, 6)], indent=1)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: text.index('"NEW-5"')], encoding="utf-8")
    code, _, stderr = run_cli("build", truncated, "--config", config, "--out", out)
    assert code == ExitCode.CATALOG, stderr
    assert snapshot(out) == before
    assert temp_files(out) == []


def test_every_product_rejected_writes_no_document(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(GateRefused):   # Amazon's schema needs one message or more
        _build(write_csv(tmp_path / "c.csv", [_row("X-1", price="")]), out)
    assert not (out / FEED).exists()


def test_validate_writes_no_feed_and_no_sidecar(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = validate(EXAMPLES, ["amazon"], out, parse_config(_raw()))
    # The channel's rules run; the writer does not (amazon-no-product-type is build-only).
    assert _errors(report) == {k: v for k, v in {**EXPECTED_REJECTIONS,
                                                 "MUG-350": {"duplicate-id"}}.items()
                               if v != {"amazon-no-product-type"}}
    assert not (out / FEED).exists() and not (out / SIDECAR).exists()


# --- Amazon's limits and schema -------------------------------------------------------

@pytest.mark.parametrize("limit", [{"max_bytes": 3000}, {"max_messages": 3}])
def test_a_feed_over_amazons_limits_is_split_into_documents(tmp_path: Path,
                                                            limit: dict[str, int]) -> None:
    """Past max_messages or max_bytes the next messages go to amazon-listings-0002.json,
    each document valid on its own, message ids running on across documents."""
    out = tmp_path / "out"
    report = _build(write_csv(tmp_path / "c.csv", SHIRTS), out, limit)
    parts = report.channels[0].parts["listings"]
    paths = [Path(p["file"]) for p in parts]
    assert sorted(out.glob("amazon-listings*.json")) == sorted(paths)
    assert paths[0].name == FEED and len(paths) >= 2
    assert paths[1].name == "amazon-listings-0002.json"
    skus: list[str] = []
    for path in paths:
        document = _document(path)
        assert not list(FEED_SCHEMA.iter_errors(document))
        if "max_messages" in limit:
            assert len(document["messages"]) <= limit["max_messages"]
        else:
            assert path.stat().st_size <= limit["max_bytes"]
        skus += [m["sku"] for m in document["messages"]]
    assert skus == [row["id"] for row in SHIRTS]
    assert sum(p["items"] for p in parts) == len(SHIRTS)


def test_a_message_amazons_schema_refuses_is_rejected_at_build_time(tmp_path: Path) -> None:
    """A merchant's channel that leaves only item_name: an empty title leaves an UPDATE
    with no attribute, which the message schema refuses (attributes: minProperties 1)."""
    folder = tmp_path / "templates" / "amazon-minimal"
    folder.mkdir(parents=True)
    fields = ["brand", "product_description", "bullet_point", "color", "size",
              "externally_assigned_product_identifier", "condition_type", "purchasable_offer",
              "fulfillment_availability", "main_product_image_locator",
              "other_product_image_locator"]
    (folder / "channel.yaml").write_text(
        "extends: amazon\n"
        f"remove_fields: {json.dumps(fields)}\n"
        "remove_checks: [too-many-images]\n"
        "fields:\n  item_name: {value: product.title | single_line, rules: []}\n",
        encoding="utf-8")
    catalog = write_csv(tmp_path / "c.csv", [_row("OK-1"), _row("EMPTY-1", title="")])
    raw = _raw(template_dirs=[str(tmp_path / "templates")])
    raw["channels"] = {"amazon-minimal": {"options": {"listings": SELLER}}}
    report = build(catalog, [], tmp_path / "out", parse_config(raw))
    log = report.channels[0].issue_log
    assert log is not None
    issues = [i for i in read_issues(Path(log)) if i["product_id"] == "EMPTY-1"]
    assert [(i["code"], i["field"]) for i in issues] == [("amazon-schema", "attributes")]
    assert "$.attributes" in issues[0]["message"]
    assert "listings-feed-message-schema-v2.json" in issues[0]["source"]
    feed = _document(tmp_path / "out" / FEED)
    assert [m["sku"] for m in feed["messages"]] == ["OK-1"]


def test_two_ids_that_become_one_sku_are_caught(tmp_path: Path) -> None:
    # The duplicate check runs on the SKU as written (issue 15, item 5): the second row
    # is a duplicate-id, named by that SKU.
    catalog = write_csv(tmp_path / "c.csv", [
        _row("DUP 1", image_link="https://cdn.example.com/d1.jpg"),
        _row("DUP  1", image_link="https://cdn.example.com/d2.jpg")])
    report = _build(catalog, tmp_path / "out")
    assert _errors(report) == {"DUP 1": {"duplicate-id"}}
    assert list(_messages(tmp_path / "out")) == ["DUP 1"]


def test_the_writer_refuses_a_sku_it_already_wrote(tmp_path: Path) -> None:
    """The writer's own backstop behind the pipeline's duplicate check."""
    columns = tuple(Column(name=n, header=n, multi=n == "product_type_keys")
                    for n in ("sku", "product_type", "product_type_keys", "item_name"))
    writer = WRITERS["amazon_listings"](Layout(columns, {**SELLER, "_output_dir": str(tmp_path),
                                                         "_target": "amazon"}))
    writer.start(BytesIO())
    item = {"sku": "A", "product_type": "SHIRT", "product_type_keys": [], "item_name": "Shirt"}
    writer.write(item)
    with pytest.raises(ItemRejected) as caught:
        writer.encode(item)
    assert (caught.value.code, caught.value.field) == ("amazon-duplicate-sku", "sku")


def test_in_a_build_the_pipeline_alone_keeps_skus_unique(tmp_path: Path) -> None:
    """The pipeline rejects a second SKU (duplicate-id on the id as written), so the
    writer it builds keeps no second table of every SKU; on its own it keeps one."""
    run = prepare_run(tmp_path / "c.csv", ["amazon"], tmp_path / "out",
                      parse_config(_raw(None)), write=True, command="build")
    writer = run.targets[0].outputs[0].writer
    inner = getattr(writer, "inner", writer)
    assert isinstance(inner, amazon_writer.AmazonListingsWriter)
    assert run.targets[0].spec.id_field == "sku" and inner._skus is None
    columns = (Column(name="sku", header="sku"),)
    alone = WRITERS["amazon_listings"](Layout(columns, {**SELLER, "_output_dir": None}))
    assert alone._skus is not None  # type: ignore[attr-defined]


def test_an_offer_in_another_currency_than_the_marketplace_is_rejected(tmp_path: Path) -> None:
    # Amazon's marketplace-ids page gives each id's country; amazon.com sells in USD,
    # amazon.de in EUR (channel_templates/amazon/marketplaces.csv).
    rows = [_row("USD-1"), _row("EUR-1", currency="EUR"), _row("GBP-1", price="9.00 GBP")]
    us = _build(write_csv(tmp_path / "c.csv", rows), tmp_path / "us")
    assert _errors(us) == {"EUR-1": {"amazon-currency-mismatch"},
                           "GBP-1": {"amazon-currency-mismatch"}}
    issue = _issues(us, "amazon-currency-mismatch")[0]
    assert issue["field"] == "purchasable_offer" and "sells in USD" in issue["message"]
    assert issue["source"] == "https://developer-docs.amazon.com/sp-api/docs/marketplace-ids"
    assert list(_messages(tmp_path / "us")) == ["USD-1"]
    de = _build(write_csv(tmp_path / "c.csv", rows), tmp_path / "de",
                {"marketplace_id": "A1PA6795UKMFR9"})
    assert _errors(de) == {"USD-1": {"amazon-currency-mismatch"},
                           "GBP-1": {"amazon-currency-mismatch"}}
    # An id missing from the table (a marketplace opened since) is not guessed at.
    other = _build(write_csv(tmp_path / "c.csv", rows), tmp_path / "other",
                   {"marketplace_id": "A0NEWMARKET00"})
    assert _errors(other) == {}


def test_every_marketplace_has_an_iso_currency() -> None:
    from feedsync.rules.currencies import ISO_4217_CURRENCIES
    from feedsync.writers.amazon import marketplace_currencies
    table = marketplace_currencies()
    assert table["ATVPDKIKX0DER"] == "USD" and table["A1F83G8C2ARO7P"] == "GBP"
    assert len(table) == 23 and set(table.values()) <= ISO_4217_CURRENCIES


def test_writer_without_an_output_directory_sends_full_updates() -> None:
    """What push's staging build and any run without --out get: no sidecar, no DELETE."""
    columns = tuple(Column(name=n, header=n, multi=n == "product_type_keys")
                    for n in ("sku", "product_type", "product_type_keys", "item_name",
                              "purchasable_offer"))
    writer = WRITERS["amazon_listings"](Layout(columns, {**SELLER, "_output_dir": None,
                                                         "_target": "amazon"}))
    handle = BytesIO()
    writer.start(handle)
    writer.write({"sku": "A", "product_type": "SHIRT", "product_type_keys": [],
                  "item_name": "Shirt", "purchasable_offer": "10.00 USD"})
    with pytest.raises(ItemRejected) as caught:   # nothing to map the type from
        writer.write({"sku": "B", "product_type": "", "product_type_keys": ["X"],
                      "item_name": "Shirt", "purchasable_offer": "10.00 USD"})
    assert caught.value.code == "amazon-no-product-type"
    size = len(handle.getvalue())
    with pytest.raises(ItemRejected) as caught:   # nothing written for a rejected item
        writer.write({"sku": "", "product_type": "SHIRT", "product_type_keys": [],
                      "item_name": "Shirt", "purchasable_offer": "10.00 USD"})
    assert caught.value.code == "amazon-schema" and caught.value.field == "sku"
    assert len(handle.getvalue()) == size
    writer.finish()
    document = json.loads(handle.getvalue())
    FEED_SCHEMA.validate(document)
    assert [(m["sku"], m["operationType"]) for m in document["messages"]] == [("A", "UPDATE")]


def test_amazons_own_example_passes_the_validators_we_use() -> None:
    """The shipped schema files accept Amazon's example document (a sanity check on them)."""
    example = SPECS / "listings-feed-schema-v2.example.json"
    if not example.is_file():
        pytest.skip("../shared/specs/amazon is not next to this checkout")
    document = json.loads(example.read_text(encoding="utf-8"))
    assert [e.message for e in FEED_SCHEMA.iter_errors(document)] == []
    assert document["messages"], "the example has messages to check"
    for message in document["messages"]:
        assert [e.message for e in MESSAGE_SCHEMA.iter_errors(message)] == []


def test_messages_are_the_bytes_the_standard_json_module_writes(tmp_path: Path) -> None:
    """Messages are written by orjson where it gives the same bytes as ``json.dumps``
    (compact, UTF-8); prices under 1e-4 (orjson writes ``0.000015``, Python ``1.5e-05``)
    and whole numbers past 64 bits fall back to the standard library. Each line of the
    feed must be what the standard library writes for the message it holds."""
    rows = [_row("PLAIN-1"),
            _row("HUGE-PRICE", price="12345678901234567.50"),
            _row("WHOLE-PRICE", price="40"),
            _row("HUGE-QTY", quantity="123456789012345678901234567890"),
            _row("TEXT-1", title="Shirt \u2028 \"quoted\" \\ tab\tend \U0001F600 \u00e9\u00df",
                 description="<b>bold</b> & more\u007f")]
    report = _build(write_csv(tmp_path / "c.csv", rows), tmp_path / "out")
    assert _errors(report) == {}
    lines = (tmp_path / "out" / FEED).read_bytes().split(b"\n")
    messages = [line.removesuffix(b",") for line in lines[1:-2]]  # head, "]}", ""
    assert len(messages) == len(rows)
    for data in messages:
        message = json.loads(data)
        assert data == json.dumps(message, ensure_ascii=False,
                                  separators=(",", ":")).encode("utf-8"), message["sku"]
    offers = {m["sku"]: m["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0]
              ["value_with_tax"] for m in map(json.loads, messages)}
    assert offers["WHOLE-PRICE"] == 40 and offers["PLAIN-1"] == 12.5
    # The template's money rule rejects a price under a cent; a template of one's own
    # may not: the writer still writes it as json does.
    columns = tuple(Column(name=n, header=n, multi=n == "product_type_keys")
                    for n in ("sku", "product_type", "product_type_keys", "purchasable_offer"))
    writer = WRITERS["amazon_listings"](Layout(columns, {**SELLER, "_target": "amazon"}))
    for price, written in (("0.000015 USD", b"1.5e-05"), ("0.00009 USD", b"9e-05"),
                           ("0.0001 USD", b"0.0001"), ("24.00 USD", b"24.0")):
        data = writer.encode({"sku": price, "product_type": "SHIRT", "product_type_keys": [],
                              "purchasable_offer": price})
        assert data == json.dumps(json.loads(data), ensure_ascii=False,
                                  separators=(",", ":")).encode("utf-8")
        assert b'"value_with_tax":' + written + b"}" in data, data


def test_the_sku_table_is_sized_once_from_the_pipelines_estimate(tmp_path: Path) -> None:
    """``Run.reserve`` passes its catalog-size estimate on: no doubling (which briefly
    holds the old table and the new) as a large feed is written."""
    columns = tuple(Column(name=n, header=n, multi=n == "product_type_keys")
                    for n in ("sku", "product_type", "product_type_keys", "item_name"))
    writer = WRITERS["amazon_listings"](Layout(columns, {**SELLER, "_target": "amazon"}))
    writer.reserve(50_000)  # type: ignore[attr-defined]
    sized = writer._skus.nbytes  # type: ignore[attr-defined]
    assert sized >= 50_000 * 12
    writer.start(BytesIO())
    for n in range(5_000):
        writer.write({"sku": f"S-{n}", "product_type": "SHIRT", "product_type_keys": [],
                      "item_name": "Shirt"})
    assert writer._skus.nbytes == sized  # type: ignore[attr-defined]
