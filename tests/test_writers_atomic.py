"""AtomicFile and stale-temp cleanup on real files (reliability.md 1.7, B6, B8, D6).

Process-level faults (SIGKILL, SIGTERM, ENOSPC, the durability order through a build)
are in test_build_reliability.py.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsync.errors import ExitCode, OutputError
from feedsync.writers.atomic import TEMP_PREFIX, AtomicFile, clean_stale_temps
from tests.helpers import temp_files

TEMP_NAME = re.compile(r"^\.feedsync-(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_file_is_beside_the_target_and_named_by_pattern(tmp_path: Path) -> None:
    target = tmp_path / "google.xml"
    atomic = AtomicFile(target)
    handle = atomic.open()
    handle.write(b"<rss/>")
    temps = temp_files(tmp_path)
    assert len(temps) == 1 and temps[0] == atomic.temp_path
    match = TEMP_NAME.match(temps[0].name)
    assert match and match["name"] == "google.xml" and int(match["pid"]) == os.getpid()
    assert not target.exists()  # nothing under the real name until commit
    atomic.commit()
    assert target.read_bytes() == b"<rss/>"
    assert temp_files(tmp_path) == []


def test_context_manager_commits_on_success_and_aborts_on_error(tmp_path: Path) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")
    with AtomicFile(target) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError), AtomicFile(target) as handle:
        handle.write(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"new"
    assert temp_files(tmp_path) == []


def test_abort_leaves_the_previous_file_byte_for_byte(tmp_path: Path) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"previous feed\n")
    atomic = AtomicFile(target)
    atomic.open().write(b"x" * 100_000)
    atomic.abort()
    atomic.abort()  # idempotent
    assert target.read_bytes() == b"previous feed\n"
    assert temp_files(tmp_path) == []


@pytest.mark.usefixtures("umask_022")
def test_a_new_file_gets_0644_not_mkstemps_0600(tmp_path: Path) -> None:
    target = tmp_path / "new.xml"
    with AtomicFile(target) as handle:
        handle.write(b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o664])
def test_an_existing_files_mode_is_kept(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")
    target.chmod(mode)
    with AtomicFile(target) as handle:
        handle.write(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_tmpdir_is_ignored_the_temp_is_beside_the_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("TMPDIR", str(elsewhere))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # make tempfile re-read TMPDIR
    atomic = AtomicFile(out / "feed.xml")
    atomic.open()
    assert atomic.temp_path is not None and atomic.temp_path.parent == out
    assert list(elsewhere.iterdir()) == []
    atomic.abort()


def test_a_symlinked_target_is_written_through(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "feed.xml"
    real.write_bytes(b"old")
    link_dir = tmp_path / "public"
    link_dir.mkdir()
    link = link_dir / "feed.xml"
    link.symlink_to(real)
    atomic = AtomicFile(link)
    atomic.open().write(b"new")
    # the temp sits beside the real file, so the rename never crosses filesystems
    assert atomic.temp_path is not None and atomic.temp_path.parent == real_dir
    atomic.commit()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert temp_files(real_dir) == [] and sorted(link_dir.iterdir()) == [link]


def test_a_missing_directory_is_an_output_error_naming_it(tmp_path: Path) -> None:
    atomic = AtomicFile(tmp_path / "missing" / "feed.xml")
    with pytest.raises(OutputError) as caught:
        atomic.open()
    assert caught.value.exit_code is ExitCode.USAGE
    assert str(tmp_path / "missing") in str(caught.value)


def test_stale_temps_of_dead_runs_are_removed_and_nothing_else(
        tmp_path: Path, dead_pid: int) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [
            tmp_path / "feed.xml",
            tmp_path / "feed.xml.bak",
            tmp_path / ".in.feed.xml",
            tmp_path / f".feedsync-feed.xml.{os.getpid()}.abc123.tmp",   # this process
            tmp_path / f".feedsync-feed.xml.{live.pid}.abc123.tmp",     # another live run
            tmp_path / f".feedsync-notes.{dead_pid}.txt",               # not our pattern
            tmp_path / f"feedsync-feed.xml.{dead_pid}.abc.tmp",         # no leading dot
        ]
        for path in keep:
            path.write_text("keep me")
        directory = tmp_path / f".feedsync-dir.{dead_pid}.abc.tmp"
        directory.mkdir()
        stale = tmp_path / f".feedsync-feed.xml.{dead_pid}.k2j_3x.tmp"
        stale.write_text("left by kill -9")
        removed = clean_stale_temps(tmp_path)
        assert removed == [stale]
        assert not stale.exists()
        for path in keep:
            assert path.read_text() == "keep me", path
        assert directory.is_dir()
    finally:
        live.kill()
        live.wait()


def test_a_day_old_temp_is_removed_even_if_its_pid_is_reused(tmp_path: Path) -> None:
    old = tmp_path / f"{TEMP_PREFIX}feed.xml.{os.getppid()}.abc.tmp"
    old.write_text("x")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    fresh = tmp_path / f"{TEMP_PREFIX}feed.xml.{os.getppid()}.def.tmp"
    fresh.write_text("x")
    assert clean_stale_temps(tmp_path) == [old]
    assert fresh.exists()


def test_cleaning_a_missing_directory_is_harmless(tmp_path: Path) -> None:
    assert clean_stale_temps(tmp_path / "nope") == []


def test_two_writers_get_different_temp_names(tmp_path: Path) -> None:
    first, second = AtomicFile(tmp_path / "f.xml"), AtomicFile(tmp_path / "f.xml")
    first.open().write(b"1")
    second.open().write(b"2")
    assert first.temp_path != second.temp_path
    first.commit()
    second.commit()
    assert (tmp_path / "f.xml").read_bytes() == b"2"
    assert temp_files(tmp_path) == []
