"""Assertions shared by the publisher tests: live file intact, no temp files, no canary."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import traceback
from pathlib import Path

from feedsync.errors import ExitCode, FeedsyncError

TEMP_PREFIX = ".feedsync-"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: Path) -> str:
    return sha(path.read_bytes())


def temp_files(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.startswith(TEMP_PREFIX))


def assert_no_temps(directory: Path) -> None:
    assert temp_files(directory) == [], f"temp files left in {directory}"


def assert_exit(exc: FeedsyncError, code: ExitCode) -> None:
    assert exc.exit_code is code, f"{type(exc).__name__} ({exc.exit_code!r}): {exc}"


def exception_text(exc: BaseException) -> str:
    """Everything a traceback would show: message, tip, causes, frames."""
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, FeedsyncError):
        text += f"\n{exc.tip or ''}\n{exc.to_dict()}"
    return text


def assert_no_canary(canaries: list[str], *texts: str) -> None:
    for canary in canaries:
        for text in texts:
            assert canary not in text, f"secret {canary[:6]}… leaked into: {text[:2000]}"


def log_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


class RecordingClock:
    """The real monotonic clock, but waits are recorded instead of slept.

    Tests assert on the back-off a publisher asks for (``sleeps``), never on how long a
    call took: speed is for benchmarks/, and a loaded machine must not fail a test.
    """

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
