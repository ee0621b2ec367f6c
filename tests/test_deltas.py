"""The delta store (feedsync/deltas.py) on a real state database, and the migration of a
version-1 state database to version 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from feedsync.apis.sink import digest
from feedsync.deltas import DeltaStore, Outcome, sink_line
from feedsync.state import SCHEMA_VERSION, State, StateError

DAY = 86400


def _sink(path: Path, items: dict[str, str]) -> Path:
    with path.open("wb") as handle:
        for key, text in items.items():
            record = f'{{"id":"{key}","title":"{text}"}}'.encode()
            handle.write(sink_line(key, digest(record), record))
    return path


def _accept(store: DeltaStore, sink: Path, **plan: object) -> None:
    found = store.plan(sink, keepalive=None, full=False, hold_after=3, **plan)  # type: ignore[arg-type]
    store.record([Outcome(s.key, "upsert", s.hash, True) for s in found.sends()])
    store.record([Outcome(k, "delete", None, True) for k in found.delete_keys()])


def test_plan_classifies_new_changed_expired_unchanged_deleted(tmp_path: Path) -> None:
    now = [1_000_000.0]
    with State.open(tmp_path / "state") as state:
        store = DeltaStore(state, "t", clock=lambda: now[0])
        _accept(store, _sink(tmp_path / "a", {"A": "1", "B": "1", "C": "1", "D": "1"}))
        now[0] += 10 * DAY
        store.record([Outcome("C", "upsert", store.row("C")["hash"], True)])  # type: ignore[index]
        now[0] += 20 * DAY           # A, B, D accepted 30 days ago; C 20 days ago
        plan = store.plan(_sink(tmp_path / "b", {"A": "2", "B": "1", "C": "1", "E": "1"}),
                          keepalive=25 * DAY, full=False, hold_after=3)
        reasons = {s.key: s.reason for s in plan.sends()}
        assert reasons == {"A": "changed", "B": "expired", "E": "new"}
        assert list(plan.delete_keys()) == ["D"]
        assert (plan.items, plan.previous, plan.unchanged, plan.deletes) == (4, 4, 1, 1)
        assert next(s for s in plan.sends() if s.key == "A").record == (
            b'{"id":"A","title":"2"}')
        full = store.plan(tmp_path / "b", keepalive=None, full=True, hold_after=3)
        assert {s.key for s in full.sends()} == {"A", "B", "C", "E"}


def test_rejections_keep_the_accepted_hash_and_hold_after_n(tmp_path: Path) -> None:
    with State.open(tmp_path / "state") as state:
        store = DeltaStore(state, "t")
        _accept(store, _sink(tmp_path / "a", {"A": "1"}))
        accepted = store.row("A")["hash"]  # type: ignore[index]
        sink = _sink(tmp_path / "b", {"A": "2"})
        for attempt in range(1, 4):
            plan = store.plan(sink, keepalive=None, full=False, hold_after=2)
            sends = list(plan.sends())
            if attempt <= 2:
                assert [s.key for s in sends] == ["A"]
                store.record([Outcome("A", "upsert", sends[0].hash, False, "bad image")])
            else:
                assert sends == [] and plan.held == 1
                assert list(plan.held_back()) == [("A", "bad image", 2)]
        row = store.row("A")
        assert row is not None and row["hash"] == accepted and row["rejections"] == 2
        assert list(store.plan(sink, keepalive=None, full=True, hold_after=2).sends())


def test_a_submission_is_resolved_once_in_one_transaction(tmp_path: Path) -> None:
    with State.open(tmp_path / "state") as state:
        run = state.begin_run("push")
        store = DeltaStore(state, "t")
        number = store.add_submission(run, "amazon-feed", {"messages": 2},
                                      [(1, "A", "upsert", b"h" * 16), (2, "B", "delete", None)])
        store.update_submission(number, handle="50001")
        [pending] = store.submissions("amazon-feed")
        assert pending.handle == "50001" and pending.detail == {"messages": 2}
        store.resolve(number, [Outcome("A", "upsert", b"h" * 16, True)])
        assert store.submissions() == [] and store.row("A") is not None
        assert state.connection.execute("SELECT count(*) FROM submission_items").fetchone() \
            == (0,)


def test_duplicate_keys_in_the_sink_are_counted_once(tmp_path: Path) -> None:
    sink = tmp_path / "s"
    with sink.open("wb") as handle:
        for text in ("1", "2"):
            record = f'{{"t":"{text}"}}'.encode()
            handle.write(sink_line("A", digest(record), record))
    with State.open(tmp_path / "state") as state:
        plan = DeltaStore(state, "t").plan(sink, keepalive=None, full=False, hold_after=3)
        assert (plan.items, plan.duplicates, plan.new) == (1, 1, 1)


V1_SCHEMA = """
BEGIN;
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
    command TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN
    ('running', 'ok', 'failed', 'refused', 'interrupted')), exit_code INTEGER,
    summary_json TEXT, pid INTEGER, host TEXT, proc_token TEXT);
CREATE TABLE feeds (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
    channel TEXT NOT NULL, destination TEXT NOT NULL, file_name TEXT NOT NULL,
    items INTEGER NOT NULL CHECK (items >= 0), rejected INTEGER NOT NULL CHECK (rejected >= 0),
    bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, kept_path TEXT,
    published INTEGER NOT NULL CHECK (published IN (0, 1)), created_at TEXT NOT NULL);
CREATE INDEX feeds_by_target ON feeds (channel, destination, published, id);
CREATE INDEX feeds_by_run ON feeds (run_id, channel);
INSERT INTO runs VALUES (1, '2026-11-01T03:15:00+00:00', '2026-11-01T03:16:00+00:00',
    'push', 'ok', 0, '{"products": 20}', 4242, 'cronhost', NULL);
INSERT INTO feeds VALUES (1, 1, 'google', 'file:///srv/feeds/google.xml', 'google.xml',
    20, 1, 9000, 'ab', NULL, 1, '2026-11-01T03:16:00+00:00');
PRAGMA user_version = 1;
COMMIT;
"""


def test_a_version_1_database_is_migrated_and_keeps_its_history(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    conn = sqlite3.connect(folder / "state.sqlite", isolation_level=None)
    conn.executescript(V1_SCHEMA)
    conn.close()
    with State.open(folder) as state:
        assert [r.id for r in state.runs()] == [1]
        last = state.last_good("google", "file:///srv/feeds/google.xml")
        assert last is not None and last.items == 20
        assert state.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        DeltaStore(state, "t").record([Outcome("A", "upsert", b"x" * 16, True)])
    with State.open(folder) as state:     # and it opens again as version 2
        assert DeltaStore(state, "t").accepted_count() == 1


def test_a_newer_version_is_still_refused(tmp_path: Path) -> None:
    with State.open(tmp_path / "state"):
        pass
    conn = sqlite3.connect(tmp_path / "state" / "state.sqlite", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="schema version"):
        State.open(tmp_path / "state")
