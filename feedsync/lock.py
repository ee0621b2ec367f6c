"""One feedsync run at a time per state directory (and lock name): a kernel ``flock``.

``flock(2)`` belongs to the open file description, so the kernel drops it when the holder
exits for any reason, ``kill -9`` included: there is never a stale lock to clean up by hand.
The holder writes who it is into the lock file so that a refused run can name it.

    with RunLock(Path(".feedsync")):
        ...  # a second run raises LockHeld (exit code LOCKED) at once

We call ``fcntl.flock`` directly instead of ``filelock.FileLock``: filelock opens the lock
file with ``O_TRUNC`` before it tries the lock, which would wipe the holder's details that
the refused run wants to read, and it may fall back to soft (PID file) locks on its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from feedsync.errors import LockHeld, OutputError

__all__ = ["LockInfo", "RunLock", "read_holder"]

# Other users may read who holds the lock (monitoring, an operator's shell); only the
# owner writes it.
_LOCK_FILE_MODE = 0o644
# How long a refused run waits for a brand-new holder to write its details: 100 x 10 ms.
_DETAIL_POLLS = 100
_DETAIL_POLL_S = 0.01


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock: written by the holder right after it acquires."""

    pid: int
    host: str
    started_at: str
    command: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "host": self.host,
                "started_at": self.started_at,
                "command": self.command,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> LockInfo | None:
        """Parse a lock file's text; ``None`` when it is empty or not ours."""
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                started_at=str(data["started_at"]),
                command=str(data["command"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def read_holder(path: Path) -> LockInfo | None:
    """The details the current holder wrote into ``path``, or ``None`` if unknown.

    Only meaningful while the lock is held: a released or crashed holder's details may
    linger, and an empty file does not mean the lock is free.
    """
    try:
        return LockInfo.from_json(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


class RunLock:
    """Non-blocking exclusive lock on ``<state_dir>/<name>.lock``.

    Different state directories, or different names in one directory, do not contend.
    The lock file is never deleted: unlinking a flock file lets two runs lock two
    different inodes under the same name.
    """

    def __init__(self, state_dir: Path, name: str = "push", *, command: str | None = None):
        if not name or name.startswith(".") or Path(name).name != name:
            raise ValueError(f"lock name must be a plain file name, got {name!r}")
        self.path = Path(state_dir) / f"{name}.lock"
        self.command = command if command is not None else shlex.join(sys.argv)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock or raise ``LockHeld``; never waits for the holder to finish."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._held_error() from None
        except OSError as exc:  # ENOLCK and friends: network filesystems
            os.close(fd)
            raise OutputError(
                f"cannot lock {self.path}: {exc.strerror or exc}",
                tip="keep the state directory on a local disk; flock is unreliable over NFS",
            ) from exc
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write_info(fd)
        return self

    def release(self) -> None:
        """Drop the lock; safe to call twice, and safe after a failed acquire."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Blank the details while still holding the lock, so they never outlive it
            # after a clean exit (a kill -9 leaves them; the kernel still frees the lock).
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _open(self) -> int:
        # No O_TRUNC: the holder's details must survive a refused run's open. Python makes
        # the descriptor non-inheritable, so programs we spawn (ssh, ...) never keep the
        # lock alive after we die.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, _LOCK_FILE_MODE)
        except OSError as exc:
            raise OutputError(
                f"cannot open lock file {self.path}: {exc.strerror or exc}",
                tip="check that the state directory exists, is a directory and is writable",
            ) from exc

    def _write_info(self, fd: int) -> None:
        info = LockInfo(
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            command=self.command,
        )
        # The details are a courtesy for the refused run; failing to write them (disk
        # full) must not cost us a lock we already hold.
        data = info.to_json().encode("utf-8")
        try:
            # Write, then cut to length: a concurrent reader never sees an empty file.
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError:
            pass

    def _wait_for_holder(self) -> LockInfo | None:
        # The holder writes its details just after flock(): a run refused in that instant
        # waits a moment for them rather than report an anonymous holder.
        for _ in range(_DETAIL_POLLS):
            info = read_holder(self.path)
            if info is not None:
                return info
            time.sleep(_DETAIL_POLL_S)
        return None

    def _held_error(self) -> LockHeld:
        info = self._wait_for_holder()
        if info is None:
            # The holder is between flock() and writing its details, or it predates them.
            return LockHeld(
                f"another feedsync run holds {self.path} (holder details not written yet)",
                tip="wait for the other run to finish; the lock frees itself when it exits",
            )
        return LockHeld(
            f"another feedsync run holds {self.path} (pid {info.pid} since {info.started_at})",
            tip=(
                f"wait for it to finish, or look at it with `ps -p {info.pid}` on host "
                f"{info.host} (command: {info.command}); the kernel frees the lock when "
                "that process exits, so never delete the lock file"
            ),
        )
