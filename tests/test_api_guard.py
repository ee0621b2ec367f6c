"""The loopback guard works: a push left at the real services' defaults never leaves
127.0.0.1 (and the guard notices the attempt), so every other API test proves that it
pointed every base URL at a stand-in."""

from __future__ import annotations

from pathlib import Path

from feedsync.errors import ExitCode
from feedsync.push import push
from tests.api_support import catalog, config, delivery, google_raw, rows
from tests.servers import loopback
from tests.servers.api_fixtures import ServiceAccount
from tests.servers.google_api import MerchantStandIn


def test_the_real_token_endpoint_is_blocked_and_noticed(
        tmp_path: Path, merchant: MerchantStandIn, service_account: ServiceAccount) -> None:
    raw = google_raw(merchant, service_account, tmp_path / "state", retries=0)
    del raw["channels"]["google"]["api"]["token_url"]    # the key file's: Google's own
    violations: list[str] = []
    remove = loopback.install(violations.append)
    try:
        report = push(catalog(tmp_path / "c.csv", rows(2)), [], config(raw)).to_dict()
    finally:
        remove()
    assert report["exit_code"] == ExitCode.PUBLISH_RETRYABLE
    assert "oauth2.googleapis.com" in delivery(report, "google")["error"]
    assert violations and "oauth2.googleapis.com" in violations[0]
    assert merchant.requests == []
