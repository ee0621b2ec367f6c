#!/usr/bin/env python3
"""Cost of ``catalog.fields``: a 15-entry map against the same catalog with canonical columns.

Generates a catalog with ../shared/bench/gen_catalog.py, writes a copy whose header
renames 15 columns (``title`` -> ``name``, ``link`` -> a ``slug`` rebuilt by an
expression, ...), then runs ``feedsync build --channel google --jobs 1`` on both and
prints wall time and CPU time (user+sys of the build process: the machine is shared, and
CPU time is what a busy neighbour changes least), their ratio and peak RSS. The two feeds
must be byte-identical, so both runs do the same work but the mapping.

usage: python benchmarks/bench_mapping.py [--sizes 100000,1000000] [--repeat N]
                                          [--workdir DIR]
Target (issue 10): the mapped run at most 5% slower than the canonical one at 1M.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ../shared/bench beside the checkout (a worktree under wt/ has it two levels up).
SHARED = next((p for p in (ROOT.parent / "shared" / "bench",
                          ROOT.parent.parent / "shared" / "bench") if p.is_dir()),
              ROOT.parent / "shared" / "bench")
PREFIX = "https://shop.example.com/p/"

# canonical column -> the renamed export's column (15 entries, 2 of them expressions)
RENAMED = {"id": "sku", "title": "name", "description": "body_html", "image_link": "image",
           "additional_image_link": "images", "price": "amount", "sale_price": "sale_amount",
           "currency": "currency_code", "availability": "stock_status", "brand": "vendor",
           "gtin": "ean", "mpn": "mfr_part", "color": "colour", "size": "size_label"}
FIELDS = {**{attribute: column for attribute, column in RENAMED.items()},
          "link": f"'{PREFIX}' ~ row.slug",
          "condition": "row.state | lower"}


def renamed_copy(catalog: Path) -> Path:
    """The catalog with 15 columns renamed, ``link`` as a slug and ``condition`` upper case."""
    out = catalog.with_name(catalog.stem + "-renamed.csv")
    if out.exists():
        return out
    with catalog.open(newline="", encoding="utf-8") as src, \
            out.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        names = {c: RENAMED.get(c, {"link": "slug", "condition": "state"}.get(c, c))
                 for c in reader.fieldnames or []}
        writer = csv.DictWriter(dst, [names[c] for c in reader.fieldnames or []])
        writer.writeheader()
        for row in reader:
            row["link"] = row["link"].removeprefix(PREFIX)
            row["condition"] = row["condition"].upper()
            writer.writerow({names[c]: v for c, v in row.items()})
    return out


def mapping_config(work: Path, catalog: Path) -> Path:
    lines = ["catalog:", f"  path: {catalog}", "  fields:"]
    lines += [f"    {attribute}: {value!r}" if not value.isidentifier() else
              f"    {attribute}: {value}" for attribute, value in FIELDS.items()]
    config = work / "mapped.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def run(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user+sys) and peak RSS in MB of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="feedsync-bench-mapping-"))
    work.mkdir(parents=True, exist_ok=True)
    feedsync = [sys.executable, "-m", "feedsync.cli", "build", "--channel", "google",
                "--jobs", "1"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, work dir {work}")
    print(f"{'rows':>10}{'canon wall':>12}{'mapped wall':>13}{'ratio':>7}"
          f"{'canon cpu':>11}{'mapped cpu':>12}{'ratio':>7}{'canon MB':>10}{'mapped MB':>11}")
    for size in [int(s) for s in args.sizes.split(",")]:
        catalog = work / f"catalog-{size}.csv"
        if not catalog.exists():
            subprocess.run([sys.executable, str(SHARED / "gen_catalog.py"), str(size),
                            str(catalog)], check=True)
        config = mapping_config(work, renamed_copy(catalog))
        canonical = feedsync + [str(catalog), "--out", str(work / "out-canonical")]
        mapped = feedsync + ["--config", str(config), "--out", str(work / "out-mapped")]
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.repeat):  # interleaved, best of N: neighbours add, never take
            for name, cmd in (("canonical", canonical), ("mapped", mapped)):
                result = run(cmd, ROOT)
                seen = best.get(name)
                best[name] = result if seen is None else (
                    min(seen[0], result[0]), min(seen[1], result[1]), max(seen[2], result[2]))
        if not filecmp.cmp(work / "out-canonical" / "google.xml",
                           work / "out-mapped" / "google.xml", shallow=False):
            sys.exit("the mapped feed differs from the canonical one")
        (cw, cc, cm), (mw, mc, mm) = best["canonical"], best["mapped"]
        print(f"{size:>10,}{cw:>12.2f}{mw:>13.2f}{mw / cw:>7.3f}{cc:>11.2f}{mc:>12.2f}"
              f"{mc / cc:>7.3f}{cm:>10.1f}{mm:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
