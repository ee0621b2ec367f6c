#!/usr/bin/env python3
"""Speed and memory of `feedsync build` against the hand-written reference pipeline.

Generates catalogs with ../shared/bench/gen_catalog.py, then runs, on the same file in
the same run, `feedsync build --channel google` and ../shared/bench/ref_pipeline.py,
and prints wall time, their ratio, and each one's peak RSS (from wait4, per process).
With --all-channels it also runs one pass writing every channel folder's default outputs.

usage: python benchmarks/bench_build.py [--sizes 100000,1000000] [--all-channels]
                                        [--workdir DIR] [--repeat N]
Targets (../shared/bench/README.md): google ratio <= 1.0; all channels <= 2.5;
peak RSS <= 150 MB, and at most +20 MB going from 100k to 1M products.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"


def run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one command (its own process only)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0,):
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024


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
    """Every shipped channel but Amazon, whose feeds are capped at 25,000 messages and
    10 MiB by Amazon (docs/amazon.md): a 100k-product listings feed cannot exist."""
    sys.path.insert(0, str(ROOT))
    from feedsync.channels.loader import ChannelLibrary

    names = [n for n in ChannelLibrary().available() if n != "amazon"]
    lines = ["channels:"]
    for name in names:
        if name == "google_local_inventory":
            lines.append(f"  {name}: {{stock: {{path: {store_stock(catalog)}}}}}")
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
    print(f"{'case':<28}{'rows':>10}{'feedsync s':>12}{'ref s':>9}{'ratio':>8}"
          f"{'feedsync MB':>13}{'ref MB':>9}")
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
                ref_wall, ref_rss = run([sys.executable, str(SHARED / "ref_pipeline.py"),
                                         str(catalog), str(work / "ref.xml")], work)
                ours_wall, ours_rss = run(cmd, ROOT)
                print(f"{name:<28}{size:>10,}{ours_wall:>12.2f}{ref_wall:>9.2f}"
                      f"{ours_wall / ref_wall:>8.2f}{ours_rss:>13.1f}{ref_rss:>9.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
