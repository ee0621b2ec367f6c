"""Store stock: one row per (store, product), joined to the catalog for local inventory.

A store stock file can hold a row per product per store, so it can be far larger than
the catalog. It is streamed once into a temporary SQLite index keyed by product id, and
each catalog product looks up its rows there: memory stays flat however many stores
there are. The index lives in a private temp directory and is removed at the end.
Each process (a parallel build's workers included) opens its own connection.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
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

    def __post_init__(self) -> None:
        self.stats = StockStats(path=str(self.source))
        self._dir = Path(tempfile.mkdtemp(prefix="feedsync-stock-"))
        self._load()

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
        conn.commit()
        conn.close()
        if self.stats.rows == 0:
            self.close()
            raise ConfigError(f"store stock file {self.source} holds no usable rows",
                              tip=f"it needs columns {self.key!r} and {self.store_column!r}")

    def rows_for(self, product_id: str) -> list[dict[str, str]]:
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
        shutil.rmtree(self._dir, ignore_errors=True)
