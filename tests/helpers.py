"""Shared helpers for the build / CLI tests: run the real CLI, write catalogs, read feeds.

Everything here works on real files and real processes; nothing is mocked.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "catalog.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cli"
G_NS = "http://base.google.com/ns/1.0"
G = "{" + G_NS + "}"

# The canonical columns of ../shared/bench/gen_catalog.py (and examples/catalog.csv).
COLUMNS = ["id", "title", "description", "link", "image_link", "additional_image_link",
           "price", "sale_price", "currency", "availability", "quantity", "brand", "gtin",
           "mpn", "condition", "color", "size", "gender", "age_group", "item_group_id",
           "product_type", "google_product_category"]


def shared_dir() -> Path | None:
    """``../shared`` (bench scripts and real shop data) where this checkout can see it."""
    candidates = [os.environ.get("FEEDSYNC_SHARED"), REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bench" / "gen_catalog.py").is_file():
            return Path(candidate)
    return None


def require_shared() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared (bench/gen_catalog.py and data/) is not next to this checkout; "
                    "set FEEDSYNC_SHARED to its path")
    return shared


def gen_catalog(out: Path, rows: int, *extra: str) -> Path:
    """Run ../shared/bench/gen_catalog.py into ``out`` (format from the extension)."""
    script = require_shared() / "bench" / "gen_catalog.py"
    subprocess.run([sys.executable, str(script), str(rows), str(out), *extra], check=True,
                   timeout=120)
    return out


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FEEDSYNC_DEBUG", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["COLUMNS"] = "250"  # rich wraps tables to the terminal width; keep lines whole
    if extra:
        env.update(extra)
    return env


def cli_command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "feedsync.cli", *(str(a) for a in args)]


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None,
            env: Mapping[str, str] | None = None, stdin: str | None = None,
            timeout: float = 120) -> tuple[int, str, str]:
    """The real CLI as a subprocess: ``(exit code, stdout, stderr)``; never a traceback."""
    done = subprocess.run(cli_command(*args), cwd=cwd or REPO, env=cli_env(env),
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          encoding="utf-8", errors="replace")
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout
    return done.returncode, done.stdout, done.stderr


def invoke_cli(*args: str | os.PathLike[str], cwd: Path | None = None,
               env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
    """The real CLI in this process (Typer's CliRunner): ``(exit code, stdout, stderr)``.

    The same code path as ``run_cli`` without a Python start-up per call; use ``run_cli``
    where the process itself matters (signals, kill -9, a second process, the console
    script's own handling of a closed stdout). Like ``run_cli`` it runs in ``cwd`` (the
    repository by default) and asserts that no traceback escaped. The ``feedsync`` logger,
    which the CLI points at its captured stderr, is put back afterwards.
    """
    from typer.testing import CliRunner

    from feedsync.cli import app

    logger = logging.getLogger("feedsync")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    previous = Path.cwd()
    environment: dict[str, str | None] = {"COLUMNS": "250", "FEEDSYNC_DEBUG": None,
                                          **(env or {})}
    try:
        os.chdir(cwd or REPO)
        done = CliRunner().invoke(app, [str(a) for a in args], env=environment)
    finally:
        os.chdir(previous)
        logger.handlers[:], logger.level, logger.propagate = saved
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise AssertionError(f"the CLI raised {done.exception!r}") from done.exception
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout
    return done.exit_code, done.stdout, done.stderr


def error_line(stderr: str) -> str:
    """The one ``Error:`` line of a failed run (asserting there is exactly one)."""
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, f"expected exactly one Error: line, got {lines!r} in\n{stderr}"
    return lines[0]


def tip_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("Tip:")]
    assert len(lines) == 1, f"expected one Tip: line in\n{stderr}"
    return lines[0]


def write_csv(path: Path, rows: Iterable[Mapping[str, str]],
              columns: Sequence[str] = COLUMNS, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=delimiter, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """One JSON object a line, as UTF-8; a row holding a lone surrogate is written with
    ``\\uXXXX`` escapes (the only way JSON can carry one)."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            text = json.dumps(row, ensure_ascii=False)
            if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
                text = json.dumps(row)
            handle.write(text + "\n")
    return path


def good_row(product_id: str, **overrides: str) -> dict[str, str]:
    """A product the Google channel accepts without an error (or a warning)."""
    row = {
        "id": product_id, "title": f"Plain cotton shirt {product_id}",
        "description": "A soft shirt.", "link": f"https://shop.example.com/p/{product_id}",
        "image_link": f"https://cdn.example.com/{product_id}.jpg", "price": "12.50",
        "currency": "USD", "availability": "in_stock", "brand": "Acme",
        "gtin": "4006381333931", "mpn": f"M-{product_id}", "condition": "new",
    }
    row.update(overrides)
    return row


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse_feed(path: Path) -> etree._ElementTree:
    """Parse an XML feed fully with lxml (raises on anything not well-formed)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser)


def feed_items(path: Path) -> dict[str, etree._Element]:
    """``g:id`` -> ``<item>`` of a Google RSS feed; fails on a repeated id."""
    items: dict[str, etree._Element] = {}
    for item in parse_feed(path).getroot().iter("item"):
        product_id = item.findtext(G + "id")
        assert product_id is not None, etree.tostring(item)
        assert product_id not in items, f"id {product_id!r} appears twice in {path}"
        items[product_id] = item
    return items


def feed_ids(path: Path) -> list[str]:
    return [item.findtext(G + "id") or "" for item in parse_feed(path).getroot().iter("item")]


def read_issues(path: Path) -> list[dict[str, Any]]:
    """The JSONL issue log, one dict per finding."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def issues_for(issues: Iterable[Mapping[str, Any]], product_id: str) -> list[Mapping[str, Any]]:
    return [i for i in issues if i.get("product_id") == product_id]


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter="\t"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 (or 'dir') of everything under ``folder``."""
    result: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            result[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            result[rel] = "dir"
        else:
            result[rel] = sha256(path)
    return result


def temp_files(folder: Path) -> list[Path]:
    """feedsync's own temporary files (``.feedsync-<name>.<pid>.<rand>.tmp``) in ``folder``."""
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(".feedsync-") and p.name.endswith(".tmp"))


def report_accounts_for_all(report: Mapping[str, Any]) -> None:
    """The --json summary accounts for every product read, per channel."""
    read = report["catalog"]["read"]
    for name, channel in report["channels"].items():
        assert channel["written"] + channel["rejected"] == read, (name, channel, read)


def issues_by_row(report: Any, severity: str) -> dict[tuple[str, int], set[str]]:
    """The codes of one severity in a channel's issue log, by (product id, line)."""
    log = report.channels[0].issue_log
    assert log is not None
    found: dict[tuple[str, int], set[str]] = {}
    for issue in read_issues(Path(log)):
        if issue["severity"] == severity:
            found.setdefault((issue["product_id"], issue["line"]), set()).add(issue["code"])
    return found


def issues_by_product(report: Any, severity: str) -> dict[str, set[str]]:
    """The codes of one severity in a channel's issue log, by product id."""
    result: dict[str, set[str]] = {}
    for (product_id, _), codes in issues_by_row(report, severity).items():
        result.setdefault(product_id, set()).update(codes)
    return result

