#!/usr/bin/env python3
"""Size and render time of the HTML diagnostics report for a large issue log.

Builds examples/catalog.csv into real feed files (so the preview reads real feeds), then
replaces each channel's issue log with a generated one of ``--issues`` issues (real
``Issue`` records over a dozen codes, about 2.5 per product) and renders the page with
``feedsync.htmlreport.write_html``. Prints, per case: issues, page bytes, issue rows and
preview items embedded, render seconds and the process's peak RSS. The ``hostile`` case
fills every id, field and message with maximal-length text that must be escaped, to
show the byte bound holding.

usage: python benchmarks/bench_html_report.py [--issues 100000] [--channels google,meta]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from feedsync import build
from feedsync.config import parse_config
from feedsync.htmlreport import write_html
from feedsync.model import Issue

ROOT = Path(__file__).resolve().parent.parent
CODES = [("missing-required", "error", "gtin"), ("bad-gtin", "error", "gtin"),
         ("too-long", "error", "title"), ("bad-money", "error", "price"),
         ("not-in-enum", "error", "availability"), ("bad-url", "error", "link"),
         ("all-caps", "warning", "title"), ("promotional-text", "warning", "title"),
         ("missing-identifier", "warning", "gtin"), ("too-many-images", "warning",
                                                     "additional_image_link"),
         ("html-in-description", "warning", "description"), ("commerce-identifiers",
                                                            "hint", "brand")]
HOSTILE = "\"'<&>" * 60


def write_log(path: Path, channel: str, issues: int, hostile: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    with path.open("wb") as handle:
        for n in range(issues):
            code, severity, field = CODES[(n * 7 + n // 3) % len(CODES)]
            product = n * 2 // 5
            issue = Issue(code=code, severity=severity,  # type: ignore[arg-type]
                          message=(HOSTILE if hostile else
                                   f"{field} '{product:08d}-value' fails the {code} rule"),
                          channel=channel,
                          product_id=HOSTILE if hostile else f"SKU-{product:08d}",
                          file="catalog.csv", line=product + 2,
                          field=HOSTILE[:60] if hostile else field,
                          value=str(product), source="https://support.google.com/merchants")
            handle.write(json.dumps(issue.to_dict(), ensure_ascii=False).encode() + b"\n")
            counts[code] += 1
    return counts


def case(name: str, out: Path, channels: list[str], issues: int, hostile: bool) -> None:
    report: dict[str, Any] = build(ROOT / "examples" / "catalog.csv", channels, out,
                                   parse_config({"jobs": 1})).to_dict()
    for target, entry in report["channels"].items():
        counts = write_log(Path(entry["issue_log"]), target, issues, hostile)
        entry["issues"] = dict(counts)
        entry["warnings"] = sum(n for c, n in counts.items()
                                if dict((k, s) for k, s, _ in CODES)[c] == "warning")
    start = time.perf_counter()
    result = write_html(report, out / "report.html")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {name} | {len(channels)} | {issues * len(channels):,} | {result.bytes:,} | "
          f"{result.issue_rows:,} | {result.preview_items} | {seconds:.2f} | {peak:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000, help="issues per channel log")
    parser.add_argument("--channels", default="google", help="comma-separated channels")
    args = parser.parse_args()
    channels = [c for c in args.channels.split(",") if c]
    print("| case | channels | issues | page bytes | issue rows | preview items | render s "
          "| peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-html-") as work:
        case("realistic", Path(work) / "real", channels, args.issues, hostile=False)
        case("hostile", Path(work) / "hostile", channels, args.issues, hostile=True)


if __name__ == "__main__":
    main()
