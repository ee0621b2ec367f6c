"""The per-item sink of an API channel: the build's one pass writes what the API will get.

A channel pushed through an API needs one wire record per product (a Merchant API
``ProductInput``, an SP-API listings message, a Meta batch request's ``data``), not a feed
file. ``ApiSink`` is an ordinary writer (``start`` / ``write`` / ``finish``, plus
``encode`` / ``write_encoded`` so a parallel build runs it in its workers): ``push`` adds it
to the target's outputs, with the layout of the channel's own feed output, and it writes
one line per product into the staging folder::

    "SKU-1"<TAB>9f2c…(16-byte hash, hex)<TAB>{"offerId":"SKU-1",…}

The record is already in the API's wire shape, converted by the API module's function
(price micros, enum spellings…); a product that cannot be converted is rejected here, at
build time, like any other writer rejection (``ItemRejected``). The hash is over the
record's bytes, so "changed" means "the API would receive something else". The publisher
reads the file back a line at a time (feedsync/deltas.py): nothing is held in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from feedsync.deltas import sink_line
from feedsync.writers.base import Layout

# (mapped item with output column names, non-empty values only) -> (key, wire record)
Converter = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


def digest(record: bytes) -> bytes:
    return hashlib.blake2b(record, digest_size=16).digest()


# One encoder for every record: json.dumps with arguments builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(record: Mapping[str, Any]) -> bytes:
    return _ENCODE(record).encode("utf-8")


class ApiSink:
    """Writes one sink line per item; ``convert`` may raise ``ItemRejected``."""

    stateless = True      # each line depends on its item only
    concatenable = True   # lines can be joined and written in one call (parallel.py)

    def __init__(self, layout: Layout, convert: Converter, by_header: bool = True) -> None:
        # by_header: the converter sees output column names (feed attribute names), as a
        # feed file would; else the channel's field names (Amazon's writer reads those).
        self._names = [(c.name, c.header if by_header else c.name) for c in layout.columns]
        self._convert = convert
        self._handle: BinaryIO | None = None
        self.layout = layout

    def start(self, handle: BinaryIO) -> None:
        self._handle = handle

    def encode(self, item: Mapping[str, Any]) -> bytes:
        values = {header: value for name, header in self._names if (value := item.get(name))}
        key, record = self._convert(values)
        data = dumps(record)
        return sink_line(key, digest(data), data)

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def write_encoded(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write(data)

    def finish(self) -> None:
        pass


def is_sink(writer: object) -> bool:
    """True for the API sink output that push adds (it is never a feed file to deliver)."""
    return isinstance(writer, ApiSink)
