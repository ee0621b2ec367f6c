#!/usr/bin/env python3
"""Speed of an API push with deltas: a full push against a delta push with 1% changed.

Generates a catalog with ../shared/bench/gen_catalog.py, starts the Merchant API stand-in
(tests/servers/google_api.py) on 127.0.0.1 in this process, and runs `feedsync push` as a
subprocess twice on the same state: first a full push (every product inserted), then
after changing the title of every 100th product, a delta push. Prints both wall times,
their ratio, and what the stand-in received each time (the delta must be exactly the 1%).

usage: python benchmarks/bench_api_push.py [--sizes 100000] [--workdir DIR]
                                           [--concurrency 8]
Target (issue 12): at 1M products the delta push sends only the 1% and takes at most 10%
of the full push's wall time. Run the 1M case on a quiet machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from tests.helpers import shared_dir  # noqa: E402
from tests.servers.google_api import MerchantStandIn  # noqa: E402

SHARED = (shared_dir() or ROOT.parent / "shared") / "bench"


def changed_copy(source: Path, target: Path, every: int) -> int:
    """``source`` with the title of every ``every``-th product changed; how many changed."""
    count = 0
    with source.open(newline="", encoding="utf-8") as src, \
            target.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, reader.fieldnames or [])
        writer.writeheader()
        for number, row in enumerate(reader):
            if number % every == 0:
                row["title"] = row["title"] + " new cut"
                count += 1
            writer.writerow(row)
    return count


def push(catalog: Path, config: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "feedsync.cli", "push", str(catalog),
                           "--config", str(config), "--json"], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"push failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="feedsync-api-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = work / "service-account.json"
    account.write_text(json.dumps({"type": "service_account", "private_key": pem,
                                   "client_email": "bench@example.iam.gserviceaccount.com"}))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, work dir {work}")
    print(f"{'rows':>10}{'full s':>10}{'sent':>10}{'delta s':>10}{'sent':>8}{'deleted':>9}"
          f"{'ratio':>8}")
    for size in [int(s) for s in args.sizes.split(",")]:
        catalog = work / f"catalog-{size}.csv"
        if not catalog.exists():
            subprocess.run([sys.executable, str(SHARED / "gen_catalog.py"), str(size),
                            str(catalog)], check=True)
        changed = work / f"catalog-{size}-changed.csv"
        expected = changed_copy(catalog, changed, 100)
        server = MerchantStandIn(key.public_key(), "bench@example.iam.gserviceaccount.com")
        server.keep_requests, server.light = False, True
        state = work / f"state-{size}"
        shutil.rmtree(state, ignore_errors=True)     # the first push must be a full one
        config = work / f"feedsync-{size}.yaml"
        config.write_text(json.dumps({
            "defaults": {"currency": "USD"}, "state_dir": str(state),
            "channels": {"google": {"api": {
                "merchant_id": "123", "data_source": "456", "content_language": "en",
                "feed_label": "US", "credentials_file": str(account),
                "base_url": server.url(), "token_url": server.url("/token"),
                "concurrency": args.concurrency}}}}))
        try:
            full = push(catalog, config)
            full_sent = len(server.writes)
            server.writes.clear()
            delta = push(changed, config)
            inserts = len(server.sent("insert"))
            deletes = len(server.sent("delete"))
        finally:
            server.close()
        if inserts != expected:
            print(f"  warning: the delta sent {inserts} inserts, {expected} products changed")
        print(f"{size:>10,}{full:>10.2f}{full_sent:>10,}{delta:>10.2f}{inserts:>8,}"
              f"{deletes:>9,}{delta / full:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
