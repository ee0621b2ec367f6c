"""JSON catalogs: an array of product objects, streamed with ijson.

- The document is either an array of objects, or an object holding one under a key (e.g.
  ``{"products": [...]}``): the first key whose value is an array of objects is used (an
  empty array there means an empty catalog). Anything else raises ``CatalogError``.
- ``Record.line`` is the **1-based index of the item in the array**, not a line of the file
  (JSON exports are often a single line); ``Record.file`` is the path.
- Values become strings: numbers as written (``1.50`` stays ``"1.50"``: ``use_float=False``;
  an exponent is normalised by ``Decimal``, ``1e2`` gives ``"1E+2"``), ``true``/``false``
  as ``"true"``/``"false"``, ``null`` as ``""``. A nested object is
  flattened into dot keys (``{"shipping": {"country": "US"}}`` gives ``shipping.country``);
  an array of scalars is joined with ``,``; elements of an array that are objects or
  arrays are keyed by their index (``shipping.0.country``). Nesting deeper than 64 levels
  is refused.
- Row problems: ``row-not-object`` (an array item that is not an object).
- A truncated or malformed document raises ``CatalogError`` with the line and (byte)
  column where known. Items before the break have already been yielded: the pipeline
  treats the error as fatal and writes nothing.

ijson's C backend is used when available, through ``basic_parse`` (its ``items`` keeps a
prefix string per nesting level: quadratic memory on deep nesting). Each chunk is checked
before the parser sees it, because ijson 3.6's C backend kills the process on an integer of
more than 4300 digits and mangles lone surrogate escapes (``"\\ud800"`` becomes ``"?"``, a
lone low surrogate raises ``UnicodeDecodeError``). So a run of 4000 digits or more
(anywhere, even inside a string) raises ``CatalogError``, and a file with a lone surrogate
escape is re-read with the pure-Python backend (slower, exact), so such strings reach the
pipeline as they are, to be reported there.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources.base import FileSource, Item

MAX_DEPTH = 64
MAX_DIGITS = 4000  # below Python's 4300-digit int limit, which crashes ijson's C backend
CHUNK = 64 * 1024

_PYTHON_BACKEND: Any = ijson.get_backend("python")
try:
    _FAST_BACKEND: Any = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover -- wheels ship the C backend
    _FAST_BACKEND = _PYTHON_BACKEND

_SCALAR_EVENTS = frozenset(("string", "number", "boolean", "null"))
# Digits all become b"0", so a long run is a plain substring search (much faster than a
# regex with a repeat count).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else b for b in range(256))
_LONG_NUMBER = b"0" * MAX_DIGITS
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")
_LOW_PREFIX = re.compile(rb"(?:\\(?:u(?:[dD](?:[c-fC-F](?:[0-9a-fA-F][0-9a-fA-F]?)?)?)?)?)?")
_HIGH_THEN_LOW = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


class NestingTooDeep(Exception):
    """A value nested deeper than ``MAX_DEPTH`` levels (no real catalog does this)."""


class _NeedExactBackend(Exception):
    """A lone surrogate escape: the C backend would change the text."""


class _NumberTooLong(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class _Guard:
    """The file as ijson reads it: checks each chunk first and tracks lines for errors."""

    def __init__(self, raw: Any, check_surrogates: bool) -> None:
        self.raw = raw
        self.check_surrogates = check_surrogates
        self.offset = 0  # bytes handed to the parser so far
        self.lines_before = 0  # newlines before the current chunk
        self.line_start = 0  # offset just after the last newline before the current chunk
        self.chunk = b""
        self.chunk_start = 0
        self.eof = False
        self._digits = b""
        self._tail = b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the type of the stream with read(0)
            return b""
        chunk: bytes = self.raw.read(size)
        self._advance(chunk)
        if not chunk:
            self.eof = True
        self._check_digits(chunk)
        if self.check_surrogates:
            self._check_surrogates(chunk)
        return chunk

    def _advance(self, chunk: bytes) -> None:
        previous = self.chunk
        newlines = previous.count(b"\n")
        if newlines:
            self.lines_before += newlines
            self.line_start = self.chunk_start + previous.rindex(b"\n") + 1
        self.chunk_start = self.offset
        self.chunk = chunk
        self.offset += len(chunk)

    def _check_digits(self, chunk: bytes) -> None:
        buf = (self._digits + chunk).translate(_DIGITS_AS_ZERO)
        found = buf.find(_LONG_NUMBER)
        if found >= 0:
            raise _NumberTooLong(self.chunk_start - len(self._digits) + found)
        self._digits = buf[len(buf.rstrip(b"0")):]

    def _check_surrogates(self, chunk: bytes) -> None:
        buf = self._tail + chunk
        if _SURROGATE_ESCAPE.search(buf):
            for found in _SURROGATE_ESCAPE.finditer(buf):
                if _is_lone(buf, found.start(), found.group(1), final=not chunk):
                    raise _NeedExactBackend
        self._tail = buf[-12:]

    def position(self, offset_in_chunk: int | None) -> tuple[int, int] | None:
        """(line, byte column) of an offset in the current chunk, or of the end of input."""
        if offset_in_chunk is None:
            if not self.eof:
                return None
            self._advance(b"")
            return self.lines_before + 1, self.offset - self.line_start + 1
        before = self.chunk[:offset_in_chunk]
        newlines = before.count(b"\n")
        if newlines:
            return self.lines_before + newlines + 1, offset_in_chunk - before.rindex(b"\n")
        return self.lines_before + 1, self.chunk_start + offset_in_chunk - self.line_start + 1


def _is_lone(buf: bytes, start: int, kind: bytes, final: bool) -> bool:
    if kind in b"89abAB":  # high surrogate: must be followed by a low one
        rest = buf[start + 6:start + 12]
        if len(rest) < 6 and not final and _LOW_PREFIX.fullmatch(rest):
            # The string goes on into the next chunk, so the parser cannot finish it
            # before that chunk is checked (the tail carries this escape over).
            return False
        return _HIGH_THEN_LOW.match(buf, start) is None
    return start < 6 or _HIGH_THEN_LOW.match(buf, start - 6) is None


class _Recoder:
    """Re-encodes a legacy-encoded JSON file to UTF-8 for the parser."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        return self.decoder.decode(data, final=not data).encode("utf-8", "surrogatepass")


class JsonSource(FileSource):
    """A JSON array of product objects (or an object holding one)."""

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        done = 0
        try:
            for index, item in self._parse(fh, _FAST_BACKEND, exact=False):
                done = index
                yield item
        except _NeedExactBackend:
            for index, item in self._parse(fh, _PYTHON_BACKEND, exact=True):
                if index > done:
                    yield item

    def _parse(self, fh: BinaryIO, backend: Any, exact: bool) -> Iterator[tuple[int, Item]]:
        fh.seek(self.probe.bom)
        stream: Any = fh
        if self.probe.encoding != "utf-8":
            stream = _Recoder(fh, self.probe.encoding)
        guard = _Guard(stream, check_surrogates=not exact)
        events = backend.basic_parse(guard, use_float=False, buf_size=CHUNK)
        try:
            yield from self._document(events)
        except _NumberTooLong as exc:
            line, column = guard.position(max(0, exc.offset - guard.chunk_start)) or (0, 0)
            raise self.error(f"a number of more than {MAX_DIGITS} digits at line {line}, "
                             f"column {column}", line=line,
                             tip="no product value needs such a number; check the export"
                             ) from None
        except ArithmeticError:  # decimal.InvalidOperation: an exponent like 1e999999999999999999
            raise self.error("a number out of range (its exponent is too large)",
                             tip="no product value needs such a number; check the export"
                             ) from None
        except NestingTooDeep:
            raise self.error(f"JSON nested deeper than {MAX_DEPTH} levels",
                             tip="product data is never nested this deep; check the export"
                             ) from None
        except (ijson.JSONError, ValueError, UnicodeDecodeError) as exc:
            raise self._syntax_error(exc, guard) from None
        finally:
            if exact:
                _close_quietly(events)

    def _document(self, events: Iterator[tuple[str, Any]]) -> Iterator[tuple[int, Item]]:
        first = next(events, None)
        if first is None:
            return
        event, _ = first
        if event == "start_array":
            yield from self._array(events)
        elif event == "start_map":
            yield from self._keyed_array(events)
        else:
            raise self.error(f"the document is a single {event}, not a list of products",
                             tip="a JSON catalog is an array of objects: [{...}, {...}]")
        for _ in events:  # read to the end, so trailing garbage or truncation is found
            pass

    def _keyed_array(self, events: Iterator[tuple[str, Any]]) -> Iterator[tuple[int, Item]]:
        """``{"products": [...]}``: the first key holding an array of objects."""
        saw_empty = False
        for event, _key in events:
            if event == "end_map":
                break
            event, value = next(events)
            if event != "start_array":
                _skip(events, event)
                continue
            event, value = next(events)
            if event == "start_map":
                yield from self._array(events, first=_item(events))
                return
            if event == "end_array":
                saw_empty = True
                continue
            _skip(events, event)
            _skip(events, "start_array")
        if not saw_empty:
            raise self.error("no list of products found in the JSON object",
                             tip='expected an array of objects, e.g. {"products": [{...}]}')

    def _array(
        self, events: Iterator[tuple[str, Any]], first: dict[str, str] | None = None
    ) -> Iterator[tuple[int, Item]]:
        index = 0
        if first is not None:
            index = 1
            yield index, Record(self.file, index, first)
        for event, _ in events:
            if event == "end_array":
                return
            index += 1
            if event == "start_map":
                yield index, Record(self.file, index, _item(events))
                continue
            _skip(events, event)
            yield index, RowProblem(self.file, index, "row-not-object",
                                    f"item {index} is a JSON {_kind(event)}, not an object")

    def _syntax_error(self, exc: Exception, guard: _Guard) -> CatalogError:
        raw = exc.args[0] if exc.args else str(exc)
        text = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "replace")
        first = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        if isinstance(exc, UnicodeDecodeError):
            first = f"text that is not valid {self.probe.encoding} ({exc.reason})"
        truncated = b"premature EOF" in text or b"Incomplete JSON" in text
        if truncated:
            at = guard.position(None)
        else:
            offset = _yajl_offset(text, guard.chunk)
            at = guard.position(offset) if offset is not None else None
        where = f" at line {at[0]}, column {at[1]}" if at else ""
        cut = " (the file is cut short)" if truncated else ""
        return self.error(f"malformed JSON: {first}{cut}{where}",
                          line=at[0] if at else None,
                          tip="nothing was written; fix or re-export the catalog")


def flatten(obj: dict[str, Any], prefix: str = "", out: dict[str, str] | None = None,
            depth: int = 0) -> dict[str, str]:
    """Flatten one product object into string cells (see the module docstring).

    Raises ``NestingTooDeep`` past ``MAX_DEPTH`` levels.
    """
    if out is None:
        out = {}
    if depth > MAX_DEPTH:
        raise NestingTooDeep
    for key, value in obj.items():
        name = prefix + str(key)
        if type(value) is str:
            out[name] = value
        elif isinstance(value, dict):
            if value:
                flatten(value, name + ".", out, depth + 1)
            else:
                out[name] = ""
        elif isinstance(value, list):
            _flatten_list(value, name, out, depth + 1)
        else:
            out[name] = scalar_text(value)
    return out


def _flatten_list(values: list[Any], name: str, out: dict[str, str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise NestingTooDeep
    if all(not isinstance(v, dict | list) for v in values):
        out[name] = ",".join(scalar_text(v) for v in values)
        return
    for position, value in enumerate(values):
        key = f"{name}.{position}"
        if isinstance(value, dict):
            flatten(value, key + ".", out, depth + 1)
        elif isinstance(value, list):
            _flatten_list(value, key, out, depth + 1)
        else:
            out[key] = scalar_text(value)


def scalar_text(value: object) -> str:
    """A JSON scalar as text: numbers as written, true/false, null as ""."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)  # int, Decimal (ijson) or float (stdlib json)


def _item(events: Iterator[tuple[str, Any]]) -> dict[str, str]:
    """Build one product (its ``start_map`` was just read) straight into string cells.

    The hot loop of JSON reading: scalars are converted as they arrive, so a flat object
    needs no second pass; nested values are built, then flattened (see ``flatten``).
    """
    cells: dict[str, str] = {}
    key = ""
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "string":
            cells[key] = value
        elif event == "end_map":
            return cells
        elif event == "number":
            cells[key] = str(value)
        elif event == "boolean":
            cells[key] = "true" if value else "false"
        elif event == "null":
            cells[key] = ""
        elif event == "start_map":
            nested = _object(events, 3)
            if nested:
                flatten(nested, key + ".", cells, 1)
            else:
                cells[key] = ""
        else:
            _flatten_list(_list(events, 3), key, cells, 1)
    return cells


def _object(events: Iterator[tuple[str, Any]], depth: int) -> dict[str, Any]:
    """Build the object whose ``start_map`` was just read."""
    if depth > MAX_DEPTH:
        raise NestingTooDeep
    obj: dict[str, Any] = {}
    for event, key in events:
        if event == "end_map":
            return obj
        event, value = next(events)
        if event in _SCALAR_EVENTS:
            obj[key] = value
        elif event == "start_map":
            obj[key] = _object(events, depth + 1)
        else:
            obj[key] = _list(events, depth + 1)
    return obj


def _list(events: Iterator[tuple[str, Any]], depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise NestingTooDeep
    values: list[Any] = []
    for event, value in events:
        if event == "end_array":
            return values
        if event in _SCALAR_EVENTS:
            values.append(value)
        elif event == "start_map":
            values.append(_object(events, depth + 1))
        else:
            values.append(_list(events, depth + 1))
    return values


def _skip(events: Iterator[tuple[str, Any]], event: str) -> None:
    """Consume the rest of a value whose first event was ``event``."""
    if event not in ("start_map", "start_array"):
        return
    open_containers = 1
    for event, _ in events:
        if event in ("start_map", "start_array"):
            open_containers += 1
        elif event in ("end_map", "end_array"):
            open_containers -= 1
            if not open_containers:
                return


def _kind(event: str) -> str:
    return {"start_array": "array", "string": "string", "number": "number",
            "boolean": "boolean", "null": "null"}.get(event, event)


def _yajl_offset(message: bytes, chunk: bytes) -> int | None:
    """Where in ``chunk`` the C backend stopped, read back from its error message.

    yajl shows up to 30 bytes either side of the error on the second line of its message
    (line breaks shown as spaces), with the error under column 41 of the third line.
    """
    lines = message.split(b"\n")
    if len(lines) < 3 or b"(right here)" not in lines[2]:
        return None
    arrow = lines[2].index(b"^")
    shown = lines[1]
    flat = chunk.replace(b"\n", b" ").replace(b"\r", b" ")
    for offset in range(min(arrow - 10, len(flat) + 1)):  # near the start of the chunk
        if flat[: offset + 30] == shown[arrow - offset:]:
            return offset
    window = shown[arrow - 30:]
    found = flat.find(window) if window else -1
    return found + 30 if found >= 0 else None


def _close_quietly(events: Any) -> None:
    # The pure-Python backend raises from close() when abandoned mid-document; unclosed, it
    # would print "Exception ignored" noise on stderr when collected.
    try:
        events.close()
    except Exception:  # noqa: S110, BLE001 -- nothing useful to report on cleanup
        pass

