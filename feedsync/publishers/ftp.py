"""Publish over FTP or explicit FTPS with the stdlib's ftplib: ``ftp://user@host/dir/``.

``ftps://`` (or ``tls: true`` on ``ftp://``) uses ``FTP_TLS``: AUTH TLS before the login,
then ``PROT P`` so the data connections are encrypted too; the certificate is verified
(``ca_file`` for a private CA). Implicit FTPS (port 990) is not supported.

This module only speaks FTP: ``_FtpFiles`` is the ``RemoteFiles`` of one logged-in
connection (STOR, SIZE, RETR, RNFR/RNTO, DELE, MLSD) and sorts ftplib's errors: 4xx
replies are ``Transient``, 5xx ``Refused``, a lost connection ``Lost``. The upload, verify,
rename, backup fallback and lost-reply check are ``publishers/replace.py``'s, shared with
SFTP. FTP has no atomic rename-over; most servers replace the target on RNTO, and one that
answers 55x because the target exists gets the backup fallback. Every socket has
``timeout``; uploads and read-backs check the overall ``deadline`` after every block. 530
(login refused) is fatal at once.
"""

from __future__ import annotations

import calendar
import ftplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from feedsync.errors import ConfigError
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    SYSTEM_CLOCK,
    Clock,
    Deadline,
    Limits,
    describe,
    fatal,
    opt_bool,
    opt_path,
    parse_location,
    refuse,
)
from feedsync.publishers.replace import (
    Lost,
    Refused,
    RemoteEntry,
    RemoteError,
    RemoteFiles,
    Transient,
    Unsupported,
    publish_remote,
)
from feedsync.secrets import secret_from

T = TypeVar("T")
BLOCK = 64 * 1024
_LOST = (OSError, EOFError, ftplib.error_reply, ftplib.error_proto)


def _classify(exc: BaseException) -> RemoteError:
    """ftplib's errors as the replace procedure's: 4xx Transient, 5xx Refused, else Lost."""
    if isinstance(exc, ftplib.error_temp):
        return Transient(describe(exc), exc)
    if isinstance(exc, ftplib.error_perm):
        return Refused(describe(exc), exc)
    return Lost(describe(exc), exc)


def _do(call: Callable[[], T]) -> T:
    try:
        return call()
    except (ftplib.error_temp, ftplib.error_perm, *_LOST) as exc:
        raise _classify(exc) from exc


class _FtpFiles:
    """``RemoteFiles`` over one logged-in ftplib connection."""

    atomic_rename: str | None = None  # RNFR/RNTO replaces or refuses, as the server likes

    def __init__(self, ftp: ftplib.FTP, deadline: Deadline) -> None:
        self.ftp = ftp
        self.deadline = deadline

    def put(self, path: str, source: Path, *, exclusive: bool) -> None:
        # FTP has no exclusive create; the temp names are unique, which is what it is for.
        def check_deadline(_block: bytes) -> None:
            self.deadline.check(f"uploading {path}")

        with source.open("rb") as local:
            _do(lambda: self.ftp.storbinary(f"STOR {path}", local, BLOCK, check_deadline))

    def size(self, path: str) -> int | None:
        try:
            return _do(lambda: self.ftp.size(path))
        except Refused:
            return None  # 550: no such file

    def read(self, path: str) -> Iterator[bytes]:
        # retrbinary's steps, as a generator, so the caller hashes block by block.
        conn = _do(lambda: self.ftp.transfercmd(f"RETR {path}"))
        try:
            while data := _do(lambda: conn.recv(BLOCK)):
                self.deadline.check(f"reading {path} back")
                yield data
            if isinstance(conn, ssl.SSLSocket):
                _do(conn.unwrap)
        finally:
            conn.close()
        _do(self.ftp.voidresp)

    def rename(self, source: str, target: str, *, atomic: bool = False) -> None:
        if atomic:
            raise Unsupported("FTP has no atomic rename over an existing file")
        _do(lambda: self.ftp.rename(source, target))

    def remove(self, path: str) -> None:
        try:
            _do(lambda: self.ftp.delete(path))
        except Refused:
            if self.size(path) is not None:
                raise

    def list(self, directory: str) -> list[RemoteEntry]:
        try:
            entries = _do(lambda: list(self.ftp.mlsd(directory, facts=["type", "modify"])))
        except Refused as exc:
            raise Unsupported(f"no MLSD ({exc.reason})", exc.cause) from exc
        return [RemoteEntry(name, facts.get("type") == "file",
                            _mlsd_time(facts.get("modify", "")))
                for name, facts in entries]


class FtpPublisher:
    """Temp upload, SIZE check and RNFR/RNTO over FTP or FTPS (ftplib)."""

    def __init__(self, dest: Destination, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.dest = dest
        self.clock = clock
        self.target = parse_location(dest)
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
        return publish_remote(
            self._connect, local_file, remote_name, dest=self.dest, location=self.target,
            limits=self.limits, use_gzip=self.use_gzip, allow_direct=self.allow_direct,
            clock=self.clock,
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
        try:
            ftp.connect(self.target.host, self.port, timeout=self.limits.timeout)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.auth()
            ftp.login(self.user, self.password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
        except ssl.SSLCertVerificationError as exc:
            refuse(f"TLS certificate of {self.target.host}:{self.port} not trusted: "
                   f"{exc.verify_message}", exc,
                   tip="set ca_file to the server's CA certificate if it uses a private CA")
        except ftplib.error_perm as exc:
            if str(exc)[:3] in {"530", "430"}:
                fatal(f"authentication refused for {self.user}@{self.target.host}", exc)
            raise _classify(exc) from exc
        except (ftplib.error_temp, *_LOST) as exc:
            raise _classify(exc) from exc

    @contextmanager
    def _connect(self, deadline: Deadline) -> Iterator[RemoteFiles]:
        ftp = self._open()
        try:
            self._login(ftp)
            yield _FtpFiles(ftp, deadline)
        finally:
            ftp.close()


def _mlsd_time(value: str) -> float | None:
    """MLSD's ``modify`` fact (YYYYMMDDHHMMSS[.sss], UTC) as a POSIX timestamp."""
    try:
        return float(calendar.timegm(time.strptime(value[:14], "%Y%m%d%H%M%S")))
    except ValueError:
        return None
