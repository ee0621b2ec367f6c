"""Publish to a local (or mounted) directory: ``file:///srv/feeds/``.

The feed is copied through ``fileio.AtomicFile`` (the package's one atomic local replace):
a temp file ``.feedsync-<name>.<pid>.<random>.tmp`` in the target directory, fsynced,
checked against the payload's size and SHA-256, ``os.replace``d over the live file, and
the directory fsynced. Readers see the old file or the new one, never a mix. The live
file keeps its mode (0644 when new). A symlink at the target that stays inside the target
directory is followed: the file it points to is replaced, the link stays. A link out of
the directory is refused, naming it (a planted link must not redirect the write; issue
15, item 3), unless the destination sets ``follow_symlinks_outside: true``.

Why not the remote replace procedure (``publishers/replace.py``): a local directory always
has an atomic rename and no reply can be lost, so that procedure's fallbacks would never
run here. Stale temps are removed the local way (``fileio.clean_stale_temps``): a temp of a
dead process at once, any other only when a day old.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from feedsync.errors import ConfigError, OutputError
from feedsync.fileio import (
    CopyMismatch,
    clean_stale_temps,
    copy_atomically,
    refuse_link_outside,
)
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    SYSTEM_CLOCK,
    Clock,
    Payload,
    fatal,
    final_name,
    log,
    opt_bool,
    parse_location,
    prepared,
    retryable,
)

NEW_FILE_MODE = 0o644
# Out of space or quota may clear by the next run; anything else (permissions, read-only
# filesystem, missing directory) needs a person.
_RETRYABLE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR}


_OPT_IN = "follow_symlinks_outside: true on the destination"


class FilePublisher:
    """Atomic replace of a file in a local directory."""

    def __init__(self, dest: Destination, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.dest = dest
        self.clock = clock
        self.target = parse_location(dest)
        if self.target.host not in {"", "localhost"}:
            raise ConfigError(
                f"file URLs name a local path: {dest.display()} has host {self.target.host!r}",
                key="url",
            )
        if not self.target.directory.startswith("/"):
            raise ConfigError("file URLs need an absolute path: file:///srv/feeds/", key="url")
        self.use_gzip = opt_bool(dest.options, "gzip")
        self.follow_outside = opt_bool(dest.options, "follow_symlinks_outside")

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Copy ``local_file`` into the destination directory as ``remote_name``."""
        started = self.clock.monotonic()
        name = final_name(self.target, remote_name, self.use_gzip)
        directory = Path(self.target.directory)
        if not directory.is_dir():
            fatal(f"target directory {directory} does not exist")
        target = directory / name
        if target.is_symlink():
            if not self.follow_outside:
                try:
                    refuse_link_outside(target, directory, folder_name="target directory",
                                        opt_in=_OPT_IN)
                except OutputError as exc:
                    fatal(f"{exc.message} (remove the link, or set {_OPT_IN})")
            target = target.resolve()
        with prepared(local_file, self.use_gzip) as payload:
            warnings = self._publish(payload, target)
        return Receipt(
            destination=self.dest.display(),
            remote_path=str(target),
            bytes=payload.size,
            sha256=payload.sha256,
            method="local-replace",
            attempts=1,
            seconds=self.clock.monotonic() - started,
            warnings=tuple(warnings),
        )

    def _publish(self, payload: Payload, target: Path) -> list[str]:
        warnings: list[str] = []
        try:
            removed = clean_stale_temps(target.parent)
            if removed:
                warnings.append(f"removed {len(removed)} stale temp file(s) from an earlier run")
                log.info("removed stale temp files in %s: %s", target.parent,
                         [p.name for p in removed])
            copy_atomically(payload.path, target, expected=payload.digest,
                            new_mode=NEW_FILE_MODE)
        except CopyMismatch as exc:
            fatal(f"copy of {payload.path} to {target} does not match the payload "
                  f"({exc.strerror}); the live file was left as it was", exc)
        except (OSError, OutputError) as exc:
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            code = cause.errno if isinstance(cause, OSError) else None
            what = f"cannot write {target}: {os.strerror(code) if code else exc}"
            if code in _RETRYABLE_ERRNOS:
                retryable(what, exc)
            fatal(what, exc)
        return warnings
