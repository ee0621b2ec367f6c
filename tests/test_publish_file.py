"""file:// publisher: atomic replace in a local directory (B3 B6 B7 B8 D4 D6 E8)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from feedsync.errors import ConfigError, PublishFatal
from feedsync.publishers.base import Destination, publisher_for
from tests.servers.checks import assert_no_temps, file_sha, sha, temp_files

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[1]


def publish(directory: Path, data: bytes, tmp_path: Path, name: str = "feed.xml",
            **options: object) -> object:
    local = tmp_path / "local.xml"
    local.write_bytes(data)
    return publisher_for(Destination(f"file://{directory}/", options)).publish(local, name)


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_replace_keeps_mode_and_leaves_no_temp(out: Path, tmp_path: Path) -> None:
    receipt = publish(out, b"v1", tmp_path)
    live = out / "feed.xml"
    assert live.read_bytes() == b"v1"
    assert oct(live.stat().st_mode & 0o777) == oct(0o644)  # not mkstemp's 0600
    os.chmod(live, 0o640)
    publish(out, b"v2", tmp_path)
    assert live.read_bytes() == b"v2" and oct(live.stat().st_mode & 0o777) == oct(0o640)
    assert receipt.method == "local-replace" and receipt.sha256 == sha(b"v1")  # type: ignore[attr-defined]
    assert_no_temps(out)


def test_b7_fsync_replace_fsync_dir_order(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    publish(out, b"data", tmp_path)
    assert calls == ["fsync-file", "replace", "fsync-dir"]


def test_d4_readers_see_whole_versions(out: Path, tmp_path: Path) -> None:
    versions = [os.urandom(200_000), os.urandom(120_000)]
    allowed = {sha(v) for v in versions}
    live = out / "feed.xml"
    live.write_bytes(versions[1])
    stop, bad, seen = threading.Event(), [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                (seen if file_sha(live) in allowed else bad).append(1)
            except FileNotFoundError:
                bad.append("missing")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(50):
            publish(out, versions[i % 2], tmp_path)
    finally:
        stop.set()
        thread.join()
    assert bad == [] and seen
    assert_no_temps(out)


def test_b8_symlinked_target_is_written_through(out: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.xml").write_bytes(b"old")
    (out / "feed.xml").symlink_to(elsewhere / "real.xml")
    publish(out, b"new", tmp_path, follow_symlinks_outside=True)   # the opt-in (issue 15)
    assert (out / "feed.xml").is_symlink()
    assert (elsewhere / "real.xml").read_bytes() == b"new"
    assert_no_temps(out)
    assert_no_temps(elsewhere)


def test_a_planted_link_out_of_the_target_directory_is_refused(out: Path,
                                                               tmp_path: Path) -> None:
    victim = tmp_path / "home" / ".profile"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    (out / "feed.xml").symlink_to(victim)
    with pytest.raises(PublishFatal, match=r"feed\.xml is a symbolic link .* outside"):
        publish(out, b"new", tmp_path)
    assert victim.read_bytes() == b"precious"
    assert_no_temps(out)


def test_d6_stale_temp_cleanup_is_conservative(out: Path, tmp_path: Path) -> None:
    old_time = time.time() - 7200
    names = {
        ".feedsync-feed.xml.0123456789abcdef.tmp": True,  # old, ours: removed
        ".feedsync-feed.xml.fedcba9876543210.tmp": False,  # fresh: kept
        "feed.xml.bak": True,
        ".in.feed.xml": True,
    }
    for name, old in names.items():
        (out / name).write_bytes(b"x")
        if old:
            os.utime(out / name, (old_time, old_time))
    publish(out, b"new", tmp_path)
    assert temp_files(out) == [".feedsync-feed.xml.fedcba9876543210.tmp"]
    assert (out / "feed.xml.bak").exists() and (out / ".in.feed.xml").exists()


def test_gzip_option(out: Path, tmp_path: Path) -> None:
    publish(out, b"<feed/>" * 100, tmp_path, gzip=True)
    assert gzip.decompress((out / "feed.xml.gz").read_bytes()) == b"<feed/>" * 100


def test_missing_directory_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(PublishFatal):
        publish(tmp_path / "nope", b"x", tmp_path)
    with pytest.raises(ConfigError):
        publisher_for(Destination("file://server/share/", {}))
    with pytest.raises(ConfigError):
        publisher_for(Destination("file:///srv/../etc/", {}))


@pytest.mark.parametrize("name", ["../escape.xml", "sub/feed.xml", "a\nb.xml", "nul\x00.xml"])
def test_e8_names(out: Path, tmp_path: Path, name: str) -> None:
    (tmp_path / "local.xml").write_bytes(b"x")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ConfigError):
        publish(out, b"x", tmp_path, name=name)
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(out) == []


DISK_FULL_CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from feedsync.publishers.base import Destination, publisher_for
    out, local = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        publisher_for(Destination(f"file://{out}/", {})).publish(local, "feed.xml")
        result = {"error": None}
    except Exception as exc:
        result = {"error": type(exc).__name__, "code": int(getattr(exc, "exit_code", 1)),
                  "message": str(exc)}
    result["live"] = (out / "feed.xml").read_bytes().decode()
    result["files"] = sorted(os.listdir(out))
    print(json.dumps(result))
""")


def test_b3_disk_full_leaves_live_file_and_no_temp(tmp_path: Path) -> None:
    """ENOSPC on a 64 KiB tmpfs in a user namespace (EFBIG through RLIMIT_FSIZE otherwise)."""
    script = tmp_path / "child.py"
    script.write_text(DISK_FULL_CHILD)
    local = tmp_path / "big.xml"
    local.write_bytes(os.urandom(200_000))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    shell = (f"mount -t tmpfs -o size=64k tmpfs {tmp_path}/d && echo live > {tmp_path}/d/"
             f"feed.xml && {sys.executable} {script} {tmp_path}/d {local}")
    (tmp_path / "d").mkdir()
    run = None
    if shutil.which("unshare"):
        run = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True,
                             text=True, env=env, timeout=60)
    if run is None or run.returncode != 0 or not run.stdout.strip():
        (tmp_path / "d" / "feed.xml").write_text("live")
        limit = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                 "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
                 f"exec(open({str(script)!r}).read())")
        run = subprocess.run([sys.executable, "-c", limit, str(tmp_path / "d"), str(local)],
                             capture_output=True, text=True, env=env, timeout=60)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["error"] in {"PublishRetryable", "PublishFatal"}, run.stderr
    assert "cannot write" in result["message"]
    assert result["live"].strip() == "live"
    assert result["files"] == ["feed.xml"]
