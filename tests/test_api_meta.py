"""Meta catalog items_batch through `feedsync push`, against the stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsync.errors import ConfigError, ExitCode
from feedsync.push import push
from tests.api_support import (
    catalog,
    config,
    delivery,
    files_text,
    issues,
    meta_raw,
    push_killed_when,
    rows,
    state_dump,
    write_yaml,
)
from tests.helpers import run_cli
from tests.servers.api_fixtures import META_TOKEN, subprocess_env
from tests.servers.meta_api import MetaStandIn

pytestmark = pytest.mark.usefixtures("loopback_only")
SECRETS = {"TEST_META_TOKEN": META_TOKEN}


@pytest.fixture(autouse=True)
def token_env() -> Iterator[None]:
    saved = os.environ.get("TEST_META_TOKEN")
    os.environ.update(SECRETS)
    yield
    if saved is None:
        os.environ.pop("TEST_META_TOKEN", None)
    else:
        os.environ["TEST_META_TOKEN"] = saved


def _push(tmp: Path, meta: MetaStandIn, products: list, api: dict | None = None,
          **kwargs: object) -> dict:
    raw = meta_raw(meta, tmp / "state", **(api or {}))
    report = push(catalog(tmp / "catalog.csv", products), [], config(raw), **kwargs)  # type: ignore[arg-type]
    assert meta.problems == []
    return report.to_dict()


def _batches(meta: MetaStandIn) -> list[list[dict]]:
    found = []
    for request in meta.requests:
        if request.path.endswith("/items_batch"):
            found.append(request.json()["requests"])
    return found


def test_first_push_in_chunks_with_failures_inside_200(tmp_path: Path,
                                                        meta: MetaStandIn) -> None:
    meta.fail_ids["P-00002"] = "The image could not be downloaded"
    meta.warn_ids["P-00003"] = "Missing optional field: google_product_category"
    report = _push(tmp_path, meta, rows(35), {"chunk_size": 10})
    sent = delivery(report, "meta")
    assert report["exit_code"] == 0
    assert [len(b) for b in _batches(meta)] == [10, 10, 10, 5]
    assert {r["method"] for b in _batches(meta) for r in b} == {"CREATE"}
    first = _batches(meta)[0][0]["data"]
    assert first["id"] == "P-00000" and first["price"] == "12.50 USD"
    assert first["availability"] == "in stock" and "retailer_id" not in first
    assert sent["result"]["accepted"] == 34 and sent["result"]["rejected"] == 1
    assert {(i["product_id"], i["code"]) for i in issues(sent["issue_log"])} == {
        ("P-00002", "meta-batch-error"), ("P-00003", "meta-batch-warning")}
    assert len(meta.items) == 34
    assert all(r.header("Authorization") == f"Bearer {META_TOKEN}" for r in meta.requests)
    assert all(r.path.startswith("/v27.0/") for r in meta.requests)


def test_second_push_updates_the_changed_and_deletes_the_removed(
        tmp_path: Path, meta: MetaStandIn) -> None:
    _push(tmp_path, meta, rows(200))
    meta.requests.clear()
    _push(tmp_path, meta, rows(200, changed={4, 90})[:199])
    assert [(r["method"], r["data"]["id"]) for b in _batches(meta) for r in b] == [
        ("UPDATE", "P-00004"), ("UPDATE", "P-00090"), ("DELETE", "P-00199")]
    assert _batches(meta)[0][2]["data"] == {"id": "P-00199"}
    assert meta.items["P-00004"]["title"] == "Shirt 4 (new cut)" and "P-00199" not in meta.items
    meta.requests.clear()
    report = _push(tmp_path, meta, rows(200, changed={4, 90})[:199])
    assert delivery(report, "meta")["status"] == "unchanged" and meta.requests == []


def test_a_create_for_an_item_meta_already_has_is_sent_as_update_next_run(
        tmp_path: Path, meta: MetaStandIn) -> None:
    meta.items["P-00001"] = {"id": "P-00001", "title": "created elsewhere"}
    report = _push(tmp_path, meta, rows(3))
    assert delivery(report, "meta")["result"]["rejected"] == 1
    meta.requests.clear()
    _push(tmp_path, meta, rows(3))
    assert [(r["method"], r["data"]["id"]) for b in _batches(meta) for r in b] == [
        ("UPDATE", "P-00001")]
    assert meta.items["P-00001"]["title"] == "Shirt 1"


def test_rate_limit_inside_the_api_is_retried(tmp_path: Path, meta: MetaStandIn) -> None:
    meta.throttle = 2
    report = _push(tmp_path, meta, rows(5))
    assert report["exit_code"] == 0 and len(meta.items) == 5
    assert len(_batches(meta)) == 3           # two throttled, then accepted


def test_a_refused_token_is_final_and_not_shown(tmp_path: Path, meta: MetaStandIn) -> None:
    meta.revoked = True
    report = _push(tmp_path, meta, rows(3))
    assert report["exit_code"] == ExitCode.PUBLISH_FATAL
    assert "Meta access token was refused" in delivery(report, "meta")["error"]
    assert META_TOKEN not in json.dumps(report)


def test_graph_version_is_configurable(tmp_path: Path, meta: MetaStandIn) -> None:
    report = _push(tmp_path, meta, rows(2), {"graph_version": "v26.0"})
    assert report["exit_code"] == 0
    assert {r.path.split("/")[1] for r in meta.requests} == {"v26.0"}
    raw = meta_raw(meta, tmp_path / "state", graph_version="26")
    with pytest.raises(ConfigError) as caught:
        push(catalog(tmp_path / "c.csv", rows(2)), [], config(raw))
    assert caught.value.key == "channels.meta.api.graph_version"


def test_killed_while_waiting_the_next_run_resolves_the_handle(
        tmp_path: Path, meta: MetaStandIn) -> None:
    meta.hold.clear()
    raw = meta_raw(meta, tmp_path / "state")
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    products = catalog(tmp_path / "c.csv", rows(6))
    env = subprocess_env(SECRETS)
    push_killed_when(["push", products, "--config", config_file], env,
                     lambda: any(b["polls"] >= 3 for b in meta.batches.values()))
    meta.hold.set()
    code, out, err = run_cli("push", products, "--config", config_file, "--json", env=env)
    assert code == 0, err
    sent = json.loads(out)["deliveries"][0]
    assert sent["result"]["resolved"] == 1 and sent["status"] == "unchanged"
    assert len(_batches(meta)) == 1 and len(meta.items) == 6
    state_text = state_dump(tmp_path / "state") + files_text(tmp_path / "state")
    assert META_TOKEN not in state_text + out + err
