"""pyftpdlib FTP and FTPS servers on 127.0.0.1, in a thread, with injectable faults."""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer


@dataclass
class FtpFaults:
    fail_write_after: int | None = None  # C2: ENOSPC past this many bytes (426)
    drop_after: int | None = None  # C1: close the control connection mid-upload
    short_writes: bool = False  # C6: store fewer bytes than received
    no_overwrite_rename: bool = False  # C4: 550 on RNTO when the target exists
    no_rename: bool = False  # C4: every rename refused
    fail_partial_rename: bool = False  # C4: the temp -> live rename fails
    drop_after_rename: bool = False  # C5: rename done, connection closed before the reply
    drop_before_rename: bool = False  # C5: connection closed before the temp is renamed
    times: int = 1_000_000
    fired: int = 0

    def fire(self) -> bool:
        if self.fired < self.times:
            self.fired += 1
            return True
        return False


class _FaultyFile:
    def __init__(self, raw: Any, faults: FtpFaults, channel: Any) -> None:
        self._raw, self._faults, self._channel, self._written = raw, faults, channel, 0

    def write(self, data: bytes) -> int:
        f = self._faults
        limit = f.fail_write_after if f.fail_write_after is not None else f.drop_after
        if limit is not None and self._written + len(data) > limit and f.fire():
            self._raw.write(data[: max(0, limit - self._written)])
            if f.drop_after is not None:
                self._channel.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if f.short_writes and len(data) > 10:
            data = data[:-10]
        self._written += len(data)
        return int(self._raw.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class FaultyFS(AbstractedFS):
    faults: FtpFaults

    def open(self, filename: str, mode: str) -> Any:
        raw = super().open(filename, mode)
        return _FaultyFile(raw, self.faults, self.cmd_channel) if "w" in mode else raw

    def rename(self, src: str, dst: str) -> None:
        f = self.faults
        if f.no_rename:
            raise OSError(errno.ENOSYS, "Can't rename")
        if f.no_overwrite_rename and os.path.exists(dst):
            raise OSError(errno.EEXIST, "Can't rename: file exists")
        if f.fail_partial_rename and src.endswith(".partial") and f.fire():
            raise OSError(errno.EIO, "rename failed (injected)")
        if f.drop_before_rename and src.endswith(".partial") and f.fire():
            self.cmd_channel.close()
            raise OSError(errno.ECONNRESET, "connection closed before the rename (injected)")
        super().rename(src, dst)
        if f.drop_after_rename and f.fire():
            self.cmd_channel.close()


class FtpServer:
    """One FTP (or explicit FTPS) server serving ``root`` for one user."""

    def __init__(self, root: Path, *, user: str = "feed", password: str = "ftp-secret",
                 tls_cert: Path | None = None) -> None:
        self.root, self.user, self.password = root, user, password
        self.faults = FtpFaults()
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elradfmwMT")
        fs = type("FS", (FaultyFS,), {"faults": self.faults})
        # auth_failed_timeout 0: pyftpdlib's 3 s pause after a wrong password is for brute
        # force, not for tests.
        attrs: dict[str, Any] = {"authorizer": authorizer, "abstracted_fs": fs,
                                 "timeout": 30, "banner": "feedsync test ftpd",
                                 "auth_failed_timeout": 0}
        base: type[FTPHandler] = FTPHandler
        if tls_cert is not None:
            base = TLS_FTPHandler
            attrs.update(certfile=str(tls_cert), tls_control_required=True,
                         tls_data_required=True)
        handler = type("Handler", (base,), attrs)
        self._ioloop = IOLoop()
        self._server = FTPServer(("127.0.0.1", 0), handler, ioloop=self._ioloop)
        self.port = int(self._server.socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ftpd", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)

    def reset(self, **faults: Any) -> FtpFaults:
        fresh = FtpFaults(**faults)
        for name in vars(fresh):
            setattr(self.faults, name, getattr(fresh, name))
        return self.faults

    def url(self, path: str, scheme: str = "ftp") -> str:
        return f"{scheme}://{self.user}@127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._server.close_all()
