"""State: run history, last good feeds and kept copies in real SQLite files (B9, D6)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from feedsync.state import SCHEMA_VERSION, FeedRecord, State, StateError

REPO = Path(__file__).resolve().parents[1]
HOUR_AGO = time.time() - 2 * 3600  # a file mtime; nothing here waits on the clock


def feed_file(folder: Path, text: str, name: str = "google.xml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_with_feed(
    state: State,
    source: Path,
    channel: str = "google",
    destination: str = "sftp://feeds.example.com/google.xml",
    items: int = 10,
    published: bool = True,
) -> FeedRecord:
    run_id = state.begin_run("feedsync push")
    record = state.record_feed(
        run_id, channel, destination, source.name, items, 0, source, published
    )
    state.finish_run(run_id, "ok" if published else "refused", 0, {})
    return record


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".feedsync-*"))


# --- opening ----------------------------------------------------------------------------------


def test_open_creates_the_directory_and_the_database(tmp_path: Path) -> None:
    with State.open(tmp_path / "deep" / ".feedsync") as state:
        assert state.path == tmp_path / "deep" / ".feedsync" / "state.sqlite"
        assert state.runs() == []
    assert state.path.is_file()
    assert temp_files(state.state_dir) == []
    with sqlite3.connect(state.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_default_state_dir_is_dot_feedsync_under_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with State.open() as state:
        assert state.path == tmp_path / ".feedsync" / "state.sqlite"
    assert state.path.is_file()


def test_data_survives_reopening(tmp_path: Path) -> None:
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state:
        first = run_with_feed(state, source)
    with State.open(tmp_path / "st") as state:
        assert state.last_good("google", first.destination) == first


def test_state_dir_that_is_a_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "st").write_text("")
    with pytest.raises(StateError) as caught:
        State.open(tmp_path / "st")
    assert caught.value.exit_code is ExitCode.USAGE


def test_keep_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        State.open(tmp_path, keep=0)


# --- corruption (B9) --------------------------------------------------------------------------


def populated(tmp_path: Path) -> Path:
    """A real state database big enough that any cut lands inside the data."""
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state:
        for _ in range(40):
            run_id = state.begin_run("feedsync push --config " + "x" * 200)
            state.record_feed(run_id, "google", "d", "google.xml", 10, 0, source, True)
            state.finish_run(run_id, "ok", 0, {"note": "y" * 300})
        return state.path


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def scribble_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    size = len(data)
    data[size // 3 : size // 3 + 8192] = os.urandom(8192)
    path.write_bytes(bytes(data))


def foreign_database(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")


@pytest.mark.parametrize(
    "damage", [truncate_half, garbage, empty, scribble_middle, foreign_database]
)
def test_b9_damaged_state_raises_and_is_never_recreated(tmp_path: Path, damage: object) -> None:
    path = populated(tmp_path)
    damage(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(StateError) as caught:
        State.open(path.parent)
    err = caught.value
    assert err.file == str(path)
    assert str(path) in str(err)
    assert "damaged" in err.message
    assert err.tip is not None and "move it aside" in err.tip
    assert err.exit_code is ExitCode.USAGE
    assert path.read_bytes() == before  # not repaired, not replaced by an empty state


def test_journal_without_its_database_is_refused(tmp_path: Path) -> None:
    path = populated(tmp_path)
    path.rename(path.with_name("elsewhere.sqlite"))
    path.with_name("state.sqlite-journal").write_bytes(b"leftover")
    with pytest.raises(StateError, match="state.sqlite is missing"):
        State.open(path.parent)
    assert not path.exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = populated(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match="schema version 99"):
        State.open(path.parent)


# --- runs -------------------------------------------------------------------------------------


def test_runs_round_trip(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        first = state.begin_run("feedsync push")
        (row,) = state.runs()
        assert (row.id, row.status, row.finished_at, row.exit_code) == (
            first,
            "running",
            None,
            None,
        )
        assert (row.pid, row.host) == (os.getpid(), socket.gethostname())
        state.finish_run(first, "refused", int(ExitCode.GATE_REFUSED), {"google": {"items": 4}})
        second = state.begin_run("feedsync push --force")
        state.finish_run(second, "ok", 0, {})
        newest, older = state.runs()
        assert (newest.id, newest.command, newest.status) == (second, "feedsync push --force", "ok")
        assert (older.status, older.exit_code, older.summary) == (
            "refused",
            5,
            {"google": {"items": 4}},
        )
        assert older.finished_at is not None and older.finished_at >= older.started_at
        assert [r.id for r in state.runs(limit=1)] == [second]


@pytest.mark.parametrize("status", ["running", "done", ""])
def test_finish_run_refuses_bad_statuses(tmp_path: Path, status: str) -> None:
    with State.open(tmp_path) as state:
        run_id = state.begin_run("x")
        with pytest.raises(ValueError):
            state.finish_run(run_id, status, 0, {})  # type: ignore[arg-type]
        assert state.runs()[0].status == "running"


def test_finish_run_of_an_unknown_run(tmp_path: Path) -> None:
    with State.open(tmp_path) as state, pytest.raises(ValueError, match="no run 42"):
        state.finish_run(42, "ok", 0, {})


def test_summary_must_be_plain_json(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        run_id = state.begin_run("x")
        with pytest.raises(ValueError):
            state.finish_run(run_id, "ok", 0, {"ratio": float("nan")})
        with pytest.raises(TypeError):
            state.finish_run(run_id, "ok", 0, {"path": tmp_path})
        assert state.runs()[0].status == "running"  # the failed writes left nothing


def test_runs_left_running_by_a_killed_process_are_marked_interrupted(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from feedsync.state import State\n"
        "state = State.open(Path(sys.argv[1]))\n"
        "print(state.begin_run('feedsync push'), flush=True)\n"
        "time.sleep(300)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    run_id = int(proc.stdout.readline())
    with State.open(tmp_path) as state:
        assert state.runs()[0].status == "running"  # still alive: left alone
    proc.kill()
    proc.wait()
    proc.stdout.close()
    with State.open(tmp_path) as state:
        (row,) = state.runs()
        assert (row.id, row.status) == (run_id, "interrupted")
        assert row.finished_at is not None


def test_live_and_foreign_runs_are_left_running(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        ours = state.begin_run("this process")
    with sqlite3.connect(tmp_path / "state.sqlite") as conn:
        conn.execute(
            "INSERT INTO runs (started_at, command, status, pid, host) VALUES"
            " ('2026-01-01T00:00:00+00:00', 'other host', 'running', 1, 'elsewhere.example')"
        )
        # our own pid, but a different process start: the pid was reused, the run is dead
        conn.execute(
            "INSERT INTO runs (started_at, command, status, pid, host, proc_token) VALUES"
            " ('2026-01-01T00:00:00+00:00', 'reused pid', 'running', ?, ?, 'old-boot:1')",
            (os.getpid(), socket.gethostname()),
        )
    with State.open(tmp_path) as state:
        status = {row.command: row.status for row in state.runs()}
        assert state.mark_interrupted_runs() == 0  # already done at open
    assert status == {
        "this process": "running",
        "other host": "running",
        "reused pid": "interrupted",
    }
    assert ours


# --- feeds ------------------------------------------------------------------------------------


def test_record_feed_keeps_an_exact_copy(tmp_path: Path) -> None:
    source = feed_file(tmp_path, "<feed>\u00e9t\u00e9</feed>\n")
    with State.open(tmp_path / "st") as state:
        run_id = state.begin_run("feedsync push")
        record = state.record_feed(run_id, "google", "", "google.xml", 12, 3, source, True)
    assert (record.run_id, record.channel, record.destination) == (run_id, "google", "")
    assert (record.items, record.rejected, record.published) == (12, 3, True)
    assert record.sha256 == sha256(source)
    assert record.bytes == source.stat().st_size
    assert record.kept_path == (
        tmp_path / "st" / "feeds" / "google" / f"{run_id}-{record.sha256[:12]}-google.xml"
    )
    assert record.kept_path.read_bytes() == source.read_bytes()
    assert temp_files(tmp_path / "st") == []


def test_last_good_is_per_channel_and_destination(tmp_path: Path) -> None:
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state:
        assert state.last_good("google", "a") is None
        good_a = run_with_feed(state, source, destination="a", items=100)
        run_with_feed(state, source, destination="a", items=5, published=False)
        good_b = run_with_feed(state, source, destination="b", items=50)
        meta = run_with_feed(state, source, channel="meta", destination="a", items=7)
        assert state.last_good("google", "a") == good_a
        assert state.last_good("google", "b") == good_b
        assert state.last_good("meta", "a") == meta
        assert state.last_good("meta", "b") is None
        assert state.last_good("google", "") is None


def test_feed_for_run_and_good_feeds(tmp_path: Path) -> None:
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state:
        run_id = state.begin_run("feedsync push")
        to_a = state.record_feed(run_id, "google", "a", "google.xml", 1, 0, source, True)
        to_b = state.record_feed(run_id, "google", "b", "google.xml", 1, 0, source, False)
        state.finish_run(run_id, "failed", 8, {})
        later = run_with_feed(state, source, destination="a")
        assert state.feed_for_run("google", run_id) == to_b  # newest of that run
        assert state.feed_for_run("google", run_id, "a") == to_a
        assert state.feed_for_run("meta", run_id) is None
        assert state.feed_for_run("google", 999) is None
        assert state.good_feeds("google") == [later, to_a]
        assert state.good_feeds("google", limit=1) == [later]
        assert state.good_feeds("meta") == []


@pytest.mark.parametrize(
    ("channel", "file_name"),
    [("../up", "f.xml"), ("a/b", "f.xml"), ("", "f.xml"), ("g", ".hidden"), ("g", "x/../y")],
)
def test_names_must_be_plain_file_names(tmp_path: Path, channel: str, file_name: str) -> None:
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state:
        run_id = state.begin_run("x")
        with pytest.raises(ValueError, match="plain file name"):
            state.record_feed(run_id, channel, "", file_name, 1, 0, source, True)
        assert state.feed_for_run(channel, run_id) is None
    assert not (tmp_path / "st" / "feeds").exists()


def test_record_feed_for_an_unknown_run_copies_nothing(tmp_path: Path) -> None:
    source = feed_file(tmp_path, "<feed/>")
    with State.open(tmp_path / "st") as state, pytest.raises(ValueError, match="no run 7"):
        state.record_feed(7, "google", "", "google.xml", 1, 0, source, True)
    assert not (tmp_path / "st" / "feeds").exists()


def test_missing_source_is_a_state_error_and_leaves_no_temp(tmp_path: Path) -> None:
    with State.open(tmp_path / "st") as state:
        run_id = state.begin_run("x")
        with pytest.raises(StateError, match="cannot keep a copy"):
            state.record_feed(run_id, "google", "", "g.xml", 1, 0, tmp_path / "nope.xml", True)
        assert state.feed_for_run("google", run_id) is None
    assert temp_files(tmp_path / "st") == []


# --- pruning ----------------------------------------------------------------------------------


def kept_files(state: State, channel: str = "google") -> list[str]:
    return sorted(p.name for p in (state.feeds_dir / channel).iterdir())


def test_prune_keeps_the_newest_copies_per_channel(tmp_path: Path) -> None:
    with State.open(tmp_path / "st", keep=2) as state:
        records = [run_with_feed(state, feed_file(tmp_path, f"<feed>{i}</feed>")) for i in range(4)]
        meta = run_with_feed(state, feed_file(tmp_path, "<meta/>"), channel="meta")
        goods = state.good_feeds("google")
        assert [g.id for g in goods] == [r.id for r in reversed(records)]  # rows all stay
        assert [g.kept_path is not None for g in goods] == [True, True, False, False]
        assert kept_files(state) == sorted(r.kept_path.name for r in records[2:])  # type: ignore[union-attr]
        assert kept_files(state, "meta") == [meta.kept_path.name]  # type: ignore[union-attr]


def test_prune_never_deletes_the_newest_published_feed_of_a_destination(tmp_path: Path) -> None:
    with State.open(tmp_path / "st", keep=2) as state:
        live_b = run_with_feed(state, feed_file(tmp_path, "<b/>"), destination="b")
        for i in range(4):  # refused for b, published to a, again and again
            run_with_feed(state, feed_file(tmp_path, f"<{i}/>"), destination="b", published=False)
            run_with_feed(state, feed_file(tmp_path, f"<a{i}/>"), destination="a")
        kept_b = state.last_good("google", "b")
        assert kept_b == live_b and kept_b.kept_path is not None
        assert kept_b.kept_path.read_text() == "<b/>"
        assert len(kept_files(state)) == 3  # the newest two, plus b's live feed


def test_a_copy_shared_by_two_destinations_survives_while_referenced(tmp_path: Path) -> None:
    with State.open(tmp_path / "st", keep=1) as state:
        source = feed_file(tmp_path, "<shared/>")
        run_id = state.begin_run("x")
        to_a = state.record_feed(run_id, "google", "a", "google.xml", 1, 0, source, True)
        to_b = state.record_feed(run_id, "google", "b", "google.xml", 1, 0, source, True)
        assert to_a.kept_path == to_b.kept_path
        run_with_feed(state, feed_file(tmp_path, "<new-a/>"), destination="a")
        run_with_feed(state, feed_file(tmp_path, "<new-a2/>"), destination="a")
        live_b = state.last_good("google", "b")
        assert live_b is not None and live_b.kept_path is not None
        assert live_b.kept_path.read_text() == "<shared/>"
        # a's old row still points at the copy, because the copy is still there
        old_a = state.feed_for_run("google", run_id, "a")
        assert old_a is not None and old_a.kept_path == live_b.kept_path
        assert len(kept_files(state)) == 2  # keep=1, plus b's live feed


def test_rollback_source_copy_is_not_pruned_while_in_use(tmp_path: Path) -> None:
    with State.open(tmp_path / "st", keep=2) as state:
        oldest = run_with_feed(state, feed_file(tmp_path, "<old/>"), destination="a")
        run_with_feed(state, feed_file(tmp_path, "<new/>"), destination="a")
        assert oldest.kept_path is not None and oldest.kept_path.exists()
        run_id = state.begin_run("rollback")
        # re-publish the oldest copy to two destinations, recording after each
        for destination in ("a", "c"):
            state.record_feed(
                run_id, "google", destination, "google.xml", 1, 0, oldest.kept_path, True
            )
            assert oldest.kept_path.read_text() == "<old/>"


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_d6_sweep_removes_only_leftovers_of_our_own(tmp_path: Path) -> None:
    with State.open(tmp_path / "st") as state:
        run_with_feed(state, feed_file(tmp_path, "<one/>"))
        folder = state.feeds_dir / "google"
    dead, live = dead_pid(), os.getpid()
    # path -> (make it old?, expected to be removed?)
    planted = {
        tmp_path / "st" / f".feedsync-state.sqlite.{dead}.a1.tmp": (False, True),
        tmp_path / "st" / f".feedsync-state.sqlite.{live}.a2.tmp": (True, False),
        tmp_path / "st" / "state.sqlite.bak": (True, False),
        folder / f".feedsync-google.xml.{dead}.b1.tmp": (False, True),
        folder / f".feedsync-google.xml.{live}.b2.tmp": (False, False),
        folder / "9-0123456789ab-google.xml": (True, True),  # orphan copy of a killed run
        folder / "10-0123456789ab-google.xml": (False, False),  # orphan, but may be in flight
        folder / "notes.txt": (True, False),
        folder / ".in.google.xml": (True, False),
        folder / "feed.xml.bak": (True, False),
    }
    for path, (old, _) in planted.items():
        path.write_text("x")
        if old:
            os.utime(path, (HOUR_AGO, HOUR_AGO))
    with State.open(tmp_path / "st") as state:
        run_with_feed(state, feed_file(tmp_path, "<two/>"))
        assert len(state.good_feeds("google")) == 2
    for path, (_, removed) in planted.items():
        assert path.exists() is not removed, path


# --- crash safety -----------------------------------------------------------------------------

WRITER = r"""
import os, sys
from pathlib import Path
from feedsync.state import State

state_dir, work = Path(sys.argv[1]), Path(sys.argv[2])
sources = []
for size in range(1, 9):  # written once, so the loop spends its time in State calls
    sources.append(work / f"google-{size}.xml")
    sources[-1].write_bytes(os.urandom(128 * 1024 * size))
with State.open(state_dir, keep=3) as state:
    for i in range(100_000):
        source = sources[i % len(sources)]
        run_id = state.begin_run("writer")
        for destination in ("a", "b"):
            state.record_feed(run_id, "google", destination, "google.xml", i, 0, source, True)
        state.finish_run(run_id, "ok", 0, {"i": i})
        print(i, flush=True)
"""


def check_consistent(state_dir: Path) -> int:
    """Assert the state is whole after a kill; return how many runs were interrupted."""
    with sqlite3.connect(state_dir / "state.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with State.open(state_dir, keep=3) as state:
        runs = state.runs(limit=10_000)
        assert all(run.status in ("ok", "interrupted") for run in runs)
        for record in state.good_feeds("google"):
            assert record.run_id in {run.id for run in runs}
            if record.kept_path is not None:
                assert sha256(record.kept_path) == record.sha256
                assert record.kept_path.stat().st_size == record.bytes
    for copy in (state_dir / "feeds" / "google").iterdir():
        if not copy.name.startswith(".feedsync-"):  # complete copies only, under final names
            assert sha256(copy).startswith(copy.name.split("-")[1])
    return sum(run.status == "interrupted" for run in runs)


def test_kill_9_during_record_feed_leaves_complete_rows_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "st"
    # Kill after a varying number of finished runs, so the signal lands in different steps:
    # writing the source, begin_run, copying, inserting, pruning, finish_run.
    for done, kill_after in enumerate((2, 5, 9, 1, 13, 3, 7, 1, 4, 6, 2, 8), start=1):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state_dir), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.stdout is not None
        for _ in range(kill_after):
            assert proc.stdout.readline()
        time.sleep(random.uniform(0, 0.02))  # a random moment inside the next run
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert check_consistent(state_dir) <= done
