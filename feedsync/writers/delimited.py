"""CSV and TSV feeds with the stdlib ``csv`` writer.

Values are quoted only where needed (``QUOTE_MINIMAL``), so a tab, newline or delimiter
inside a value round-trips through any RFC 4180 reader. Multi-valued fields are joined
with the field's separator (Google: ``,`` for ``additional_image_link``). Values are
written byte for byte: spreadsheet formulas are reported by the validator, not mangled
here, because channels read these files as data (reliability.md E4).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any, BinaryIO

from feedsync.writers.base import Layout


class DelimitedWriter:
    def __init__(self, layout: Layout, delimiter: str) -> None:
        self.layout = layout
        self.delimiter = delimiter
        self._columns = [(c.name, c.multi, c.separator) for c in layout.columns]
        self._text: io.TextIOWrapper | None = None
        self._writer: Any = None

    def start(self, handle: BinaryIO) -> None:
        bom = bool(self.layout.options.get("bom", False))
        self._text = io.TextIOWrapper(handle, encoding="utf-8-sig" if bom else "utf-8",
                                      newline="", write_through=False)
        self._writer = csv.writer(self._text, delimiter=self.delimiter, lineterminator="\n",
                                  quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow([c.header for c in self.layout.columns])

    def write(self, item: Mapping[str, Any]) -> None:
        self._writer.writerow([
            sep.join(item[name]) if multi else item[name]
            for name, multi, sep in self._columns
        ])

    def finish(self) -> None:
        assert self._text is not None
        self._text.flush()
        self._text.detach()  # the AtomicFile owns the binary handle


def csv_writer(layout: Layout) -> DelimitedWriter:
    return DelimitedWriter(layout, str(layout.options.get("delimiter", ",")))


def tsv_writer(layout: Layout) -> DelimitedWriter:
    return DelimitedWriter(layout, "\t")
