"""The writer seam: ``start(handle)``, ``encode(item)`` + ``write_encoded(data)``,
``finish()`` (Scrapy's exporters, with serialising split from writing).

Writers never open paths: they stream into the binary file they are handed, which is an
``AtomicFile`` owned by the pipeline. ``Layout`` tells a writer which fields to emit and
how (column names, repeated values, sub-elements).

Why ``encode`` is separate from writing: serialising is most of a writer's work, and a
parallel build does it in worker processes (``stateless`` writers only) while the parent
writes the bytes in catalog order; ``feedsync explain`` shows the very bytes a build
would write for one product without writing anything.
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
    """Raised by ``Writer.encode`` (and so ``write``) *before* anything is written, when
    the item cannot go into this format (e.g. an Amazon message that fails Amazon's JSON
    schema). The pipeline counts the product as rejected for the channel and logs
    ``code`` with ``field``.
    """

    def __init__(self, code: str, message: str, field: str | None = None,
                 source: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.source = source


class Writer(Protocol):
    """One output's serialiser. ``write(item)`` is ``write_encoded(encode(item))``.

    ``stateless``: ``encode`` depends on the item alone and changes nothing, so it may
    run in another process (a parallel build's worker). A writer that is not stateless
    must have each ``encode`` followed by its ``write_encoded`` in the process that
    writes, before the next ``encode``; runs that use one stay serial. (Amazon's listings
    feed is stateless: what depends on earlier messages, the message id and the SKU
    table, is done in ``write_encoded``.)

    ``concatenable``: the bytes of several ``encode`` calls may be joined and handed to
    one ``write_encoded`` call (true for line- and element-per-item formats).
    """

    stateless: bool
    concatenable: bool

    def start(self, handle: BinaryIO) -> None:
        """Write the document's head into ``handle`` (the writer keeps it until finish)."""
        ...

    def encode(self, item: Mapping[str, Any]) -> bytes:
        """The bytes ``write(item)`` would add now (b"" for none); raises ``ItemRejected``
        before anything is written when the item cannot go into this format."""
        ...

    def write_encoded(self, data: bytes) -> None:
        """Write the result of ``encode`` (or, if concatenable, several joined)."""
        ...

    def write(self, item: Mapping[str, Any]) -> None: ...

    def finish(self) -> None:
        """Write the document's tail. Raises a ``FeedsyncError`` when the document as a
        whole cannot be valid (e.g. an Amazon feed with no message)."""
        ...
