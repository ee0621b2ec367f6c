"""CSV and TSV feeds with the stdlib ``csv`` writer.

Values are quoted only where needed (``QUOTE_MINIMAL``), so a tab, newline or delimiter
inside a value round-trips through any RFC 4180 reader. Multi-valued fields are joined
with the field's separator (Google: ``,`` for ``additional_image_link``). Values are
written byte for byte: spreadsheet formulas are reported by the validator, not mangled
here, because channels read these files as data (reliability.md E4).

Option ``one_line: true`` is for channels whose text feeds are one item per line and
cannot take a quoted line break (Google's TSV: "tabs and newlines inside values break the
row", ../shared/specs/google-merchant.md 3.2): every run of tabs, CRs and LFs inside a
value becomes one space.

Option ``quoting: none`` (tab-delimited only) writes every value as it is, never quoted,
for channels that ask for unquoted values (Microsoft Merchant Center: "do not enclose in
quotes", https://help.ads.microsoft.com/apex/index/3/en-us/51084). A value cannot then
hold a tab or a line break: the validator replaces them and reports each one
(``CompiledChannel(clean_breaks=True)``); the writer replaces any left, as a safety net.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any, BinaryIO

from feedsync.errors import TemplateError
from feedsync.writers.base import Layout

_BREAKS = re.compile(r"[\t\r\n]+")


def _has_break(text: str) -> bool:
    return "\n" in text or "\t" in text or "\r" in text


class DelimitedWriter:
    stateless = True
    concatenable = True

    def __init__(self, layout: Layout, delimiter: str) -> None:
        self.layout = layout
        self.delimiter = delimiter
        self._columns = [(c.name, c.multi, c.separator) for c in layout.columns]
        self._one_line = bool(layout.options.get("one_line", False))
        self._unquoted = unquoted(layout.options)
        if self._unquoted and delimiter != "\t":
            raise TemplateError("quoting: none needs a tab-delimited writer (tsv): a value "
                                "could hold the delimiter")
        self._handle: BinaryIO | None = None
        self._delimiter_join = delimiter.join
        # Rows are formatted into a string buffer and written as bytes: the same bytes
        # whether this process writes them or a parallel worker encoded them.
        self._buffer = io.StringIO(newline="")
        self._minimal, self._quote_all = (
            csv.writer(self._buffer, delimiter=delimiter, lineterminator="\n",
                       quoting=quoting) for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL))

    def start(self, handle: BinaryIO) -> None:
        self._handle = handle
        bom = b"\xef\xbb\xbf" if self.layout.options.get("bom", False) else b""
        self._minimal.writerow([c.header for c in self.layout.columns])
        handle.write(bom + self._take())

    def _row(self, item: Mapping[str, Any]) -> tuple[list[str], str, bool]:
        """The cells of one item, all of them joined, and whether the row must be quoted
        whole. (Tests on the joined text first: nearly every row has nothing to change,
        and a test per cell cost more than the rest of the row.)"""
        row = [sep.join(item[name]) if multi else item[name]
               for name, multi, sep in self._columns]
        joined = "".join(row)
        if (self._unquoted or self._one_line) and _has_break(joined):
            row = [_BREAKS.sub(" ", value) for value in row]
            return row, "".join(row), False
        # QUOTE_MINIMAL quotes only the delimiter, the quote and the line terminator's own
        # characters: a bare CR would end the row for every reader, so quote such rows whole.
        return row, joined, not self._unquoted and "\r" in joined

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")

    def encode(self, item: Mapping[str, Any]) -> bytes:
        """The row's bytes."""
        row, joined, quote_all = self._row(item)
        if self._unquoted:
            return ("\t".join(row) + "\n").encode("utf-8")
        if not quote_all and len(row) > 1:
            # QUOTE_MINIMAL by hand (the csv writer cost more than the rest of the row):
            # a cell holding the delimiter, the quote or a line feed is quoted, its
            # quotes doubled; tests/test_writers_delimited.py holds it to csv.writer.
            # Three ``in`` tests per cell cost less than a regex call per cell.
            d = self.delimiter
            return (self._delimiter_join([
                '"' + cell.replace('"', '""') + '"'
                if d in cell or '"' in cell or "\n" in cell else cell
                for cell in row]) + "\n").encode("utf-8")
        (self._quote_all if quote_all else self._minimal).writerow(row)
        return self._take()

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def write_encoded(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write(data)

    def finish(self) -> None:
        pass  # the AtomicFile owns the handle; nothing is buffered here


def unquoted(options: Mapping[str, Any]) -> bool:
    """Whether writer ``options`` ask for unquoted values (``quoting: none``)."""
    quoting = options.get("quoting", "minimal")
    if quoting not in ("minimal", "none"):
        raise TemplateError(f"quoting must be minimal or none, not {quoting!r}")
    return bool(quoting == "none")


def csv_writer(layout: Layout) -> DelimitedWriter:
    delimiter = layout.options.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        raise TemplateError(f"options.delimiter must be one character other than a quote "
                            f"or a line break, not {delimiter!r}")
    return DelimitedWriter(layout, delimiter)


def tsv_writer(layout: Layout) -> DelimitedWriter:
    return DelimitedWriter(layout, "\t")
