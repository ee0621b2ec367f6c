"""Write a file under a temporary name beside the target, then rename it into place.

The recipe (reliability.md 1.7): ``mkstemp`` in the target's own directory (never
``TMPDIR``, so the rename cannot cross filesystems), the mode of the file it replaces or
0644 minus umask (mkstemp's 0600 would lock a web server out), stream, ``flush`` +
``fsync``, ``os.replace``, ``fsync`` of the directory. On any failure the temporary file
is removed and the previous file is left byte for byte.

A target that is a symlink is written through: the link is resolved and the real file is
replaced, so the link keeps pointing at the new feed.

Temporary names carry the writer's pid: ``.feedsync-<name>.<pid>.<random>.tmp``. A file
left by a killed run is removed by the next run in that directory once its pid is gone or
it is a day old; a temp file of a live run is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from feedsync.errors import OutputError

TEMP_PREFIX = ".feedsync-"
_TEMP_NAME = re.compile(r"^\.feedsync-.+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")
_STALE_AGE = 24 * 3600
BUFFER = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _TempFile(io.BufferedWriter):
    """The temp file's buffered writer: a failed write (disk full, file too large) names
    the feed it was for, wherever in the pass it happens, instead of escaping as a bare
    ``OSError``. ``flush`` is left alone: ``commit`` handles its errors itself."""

    def __init__(self, raw: io.FileIO, target: Path) -> None:
        super().__init__(raw, buffer_size=BUFFER)
        self.target = target

    def write(self, data: Any) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise _output_error(exc, self.target) from exc


class AtomicFile:
    """``with AtomicFile(path) as fh: fh.write(...)`` commits on success, aborts on error."""

    def __init__(self, target: Path) -> None:
        self.target = Path(os.path.realpath(target))
        self.temp_path: Path | None = None
        self.handle: BinaryIO | None = None

    def open(self) -> BinaryIO:
        directory = self.target.parent
        try:
            fd, name = tempfile.mkstemp(
                dir=directory, prefix=f"{TEMP_PREFIX}{self.target.name}.{os.getpid()}.",
                suffix=".tmp")
        except OSError as exc:
            raise _output_error(exc, directory) from exc
        self.temp_path = Path(name)
        try:
            os.fchmod(fd, self._mode())
        except OSError:  # pragma: no cover - some filesystems refuse chmod; keep going
            pass
        self.handle = _TempFile(io.FileIO(fd, "wb"), self.target)
        return self.handle

    def _mode(self) -> int:
        try:
            return stat.S_IMODE(self.target.stat().st_mode)
        except FileNotFoundError:
            return 0o666 & ~_umask()

    def commit(self) -> None:
        """Make the new content durable and visible under the target name."""
        assert self.handle is not None and self.temp_path is not None
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp_path, self.target)
        except OSError as exc:
            self.abort()
            raise _output_error(exc, self.target) from exc
        self.temp_path = None
        fsync_directory(self.target.parent)

    def abort(self) -> None:
        """Drop the temporary file; the target is untouched."""
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        if self.temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()
            self.temp_path = None

    def __enter__(self) -> BinaryIO:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def fsync_directory(directory: Path) -> None:
    """Make a rename durable (npm write-file-atomic #64); harmless where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _output_error(exc: OSError, path: Path) -> OutputError:
    reasons = {errno.ENOSPC: "no space left", errno.EFBIG: "file too large",
               errno.EACCES: "permission denied", errno.EROFS: "read-only file system",
               errno.EDQUOT: "disk quota exceeded"}
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return OutputError(f"{reason} writing {path}", file=str(path),
                       tip="the previous feed was left as it was")


def clean_stale_temps(directory: Path, now: float | None = None) -> list[Path]:
    """Remove feedsync temp files left by dead runs; return what was removed."""
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not entry.is_file():
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if _pid_alive(int(match.group(1))) and age < _STALE_AGE:
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
