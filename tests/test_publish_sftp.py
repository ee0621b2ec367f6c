"""SFTP publisher against a real OpenSSH sshd and faulty asyncssh servers on 127.0.0.1.

Catalogue items (../shared/reliability.md): C1 C2 C3 C4 C5 C6 C7 D5 D6 E6 E8 E9.
After each fault: the live file is byte-identical to the last complete version, no temp
file is left (or the next run removes it), and the exception has the documented exit code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import (
    ConfigError,
    ExitCode,
    PublishFatal,
    PublishRetryable,
    SecurityRefusal,
)
from feedsync.publishers.base import Destination, Receipt, publisher_for
from feedsync.publishers.sftp import SftpPublisher
from tests.servers.checks import (
    RecordingClock,
    assert_exit,
    assert_no_canary,
    assert_no_temps,
    exception_text,
    file_sha,
    log_text,
    sha,
    temp_files,
)
from tests.servers.fault_proxy import FaultProxy, Faults, SilentServer
from tests.servers.sftp_faults import FaultySftpServer
from tests.servers.sshd import USER_KEY_PASSPHRASE, Sshd, keygen

pytestmark = pytest.mark.timeout(120)

OLD = b"<feed>old</feed>\n" * 4000  # ~68 KB
NEW = os.urandom(400_000)


def sshd_options(sshd: Sshd, **extra: Any) -> dict[str, Any]:
    return {"key_file": str(sshd.user_key), "known_hosts": str(sshd.known_hosts),
            "timeout": 5, "deadline": 60, "retries": 0, "backoff": 0.05, **extra}


def publish(url: str, options: dict[str, Any], data: bytes, tmp_path: Path,
            name: str = "google.xml") -> Receipt:
    local = tmp_path / f"local-{sha(data)[:8]}"
    local.write_bytes(data)
    return publisher_for(Destination(url, options)).publish(local, name)


def seed(directory: Path, data: bytes = OLD, name: str = "google.xml") -> Path:
    live = directory / name
    live.write_bytes(data)
    return live


# --- real OpenSSH: happy path, C3, D5, D6 -----------------------------------------------------


def test_posix_rename_against_openssh(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    live = seed(sftp_dir)
    receipt = publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd), NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert receipt.method == "posix-rename"
    assert (receipt.bytes, receipt.sha256, receipt.attempts) == (len(NEW), sha(NEW), 1)
    assert receipt.remote_path == f"{sftp_dir}/google.xml"
    assert oct(live.stat().st_mode & 0o777) == oct(0o644)
    assert_no_temps(sftp_dir)


def test_url_naming_the_file_and_gzip(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    receipt = publish(sshd.url(f"{sftp_dir}/custom.xml"), sshd_options(sshd, gzip=True),
                      NEW, tmp_path, name="ignored.xml")
    assert receipt.remote_path.endswith("/custom.xml.gz")
    assert gzip.decompress((sftp_dir / "custom.xml.gz").read_bytes()) == NEW
    assert not (sftp_dir / "ignored.xml").exists()


def test_c3_readers_see_old_or_new_never_partial(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path
) -> None:
    versions = [os.urandom(150_000), os.urandom(90_000)]
    allowed = {sha(v) for v in versions}
    live = seed(sftp_dir, versions[1])
    stop, seen, bad = threading.Event(), [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                digest = file_sha(live)
            except FileNotFoundError:
                bad.append("missing")
                continue
            (seen if digest in allowed else bad).append(digest)

    thread = threading.Thread(target=reader)
    thread.start()
    methods = set()
    try:
        for i in range(40):
            receipt = publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd),
                              versions[i % 2], tmp_path)
            methods.add(receipt.method)
    finally:
        stop.set()
        thread.join()
    assert bad == []
    assert len(seen) > 40
    assert methods == {"posix-rename"}
    assert live.read_bytes() == versions[1]
    assert_no_temps(sftp_dir)


def test_d5_two_writers_one_target(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    a, b = os.urandom(300_000), os.urandom(300_000)
    results: list[object] = []

    def push(data: bytes, sub: str) -> None:
        (tmp_path / sub).mkdir()
        results.append(publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd), data,
                               tmp_path / sub))

    threads = [threading.Thread(target=push, args=(d, s)) for d, s in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Receipt) for r in results)
    assert file_sha(sftp_dir / "google.xml") in {sha(a), sha(b)}
    assert_no_temps(sftp_dir)


def test_d6_only_old_own_temp_files_are_removed(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path
) -> None:
    old = time.time() - 2 * 3600
    planted = {
        "google.xml.bak": True,
        ".in.google.xml": True,
        ".feedsync-google.xml.0123456789abcdef.partial": False,  # fresh: another instance
        ".feedsync-google.xml.fedcba9876543210.partial": True,  # old: a crashed run
        ".feedsync-other.xml.fedcba9876543210.partial": True,  # old, but another feed's
        ".feedsync-google.xml.nothex.partial": True,  # not our exact pattern
    }
    for name, make_old in planted.items():
        (sftp_dir / name).write_bytes(b"x")
        if make_old:
            os.utime(sftp_dir / name, (old, old))
    os.utime(sftp_dir / ".feedsync-other.xml.fedcba9876543210.partial", (old, old))
    receipt = publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd), NEW, tmp_path)
    remaining = set(os.listdir(sftp_dir))
    assert ".feedsync-google.xml.fedcba9876543210.partial" not in remaining
    assert remaining == (set(planted) | {"google.xml"}) - {
        ".feedsync-google.xml.fedcba9876543210.partial"
    }
    assert any("stale" in w for w in receipt.warnings)


# --- C1: connection drops mid-upload --------------------------------------------------------


@pytest.mark.parametrize("cut_after", [1_000, 4_000, 60_000, 250_000])
def test_c1_cut_through_proxy_real_sshd(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path, cut_after: int
) -> None:
    live = seed(sftp_dir)
    proxy = FaultProxy(sshd.port, Faults(cut_after=cut_after, faulty=1))
    with open(sshd.known_hosts, "a") as kh:
        kh.write(sshd.known_hosts_line(proxy.port))
    try:
        with pytest.raises(PublishRetryable) as err:
            publish(sshd.url(f"{sftp_dir}/", proxy.port), sshd_options(sshd), NEW, tmp_path)
    finally:
        proxy.close()
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert live.read_bytes() == OLD
    assert_no_temps(sftp_dir)  # removed on a fresh connection when giving up


def test_c1_retry_uploads_from_zero_under_new_name(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path
) -> None:
    live = seed(sftp_dir)
    proxy = FaultProxy(sshd.port, Faults(cut_after=200_000, faulty=1))
    with open(sshd.known_hosts, "a") as kh:
        kh.write(sshd.known_hosts_line(proxy.port))
    try:
        receipt = publish(sshd.url(f"{sftp_dir}/", proxy.port),
                          sshd_options(sshd, retries=2), NEW, tmp_path)
    finally:
        proxy.close()
    assert receipt.attempts == 2
    assert live.read_bytes() == NEW
    assert proxy.connections >= 2 and proxy.client_bytes[1] > len(NEW)  # whole file again
    assert_no_temps(sftp_dir)


def test_c1_session_closed_on_write(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(close_on_write=True, times=1)
    with pytest.raises(PublishRetryable) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)
    faulty_sftp.reset(close_on_write=True, times=1)
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(retries=1), NEW, tmp_path)
    assert (receipt.attempts, live.read_bytes()) == (2, NEW)
    assert_no_temps(feeds)


def test_c1_leftover_temp_is_removed_by_a_later_run(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    """A temp left by a killed run (cleanup impossible) goes once older than an hour."""
    feeds = faulty_sftp.root / "feeds"
    seed(feeds)
    faulty_sftp.reset(fail_write_after=100_000, times=1)
    with pytest.raises(PublishRetryable):
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    # Simulate the crash case: a partial temp that nobody could remove.
    leftover = feeds / ".feedsync-google.xml.00112233445566aa.partial"
    leftover.write_bytes(NEW[:100_000])
    publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert temp_files(feeds) == [leftover.name]  # fresh: could be another run's upload
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert_no_temps(feeds)


# --- C2, C4, C5, C6 on the faulty asyncssh server ------------------------------------------


def test_c2_server_disk_full(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(fail_write_after=150_000)
    with pytest.raises(PublishRetryable) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    message = str(err.value)
    assert "No space left" in message and f"127.0.0.1:{faulty_sftp.port}" in message
    assert "/feeds/.feedsync-google.xml." in message
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)


def test_c2_retry_succeeds(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(fail_write_after=150_000, times=1)
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(retries=2), NEW,
                      tmp_path)
    assert (receipt.attempts, live.read_bytes()) == (2, NEW)
    assert_no_temps(feeds)


def test_c4_no_posix_rename_uses_backup_fallback(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faults = faulty_sftp.reset(no_posix_rename=True)
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert receipt.method == "backup-rename"
    assert any("posix-rename" in w for w in receipt.warnings)
    assert live.read_bytes() == NEW
    assert [new for _, new in faults.renames][-1] == "/feeds/google.xml"
    assert_no_temps(feeds)
    # No live file yet: the plain rename is enough.
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path,
                      name="fresh.xml")
    assert receipt.method == "rename"
    assert (feeds / "fresh.xml").read_bytes() == NEW


def test_c4_failed_second_rename_restores_backup(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(no_posix_rename=True, fail_partial_rename=True)
    with pytest.raises(PublishRetryable) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert "restored" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)


def test_c4_no_rename_at_all_is_fatal_unless_direct_allowed(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(no_rename=True)
    with pytest.raises(PublishFatal) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_FATAL)
    assert "allow_direct_upload" in (err.value.tip or "")
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)
    receipt = publish(faulty_sftp.url("/feeds/"),
                      faulty_sftp.options(allow_direct_upload=True), NEW, tmp_path)
    assert receipt.method == "direct"
    assert live.read_bytes() == NEW
    assert_no_temps(feeds)


def test_c5_rename_reply_lost_is_verified_not_repeated(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faults = faulty_sftp.reset(drop_after_rename=True, times=1)
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert live.read_bytes() == NEW
    assert len(faults.renames) == 1  # never renamed twice
    assert receipt.attempts == 1 and receipt.method == "posix-rename"
    assert any("reply was lost" in w for w in receipt.warnings)
    assert_no_temps(feeds)


def test_c6_server_stores_fewer_bytes(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(short_writes=True)
    with pytest.raises(PublishFatal) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(retries=3), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_FATAL)
    assert f"size mismatch: expected {len(NEW)} got" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)


# --- C7: hung peers ---------------------------------------------------------------------------


def test_c7_server_never_sends_banner(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    """A peer that accepts and says nothing: each connect times out, and the deadline (not
    the retry count) ends the publish."""
    silent = SilentServer()
    clock = RecordingClock()
    local = tmp_path / "local.xml"
    local.write_bytes(NEW)
    options = faulty_sftp.options(timeout=1, deadline=3, retries=5)
    try:
        with pytest.raises(PublishRetryable) as err:
            SftpPublisher(Destination(f"sftp://feed@127.0.0.1:{silent.port}/x/", options),
                          clock=clock).publish(local, "google.xml")
        connections = silent.connections
    finally:
        silent.close()
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert f"127.0.0.1:{silent.port}" in str(err.value)
    # Six attempts were allowed; a 1 s connect timeout leaves room for about three in 3 s.
    assert 1 <= connections < 6
    assert len(clock.sleeps) == connections - 1


def test_c7_stalled_write(faulty_sftp: FaultySftpServer, tmp_path: Path) -> None:
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faulty_sftp.reset(stall_on_write=True, times=1)
    with pytest.raises(PublishRetryable) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(timeout=1, deadline=30),
                NEW, tmp_path)
    assert "no answer" in str(err.value) and "within 1 s" in str(err.value)  # the call's
    assert live.read_bytes() == OLD                                           # timeout
    assert_no_temps(feeds)


def test_c7_stalled_connection_real_sshd(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    live = seed(sftp_dir)
    proxy = FaultProxy(sshd.port, Faults(stall_after=150_000, faulty=1))
    with open(sshd.known_hosts, "a") as kh:
        kh.write(sshd.known_hosts_line(proxy.port))
    try:
        with pytest.raises(PublishRetryable) as err:
            publish(sshd.url(f"{sftp_dir}/", proxy.port),
                    sshd_options(sshd, timeout=1, deadline=30), NEW, tmp_path)
    finally:
        proxy.close()
    assert "no answer" in str(err.value) and "within 1 s" in str(err.value)
    assert live.read_bytes() == OLD
    assert_no_temps(sftp_dir)


# --- E9: host keys ----------------------------------------------------------------------------


def fingerprint(pub_line: str) -> str:
    """The key's SHA-256 fingerprint as ``ssh-keygen -lf`` prints it, computed here (the
    test must not need ssh-keygen where sshd is not installed)."""
    blob = base64.b64decode(pub_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_e9_unknown_host_key_refused_before_auth(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    feeds = faulty_sftp.root / "feeds"
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(SecurityRefusal) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(known_hosts=str(known)),
                NEW, tmp_path)
    assert_exit(err.value, ExitCode.SECURITY)
    host_pub = faulty_sftp.host_key.export_public_key("openssh").decode().strip()
    assert fingerprint(host_pub) in str(err.value)
    assert f"127.0.0.1]:{faulty_sftp.port}" in str(err.value)
    assert faulty_sftp.auth_attempts == []  # refused before authentication
    assert known.read_text() == ""
    assert os.listdir(feeds) == []


def test_e9_changed_host_key_refused_real_sshd(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path
) -> None:
    other_pub = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    algo, blob = other_pub.split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd.port} {algo} {blob}\n")
    before = known.read_bytes()
    for tofu in (False, True):  # trust on first use never accepts a changed key
        with pytest.raises(SecurityRefusal) as err:
            publish(sshd.url(f"{sftp_dir}/"),
                    sshd_options(sshd, known_hosts=str(known), trust_on_first_use=tofu),
                    NEW, tmp_path)
        assert "CHANGED" in str(err.value)
        assert fingerprint(sshd.host_pub) in str(err.value)
        assert fingerprint(other_pub) in str(err.value)
    assert known.read_bytes() == before
    assert os.listdir(sftp_dir) == []


def test_e9_trust_on_first_use_is_opt_in(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"  # does not exist yet
    with pytest.raises(SecurityRefusal):
        publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd, known_hosts=str(known)),
                NEW, tmp_path)
    assert not known.exists()
    publish(sshd.url(f"{sftp_dir}/"),
            sshd_options(sshd, known_hosts=str(known), trust_on_first_use=True), NEW, tmp_path)
    assert known.read_text() == sshd.known_hosts_line()
    publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd, known_hosts=str(known)), OLD,
            tmp_path)
    assert (sftp_dir / "google.xml").read_bytes() == OLD


# --- auth and E6: secrets never leak -----------------------------------------------------------

PASSWORD_CANARY = "sftp-password-CANARY-91c2"


def test_bad_key_refused_real_sshd(sshd: Sshd, sftp_dir: Path, tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    with pytest.raises(PublishFatal) as err:
        publish(sshd.url(f"{sftp_dir}/"),
                sshd_options(sshd, key_file=str(tmp_path / "stranger")), NEW, tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_FATAL)
    assert str(err.value) == f"authentication refused for {sshd.user}@127.0.0.1"
    assert os.listdir(sftp_dir) == []


def test_e6_wrong_password_never_echoed(
    faulty_sftp: FaultySftpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_SFTP_PASSWORD", PASSWORD_CANARY)
    options = faulty_sftp.options(password_env="FEED_SFTP_PASSWORD")
    del options["key_file"]
    with pytest.raises(PublishFatal) as err:
        publish(faulty_sftp.url("/feeds/"), options, NEW, tmp_path)
    assert str(err.value) == "authentication refused for feed@127.0.0.1"
    assert_no_canary([PASSWORD_CANARY], exception_text(err.value),
                     log_text(debug_logs.records), debug_logs.text)
    assert faulty_sftp.auth_attempts == ["feed"]


def test_e6_password_at_every_stage(refused_port: int,
    faulty_sftp: FaultySftpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_SFTP_PASSWORD", faulty_sftp.password)
    password_file = tmp_path / "pw"
    password_file.write_text(faulty_sftp.password + "\n")
    texts: list[str] = []
    for options in (faulty_sftp.options(password_env="FEED_SFTP_PASSWORD"),
                    faulty_sftp.options(password_file=str(password_file))):
        del options["key_file"]
        receipt = publish(faulty_sftp.url("/feeds/"), options, NEW, tmp_path)  # success
        texts.append(repr(receipt))
        faulty_sftp.reset(fail_write_after=1000)  # upload stage
        with pytest.raises(PublishRetryable) as err:
            publish(faulty_sftp.url("/feeds/"), options, NEW, tmp_path)
        texts.append(exception_text(err.value))
        faulty_sftp.reset()
        closed = dict(options, timeout=1, deadline=2)  # connect stage: nobody listening
        with pytest.raises(PublishRetryable) as err:
            publish(f"sftp://feed@127.0.0.1:{refused_port}/feeds/", closed, NEW,
                    tmp_path)
        texts.append(exception_text(err.value))
    assert_no_canary([faulty_sftp.password], *texts, log_text(debug_logs.records))


def test_e6_key_passphrase(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_KEY_PASSPHRASE", USER_KEY_PASSPHRASE)
    options = sshd_options(sshd, key_file=str(sshd.encrypted_user_key),
                           key_passphrase_env="FEED_KEY_PASSPHRASE")
    receipt = publish(sshd.url(f"{sftp_dir}/"), options, NEW, tmp_path)
    assert (sftp_dir / "google.xml").read_bytes() == NEW
    wrong = "wrong-passphrase-CANARY-0b7d"
    monkeypatch.setenv("FEED_KEY_PASSPHRASE", wrong)
    with pytest.raises(ConfigError) as err:
        publish(sshd.url(f"{sftp_dir}/"), options, OLD, tmp_path)
    assert "key_file" in str(err.value)
    assert_no_canary([USER_KEY_PASSPHRASE, wrong], repr(receipt), exception_text(err.value),
                     log_text(debug_logs.records))
    assert (sftp_dir / "google.xml").read_bytes() == NEW


# --- configuration refusals (E7, E8) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "needle"),
    [
        ("sftp://u:hunter2@127.0.0.1/feeds/", {}, "credentials never in URLs"),
        ("sftp://u@127.0.0.1/feeds/../etc/", {}, ".."),
        ("sftp://u@127.0.0.1/feeds/%00x/", {}, "NUL"),
        ("sftp://u@127.0.0.1/feeds/%0ax/", {}, "newline"),
        ("sftp://u@127.0.0.1/feeds/", {"password": "hunter2"}, "environment variable or file"),
        ("sftp://u@127.0.0.1/feeds/", {"pasword_env": "X"}, "unknown destination option"),
        ("gopher://u@127.0.0.1/feeds/", {}, "unknown destination scheme"),
    ],
)
def test_config_refusals(url: str, options: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        publisher_for(Destination(url, options))
    assert needle in str(err.value)
    assert "hunter2" not in exception_text(err.value)


@pytest.mark.parametrize("name", ["../x.xml", "a/b.xml", "x\x00.xml", "x\n.xml", "..", ""])
def test_e8_remote_name_must_be_plain(
    sshd: Sshd, sftp_dir: Path, tmp_path: Path, name: str
) -> None:
    before = sorted(os.listdir(sftp_dir.parent))
    with pytest.raises(ConfigError):
        publish(sshd.url(f"{sftp_dir}/"), sshd_options(sshd), NEW, tmp_path, name=name)
    assert sorted(os.listdir(sftp_dir.parent)) == before
    assert os.listdir(sftp_dir) == []


def test_display_hides_password_and_query() -> None:
    dest = Destination("https://user:pw1234@h.example/p?X-Amz-Signature=abc", {})
    assert dest.display() == "https://user@h.example/p?…"


def test_c5_connection_lost_inside_backup_fallback_restores_live(
    faulty_sftp: FaultySftpServer, tmp_path: Path
) -> None:
    """The live -> .bak rename happened, its reply was lost: the live file is put back."""
    feeds = faulty_sftp.root / "feeds"
    live = seed(feeds)
    faults = faulty_sftp.reset(no_posix_rename=True, drop_after_rename=True, times=1)
    with pytest.raises(PublishRetryable) as err:
        publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert "live file is unchanged" in str(err.value)
    assert faults.renames[0][1].endswith(".bak")
    assert live.read_bytes() == OLD
    assert_no_temps(feeds)
    receipt = publish(faulty_sftp.url("/feeds/"), faulty_sftp.options(), NEW, tmp_path)
    assert receipt.method == "backup-rename" and live.read_bytes() == NEW
    assert_no_temps(feeds)
