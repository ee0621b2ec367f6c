"""Attribute fill counts per channel target: how many mapped items carry each field.

The HTML report's fill-rate bars and quality score read these (docs/report.md). A mapped
item's fill is a ``bytes`` key with one 0/1 byte per channel field, made in C by
``bytes(map(bool, ...))`` in the per-product path (also in parallel workers, which send
the key back with the outcome). The parent counts keys, not fields: nearly every product
of a catalog shares one of a few fill patterns, so counting is one dict update per item.
The distinct keys held are capped, then folded into the per-field totals, so memory
stays flat however varied the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_PATTERNS = 4096


def fill_key(item: Mapping[str, Any], names: Sequence[str]) -> bytes:
    """One byte per field of ``names``: 1 where the mapped item has a non-empty value."""
    return bytes(map(bool, map(item.get, names)))


class FillCounter:
    """Counts mapped items and, per field, those with a non-empty value."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._evaluated = 0
        self._totals = [0] * len(self.names)
        self._patterns: dict[bytes, int] = {}

    def add(self, key: bytes) -> None:
        patterns = self._patterns
        patterns[key] = patterns.get(key, 0) + 1
        if len(patterns) > MAX_PATTERNS:
            self._fold()

    def _fold(self) -> None:
        totals = self._totals
        for key, count in self._patterns.items():
            self._evaluated += count
            for index, filled in enumerate(key):
                if filled:
                    totals[index] += count
        self._patterns.clear()

    @property
    def evaluated(self) -> int:
        """Items mapped (written or rejected after mapping)."""
        self._fold()
        return self._evaluated

    def counts(self) -> dict[str, int]:
        """Every field with its count of filled items (zeros included), in field order."""
        self._fold()
        return dict(zip(self.names, self._totals, strict=True))
