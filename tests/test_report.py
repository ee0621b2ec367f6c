"""The run report: per-target fill counts, and the typed parts of ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from feedsync.channels.loader import ChannelLibrary
from feedsync.cli import app
from feedsync.errors import ExitCode
from feedsync.report import FieldFill
from tests.helpers import COLUMNS, good_row, write_csv


def test_fill_counts_every_evaluated_item_and_no_other(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [
        good_row("A1", color="Red"),
        good_row("A2", mpn=""),                       # written, no mpn
        good_row("BAD", gtin="4006381333932"),        # rejected (check digit): counted
        good_row("SKIP", brand="Skip me", color="Blue"),  # filtered: not counted
        good_row("A1", color="Green"),                # duplicate: not counted
    ], COLUMNS)
    config = tmp_path / "feedsync.yaml"
    config.write_text(json.dumps({"channels": {"google": {
        "exclude": "product.brand == 'Skip me'"}}}), encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(catalog), "--config", str(config),
                                      "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    google = json.loads(result.stdout)["channels"]["google"]
    assert (google["written"], google["rejected"], google["filtered"]) == (2, 2, 1)
    assert google["evaluated"] == 3
    fill = google["fill"]
    assert list(fill) == list(ChannelLibrary().load("google").fields)  # every field, in order
    assert fill["id"] == 3 and fill["gtin"] == 3 and fill["mpn"] == 2
    assert fill["color"] == 1                     # the filtered and the duplicate's colours
    assert fill["sale_price"] == 0                # zeros are listed too


def test_field_fill_folds_many_distinct_masks_exactly() -> None:
    fill = FieldFill(["a", "b", "c"])
    fill.FOLD_AT = 2  # fold often: the counts must not change
    for mask in (0b001, 0b011, 0b111, 0b100, 0b000, 0b011):
        fill.add(mask)
    assert fill.evaluated == 6
    assert fill.counts() == {"a": 4, "b": 3, "c": 2}
    assert fill.counts() == {"a": 4, "b": 3, "c": 2}  # reading does not change them
