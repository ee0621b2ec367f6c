"""The writer seam: ``start(handle)``, ``write(item)``, ``finish()`` (Scrapy's exporters).

Writers never open paths: they stream into the binary file they are handed, which is an
``AtomicFile`` owned by the pipeline. ``Layout`` tells a writer which fields to emit and
how (column names, repeated values, sub-elements).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol


@dataclass(frozen=True)
class Column:
    name: str                       # the field name in the mapped item
    header: str                     # column header / element local name
    multi: bool = False
    separator: str = ","
    children: tuple[str, ...] = ()  # sub-element names (XML), e.g. shipping parts
    child_separator: str = ":"


@dataclass(frozen=True)
class Layout:
    columns: tuple[Column, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


class ItemRejected(Exception):
    """Raised by ``Writer.write`` *before* writing anything, when the item cannot go into
    this format (e.g. an Amazon message that fails Amazon's JSON schema). The pipeline
    counts the product as rejected for the channel and logs ``code`` with ``field``.
    """

    def __init__(self, code: str, message: str, field: str | None = None,
                 source: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.source = source


class Writer(Protocol):
    def start(self, handle: BinaryIO) -> None: ...

    def write(self, item: Mapping[str, Any]) -> None: ...

    def finish(self) -> None: ...
