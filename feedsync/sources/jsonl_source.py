"""JSON Lines / NDJSON catalogs: one product object per line.

- ``Record.line`` is the physical line number. Blank lines are skipped.
- Values become strings exactly as for JSON arrays (see ``json_source``): numbers as
  written, ``true``/``false``, ``null`` as ``""``, nested objects flattened to dot keys.
- Escaped lone surrogates (``"\\ud800"``) load as they are; the pipeline reports them.
- Row problems (the other lines still load): ``row-bad-json`` (the line is not JSON, holds
  ``NaN``/``Infinity``, a number of more than 4300 digits, or nests deeper than 64
  levels), ``row-not-object`` (valid JSON but not an object), ``row-undecodable`` (bytes
  not valid in the encoding; the message gives the byte offset).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, BinaryIO

from feedsync.model import Record, RowProblem
from feedsync.sources.base import FileSource, Item, printable_id
from feedsync.sources.json_source import NestingTooDeep, flatten


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


class JsonlSource(FileSource):
    """One JSON object per line."""

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        fh.seek(self.probe.bom)
        if self.probe.ascii_compatible:
            yield from self._byte_lines(fh)
        else:
            yield from self._text_lines(fh)

    def _byte_lines(self, fh: BinaryIO) -> Iterator[Item]:
        encoding = self.probe.encoding
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                offset = fh.tell() - len(raw) + exc.start
                yield RowProblem(
                    self.file, number, "row-undecodable",
                    f"bytes {raw[exc.start:exc.end].hex(' ')} at byte offset {offset} are not "
                    f"valid {encoding}; if the file was saved in another encoding, set the "
                    "catalog's encoding option")
                continue
            item = self._line(text, number)
            if item is not None:
                yield item

    def _text_lines(self, fh: BinaryIO) -> Iterator[Item]:
        text = io.TextIOWrapper(fh, self.probe.encoding, newline="")
        try:
            for number, line in enumerate(text, start=1):
                item = self._line(line, number)
                if item is not None:
                    yield item
        except UnicodeDecodeError as exc:
            raise self.error(f"the file is not valid {self.probe.encoding} ({exc.reason})",
                             tip="set the catalog's encoding option") from exc
        finally:
            text.detach()  # the caller closes the binary file

    def _line(self, text: str, number: int) -> Item | None:
        if not text.strip():
            return None
        try:
            value = _DECODER.decode(text)
        except (ValueError, ArithmeticError, RecursionError) as exc:
            # ArithmeticError: decimal.InvalidOperation on an exponent like 1e999999999999999999
            return RowProblem(self.file, number, "row-bad-json", f"not valid JSON: {_reason(exc)}")
        if not isinstance(value, dict):
            return RowProblem(self.file, number, "row-not-object",
                              f"line {number} holds a JSON {_kind(value)}, not an object")
        try:
            return Record(self.file, number, flatten(value))
        except NestingTooDeep:
            return RowProblem(self.file, number, "row-bad-json",
                              "nested too deeply to be a product", printable_id(value.get("id")))


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, ArithmeticError):
        return "a number out of range"
    return str(exc)
