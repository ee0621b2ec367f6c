"""A catalog rewritten while it is read never replaces a feed (issue 15, item 2).

``export > catalog.csv`` truncating the file during a build used to give exit 0 and a
feed lacking most products. Each test starts the real CLI as a subprocess on a 30,000
product catalog, waits until the feed's temp file holds bytes (the reader is a few
percent in), freezes the process with SIGSTOP so the rewrite lands mid-read for certain,
rewrites the catalog one way, and lets it go on (SIGCONT). Every way must end in exit 3
(catalog error) with one message saying the catalog changed, the previous feed byte for
byte, and no temp file left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import feedsync
from feedsync.errors import ExitCode
from tests.helpers import (
    EXAMPLES,
    cli_command,
    cli_env,
    error_line,
    gen_catalog,
    sha256,
    temp_files,
)

pytestmark = pytest.mark.timeout(240)


def _truncate(path: Path) -> None:
    """What ``export > catalog.csv`` does: truncate, then write from the start."""
    header = path.read_bytes()[:4096].split(b"\n", 1)[0]
    with path.open("wb") as handle:
        handle.write(header + b"\n")


def _replace(path: Path) -> None:
    """A new file renamed over the path: the reader still holds the old one."""
    fresh = path.with_name("fresh.csv")
    shutil.copyfile(EXAMPLES, fresh)
    os.replace(fresh, path)


def _append(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(path.read_bytes()[-2000:].split(b"\n", 1)[-1])


def _overwrite_in_place(path: Path) -> None:
    """Same size, new bytes: only the modification time tells."""
    with path.open("r+b") as handle:
        handle.seek(-10, os.SEEK_END)
        handle.write(b"X" * 9 + b"\n")


REWRITES: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate, "replaced": _replace, "appended": _append,
    "overwritten-same-size": _overwrite_in_place}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gen_catalog(tmp_path_factory.mktemp("rewrite") / "big.csv", 30000)


def _wait_for_feed_bytes(out: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for temp in temp_files(out):
            try:
                if temp.name.startswith(".feedsync-google.xml.") and temp.stat().st_size:
                    return
            except FileNotFoundError:
                continue
        assert process.poll() is None, "the build ended before its feed had bytes"
        time.sleep(0.002)
    process.kill()
    raise AssertionError("no feed temp file with bytes appeared")


def _rewrite_mid_read(command: list[str], out: Path, catalog: Path,
                      rewrite: Callable[[Path], None]) -> tuple[int, str]:
    process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_feed_bytes(out, process)
        process.send_signal(signal.SIGSTOP)
        rewrite(catalog)
    finally:
        process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=180)
    assert "Traceback" not in stderr, stderr
    return process.returncode, stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("how", list(REWRITES))
def test_a_catalog_rewritten_during_build_is_refused(tmp_path: Path, big: Path, how: str,
                                                     jobs: str) -> None:
    catalog = tmp_path / "catalog.csv"
    shutil.copyfile(big, catalog)
    out = tmp_path / "out"
    feedsync.build(EXAMPLES, ["google"], out)
    previous = sha256(out / "google.xml")
    command = cli_command("build", catalog, "--channel", "google", "--out", out,
                          "--jobs", jobs)
    code, stderr = _rewrite_mid_read(command, out, catalog, REWRITES[how])
    assert code == ExitCode.CATALOG, stderr
    line = error_line(stderr)
    assert str(catalog) in line and "changed while it was read" in line, line
    assert sha256(out / "google.xml") == previous
    assert temp_files(out) == []


def test_a_catalog_rewritten_during_push_publishes_nothing(tmp_path: Path, big: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    shutil.copyfile(big, catalog)
    live = tmp_path / "live"
    live.mkdir()
    (live / "google.xml").write_text("live feed")
    staging = tmp_path / "state"
    command = cli_command("push", catalog, "--channel", "google", "--to", f"file://{live}/",
                          "--state", staging, "--force")
    process_out = staging / "staging"

    def rewrite_when_staged() -> tuple[int, str]:
        process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                staged = [t for t in process_out.rglob(".feedsync-google.xml.*")
                          if t.exists() and t.stat().st_size] if process_out.exists() else []
                if staged:
                    break
                assert process.poll() is None, "the push ended before its feed had bytes"
                time.sleep(0.002)
            process.send_signal(signal.SIGSTOP)
            _truncate(catalog)
        finally:
            process.send_signal(signal.SIGCONT)
        _, stderr = process.communicate(timeout=180)
        return process.returncode, stderr

    code, stderr = rewrite_when_staged()
    assert "Traceback" not in stderr, stderr
    assert code == ExitCode.CATALOG, stderr
    assert "changed while it was read" in error_line(stderr)
    assert (live / "google.xml").read_text() == "live feed"
