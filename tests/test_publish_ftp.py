"""FTP/FTPS publisher against pyftpdlib servers on 127.0.0.1 (C1 C2 C4 C5 C6 C14 D6 E6)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import ExitCode, PublishFatal, PublishRetryable, SecurityRefusal
from feedsync.publishers.base import Destination, Receipt, publisher_for
from tests.servers.checks import (
    assert_exit,
    assert_no_canary,
    assert_no_temps,
    exception_text,
    log_text,
    sha,
    temp_files,
)
from tests.servers.fixtures import TlsFiles
from tests.servers.ftp import FtpServer

pytestmark = pytest.mark.timeout(60)

OLD = b"id,title\n1,old\n" * 5000
NEW = os.urandom(300_000)


@pytest.fixture()
def ftp_env(monkeypatch: pytest.MonkeyPatch, ftp_server: FtpServer) -> FtpServer:
    monkeypatch.setenv("FEED_FTP_PASSWORD", ftp_server.password)
    return ftp_server


def options(**extra: Any) -> dict[str, Any]:
    return {"password_env": "FEED_FTP_PASSWORD", "timeout": 5, "deadline": 30, "retries": 0,
            "backoff": 0.05, **extra}


def publish(url: str, opts: dict[str, Any], data: bytes, tmp_path: Path,
            name: str = "feed.csv") -> Receipt:
    local = tmp_path / f"local-{sha(data)[:8]}"
    local.write_bytes(data)
    return publisher_for(Destination(url, opts)).publish(local, name)


def seed(server: FtpServer) -> Path:
    live = server.root / "feeds" / "feed.csv"
    live.write_bytes(OLD)
    return live


def test_upload_and_rename(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    receipt = publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert (receipt.method, receipt.bytes, receipt.sha256) == ("rename", len(NEW), sha(NEW))
    assert receipt.remote_path == "/feeds/feed.csv"
    assert_no_temps(live.parent)


def test_ftps_with_private_ca(
    ftps_server: FtpServer, tls_files: TlsFiles, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEED_FTP_PASSWORD", ftps_server.password)
    live = seed(ftps_server)
    receipt = publish(ftps_server.url("/feeds/", "ftps"),
                      options(ca_file=str(tls_files.ca_file)), NEW, tmp_path)
    assert live.read_bytes() == NEW and receipt.method == "rename"


def test_c14_ftps_unknown_ca_refused(
    ftps_server: FtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_FTP_PASSWORD", ftps_server.password)
    live = seed(ftps_server)
    with pytest.raises(SecurityRefusal) as err:
        publish(ftps_server.url("/feeds/", "ftps"), options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.SECURITY)
    assert "not trusted" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)


def test_bad_password_is_fatal_and_not_echoed(
    ftp_server: FtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    canary = "ftp-password-CANARY-5e1f"
    monkeypatch.setenv("FEED_FTP_PASSWORD", canary)
    with pytest.raises(PublishFatal) as err:
        publish(ftp_server.url("/feeds/"), options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_FATAL)
    assert str(err.value) == "authentication refused for feed@127.0.0.1"
    assert_no_canary([canary], exception_text(err.value), log_text(debug_logs.records))


def test_e6_password_at_every_stage(refused_port: int,
    ftp_env: FtpServer, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    texts = [repr(publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path))]
    ftp_env.reset(fail_write_after=1000)
    with pytest.raises(PublishRetryable) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    texts.append(exception_text(err.value))
    with pytest.raises(PublishRetryable) as err:
        publish(f"ftp://feed@127.0.0.1:{refused_port}/feeds/", options(timeout=1), NEW,
                tmp_path)
    texts.append(exception_text(err.value))
    assert_no_canary([ftp_env.password], *texts, log_text(debug_logs.records))


def test_c1_control_connection_dropped(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(drop_after=100_000, times=1)
    with pytest.raises(PublishRetryable) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)  # removed on a fresh connection when giving up
    ftp_env.reset(drop_after=100_000, times=1)
    receipt = publish(ftp_env.url("/feeds/"), options(retries=1), NEW, tmp_path)
    assert (receipt.attempts, live.read_bytes()) == (2, NEW)
    assert_no_temps(live.parent)


def test_c2_disk_full_is_retryable(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(fail_write_after=100_000)
    with pytest.raises(PublishRetryable) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    # The server answers 4xx, or resets the connection first: which one wins is a race
    # between its reply and its close, and both are the same retryable failure.
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)


def test_c4_rename_over_existing_refused_uses_backup(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(no_overwrite_rename=True)
    receipt = publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert receipt.method == "backup-rename" and receipt.warnings
    assert live.read_bytes() == NEW
    assert_no_temps(live.parent)


def test_c4_failed_second_rename_restores(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(no_overwrite_rename=True, fail_partial_rename=True)
    with pytest.raises(PublishRetryable) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert "restored" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)


def test_c4_no_rename(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(no_rename=True)
    with pytest.raises(PublishFatal) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert "allow_direct_upload" in (err.value.tip or "")
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)
    receipt = publish(ftp_env.url("/feeds/"), options(allow_direct_upload=True), NEW, tmp_path)
    assert receipt.method == "direct" and live.read_bytes() == NEW
    assert_no_temps(live.parent)


def test_c5_rename_reply_lost(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(drop_after_rename=True, times=1)
    receipt = publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert live.read_bytes() == NEW and receipt.attempts == 1
    assert any("reply was lost" in w for w in receipt.warnings)
    assert_no_temps(live.parent)


def test_c6_short_writes(ftp_env: FtpServer, tmp_path: Path) -> None:
    live = seed(ftp_env)
    ftp_env.reset(short_writes=True)
    with pytest.raises(PublishFatal) as err:
        publish(ftp_env.url("/feeds/"), options(retries=2), NEW, tmp_path)
    assert f"size mismatch: expected {len(NEW)} got" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)


def test_d6_stale_cleanup(ftp_env: FtpServer, tmp_path: Path) -> None:
    feeds = ftp_env.root / "feeds"
    old, fresh = ".feedsync-feed.csv.00000000000000aa.partial", \
        ".feedsync-feed.csv.00000000000000bb.partial"
    for name in (old, fresh, "feed.csv.bak"):
        (feeds / name).write_bytes(b"x")
    then = time.time() - 7200
    os.utime(feeds / old, (then, then))
    os.utime(feeds / "feed.csv.bak", (then, then))
    publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert temp_files(feeds) == [fresh]
    assert (feeds / "feed.csv.bak").exists()


def test_c5_connection_lost_inside_backup_fallback_restores_live(
    ftp_env: FtpServer, tmp_path: Path
) -> None:
    live = seed(ftp_env)
    ftp_env.reset(no_overwrite_rename=True, drop_after_rename=True, times=1)
    with pytest.raises(PublishRetryable) as err:
        publish(ftp_env.url("/feeds/"), options(), NEW, tmp_path)
    assert "live file is unchanged" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(live.parent)
