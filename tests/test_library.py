"""The library's front door: each command's work, as typed reports, without the CLI.

``from feedsync import build, validate, explain, push, rollback, history, channels``; the
CLI only draws what they return, so its ``--json`` is their ``to_dict()``.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from feedsync import build, channels, explain, history, push, rollback, validate
from feedsync.cli import app
from feedsync.config import parse_config
from feedsync.errors import ExitCode
from feedsync.explain import Explanation
from feedsync.listings import ChannelsReport, HistoryReport
from feedsync.report import DeliveryResult, RunReport
from tests.helpers import EXAMPLES, good_row, write_csv


def _cli_json(*args: str | Path) -> dict[str, object]:
    result = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert result.exit_code == ExitCode.OK, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_build_and_validate_return_run_reports(tmp_path: Path) -> None:
    built = build(EXAMPLES, ["google"], tmp_path / "out")
    checked = validate(EXAMPLES, ["google"])
    assert isinstance(built, RunReport) and isinstance(checked, RunReport)
    assert built.channels[0].rejected == checked.channels[0].rejected
    assert built.channels[0].written == checked.channels[0].written > 0


def test_channels_is_what_the_command_prints() -> None:
    report = channels()
    assert isinstance(report, ChannelsReport)
    assert {"google", "amazon", "google_local_inventory"} <= {c.name for c in report.channels}
    assert report.to_dict() == _cli_json("channels")


def test_explain_returns_a_typed_explanation() -> None:
    result = explain("MUG-350", EXAMPLES, ["google"])
    assert isinstance(result, Explanation)
    first, second = result.occurrences
    assert first.channels["google"].outcome == "written"
    assert second.channels["google"].outcome == "rejected"
    assert result.to_dict() == _cli_json("explain", "MUG-350", EXAMPLES, "--channel",
                                         "google")


def test_push_history_and_rollback(tmp_path: Path) -> None:
    live, state = tmp_path / "live", tmp_path / "state"
    live.mkdir()
    config = parse_config({"state_dir": str(state), "channels": {"google": {
        "destinations": [{"url": f"file://{live}/"}]}}})
    first = push(EXAMPLES, [], config)
    assert first.exit_code == 0 and first.deliveries is not None
    [delivery] = first.deliveries
    assert isinstance(delivery, DeliveryResult) and delivery.status == "published"
    smaller = write_csv(tmp_path / "smaller.csv", [good_row(f"P{n}") for n in range(25)])
    second = push(smaller, [], config, force=True)  # fewer items: the gate needs --force
    assert second.deliveries is not None and second.deliveries[0].status == "published"
    runs = history(config)
    assert isinstance(runs, HistoryReport)
    assert [r.status for r in runs.runs] == ["ok", "ok"]
    assert runs.to_dict() == _cli_json("history", "--state", state)
    back = rollback("google", config)
    assert back.rollback is not None and back.rollback.from_run == runs.runs[-1].id
    assert (live / "google.xml").read_bytes().count(b"<item>") == delivery.items
