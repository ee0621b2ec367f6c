"""Duplicate ids: the compact table, and in a build the id as each channel writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feedsync import build
from feedsync.config import Config, parse_config
from feedsync.explain import explain
from feedsync.pipeline import prepare_run
from feedsync.rules.duplicates import SeenIds
from tests.helpers import COLUMNS, feed_ids, good_row, read_issues, write_csv


def test_first_occurrence_wins_and_its_line_is_returned() -> None:
    seen = SeenIds(capacity=4)
    assert seen.add("SKU-1", 10) == 0
    assert seen.add("SKU-2", 11) == 0
    assert seen.add("SKU-1", 500) == 10
    assert seen.add("sku-1", 501) == 0   # ids are compared exactly
    assert seen.count == 3


def test_growth_and_reserve_keep_every_id() -> None:
    seen = SeenIds(capacity=8)
    for number in range(50_000):
        assert seen.add(f"id-{number}", number + 2) == 0
    seen.reserve(200_000)
    for number in range(0, 50_000, 997):
        assert seen.add(f"id-{number}", 1) == number + 2
    assert seen.count == 50_000


def test_reserved_table_is_about_14_bytes_per_id() -> None:
    seen = SeenIds()
    seen.reserve(1_000_000)
    assert seen.nbytes < 14.2 * 1_000_000


def test_a_nearly_full_table_still_finds_every_id_and_no_other() -> None:
    """Filled to just below the point where it grows (92%), and on past it: every id
    gives its own first line, and ids never added are never found (against a dict)."""
    seen = SeenIds(capacity=10_000)
    size = seen._size
    first: dict[str, int] = {}
    number = 0
    while seen._size == size:
        product_id = f"P-{number * 7919 % 100_003}-{number}"
        first[product_id] = number + 2
        assert seen.add(product_id, number + 2) == 0
        number += 1
    assert number > 0.9 * size   # it grew only past 92% full
    for product_id, line in first.items():
        assert seen.line_of(product_id) == line
        assert seen.add(product_id, 1) == line
    assert all(seen.line_of(f"Q-{n}") == 0 for n in range(20_000))
    assert seen.count == len(first)


# --- in a build: the id as each channel writes it -----------------------------------------

def _catalog(path: Path, ids: list[str], column: str = "id") -> Path:
    columns = [c for c in COLUMNS if c != "id"] + [column]
    return write_csv(path, [good_row("P", **{column: i, "mpn": f"M-{n}"})
                            for n, i in enumerate(ids)], columns)


def _issues(out: Path, channel: str) -> list[dict[str, Any]]:
    return read_issues(out / f"{channel}.issues.jsonl")


def test_an_id_from_an_override_is_checked_for_duplicates(tmp_path: Path) -> None:
    # No id column: the id comes from the config (issue 14, item 1).
    catalog = _catalog(tmp_path / "shop.csv", ["A1", "A1", "B2"], column="sku")
    config = parse_config({"channels": {"google": {"overrides": {"id": "product.sku"}}}})
    report = build(catalog, [], tmp_path / "out", config)
    google = report.channels[0]
    assert (google.written, google.rejected) == (2, 1)
    [duplicate] = [i for i in _issues(tmp_path / "out", "google") if i["code"] == "duplicate-id"]
    assert (duplicate["line"], duplicate["product_id"], duplicate["field"]) == (3, "A1", "id")
    assert "line 2" in duplicate["message"]  # names the first occurrence
    assert duplicate["source"] == "https://support.google.com/merchants/answer/6324405"
    assert feed_ids(tmp_path / "out" / "google.xml") == ["A1", "B2"]


def test_every_finding_names_the_id_as_mapped(tmp_path: Path) -> None:
    # Issue 14, item 3: with the id from an override, findings and examples name it.
    catalog = _catalog(tmp_path / "shop.csv", ["A1"], column="sku")
    write_csv(catalog, [good_row("x", sku="A1", gtin="123")],
              [c for c in COLUMNS if c != "id"] + ["sku"])
    config = parse_config({"channels": {"google": {"overrides": {"id": "product.sku"}}}})
    report = build(catalog, [], tmp_path / "out", config)
    logged = _issues(tmp_path / "out", "google")
    assert [i["code"] for i in logged] == ["bad-gtin"]
    assert {i["product_id"] for i in logged} == {"A1"}
    [summary] = report.channels[0].top()
    assert summary.examples == ["A1"]


def test_ids_that_differ_only_by_spaces_or_controls_are_duplicates(tmp_path: Path) -> None:
    # Issue 15, item 5: five distinct cells, one id once cleaned as every feed writes it.
    ids = ["A1", " A1", "A1 ", "A1\x01", "\tA1\x0b"]
    catalog = _catalog(tmp_path / "ids.csv", ids)
    report = build(catalog, ["google", "tiktok"], tmp_path / "out", Config())
    for channel in report.channels:
        assert (channel.written, channel.rejected) == (1, 4), channel.target
        duplicates = [i for i in _issues(tmp_path / "out", channel.target)
                      if i["code"] == "duplicate-id"]
        assert [(i["line"], i["product_id"]) for i in duplicates] == [
            (3, "A1"), (4, "A1"), (5, "A1"), (6, "A1")]
    assert feed_ids(tmp_path / "out" / "google.xml") == ["A1"]


def test_targets_with_the_same_id_expression_share_one_table(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "c.csv", ["A1"])
    stock = write_csv(tmp_path / "stores.csv", [{"store_code": "S1", "id": "A1",
                                                 "quantity": "1"}],
                      ["store_code", "id", "quantity"])
    channels: dict[str, Any] = {name: {} for name in ("google", "microsoft", "meta", "tiktok",
                                                      "pinterest")}
    channels["google_local_inventory"] = {"stock": {"path": str(stock)}}
    channels["amazon"] = {"options": {"listings": {
        "seller_id": "A1SELLER", "marketplace_id": "ATVPDKIKX0DER", "language_tag": "en_US"}}}
    run = prepare_run(catalog, [], None, parse_config({"channels": channels}), write=False,
                      command="validate")
    run.execute()
    # Seven channels, one id expression (product.id | single_line): one table, ~17 B an id.
    assert len(run.ids.tables) == 1
    channels["google"] = {"overrides": {"id": "product.sku"}}
    channels["meta"] = {"overrides": {"id": "target.country ~ product.id"}}
    run = prepare_run(catalog, [], None, parse_config({"channels": channels}), write=False,
                      command="validate")
    run.execute()
    assert len(run.ids.tables) == 3  # the shared one, google's sku, meta's per-target id
    for target in run.targets:
        if target.stock is not None:
            target.stock.close()


def test_a_duplicate_in_one_channel_only(tmp_path: Path) -> None:
    # Distinct catalog ids, one id in google (override): only google rejects the second.
    catalog = _catalog(tmp_path / "c.csv", ["A-1", "a-1"])
    config = parse_config({"channels": {"google": {"overrides": {"id": "product.id | upper"}},
                                        "tiktok": {}}})
    report = build(catalog, [], tmp_path / "out", config)
    assert {c.target: (c.written, c.rejected) for c in report.channels} == {
        "google": (1, 1), "tiktok": (2, 0)}


def test_explain_finds_a_product_by_the_id_a_channel_writes(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path / "shop.csv", ["A1", "A1"], column="sku")
    config = parse_config({"channels": {"google": {"overrides": {"id": "product.sku"}}}})
    explained = explain("A1", catalog, [], config)
    first, second = explained.occurrences
    assert first.channels["google"].outcome == "written"
    assert second.channels["google"].outcome == "rejected"
    assert second.channels["google"].reason.startswith("duplicate-id")
