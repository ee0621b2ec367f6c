"""The publisher seam: ``Destination`` in, ``Receipt`` out, one publisher per URL scheme.

Example::

    dest = Destination("sftp://feeds@example.com/incoming/", {"key_file": "~/.ssh/feed"})
    receipt = publisher_for(dest).publish(Path("out/google.xml"), "google.xml")
    print(receipt.method, receipt.sha256)

Every publisher uploads to a temporary name beside the target, verifies the size, and then
renames over the live file (see docs/publishing.md for each transport's details).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from feedsync.errors import ConfigError
from feedsync.secrets import install_redaction, redact

Method = str  # "posix-rename" | "rename" | "backup-rename" | "direct" | "put" | "post" | ...


@dataclass(frozen=True)
class Destination:
    """Where a feed goes: a URL (scheme picks the transport) and per-destination options."""

    url: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def display(self) -> str:
        """The URL for messages: query replaced by ``?…``, never a password."""
        try:
            parts = urlsplit(self.url)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            return redact(self.url.split("?", 1)[0])
        if ":" in host:
            host = f"[{host}]"
        user = f"{parts.username}@" if parts.username else ""
        netloc = f"{user}{host}:{port}" if port else f"{user}{host}"
        query = "?…" if parts.query else ""
        return redact(f"{parts.scheme}://{netloc}{parts.path}") + query


@dataclass(frozen=True)
class Receipt:
    """What was delivered: where, how many bytes, their SHA-256, and how it was replaced."""

    destination: str
    remote_path: str
    bytes: int
    sha256: str
    method: Method
    attempts: int
    seconds: float
    warnings: tuple[str, ...] = ()


class Publisher(Protocol):
    """Delivers one finished file. ``remote_name`` is a plain file name (``google.xml``)."""

    def publish(self, local_file: Path, remote_name: str) -> Receipt: ...


def _file(dest: Destination) -> Publisher:
    from feedsync.publishers.file import FilePublisher

    return FilePublisher(dest)


def _sftp(dest: Destination) -> Publisher:
    from feedsync.publishers.sftp import SftpPublisher

    return SftpPublisher(dest)


def _ftp(dest: Destination) -> Publisher:
    from feedsync.publishers.ftp import FtpPublisher

    return FtpPublisher(dest)


def _http(dest: Destination) -> Publisher:
    from feedsync.publishers.http import HttpPublisher

    return HttpPublisher(dest)


# Imports are deferred so that publishing to a local folder never loads asyncssh.
PUBLISHERS: dict[str, Callable[[Destination], Publisher]] = {
    "file": _file,
    "sftp": _sftp,
    "ftp": _ftp,
    "ftps": _ftp,
    "http": _http,
    "https": _http,
}


def publisher_for(dest: Destination) -> Publisher:
    """The publisher for ``dest``'s URL scheme; ``ConfigError`` for a bad URL or options.

    Refused: an unknown scheme, a password in the URL, a path with ``..``, NUL or a
    newline, an inline secret in the options, an unknown option.
    """
    install_redaction()
    scheme = urlsplit(dest.url).scheme.lower() if "://" in dest.url else ""
    factory = PUBLISHERS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(PUBLISHERS))
        raise ConfigError(
            f"unknown destination scheme {scheme!r} in {dest.display()} (known: {known})",
            key="url",
        )
    return factory(dest)
