"""Duplicate product ids, remembered in a few bytes per product.

DESIGN.md allows a hash per product, never the product. Ids are kept as their 64-bit
string hash (stable within a run, which is all this needs) in an open-addressing table of
two flat arrays: 12 bytes a slot, no Python object per id. The table is sized to be 85%
full and grows only past 92%: double hashing over a prime number of slots keeps a
look-up to ~7 probes even then (linear probing needs ~22 at 85%), and 1M ids take about
14 MB, against ~90 MB for a ``dict[str, int]``.

The pipeline calls ``reserve`` with an estimate of the catalog's size once it has read a
little of it, so a large catalog sizes the table once instead of doubling it (a doubling
briefly holds the old and the new table: 1.5 times the memory). An estimate a few per
cent low still fits: growth waits for 92%.
"""

from __future__ import annotations

from array import array

_EMPTY = 0
_TARGET_LOAD = 0.85     # how full a table is sized to be
_MAX_LOAD = 0.92        # how full it may get before it grows
RESERVE_AFTER = 20000  # products read before the table is sized for the whole catalog


class SeenIds:
    def __init__(self, capacity: int = 1 << 16) -> None:
        self._alloc(_size_for(capacity))
        self.count = 0

    def _alloc(self, size: int) -> None:
        self._size = size
        self._limit = min(int(size * _MAX_LOAD), size - 1)  # one slot stays empty
        self._keys = array("q", bytes(8 * size))
        self._lines = array("I", bytes(4 * size))

    def add(self, product_id: str, line: int) -> int:
        """Remember ``product_id`` seen at ``line``; return the earlier line if seen before."""
        key = hash(product_id) or 1
        keys, size = self._keys, self._size
        slot = key % size
        found = keys[slot]
        if found != _EMPTY:
            step = _step(key, size)
            while True:
                if found == key:
                    return self._lines[slot] or 1
                slot += step
                if slot >= size:
                    slot -= size
                found = keys[slot]
                if found == _EMPTY:
                    break
        keys[slot] = key
        self._lines[slot] = min(line, 0xFFFFFFFF)
        self.count += 1
        if self.count > self._limit:
            self._rebuild(_size_for(self.count * 2))
        return 0

    def line_of(self, product_id: str) -> int:
        """The line ``product_id`` was seen at (1 if unknown), or 0 if never seen."""
        key = hash(product_id) or 1
        keys, size = self._keys, self._size
        slot = key % size
        step = _step(key, size)
        while True:
            found = keys[slot]
            if found == _EMPTY:
                return 0
            if found == key:
                return self._lines[slot] or 1
            slot += step
            if slot >= size:
                slot -= size

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
                if keys[slot] != _EMPTY:
                    step = _step(key, size)
                    while keys[slot] != _EMPTY:
                        slot += step
                        if slot >= size:
                            slot -= size
                keys[slot] = key
                lines[slot] = line


def _step(key: int, size: int) -> int:
    """The probe step of ``key``: from other bits than its first slot, never 0, and coprime
    with the prime ``size``, so a probe visits every slot."""
    return 1 + (key >> 20) % (size - 1)


def _size_for(count: int) -> int:
    """A prime number of slots for ``count`` ids at the target load."""
    return _prime_from(max(1021, int(count / _TARGET_LOAD) + 1))


def _prime_from(number: int) -> int:
    """The smallest prime >= ``number`` (trial division: a few milliseconds at 10M)."""
    candidate = number | 1
    while not _is_prime(candidate):
        candidate += 2
    return candidate


def _is_prime(number: int) -> bool:
    if number < 4:
        return number > 1
    if number % 2 == 0:
        return False
    divisor = 3
    while divisor * divisor <= number:
        if number % divisor == 0:
            return False
        divisor += 2
    return True
