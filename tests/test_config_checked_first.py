"""Every setting is checked before the lock, the state and the first product (issue 9, part 2).

A mistake in a value that is only used late (the publish gate's limits, the catalog's
profile, a destination's URL or options, jobs) used to surface after the lock was taken,
the run recorded and the whole catalog built. Each bad value here goes through
``feedsync push`` and ``feedsync build`` (Typer's runner, in process) and must exit 2
naming its key, with nothing built, nothing locked and nothing recorded.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from feedsync.cli import app
from feedsync.errors import ExitCode
from tests.helpers import EXAMPLES

GOOD_DEST = "file://{live}/"

# (what is wrong, a change to the good config, the key path the error must name)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("gate ratio as words", {"gate": {"max_drop_ratio": "twenty percent"}},
     "gate.max_drop_ratio"),
    ("gate ratio above 1", {"gate": {"max_rejected_ratio": 1.5}}, "gate.max_rejected_ratio"),
    ("gate min_items 0", {"gate": {"min_items": 0}}, "gate.min_items"),
    ("gate unknown key", {"gate": {"max_drop": 0.1}}, "gate.max_drop"),
    ("channel gate ratio", {"channels.google.gate": {"max_drop_ratio": "20%"}},
     "channels.google.gate.max_drop_ratio"),
    ("channel gate not a mapping", {"channels.google.gate": "strict"}, "channels.google.gate"),
    ("unknown profile", {"catalog": {"profile": "shopifi"}}, "catalog.profile"),
    ("unknown scheme", {"channels.google.destinations": [{"url": "gopher://h/feeds/"}]},
     "channels.google.destinations[0].url"),
    ("password in the URL", {"channels.google.destinations": [
        {"url": "ftp://feeds:hunter2@ftp.example.com/in/"}]},
     "channels.google.destinations[0].url"),
    ("no url", {"channels.google.destinations": [{"path": "/srv/feeds"}]},
     "channels.google.destinations[0].url"),
    ("'..' in the path", {"channels.google.destinations": [{"url": "file:///srv/../etc/"}]},
     "channels.google.destinations[0].url"),
    ("file URL with a host", {"channels.google.destinations": [
        {"url": "file://example.com/srv/"}]}, "channels.google.destinations[0].url"),
    ("unknown option", {"channels.google.destinations": [
        {"url": GOOD_DEST, "colour": "red"}]}, "channels.google.destinations[0].options"),
    ("timeout as words", {"channels.google.destinations": [
        {"url": "sftp://feeds@sftp.example.com/in/", "timeout": "soon"}]},
     "channels.google.destinations[0].timeout"),
    ("gzip not a flag", {"channels.google.destinations": [{"url": GOOD_DEST, "gzip": "yes"}]},
     "channels.google.destinations[0].gzip"),
    ("http method", {"channels.google.destinations": [
        {"url": "https://feeds.example.com/in", "method": "DELETE"}]},
     "channels.google.destinations[0].method"),
    ("jobs negative", {"jobs": -1}, "jobs"),
    ("jobs as words", {"jobs": "many"}, "jobs"),
    ("keep_feeds as words", {"keep_feeds": "five"}, "keep_feeds"),
]


def _config(tmp_path: Path, change: dict[str, Any]) -> Path:
    live = tmp_path / "live"
    raw: dict[str, Any] = {"catalog": {"path": str(EXAMPLES)}, "output_dir": str(tmp_path / "out"),
                           "state_dir": str(tmp_path / "state"),
                           "channels": {"google": {"destinations": [
                               {"url": GOOD_DEST.format(live=live)}]}}}
    for path, value in change.items():
        if isinstance(value, list):
            value = [{k: (v.format(live=live) if isinstance(v, str) else v)
                      for k, v in d.items()} for d in value]
        where = raw
        *parents, last = path.split(".")
        for part in parents:
            where = where[part]
        if last in where and isinstance(where[last], dict) and isinstance(value, dict):
            where[last] = {**where[last], **value}
        else:
            where[last] = value
    config = tmp_path / "feedsync.yaml"
    config.write_text(json.dumps(raw), encoding="utf-8")
    return config


@pytest.fixture(autouse=True, scope="module")
def _logging_restored() -> Iterator[None]:
    """``feedsync push`` in process sets up the feedsync logger for a run (own handler, no
    propagation); put it back so later tests' log capture still sees records."""
    logger = logging.getLogger("feedsync")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def _cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _history(state: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state / "state.sqlite") as db:
        return db.execute("SELECT * FROM runs ORDER BY id").fetchall()


def _lock_is_free(state: Path) -> bool:
    for lock in state.glob("*.lock"):
        with lock.open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
    return True


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good push into ``live/``: a state with one recorded run and a kept feed."""
    folder = tmp_path_factory.mktemp("early")
    (folder / "live").mkdir()
    code, _, err = _cli("push", "--config", _config(folder, {}))
    assert code == ExitCode.OK, err
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock") and p.suffix != ".yaml"}


@pytest.mark.parametrize("what, change, key", BAD, ids=[b[0] for b in BAD])
def test_a_bad_setting_stops_push_and_build_before_anything(
        pushed: Path, what: str, change: dict[str, Any], key: str) -> None:
    state = pushed / "state"
    runs = _history(state)
    before = _snapshot(pushed)
    config = _config(pushed, change)
    for command in ("push", "build"):
        code, out, err = _cli(command, "--config", config, "--json")
        assert code == ExitCode.USAGE, (command, err)
        error = json.loads(out)["error"]
        assert error["key"] == key, (command, error)
        assert error["error"] == "ConfigError"
    assert _history(state) == runs          # nothing recorded
    assert _lock_is_free(state)             # nothing locked
    assert _snapshot(pushed) == before      # nothing built, staged, published or kept
    assert not (pushed / "out").exists()
    assert not list((state / "staging").glob("*")) if (state / "staging").exists() else True
