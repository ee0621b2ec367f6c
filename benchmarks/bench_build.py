#!/usr/bin/env python3
"""Speed and memory of `feedsync build` against the hand-written reference pipeline.

Generates catalogs with ../shared/bench/gen_catalog.py, then runs, on the same file in
the same run, `feedsync build --channel google` and ../shared/bench/ref_pipeline.py,
and prints wall time, CPU time (user + sys, workers included), their ratios, and each
one's peak RSS (from wait4: the largest of the process and the children it waited for).
With --all-channels it also runs one pass writing every channel folder's default outputs,
Amazon included (its listings feed split into documents of 25,000 messages / 10 MiB).

usage: python benchmarks/bench_build.py [--sizes 100000,1000000] [--all-channels]
                                        [--workdir DIR] [--repeat N]
Targets (../shared/bench/README.md): google ratio <= 1.0; all channels <= 2.5;
peak RSS <= 150 MB, and at most +20 MB going from 100k to 1M products.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ../shared/bench beside the checkout, or FEEDSYNC_SHARED (a worktree sits deeper).
SHARED = next((Path(c) / "bench" for c in (os.environ.get("FEEDSYNC_SHARED"),
                                           ROOT.parent / "shared", "/work/shared")
               if c and (Path(c) / "bench" / "gen_catalog.py").is_file()),
              ROOT.parent / "shared" / "bench")


def run(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS in MB of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0,):
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def store_stock(catalog: Path) -> Path:
    """Two stores stocking every tenth product: the local inventory channel's input."""
    stock = catalog.with_suffix(".stores.csv")
    if stock.exists():
        return stock
    with catalog.open(newline="", encoding="utf-8") as src, stock.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["store_code", "id", "quantity"])
        for number, row in enumerate(csv.DictReader(src)):
            if number % 10 == 0:
                writer.writerow(["STORE-1", row["id"], number % 7])
                writer.writerow(["STORE-2", row["id"], number % 3])
    return stock


def all_channels_config(work: Path, catalog: Path) -> Path:
    """Every shipped channel. Amazon's listings feed is split into documents at Amazon's
    limits (docs/amazon.md); a ``*`` product type gives every product one."""
    sys.path.insert(0, str(ROOT))
    from feedsync.channels.loader import ChannelLibrary

    names = list(ChannelLibrary().available())
    types = work / "amazon-types.csv"
    types.write_text("key,product_type\n*,PRODUCT\n")
    lines = ["channels:"]
    for name in names:
        if name == "google_local_inventory":
            lines.append(f"  {name}: {{stock: {{path: {store_stock(catalog)}}}}}")
        elif name == "amazon":
            listings = {"seller_id": "A1BENCH0SELLER", "marketplace_id": "ATVPDKIKX0DER",
                        "language_tag": "en_US", "product_types_file": str(types)}
            lines.append(f"  {name}: " + json.dumps({"options": {"listings": listings}}))
        else:
            lines.append(f"  {name}: {{}}")
    config = work / "all.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--all-channels", action="store_true")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="feedsync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    feedsync = [sys.executable, "-m", "feedsync.cli"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, work dir {work}")
    print(f"{'case':<16}{'rows':>10}{'wall s':>9}{'ref s':>8}{'ratio':>7}"
          f"{'CPU s':>8}{'ref CPU':>8}{'ratio':>7}{'MB':>8}{'ref MB':>8}")
    for size in [int(s) for s in args.sizes.split(",")]:
        catalog = work / f"catalog-{size}.csv"
        if not catalog.exists():
            subprocess.run([sys.executable, str(SHARED / "gen_catalog.py"), str(size),
                            str(catalog)], check=True)
        cases = [("google", feedsync + ["build", str(catalog), "--channel", "google",
                                        "--out", str(work / "out-google")])]
        if args.all_channels:
            cases.append(("all channels", feedsync + [
                "build", str(catalog), "--config", str(all_channels_config(work, catalog)),
                "--out", str(work / "out-all")]))
        for name, cmd in cases:
            for _ in range(args.repeat):
                ref_wall, ref_cpu, ref_rss = run(
                    [sys.executable, str(SHARED / "ref_pipeline.py"), str(catalog),
                     str(work / "ref.xml")], work)
                wall, cpu, rss = run(cmd, ROOT)
                print(f"{name:<16}{size:>10,}{wall:>9.2f}{ref_wall:>8.2f}{wall / ref_wall:>7.2f}"
                      f"{cpu:>8.2f}{ref_cpu:>8.2f}{cpu / ref_cpu:>7.2f}{rss:>8.1f}"
                      f"{ref_rss:>8.1f}", flush=True)
            if name == "all channels":
                parts = sorted((work / "out-all").glob("amazon-listings*.json"))
                print(f"{'':<16}amazon documents: {len(parts)} "
                      f"({', '.join(p.name for p in parts[:2])}, …)", flush=True)


if __name__ == "__main__":
    main()
