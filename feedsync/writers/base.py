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


class Writer(Protocol):
    def start(self, handle: BinaryIO) -> None: ...

    def write(self, item: Mapping[str, Any]) -> None: ...

    def finish(self) -> None: ...
