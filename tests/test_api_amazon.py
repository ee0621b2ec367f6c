"""Amazon SP-API Feeds through `feedsync push`, against the stand-in on 127.0.0.1.

The stand-in validates every request body against Amazon's Feeds API model and every
uploaded document against listings-feed-schema-v2.json; ``amazon.problems`` lists anything
malformed feedsync sent, so every test ends by asserting it is empty.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from feedsync.push import push
from tests.api_support import (
    amazon_raw,
    catalog,
    config,
    delivery,
    files_text,
    issues,
    push_killed_when,
    rows,
    state_dump,
    write_yaml,
)
from tests.helpers import run_cli
from tests.servers.amazon_api import MODEL_FILE, AmazonStandIn
from tests.servers.api_fixtures import LWA_REFRESH, LWA_SECRET, subprocess_env

pytestmark = pytest.mark.usefixtures("loopback_only")
SECRETS = {"TEST_LWA_SECRET": LWA_SECRET, "TEST_LWA_REFRESH": LWA_REFRESH}


@pytest.fixture(autouse=True)
def lwa_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _push(tmp: Path, amazon: AmazonStandIn, products: list, api: dict | None = None,
          **kwargs: object) -> dict:
    raw = amazon_raw(amazon, tmp / "state", **(api or {}))
    report = push(catalog(tmp / "catalog.csv", products), [], config(raw), **kwargs)  # type: ignore[arg-type]
    assert amazon.problems == []
    return report.to_dict()


def _feeds(amazon: AmazonStandIn) -> list[list[tuple[str, str]]]:
    """The messages of each feed Amazon processed, in order."""
    by_feed: dict[str, list[tuple[str, str]]] = {}
    for feed, sku, op in amazon.messages:
        by_feed.setdefault(feed, []).append((sku, op))
    return list(by_feed.values())


def test_the_model_copy_is_amazons(tmp_path: Path) -> None:
    shared = Path(os.environ.get("FEEDSYNC_SHARED", "/work/shared")) / "specs" / "amazon"
    if not (shared / MODEL_FILE.name).is_file():
        pytest.skip("../shared/specs/amazon is not next to this checkout")
    assert MODEL_FILE.read_bytes() == (shared / MODEL_FILE.name).read_bytes()


def test_first_push_splits_paces_and_reads_the_gzip_report(
        tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.error_skus["P-00004"] = ("90220", "'[batteries_required]' is required but not "
                                    "supplied.", "batteries_required")
    amazon.warn_skus["P-00005"] = "The image is small"
    amazon.per_window, amazon.window = 2, 0.4      # the stand-in refuses a third within 0.4 s
    report = _push(tmp_path, amazon, rows(60), {"max_messages": 25,
                                               "submissions_per_window": 2,
                                               "window_seconds": 0.5})
    sent = delivery(report, "amazon")
    assert report["exit_code"] == 0, sent
    assert [len(feed) for feed in _feeds(amazon)] == [25, 25, 10]
    assert sent["result"]["accepted"] == 59 and sent["result"]["rejected"] == 1
    assert len(amazon.listings) == 59
    found = {(i["product_id"], i["code"], i["field"]) for i in issues(sent["issue_log"])}
    assert found == {("P-00004", "amazon-report-error", "batteries_required"),
                     ("P-00005", "amazon-report-warning", None)}
    calls = [r for r in amazon.requests if r.path.endswith("/feeds") and r.method == "POST"]
    assert len(calls) == 3                               # none refused with 429


def test_second_push_sends_only_the_delta_in_one_feed(tmp_path: Path,
                                                       amazon: AmazonStandIn) -> None:
    _push(tmp_path, amazon, rows(200))
    amazon.messages.clear()
    report = _push(tmp_path, amazon, rows(200, changed={10, 150})[:199])
    assert _feeds(amazon) == [[("P-00010", "UPDATE"), ("P-00150", "UPDATE"),
                               ("P-00199", "DELETE")]]
    assert "P-00199" not in amazon.listings
    assert delivery(report, "amazon")["result"]["deleted"] == 1
    amazon.messages.clear()
    before = amazon.create_feed_calls()
    report = _push(tmp_path, amazon, rows(200, changed={10, 150})[:199])
    assert delivery(report, "amazon")["status"] == "unchanged"
    assert amazon.create_feed_calls() == before          # nothing changed: no feed at all


def test_a_report_error_is_retried_next_run(tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.error_skus["P-00001"] = ("99022", "price missing", "purchasable_offer")
    _push(tmp_path, amazon, rows(5))
    del amazon.error_skus["P-00001"]
    amazon.messages.clear()
    _push(tmp_path, amazon, rows(5))
    assert _feeds(amazon) == [[("P-00001", "UPDATE")]]


def test_fatal_exits_8_and_accepts_nothing(tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.fatal_next = True
    report = _push(tmp_path, amazon, rows(5))
    assert report["exit_code"] == ExitCode.PUBLISH_FATAL
    assert "FATAL" in delivery(report, "amazon")["error"]
    report = _push(tmp_path, amazon, rows(5))          # sent again, this time DONE
    assert report["exit_code"] == 0
    assert delivery(report, "amazon")["plan"]["new"] == 5


def test_cancelled_exits_6(tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.cancel_next = True
    report = _push(tmp_path, amazon, rows(3))
    assert report["exit_code"] == ExitCode.PUBLISH_RETRYABLE


def test_an_expired_upload_url_gets_a_new_document(tmp_path: Path,
                                                   amazon: AmazonStandIn) -> None:
    amazon.expire_next_upload = True
    report = _push(tmp_path, amazon, rows(4))
    assert report["exit_code"] == 0
    documents = [r for r in amazon.requests if r.path.endswith("/documents")]
    puts = [r for r in amazon.requests if r.method == "PUT"]
    assert len(documents) == 2 and len(puts) == 2
    assert all(r.header("Content-Type") == "application/json" for r in puts)
    assert amazon.create_feed_calls() == 1               # only with the uploaded document


def test_upload_url_expired_on_the_stand_ins_clock(tmp_path: Path,
                                                   amazon: AmazonStandIn) -> None:
    """Six minutes pass (the stand-in's clock) between createFeedDocument and the PUT."""
    create = amazon._create_document

    def create_then_wait(request):  # type: ignore[no-untyped-def]
        reply = create(request)
        if amazon.clock_offset == 0:
            amazon.clock_offset = 360.0
        return reply

    amazon._create_document = create_then_wait  # type: ignore[method-assign]
    report = _push(tmp_path, amazon, rows(2))
    assert report["exit_code"] == 0
    assert len([r for r in amazon.requests if r.path.endswith("/documents")]) == 2
    assert amazon.create_feed_calls() == 1 and len(amazon.listings) == 2


def test_a_lost_create_feed_answer_is_looked_up_not_resent(tmp_path: Path,
                                                           amazon: AmazonStandIn) -> None:
    amazon.stall_create_feed = 2.0          # the feed is recorded, the answer comes too late
    report = _push(tmp_path, amazon, rows(3), {"timeout": 0.5})
    assert report["exit_code"] == 0, delivery(report, "amazon")
    assert amazon.create_feed_calls() == 1 and len(amazon.feeds) == 1
    assert any(r.path.endswith("/feeds") and r.method == "GET" for r in amazon.requests)
    assert len(amazon.listings) == 3


def test_token_expiring_mid_run_is_renewed(tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.polls_to_done = 4
    amazon.expire_after = 6           # during the polling of the feed
    report = _push(tmp_path, amazon, rows(3))
    assert report["exit_code"] == 0
    token_calls = [r for r in amazon.requests if r.path == "/auth/o2/token"]
    assert len(token_calls) == 2


def test_too_many_deletes_sends_nothing(tmp_path: Path, amazon: AmazonStandIn) -> None:
    _push(tmp_path, amazon, rows(20))
    before = len(amazon.requests)
    report = _push(tmp_path, amazon, rows(10))
    assert report["exit_code"] == ExitCode.GATE_REFUSED
    assert [r.path for r in amazon.requests[before:] if r.path.startswith("/feeds")] == []


def test_killed_while_waiting_the_next_run_resolves_the_feed_once(
        tmp_path: Path, amazon: AmazonStandIn) -> None:
    amazon.hold.clear()                     # the feed stays IN_PROGRESS
    raw = amazon_raw(amazon, tmp_path / "state")
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    products = catalog(tmp_path / "c.csv", rows(8))
    env = subprocess_env(SECRETS)
    push_killed_when(["push", products, "--config", config_file], env,
                     lambda: any(f["polls"] >= 3 for f in amazon.feeds.values()))
    assert "state.sqlite" in os.listdir(tmp_path / "state")
    amazon.hold.set()
    code, out, err = run_cli("push", products, "--config", config_file, "--json", env=env)
    assert code == 0, err
    sent = json.loads(out)["deliveries"][0]
    assert sent["result"]["resolved"] == 1 and sent["status"] == "unchanged"
    assert amazon.create_feed_calls() == 1            # resolved, never submitted again
    assert len(amazon.listings) == 8
    code, _, err = run_cli("push", products, "--config", config_file, env=env)
    assert code == 0 and amazon.create_feed_calls() == 1
    assert amazon.problems == []


def test_cli_secrets_never_in_any_output(tmp_path: Path, amazon: AmazonStandIn) -> None:
    raw = amazon_raw(amazon, tmp_path / "state")
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    products = catalog(tmp_path / "c.csv", rows(4))
    env = subprocess_env(SECRETS)
    code, out, err = run_cli("push", products, "--config", config_file, "--json",
                             "--log-format", "json", env=env)
    assert code == 0, err
    amazon.refresh_token = "rotated"          # LWA now answers invalid_grant
    amazon.expire_tokens()
    code2, out2, err2 = run_cli("push", products, "--config", config_file, "--full", env=env)
    assert code2 == ExitCode.PUBLISH_FATAL and "credentials rejected" in err2 + out2
    signatures = [r.param("X-Amz-Signature") for r in amazon.requests
                  if r.param("X-Amz-Signature")]
    canaries = [LWA_SECRET, LWA_REFRESH, *amazon.tokens, *signatures]
    everything = "\n".join([out, err, out2, err2, state_dump(tmp_path / "state"),
                            files_text(tmp_path / "state")])
    for canary in canaries:
        assert canary and canary not in everything, canary[:8]
