"""Look at a catalog file before reading it: is it there, is it text, which format.

The format comes from the extension (``.csv .tsv .tab .txt .json .jsonl .ndjson .xml .rss
.atom``) and is confirmed by the first bytes of content:

- a ``.csv``/``.tsv``/``.txt`` or unknown file that plainly holds XML (``<``) or JSON
  (``[{``, ``{"``) is read as such: shop exports are often misnamed;
- a ``.json`` file whose first line is a whole object followed by another object line is
  JSON Lines (BigQuery and many APIs export NDJSON as ``.json``);
- a ``.jsonl`` file that starts with ``[`` is a JSON array;
- XML is told apart by its root element: ``<entity_product>`` or
  ``<entity_product_attribute>`` is a PrestaShop installer fixture (``prestashop-xml``), an
  ``<rss>`` declaring ``http://wordpress.org/export/<version>/`` a WordPress export
  (``wxr``), anything else a Google feed (``google-xml``);
- anything else unknown is delimited text: tab-separated if the header line has more tabs
  than ``,`` ``;`` or ``|``, otherwise CSV.

An explicit ``format`` option skips the content check. Binary files (mostly
control bytes, or a known archive/office/PDF signature) are refused with a tip; a few NUL
bytes are not binary, the reader reports each as its product's issue.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import stat
from pathlib import Path

from feedsync.errors import CatalogError, ConfigError
from feedsync.sources.base import FormatName, Probe, SourceOptions

HEAD_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_ROWS = 50
FORMAT_NAMES: tuple[FormatName, ...] = ("csv", "tsv", "json", "jsonl", "google-xml", "wxr",
                                       "prestashop-xml")

EXTENSIONS: dict[str, FormatName | None] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": None,  # Google's "text feed" is TSV, but shops write CSV into .txt as well
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "google-xml",
    ".rss": "google-xml",
    ".atom": "google-xml",
}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .ods workbook?): export the sheet as CSV (UTF-8)"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel .xls workbook: export the sheet as CSV (UTF-8)"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip)"),
    (b"BZh", "bzip2-compressed: decompress it first"),
    (b"\xfd7zXZ", "xz-compressed: decompress it first"),
    (b"%PDF", "a PDF document, not a catalog export"),
    (b"SQLite format 3\x00", "an SQLite database: export the products table as CSV"),
)

# Bytes that do not occur in text: C0 controls other than \t \n \v \f \r and ESC, and DEL.
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])
_KEEP_TEXT = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_JSON_ARRAY_START = re.compile(r"\[\s*(?:[\[{\]\"]|$)")
_JSON_OBJECT_START = re.compile(r"\{\s*(?:[\"}]|$)")
_XML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_XML_ROOT = re.compile(r"<(?![?!])([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)")
_WP_EXPORT_NS = re.compile(
    r"""xmlns(?::[\w.\-]+)?\s*=\s*["']https?://wordpress\.org/export/\d+\.\d+/["']""")


def check_options(options: SourceOptions) -> None:
    """Refuse bad options before anything is read (raises ``ConfigError``)."""
    if options.format != "auto" and options.format not in FORMAT_NAMES:
        raise ConfigError(
            f"unknown catalog format {options.format!r}",
            key="format",
            tip="use one of: auto, " + ", ".join(FORMAT_NAMES),
        )
    if options.encoding is not None:
        try:
            codecs.lookup(options.encoding)
        except LookupError:
            raise ConfigError(
                f"unknown encoding {options.encoding!r}",
                key="encoding",
                tip="use a Python codec name such as utf-8, cp1252 or latin-1",
            ) from None
    delimiter = options.delimiter
    if delimiter is not None and (len(delimiter) != 1 or delimiter in "\"\r\n"):
        raise ConfigError(
            f"the delimiter must be one character other than a quote or newline, "
            f"not {delimiter!r}",
            key="delimiter",
        )


def probe(path: Path, options: SourceOptions) -> Probe:
    """Check that ``path`` is a readable text file and work out how to read it."""
    check_options(options)
    size = _check_file(path)
    head = _read_head(path)
    encoding, bom = _encoding(head, options.encoding)
    ascii_compatible = is_ascii_compatible(encoding)
    _refuse_binary(path, head, encoding, ascii_compatible)
    text = head[bom:].decode(encoding, "replace") if head else ""
    empty = size == len(head) and not text.strip(" \t\r\n\f\v\x1a\ufeff")
    fmt = resolve_format(path, text, options.format)
    delimiter = ""
    if fmt in ("csv", "tsv"):
        delimiter = options.delimiter or (
            "\t" if fmt == "tsv" else sniff_delimiter(text, complete=size <= len(head)))
        fmt = "tsv" if delimiter == "\t" else "csv"
    return Probe(
        path=path,
        size=size,
        format=fmt,
        encoding=encoding,
        encoding_option=options.encoding,
        bom=bom,
        delimiter=delimiter,
        cr_only=b"\r" in head and b"\n" not in head and ascii_compatible,
        empty=empty,
        ascii_compatible=ascii_compatible,
    )


def is_ascii_compatible(encoding: str) -> bool:
    """True if every line break is the byte ``\\n``, so lines can be split before decoding."""
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32", "utf-7")):
        return False
    try:
        return "\n\r,;\t|\"'{}[]<>".encode(name) == b"\n\r,;\t|\"'{}[]<>"
    except UnicodeError:
        return False


def sniff_delimiter(text: str, complete: bool = True) -> str:
    """The delimiter that splits the sample into rows as wide as the header.

    Counting delimiters in the header alone is not enough: PrestaShop's ``;`` exports
    have commas in their header names (``Categories (x,y,z...)``). So each candidate
    parses the sample, and the one whose data rows match the header's width most often
    wins; then the wider header; then the order ``, ; <tab> |``. ``complete`` is False
    when ``text`` stops mid-file (its last row may be cut).
    """
    best, best_score = ",", (-1.0, 0)
    for candidate in DELIMITERS:
        score = _delimiter_score(text, candidate, complete)
        if score[1] > 1 and score > best_score:
            best, best_score = candidate, score
    return best


def _delimiter_score(text: str, delimiter: str, complete: bool) -> tuple[float, int]:
    """(share of data rows as wide as the header, header width) for one candidate."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > _SAMPLE_ROWS:
                complete = True  # the rows kept are all whole
                break
    except csv.Error:
        return (0.0, 0)
    if not complete:
        rows = rows[:-1]
    if not rows:
        return (0.0, 0)
    width = len(rows[0])
    data = rows[1:_SAMPLE_ROWS + 1]
    matching = sum(len(row) == width for row in data)
    return (matching / len(data) if data else 0.0, width)


def resolve_format(path: Path, text: str, requested: str) -> FormatName:
    """Decide the format from the option, the extension and the first bytes of content."""
    if requested != "auto":
        return requested  # type: ignore[return-value]  # checked by check_options
    by_ext = EXTENSIONS.get(path.suffix.lower())
    content = _content_kind(text)
    if by_ext == "jsonl":
        return "json" if content == "json" else "jsonl"
    if by_ext == "json":
        return "jsonl" if content == "jsonl" else "json"
    if by_ext == "google-xml" or content == "xml":
        return xml_format(text)
    if content in ("json", "jsonl"):
        return content  # type: ignore[return-value]  # the two literals
    if content == "one-object-line":
        return "jsonl"
    if content == "object":
        return "json"
    return by_ext or "csv"


def xml_format(text: str) -> FormatName:
    """The XML reader for a document, from its root element: ``prestashop-xml`` for
    PrestaShop's installer fixtures (``<entity_product>``, ``<entity_product_attribute>``),
    ``wxr`` for an ``<rss>`` root declaring the WordPress export namespace
    (``http://wordpress.org/export/1.2/``), else ``google-xml``."""
    body = _XML_COMMENT.sub("", text)
    root = _XML_ROOT.search(body)
    if root is None:
        return "google-xml"
    name = root.group(1)
    if name in ("entity_product", "entity_product_attribute"):
        return "prestashop-xml"
    start_tag = body[root.start(): body.find(">", root.end()) + 1 or len(body)]
    if name == "rss" and _WP_EXPORT_NS.search(start_tag):
        return "wxr"
    return "google-xml"


def _content_kind(text: str) -> str | None:
    """A strong hint from the content alone, or None when it could be any delimited text."""
    body = text.lstrip(" \t\r\n\ufeff")
    if body.startswith("<"):
        return "xml"
    if _JSON_ARRAY_START.match(body):
        return "json"
    if not body.startswith("{"):
        return None
    line, newline, rest = body.partition("\n")
    if not newline:
        # The first line runs past the head (a long HTML description in JSON Lines) or is
        # the whole file: it cannot be parsed whole here, so the extension decides.
        return "object"
    try:
        whole_line = isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        whole_line = False
    if whole_line:
        return "jsonl" if rest.lstrip(" \t\r\n").startswith("{") else "one-object-line"
    return "json" if _JSON_OBJECT_START.match(body) else None


def _check_file(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CatalogError(
            "catalog file not found",
            file=str(path),
            tip="check the path (relative paths are resolved from the current directory)",
        ) from None
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog: {exc.strerror}", file=str(path)) from exc
    if stat.S_ISDIR(info.st_mode):
        raise CatalogError(
            "the catalog path is a directory, not a file",
            file=str(path),
            tip="name the catalog file itself, e.g. exports/products.csv",
        )
    if not stat.S_ISREG(info.st_mode):
        raise CatalogError(
            "the catalog is not a regular file (a pipe or device cannot be sniffed)",
            file=str(path),
            tip="write the export to a file first",
        )
    return info.st_size


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise CatalogError(
            f"cannot read the catalog: {exc.strerror}",
            file=str(path),
            tip="check the file's permissions" if isinstance(exc, PermissionError) else None,
        ) from exc


def _encoding(head: bytes, requested: str | None) -> tuple[str, int]:
    """(codec name, bytes of BOM to skip).

    Without an ``encoding`` option a BOM decides (UTF-8, UTF-16 or UTF-32, endianness from
    the BOM), else UTF-8. With one, the option decides, but a UTF-8 BOM is still skipped so
    the first header reads ``id``, not ``\\ufeffid``.
    """
    found = next(((bom, name) for bom, name in _BOMS if head.startswith(bom)), None)
    if requested is None:
        return (found[1], len(found[0])) if found else ("utf-8", 0)
    name = codecs.lookup(requested).name
    name = "utf-8" if name == "utf-8-sig" else name
    return name, len(codecs.BOM_UTF8) if found and found[1] == "utf-8" else 0


def _refuse_binary(path: Path, head: bytes, encoding: str, ascii_compatible: bool) -> None:
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise CatalogError(f"the catalog is {what.split(':')[0]}, not text", file=str(path),
                               tip=what)
    if ascii_compatible:
        controls = len(head.translate(None, _KEEP_TEXT))
        # A few NUL bytes are one product's problem (reported with its line by the
        # reader), not a binary file: only a share of control bytes refuses the catalog,
        # so a byte's fate does not depend on whether it falls in the first 64 KiB.
        # (a tiny file that is a quarter control bytes is binary too)
        binary = controls > max(8, len(head) // 10) or controls * 4 > len(head)
    else:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        try:
            decoded = decoder.decode(head, final=False)
            binary = decoded.count("\x00") > max(8, len(decoded) // 10)
        except UnicodeDecodeError:
            binary = True
    if binary:
        raise CatalogError(
            "the catalog is not a text file (binary bytes in its first kilobytes)",
            file=str(path),
            tip="export the catalog as CSV, TSV, JSON, JSON Lines or a Google XML feed",
        )
