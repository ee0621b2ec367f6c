"""Shared pieces of the publishers: URL parsing, options, payload, deadline, retries, names."""

from __future__ import annotations

import errno
import gzip
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from feedsync.errors import ConfigError, PublishFatal, PublishRetryable, SecurityRefusal
from feedsync.fileio import CHUNK, Digest, sha256_file, temp_name
from feedsync.publishers.base import Destination
from feedsync.secrets import redact, scrub_exception

log = logging.getLogger("feedsync.publish")

T = TypeVar("T")

KNOWN_OPTIONS = frozenset(
    {
        "password_env", "password_file", "key_file", "key_passphrase_env",
        "key_passphrase_file", "known_hosts", "trust_on_first_use", "gzip", "timeout",
        "deadline", "retries", "retry_after_max", "backoff", "allow_direct_upload",
        "method", "headers_env", "ca_file", "tls", "follow_symlinks_outside",
    }
)
HASH_READBACK_LIMIT = 64 * 1024 * 1024


# --- errors -------------------------------------------------------------------------------


def retryable(message: str, exc: BaseException | None = None) -> NoReturn:
    """Raise ``PublishRetryable`` with a redacted message (and a scrubbed cause)."""
    raise PublishRetryable(redact(message)) from (scrub_exception(exc) if exc else None)


def fatal(message: str, exc: BaseException | None = None, tip: str | None = None) -> NoReturn:
    """Raise ``PublishFatal`` with a redacted message (and a scrubbed cause)."""
    raise PublishFatal(redact(message), tip=tip) from (scrub_exception(exc) if exc else None)


def refuse(message: str, exc: BaseException | None = None, tip: str | None = None) -> NoReturn:
    """Raise ``SecurityRefusal`` with a redacted message (and a scrubbed cause)."""
    raise SecurityRefusal(redact(message), tip=tip) from (
        scrub_exception(exc) if exc else None
    )


def describe(exc: BaseException) -> str:
    """A short, redacted description of a third-party exception."""
    text = str(exc).strip() or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text)


# --- destination and names ----------------------------------------------------------------


@dataclass(frozen=True)
class RemoteLocation:
    """A parsed destination URL."""

    scheme: str
    host: str
    port: int | None
    user: str | None
    directory: str  # always ends with "/" (or is "" for the login directory)
    file_name: str | None  # set when the URL names the file itself
    query: str


def _check_path(path: str) -> None:
    if any(c in path for c in "\x00\n\r"):
        raise ConfigError("destination path contains NUL or a newline", key="url")
    if ".." in path.split("/"):
        raise ConfigError("destination path must not contain '..'", key="url")


def parse_location(dest: Destination) -> RemoteLocation:
    """Parse and check ``dest.url``: no password in it, no ``..``, NUL or newline in the path."""
    unknown = sorted(set(dest.options) - KNOWN_OPTIONS - {"password"})
    if unknown:
        raise ConfigError(f"unknown destination option(s): {', '.join(unknown)}", key="options")
    try:
        parts = urlsplit(dest.url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(redact(f"bad destination URL {dest.display()}: {exc}"),
                          key="url") from None
    if parts.password is not None:
        raise ConfigError(
            f"credentials never in URLs: remove the password from {dest.display()} and "
            "put the password in env var named by password_env (or a file: password_file)",
            key="url",
        )
    path = unquote(parts.path)
    _check_path(path)
    directory, _, name = path.rpartition("/")
    directory = f"{directory}/" if path.startswith("/") or directory else ""
    return RemoteLocation(
        scheme=parts.scheme.lower(),
        host=parts.hostname or "",
        port=port,
        user=unquote(parts.username) if parts.username else None,
        directory=directory,
        file_name=name or None,
        query=parts.query,
    )


def check_remote_name(name: str) -> str:
    """Refuse a remote file name that is not a plain name (reliability E8)."""
    bad = not name or name in {".", ".."} or ".." in name
    if bad or any(c in name for c in "/\\\x00\n\r"):
        raise ConfigError(
            f"remote name {name!r} must be a plain file name (no '/', '..', NUL or newline)",
            key="remote_name",
        )
    return name


def final_name(target: RemoteLocation, remote_name: str, use_gzip: bool) -> str:
    """The remote file name: the URL's last segment if it names a file, else remote_name."""
    name = check_remote_name(target.file_name or remote_name)
    return f"{name}.gz" if use_gzip and not name.endswith(".gz") else name


# --- options ------------------------------------------------------------------------------


def opt_float(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"option {key} must be a non-negative number of seconds", key=key)
    return float(value)


def opt_int(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"option {key} must be a non-negative integer", key=key)
    return value


def opt_bool(options: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"option {key} must be true or false", key=key)
    return value


def opt_path(options: Mapping[str, Any], key: str) -> Path | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ConfigError(f"option {key} must be a path", key=key)
    return Path(value).expanduser()


@dataclass(frozen=True)
class Limits:
    """Timeouts and retry policy shared by the network publishers."""

    timeout: float
    deadline: float
    retries: int
    retry_after_max: float
    backoff: float

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Limits:
        return cls(
            timeout=opt_float(options, "timeout", 30.0) or 30.0,
            deadline=opt_float(options, "deadline", 600.0) or 600.0,
            retries=opt_int(options, "retries", 3),
            retry_after_max=opt_float(options, "retry_after_max", 300.0),
            backoff=opt_float(options, "backoff", 1.0),
        )


# --- payload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """The bytes to upload: a local file, its size and SHA-256."""

    path: Path
    digest: Digest

    @property
    def size(self) -> int:
        return self.digest.size

    @property
    def sha256(self) -> str:
        return self.digest.sha256


def _gzip_to_temp(local_file: Path) -> Path:
    # A scratch file in TMPDIR (it is only read back for the upload), named like every
    # other feedsync temp so that a leftover says whose it is.
    tmp = Path(tempfile.gettempdir()) / temp_name(f"{local_file.name}.gz")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, local_file.open("rb") as src:
            # mtime=0 and no file name: the same feed always gives the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                shutil.copyfileobj(src, gz, CHUNK)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextmanager
def prepared(local_file: Path, use_gzip: bool) -> Iterator[Payload]:
    """The payload for ``local_file``, gzipped into a temp file first when asked."""
    if not local_file.is_file():
        raise ConfigError(f"feed file {local_file} does not exist or is not a file")
    temp: Path | None = None
    try:
        temp = _gzip_to_temp(local_file) if use_gzip else None
        payload = Payload(temp or local_file, sha256_file(temp or local_file))
    except OSError as exc:
        if temp is not None:
            temp.unlink(missing_ok=True)
        what = f"cannot prepare {local_file} for upload: {describe(exc)}"
        if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
            retryable(what, exc)
        fatal(what, exc)
    try:
        yield payload
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


# --- deadline and retries -----------------------------------------------------------------


class Clock(Protocol):
    """Where a publisher reads the time and waits; tests pass one that records the waits."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``time.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Final[Clock] = SystemClock()


class Deadline:
    """An overall time budget measured on a monotonic clock."""

    def __init__(self, seconds: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.seconds = seconds
        self.clock = clock
        self.start = clock.monotonic()

    def elapsed(self) -> float:
        return self.clock.monotonic() - self.start

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            retryable(f"deadline of {self.seconds:g} s exceeded {doing}")

    def at_least(self, seconds: float) -> Deadline:
        """A fresh budget of what is left, but no less than ``seconds`` (for clean-up)."""
        return Deadline(max(self.remaining(), seconds), self.clock)


def backoff_delay(base: float, attempt: int, cap: float = 30.0) -> float:
    """Exponential back-off with jitter: base * 2**(attempt-1), capped, times 0.5-1.0."""
    return float(min(cap, base * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0))


def with_retries(
    attempt: Callable[[int], T],
    *,
    limits: Limits,
    deadline: Deadline,
    display: str,
    on_give_up: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``attempt(n)`` until it returns; retry ``PublishRetryable`` with back-off.

    Gives up after ``limits.retries`` retries or when the deadline leaves no room for the
    back-off, calling ``on_give_up`` (best-effort cleanup) before re-raising. The back-off
    waits on ``deadline.clock``.
    """
    number = 0
    while True:
        number += 1
        try:
            return attempt(number), number
        except PublishRetryable as exc:
            delay = backoff_delay(limits.backoff, number)
            if number > limits.retries or delay >= deadline.remaining():
                if on_give_up is not None:
                    on_give_up()
                raise
            log.warning(
                "publish to %s failed (attempt %d of %d): %s; retrying in %.1f s",
                display, number, limits.retries + 1, exc.message, delay,
            )
            deadline.clock.sleep(delay)
