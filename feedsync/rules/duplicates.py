"""Duplicate product ids, remembered in a few bytes per product.

DESIGN.md allows a hash per product, never the product. Ids are kept as their 64-bit
string hash (stable within a run, which is all this needs) in an open-addressing table of
two flat arrays: 12 bytes a slot, no Python object per id, at most 70% full. 1M ids take
about 17 MB, against ~90 MB for a ``dict[str, int]``.

The pipeline calls ``reserve`` with an estimate of the catalog's size once it has read a
little of it, so a large catalog sizes the table once instead of doubling it (a doubling
briefly holds the old and the new table: 1.5 times the memory).
"""

from __future__ import annotations

from array import array

_EMPTY = 0
_MAX_LOAD = 0.7
RESERVE_AFTER = 20000  # products read before the table is sized for the whole catalog


class SeenIds:
    def __init__(self, capacity: int = 1 << 16) -> None:
        self._alloc(_size_for(capacity))
        self.count = 0

    def _alloc(self, size: int) -> None:
        self._size = size
        self._limit = int(size * _MAX_LOAD)
        self._keys = array("q", bytes(8 * size))
        self._lines = array("I", bytes(4 * size))

    def add(self, product_id: str, line: int) -> int:
        """Remember ``product_id`` seen at ``line``; return the earlier line if seen before."""
        key = hash(product_id) or 1
        keys, size = self._keys, self._size
        slot = key % size
        while True:
            found = keys[slot]
            if found == _EMPTY:
                break
            if found == key:
                return self._lines[slot] or 1
            slot += 1
            if slot == size:
                slot = 0
        keys[slot] = key
        self._lines[slot] = min(line, 0xFFFFFFFF)
        self.count += 1
        if self.count > self._limit:
            self._rebuild(self._size * 2)
        return 0

    def line_of(self, product_id: str) -> int:
        """The line ``product_id`` was seen at (1 if unknown), or 0 if never seen."""
        key = hash(product_id) or 1
        keys, size = self._keys, self._size
        slot = key % size
        while True:
            found = keys[slot]
            if found == _EMPTY:
                return 0
            if found == key:
                return self._lines[slot] or 1
            slot += 1
            if slot == size:
                slot = 0

    def reserve(self, expected: int) -> None:
        """Make room for ``expected`` ids at once (an estimate; more still fit)."""
        size = _size_for(expected)
        if size > self._size:
            self._rebuild(size)

    @property
    def nbytes(self) -> int:
        return self._keys.itemsize * len(self._keys) + self._lines.itemsize * len(self._lines)

    def _rebuild(self, size: int) -> None:
        old_keys, old_lines = self._keys, self._lines
        self._alloc(size)
        keys, lines = self._keys, self._lines
        for key, line in zip(old_keys, old_lines, strict=True):
            if key != _EMPTY:
                slot = key % size
                while keys[slot] != _EMPTY:
                    slot = slot + 1 if slot + 1 < size else 0
                keys[slot] = key
                lines[slot] = line


def _size_for(count: int) -> int:
    return max(1024, int(count / _MAX_LOAD) + 1)
