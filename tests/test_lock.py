"""RunLock: one run per state directory and name (reliability.md D1, D2, D3, B2).

Contention tests use real processes, because flock is about processes and open file
descriptions; they talk to the parent over pipes, so nothing here waits on a clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsync.errors import ExitCode, LockHeld, OutputError
from feedsync.lock import LockInfo, RunLock, read_holder

REPO = Path(__file__).resolve().parents[1]

# A lock holder driven over stdin: it waits for "go", tries the lock, reports, then holds
# it until stdin gives it another line (or closes). SIGTERM raises like the CLI's handler.
HOLDER = r"""
import os, signal, subprocess, sys
from pathlib import Path
from feedsync.errors import Interrupted, LockHeld
from feedsync.lock import RunLock

state_dir, name, spawn = sys.argv[1], sys.argv[2], sys.argv[3] == "spawn"

def on_term(signum, frame):
    raise Interrupted("terminated")

signal.signal(signal.SIGTERM, on_term)
sys.stdin.readline()
try:
    with RunLock(Path(state_dir), name, command="holder " + name):
        if spawn:
            # close_fds=False on purpose: the lock must not leak into children anyway
            child = subprocess.Popen(["sleep", "300"], close_fds=False)
            print("child", child.pid, flush=True)
        print("locked", os.getpid(), flush=True)
        sys.stdin.readline()
except LockHeld as exc:
    print("held", exc.message, flush=True)
    sys.exit(int(exc.exit_code))
except Interrupted:
    print("interrupted", flush=True)
    sys.exit(143)
print("released", flush=True)
"""


class Holder:
    """One HOLDER process; the test drives it line by line."""

    def __init__(self, state_dir: Path, name: str = "push", spawn: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state_dir), name, "spawn" if spawn else "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def release(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait()

    def kill(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait()


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        if holder.proc.poll() is None:
            holder.proc.kill()
        holder.proc.wait()
        for stream in (holder.proc.stdin, holder.proc.stdout):
            if stream is not None:
                stream.close()


def start(
    holders: list[Holder], state_dir: Path, name: str = "push", spawn: bool = False
) -> Holder:
    holder = Holder(state_dir, name, spawn)
    holders.append(holder)
    return holder


def locked_pid(holder: Holder) -> int:
    kind, pid = holder.line().split()
    assert kind == "locked"
    return int(pid)


# --- in one process ---------------------------------------------------------------------------


def test_second_acquire_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path, command="feedsync push --config shop.yaml") as first:
        assert first.held
        with pytest.raises(LockHeld) as caught:
            RunLock(tmp_path).acquire()
    err = caught.value
    assert err.exit_code is ExitCode.LOCKED
    assert str(tmp_path / "push.lock") in err.message
    assert f"(pid {os.getpid()} since " in err.message
    assert err.tip is not None and "feedsync push --config shop.yaml" in err.tip


def test_holder_details_are_written_after_acquiring(tmp_path: Path) -> None:
    with RunLock(tmp_path, command="feedsync push"):
        info = read_holder(tmp_path / "push.lock")
        assert info is not None
        assert (info.pid, info.command) == (os.getpid(), "feedsync push")
        assert info.host and info.started_at


def test_released_on_exception(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), RunLock(tmp_path):
        raise RuntimeError("boom")
    with RunLock(tmp_path) as again:
        assert again.held


def test_release_is_idempotent_and_blanks_the_details(tmp_path: Path) -> None:
    lock = RunLock(tmp_path).acquire()
    lock.release()
    lock.release()
    assert not lock.held
    path = tmp_path / "push.lock"
    assert path.exists()  # never deleted: unlinking a flock file races
    assert path.read_bytes() == b""
    assert read_holder(path) is None


def test_a_refused_attempt_does_not_wipe_the_holder_details(tmp_path: Path) -> None:
    with RunLock(tmp_path, command="first"):
        for _ in range(3):
            with pytest.raises(LockHeld):
                RunLock(tmp_path, command="second").acquire()
        info = read_holder(tmp_path / "push.lock")
        assert info is not None and info.command == "first"


def test_unreadable_details_still_refuse(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        (tmp_path / "push.lock").write_text("not json")
        with pytest.raises(LockHeld, match="holder details not written yet"):
            RunLock(tmp_path).acquire()


def test_acquiring_twice_on_one_object_is_a_bug(tmp_path: Path) -> None:
    with RunLock(tmp_path) as lock, pytest.raises(RuntimeError):
        lock.acquire()


def test_creates_a_missing_state_dir(tmp_path: Path) -> None:
    with RunLock(tmp_path / "a" / ".feedsync"):
        assert (tmp_path / "a" / ".feedsync" / "push.lock").is_file()


def test_state_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(OutputError, match="cannot open lock file"):
        RunLock(tmp_path / "state").acquire()


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../push", ".."])
def test_lock_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        RunLock(tmp_path, name)


def test_lock_info_round_trip_and_junk() -> None:
    info = LockInfo(pid=7, host="h", started_at="2026-01-01T00:00:00+00:00", command="c")
    assert LockInfo.from_json(info.to_json()) == info
    for junk in ("", "{}", "[1]", '{"pid": "x", "host": 1, "started_at": 1, "command": 1}'):
        assert LockInfo.from_json(junk) is None


# --- real processes ---------------------------------------------------------------------------


def test_d1_two_processes_contend_and_exactly_one_wins(
    tmp_path: Path, holders: list[Holder]
) -> None:
    for _ in range(5):
        pair = [start(holders, tmp_path), start(holders, tmp_path)]
        for holder in pair:
            holder.go()
        first = {holder: holder.line() for holder in pair}
        winners = [h for h, line in first.items() if line.startswith("locked")]
        losers = [h for h, line in first.items() if line.startswith("held")]
        assert len(winners) == 1 and len(losers) == 1, first
        (winner,), (loser,) = winners, losers
        assert loser.proc.wait() == ExitCode.LOCKED
        assert f"(pid {winner.proc.pid} since" in first[loser]
        assert winner.release() == 0


def test_d2_holder_killed_with_sigkill_frees_the_lock_at_once(
    tmp_path: Path, holders: list[Holder]
) -> None:
    holder = start(holders, tmp_path)
    holder.go()
    pid = locked_pid(holder)
    with pytest.raises(LockHeld, match=f"pid {pid}"):
        RunLock(tmp_path).acquire()
    assert holder.kill(signal.SIGKILL) == -signal.SIGKILL
    # No retry loop and no cleanup: the kernel dropped the flock with the process.
    with RunLock(tmp_path, command="next run"):
        info = read_holder(tmp_path / "push.lock")
        assert info is not None and (info.pid, info.command) == (os.getpid(), "next run")


def test_d2_a_process_the_holder_spawned_does_not_keep_the_lock(
    tmp_path: Path, holders: list[Holder]
) -> None:
    holder = start(holders, tmp_path, spawn=True)
    holder.go()
    kind, child_pid = holder.line().split()
    assert kind == "child"
    try:
        locked_pid(holder)
        holder.kill(signal.SIGKILL)
        os.kill(int(child_pid), 0)  # the spawned program is still running...
        with RunLock(tmp_path):  # ...and yet the lock is free
            pass
    finally:
        os.kill(int(child_pid), signal.SIGKILL)


def test_sigterm_handler_exits_through_release(tmp_path: Path, holders: list[Holder]) -> None:
    holder = start(holders, tmp_path)
    holder.go()
    locked_pid(holder)
    holder.proc.send_signal(signal.SIGTERM)
    assert holder.line() == "interrupted"
    assert holder.proc.wait() == ExitCode.TERMINATED
    assert (tmp_path / "push.lock").read_bytes() == b""  # __exit__ ran and blanked it
    with RunLock(tmp_path):
        pass


def test_released_lock_lets_the_next_process_in(tmp_path: Path, holders: list[Holder]) -> None:
    first = start(holders, tmp_path)
    first.go()
    locked_pid(first)
    assert first.release() == 0
    second = start(holders, tmp_path)
    second.go()
    locked_pid(second)
    assert second.release() == 0


@pytest.mark.parametrize("layout", ["different-state-dirs", "different-names"])
def test_d3_different_scopes_do_not_contend(
    tmp_path: Path, holders: list[Holder], layout: str
) -> None:
    if layout == "different-state-dirs":
        pair = [start(holders, tmp_path / "a"), start(holders, tmp_path / "b")]
    else:
        pair = [start(holders, tmp_path, "google"), start(holders, tmp_path, "meta")]
    for holder in pair:
        holder.go()
    for holder in pair:
        locked_pid(holder)  # both hold their lock at the same time
    for holder in pair:
        assert holder.release() == 0
