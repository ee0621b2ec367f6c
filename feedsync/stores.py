"""Store stock: one row per (store, product), joined to the catalog for local inventory.

A store stock file can hold a row per product per store, so it can be far larger than
the catalog. It is streamed once into a temporary SQLite index keyed by product id, and
each catalog product looks up its rows there: memory stays flat however many stores
there are. The index lives in a private temp directory and is removed at the end.
Each process (a parallel build's workers included) opens its own connection. A Bloom
filter of the file's ids (2 bytes an id) answers "no rows" without a query for the
products no store stocks: a query was the largest single cost of a seven-channel
build's workers where one product in ten has store rows.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from feedsync.errors import ConfigError
from feedsync.model import RowProblem
from feedsync.report import StockSummary
from feedsync.sources import SourceOptions, open_catalog

_BATCH = 5000


@dataclass
class StockStats:
    path: str
    rows: int = 0
    problems: int = 0
    products_matched: int = 0
    products_without_stock: int = 0
    ids_in_file: int = 0

    def summary(self) -> StockSummary:
        return StockSummary(path=self.path, rows=self.rows, problems=self.problems,
                            products_matched=self.products_matched,
                            products_without_stock=self.products_without_stock,
                            ids_without_product=max(0, self.ids_in_file
                                                    - self.products_matched))


@dataclass
class StoreStock:
    """The index of one store stock file; ``rows_for(id)`` gives that product's stores."""

    source: Path
    key: str = "id"
    store_column: str = "store_code"
    stats: StockStats = field(init=False)
    _dir: Path = field(init=False)
    _conn: sqlite3.Connection | None = field(default=None, init=False, repr=False)
    _pid: int = field(default=0, init=False, repr=False)
    _ids: IdFilter = field(init=False, repr=False)
    _remove: Callable[[], object] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.stats = StockStats(path=str(self.source))
        self._dir = Path(tempfile.mkdtemp(prefix="feedsync-stock-"))
        # The backstop for a run prepared and never executed, or a failure between
        # preparing and executing it: the index goes when this object does (or at exit).
        self._remove = weakref.finalize(self, _remove_dir, self._dir, os.getpid())
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    @property
    def _db(self) -> Path:
        return self._dir / "stock.sqlite"

    def _load(self) -> None:
        conn = sqlite3.connect(self._db)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("CREATE TABLE stock (id TEXT NOT NULL, data TEXT NOT NULL)")
        batch: list[tuple[str, str]] = []
        for record in open_catalog(self.source, SourceOptions()).records():
            if isinstance(record, RowProblem):
                self.stats.problems += 1
                continue
            product_id = record.data.get(self.key, "").strip()
            if not product_id or not record.data.get(self.store_column, "").strip():
                self.stats.problems += 1
                continue
            row = {k: v for k, v in record.data.items() if k != self.key}
            batch.append((product_id, json.dumps(row, ensure_ascii=False)))
            if len(batch) >= _BATCH:
                conn.executemany("INSERT INTO stock VALUES (?, ?)", batch)
                self.stats.rows += len(batch)
                batch.clear()
        conn.executemany("INSERT INTO stock VALUES (?, ?)", batch)
        self.stats.rows += len(batch)
        conn.execute("CREATE INDEX stock_id ON stock (id)")
        self.stats.ids_in_file = conn.execute("SELECT COUNT(DISTINCT id) FROM stock").fetchone()[0]
        self._ids = IdFilter(self.stats.ids_in_file)
        for (product_id,) in conn.execute("SELECT DISTINCT id FROM stock"):
            self._ids.add(product_id)
        conn.commit()
        conn.close()
        if self.stats.rows == 0:
            raise ConfigError(f"store stock file {self.source} holds no usable rows",
                              tip=f"it needs columns {self.key!r} and {self.store_column!r}")

    def rows_for(self, product_id: str) -> list[dict[str, str]]:
        if product_id not in self._ids:
            return []
        if self._conn is None or self._pid != os.getpid():
            # A forked worker must not share the parent's connection.
            self._conn = sqlite3.connect(f"file:{self._db}?mode=ro", uri=True)
            self._pid = os.getpid()
        found = self._conn.execute("SELECT data FROM stock WHERE id = ? ORDER BY rowid",
                                   (product_id,)).fetchall()
        rows: list[dict[str, str]] = [json.loads(data) for (data,) in found]
        return rows

    def count(self, matched: bool) -> None:
        if matched:
            self.stats.products_matched += 1
        else:
            self.stats.products_without_stock += 1

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
        self._remove()


def _remove_dir(path: Path, owner: int) -> None:
    # A forked worker that drops its copy must not delete the parent's index.
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


class IdFilter:
    """A Bloom filter of strings: ``key in filter`` is False only for a key never added.

    16 bits a key and two bit positions from one ``hash()`` give ~1.4% false positives
    (a query that finds nothing). ``hash`` of a string is fixed for the life of a
    process and its forks (the workers of a parallel build); the filter is never sent
    anywhere else.
    """

    def __init__(self, count: int) -> None:
        size = min(1 << 32, max(1 << 10, 1 << (16 * max(count, 1) - 1).bit_length()))
        self._mask = size - 1
        self._bits = bytearray(size // 8)

    def add(self, key: str) -> None:
        code = hash(key)
        for bit in (code & self._mask, (code >> 32) & self._mask):
            self._bits[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, key: str) -> bool:
        code, mask, bits = hash(key), self._mask, self._bits
        first, second = code & mask, (code >> 32) & mask
        return bool(bits[first >> 3] & (1 << (first & 7))) and bool(
            bits[second >> 3] & (1 << (second & 7)))
