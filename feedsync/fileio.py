"""File primitives the whole package shares, each written once.

- **SHA-256**: ``sha256_of(chunks)`` and ``sha256_file(path)`` give a ``Digest`` (size and
  hash). Feeds, kept copies, payloads, remote read-backs and the Amazon sidecar all use it.
- **Temp names**: ``temp_name(target, kind)`` is ``.feedsync-<target>.<pid>.<16 hex>.<kind>``
  with kind ``tmp`` (a local temp file), ``partial`` (a remote upload in progress) or ``bak``
  (a live remote file moved aside by the backup-rename fallback). Locally the pid tells a
  live run's temp from a dead run's (``clean_stale_temps``). Remotely the pid means
  nothing (it belongs to another host), so a remote temp is stale by age only
  (``is_stale_remote_temp``), and a backup is never removed by a cleanup.
- **Atomic local replace**: ``AtomicFile`` writes a temp file beside the target and renames
  it into place (reliability.md 1.7): the temp sits in the target's own directory (never
  ``TMPDIR``, so the rename cannot cross filesystems), takes the mode of the file it
  replaces or 0666 minus umask (0600 would lock a web server out), is flushed and fsynced,
  ``os.replace``d over the target, and the directory is fsynced. On any failure the temp
  file is removed and the previous file is left byte for byte. A target that is a symlink
  is written through: the real file is replaced and the link keeps pointing at it. Given
  the folder it belongs to (``within``), a link whose real target is outside that folder
  is refused, naming the link, unless ``follow_outside`` is set: a link planted in the
  output folder must not make a build replace ``~/.bashrc`` (issue 15, item 3).
  ``copy_atomically`` copies a file that way and checks the bytes it copied.

Example::

    with AtomicFile(Path("out/google.xml")) as fh:
        fh.write(b"<rss>...</rss>")
    sha256_file(Path("out/google.xml")).sha256   # '9f86d0...'
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Literal

from feedsync.errors import OutputError

__all__ = [
    "CHUNK",
    "TEMP_PREFIX",
    "AtomicFile",
    "CopyMismatch",
    "Digest",
    "TempKind",
    "clean_stale_temps",
    "copy_atomically",
    "refuse_link_outside",
    "fsync_directory",
    "is_stale_remote_temp",
    "read_chunks",
    "sha256_file",
    "sha256_of",
    "temp_name",
]

CHUNK: Final = 1 << 20
TEMP_PREFIX: Final = ".feedsync-"
TempKind = Literal["tmp", "partial", "bak"]

# A local temp of a dead run goes at once; of a live pid (maybe a reused one) after a day.
LOCAL_STALE_AFTER: Final = 24 * 3600.0
# A remote temp cannot be tied to a process: an hour without change means its run is over.
REMOTE_STALE_AFTER: Final = 3600.0

_CURRENT = re.compile(
    r"^\.feedsync-(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{16}\.(?P<kind>tmp|partial|bak)$"
)
# Names written by feedsync 0.1, still recognised by the cleaners for one release so that
# what a killed 0.1 run left behind is removed (drop both in 0.3):
# - local temps came from mkstemp: a pid, then a short random token;
_LEGACY_LOCAL = re.compile(r"^\.feedsync-(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
# - the publishers' temps had no pid (remote ones, and the file publisher's).
_LEGACY_NO_PID = re.compile(
    r"^\.feedsync-(?P<target>.+)\.[0-9a-f]{16}\.(?P<kind>partial|bak|tmp)$"
)
BUFFER = 1 << 20


# --- SHA-256 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """How many bytes a stream had and their SHA-256."""

    size: int
    raw: bytes  # the 32-byte digest

    @property
    def sha256(self) -> str:
        """The digest as 64 lowercase hex digits."""
        return self.raw.hex()


def sha256_of(chunks: Iterable[bytes]) -> Digest:
    """Size and SHA-256 of a stream of byte chunks, consumed once."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return Digest(size, digest.digest())


def read_chunks(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks of ``size``: a file never sits in memory whole."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def sha256_file(path: Path) -> Digest:
    """Size and SHA-256 of a local file, read in chunks."""
    return sha256_of(read_chunks(path))


# --- temp names ---------------------------------------------------------------------------


def temp_name(target: str, kind: TempKind = "tmp") -> str:
    """A fresh feedsync temp name for ``target`` (a file name, not a path).

    A target that already starts with ``.feedsync-`` (the Amazon sidecar) is not prefixed
    twice.
    """
    base = target.removeprefix(TEMP_PREFIX)
    return f"{TEMP_PREFIX}{base}.{os.getpid()}.{os.urandom(8).hex()}.{kind}"


def is_stale_remote_temp(
    entry: str, target: str, age: float, kinds: tuple[TempKind, ...] = ("partial",)
) -> bool:
    """True for feedsync's own temp for ``target``, of one of ``kinds``, an hour old.

    Nothing else is ever removed from a remote directory (reliability D6).
    """
    if age <= REMOTE_STALE_AFTER:
        return False
    base = target.removeprefix(TEMP_PREFIX)
    # A target ending in ".<digits>" makes some names readable two ways: try both.
    for pattern in (_CURRENT, _LEGACY_NO_PID):
        match = pattern.match(entry)
        if match and match.group("target") == base and match.group("kind") in kinds:
            return True
    return False


def _local_temp_pid(entry: str) -> int | None:
    """The pid in a local (``.tmp``) feedsync temp name, None if it is not one."""
    for pattern in (_CURRENT, _LEGACY_LOCAL):
        match = pattern.match(entry)
        if match and match.groupdict().get("kind", "tmp") == "tmp":
            return int(match.group("pid"))
    return None


def clean_stale_temps(directory: Path, now: float | None = None) -> list[Path]:
    """Remove feedsync temp files in ``directory`` left by runs that are gone.

    A local temp (kind ``tmp``) goes when its pid is gone or it is a day old; a live run's
    is never touched. Upload temps and backups (``partial``, ``bak``) are left alone: the
    directory may be another host's upload target. Returns what was removed.
    """
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        pid = _local_temp_pid(entry.name)
        legacy = pid is None and bool(_LEGACY_NO_PID.match(entry.name)) and \
            entry.name.endswith(".tmp")
        if (pid is None and not legacy) or not entry.is_file():
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if pid is not None and _pid_alive(pid) and age < LOCAL_STALE_AFTER:
            continue
        if legacy and age <= REMOTE_STALE_AFTER:
            continue  # 0.1's file publisher: no pid, stale by age (as it was then)
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


# --- atomic local replace -----------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _output_error(exc: OSError, path: Path) -> OutputError:
    reasons = {errno.ENOSPC: "no space left", errno.EFBIG: "file too large",
               errno.EACCES: "permission denied", errno.EROFS: "read-only file system",
               errno.EDQUOT: "disk quota exceeded"}
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return OutputError(f"{reason} writing {path}", file=str(path),
                       tip="the previous feed was left as it was")


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


def refuse_link_outside(path: Path, folder: Path, *, folder_name: str = "output folder",
                        opt_in: str = "follow_symlinks_outside_output: true in the config",
                        ) -> None:
    """``OutputError`` if ``path`` is a symbolic link whose real target is not in ``folder``
    (a dangling link counts by where it points); the message names the link and the
    opt-in setting."""
    if not os.path.islink(path):
        return
    real = Path(os.path.realpath(path))
    home = Path(os.path.realpath(folder))
    if real.parent == home or home in real.parents:
        return
    raise OutputError(
        f"{path} is a symbolic link to {real}, outside the {folder_name} {folder}; "
        "refusing to write through it", file=str(path),
        tip=f"remove the link, or set {opt_in} if writing through it is intended")


class AtomicFile:
    """``with AtomicFile(path) as fh: fh.write(...)`` commits on success, aborts on error.

    ``new_mode`` is the mode of a file that does not exist yet (default 0666 minus umask);
    a replaced file keeps its own. For a writer that opens the temp file by its path
    (SQLite), ``reserve()`` creates it and returns the path instead of a handle.
    """

    def __init__(self, target: Path, *, new_mode: int | None = None,
                 within: Path | None = None, follow_outside: bool = False) -> None:
        if within is not None and not follow_outside:
            refuse_link_outside(target, within)
        self.target = Path(os.path.realpath(target))
        self.new_mode = new_mode
        self.temp_path: Path | None = None
        self.handle: BinaryIO | None = None
        self._sealed = False  # written out and closed by seal(); commit only renames

    def _create(self) -> int:
        directory = self.target.parent
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        while True:
            temp = directory / temp_name(self.target.name)
            try:
                fd = os.open(temp, flags, 0o600)
            except FileExistsError:  # pragma: no cover - 64 random bits collided
                continue
            except OSError as exc:
                raise _output_error(exc, directory) from exc
            self.temp_path = temp
            break
        try:
            os.fchmod(fd, self._mode())
        except OSError:  # pragma: no cover - some filesystems refuse chmod; keep going
            pass
        return fd

    def open(self) -> BinaryIO:
        """Create the temp file and return its buffered handle."""
        fd = self._create()
        self.handle = _TempFile(io.FileIO(fd, "wb"), self.target)
        return self.handle

    def seal(self) -> None:
        """Write the temp file out and close it now, keeping it for ``commit`` (or
        ``abort``): a finished part of a split output then no longer holds its write
        buffer (BUFFER each; a 1M-product Amazon feed has 239 parts)."""
        if self.handle is None:
            return
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
        except OSError as exc:
            raise _output_error(exc, self.target) from exc
        self.handle = None
        self._sealed = True

    def reserve(self) -> Path:
        """Create the (empty) temp file and return its path, for a writer that opens it."""
        os.close(self._create())
        assert self.temp_path is not None
        return self.temp_path

    def _mode(self) -> int:
        try:
            return stat.S_IMODE(self.target.stat().st_mode)
        except FileNotFoundError:
            return self.new_mode if self.new_mode is not None else 0o666 & ~_umask()

    def commit(self, *, replace: bool = True) -> None:
        """Make the new content durable and visible under the target name.

        ``replace=False`` never replaces: if the target exists by now (another process
        created it a moment ago), it is kept and the temp file is dropped.
        """
        assert self.temp_path is not None
        try:
            if self.handle is not None:
                self.handle.flush()
                os.fsync(self.handle.fileno())
                self.handle.close()
            elif not self._sealed:
                _fsync_path(self.temp_path)
            if replace:
                os.replace(self.temp_path, self.target)
            else:
                _link_new(self.temp_path, self.target)
                self.temp_path.unlink(missing_ok=True)
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


class CopyMismatch(OSError):
    """The bytes copied are not the bytes expected (the source changed under us)."""

    def __init__(self, expected: Digest, got: Digest) -> None:
        super().__init__(errno.EIO, f"expected {expected.size} bytes with SHA-256 "
                         f"{expected.sha256[:12]}…, copied {got.size} with {got.sha256[:12]}…")
        self.expected, self.got = expected, got


def copy_atomically(source: Path, target: Path, *, expected: Digest | None = None,
                    new_mode: int | None = None) -> Digest:
    """Copy ``source`` over ``target`` through ``AtomicFile``; the digest of what was copied.

    With ``expected``, a copy whose bytes differ raises ``CopyMismatch`` (an ``OSError``)
    and the target is left as it was.
    """
    atomic = AtomicFile(target, new_mode=new_mode)
    out = atomic.open()
    try:
        got = sha256_of(_written(read_chunks(source), out))
        if expected is not None and got != expected:
            raise CopyMismatch(expected, got)
    except BaseException:
        atomic.abort()
        raise
    atomic.commit()
    return got


def _written(chunks: Iterable[bytes], out: BinaryIO) -> Iterator[bytes]:
    for chunk in chunks:
        out.write(chunk)
        yield chunk


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


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link_new(temp: Path, path: Path) -> None:
    # link() never replaces: if another process created the file a moment ago, keep it.
    try:
        os.link(temp, path)
    except FileExistsError:
        return
    except OSError as exc:
        # Filesystems without hard links: a plain rename, guarded by an existence check.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if not os.path.lexists(path):
            os.replace(temp, path)
