"""Ids that differ only by whitespace or control characters (issue 15, item 5).

Five (here eight) ids that the writer cleans into one are one id on the channel: the
duplicate check runs on the id as written, so one item is written and the rest are
``duplicate-id`` errors on every channel. Ids that stay distinct once written (a DEL, a
BOM) stay distinct: the feed must never hold two items with one id, and never merge two
ids the channel can tell apart.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from tests.helpers import feed_ids, good_row, read_issues, run_cli, write_jsonl

SAME = ["A1", " A1", "A1 ", "A1\t", "A1\x01", "A1\x00", "A1\r", "\u00a0A1"]
CHANNELS = {"google": "google.xml", "meta": "meta.csv", "tiktok": "tiktok.csv",
            "pinterest": "pinterest.tsv", "microsoft": "microsoft.txt"}


def _written_ids(path: Path) -> list[str]:
    if path.suffix == ".xml":
        return feed_ids(path)
    delimiter = "," if path.suffix == ".csv" else "\t"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    header = [c.lower() for c in rows[0]]
    column = header.index("sku_id" if "sku_id" in header else "id")
    return [row[column] for row in rows[1:]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ids")
    rows = [{**good_row("A1"), "id": product_id} for product_id in SAME]
    rows.append(good_row("B2"))
    write_jsonl(folder / "catalog.jsonl", rows)
    args = [a for name in CHANNELS for a in ("-c", name)]
    code, _, err = run_cli("build", folder / "catalog.jsonl", *args, "-o", folder / "out")
    assert code == ExitCode.OK, err
    return folder / "out"


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_ids_equal_once_cleaned_are_one_id_on_every_channel(built: Path, channel: str) -> None:
    written = _written_ids(built / CHANNELS[channel])
    assert Counter(written) == {"A1": 1, "B2": 1}, written
    issues = read_issues(built / f"{channel}.issues.jsonl")
    duplicates = [i for i in issues if i["code"] == "duplicate-id"]
    assert len(duplicates) == len(SAME) - 1
    assert all(i["severity"] == "error" for i in duplicates)
