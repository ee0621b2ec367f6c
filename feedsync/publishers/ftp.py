"""Publish over FTP or explicit FTPS with the stdlib's ftplib: ``ftp://user@host/dir/``.

``ftps://`` (or ``tls: true`` on ``ftp://``) uses ``FTP_TLS``: AUTH TLS before the login,
then ``PROT P`` so the data connections are encrypted too; the certificate is verified
(``ca_file`` for a private CA). Implicit FTPS (port 990) is not supported.

Like the SFTP publisher: upload (binary) to ``.feedsync-<name>.<random>.partial`` beside the
target, compare ``SIZE``, then ``RNFR``/``RNTO`` over the live file. Most servers replace the
target on rename; one that answers 55x because the target exists gets the backup fallback
(live -> ``.bak``, temp -> live, delete backup; restored if the second rename fails). A
server that cannot rename at all gets a direct upload only with ``allow_direct_upload``.
Every socket has ``timeout``; the whole publish is bounded by ``deadline``. 4xx replies and
lost connections are retryable, 530 (login refused) and other 5xx replies are not.
"""

from __future__ import annotations

import calendar
import ftplib
import hashlib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from feedsync.errors import ConfigError
from feedsync.fileio import is_stale_remote_temp, temp_name
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    HASH_READBACK_LIMIT,
    Deadline,
    Limits,
    Payload,
    describe,
    fatal,
    final_name,
    log,
    opt_bool,
    opt_path,
    parse_target,
    prepared,
    refuse,
    retryable,
    with_retries,
)
from feedsync.secrets import secret_from

BLOCK = 64 * 1024
_LOST = (OSError, EOFError, ftplib.error_reply, ftplib.error_proto, ftplib.error_temp)


@dataclass
class _Run:
    payload: Payload
    directory: str
    name: str
    deadline: Deadline
    pending: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.directory + self.name


class _Ambiguous(Exception):
    def __init__(self, temp: str, backup: str | None, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.temp, self.backup, self.cause = temp, backup, cause


def _code(exc: BaseException) -> str:
    return str(exc)[:3]


class FtpPublisher:
    """Temp upload, SIZE check and RNFR/RNTO over FTP or FTPS (ftplib)."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.target = parse_target(dest)
        if not self.target.host:
            raise ConfigError(f"ftp URL needs a host: {dest.display()}", key="url")
        options = dest.options
        self.tls = self.target.scheme == "ftps" or opt_bool(options, "tls")
        self.port = self.target.port or 21
        self.user = self.target.user or "anonymous"
        self.password = secret_from(options, "password") or ""
        self.ca_file = opt_path(options, "ca_file")
        self.limits = Limits.from_options(options)
        self.use_gzip = opt_bool(options, "gzip")
        self.allow_direct = opt_bool(options, "allow_direct_upload")

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Upload ``local_file`` as ``remote_name`` in the URL's directory."""
        started = time.monotonic()
        name = final_name(self.target, remote_name, self.use_gzip)
        deadline = Deadline(self.limits.deadline)
        with prepared(local_file, self.use_gzip) as payload:
            run = _Run(payload, self.target.directory, name, deadline)
            method, attempts = with_retries(
                lambda number: self._attempt(run),
                limits=self.limits, deadline=deadline, display=self.dest.display(),
                on_give_up=lambda: self._give_up(run),
            )
        return Receipt(
            destination=self.dest.display(), remote_path=run.target, bytes=payload.size,
            sha256=payload.sha256, method=method, attempts=attempts,
            seconds=time.monotonic() - started, warnings=tuple(run.warnings),
        )

    # --- connection -------------------------------------------------------------------------

    def _open(self) -> ftplib.FTP:
        if not self.tls:
            # Plain FTP is what an ftp:// destination asks for; docs/publishing.md warns.
            return ftplib.FTP(timeout=self.limits.timeout)  # noqa: S321
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None
        )
        return ftplib.FTP_TLS(context=context, timeout=self.limits.timeout)  # noqa: S321 - TLS

    def _login(self, ftp: ftplib.FTP) -> None:
        ftp.connect(self.target.host, self.port, timeout=self.limits.timeout)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.auth()
        try:
            ftp.login(self.user, self.password)
        except ftplib.error_perm as exc:
            if _code(exc) in {"530", "430"}:
                fatal(f"authentication refused for {self.user}@{self.target.host}", exc)
            raise
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        ftp.voidcmd("TYPE I")

    @contextmanager
    def _session(self, run: _Run) -> Iterator[ftplib.FTP]:
        run.deadline.check(f"before connecting to {self.dest.display()}")
        ftp = self._open()
        try:
            self._login(ftp)
            yield ftp
        except ssl.SSLCertVerificationError as exc:
            refuse(f"TLS certificate of {self.target.host}:{self.port} not trusted: "
                   f"{exc.verify_message}", exc,
                   tip="set ca_file to the server's CA certificate if it uses a private CA")
        except ftplib.error_perm as exc:
            fatal(f"server refused the upload to {self.dest.display()}: {describe(exc)}", exc)
        except _LOST as exc:
            retryable(f"publish to {self.dest.display()} failed: {describe(exc)}", exc)
        finally:
            ftp.close()

    # --- attempts ---------------------------------------------------------------------------

    def _attempt(self, run: _Run) -> str:
        try:
            with self._session(run) as ftp:
                self._remove_leftovers(ftp, run)
                temp = run.directory + temp_name(run.name, "partial")
                run.pending.add(temp)
                self._upload_verified(ftp, run, temp)
                return self._install(ftp, run, temp)
        except _Ambiguous as ambiguous:
            log.warning("rename on %s interrupted (%s); checking the target", run.target,
                        ambiguous)
            # Finding out is worth a little time past the deadline (see sftp.py).
            run.deadline = Deadline(max(run.deadline.remaining(), 2 * self.limits.timeout))
            with self._session(run) as ftp:
                return self._resolve_ambiguous(ftp, run, ambiguous)

    def _give_up(self, run: _Run) -> None:
        if not run.pending:
            return
        run.deadline = Deadline(self.limits.timeout)
        try:
            with self._session(run) as ftp:
                for path in sorted(run.pending):
                    self._delete_quietly(ftp, run, path)
        except Exception as exc:  # noqa: BLE001 - best effort; the next run cleans up
            log.warning("could not remove temp file(s) %s: %s", sorted(run.pending),
                        describe(exc))

    def _store(self, ftp: ftplib.FTP, run: _Run, path: str) -> None:
        def check_deadline(_block: bytes) -> None:
            run.deadline.check(f"uploading {path}")

        with run.payload.path.open("rb") as local:
            ftp.storbinary(f"STOR {path}", local, BLOCK, check_deadline)

    def _upload_verified(self, ftp: ftplib.FTP, run: _Run, temp: str) -> None:
        try:
            self._store(ftp, run, temp)
            size = ftp.size(temp)
        except (ftplib.error_temp, ftplib.error_perm) as exc:
            self._delete_quietly(ftp, run, temp)
            self._raise_reply(exc, f"writing {temp} on {self.dest.display()}")
        if size != run.payload.size:
            self._delete_quietly(ftp, run, temp)
            fatal(f"size mismatch: expected {run.payload.size} got {size} for {temp} "
                  f"on {self.dest.display()} (corrupted on transfer)")

    def _raise_reply(self, exc: ftplib.Error, doing: str) -> NoReturn:
        if isinstance(exc, ftplib.error_temp):
            retryable(f"server failed {doing}: {describe(exc)}", exc)
        fatal(f"server refused {doing}: {describe(exc)}", exc)

    # --- rename -----------------------------------------------------------------------------

    def _install(self, ftp: ftplib.FTP, run: _Run, temp: str) -> str:
        backup: list[str] = []
        try:
            return self._rename_into_place(ftp, run, temp, backup)
        except (OSError, EOFError, ftplib.error_reply, ftplib.error_proto) as exc:
            raise _Ambiguous(temp, backup[0] if backup else None, exc) from exc

    def _rename_into_place(
        self, ftp: ftplib.FTP, run: _Run, temp: str, backup: list[str]
    ) -> str:
        try:
            ftp.rename(temp, run.target)
            run.pending.discard(temp)
            return "rename"
        except ftplib.error_temp as exc:
            self._delete_quietly(ftp, run, temp)
            self._raise_reply(exc, f"renaming {temp}")
        except ftplib.error_perm as exc:
            log.debug("rename over %s refused: %s", run.target, describe(exc))
        if self._size(ftp, run.target) is None:
            return self._direct_or_refuse(ftp, run, temp)
        return self._backup_rename(ftp, run, temp, backup)

    def _backup_rename(self, ftp: ftplib.FTP, run: _Run, temp: str, backup: list[str]) -> str:
        self._warn(run, "server refused to rename over the live file: using the backup fallback")
        bak = run.directory + temp_name(run.name, "bak")
        backup.append(bak)  # before the call: a lost reply may hide a done rename
        try:
            ftp.rename(run.target, bak)
        except ftplib.error_perm as exc:
            log.debug("rename of the live file refused: %s", describe(exc))
            return self._direct_or_refuse(ftp, run, temp)
        try:
            ftp.rename(temp, run.target)
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            ftp.rename(bak, run.target)
            self._delete_quietly(ftp, run, temp)
            retryable(f"rename of {temp} to {run.target} failed ({describe(exc)}); "
                      "the previous version was restored", exc)
        run.pending.discard(temp)
        self._delete_quietly(ftp, run, bak)
        return "backup-rename"

    def _direct_or_refuse(self, ftp: ftplib.FTP, run: _Run, temp: str) -> str:
        self._delete_quietly(ftp, run, temp)
        if not self.allow_direct:
            fatal(f"{self.dest.display()} cannot rename files, so the feed cannot be replaced "
                  "atomically; nothing was changed",
                  tip="set allow_direct_upload: true to write the live file in place")
        self._warn(run, "server cannot rename: uploaded directly over the live file")
        try:
            self._store(ftp, run, run.target)
        except (ftplib.error_temp, ftplib.error_perm) as exc:
            self._raise_reply(exc, f"writing {run.target}")
        size = ftp.size(run.target)
        if size != run.payload.size:
            fatal(f"size mismatch: expected {run.payload.size} got {size} for {run.target}")
        return "direct"

    def _resolve_ambiguous(self, ftp: ftplib.FTP, run: _Run, ambiguous: _Ambiguous) -> str:
        if self._matches(ftp, run):
            run.pending.discard(ambiguous.temp)
            self._delete_quietly(ftp, run, ambiguous.temp)
            if ambiguous.backup:
                self._delete_quietly(ftp, run, ambiguous.backup)
            self._warn(run, "rename reply was lost; the target was verified after reconnect")
            return "rename" if ambiguous.backup is None else "backup-rename"
        if (ambiguous.backup and self._size(ftp, run.target) is None
                and self._size(ftp, ambiguous.backup) is not None):
            ftp.rename(ambiguous.backup, run.target)
            log.warning("restored the previous version of %s from %s", run.target,
                        ambiguous.backup)
        self._delete_quietly(ftp, run, ambiguous.temp)
        retryable(f"connection lost while renaming into {run.target} ({ambiguous}); "
                  "the live file is unchanged", ambiguous.cause)

    def _matches(self, ftp: ftplib.FTP, run: _Run) -> bool:
        size = self._size(ftp, run.target)
        if size != run.payload.size:
            return False
        if size > HASH_READBACK_LIMIT:
            return True
        digest = hashlib.sha256()
        ftp.retrbinary(f"RETR {run.target}", digest.update, BLOCK)
        return digest.hexdigest() == run.payload.sha256

    # --- housekeeping -----------------------------------------------------------------------

    def _size(self, ftp: ftplib.FTP, path: str) -> int | None:
        try:
            return ftp.size(path)
        except ftplib.error_perm:
            return None

    def _delete_quietly(self, ftp: ftplib.FTP, run: _Run, path: str) -> None:
        try:
            ftp.delete(path)
        except ftplib.error_perm as exc:
            if self._size(ftp, path) is not None:
                log.warning("could not remove %s: %s", path, describe(exc))
                return
        except _LOST as exc:
            log.warning("could not remove %s: %s", path, describe(exc))
            return
        run.pending.discard(path)

    def _remove_leftovers(self, ftp: ftplib.FTP, run: _Run) -> None:
        for path in sorted(run.pending):
            self._delete_quietly(ftp, run, path)
        try:
            entries = list(ftp.mlsd(run.directory or ".", facts=["type", "modify"]))
        except ftplib.error_perm as exc:
            log.debug("no MLSD on %s, stale temp files not cleaned: %s", self.dest.display(),
                      describe(exc))
            return
        now = time.time()
        for name, facts in entries:
            modified = _mlsd_time(facts.get("modify", ""))
            age = now - modified if modified is not None else 0.0
            if facts.get("type") == "file" and is_stale_remote_temp(name, run.name, age):
                self._delete_quietly(ftp, run, run.directory + name)
                self._warn(run, f"removed stale temp file {name} from an earlier run")

    def _warn(self, run: _Run, message: str) -> None:
        run.warnings.append(message)
        log.warning("%s: %s", self.dest.display(), message)


def _mlsd_time(value: str) -> float | None:
    """MLSD's ``modify`` fact (YYYYMMDDHHMMSS[.sss], UTC) as a POSIX timestamp."""
    try:
        return float(calendar.timegm(time.strptime(value[:14], "%Y%m%d%H%M%S")))
    except ValueError:
        return None
