"""Duplicate product ids, remembered in a few bytes per product.

DESIGN.md allows a hash per product, never the product. Ids are kept as their 64-bit
string hash (stable within a run, which is all this needs) in an open-addressing table of
two flat arrays: 12 bytes a slot, no Python object per id. 1M ids take 24 MB at the
table's 50% load limit, against ~90 MB for a ``dict[str, int]``.
"""

from __future__ import annotations

from array import array

_EMPTY = 0


class SeenIds:
    def __init__(self, capacity: int = 1 << 16) -> None:
        size = 1
        while size < capacity * 2:
            size <<= 1
        self._alloc(size)
        self.count = 0

    def _alloc(self, size: int) -> None:
        self._mask = size - 1
        self._keys = array("q", bytes(8 * size))
        self._lines = array("I", bytes(4 * size))

    def add(self, product_id: str, line: int) -> int:
        """Remember ``product_id`` seen at ``line``; return the earlier line if seen before."""
        key = hash(product_id) or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == _EMPTY:
                break
            if found == key:
                return self._lines[slot] or 1
            slot = (slot + 1) & mask
        keys[slot] = key
        self._lines[slot] = min(line, 0xFFFFFFFF)
        self.count += 1
        if self.count * 2 > mask:
            self._grow()
        return 0

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        self._alloc((self._mask + 1) * 2)
        keys, lines, mask = self._keys, self._lines, self._mask
        for key, line in zip(old_keys, old_lines, strict=True):
            if key != _EMPTY:
                slot = key & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = key
                lines[slot] = line
