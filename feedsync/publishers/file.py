"""Publish to a local (or mounted) directory: ``file:///srv/feeds/``.

The feed is copied to ``.feedsync-<name>.<random>.tmp`` in the target directory, fsynced,
size-checked, ``os.replace``d over the live file and the directory is fsynced. Readers see
the old file or the new one, never a mix. The live file keeps its mode (0644 when new).
A symlink at the target is followed: the file it points to is replaced, the link stays.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from pathlib import Path

from feedsync.errors import ConfigError
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    CHUNK,
    Payload,
    fatal,
    final_name,
    is_stale_temp,
    log,
    opt_bool,
    parse_location,
    prepared,
    retryable,
    temp_name,
)

NEW_FILE_MODE = 0o644
# Out of space or quota may clear by the next run; anything else (permissions, read-only
# filesystem, missing directory) needs a person.
_RETRYABLE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR}


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(source: Path, temp: Path, mode: int, size: int) -> None:
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, CHUNK)
        out.flush()
        os.fchmod(out.fileno(), mode)
        os.fsync(out.fileno())
        written = os.fstat(out.fileno()).st_size
    if written != size:
        fatal(f"size mismatch: expected {size} got {written} in {temp}")


def replace_file(source: Path, target: Path, size: int) -> None:
    """Copy ``source`` over ``target`` atomically: temp beside it, fsync, replace, fsync dir."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    temp = target.parent / temp_name(target.name, "tmp")
    try:
        _write_temp(source, temp, mode, size)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def remove_stale(directory: Path, name: str) -> list[str]:
    """Remove feedsync's own temp files for ``name`` older than an hour; return their names."""
    removed: list[str] = []
    now = time.time()
    for entry in os.scandir(directory):
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if is_stale_temp(entry.name, name, age, ("tmp", "partial")) and entry.is_file():
            Path(entry.path).unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


class FilePublisher:
    """Atomic replace of a file in a local directory."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.target = parse_location(dest)
        if self.target.host not in {"", "localhost"}:
            raise ConfigError(
                f"file URLs name a local path: {dest.display()} has host {self.target.host!r}",
                key="url",
            )
        if not self.target.directory.startswith("/"):
            raise ConfigError("file URLs need an absolute path: file:///srv/feeds/", key="url")
        self.use_gzip = opt_bool(dest.options, "gzip")

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Copy ``local_file`` into the destination directory as ``remote_name``."""
        started = time.monotonic()
        name = final_name(self.target, remote_name, self.use_gzip)
        directory = Path(self.target.directory)
        if not directory.is_dir():
            fatal(f"target directory {directory} does not exist")
        target = directory / name
        if target.is_symlink():
            target = target.resolve()
        with prepared(local_file, self.use_gzip) as payload:
            warnings = self._publish(payload, target)
        return Receipt(
            destination=self.dest.display(),
            remote_path=str(target),
            bytes=payload.size,
            sha256=payload.sha256,
            method="local-replace",
            attempts=1,
            seconds=time.monotonic() - started,
            warnings=tuple(warnings),
        )

    def _publish(self, payload: Payload, target: Path) -> list[str]:
        warnings: list[str] = []
        try:
            removed = remove_stale(target.parent, target.name)
            if removed:
                warnings.append(f"removed {len(removed)} stale temp file(s) from an earlier run")
                log.info("removed stale temp files in %s: %s", target.parent, removed)
            replace_file(payload.path, target, payload.size)
        except OSError as exc:
            what = f"cannot write {target}: {os.strerror(exc.errno or 0) or exc}"
            if exc.errno in _RETRYABLE_ERRNOS:
                retryable(what, exc)
            fatal(what, exc)
        return warnings
