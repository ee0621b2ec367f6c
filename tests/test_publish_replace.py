"""The shared safe-replace procedure (publishers/replace.py), one scenario table for every
transport: FTP (pyftpdlib), SFTP (an in-process asyncssh server) and, where the scenario
exists for a local folder, file://.

Each row injects the same fault through each server's own mechanism and expects the same
outcome: the method in the receipt, the error class and exit code, the live file's bytes,
and no feedsync file left behind except what the row says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import ExitCode, FeedsyncError, PublishFatal, PublishRetryable
from feedsync.fileio import temp_name
from feedsync.publishers.base import Destination, Receipt, publisher_for
from tests.servers.checks import assert_exit, sha, temp_files
from tests.servers.ftp import FtpServer
from tests.servers.sftp_faults import FaultySftpServer

pytestmark = pytest.mark.timeout(60)

OLD = b"<feed>old</feed>\n" * 4000
NEW = os.urandom(300_000)
NAME = "feed.xml"


# --- the transports -------------------------------------------------------------------------


@dataclass
class Transport:
    """One destination under test: where its files land locally, and how to break it."""

    kind: str
    feeds: Path
    url: str
    options: dict[str, Any]
    atomic_method: str  # the method of a normal replace
    faults: dict[str, dict[str, Any]]  # neutral fault name -> the server's own switches
    reset: Callable[..., Any] = field(repr=False)

    def publish(self, data: bytes, tmp_path: Path, **extra: Any) -> Receipt:
        local = tmp_path / f"local-{sha(data)[:8]}"
        local.write_bytes(data)
        return publisher_for(Destination(self.url, {**self.options, **extra})).publish(
            local, NAME)

    def inject(self, fault: str, times: int = 1_000_000) -> None:
        self.reset(**self.faults[fault], times=times)


REMOTE_FAULTS = {
    "refuse_overwrite": {"ftp": {"no_overwrite_rename": True},
                         "sftp": {"no_posix_rename": True}},
    "fail_second_rename": {"ftp": {"no_overwrite_rename": True, "fail_partial_rename": True},
                           "sftp": {"no_posix_rename": True, "fail_partial_rename": True}},
    "no_rename": {"ftp": {"no_rename": True}, "sftp": {"no_rename": True}},
    "lose_reply_after_rename": {"ftp": {"drop_after_rename": True},
                                "sftp": {"drop_after_rename": True}},
    "lose_connection_before_rename": {"ftp": {"drop_before_rename": True},
                                      "sftp": {"drop_before_rename": True}},
    "lose_reply_inside_backup": {
        "ftp": {"no_overwrite_rename": True, "drop_after_rename": True},
        "sftp": {"no_posix_rename": True, "drop_after_rename": True}},
    "short_writes": {"ftp": {"short_writes": True}, "sftp": {"short_writes": True}},
}


def _faults(kind: str) -> dict[str, dict[str, Any]]:
    return {name: by_kind[kind] for name, by_kind in REMOTE_FAULTS.items() if kind in by_kind}


@pytest.fixture()
def ftp(ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch) -> Transport:
    monkeypatch.setenv("FEED_FTP_PASSWORD", ftp_server.password)
    options = {"password_env": "FEED_FTP_PASSWORD", "timeout": 5, "deadline": 30,
               "retries": 0, "backoff": 0.01}
    return Transport("ftp", ftp_server.root / "feeds", ftp_server.url("/feeds/"), options,
                     "rename", _faults("ftp"), ftp_server.reset)


@pytest.fixture()
def sftp(faulty_sftp: FaultySftpServer) -> Transport:
    options = faulty_sftp.options(backoff=0.01)
    return Transport("sftp", faulty_sftp.root / "feeds", faulty_sftp.url("/feeds/"), options,
                     "posix-rename", _faults("sftp"), faulty_sftp.reset)


@pytest.fixture()
def file(tmp_path: Path) -> Transport:
    feeds = tmp_path / "file-dest"
    feeds.mkdir()

    def no_faults(**_: Any) -> None:
        raise AssertionError("a local folder has no injectable faults")

    return Transport("file", feeds, f"file://{feeds}/", {}, "local-replace", {}, no_faults)


@pytest.fixture(params=["ftp", "sftp"])
def remote(request: pytest.FixtureRequest) -> Transport:
    transport: Transport = request.getfixturevalue(request.param)
    return transport


@pytest.fixture(params=["ftp", "sftp", "file"])
def any_transport(request: pytest.FixtureRequest) -> Transport:
    transport: Transport = request.getfixturevalue(request.param)
    return transport


def seed(transport: Transport) -> Path:
    live = transport.feeds / NAME
    live.write_bytes(OLD)
    return live


def failure(call: Callable[[], object]) -> FeedsyncError:
    with pytest.raises(FeedsyncError) as caught:
        call()
    return caught.value


# --- the table ------------------------------------------------------------------------------


def test_normal_replace(any_transport: Transport, tmp_path: Path) -> None:
    live = seed(any_transport)
    receipt = any_transport.publish(NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert (receipt.method, receipt.attempts, receipt.warnings) == (
        any_transport.atomic_method, 1, ())
    assert (receipt.bytes, receipt.sha256) == (len(NEW), sha(NEW))
    assert temp_files(any_transport.feeds) == []


def test_first_publish_needs_no_fallback(any_transport: Transport, tmp_path: Path) -> None:
    receipt = any_transport.publish(NEW, tmp_path)
    assert (any_transport.feeds / NAME).read_bytes() == NEW
    assert receipt.method == any_transport.atomic_method
    assert temp_files(any_transport.feeds) == []


def test_rename_over_the_live_file_refused_uses_the_backup_fallback(
        remote: Transport, tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("refuse_overwrite")
    receipt = remote.publish(NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert receipt.method == "backup-rename"
    assert any("backup-rename fallback" in w for w in receipt.warnings), receipt.warnings
    assert temp_files(remote.feeds) == []  # the backup was removed too


def test_failed_second_rename_puts_the_live_file_back(remote: Transport, tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("fail_second_rename")
    error = failure(lambda: remote.publish(NEW, tmp_path))
    assert isinstance(error, PublishRetryable)
    assert_exit(error, ExitCode.PUBLISH_RETRYABLE)
    assert live.read_bytes() == OLD
    assert temp_files(remote.feeds) == []


def test_no_rename_at_all_is_refused_unless_direct_upload_is_allowed(
        remote: Transport, tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("no_rename")
    error = failure(lambda: remote.publish(NEW, tmp_path))
    assert isinstance(error, PublishFatal)
    assert_exit(error, ExitCode.PUBLISH_FATAL)
    assert "allow_direct_upload" in (error.tip or "")
    assert live.read_bytes() == OLD
    assert temp_files(remote.feeds) == []
    receipt = remote.publish(NEW, tmp_path, allow_direct_upload=True)
    assert (receipt.method, live.read_bytes()) == ("direct", NEW)
    assert temp_files(remote.feeds) == []


def test_lost_reply_after_the_rename_is_verified_as_done(remote: Transport,
                                                        tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("lose_reply_after_rename", times=1)
    receipt = remote.publish(NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert (receipt.method, receipt.attempts) == (remote.atomic_method, 1)  # not renamed again
    assert any("reply was lost" in w for w in receipt.warnings), receipt.warnings
    assert temp_files(remote.feeds) == []


def test_connection_lost_before_the_rename_is_verified_as_not_done(
        remote: Transport, tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("lose_connection_before_rename", times=1)
    error = failure(lambda: remote.publish(NEW, tmp_path))
    assert isinstance(error, PublishRetryable)
    assert_exit(error, ExitCode.PUBLISH_RETRYABLE)
    assert "the live file is unchanged" in error.message
    assert live.read_bytes() == OLD
    assert temp_files(remote.feeds) == []
    # With a retry, the same fault costs one attempt and the next one publishes.
    remote.inject("lose_connection_before_rename", times=1)
    receipt = remote.publish(NEW, tmp_path, retries=1)
    assert (receipt.attempts, live.read_bytes()) == (2, NEW)
    assert temp_files(remote.feeds) == []


def test_lost_reply_inside_the_backup_fallback_puts_the_live_file_back(
        remote: Transport, tmp_path: Path) -> None:
    """live -> .bak happened and its reply was lost: the live name is restored."""
    live = seed(remote)
    remote.inject("lose_reply_inside_backup", times=1)
    error = failure(lambda: remote.publish(NEW, tmp_path))
    assert isinstance(error, PublishRetryable)
    assert live.read_bytes() == OLD
    assert temp_files(remote.feeds) == []


def test_a_size_mismatch_is_fatal_and_leaves_the_live_file(remote: Transport,
                                                          tmp_path: Path) -> None:
    live = seed(remote)
    remote.inject("short_writes")
    error = failure(lambda: remote.publish(NEW, tmp_path, retries=2))
    assert isinstance(error, PublishFatal)  # never retried: the server corrupts uploads
    assert_exit(error, ExitCode.PUBLISH_FATAL)
    assert f"size mismatch: expected {len(NEW)} got" in error.message
    assert live.read_bytes() == OLD
    assert temp_files(remote.feeds) == []


# --- leftovers ------------------------------------------------------------------------------


def _backdate(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_remote_leftovers_only_old_upload_temps_of_this_feed_go(
        remote: Transport, tmp_path: Path) -> None:
    feeds = remote.feeds
    token = "0123456789abcdef"
    gone = [f".feedsync-{NAME}.4242.{token}.partial",      # an hour old: its run is over
            f".feedsync-{NAME}.{token}.partial"]           # the same, named by 0.1
    old_but_kept = [f".feedsync-{NAME}.4242.{token}.bak",          # a backup: never
                    f".feedsync-other.xml.4242.{token}.partial",   # another feed's
                    f"{NAME}.bak", f".in.{NAME}"]                  # not feedsync's
    young = f".feedsync-{NAME}.4243.{token}.partial"              # maybe a live run's
    for name in [*gone, *old_but_kept, young]:
        (feeds / name).write_bytes(b"x")
        if name != young:
            _backdate(feeds / name, 7200)
    receipt = remote.publish(NEW, tmp_path)
    assert sorted(os.listdir(feeds)) == sorted([*old_but_kept, young, NAME])
    assert sum("stale temp file" in w for w in receipt.warnings) == len(gone)


def test_local_leftovers_go_when_their_process_is_gone(file: Transport,
                                                       tmp_path: Path) -> None:
    feeds = file.feeds
    dead = feeds / f".feedsync-{NAME}.{_dead_pid()}.0123456789abcdef.tmp"
    mine = feeds / temp_name(NAME)  # this process is alive: a run in progress
    upload = feeds / f".feedsync-{NAME}.4242.0123456789abcdef.partial"
    for path in (dead, mine, upload):
        path.write_bytes(b"x")
    receipt = file.publish(NEW, tmp_path)
    assert not dead.exists() and mine.exists() and upload.exists()
    assert any("stale temp file" in w for w in receipt.warnings), receipt.warnings
    assert (feeds / NAME).read_bytes() == NEW


# --- the table covers every transport that has remote files ---------------------------------


def test_every_fault_is_wired_for_ftp_and_sftp() -> None:
    """A scenario added for one transport only would silently test nothing for the other."""
    assert {kind for faults in REMOTE_FAULTS.values() for kind in faults} == {"ftp", "sftp"}
    assert all(set(faults) == {"ftp", "sftp"} for faults in REMOTE_FAULTS.values())
