"""Source profiles: map shop-software exports onto feedsync's canonical product.

``apply(records, name)`` wraps a source's record stream. ``name`` is a key of
``PROFILES``, ``"auto"`` (detect from the first record's columns) or ``"none"``.
Profiles stream: they hold at most one product group (a Shopify handle, a Magento
configurable) in memory, never the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from feedsync.errors import ConfigError
from feedsync.model import Record, RowProblem

Stream = Iterator[Record | RowProblem]
Profile = Callable[[Stream], Stream]
Detector = Callable[[Iterable[str]], bool]

# name -> (detector over the header's column names, transform)
PROFILES: dict[str, tuple[Detector, Profile]] = {}


def detect(columns: Iterable[str]) -> str | None:
    names = list(columns)
    for name, (detector, _) in PROFILES.items():
        if detector(names):
            return name
    return None


def apply(records: Iterable[Record | RowProblem], name: str = "auto") -> Stream:
    """The record stream seen through profile ``name`` (or the detected one)."""
    stream = iter(records)
    if name == "none":
        return stream
    if name != "auto":
        if name not in PROFILES:
            raise ConfigError(f"unknown profile {name!r}", key="catalog.profile",
                              tip="profiles: auto, none, " + ", ".join(sorted(PROFILES)))
        return PROFILES[name][1](stream)
    head: list[Record | RowProblem] = []
    for item in stream:
        head.append(item)
        if isinstance(item, Record):
            found = detect(item.data.keys())
            chained = _chain(head, stream)
            return PROFILES[found][1](chained) if found else chained
    return iter(head)


def _chain(head: list[Record | RowProblem], rest: Iterator[Record | RowProblem]) -> Stream:
    yield from head
    yield from rest
