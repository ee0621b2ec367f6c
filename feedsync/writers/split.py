"""A channel's published file limits applied around any writer: split into parts, or refuse.

The channel folder's ``limits:`` may hold three entries this layer reads (each
``{value: …, source: URL, note: …}``, the source being the channel's own page):

- ``items_per_feed_file``: the most items one file may hold;
- ``bytes_per_feed_file``: the most bytes one file may hold (uncompressed);
- ``several_files``: ``true`` when the channel takes a catalog as several files (Meta's
  several feeds, Pinterest's data sources, Amazon's several feed documents).

When a file would go over a limit, a channel that takes several files gets the next
*part*: the writer's document is finished in the current file and started again in a new
one. Part 1 keeps the output's own name (``meta.csv``); part N is ``meta-000N.csv``
(``part_path``). A channel that takes one file refuses instead, with an ``OutputError``
naming the file, the count or size it would reach, the limit and its source page.

Why a wrapper and not code in each writer: every writer already has the
``start(handle)`` / ``write_encoded`` / ``finish()`` seam, so rotating is ``finish()`` on
the old file and ``start()`` on the new one, the same for XML, delimited, JSON and Amazon.
A writer with numbering across documents (Amazon's message ids) keeps its own state: only
the per-document counters reset in its ``start``.

Every part is an ``AtomicFile``: nothing replaces a live file before the whole run
succeeds, and a failed run drops every part (``files``). After a good run, parts of an
earlier, bigger run beyond the new count are removed (``remove_stale_parts``), so a
consumer never reads a set mixed from two runs. Each part's item count, size and SHA-256
are measured while it is written (``parts``), never by reading it back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from feedsync.errors import OutputError
from feedsync.fileio import AtomicFile
from feedsync.writers.base import Writer

__all__ = ["FileLimits", "Part", "SplitWriter", "file_limits", "part_path",
           "remove_stale_parts"]

# Bytes kept free in each part for the document's tail and an item's separator, which the
# writer adds after the size was decided (RSS ``</channel></rss>``, Amazon ``,\n`` + ``]}``).
TAIL_RESERVE: Final = 1024
PART_DIGITS: Final = 4


@dataclass(frozen=True)
class FileLimits:
    """The limits one output's files are held to (None: no limit)."""

    channel: str
    items: int | None = None
    items_source: str = ""
    bytes: int | None = None
    bytes_source: str = ""
    several: bool = False
    several_source: str = ""

    @property
    def active(self) -> bool:
        return self.items is not None or self.bytes is not None


@dataclass
class Part:
    """One written file of an output: its path, items, bytes and SHA-256."""

    path: Path
    items: int = 0
    bytes: int = 0
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "items": self.items, "bytes": self.bytes,
                "sha256": self.sha256}


def _limit(limits: Mapping[str, Any], name: str) -> tuple[Any, str]:
    entry = limits.get(name)
    if isinstance(entry, Mapping):
        return entry.get("value"), str(entry.get("source") or "")
    return None, ""


def file_limits(channel: str, limits: Mapping[str, Any],
                items: int | None = None, size: int | None = None) -> FileLimits:
    """The ``FileLimits`` of a channel folder's ``limits:``; ``items``/``size`` (a writer's
    own options, e.g. Amazon's ``max_messages``) lower them."""
    count, count_source = _limit(limits, "items_per_feed_file")
    length, length_source = _limit(limits, "bytes_per_feed_file")
    several, several_source = _limit(limits, "several_files")
    count = _whole(count)
    length = _whole(length)
    if items is not None and (count is None or items < count):
        count = items
    if size is not None and (length is None or size < length):
        length = size
    return FileLimits(channel, count, count_source, length, length_source,
                      several is True, several_source)


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def part_path(path: Path, number: int) -> Path:
    """Part ``number`` (from 1) of ``path``: part 1 is ``path`` itself, part 2 of
    ``meta.csv`` is ``meta-0002.csv``."""
    if number == 1:
        return path
    name = path.name
    stem, dot, suffix = name.partition(".")
    return path.with_name(f"{stem}-{number:0{PART_DIGITS}d}{dot}{suffix}")


def remove_stale_parts(path: Path, keep: int) -> list[Path]:
    """Remove ``path``'s parts numbered above ``keep`` (left by an earlier, bigger run)."""
    stem, dot, suffix = path.name.partition(".")
    pattern = re.compile(rf"^{re.escape(stem)}-(\d{{{PART_DIGITS}}}){re.escape(dot + suffix)}$")
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for entry in sorted(path.parent.iterdir()):
        match = pattern.match(entry.name)
        if match and int(match.group(1)) > keep and entry.is_file():
            entry.unlink()
            removed.append(entry)
    return removed


class _Counting:
    """The handle a writer is given: counts and hashes what goes through to the file."""

    def __init__(self, handle: BinaryIO, part: Part) -> None:
        self._handle = handle
        self._part = part
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._hash.update(data)
        self._part.bytes += len(data)
        return len(data)

    def close_part(self) -> None:
        self._part.sha256 = self._hash.hexdigest()


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


class SplitWriter:
    """Wraps one output's writer; see the module docstring."""

    def __init__(self, inner: Writer, limits: FileLimits, path: Path, *,
                 follow_outside: bool = False) -> None:
        self.inner = inner
        # Parts 2.. are files of the output folder too: a planted link out of it is refused
        # like one at the first part (issue 15, item 3), unless the config opts in.
        self.follow_outside = follow_outside
        self.limits = limits
        self.stateless = inner.stateless
        # A parallel build hands a batch's items as a list (``write_many``), so each is
        # still counted; they are joined for the inner writer between part boundaries.
        self.concatenable = inner.concatenable
        self.path = path
        # explain replays a build without files: further parts then go to no file.
        self.discard = False
        self.parts: list[Part] = []
        self.files: list[AtomicFile] = []   # parts 2.. (part 1 is the pipeline's file)
        self._sink: _Counting | None = None

    @property
    def numbered(self) -> bool:
        return bool(getattr(self.inner, "numbered", False))

    def bind(self, path: Path) -> None:
        """Where part 1 goes (set just before ``start``: push stages elsewhere)."""
        self.path = path

    def start(self, handle: BinaryIO) -> None:
        self.parts = [Part(self.path)]
        self.files = []
        self._open(handle)

    def _open(self, handle: BinaryIO) -> None:
        self._sink = _Counting(handle, self.parts[-1])
        self.inner.start(self._sink)  # type: ignore[arg-type]

    def encode(self, item: Mapping[str, Any]) -> bytes:
        return self.inner.encode(item)

    def reserve(self, expected: int) -> None:
        """Passed on to the wrapped writer, where it sizes a table per item."""
        reserve = getattr(self.inner, "reserve", None)
        if reserve is not None:
            reserve(expected)

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def write_encoded(self, data: bytes) -> None:
        part = self.parts[-1]
        if part.items and self._over(part, len(data)):
            self._next_part(len(data))
            part = self.parts[-1]
        if self._over(part, len(data)):
            raise self._too_big_item(len(data))
        self.inner.write_encoded(data)
        part.items += 1

    def write_many(self, chunks: list[bytes]) -> None:
        """Several items' bytes, in order (a parallel build's batch of a concatenable
        writer): written joined, split only where a part ends."""
        run: list[bytes] = []
        size = 0
        for data in chunks:
            if self._over(self.parts[-1], len(data), len(run), size):
                if run:
                    self._write_run(run)
                    run, size = [], 0
                self.write_encoded(data)
                continue
            run.append(data)
            size += len(data)
        if run:
            self._write_run(run)

    def _write_run(self, run: list[bytes]) -> None:
        self.inner.write_encoded(b"".join(run))
        self.parts[-1].items += len(run)

    def finish(self) -> None:
        self.inner.finish()
        assert self._sink is not None
        self._sink.close_part()

    def _over(self, part: Part, size: int, items: int = 0, pending: int = 0) -> bool:
        """Whether one more item of ``size`` bytes takes ``part`` over a limit, after
        ``items`` items of ``pending`` bytes not yet written."""
        limits = self.limits
        if limits.items is not None and part.items + items + 1 > limits.items:
            return True
        return (limits.bytes is not None
                and part.bytes + pending + size + TAIL_RESERVE > limits.bytes)

    def _next_part(self, size: int) -> None:
        part = self.parts[-1]
        if not self.limits.several:
            raise self._refusal(part, size)
        self.finish()
        if self.files:
            self.files[-1].seal()  # a finished part keeps its temp file, not its buffer
        path = part_path(self.parts[0].path, len(self.parts) + 1)
        handle: BinaryIO = _Discard()  # type: ignore[assignment]
        if not self.discard:
            atomic = AtomicFile(path, within=path.parent, follow_outside=self.follow_outside)
            self.files.append(atomic)
            handle = atomic.open()
        self.parts.append(Part(path))
        self._open(handle)

    def _refusal(self, part: Part, size: int) -> OutputError:
        limits = self.limits
        if limits.items is not None and part.items + 1 > limits.items:
            what = (f"would hold more than {limits.items:,} items, the most "
                    f"{limits.channel} takes in one file (items_per_feed_file)")
            source = limits.items_source
        else:
            what = (f"would reach {part.bytes + size:,} bytes after {part.items:,} items, "
                    f"over the {limits.bytes:,} bytes {limits.channel} takes in one file "
                    "(bytes_per_feed_file)")
            source = limits.bytes_source
        return OutputError(
            f"{part.path.name} {what}; {limits.channel} takes a catalog as one file, so "
            f"feedsync does not split it ({source})", file=str(part.path),
            tip="nothing was replaced; split the catalog into several targets, or filter "
                "products out (docs/channels.md#limits)")

    def _too_big_item(self, size: int) -> OutputError:
        part = self.parts[-1]
        return OutputError(
            f"one item of {size:,} bytes cannot fit in a file of {self.limits.bytes:,} "
            f"bytes ({self.limits.channel}'s bytes_per_feed_file, "
            f"{self.limits.bytes_source})", file=str(part.path),
            tip="nothing was replaced; shorten the product's longest values")
