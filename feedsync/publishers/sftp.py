"""Publish over SFTP with asyncssh: ``sftp://user@host:port/dir/``.

Why asyncssh and not paramiko: asyncssh records the extensions the server advertises, so it
knows before trying whether ``posix-rename@openssh.com`` (atomic overwrite) and
``fsync@openssh.com`` exist; it pipelines writes (3-10x paramiko's throughput, which has
open bugs #2438, #1660 and #2235); and it is actively released. paramiko drops the
server's extension list at version negotiation, so posix-rename is try-and-catch there.

One upload, step by step (each remote call under ``timeout``, the whole under ``deadline``):

1. connect; the host key is checked against known_hosts *before* authentication;
2. remove leftovers: this run's earlier temp files, and ``.feedsync-<name>.*.partial``
   files older than an hour (only feedsync's own pattern);
3. write ``.feedsync-<name>.<random>.partial`` beside the target, fsync it when the server
   has fsync@openssh.com, stat it and compare the size;
4. ``posix-rename`` it over the live file; without that extension, plain rename (fine when
   the target does not exist), else the backup fallback: live -> ``.feedsync-<name>.<random>
   .bak``, temp -> live, delete the backup (restored if the second rename fails; the live
   name is missing for the time between the two renames). A server that cannot rename at
   all gets a direct upload only with ``allow_direct_upload: true``.

A failure while renaming is ambiguous (the reply may be lost after the server renamed): the
publisher reconnects and checks the target's size and SHA-256 before reporting anything.
Retries restart from byte 0 under a new temp name.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncssh

from feedsync.errors import ConfigError, FeedsyncError
from feedsync.fileio import CHUNK, is_stale_remote_temp, temp_name
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
from feedsync.publishers.ssh_hostkeys import HostKeyPolicy, PolicyClient, load_known_hosts
from feedsync.secrets import secret_from

T = TypeVar("T")
WRITE_CHUNK = 4 * CHUNK  # asyncssh pipelines the blocks of one write call
_LOST = (asyncssh.Error, OSError, EOFError, TimeoutError)
_SERVER_FULL = (asyncssh.SFTPNoSpaceOnFilesystem, asyncssh.SFTPQuotaExceeded)
_SERVER_REFUSED = (
    asyncssh.SFTPPermissionDenied,
    asyncssh.SFTPNoSuchFile,
    asyncssh.SFTPNoSuchPath,
    asyncssh.SFTPNotADirectory,
    asyncssh.SFTPWriteProtect,
)


@dataclass
class _Run:
    """What one publish call carries from attempt to attempt."""

    payload: Payload
    directory: str
    name: str
    pending: set[str] = field(default_factory=set)  # our temp files that may still exist
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.directory + self.name


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log asyncio's leftovers at DEBUG, without a traceback.

    When a write times out, asyncssh's parallel writer leaves sub-tasks that fail later with
    ``SFTPConnectionLost``; asyncio would log each as an ERROR "Task exception was never
    retrieved" when it is garbage collected. The failure itself was already reported.
    """
    exc = context.get("exception")
    log.debug("asyncio: %s%s", context.get("message", ""), f" ({describe(exc)})" if exc else "")


class _AmbiguousRename(Exception):
    """The connection failed while renaming: the server may or may not have renamed."""

    def __init__(self, temp: str, backup: str | None, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.temp, self.backup, self.cause = temp, backup, cause


class SftpPublisher:
    """Temp upload, size check and atomic rename over SFTP (asyncssh)."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self.target = parse_target(dest)
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
        self._live: set[asyncssh.SSHClientConnection] = set()
        # Now, not at publish time: a key that cannot be read or decrypted is a config
        # error that `push` must report before it builds or publishes anything.
        self._load_client_keys()

    # --- public -----------------------------------------------------------------------------

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Upload ``local_file`` as ``remote_name`` in the URL's directory."""
        started = time.monotonic()
        name = final_name(self.target, remote_name, self.use_gzip)
        deadline = Deadline(self.limits.deadline)
        self._load_client_keys()
        with prepared(local_file, self.use_gzip) as payload:
            run = _Run(payload, self.target.directory, name)
            method, attempts = with_retries(
                lambda number: self._attempt(run, deadline),
                limits=self.limits,
                deadline=deadline,
                display=self.dest.display(),
                on_give_up=lambda: self._give_up(run),
            )
        return Receipt(
            destination=self.dest.display(),
            remote_path=run.target,
            bytes=payload.size,
            sha256=payload.sha256,
            method=method,
            attempts=attempts,
            seconds=time.monotonic() - started,
            warnings=tuple(run.warnings),
        )

    # --- attempts ---------------------------------------------------------------------------

    def _attempt(self, run: _Run, deadline: Deadline) -> str:
        deadline.check(f"before connecting to {self.dest.display()}")
        try:
            return self._run_async(self._upload_and_install(run), deadline)
        except _AmbiguousRename as ambiguous:
            log.warning("rename on %s interrupted (%s); checking the target", run.target,
                        ambiguous)
            # Finding out is worth a little time past the deadline: a half-done backup
            # fallback must be put back.
            budget = Deadline(max(deadline.remaining(), 2 * self.limits.timeout))
            return self._run_async(self._resolve_ambiguous(run, ambiguous), budget)

    def _give_up(self, run: _Run) -> None:
        if not run.pending:
            return
        try:
            self._run_async(self._remove_pending(run), Deadline(self.limits.timeout))
        except FeedsyncError as exc:
            log.warning("could not remove temp file(s) %s: %s (the next publish will)",
                        sorted(run.pending), exc.message)

    def _run_async(self, coro: Coroutine[Any, Any, T], deadline: Deadline) -> T:
        """Run one attempt on a fresh event loop, bounded by the overall deadline."""

        async def bounded() -> T:
            budget = asyncio.timeout(deadline.remaining())
            try:
                async with budget:
                    return await coro
            except TimeoutError as exc:
                if budget.expired():
                    retryable(f"deadline of {deadline.seconds:g} s exceeded publishing to "
                              f"{self.dest.display()}", exc)
                retryable(f"no answer from {self.target.host}:{self.port} within "
                          f"{self.limits.timeout:g} s", exc)

        try:
            with asyncio.Runner() as runner:
                runner.get_loop().set_exception_handler(_quiet_exception_handler)
                try:
                    return runner.run(bounded())
                except BaseException:
                    self._drop_connections(runner.get_loop())
                    raise
        except (FeedsyncError, _AmbiguousRename):
            raise
        except asyncssh.PermissionDenied as exc:
            fatal(f"authentication refused for {self.user}@{self.target.host}", exc)
        except _SERVER_REFUSED as exc:
            fatal(f"server refused {self.dest.display()}: {describe(exc)}", exc)
        except _LOST as exc:
            retryable(f"publish to {self.dest.display()} failed: {describe(exc)}", exc)

    def _drop_connections(self, loop: asyncio.AbstractEventLoop) -> None:
        """Interrupted inside the event loop (SIGTERM): abort our connections and let the
        tasks see it *before* the runner cancels them. A cancelled SFTP reader task would
        leave the close of a remote file waiting forever on a stalled peer."""
        if not self._live:
            return
        for conn in list(self._live):
            conn.abort()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.wait(asyncio.all_tasks(loop), timeout=5))

    async def _io(self, awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, self.limits.timeout)

    # --- connection -------------------------------------------------------------------------

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

    async def _connect(self) -> asyncssh.SSHClientConnection:
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

    async def _session(
        self, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]
    ) -> T:
        conn = await self._connect()
        self._live.add(conn)
        try:
            sftp = await self._io(conn.start_sftp_client())
            try:
                return await self._abort_if_cancelled(conn, work(sftp))
            finally:
                sftp.exit()
        finally:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), self.limits.timeout)
            except (TimeoutError, asyncssh.Error, OSError):
                log.debug("connection to %s did not close cleanly", self.target.host)
            self._live.discard(conn)

    @staticmethod
    async def _abort_if_cancelled(conn: asyncssh.SSHClientConnection,
                                  work: Awaitable[T]) -> T:
        """Run ``work``; when cancelled (SIGINT: asyncio.Runner cancels the main task),
        drop the connection *first*, so that closing the remote file does not wait forever
        on a stalled peer and the signal ends the run promptly."""
        task = asyncio.ensure_future(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            conn.abort()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise

    # --- one attempt ------------------------------------------------------------------------

    async def _upload_and_install(self, run: _Run) -> str:
        async def work(sftp: asyncssh.SFTPClient) -> str:
            await self._remove_leftovers(sftp, run)
            temp = run.directory + temp_name(run.name, "partial")
            run.pending.add(temp)
            await self._upload_verified(sftp, run, temp)
            try:
                return await self._install(sftp, run, temp)
            except _AmbiguousRename:
                raise
            except asyncssh.SFTPError as exc:
                await self._remove_quietly(sftp, run, temp)
                fatal(f"cannot rename {temp} to {run.target}: {describe(exc)}", exc)

        return await self._session(work)

    async def _upload_verified(self, sftp: asyncssh.SFTPClient, run: _Run, temp: str) -> None:
        try:
            await self._write(sftp, run.payload, temp)
            size = (await self._io(sftp.stat(temp))).size
        except asyncssh.SFTPConnectionLost:
            raise
        except asyncssh.SFTPError as exc:
            await self._remove_quietly(sftp, run, temp)
            self._raise_for_write(exc, temp)
        if size != run.payload.size:
            await self._remove_quietly(sftp, run, temp)
            fatal(f"size mismatch: expected {run.payload.size} got {size} for {temp} "
                  f"on {self.dest.display()} (corrupted on transfer)")

    def _raise_for_write(self, exc: asyncssh.SFTPError, path: str) -> None:
        where = f"writing {path} on {self.dest.display()}"
        if isinstance(exc, _SERVER_REFUSED):
            fatal(f"server refused {where}: {describe(exc)}", exc)
        retryable(f"server failed {where}: {describe(exc)}", exc)

    async def _write(
        self, sftp: asyncssh.SFTPClient, payload: Payload, path: str, *, exclusive: bool = True
    ) -> None:
        attrs = asyncssh.SFTPAttrs(permissions=0o644)
        mode = "xb" if exclusive else "wb"
        async with await self._io(sftp.open(path, mode, attrs)) as remote:
            with payload.path.open("rb") as local:
                offset = 0
                while chunk := local.read(WRITE_CHUNK):
                    await self._io(remote.write(chunk, offset))
                    offset += len(chunk)
            try:
                await self._io(remote.fsync())
            except asyncssh.SFTPOpUnsupported:
                log.debug("server has no fsync@openssh.com; %s not fsynced", path)

    # --- rename -----------------------------------------------------------------------------

    async def _install(self, sftp: asyncssh.SFTPClient, run: _Run, temp: str) -> str:
        backup: list[str] = []
        try:
            return await self._rename_into_place(sftp, run, temp, backup)
        except _LOST as exc:
            if isinstance(exc, asyncssh.SFTPError) and not isinstance(
                exc, asyncssh.SFTPConnectionLost
            ):
                raise
            raise _AmbiguousRename(temp, backup[0] if backup else None, exc) from exc

    async def _rename_into_place(
        self, sftp: asyncssh.SFTPClient, run: _Run, temp: str, backup: list[str]
    ) -> str:
        try:
            await self._io(sftp.posix_rename(temp, run.target))
            run.pending.discard(temp)
            return "posix-rename"
        except asyncssh.SFTPOpUnsupported:
            self._warn(run, "server has no posix-rename@openssh.com: using the rename fallback")
        try:
            await self._io(sftp.rename(temp, run.target))
            run.pending.discard(temp)
            return "rename"
        except (asyncssh.SFTPFailure, asyncssh.SFTPFileAlreadyExists,
                asyncssh.SFTPOpUnsupported, asyncssh.SFTPPermissionDenied) as exc:
            log.debug("plain rename over %s refused: %s", run.target, describe(exc))
        if not await self._exists(sftp, run.target):
            return await self._direct_or_refuse(sftp, run, temp)
        return await self._backup_rename(sftp, run, temp, backup)

    async def _backup_rename(
        self, sftp: asyncssh.SFTPClient, run: _Run, temp: str, backup: list[str]
    ) -> str:
        bak = run.directory + temp_name(run.name, "bak")
        backup.append(bak)  # before the call: a lost reply may hide a done rename
        try:
            await self._io(sftp.rename(run.target, bak))
        except (asyncssh.SFTPFailure, asyncssh.SFTPOpUnsupported,
                asyncssh.SFTPPermissionDenied) as exc:
            log.debug("rename of the live file refused: %s", describe(exc))
            return await self._direct_or_refuse(sftp, run, temp)
        try:
            await self._io(sftp.rename(temp, run.target))
        except asyncssh.SFTPError as exc:
            if isinstance(exc, asyncssh.SFTPConnectionLost):
                raise
            await self._io(sftp.rename(bak, run.target))
            await self._remove_quietly(sftp, run, temp)
            retryable(f"rename of {temp} to {run.target} failed ({describe(exc)}); "
                      "the previous version was restored", exc)
        run.pending.discard(temp)
        self._warn(run, "replaced the live file with the backup-rename fallback (not atomic)")
        try:
            await self._io(sftp.remove(bak))
        except asyncssh.SFTPError as exc:
            self._warn(run, f"could not remove backup {bak}: {describe(exc)}")
        return "backup-rename"

    async def _direct_or_refuse(self, sftp: asyncssh.SFTPClient, run: _Run, temp: str) -> str:
        await self._remove_quietly(sftp, run, temp)
        if not self.allow_direct:
            fatal(f"{self.dest.display()} cannot rename files, so the feed cannot be replaced "
                  "atomically; nothing was changed",
                  tip="set allow_direct_upload: true to write the live file in place")
        self._warn(run, "server cannot rename: uploaded directly over the live file")
        try:
            await self._write(sftp, run.payload, run.target, exclusive=False)
            size = (await self._io(sftp.stat(run.target))).size
        except asyncssh.SFTPConnectionLost:
            raise
        except asyncssh.SFTPError as exc:
            self._raise_for_write(exc, run.target)
        if size != run.payload.size:
            fatal(f"size mismatch: expected {run.payload.size} got {size} for {run.target}")
        return "direct"

    # --- after an interrupted rename -------------------------------------------------------

    async def _resolve_ambiguous(self, run: _Run, ambiguous: _AmbiguousRename) -> str:
        async def work(sftp: asyncssh.SFTPClient) -> str:
            if await self._matches(sftp, run.target, run.payload):
                run.pending.discard(ambiguous.temp)
                await self._remove_quietly(sftp, run, ambiguous.temp)
                self._warn(run, "rename reply was lost; the target was verified after reconnect")
                if ambiguous.backup:
                    await self._remove_quietly(sftp, run, ambiguous.backup)
                return "posix-rename" if ambiguous.backup is None else "backup-rename"
            if (ambiguous.backup and not await self._exists(sftp, run.target)
                    and await self._exists(sftp, ambiguous.backup)):
                await self._io(sftp.rename(ambiguous.backup, run.target))
                log.warning("restored the previous version of %s from %s", run.target,
                            ambiguous.backup)
            await self._remove_quietly(sftp, run, ambiguous.temp)
            retryable(f"connection lost while renaming into {run.target} "
                      f"({ambiguous}); the live file is unchanged", ambiguous.cause)

        return await self._session(work)

    async def _matches(self, sftp: asyncssh.SFTPClient, path: str, payload: Payload) -> bool:
        try:
            size = (await self._io(sftp.stat(path))).size
        except asyncssh.SFTPNoSuchFile:
            return False
        if size != payload.size:
            return False
        if size > HASH_READBACK_LIMIT:
            return True
        digest = hashlib.sha256()
        async with await self._io(sftp.open(path, "rb")) as remote:
            while chunk := await self._io(remote.read(CHUNK)):
                digest.update(cast(bytes, chunk))
        return digest.hexdigest() == payload.sha256

    # --- housekeeping -----------------------------------------------------------------------

    async def _exists(self, sftp: asyncssh.SFTPClient, path: str) -> bool:
        try:
            await self._io(sftp.stat(path))
        except asyncssh.SFTPNoSuchFile:
            return False
        return True

    async def _remove_quietly(self, sftp: asyncssh.SFTPClient, run: _Run, path: str) -> None:
        try:
            await self._io(sftp.remove(path))
        except asyncssh.SFTPNoSuchFile:
            pass
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            log.warning("could not remove %s: %s", path, describe(exc))
            return
        run.pending.discard(path)

    async def _remove_pending(self, run: _Run) -> None:
        async def work(sftp: asyncssh.SFTPClient) -> None:
            for path in sorted(run.pending):
                await self._remove_quietly(sftp, run, path)

        await self._session(work)

    async def _remove_leftovers(self, sftp: asyncssh.SFTPClient, run: _Run) -> None:
        for path in sorted(run.pending):
            await self._remove_quietly(sftp, run, path)
        now = time.time()
        try:
            entries = await self._io(sftp.readdir(run.directory or "."))
        except asyncssh.SFTPError as exc:
            log.debug("cannot list %s for stale temp files: %s", run.directory, describe(exc))
            return
        for entry in entries:
            name = str(entry.filename)
            age = now - (entry.attrs.mtime or now)
            if is_stale_remote_temp(name, run.name, age, ("partial",)):
                await self._remove_quietly(sftp, run, run.directory + name)
                self._warn(run, f"removed stale temp file {name} from an earlier run")

    def _warn(self, run: _Run, message: str) -> None:
        run.warnings.append(message)
        log.warning("%s: %s", self.dest.display(), message)
