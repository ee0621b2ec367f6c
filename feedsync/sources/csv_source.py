"""CSV and TSV catalogs, streamed row by row.

- The delimiter is sniffed from the header line (``, ; <tab> |``) unless set; ``.tsv`` is
  tab-separated. Quoting is RFC 4180 (``"`` doubled inside quotes) in both.
- Header names are stripped of surrounding whitespace. An empty header name becomes
  ``column_<n>`` and a repeated one ``<name>_<k>`` (k = 2, 3, ...), so no cell is lost.
- ``Record.line`` is the physical line where the row *starts* (quoted cells may span lines).
  Cells stay strings, exactly as written (leading zeros in GTINs are kept).
- Lines that are blank, or rows whose cells are all empty, are skipped.
- Row problems (yielded in place of the row, the rest of the file still loads):
  ``row-ragged`` (more or fewer cells than the header; with ``short_rows="pad"`` a row
  with fewer cells is read with empty cells at its end), ``row-undecodable`` (bytes that are
  not valid in the encoding; the message gives the byte offset), ``row-unterminated-quote``
  (a quote never closed before the end of the file: the lines after the row's first line
  are then read again as rows), ``row-field-too-large`` (a cell over the csv module's
  131072-character limit, almost always a stray quote: handled like an unterminated quote)
  and ``row-malformed`` (anything else the csv module refuses, e.g. a bare CR in an
  unquoted cell).

Why lines are split in binary and decoded one by one: one bad byte then costs one row, not
the file, and the cost is lower than a text-mode ``csv.DictReader``. Encodings where
``\\n`` is not a byte of its own (UTF-16/32) and files with bare-CR line ends are read in
text mode instead; there an undecodable byte stops the file with ``CatalogError``.
"""

from __future__ import annotations

import _csv
import csv
import io
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from feedsync.model import Record, RowProblem
from feedsync.sources.base import FileSource, Item, printable_id


@dataclass(frozen=True)
class _BadBytes:
    offset: int
    data: bytes


_EOF = _BadBytes(-1, b"")  # marker: the line iterator ran dry (see _Rows.read)
_FIELD_LIMIT = "field larger than field limit"


class _LineSource:
    """Physical lines for ``csv.reader``; reports undecodable lines and the end of input.

    ``events`` is shared with the row loop: a non-empty list sends a row down the slow path.
    """

    def __init__(self, fh: BinaryIO, encoding: str, start: int, binary: bool) -> None:
        self.fh = fh
        self.encoding = encoding
        self.binary = binary
        self.events: list[_BadBytes] = []
        self._text: io.TextIOWrapper | None = None
        fh.seek(start)
        # The offset of the next line, counted as lines are read: a tell() per row was an
        # lseek each time (~2 us of the ~15 us a row costs to read).
        self._offset = start

    def lines(self) -> Iterator[str]:
        if not self.binary:
            return self._text_lines()
        return self._byte_lines()

    def _byte_lines(self) -> Iterator[str]:
        fh, encoding, events = self.fh, self.encoding, self.events
        for raw in fh:
            self._offset += len(raw)
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as exc:
                events.append(_BadBytes(self._offset - len(raw) + exc.start,
                                        raw[exc.start:exc.end]))
                yield raw.decode(encoding, "surrogateescape")
        events.append(_EOF)

    def _text_lines(self) -> Iterator[str]:
        # newline="" keeps line ends as written and still splits on bare CR.
        self._text = text = io.TextIOWrapper(self.fh, self.encoding, newline="")
        yield from iter(text.readline, "")
        self.events.append(_EOF)

    def tell(self) -> int | None:
        """Byte offset of the next line, where it can be known cheaply (binary mode)."""
        return self._offset if self.binary else None

    def offset_after_line(self, offset: int) -> int:
        """Offset of the line that follows the one starting at ``offset``."""
        self.fh.seek(offset)
        self.fh.readline()
        return self.fh.tell()

    def restart(self, offset: int) -> None:
        self.fh.seek(offset)
        self._offset = offset
        self.events.clear()

    def detach(self) -> None:
        # The text wrapper must not close the shared binary file when it is collected.
        if self._text is not None:
            self._text.detach()
            self._text = None


@dataclass(frozen=True)
class _Header:
    names: list[str]
    id_index: int | None
    line: int


class CsvSource(FileSource):
    """Delimited text (``csv`` or ``tsv``), one ``Record`` per row."""

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        probe = self.probe
        lines = _LineSource(fh, probe.encoding, probe.bom,
                            binary=probe.ascii_compatible and not probe.cr_only)
        try:
            rows = _Rows(self, lines)
            yield from rows.read()
        except UnicodeDecodeError as exc:  # text mode only: see the module docstring
            raise self.error(
                f"the file is not valid {probe.encoding} ({exc.reason}) "
                f"near byte {fh.tell()}",
                tip="set the catalog's encoding option to the encoding the file was saved in",
            ) from exc
        finally:
            lines.detach()


class _Rows:
    """The row loop over one file; restarts after a runaway quote (see ``read``)."""

    def __init__(self, source: CsvSource, lines: _LineSource) -> None:
        self.source = source
        self.file = source.file
        self.lines = lines
        self.encoding = source.probe.encoding
        self.reader = self._reader()
        self.line_base = 0  # physical lines consumed before the current reader started
        self.header = self._read_header()

    def _reader(self) -> _csv.Reader:
        return csv.reader(self.lines.lines(), delimiter=self.source.probe.delimiter,
                          quotechar='"', doublequote=True,
                          # trim: `"a" , "b"` (padded exports) reads as a, b
                          skipinitialspace=self.source.trim, strict=False)

    def read(self) -> Iterator[Item]:
        if self.header is None:
            return
        restart = yield from self._rows()
        while restart is not None:
            offset, self.line_base = restart
            self.lines.restart(offset)
            self.reader = self._reader()
            restart = yield from self._rows()

    def _rows(self) -> Generator[Item, None, tuple[int, int] | None]:
        """Yield rows until the file ends (returns None) or a restart is needed (returns
        ``(offset, line_base)``)."""
        header = self.header
        assert header is not None
        names, width, file = header.names, len(header.names), self.file
        reader, events, tell = self.reader, self.lines.events, self.lines.tell
        base = self.line_base
        trim = self.source.trim
        prev = reader.line_num
        pos = tell()
        while True:
            try:
                for row in reader:
                    if trim:
                        row = list(map(str.strip, row))
                    start = base + prev + 1
                    prev = reader.line_num
                    row_pos, pos = pos, tell()
                    if events or len(row) != width or not row[0]:
                        item, restart = self._odd_row(row, start, base + prev, row_pos)
                        if item is not None:
                            yield item
                        if restart is not None:
                            return restart
                        continue
                    yield Record(file, start, dict(zip(names, row, strict=False)))
                return None
            except csv.Error as exc:
                start = base + prev + 1
                prev = reader.line_num
                row_pos, pos = pos, tell()
                events.clear()
                if _FIELD_LIMIT in str(exc):
                    yield self._problem(start, "row-field-too-large",
                                        f"a cell is longer than {csv.field_size_limit()} "
                                        "characters; most often a quote that is never closed",
                                        None)
                    if row_pos is not None:
                        return self.lines.offset_after_line(row_pos), start
                    continue
                yield self._problem(start, "row-malformed", _explain(exc), None)

    def _odd_row(
        self, row: list[str], start: int, end: int, row_pos: int | None
    ) -> tuple[Item | None, tuple[int, int] | None]:
        """The slow path: a decode problem, the end of input, a blank or a ragged row."""
        events = self.lines.events
        if events:
            hit_eof = any(event is _EOF for event in events)
            bad = next((e for e in events if e is not _EOF), None)
            events.clear()
            if hit_eof:
                return self._unterminated(row, start, end, row_pos)
            if bad is not None:
                return self._problem(
                    start, "row-undecodable",
                    f"bytes {bad.data.hex(' ')} at byte offset {bad.offset} are not valid "
                    f"{self.encoding}; if the file was saved in another encoding "
                    "(e.g. cp1252), set the catalog's encoding option", row), None
        if not any(cell.strip() for cell in row):
            return None, None
        width = len(self.header.names) if self.header else 0
        if 0 < len(row) < width and self.source.pad_short_rows:
            row = [*row, *([""] * (width - len(row)))]
        if len(row) != width:
            return self._problem(
                start, "row-ragged",
                f"expected {width} cells (as in the header), got {len(row)}", row), None
        assert self.header is not None
        return Record(self.file, start, dict(zip(self.header.names, row, strict=True))), None

    def _unterminated(
        self, row: list[str], start: int, end: int, row_pos: int | None
    ) -> tuple[Item, tuple[int, int] | None]:
        if end > start:
            span = f"lines {start}-{end} were read as one row; the lines after {start} are " \
                   "read again as rows"
        else:
            span = "it is the last line"
        problem = self._problem(
            start, "row-unterminated-quote",
            f"a quoted cell is never closed before the end of the file ({span})", row)
        if end > start and row_pos is not None:
            return problem, (self.lines.offset_after_line(row_pos), start)
        return problem, None

    def _problem(self, line: int, code: str, message: str, row: list[str] | None) -> RowProblem:
        return RowProblem(self.file, line, code, message, self._product_id(row))

    def _product_id(self, row: list[str] | None) -> str | None:
        index = self.header.id_index if self.header else None
        if row is None or index is None or index >= len(row):
            return None
        return printable_id(row[index])

    def _read_header(self) -> _Header | None:
        """The first non-blank row; ``None`` for a file with no content."""
        events = self.lines.events
        reader = self.reader
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise self.source.error(f"the header row is unreadable: {exc}", line=1) from exc
            line = reader.line_num
            if events:
                self._refuse_header(events, line)
            if any(cell.strip() for cell in row):
                return _Header(_header_names(row), _id_index(row), line)

    def _refuse_header(self, events: list[_BadBytes], line: int) -> None:
        bad = next((e for e in events if e is not _EOF), None)
        if bad is not None:
            raise self.source.error(
                f"the header row is not valid {self.encoding} (bytes {bad.data.hex(' ')} "
                f"at byte offset {bad.offset})", line=line,
                tip="set the catalog's encoding option (e.g. cp1252 or latin-1)")
        raise self.source.error("the header row has a quote that is never closed", line=1,
                                tip="check the first line of the file")


def _explain(exc: csv.Error) -> str:
    text = str(exc)
    if text.startswith("new-line character seen in unquoted field"):
        return "a bare carriage return (CR) inside a cell that is not quoted"
    return f"unreadable row: {text}"


def _header_names(row: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(row, start=1):
        name = raw.strip().lstrip("\ufeff").strip() or f"column_{position}"
        seen[name] = count = seen.get(name, 0) + 1
        names.append(name if count == 1 else f"{name}_{count}")
    return names


def _id_index(row: list[str]) -> int | None:
    lowered: list[str] = [cell.strip().lstrip("\ufeff").strip().lower() for cell in row]
    return lowered.index("id") if "id" in lowered else None

