"""The one safe-replace procedure for remote files, shared by SFTP and FTP/FTPS.

A transport gives a small file-operations interface, ``RemoteFiles`` (put, size, read,
rename, remove, list), over one connection, and a ``Connect`` that opens one. This module
holds everything else, written once:

1. remove leftovers: this run's earlier temp files, and feedsync's own upload temps for
   the same name that are an hour old (``fileio.is_stale_remote_temp``; nothing else);
2. upload to ``.feedsync-<name>.<pid>.<random>.partial`` beside the target and compare
   its size;
3. install it: the transport's atomic rename-over when it has one (SFTP's
   posix-rename@openssh.com), else a plain rename (fine when the target does not exist,
   and most FTP servers replace on RNTO), else the backup fallback: live ->
   ``.feedsync-<name>.<pid>.<random>.bak``, temp -> live, remove the backup (restored if the
   second rename fails; the live name is missing between the two renames). A server that
   cannot rename at all gets a direct upload only with ``allow_direct_upload: true``;
4. a connection lost while installing is ambiguous (the reply may be lost after the
   server renamed): reconnect and check the target's size, and its SHA-256 when it can be
   read back (up to ``HASH_READBACK_LIMIT``), before reporting anything; put a moved-aside
   live file back;
5. retry ``PublishRetryable`` failures from byte 0 under a new temp name; when giving
   up, remove this run's temps on a fresh connection (best effort).

Transports sort their own errors into ``Lost`` (no answer: the operation may or may not
have happened), ``Refused`` (the server said no; ``Unsupported``: it lacks the
operation) and ``Transient`` (the server said not now: disk full, FTP 4xx). The procedure
decides from those what is retryable, fatal or ambiguous, so both transports give the same
warnings, labels and exit codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol

from feedsync.fileio import is_stale_remote_temp, sha256_of, temp_name
from feedsync.publishers.base import Destination, Method, Receipt
from feedsync.publishers.common import (
    HASH_READBACK_LIMIT,
    Clock,
    Deadline,
    Limits,
    Payload,
    RemoteLocation,
    describe,
    fatal,
    final_name,
    log,
    prepared,
    retryable,
    with_retries,
)

__all__ = [
    "Connect",
    "Lost",
    "Refused",
    "RemoteEntry",
    "RemoteError",
    "RemoteFiles",
    "SafeReplace",
    "Transient",
    "Unsupported",
    "publish_remote",
]


# --- what a transport provides ------------------------------------------------------------


class RemoteError(Exception):
    """A remote operation failed; ``reason`` is short, redacted text for messages."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


class Lost(RemoteError):
    """No answer (connection lost, timeout): the operation may or may not have happened."""


class Refused(RemoteError):
    """The server said no; asking again will not help."""


class Unsupported(Refused):
    """The server lacks the operation (posix-rename, MLSD)."""


class Transient(RemoteError):
    """The server said not now (disk full, quota, FTP 4xx): a later attempt may work."""


@dataclass(frozen=True)
class RemoteEntry:
    """One directory entry: its name, whether it is a plain file, its mtime (POSIX)."""

    name: str
    is_file: bool
    mtime: float | None


class RemoteFiles(Protocol):
    """File operations over one open connection. Paths are the server's, as strings."""

    @property
    def atomic_rename(self) -> str | None:
        """The transport's atomic rename over an existing file, by name, or None."""
        ...

    def put(self, path: str, source: Path, *, exclusive: bool) -> None:
        """Write the bytes of ``source`` to ``path`` (``exclusive``: fail if it exists)."""
        ...

    def size(self, path: str) -> int | None:
        """The size of ``path``; None when there is no such file."""
        ...

    def read(self, path: str) -> Iterator[bytes]:
        """The bytes of ``path``, in chunks."""
        ...

    def rename(self, source: str, target: str, *, atomic: bool = False) -> None:
        """Rename; ``atomic`` asks for ``atomic_rename`` (``Unsupported`` if missing)."""
        ...

    def remove(self, path: str) -> None:
        """Remove ``path``; a file that is already gone is not an error."""
        ...

    def list(self, directory: str) -> list[RemoteEntry]:
        """The entries of ``directory``."""
        ...


# Opens one connection whose operations stay within the deadline it is given.
Connect = Callable[[Deadline], AbstractContextManager[RemoteFiles]]


# --- the procedure ------------------------------------------------------------------------


@dataclass
class ReplaceJob:
    """What one publish carries from attempt to attempt."""

    payload: Payload
    directory: str
    name: str
    display: str  # the destination, for messages
    limits: Limits
    allow_direct: bool
    pending: set[str] = field(default_factory=set)  # our temp files that may still exist
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.directory + self.name


@dataclass
class _Install:
    """The install in progress: what an interrupted one may have left behind."""

    temp: str
    method: Method = "rename"
    backup: str | None = None


class _Ambiguous(Exception):
    """The connection failed while installing: the server may or may not have renamed."""

    def __init__(self, install: _Install, cause: Lost) -> None:
        super().__init__(cause.reason)
        self.install, self.cause = install, cause


class SafeReplace:
    """Upload, verify and install one file through a transport's ``RemoteFiles``."""

    def __init__(self, connect: Connect, job: ReplaceJob) -> None:
        self.connect = connect
        self.job = job

    def run(self, deadline: Deadline) -> tuple[Method, int]:
        """The method that installed the file and the number of attempts it took."""
        return with_retries(
            lambda _number: self._attempt(deadline), limits=self.job.limits,
            deadline=deadline, display=self.job.display,
            on_give_up=lambda: self._give_up(Deadline(self.job.limits.timeout, deadline.clock)),
        )

    # --- attempts -----------------------------------------------------------------------

    def _attempt(self, deadline: Deadline) -> Method:
        job = self.job
        deadline.check(f"before connecting to {job.display}")
        try:
            with self._session(deadline) as files:
                self._remove_leftovers(files)
                temp = job.directory + temp_name(job.name, "partial")
                job.pending.add(temp)
                self._upload_verified(files, temp)
                return self._install(files, _Install(temp))
        except _Ambiguous as ambiguous:
            log.warning("rename on %s interrupted (%s); checking the target", job.target,
                        ambiguous)
            # Finding out is worth a little time past the deadline: a half-done backup
            # fallback must be put back.
            with self._session(deadline.at_least(2 * job.limits.timeout)) as files:
                return self._resolve(files, ambiguous)

    @contextmanager
    def _session(self, deadline: Deadline) -> Iterator[RemoteFiles]:
        """One connection; what the steps leave unhandled becomes a publish error."""
        display = self.job.display
        try:
            with self.connect(deadline) as files:
                yield files
        except Lost as exc:
            retryable(f"publish to {display} failed: {exc.reason}", exc.cause)
        except Transient as exc:
            retryable(f"server failed publishing to {display}: {exc.reason}", exc.cause)
        except Refused as exc:
            fatal(f"server refused the upload to {display}: {exc.reason}", exc.cause)

    def _give_up(self, budget: Deadline) -> None:
        job = self.job
        if not job.pending:
            return
        try:
            with self._session(budget) as files:
                for path in sorted(job.pending):
                    self._remove_quietly(files, path)
        except Exception as exc:  # noqa: BLE001 - best effort; a later publish removes them
            log.warning("could not remove temp file(s) %s: %s (the next publish will once "
                        "they are an hour old)", sorted(job.pending), describe(exc))

    # --- upload -------------------------------------------------------------------------

    def _upload_verified(self, files: RemoteFiles, temp: str) -> None:
        job = self.job
        try:
            files.put(temp, job.payload.path, exclusive=True)
            size = files.size(temp)
        except (Refused, Transient) as exc:
            self._remove_quietly(files, temp)
            self._raise_for_write(exc, temp)
        if size != job.payload.size:
            self._remove_quietly(files, temp)
            fatal(f"size mismatch: expected {job.payload.size} got {size} for {temp} "
                  f"on {job.display} (corrupted on transfer)")

    def _raise_for_write(self, exc: Refused | Transient, path: str) -> NoReturn:
        where = f"writing {path} on {self.job.display}"
        if isinstance(exc, Refused):
            fatal(f"server refused {where}: {exc.reason}", exc.cause)
        retryable(f"server failed {where}: {exc.reason}", exc.cause)

    # --- install ------------------------------------------------------------------------

    def _install(self, files: RemoteFiles, install: _Install) -> Method:
        target = self.job.target
        try:
            return self._rename_into_place(files, install)
        except Lost as exc:
            raise _Ambiguous(install, exc) from exc
        except Transient as exc:
            self._remove_quietly(files, install.temp)
            retryable(f"server failed renaming {install.temp} to {target}: {exc.reason}",
                      exc.cause)
        except Refused as exc:
            self._remove_quietly(files, install.temp)
            fatal(f"cannot rename {install.temp} to {target}: {exc.reason}", exc.cause)

    def _rename_into_place(self, files: RemoteFiles, install: _Install) -> Method:
        target = self.job.target
        if files.atomic_rename is not None:
            install.method = "posix-rename"
            try:
                files.rename(install.temp, target, atomic=True)
                return self._installed(install)
            except Unsupported:
                self._warn(f"server has no {files.atomic_rename}: using the rename fallback")
        install.method = "rename"
        try:
            files.rename(install.temp, target)
            return self._installed(install)
        except Refused as exc:
            log.debug("rename over %s refused: %s", target, exc.reason)
        if files.size(target) is None:
            return self._direct_or_refuse(files, install)
        return self._backup_rename(files, install)

    def _installed(self, install: _Install) -> Method:
        self.job.pending.discard(install.temp)
        return install.method

    def _backup_rename(self, files: RemoteFiles, install: _Install) -> Method:
        job = self.job
        backup = job.directory + temp_name(job.name, "bak")
        install.method, install.backup = "backup-rename", backup  # before the call: a lost
        try:                                                     # reply may hide a rename
            files.rename(job.target, backup)
        except Refused as exc:
            log.debug("rename of the live file refused: %s", exc.reason)
            install.backup = None
            return self._direct_or_refuse(files, install)
        try:
            files.rename(install.temp, job.target)
        except (Refused, Transient) as exc:
            self._put_back(files, install)
            self._remove_quietly(files, install.temp)
            retryable(f"rename of {install.temp} to {job.target} failed ({exc.reason}); "
                      "the previous version was restored", exc.cause)
        job.pending.discard(install.temp)
        self._warn("replaced the live file with the backup-rename fallback (not atomic)")
        try:
            files.remove(backup)
        except (Refused, Transient) as exc:
            self._warn(f"could not remove backup {backup}: {exc.reason}")
        return install.method

    def _put_back(self, files: RemoteFiles, install: _Install) -> None:
        """Rename the moved-aside live file back; say where it is if even that fails."""
        assert install.backup is not None
        try:
            files.rename(install.backup, self.job.target)
        except (Refused, Transient) as exc:
            fatal(f"the previous version of {self.job.target} could not be put back from "
                  f"{install.backup}: {exc.reason}", exc.cause,
                  tip=f"rename {install.backup} to {self.job.name} on the server by hand")

    def _direct_or_refuse(self, files: RemoteFiles, install: _Install) -> Method:
        job = self.job
        self._remove_quietly(files, install.temp)
        if not job.allow_direct:
            fatal(f"{job.display} cannot rename files, so the feed cannot be replaced "
                  "atomically; nothing was changed",
                  tip="set allow_direct_upload: true to write the live file in place")
        self._warn("server cannot rename: uploaded directly over the live file")
        install.method = "direct"
        try:
            files.put(job.target, job.payload.path, exclusive=False)
            size = files.size(job.target)
        except (Refused, Transient) as exc:
            self._raise_for_write(exc, job.target)
        if size != job.payload.size:
            fatal(f"size mismatch: expected {job.payload.size} got {size} for {job.target}")
        return install.method

    # --- after an interrupted install ---------------------------------------------------

    def _resolve(self, files: RemoteFiles, ambiguous: _Ambiguous) -> Method:
        job, install = self.job, ambiguous.install
        if self._matches(files):
            job.pending.discard(install.temp)
            self._remove_quietly(files, install.temp)
            if install.backup:
                self._remove_quietly(files, install.backup)
            self._warn("rename reply was lost; the target was verified after reconnect")
            return install.method
        if install.method == "direct":
            retryable(f"connection lost while writing {job.target} directly ({ambiguous}); "
                      "the live file may be incomplete until the next publish",
                      ambiguous.cause)
        if (install.backup and files.size(job.target) is None
                and files.size(install.backup) is not None):
            self._put_back(files, install)
            log.warning("restored the previous version of %s from %s", job.target,
                        install.backup)
        self._remove_quietly(files, install.temp)
        retryable(f"connection lost while renaming into {job.target} ({ambiguous}); "
                  "the live file is unchanged", ambiguous.cause)

    def _matches(self, files: RemoteFiles) -> bool:
        """Is the target the payload? Size, then SHA-256 when it can be read back."""
        payload, target = self.job.payload, self.job.target
        size = files.size(target)
        if size != payload.size:
            return False
        if size > HASH_READBACK_LIMIT:
            return True
        try:
            return sha256_of(files.read(target)) == payload.digest
        except Refused as exc:  # a write-only drop box: the size is all there is to check
            self._warn(f"could not read {target} back to check its SHA-256 ({exc.reason}); "
                       "its size matches")
            return True

    # --- housekeeping -------------------------------------------------------------------

    def _remove_quietly(self, files: RemoteFiles, path: str) -> None:
        try:
            files.remove(path)
        except RemoteError as exc:
            log.warning("could not remove %s: %s", path, exc.reason)
            return
        self.job.pending.discard(path)

    def _remove_leftovers(self, files: RemoteFiles) -> None:
        job = self.job
        for path in sorted(job.pending):
            self._remove_quietly(files, path)
        try:
            entries = files.list(job.directory or ".")
        except (Refused, Transient) as exc:
            log.debug("cannot list %s on %s for stale temp files: %s", job.directory or ".",
                      job.display, exc.reason)
            return
        now = time.time()  # remote mtimes are wall-clock times
        for entry in entries:
            age = now - entry.mtime if entry.mtime is not None else 0.0
            if entry.is_file and is_stale_remote_temp(entry.name, job.name, age):
                self._remove_quietly(files, job.directory + entry.name)
                self._warn(f"removed stale temp file {entry.name} from an earlier run")

    def _warn(self, message: str) -> None:
        self.job.warnings.append(message)
        log.warning("%s: %s", self.job.display, message)


def publish_remote(
    connect: Connect, local_file: Path, remote_name: str, *, dest: Destination,
    location: RemoteLocation, limits: Limits, use_gzip: bool, allow_direct: bool,
    clock: Clock,
) -> Receipt:
    """Publish ``local_file`` as ``remote_name`` through ``connect``: the whole procedure."""
    started = clock.monotonic()
    name = final_name(location, remote_name, use_gzip)
    deadline = Deadline(limits.deadline, clock)
    with prepared(local_file, use_gzip) as payload:
        job = ReplaceJob(payload, location.directory, name, dest.display(), limits,
                         allow_direct)
        method, attempts = SafeReplace(connect, job).run(deadline)
    return Receipt(
        destination=dest.display(), remote_path=job.target, bytes=payload.size,
        sha256=payload.sha256, method=method, attempts=attempts,
        seconds=clock.monotonic() - started, warnings=tuple(job.warnings),
    )
