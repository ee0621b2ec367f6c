"""Translations: title and description per (product, language), for targets that sell in
that language (``catalog.translations``; docs/mapping.md).

The translation file is streamed once into a temporary SQLite index keyed by (product
key, language), as store stock files are (feedsync/stores.py): memory does not grow with
the file. Each catalog record then looks up its row for every target whose ``target:
language`` is set, and the translated values become ``title@<target>`` override columns,
which the target's controls lay over the mapped item (feedsync/controls.py). Products the
file has no row for are counted per target and the report shows the counts.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from feedsync.config import TranslationsConfig
from feedsync.errors import ConfigError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog

_BATCH = 5000


def language_of(locale: str) -> str:
    """``de-DE``, ``de_AT``, ``DE`` -> ``de``: a target's language matches its part."""
    return locale.strip().replace("_", "-").split("-", 1)[0].lower()


class Translations:
    """The index of one translation file."""

    def __init__(self, config: TranslationsConfig) -> None:
        self.config = config
        self.rows = 0
        self.problems = 0
        self._dir = Path(tempfile.mkdtemp(prefix="feedsync-translations-"))
        self._conn = sqlite3.connect(self._dir / "translations.sqlite")
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        config, conn = self.config, self._conn
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("CREATE TABLE t (id TEXT NOT NULL, lang TEXT NOT NULL, data TEXT NOT NULL,"
                     " PRIMARY KEY (id, lang))")
        batch: list[tuple[str, str, str]] = []
        source = open_catalog(config.path, SourceOptions(
            format=config.format, encoding=config.encoding, delimiter=config.delimiter,
            trim=True))
        checked = False
        for record in source.records():
            if isinstance(record, RowProblem):
                self.problems += 1
                continue
            if not checked:
                self._check_columns(record.data.keys())
                checked = True
            key = record.data.get(config.key, "").strip()
            lang = language_of(record.data.get(config.locale, ""))
            if not key or not lang:
                self.problems += 1
                continue
            values = {attribute: record.data.get(column, "")
                      for attribute, column in config.fields.items()}
            batch.append((key, lang, json.dumps(values, ensure_ascii=False)))
            if len(batch) >= _BATCH:
                self._insert(batch)
        self._insert(batch)
        conn.commit()

    def _check_columns(self, columns: Iterable[str]) -> None:
        names = set(columns)
        wanted = {"key": self.config.key, "locale": self.config.locale,
                  **{f"fields.{a}": c for a, c in self.config.fields.items()}}
        for key, column in wanted.items():
            if column not in names:
                raise ConfigError(f"the translation file has no column {column!r}",
                                  file=str(self.config.path), key=f"catalog.translations.{key}",
                                  tip="its columns: " + ", ".join(sorted(names)[:20]))

    def _insert(self, batch: list[tuple[str, str, str]]) -> None:
        # A repeated (id, language) keeps its last row, as a later edit would.
        self._conn.executemany("INSERT OR REPLACE INTO t VALUES (?, ?, ?)", batch)
        self.rows += len(batch)
        batch.clear()

    def lookup(self, product_id: str, language: str) -> dict[str, str] | None:
        found = self._conn.execute("SELECT data FROM t WHERE id = ? AND lang = ?",
                                   (product_id, language)).fetchone()
        return json.loads(found[0]) if found else None

    def stream(self, records: Iterable[Record | RowProblem],
               targets: Sequence[tuple[str, str]], missing: Counter[str]) -> Iterator[
                   Record | RowProblem]:
        """Each record with ``<attribute>@<target>`` cells for the targets ``(name,
        language)``; ``missing[target]`` counts the products with no translation."""
        attributes = list(self.config.fields)
        for item in records:
            if type(item) is Record:
                product_id = item.data.get("id", "").strip()
                for target, language in targets:
                    found = self.lookup(product_id, language) if product_id else None
                    if found is None:
                        missing[target] += 1
                        found = {}
                    for attribute in attributes:
                        # Always set, so the first record's header binds the columns.
                        item.data[f"{attribute}@{target}"] = found.get(attribute, "")
            yield item

    def close(self) -> None:
        self._conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)
