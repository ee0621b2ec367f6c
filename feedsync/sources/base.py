"""What every reader shares: the options, the ``Source`` protocol and the file handling.

A source is opened (and sniffed) by ``open_catalog``; ``records()`` then opens the file
again on each call, so a source can be read more than once. While it is being read,
``bytes_read()`` reports how far the reader has got, for a progress bar.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem

FormatName = Literal["csv", "tsv", "json", "jsonl", "google-xml", "wxr", "prestashop-xml"]
FormatOption = Literal["auto", "csv", "tsv", "json", "jsonl", "google-xml", "wxr",
                       "prestashop-xml"]
Item = Record | RowProblem


@dataclass(frozen=True)
class SourceOptions:
    """How to read a catalog file.

    ``encoding=None`` means UTF-8 (a BOM is stripped; a UTF-16/32 BOM is honoured). Legacy
    exports set e.g. ``"cp1252"`` or ``"latin-1"``. ``delimiter=None`` sniffs one of
    ``, ; <tab> |`` from the header line (a ``.tsv`` file is always tab-separated).
    """

    format: FormatOption = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    trim: bool = False  # strip padding around cells (catalog.trim; header names always)
    # "pad": a row with fewer cells than the header gets empty cells at its end (exports
    # that drop a row's trailing empty cells, e.g. Spree's variant rows); "error": row-ragged.
    short_rows: Literal["error", "pad"] = "error"


@dataclass(frozen=True)
class Probe:
    """What sniffing found out about a file before any record is read."""

    path: Path
    size: int
    format: FormatName
    encoding: str  # a Python codec name, e.g. "utf-8", "cp1252", "utf-16-le"
    encoding_option: str | None  # as the user set it (XML honours its own declaration)
    bom: int  # bytes of byte-order mark to skip before reading
    delimiter: str  # CSV/TSV only ("" for other formats)
    cr_only: bool  # lines end in a bare CR (classic Mac exports)
    empty: bool  # no content at all (0 bytes, or only a BOM and whitespace)
    ascii_compatible: bool  # b"\n" is a line break in this encoding (not UTF-16/32)


class Source(Protocol):
    """A catalog being read: the seam between sources and the pipeline."""

    path: Path
    format: str
    bytes_total: int

    def records(self) -> Iterator[Record | RowProblem]: ...

    def bytes_read(self) -> int: ...


class FileSource:
    """Opens the file, tracks progress, and wraps I/O errors; subclasses parse."""

    trim: bool = False  # strip padding around cells (CSV/TSV; catalog.trim)
    pad_short_rows: bool = False  # CSV/TSV; catalog.short_rows: pad

    def __init__(self, probe: Probe) -> None:
        self.path = probe.path
        self.format: str = probe.format
        self.bytes_total = probe.size
        self.probe = probe
        self._fh: BinaryIO | None = None
        self._last_pos = 0

    @property
    def file(self) -> str:
        """The file name as records and problems show it."""
        return str(self.path)

    def bytes_read(self) -> int:
        """Approximate bytes consumed so far (cheap: one ``tell()``)."""
        fh = self._fh
        if fh is None:
            return self._last_pos
        try:
            return fh.tell()
        except (OSError, ValueError):
            return self._last_pos

    def records(self) -> Iterator[Item]:
        """Yield every row as a ``Record``, or a ``RowProblem`` in its place."""
        if self.probe.empty:
            self._last_pos = self.bytes_total
            return
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 -- closed in the finally below
        except OSError as exc:
            raise self.error(f"cannot open the catalog: {exc.strerror}") from exc
        self._fh = fh
        try:
            opened = os.fstat(fh.fileno())
            self._check_unchanged(opened.st_size == self.bytes_total, "before it was opened")
            yield from self.read(fh)
            self._check_unchanged(_same(opened, os.fstat(fh.fileno()), os.stat(self.path)),
                                  "while it was read")
        except OSError as exc:
            raise self.error(f"reading the catalog failed: {exc.strerror or exc}") from exc
        finally:
            self._last_pos = self.bytes_read()
            self._fh = None
            fh.close()

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        raise NotImplementedError

    def _check_unchanged(self, same: bool, when: str) -> None:
        """A catalog rewritten under the reader (``export > catalog.csv`` running) gives a
        partial product list that would replace a whole feed: refuse it (issue 15, item 2).
        """
        if not same:
            raise self.error(
                f"the catalog changed {when} (its size, modification time or file changed); "
                "refusing to build from a partial read",
                tip="nothing was written; the previous feeds are unchanged. Write the "
                    "export to a temporary name and rename it into place when it is "
                    "complete")

    def error(self, message: str, line: int | None = None, tip: str | None = None) -> CatalogError:
        return CatalogError(message, file=self.file, line=line, tip=tip)


_SURROGATES = re.compile("[\ud800-\udfff]")


def printable_id(value: object) -> str | None:
    """A product id fit for a report: stray surrogates (from undecodable bytes) become U+FFFD."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return _SURROGATES.sub("\ufffd", value) or None


def _same(opened: os.stat_result, at_end: os.stat_result, by_path: os.stat_result) -> bool:
    """Same size and mtime as when opened, and the path still names the file read."""
    return ((opened.st_size, opened.st_mtime_ns) == (at_end.st_size, at_end.st_mtime_ns)
            and (opened.st_dev, opened.st_ino) == (by_path.st_dev, by_path.st_ino))
