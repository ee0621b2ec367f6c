"""Google Merchant API v1 through `feedsync push`, against the stand-in on 127.0.0.1.

Real parts throughout: catalogs on disk, the real pipeline and state database, the
stand-in's HTTP server (which refuses malformed requests: ``merchant.problems`` must stay
empty), the CLI as a subprocess where exit codes and kills matter.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from feedsync.push import push
from tests.api_support import (
    catalog,
    config,
    delivery,
    files_text,
    google_raw,
    issues,
    rows,
    state_dump,
    write_yaml,
)
from tests.helpers import cli_command, cli_env, run_cli
from tests.servers.api_fixtures import ServiceAccount, subprocess_env
from tests.servers.google_api import MerchantStandIn

pytestmark = pytest.mark.usefixtures("loopback_only")
DAY = 86400.0


def _push(tmp: Path, merchant: MerchantStandIn, account: ServiceAccount, products: list,
          **kwargs: object) -> dict:
    raw = google_raw(merchant, account, tmp / "state", **kwargs.pop("api", {}))  # type: ignore[arg-type]
    report = push(catalog(tmp / "catalog.csv", products), [], config(raw), **kwargs)  # type: ignore[arg-type]
    assert merchant.problems == []
    return report.to_dict()


def test_first_push_sends_every_product_in_the_apis_shape(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    report = _push(tmp_path, merchant, service_account, rows(40))
    assert report["exit_code"] == 0
    sent = delivery(report, "google")
    assert sent["status"] == "published"
    assert sent["plan"]["new"] == 40 and sent["result"]["accepted"] == 40
    assert merchant.offer_ids() == {f"P-{n:05d}" for n in range(40)}
    stored = merchant.inputs[("en", "US", "P-00001")]
    assert stored["productAttributes"]["price"] == {"amountMicros": "12500000",
                                                    "currencyCode": "USD"}
    assert stored["productAttributes"]["availability"] == "IN_STOCK"
    assert stored["productAttributes"]["condition"] == "NEW"
    assert stored["productAttributes"]["gtins"] == ["4006381333931"]


def test_second_push_sends_only_the_changed_and_deletes_the_removed(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    _push(tmp_path, merchant, service_account, rows(400))
    merchant.writes.clear()
    second = rows(400, changed={7, 300, 301, 399})[:398]    # 1% changed, 0.5% removed
    report = _push(tmp_path, merchant, service_account, second)
    assert sorted(merchant.sent("insert")) == ["P-00007", "P-00300", "P-00301"]
    assert sorted(merchant.sent("delete")) == ["P-00398", "P-00399"]
    plan = delivery(report, "google")["plan"]
    assert (plan["changed"], plan["deletes"], plan["unchanged"]) == (3, 2, 395)


def test_nothing_changed_sends_nothing_until_the_keepalive_is_due(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    products = rows(30)
    start = time.time()
    _push(tmp_path, merchant, service_account, products, clock=lambda: start)
    merchant.writes.clear()
    report = _push(tmp_path, merchant, service_account, products,
                   clock=lambda: start + 10 * DAY)
    assert delivery(report, "google")["status"] == "unchanged"
    assert merchant.writes == []
    # Day 26: past the 25-day window, every product is re-sent before Google's 30 days.
    report = _push(tmp_path, merchant, service_account, products,
                   clock=lambda: start + 26 * DAY)
    assert delivery(report, "google")["plan"]["keepalive"] == 30
    assert len(merchant.sent("insert")) == 30
    merchant.writes.clear()
    report = _push(tmp_path, merchant, service_account, products,
                   clock=lambda: start + 27 * DAY)
    assert merchant.writes == []                        # accepted again on day 26


def test_full_resends_everything(tmp_path: Path, merchant: MerchantStandIn,
                                 service_account: ServiceAccount) -> None:
    _push(tmp_path, merchant, service_account, rows(12))
    merchant.writes.clear()
    report = _push(tmp_path, merchant, service_account, rows(12), full=True)
    assert delivery(report, "google")["plan"]["full"] == 12
    assert len(merchant.sent("insert")) == 12


def test_a_shrink_past_the_delete_limit_is_refused_and_nothing_is_sent(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    _push(tmp_path, merchant, service_account, rows(50))
    merchant.writes.clear()
    report = _push(tmp_path, merchant, service_account, rows(30, changed={1}))
    assert report["exit_code"] == ExitCode.GATE_REFUSED
    sent = delivery(report, "google")
    assert sent["status"] == "refused"
    assert "too-many-deletes" in [r["code"] for r in sent["gate"]["reasons"]]
    assert merchant.writes == []
    report = _push(tmp_path, merchant, service_account, rows(30, changed={1}), force=True)
    assert report["exit_code"] == 0
    assert len(merchant.sent("delete")) == 20 and merchant.sent("insert") == ["P-00001"]


def test_delete_count_limit(tmp_path: Path, merchant: MerchantStandIn,
                            service_account: ServiceAccount) -> None:
    _push(tmp_path, merchant, service_account, rows(100))
    raw = google_raw(merchant, service_account, tmp_path / "state")
    raw["channels"]["google"]["gate"] = {"max_delete_count": 2}
    report = push(catalog(tmp_path / "c.csv", rows(97)), [], config(raw)).to_dict()
    reasons = delivery(report, "google")["gate"]["reasons"]
    assert [(r["code"], r["new"], r["limit"]) for r in reasons] == [
        ("too-many-deletes", 3, "2 items")]


def test_token_expiring_mid_run_is_renewed(tmp_path: Path, merchant: MerchantStandIn,
                                           service_account: ServiceAccount) -> None:
    merchant.expire_after = 12          # every token dies at the 12th request
    report = _push(tmp_path, merchant, service_account, rows(30), api={"concurrency": 2})
    assert report["exit_code"] == 0
    assert len(merchant.offer_ids()) == 30
    assert merchant.tokens_issued == 2


def test_rejected_products_are_issues_retried_then_held_back(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    merchant.reject["P-00003"] = ("productAttributes.imageLink", "Image link is unreachable")
    products = rows(10)
    report = _push(tmp_path, merchant, service_account, products, api={"hold_after": 2})
    found = issues(delivery(report, "google")["issue_log"])
    assert [(i["product_id"], i["code"], i["field"]) for i in found] == [
        ("P-00003", "google-api-rejected", "image_link")]
    assert report["exit_code"] == 0                       # rejected products are reported
    assert delivery(report, "google")["result"] == {**delivery(report, "google")["result"],
                                                    "accepted": 9, "rejected": 1}
    merchant.writes.clear()
    before = len(merchant.requests)
    _push(tmp_path, merchant, service_account, products, api={"hold_after": 2})
    tried = [r for r in merchant.requests[before:] if r.path.endswith(":insert")]
    assert [r.json()["offerId"] for r in tried] == ["P-00003"]     # retried, not accepted
    before = len(merchant.requests)
    report = _push(tmp_path, merchant, service_account, products, api={"hold_after": 2})
    assert not [r for r in merchant.requests[before:] if r.path.endswith(":insert")]
    sent = delivery(report, "google")
    assert sent["plan"]["held"] == 1
    assert [i["code"] for i in issues(sent["issue_log"])] == ["api-held-back"]
    # A changed product is sent again.
    del merchant.reject["P-00003"]
    report = _push(tmp_path, merchant, service_account, rows(10, changed={3}),
                   api={"hold_after": 2})
    assert "P-00003" in merchant.offer_ids()


def test_quota_per_minute_is_retried_and_per_day_stops_at_once(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    merchant.quota = ["rate", "rate"]
    report = _push(tmp_path, merchant, service_account, rows(5), api={"concurrency": 1})
    assert report["exit_code"] == 0 and len(merchant.offer_ids()) == 5
    merchant.quota = ["daily"] * 50
    before = len(merchant.requests)
    report = _push(tmp_path, merchant, service_account, rows(40), api={"concurrency": 1})
    assert report["exit_code"] == ExitCode.PUBLISH_FATAL
    assert "daily quota" in delivery(report, "google")["error"]
    writes = [r for r in merchant.requests[before:] if r.path.endswith(":insert")]
    assert len(writes) <= 3                                   # no retry storm
    merchant.quota = []
    report = _push(tmp_path, merchant, service_account, rows(40), api={"concurrency": 1})
    assert report["exit_code"] == 0 and len(merchant.offer_ids()) == 40


def test_three_of_a_hundred_refused_are_reported_by_offer_and_field(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    for number, field in ((5, "productAttributes.price"), (50, "productAttributes.title"),
                          (77, "productAttributes.gtins")):
        merchant.reject[f"P-{number:05d}"] = (field, "Invalid value")
    report = _push(tmp_path, merchant, service_account, rows(100))
    sent = delivery(report, "google")
    assert sent["result"]["accepted"] == 97 and sent["result"]["rejected"] == 3
    assert sorted((i["product_id"], i["field"]) for i in issues(sent["issue_log"])) == [
        ("P-00005", "price"), ("P-00050", "title"), ("P-00077", "gtin")]
    assert report["channels"]["google"]["issues"]["google-api-rejected"] == 3


def test_a_refusal_of_the_data_source_stops_the_run(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    report = _push(tmp_path, merchant, service_account, rows(5), api={"data_source": "999"})
    assert report["exit_code"] == ExitCode.PUBLISH_FATAL
    assert "dataSource" in delivery(report, "google")["error"]
    assert merchant.offer_ids() == set()


def test_status_reads_item_issues_back_after_eventual_consistency(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    merchant.list_lag = 600.0
    merchant.item_issues["P-00002"] = [{
        "code": "image_too_small", "severity": "DISAPPROVED", "attribute": "image link",
        "reportingContext": "SHOPPING_ADS", "description": "Image too small",
        "detail": "Use an image of at least 100 x 100 pixels",
        "documentation": "https://support.google.com/merchants/answer/6324350",
        "applicableCountries": ["US"]}]
    raw = google_raw(merchant, service_account, tmp_path / "state")
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    push(catalog(tmp_path / "c.csv", rows(6)), [], config(raw))
    code, out, err = run_cli("status", "--channel", "google", "--config", config_file,
                             "--json", env=subprocess_env())
    assert code == 0, err
    summary = json.loads(out)["status"]["google"]
    assert (summary["accepted"], summary["listed"]) == (6, 0)    # not visible yet
    merchant.clock_offset = 601.0
    code, out, err = run_cli("status", "--channel", "google", "--config", config_file,
                             "--json", env=subprocess_env())
    data = json.loads(out)
    assert data["status"]["google"]["listed"] == 6
    found = issues(data["channels"]["google"]["issue_log"])
    assert [(i["product_id"], i["code"], i["severity"], i["field"]) for i in found] == [
        ("P-00002", "google-item-issue", "error", "image link")]
    code, out, _ = run_cli("status", "--config", config_file, env=subprocess_env())
    assert "6 accepted" in out and "Google lists 6 (1 with issues" in out


def test_cli_push_and_secrets_never_in_any_output(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    raw = google_raw(merchant, service_account, tmp_path / "state")
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    products = catalog(tmp_path / "c.csv", rows(8))
    code, out, err = run_cli("push", products, "--config", config_file, "--json",
                             "--log-format", "json", env=subprocess_env())
    assert code == 0, err
    assert json.loads(out)["deliveries"][0]["result"]["accepted"] == 8
    # A token endpoint that refuses (another key) echoes nothing secret either.
    merchant.public_key = __import__("cryptography.hazmat.primitives.asymmetric.rsa",
                                     fromlist=["x"]).generate_private_key(
        public_exponent=65537, key_size=2048).public_key()
    merchant.expire_tokens()
    code2, out2, err2 = run_cli("push", products, "--config", config_file, "--full",
                                env=subprocess_env())
    assert code2 == ExitCode.PUBLISH_FATAL, err2
    assert "credentials rejected" in err2 + out2
    canaries = [*service_account.canaries(), *merchant.tokens]
    everything = "\n".join([out, err, out2, err2, state_dump(tmp_path / "state"),
                            files_text(tmp_path / "state")])
    for canary in canaries:
        assert canary not in everything, canary[:8]


def test_killed_mid_run_the_next_run_completes_without_loss(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    merchant.write_delay = 0.05
    raw = google_raw(merchant, service_account, tmp_path / "state", concurrency=1)
    config_file = write_yaml(tmp_path / "feedsync.yaml", raw)
    products = catalog(tmp_path / "c.csv", rows(60))
    proc = subprocess.Popen(cli_command("push", products, "--config", config_file),
                            env=cli_env(subprocess_env()), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(merchant.sent()) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    first = len(merchant.sent())
    assert 10 <= first < 60
    merchant.write_delay = 0.0
    code, _, err = run_cli("push", products, "--config", config_file, env=subprocess_env())
    assert code == 0, err
    assert merchant.offer_ids() == {f"P-{n:05d}" for n in range(60)}
    merchant.writes.clear()
    code, _, err = run_cli("push", products, "--config", config_file, env=subprocess_env())
    assert code == 0 and merchant.writes == []          # everything is recorded now
    assert merchant.problems == []


def test_settings_are_checked_before_anything_runs(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    raw = google_raw(merchant, service_account, tmp_path / "state")
    api = raw["channels"]["google"]["api"]
    del api["credentials_file"]
    api["credentials_env"] = "NO_SUCH_VARIABLE_FOR_FEEDSYNC"
    code, _, err = run_cli("push", catalog(tmp_path / "c.csv", rows(2)), "--config",
                           write_yaml(tmp_path / "a.yaml", raw), env=subprocess_env())
    assert code == ExitCode.USAGE and "NO_SUCH_VARIABLE_FOR_FEEDSYNC" in err
    api.pop("credentials_env")
    api["private_key"] = "inline"
    code, _, err = run_cli("push", catalog(tmp_path / "c.csv", rows(2)), "--config",
                           write_yaml(tmp_path / "b.yaml", raw), env=subprocess_env())
    assert code == ExitCode.USAGE and "channels.google.api.private_key" in err
    assert merchant.requests == []
