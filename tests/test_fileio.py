"""feedsync.fileio: the one SHA-256 helper, temp-name scheme and atomic local replace."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsync.errors import OutputError
from feedsync.fileio import (
    AtomicFile,
    CopyMismatch,
    clean_stale_temps,
    copy_atomically,
    is_stale_remote_temp,
    sha256_file,
    sha256_of,
    temp_name,
)

HOUR = 3600.0


@pytest.fixture()
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture()
def live_pid() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def backdate(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


# --- SHA-256 ------------------------------------------------------------------------------


def test_sha256_of_chunks_and_of_a_file_agree_with_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk, not a multiple
    path = tmp_path / "blob"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path).sha256 == expected
    assert sha256_file(path).size == len(data)
    chunks = [data[:5], b"", data[5:1000], data[1000:]]
    assert sha256_of(chunks) == sha256_file(path)
    assert sha256_of([]).sha256 == hashlib.sha256(b"").hexdigest()
    assert sha256_of([b"x"]).raw == hashlib.sha256(b"x").digest()


# --- temp names ---------------------------------------------------------------------------


def test_temp_names_carry_the_pid_a_random_token_and_the_kind() -> None:
    names = {temp_name("google.xml", "partial") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(rf"\.feedsync-google\.xml\.{os.getpid()}\.[0-9a-f]{{16}}\.partial",
                            name), name
    assert temp_name("feed.csv").endswith(".tmp")
    # A target that is itself a feedsync file (the Amazon sidecar) is not prefixed twice.
    assert temp_name(".feedsync-amazon-de.sqlite").startswith(".feedsync-amazon-de.sqlite.")


@pytest.mark.parametrize(("entry", "stale"), [
    (".feedsync-google.xml.4242.0123456789abcdef.partial", True),
    (".feedsync-google.xml.0123456789abcdef.partial", True),   # 0.1's name, no pid
    (".feedsync-google.xml.4242.0123456789abcdef.bak", False),  # backups: never
    (".feedsync-google.xml.4242.0123456789abcdef.tmp", False),  # not an upload temp
    (".feedsync-other.xml.4242.0123456789abcdef.partial", False),  # another feed's
    (".feedsync-google.xml.4242.nothex.partial", False),
    ("google.xml.bak", False),
    (".in.google.xml", False),
])
def test_remote_temps_are_stale_only_when_ours_and_an_hour_old(entry: str, stale: bool) -> None:
    assert is_stale_remote_temp(entry, "google.xml", 2 * HOUR) is stale
    assert is_stale_remote_temp(entry, "google.xml", 0.5 * HOUR) is False


def test_a_target_ending_in_digits_is_matched_by_either_reading() -> None:
    current = temp_name("feed.2024", "partial")
    legacy = ".feedsync-feed.2024.0123456789abcdef.partial"
    for entry in (current, legacy):
        assert is_stale_remote_temp(entry, "feed.2024", 2 * HOUR), entry
    assert not is_stale_remote_temp(current, "feed", 2 * HOUR)


def test_local_cleanup_goes_by_pid_and_leaves_upload_temps_alone(
        tmp_path: Path, dead_pid: int, live_pid: int) -> None:
    token = "0123456789abcdef"
    removed = [tmp_path / f".feedsync-feed.xml.{dead_pid}.{token}.tmp",       # dead run
               tmp_path / ".feedsync-feed.xml.fedcba9876543210.tmp"]          # 0.1, old
    kept = [tmp_path / f".feedsync-feed.xml.{live_pid}.{token}.tmp",          # live run
            tmp_path / f".feedsync-feed.xml.{os.getpid()}.{token}.tmp",       # this one
            tmp_path / f".feedsync-feed.xml.{dead_pid}.{token}.partial",      # an upload
            tmp_path / f".feedsync-feed.xml.{dead_pid}.{token}.bak",          # a backup
            tmp_path / ".feedsync-feed.xml.00000000000000aa.tmp",             # 0.1, fresh
            tmp_path / "feed.xml"]
    for path in removed + kept:
        path.write_text("x")
    backdate(removed[1], 2 * HOUR)
    assert sorted(clean_stale_temps(tmp_path)) == sorted(removed)
    assert all(p.exists() for p in kept)
    # A day later even a live pid's temp goes (the pid may have been reused), and 0.1's;
    # upload temps and backups still stay.
    later = clean_stale_temps(tmp_path, now=time.time() + 25 * HOUR)
    assert sorted(later) == sorted([kept[0], kept[1], kept[4]])
    assert all(p.exists() for p in kept[2:4] + kept[5:])


# --- atomic replace -----------------------------------------------------------------------


def test_copy_atomically_returns_the_digest_and_keeps_the_mode(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(b"new feed")
    digest = copy_atomically(source, target, new_mode=0o640)
    assert digest == sha256_file(source)
    assert target.read_bytes() == b"new feed"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    os.chmod(target, 0o600)
    source.write_bytes(b"newer feed")
    copy_atomically(source, target, new_mode=0o640)
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)  # a replaced file keeps its own


def test_a_copy_that_does_not_match_leaves_the_target(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(b"what was hashed")
    expected = sha256_file(source)
    source.write_bytes(b"what is there now")  # the source changed after it was hashed
    target.write_bytes(b"live")
    with pytest.raises(CopyMismatch) as caught:
        copy_atomically(source, target, expected=expected)
    assert caught.value.expected == expected and caught.value.got == sha256_file(source)
    assert target.read_bytes() == b"live"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "target"]


def test_reserve_then_commit_without_replacing_keeps_what_appeared_meanwhile(
        tmp_path: Path) -> None:
    target = tmp_path / "state.sqlite"
    staged = AtomicFile(target)
    temp = staged.reserve()
    assert temp.parent == tmp_path and temp.name.startswith(".feedsync-state.sqlite.")
    temp.write_bytes(b"ours")
    target.write_bytes(b"another run's")  # created while we were building ours
    staged.commit(replace=False)
    assert target.read_bytes() == b"another run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.sqlite"]

    fresh = tmp_path / "fresh.sqlite"
    staged = AtomicFile(fresh)
    staged.reserve().write_bytes(b"ours")
    staged.commit(replace=False)
    assert fresh.read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.sqlite", "state.sqlite"]


def test_reserving_in_a_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        AtomicFile(tmp_path / "missing" / "x.sqlite").reserve()
    assert str(tmp_path / "missing") in str(caught.value)
