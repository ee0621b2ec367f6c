"""JSON Lines (one object per item) and a streamed JSON array.

Empty values are left out, as in the XML feeds, so consumers see only what is set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, BinaryIO

from feedsync.writers.base import Layout


class JsonLinesWriter:
    stateless = True
    concatenable = True

    def __init__(self, layout: Layout) -> None:
        self._names = [(c.name, c.header) for c in layout.columns]
        self._handle: BinaryIO | None = None

    def start(self, handle: BinaryIO) -> None:
        self._handle = handle

    def _encode(self, item: Mapping[str, Any]) -> bytes:
        record = {header: item[name] for name, header in self._names if item[name]}
        return json.dumps(record, ensure_ascii=False).encode("utf-8")

    def encode(self, item: Mapping[str, Any]) -> bytes:
        return self._encode(item) + b"\n"

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def write_encoded(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write(data)

    def finish(self) -> None:
        pass


class JsonArrayWriter(JsonLinesWriter):
    concatenable = False  # a comma goes between items

    def __init__(self, layout: Layout) -> None:
        super().__init__(layout)
        self._first = True

    def start(self, handle: BinaryIO) -> None:
        super().start(handle)
        self._first = True  # again for each part of a split output
        handle.write(b"[\n")

    def encode(self, item: Mapping[str, Any]) -> bytes:
        return self._encode(item)

    def write_encoded(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write((b"" if self._first else b",\n") + data)
        self._first = False

    def finish(self) -> None:
        assert self._handle is not None
        self._handle.write(b"\n]\n")
