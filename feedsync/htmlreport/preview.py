"""The first items of a written feed file, read back exactly as the channel will read them.

Each format is read with a streaming parser that stops after ``limit`` items, so the
preview of a multi-gigabyte feed costs no more than that of a small one: RSS/XML with
lxml ``iterparse`` (no entities, no DTD, no network), CSV/TSV with the ``csv`` module,
JSON Lines line by line, a JSON array and Amazon's listings feed (``messages``) with
ijson. Every value is cut to the page's bound here; nothing is escaped here (the page
does that, in one place).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import ijson
from lxml import etree

from feedsync.htmlreport.scan import cut

Format = Literal["rss", "csv", "tsv", "jsonl", "json", "amazon_listings"]
FORMATS: tuple[Format, ...] = ("rss", "csv", "tsv", "jsonl", "json", "amazon_listings")
_BY_SUFFIX: dict[str, Format] = {".xml": "rss", ".rss": "rss", ".csv": "csv", ".tsv": "tsv",
                                 ".txt": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RAW_LIMIT = 4000


@dataclass(frozen=True)
class PreviewItem:
    """One feed item: its values in file order (name, text) and, for XML/JSON, its source."""

    pairs: tuple[tuple[str, str], ...]
    raw: str = ""


@dataclass
class Preview:
    output: str
    path: str
    format: str
    items: list[PreviewItem] = field(default_factory=list)
    error: str = ""   # why the file could not be read (the page says so instead)


def guess_format(path: Path) -> Format | None:
    """The writer format of ``path`` from its name, and for ``.json`` its first byte."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix == ".json":
        with _open(path) as handle:
            head = handle.read(64).lstrip()
        return "amazon_listings" if head.startswith(b"{") else "json"
    return None


def read_preview(output: str, path: Path, fmt: str | None, limit: int,
                 text_limit: int = 200, columns: int = 60, delimiter: str = ",") -> Preview:
    """Up to ``limit`` items of ``path``; a file that cannot be read gives ``error``.

    ``fmt`` is the output's writer (from the channel file); None guesses from the name.
    ``delimiter`` is a CSV output's own (writer option ``delimiter``).
    """
    preview = Preview(output=output, path=str(path), format=fmt or "")
    if limit <= 0:
        return preview
    try:
        chosen = fmt if fmt in FORMATS else guess_format(path)
        if chosen is None:
            preview.error = "feedsync cannot preview this file format"
            return preview
        preview.format = chosen
        reader = _delimited(delimiter) if chosen == "csv" else _READERS[chosen]
        for item in reader(path, limit):
            pairs = tuple((cut(name, 80), cut(value, text_limit))
                          for name, value in item.pairs[:columns])
            preview.items.append(PreviewItem(pairs, cut(item.raw, RAW_LIMIT)))
            if len(preview.items) >= limit:
                break
    except FileNotFoundError:
        preview.error = "the file is no longer there"
    except (OSError, ValueError, etree.LxmlError, ijson.JSONError, csv.Error) as exc:
        preview.error = f"the file could not be read: {type(exc).__name__}"
    return preview


def _open(path: Path) -> IO[bytes]:
    handle = path.open("rb")
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb"))
    handle.seek(0)
    return handle


def _rss(path: Path, limit: int) -> Iterator[PreviewItem]:
    with _open(path) as handle:
        events = etree.iterparse(handle, events=("end",), tag="item", resolve_entities=False,
                                 load_dtd=False, no_network=True, huge_tree=False)
        for _, element in events:
            pairs = tuple((_name(child), _text(child)) for child in element
                          if isinstance(child.tag, str))
            raw = etree.tostring(element, encoding="unicode")
            element.clear()
            yield PreviewItem(pairs, raw)


def _name(element: Any) -> str:
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local


def _text(element: Any) -> str:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return element.text or ""
    return " · ".join(f"{etree.QName(c).localname}: {c.text or ''}" for c in children)


def _delimited(delimiter: str) -> Any:
    def read(path: Path, limit: int) -> Iterator[PreviewItem]:
        with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig",
                                                  errors="replace", newline="") as text:
            reader = csv.reader(text, delimiter=delimiter)
            header = next(reader, [])
            for row in reader:
                yield PreviewItem(tuple(zip(header, row, strict=False)))
    return read


def _jsonl(path: Path, limit: int) -> Iterator[PreviewItem]:
    with _open(path) as handle:
        for line in handle:
            if line.strip():
                yield _json_item(json.loads(line))


def _json_array(path: Path, limit: int) -> Iterator[PreviewItem]:
    with _open(path) as handle:
        for value in ijson.items(handle, "item", use_float=True):
            yield _json_item(value)


def _amazon(path: Path, limit: int) -> Iterator[PreviewItem]:
    with _open(path) as handle:
        for message in ijson.items(handle, "messages.item", use_float=True):
            if isinstance(message, dict) and isinstance(message.get("attributes"), dict):
                # The attributes are what a merchandiser reads: one line each.
                flat = {k: v for k, v in message.items() if k != "attributes"}
                flat.update(message["attributes"])
                yield PreviewItem(_pairs(flat), _dump(message))
            else:
                yield _json_item(message)


def _json_item(value: Any) -> PreviewItem:
    if isinstance(value, dict):
        return PreviewItem(_pairs(value), _dump(value))
    return PreviewItem((("value", _compact(value)),), _dump(value))


def _pairs(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), v if isinstance(v, str) else _compact(v)) for k, v in mapping.items())


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


_READERS: dict[str, Any] = {
    "rss": _rss, "csv": _delimited(","), "tsv": _delimited("\t"), "jsonl": _jsonl,
    "json": _json_array, "amazon_listings": _amazon,
}
