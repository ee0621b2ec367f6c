"""Google local inventory: one row per product per store, from a store stock file."""

from __future__ import annotations

import csv
import gc
import os
import tempfile
from pathlib import Path

import pytest

from feedsync import build
from feedsync.config import parse_config
from feedsync.errors import ConfigError, ExitCode
from feedsync.pipeline import prepare_run
from feedsync.stores import StoreStock
from tests.helpers import EXAMPLES, REPO, run_cli, write_config

STORES = REPO / "examples" / "stores.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _config(stock: Path, jobs: int = 1) -> object:
    return parse_config({"jobs": jobs, "channels": {
        "google_local_inventory": {"stock": {"path": str(stock)}}}})


def test_one_row_per_store_with_the_store_stock(tmp_path: Path) -> None:
    report = build(EXAMPLES, [], tmp_path, _config(STORES))  # type: ignore[arg-type]
    rows = _rows(tmp_path / "google_local_inventory.tsv")
    by_key = {(r["store_code"], r["id"]): r for r in rows}
    assert by_key[("BER-01", "TS-100-NAVY-M")]["availability"] == "out_of_stock"
    assert by_key[("HAM-02", "TS-100-NAVY-M")]["availability"] == "in_stock"
    assert by_key[("HAM-02", "TS-100-NAVY-M")]["price"] == "22.00 USD"   # the store's price
    assert by_key[("BER-01", "TS-100-NAVY-S")]["price"] == "24.00 USD"   # the online price
    assert ("BER-01", "NOT-IN-CATALOG") not in by_key                   # no catalog product
    assert all(r["id"] != "PAN-28" for r in rows)                       # no store row
    stats = report.to_dict()["stock"]["google_local_inventory"]
    assert stats["rows"] == 9 and stats["products_matched"] == 6
    assert stats["ids_without_product"] == 1


def test_bad_store_values_reject_that_row_only(tmp_path: Path) -> None:
    stock = tmp_path / "stores.csv"
    stock.write_text("store_code,id,quantity,pickup_method,pickup_sla\n"
                     "S1,MUG-350,3,buy,tomorrow\nS2,MUG-350,2,buy,same day\n"
                     "S3,MUG-350,-1,,\n", encoding="utf-8")
    report = build(EXAMPLES, [], tmp_path / "out", _config(stock))  # type: ignore[arg-type]
    rows = _rows(tmp_path / "out" / "google_local_inventory.tsv")
    assert [r["store_code"] for r in rows] == ["S2"]
    channel = report.channels[0]
    assert channel.counts["not-in-enum"] == 1 and channel.counts["bad-quantity"] == 1


def test_parallel_fan_out_matches_serial(tmp_path: Path) -> None:
    build(EXAMPLES, [], tmp_path / "serial", _config(STORES, 1))  # type: ignore[arg-type]
    build(EXAMPLES, [], tmp_path / "parallel", _config(STORES, 2))  # type: ignore[arg-type]
    for name in ("google_local_inventory.tsv", "google_local_inventory.issues.jsonl"):
        assert (tmp_path / "serial" / name).read_bytes() == \
            (tmp_path / "parallel" / name).read_bytes()


def test_missing_stock_file_setting_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build(EXAMPLES, ["google_local_inventory"], tmp_path)
    assert caught.value.key == "channels.google_local_inventory.stock"
    config = write_config(tmp_path / "feedsync.yaml",
                          "channels:\n  google_local_inventory:\n    stock: nope.csv\n")
    code, _, stderr = run_cli("build", EXAMPLES, "--config", config, "--out", tmp_path / "o")
    assert code == ExitCode.USAGE
    assert "nope.csv" in stderr


def test_a_store_row_without_stock_does_not_take_the_online_stock(tmp_path: Path) -> None:
    # MUG-350 is in stock online (quantity 10 in the catalog). A store row that gives no
    # quantity and no availability must not claim that stock for the store: it is
    # rejected and says why; a row with its own availability keeps it.
    stock = tmp_path / "stores.csv"
    stock.write_text("store_code,id,quantity,availability,pickup_sla\n"
                     "S1,MUG-350,,,\n"
                     "S2,MUG-350,,limited availability,\n"
                     "S3,MUG-350,0,,next day\n", encoding="utf-8")
    report = build(EXAMPLES, [], tmp_path / "out", _config(stock))  # type: ignore[arg-type]
    rows = {r["store_code"]: r for r in _rows(tmp_path / "out" / "google_local_inventory.tsv")}
    assert set(rows) == {"S2", "S3"}
    assert (rows["S2"]["quantity"], rows["S2"]["availability"]) == ("", "limited_availability")
    assert (rows["S3"]["quantity"], rows["S3"]["availability"]) == ("0", "out_of_stock")
    assert rows["S3"]["pickup_sla"] == "next_day"       # the older spelling, mapped
    channel = report.channels[0]
    # (the example catalog's second MUG-350 line is a duplicate-id, as everywhere)
    assert channel.counts["missing-required"] == 1 and channel.rejected == 2


def test_pickup_method_is_optional(tmp_path: Path) -> None:
    # Since 2024-09-01 (answer/14634021): an SLA without a method is a valid row.
    stock = tmp_path / "stores.csv"
    stock.write_text("store_code,id,quantity,pickup_method,pickup_sla\n"
                     "S1,MUG-350,2,,same_day\nS2,MUG-350,2,buy,\n", encoding="utf-8")
    report = build(EXAMPLES, [], tmp_path / "out", _config(stock))  # type: ignore[arg-type]
    rows = _rows(tmp_path / "out" / "google_local_inventory.tsv")
    assert [r["store_code"] for r in rows] == ["S1", "S2"]
    channel = report.channels[0]
    assert channel.counts["pickup-method-without-sla"] == 1
    assert set(channel.counts) == {"pickup-method-without-sla", "duplicate-id"}


def test_the_id_filter_never_misses_an_id_it_holds() -> None:
    """The Bloom filter in front of the stock index: a product with store rows is always
    looked up; a product without is nearly always answered without a query."""
    from feedsync.stores import IdFilter
    held = [f"SKU-{n}" for n in range(20_000)] + ["", "é-ü", "x" * 500]
    ids = IdFilter(len(held))
    for key in held:
        ids.add(key)
    assert all(key in ids for key in held)
    others = [f"OTHER-{n}" for n in range(20_000)]
    false_positives = sum(key in ids for key in others)
    assert false_positives < 0.05 * len(others)  # ~1.4% expected at 16 bits a key
    empty = IdFilter(0)
    assert "SKU-1" not in empty


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder for this test alone, so a leaked store index shows."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_prepared_run_never_executed_leaves_no_store_index(tmp_path: Path,
                                                              private_tmp: Path) -> None:
    run = prepare_run(EXAMPLES, [], tmp_path / "out", _config(STORES),  # type: ignore[arg-type]
                      write=True, command="build")
    assert [p.name for p in private_tmp.iterdir()][0].startswith("feedsync-stock-")
    del run
    gc.collect()
    assert list(private_tmp.iterdir()) == []


def test_a_store_file_that_fails_to_load_leaves_no_index(tmp_path: Path,
                                                          private_tmp: Path) -> None:
    stock = tmp_path / "stores.csv"
    stock.write_text("store_code,id,quantity\n,MUG-350,3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no usable rows"):
        build(EXAMPLES, [], tmp_path / "out", _config(stock))  # type: ignore[arg-type]
    assert list(private_tmp.iterdir()) == []


def test_a_forked_worker_dropping_its_copy_keeps_the_parents_index(
        private_tmp: Path) -> None:
    stock = StoreStock(STORES)
    child = os.fork()
    if child == 0:      # the worker: its copy goes, as a finished worker's does
        del stock
        gc.collect()
        os._exit(0)
    os.waitpid(child, 0)
    assert stock.rows_for("TS-100-NAVY-M")          # still readable in the parent
    stock.close()
    assert list(private_tmp.iterdir()) == []
