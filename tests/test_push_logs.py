"""push keeps each run's issue logs under the state directory (the staging folder goes)."""

from __future__ import annotations

import json
from pathlib import Path

from feedsync.config import Config
from feedsync.push import push

ROOT = Path(__file__).resolve().parent.parent


def test_issue_logs_outlive_the_run_and_are_pruned(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    state = tmp_path / "state"
    config = Config(keep_feeds=2)
    paths = []
    for _ in range(3):
        report = push(ROOT / "examples" / "catalog.csv", ["google"], config,
                      to=[live.as_uri() + "/"], state_dir=state, force=True)
        paths.append(Path(report.channels[0].issue_log or ""))
    newest = paths[-1]
    assert newest.parent.parent == state / "logs"
    codes = {json.loads(line)["code"] for line in newest.read_text().splitlines()}
    assert {"bad-gtin", "duplicate-id"} <= codes
    assert not paths[0].exists()          # keep_feeds: 2 runs of logs kept
    assert paths[1].exists()
    assert not (state / "staging").exists() or not any((state / "staging").iterdir())
