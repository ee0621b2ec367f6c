"""Helpers shared by the API channel tests: configs pointing at the stand-ins, catalogs,
canary checks. Every base URL is a stand-in's; the loopback guard checks that."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from feedsync.config import Config, parse_config
from tests.helpers import cli_command, cli_env, good_row, write_csv
from tests.servers.amazon_api import AmazonStandIn
from tests.servers.api_fixtures import LWA_CLIENT_ID, ServiceAccount
from tests.servers.google_api import MerchantStandIn
from tests.servers.meta_api import MetaStandIn

SELLER = {"seller_id": "A1EXAMPLE0SELLER", "marketplace_id": "ATVPDKIKX0DER",
          "language_tag": "en_US"}
SHIRTS = "Apparel & Accessories > Clothing > Shirts & Tops"
FAST = {"backoff": 0.01, "timeout": 5, "retry_after_max": 5}


def rows(count: int, changed: Iterable[int] = (), start: int = 0) -> list[dict[str, str]]:
    """``count`` good products P-00000…; those in ``changed`` get another title."""
    changed = set(changed)
    return [good_row(f"P-{n:05d}", quantity="5", product_type=SHIRTS,
                     title=f"Shirt {n}" + (" (new cut)" if n in changed else ""))
            for n in range(start, start + count)]


def catalog(path: Path, products: list[dict[str, str]]) -> Path:
    return write_csv(path, products, columns=[*products[0].keys()])


def google_raw(merchant: MerchantStandIn, account: ServiceAccount, state: Path,
               **api: Any) -> dict[str, Any]:
    return {"defaults": {"currency": "USD"}, "state_dir": str(state), "channels": {"google": {
        "api": {"merchant_id": "123", "data_source": "456", "content_language": "en",
                "feed_label": "US", "credentials_file": str(account.path),
                "base_url": merchant.url(), "token_url": merchant.url("/token"),
                **FAST, **api}}}}


def amazon_raw(amazon: AmazonStandIn, state: Path, **api: Any) -> dict[str, Any]:
    return {"defaults": {"currency": "USD"}, "state_dir": str(state), "channels": {"amazon": {
        "options": {"listings": dict(SELLER)},
        "api": {"base_url": amazon.url(), "token_url": amazon.url("/auth/o2/token"),
                "client_id": LWA_CLIENT_ID, "client_secret_env": "TEST_LWA_SECRET",
                "refresh_token_env": "TEST_LWA_REFRESH", "poll_interval": 0.01,
                "poll_max_interval": 0.05, **FAST, **api}}}}


def meta_raw(meta: MetaStandIn, state: Path, **api: Any) -> dict[str, Any]:
    return {"defaults": {"currency": "USD"}, "state_dir": str(state), "channels": {"meta": {
        "api": {"catalog_id": meta.catalog, "access_token_env": "TEST_META_TOKEN",
                "base_url": meta.url(), "poll_interval": 0.01, "poll_max_interval": 0.05,
                **FAST, **api}}}}


def config(raw: Mapping[str, Any]) -> Config:
    return parse_config(dict(raw))


def write_yaml(path: Path, raw: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(raw), encoding="utf-8")   # JSON is YAML
    return path


def delivery(report: Any, channel: str) -> dict[str, Any]:
    data = report if isinstance(report, dict) else report.to_dict()
    found = [d for d in data["deliveries"] if d["channel"] == channel and d["output"] == "api"]
    assert len(found) == 1, data["deliveries"]
    return dict(found[0])


def state_dump(state: Path) -> str:
    """Every value in state.sqlite as text (for canary checks)."""
    conn = sqlite3.connect(state / "state.sqlite")
    try:
        parts = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608
                parts.append(repr(row))
        return "\n".join(parts)
    finally:
        conn.close()


def files_text(folder: Path) -> str:
    """Every file under ``folder`` as text (issue logs, kept feeds, staging leftovers)."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(folder.rglob("*")) if p.is_file())


def issues(path: str | Path | None) -> list[dict[str, Any]]:
    if not path or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def push_killed_when(args: list[str | Path], env: Mapping[str, str],
                     ready: Callable[[], bool], timeout: float = 60) -> None:
    """Run `feedsync ARGS` as a subprocess and SIGKILL it once ``ready()`` holds."""
    proc = subprocess.Popen(cli_command(*args), env=cli_env(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert time.monotonic() < deadline, "the condition never held"
            assert proc.poll() is None, f"feedsync ended early ({proc.returncode})"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
