"""Sources: stream catalog files as ``Record`` values (file, line, dict of str).

Contract (every reader follows it):
- ``open_catalog(path, options) -> Source``; ``Source.records()`` yields ``Record`` or,
  for a row that cannot be read (ragged, undecodable, broken JSON line), a ``RowProblem``
  in its place. A row problem never stops the run and is never dropped silently.
- A catalog that cannot be read at all (missing, a directory, binary, truncated JSON,
  malformed XML) raises ``CatalogError`` naming file and, where known, line. Bad options
  raise ``ConfigError``. Nothing else escapes a reader.
- An empty file, or a CSV with only a header, yields nothing: the pipeline decides what an
  empty catalog means.
- Readers stream: memory does not grow with the catalog.
- ``Source.bytes_total`` and ``Source.bytes_read()`` feed a progress bar.

Example::

    source = open_catalog("products.csv")
    for item in source.records():
        if isinstance(item, RowProblem):
            print(f"{item.file}:{item.line}: {item.code}")

Row problem codes: ``row-ragged``, ``row-undecodable``, ``row-unterminated-quote``,
``row-field-too-large``, ``row-malformed`` (CSV/TSV); ``row-not-object`` (JSON, JSONL);
``row-bad-json`` (JSONL). Each reader's module docstring says when it emits them.

Two XML readers map a shop's own export onto canonical attributes themselves (so no
profile applies): ``wxr`` (WooCommerce's WordPress export) and ``prestashop-xml``
(PrestaShop's installer fixtures). They may report ``profile-not-a-product``.
"""

from __future__ import annotations

from pathlib import Path

from feedsync.sources.base import (
    FileSource,
    FormatName,
    FormatOption,
    Probe,
    Source,
    SourceOptions,
)
from feedsync.sources.csv_source import CsvSource
from feedsync.sources.google_xml_source import GoogleXmlSource
from feedsync.sources.json_source import JsonSource
from feedsync.sources.jsonl_source import JsonlSource
from feedsync.sources.sniff import probe

__all__ = [
    "FORMATS",
    "ROW_PROBLEM_CODES",
    "FormatName",
    "FormatOption",
    "Probe",
    "Source",
    "SourceOptions",
    "open_catalog",
]

FORMATS: dict[FormatName, type[FileSource]] = {
    "csv": CsvSource,
    "tsv": CsvSource,
    "json": JsonSource,
    "jsonl": JsonlSource,
    "google-xml": GoogleXmlSource,
}

ROW_PROBLEM_CODES: tuple[str, ...] = (
    "row-ragged",
    "row-undecodable",
    "row-unterminated-quote",
    "row-field-too-large",
    "row-malformed",
    "row-not-object",
    "row-bad-json",
)


def open_catalog(path: Path | str, options: SourceOptions = SourceOptions()) -> Source:  # noqa: B008 -- frozen
    """Check and sniff a catalog file, and return the reader for its format.

    Raises ``CatalogError`` (missing, a directory, binary) or ``ConfigError`` (bad
    options) before any record is read.
    """
    found = probe(Path(path), options)
    source = FORMATS[found.format](found)
    source.trim = options.trim
    source.pad_short_rows = options.short_rows == "pad"
    return source


# The shop-XML readers use the profiles' mapping helpers, and feedsync.profiles imports
# this package (open_catalog): so they are imported once open_catalog exists.
from feedsync.sources.prestashop_xml_source import PrestashopXmlSource  # noqa: E402
from feedsync.sources.wxr_source import WxrSource  # noqa: E402

FORMATS["wxr"] = WxrSource
FORMATS["prestashop-xml"] = PrestashopXmlSource
