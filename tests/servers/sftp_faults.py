"""In-process asyncssh SFTP servers that fail on purpose (after asyncssh's own tests [AS3]).

One ``FaultySftpServer`` listens on 127.0.0.1 with a throwaway host key, accepts one user
by public key or password, serves a chroot directory and misbehaves as ``faults`` says.
Each fault fires for the first ``faults.times`` occurrences only, so retries can succeed.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import asyncssh.sftp
import asyncssh.stream

from tests.servers.loop import LoopThread

POSIX_RENAME = b"posix-rename@openssh.com"


@dataclass
class SftpFaults:
    fail_write_after: int | None = None  # C2: SFTP failure (disk full) past this offset
    close_on_write: bool = False  # C1: close the SFTP session on a write
    short_writes: bool = False  # C6: store fewer bytes than written
    no_posix_rename: bool = False  # C4 (proftpd-like): no extension, no rename over a file
    no_rename: bool = False  # C4 (MinIO-like): no rename at all
    fail_partial_rename: bool = False  # C4: the temp -> live rename fails in the fallback
    drop_after_rename: bool = False  # C5: rename done, connection gone before the reply
    drop_before_rename: bool = False  # C5: connection gone before the temp is renamed
    stall_on_write: bool = False  # C7: a write never answers
    times: int = 1_000_000
    fired: int = 0
    renames: list[tuple[str, str]] = field(default_factory=list)

    def fire(self) -> bool:
        if self.fired < self.times:
            self.fired += 1
            return True
        return False


def _name(path: bytes) -> str:
    return os.fsdecode(path)


class FaultySFTPServer(asyncssh.SFTPServer):
    faults: SftpFaults  # set on a per-server subclass

    @property
    def hide_extensions(self) -> tuple[bytes, ...]:
        return (POSIX_RENAME,) if self.faults.no_posix_rename or self.faults.no_rename else ()

    def write(self, file_obj: Any, offset: int, data: bytes) -> Any:
        f = self.faults
        if f.close_on_write and f.fire():
            self.channel.close()
            return 0
        if f.stall_on_write and f.fire():
            return asyncio.sleep(3600, 0)
        if f.fail_write_after is not None and offset + len(data) > f.fail_write_after:
            if f.fire():
                keep = max(0, f.fail_write_after - offset)
                super().write(file_obj, offset, data[:keep])
                raise asyncssh.SFTPFailure("No space left on device")
        if f.short_writes and len(data) > 10:
            data = data[:-10]
        return super().write(file_obj, offset, data)

    def _drop_before(self, oldpath: bytes) -> None:
        f = self.faults
        if f.drop_before_rename and oldpath.endswith(b".partial") and f.fire():
            # The connection goes before the rename: the client cannot know it did not happen.
            self.channel.get_connection().abort()
            raise asyncssh.SFTPConnectionLost("connection dropped before the rename")

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        f = self.faults
        if f.no_posix_rename or f.no_rename:
            raise asyncssh.SFTPOpUnsupported("posix-rename not supported")
        self._drop_before(oldpath)
        f.renames.append((_name(oldpath), _name(newpath)))
        super().posix_rename(oldpath, newpath)
        if f.drop_after_rename and f.fire():
            # The rename happened; the reply never leaves: the client cannot know.
            self.channel.get_connection().abort()

    def rename(self, oldpath: bytes, newpath: bytes) -> Any:
        f = self.faults
        if f.no_rename:
            raise asyncssh.SFTPOpUnsupported("rename not supported")
        old, new = self.map_path(oldpath), self.map_path(newpath)
        if os.path.exists(new):
            raise asyncssh.SFTPFailure("Can't rename: file exists and OVERWRITE not set")
        if f.fail_partial_rename and old.endswith(b".partial") and f.fire():
            raise asyncssh.SFTPFailure("rename failed (injected)")
        self._drop_before(oldpath)
        f.renames.append((_name(oldpath), _name(newpath)))
        os.rename(old, new)
        if f.drop_after_rename and f.fire():
            self.channel.get_connection().abort()


_original_run_sftp_server = asyncssh.stream.run_sftp_server


def _run_sftp_server(sftp_server: Any, reader: Any, writer: Any, version: int) -> Any:
    """Like asyncssh's, but lets a test server hide extensions from its version reply."""
    hidden = getattr(sftp_server, "hide_extensions", ())
    if not hidden:
        return _original_run_sftp_server(sftp_server, reader, writer, version)
    base = asyncssh.sftp.SFTPServerHandler
    handler_cls = type(
        "HidingHandler", (base,),
        {"_extensions": [e for e in base._extensions if e[0] not in hidden]},
    )
    return handler_cls(sftp_server, reader, writer, version).run()


asyncssh.stream.run_sftp_server = _run_sftp_server


class _Auth(asyncssh.SSHServer):
    def __init__(self, user: str, password: str, attempts: list[str]) -> None:
        self.user, self.password, self.attempts = user, password, attempts

    def begin_auth(self, username: str) -> bool:
        self.attempts.append(username)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.user and password == self.password


class FaultySftpServer:
    """An asyncssh SFTP server on 127.0.0.1 serving ``root`` (as ``/``)."""

    def __init__(self, root: Path, base: Path, user: str = "feed",
                 password: str = "right-password") -> None:
        self.root, self.user, self.password = root, user, password
        self.faults = SftpFaults()
        self.auth_attempts: list[str] = []
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = base / "faulty_client_key"
        self.client_key.write_private_key(str(self.client_key_path))
        self.known_hosts = base / "faulty_known_hosts"
        server_cls = type("Faulty", (FaultySFTPServer,), {"faults": self.faults})
        self._server_cls = server_cls
        self._loop = LoopThread("faulty-sftp")
        self._acceptor = self._loop.run(self._start())
        self.port = int(self._acceptor.sockets[0].getsockname()[1])
        host_pub = self.host_key.export_public_key("openssh").decode().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")

    def reset(self, **faults: Any) -> SftpFaults:
        fresh = SftpFaults(**faults)
        for name in vars(fresh):
            setattr(self.faults, name, getattr(fresh, name))
        return self.faults

    async def _start(self) -> Any:
        return await asyncssh.create_server(
            lambda: _Auth(self.user, self.password, self.auth_attempts), "127.0.0.1", 0,
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                self.client_key.export_public_key("openssh").decode()
            ),
            sftp_factory=lambda chan: self._server_cls(chan, chroot=str(self.root)),
        )

    def url(self, path: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{path}"

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"key_file": str(self.client_key_path), "known_hosts": str(self.known_hosts),
                "timeout": 5, "deadline": 30, "retries": 0, "backoff": 0.05, **extra}

    def close(self) -> None:
        async def shutdown() -> None:
            self._acceptor.close()
            await self._acceptor.wait_closed()

        self._loop.run(shutdown(), timeout=5)
        self._loop.stop()
