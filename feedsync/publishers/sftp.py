"""Publish over SFTP with asyncssh: ``sftp://user@host:port/dir/``.

Why asyncssh and not paramiko: asyncssh records the extensions the server advertises, so it
knows before trying whether ``posix-rename@openssh.com`` (atomic overwrite) and
``fsync@openssh.com`` exist; it pipelines writes (3-10x paramiko's throughput, which has
open bugs #2438, #1660 and #2235); and it is actively released. paramiko drops the
server's extension list at version negotiation, so posix-rename is try-and-catch there.

This module only speaks SFTP. The upload, verify, rename, backup fallback and lost-reply
check are ``publishers/replace.py``'s, shared with FTP; here is the connection (the host key
is checked against known_hosts *before* authentication) and ``_SftpFiles``, the
``RemoteFiles`` of one session: writes ``fsync``ed when the server has fsync@openssh.com,
``posix-rename`` as the atomic rename.

Why a synchronous facade over asyncio: the replace procedure is written once, as plain
code, for FTP (blocking sockets) and SFTP alike. Each SFTP session owns an
``asyncio.Runner``; every file operation is one ``runner.run`` of one asyncssh call, bounded
by ``timeout`` and by what is left of ``deadline``. The connection lives on the runner's
loop between the calls, so nothing is reconnected, and a write of 4 MiB is still pipelined
by asyncssh within its call. When a call times out or is cancelled (SIGINT), the connection
is aborted *before* the call is cancelled: a cancelled SFTP task would otherwise wait
forever to close a remote file on a stalled peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncssh

from feedsync.errors import ConfigError
from feedsync.fileio import CHUNK
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    SYSTEM_CLOCK,
    Clock,
    Deadline,
    Limits,
    describe,
    fatal,
    log,
    opt_bool,
    opt_path,
    parse_location,
    refuse,
    retryable,
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
from feedsync.publishers.ssh_hostkeys import HostKeyPolicy, PolicyClient, load_known_hosts
from feedsync.secrets import secret_from

T = TypeVar("T")
WRITE_CHUNK = 4 * CHUNK  # asyncssh pipelines the blocks of one write call
_LOST = (asyncssh.Error, OSError, EOFError, TimeoutError)
_SERVER_REFUSED = (
    asyncssh.SFTPPermissionDenied,
    asyncssh.SFTPNoSuchFile,
    asyncssh.SFTPNoSuchPath,
    asyncssh.SFTPNotADirectory,
    asyncssh.SFTPWriteProtect,
)
_MISSING = (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)
_FILE_TYPES = (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN)


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log asyncio's leftovers at DEBUG, without a traceback.

    When a write times out, asyncssh's parallel writer leaves sub-tasks that fail later with
    ``SFTPConnectionLost``; asyncio would log each as an ERROR "Task exception was never
    retrieved" when it is garbage collected. The failure itself was already reported.
    """
    exc = context.get("exception")
    log.debug("asyncio: %s%s", context.get("message", ""), f" ({describe(exc)})" if exc else "")


def _classify(exc: BaseException, refused: tuple[type[BaseException], ...]) -> RemoteError:
    """asyncssh's errors as the replace procedure's."""
    if isinstance(exc, asyncssh.SFTPOpUnsupported):
        return Unsupported(describe(exc), exc)
    if isinstance(exc, asyncssh.SFTPConnectionLost) or not isinstance(exc, asyncssh.SFTPError):
        return Lost(describe(exc), exc)
    if isinstance(exc, refused):
        return Refused(describe(exc), exc)
    return Transient(describe(exc), exc)  # SFTPFailure, no space, quota: maybe later


class _Session:
    """One SSH connection and SFTP client on a private event loop, driven synchronously."""

    def __init__(self, publisher: SftpPublisher, runner: asyncio.Runner,
                 deadline: Deadline) -> None:
        self.publisher = publisher
        self.runner = runner
        self.deadline = deadline
        self.conn: asyncssh.SSHClientConnection | None = None
        self.sftp: asyncssh.SFTPClient | None = None

    def run(self, awaitable: Awaitable[T], limit: float | None = None) -> T:
        """Run one asyncssh call to its end, within ``timeout`` and the deadline."""
        return self.runner.run(self._bounded(awaitable, limit))

    async def _bounded(self, awaitable: Awaitable[T], limit: float | None) -> T:
        timeout = self.publisher.limits.timeout
        remaining = self.deadline.remaining()
        budget = min(limit if limit is not None else timeout, remaining)
        work = asyncio.ensure_future(awaitable)
        try:
            async with asyncio.timeout(budget):
                try:
                    return await asyncio.shield(work)
                except asyncio.CancelledError:
                    self.abort()  # first, so that the call's clean-up cannot hang
                    work.cancel()
                    with contextlib.suppress(BaseException):
                        await work
                    raise
        except TimeoutError as exc:
            if remaining <= (limit if limit is not None else timeout):
                raise Lost(f"deadline of {self.deadline.seconds:g} s exceeded publishing "
                           f"to {self.publisher.dest.display()}", exc) from exc
            raise Lost(f"no answer from {self.publisher.target.host}:{self.publisher.port} "
                       f"within {budget:g} s", exc) from exc

    def open(self) -> None:
        # Connecting has its own connect and login timeouts; the deadline bounds the sum.
        self.conn = self.run(self.publisher.connect_ssh(), limit=self.deadline.remaining())
        try:
            self.sftp = self.run(self.conn.start_sftp_client())
        except _LOST as exc:
            raise _classify(exc, _SERVER_REFUSED) from exc

    def abort(self) -> None:
        if self.conn is not None:
            self.conn.abort()

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.exit()
        if self.conn is None:
            return
        self.conn.close()
        try:
            self.run(self.conn.wait_closed())
        except (Lost, asyncssh.Error, OSError):
            log.debug("connection to %s did not close cleanly", self.publisher.target.host)

    def drain(self) -> None:
        """After a failure or an interruption inside the event loop (SIGTERM, SIGINT): abort
        the connection and let the tasks see it *before* the runner cancels them, so that
        closing a remote file does not wait forever on a stalled peer."""
        self.abort()
        loop = self.runner.get_loop()
        with contextlib.suppress(BaseException):
            tasks = asyncio.all_tasks(loop)
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=5))


class _SftpFiles:
    """``RemoteFiles`` over one SFTP session."""

    atomic_rename: str | None = "posix-rename@openssh.com"

    def __init__(self, session: _Session) -> None:
        assert session.sftp is not None
        self.session = session
        self.sftp = session.sftp

    def _do(self, awaitable: Awaitable[T],
            refused: tuple[type[BaseException], ...] = _SERVER_REFUSED) -> T:
        try:
            return self.session.run(awaitable)
        except RemoteError:
            raise
        except _LOST as exc:
            raise _classify(exc, refused) from exc

    @contextmanager
    def _opened(self, path: str, mode: str,
                attrs: asyncssh.SFTPAttrs | None = None) -> Iterator[asyncssh.SFTPClientFile]:
        """A remote file, closed after use; never waited on after an interruption."""
        remote = self._do(self.sftp.open(path, mode, attrs or asyncssh.SFTPAttrs()))
        try:
            yield remote
        except Lost:
            raise  # the connection is gone: there is nothing to close
        except RemoteError:
            with contextlib.suppress(RemoteError):
                self._do(remote.close())
            raise
        except BaseException:
            # Interrupted (a signal, an abandoned read): closing would wait for a reply that
            # a stalled peer never sends. The session is over; drop the connection.
            self.session.abort()
            raise
        self._do(remote.close())

    def put(self, path: str, source: Path, *, exclusive: bool) -> None:
        attrs = asyncssh.SFTPAttrs(permissions=0o644)
        with source.open("rb") as local, \
                self._opened(path, "xb" if exclusive else "wb", attrs) as remote:
            offset = 0
            while chunk := local.read(WRITE_CHUNK):
                self._do(remote.write(chunk, offset))
                offset += len(chunk)
            try:
                self._do(remote.fsync())
            except Unsupported:
                log.debug("server has no fsync@openssh.com; %s not fsynced", path)

    def size(self, path: str) -> int | None:
        try:
            return self._do(self.sftp.stat(path)).size
        except Refused as exc:
            if isinstance(exc.cause, _MISSING):
                return None
            raise

    def read(self, path: str) -> Iterator[bytes]:
        with self._opened(path, "rb") as remote:
            while chunk := self._do(remote.read(CHUNK)):
                yield cast(bytes, chunk)

    def rename(self, source: str, target: str, *, atomic: bool = False) -> None:
        # A plain SFTP rename onto an existing file fails with SFTPFailure (v3 has no
        # better code): that is a refusal to fall back from, not a reason to wait.
        call = self.sftp.posix_rename if atomic else self.sftp.rename
        self._do(call(source, target), refused=(asyncssh.SFTPError,))

    def remove(self, path: str) -> None:
        try:
            self._do(self.sftp.remove(path))
        except Refused as exc:
            if not isinstance(exc.cause, _MISSING):
                raise

    def list(self, directory: str) -> list[RemoteEntry]:
        entries = self._do(self.sftp.readdir(directory), refused=(asyncssh.SFTPError,))
        return [RemoteEntry(str(entry.filename), entry.attrs.type in _FILE_TYPES,
                            entry.attrs.mtime) for entry in entries]


class SftpPublisher:
    """Temp upload, size check and atomic rename over SFTP (asyncssh)."""

    def __init__(self, dest: Destination, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.dest = dest
        self.clock = clock
        self.target = parse_location(dest)
        if not self.target.host:
            raise ConfigError(f"sftp URL needs a host: {dest.display()}", key="url")
        options = dest.options
        self.port = self.target.port or 22
        self.user = self.target.user or getpass.getuser()
        self.limits = Limits.from_options(options)
        self.use_gzip = opt_bool(options, "gzip")
        self.allow_direct = opt_bool(options, "allow_direct_upload")
        self.trust_on_first_use = opt_bool(options, "trust_on_first_use")
        self.known_hosts_path = opt_path(options, "known_hosts") or Path(
            "~/.ssh/known_hosts"
        ).expanduser()
        self.password = secret_from(options, "password")
        self.key_file = opt_path(options, "key_file")
        self.passphrase = secret_from(options, "key_passphrase")
        self._client_keys: list[asyncssh.SSHKey] | None = None
        # Now, not at publish time: a key that cannot be read or decrypted is a config
        # error that `push` must report before it builds or publishes anything.
        self._load_client_keys()

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Upload ``local_file`` as ``remote_name`` in the URL's directory."""
        self._load_client_keys()
        return publish_remote(
            self._connect, local_file, remote_name, dest=self.dest, location=self.target,
            limits=self.limits, use_gzip=self.use_gzip, allow_direct=self.allow_direct,
            clock=self.clock,
        )

    # --- connection -------------------------------------------------------------------------

    @contextmanager
    def _connect(self, deadline: Deadline) -> Iterator[RemoteFiles]:
        with asyncio.Runner() as runner:
            runner.get_loop().set_exception_handler(_quiet_exception_handler)
            session = _Session(self, runner, deadline)
            try:
                session.open()
                yield _SftpFiles(session)
            except BaseException:
                session.drain()
                raise
            finally:
                session.close()

    def _load_client_keys(self) -> None:
        if self.key_file is None or self._client_keys is not None:
            return
        try:
            self._client_keys = [asyncssh.read_private_key(self.key_file, self.passphrase)]
        except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            raise ConfigError(
                f"cannot load key_file {self.key_file}: {describe(exc)}", key="key_file"
            ) from None

    def _connect_options(self, policy: HostKeyPolicy) -> dict[str, Any]:
        options: dict[str, Any] = {
            "port": self.port,
            "username": self.user,
            "known_hosts": policy.known_hosts,
            "client_factory": lambda: PolicyClient(policy),
            "config": None,  # ~/.ssh/config must not silently change host or keys
            "connect_timeout": self.limits.timeout,
            "login_timeout": self.limits.timeout,
            "keepalive_interval": max(1.0, self.limits.timeout / 3),
            "keepalive_count_max": 3,
        }
        if self._client_keys is not None:
            options.update(client_keys=self._client_keys, agent_path=None)
        if self.password is not None:
            options["password"] = self.password
            if self._client_keys is None:
                options.update(client_keys=None, agent_path=None)
        return options

    async def connect_ssh(self) -> asyncssh.SSHClientConnection:
        """Open the SSH connection; host key and authentication problems are final here."""
        policy = HostKeyPolicy(
            host=self.target.host,
            port=self.port,
            known_hosts_path=self.known_hosts_path,
            known_hosts=load_known_hosts(self.known_hosts_path),
            trust_on_first_use=self.trust_on_first_use,
        )
        try:
            conn = await asyncssh.connect(self.target.host, **self._connect_options(policy))
        except asyncssh.HostKeyNotVerifiable as exc:
            refuse(policy.refusal_message(), exc, tip=policy.tip())
        except asyncssh.PermissionDenied as exc:
            fatal(f"authentication refused for {self.user}@{self.target.host}", exc,
                  tip="check key_file / password_env for this destination")
        except _LOST as exc:
            retryable(f"cannot connect to {self.target.host}:{self.port}: {describe(exc)}",
                      exc)
        if policy.accepted_new:
            policy.save_accepted()
            log.warning("trusted new host key for %s on first use (added to %s)",
                        self.target.host, self.known_hosts_path)
        return conn

