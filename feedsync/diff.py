"""``feedsync diff OLD NEW``: what a push would change (issue 14 item 11).

Two feed files of the same format, or the feeds two runs kept in the state: items added,
removed and changed, and which attributes changed, so a merchant sees what a push will
do before it does it.

Memory stays bounded: each feed is streamed (lxml ``iterparse`` for RSS/XML, ``csv`` for
TSV/CSV, ``ijson`` for Amazon's JSON listings feed) into a temporary SQLite index, one
row per item (id, attributes as JSON); the comparison is SQL joins over that index, and
only counts and the first ``EXAMPLES`` ids are kept.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
from lxml import etree

from feedsync.errors import CatalogError, ConfigError
from feedsync.state import State

EXAMPLES = 20
BATCH = 1000
FORMATS = ("xml", "delimited", "amazon-json")
# The id column of each delimited feed feedsync writes (tiktok: sku_id); stores add theirs.
_ID_COLUMNS = ("id", "sku_id", "item_id", "sku", "offer_id")
csv.field_size_limit(2**24)


@dataclass
class Change:
    """One changed item: its id and each changed attribute's old and new value."""

    id: str
    attributes: dict[str, tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "attributes": {k: {"old": o, "new": n}
                                              for k, (o, n) in self.attributes.items()}}


@dataclass
class DiffReport:
    """Counts, the first ids of each kind, and how often each attribute changed."""

    old: str
    new: str
    format: str
    old_items: int = 0
    new_items: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    attributes: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["changes"] = [c.to_dict() for c in self.changes]
        data["attributes"] = dict(self.attributes.most_common())
        return {"version": 1, "command": "diff", **data}


def diff_files(old: Path | str, new: Path | str) -> DiffReport:
    """Compare two feed files of the same format."""
    old_path, new_path = Path(old), Path(new)
    kind = feed_format(old_path)
    if feed_format(new_path) != kind:
        raise ConfigError(f"{old_path} and {new_path} are not the same feed format "
                          f"({kind} and {feed_format(new_path)})",
                          tip="compare two feeds of one channel output")
    report = DiffReport(old=str(old_path), new=str(new_path), format=kind)
    with tempfile.TemporaryDirectory(prefix="feedsync-diff-") as folder:
        db = sqlite3.connect(Path(folder) / "index.sqlite")
        try:
            report.old_items = _index(db, "old", items(old_path, kind))
            report.new_items = _index(db, "new", items(new_path, kind))
            _compare(db, report)
        finally:
            db.close()
    return report


def diff_runs(state_dir: Path, channel: str, old_run: int, new_run: int) -> DiffReport:
    """Compare the feeds of ``channel`` that two runs kept in the state."""
    with State.open(state_dir) as state:
        paths = [_kept(state, channel, run) for run in (old_run, new_run)]
    return diff_files(*paths)


def _kept(state: State, channel: str, run: int) -> Path:
    record = state.feed_for_run(channel, run)
    if record is None or record.kept_path is None:
        raise ConfigError(f"run {run} kept no feed of channel {channel!r}",
                          tip="see `feedsync history`; old copies are pruned (keep_feeds)")
    return record.kept_path


def feed_format(path: Path) -> str:
    """``xml``, ``delimited`` or ``amazon-json``, from the file's first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except FileNotFoundError as exc:
        raise ConfigError(f"no such feed file: {path}", file=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", file=str(path)) from exc
    if head.startswith(b"<"):
        return "xml"
    if head.startswith(b"{"):
        return "amazon-json"
    return "delimited"


def items(path: Path, kind: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Each item of a feed as (id, attributes), streamed."""
    try:
        if kind == "xml":
            yield from _xml_items(path)
        elif kind == "amazon-json":
            yield from _amazon_items(path)
        else:
            yield from _delimited_items(path)
    except (etree.XMLSyntaxError, ijson.JSONError, csv.Error, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path} is not a readable {kind} feed: {exc}",
                           file=str(path)) from exc


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _xml_items(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    for _, element in etree.iterparse(str(path), events=("end",), resolve_entities=False,
                                      no_network=True, huge_tree=True):
        if _local(element.tag) not in ("item", "entry"):
            continue
        values: dict[str, list[str]] = {}
        for child in element:
            name = _local(child.tag)
            if not name:
                continue
            text = (";".join(f"{_local(c.tag)}={c.text or ''}" for c in child)
                    if len(child) else (child.text or "").strip())
            values.setdefault(name, []).append(text)
        attributes = {k: "\n".join(v) for k, v in values.items()}
        yield attributes.get("id", ""), attributes
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def _delimited_items(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        delimiter = "\t" if "\t" in first else ","
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        key = next((c for c in _ID_COLUMNS if c in header), header[0] if header else "")
        store = "store_code" if "store_code" in header else None
        for row in reader:
            ident = row.get(key) or ""
            if store:
                ident = f"{row.get(store) or ''}:{ident}"
            yield ident, {k: v or "" for k, v in row.items() if k is not None}


def _amazon_items(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with path.open("rb") as handle:
        for message in ijson.items(handle, "messages.item", use_float=True):
            attributes = {k: json.dumps(v, ensure_ascii=False, sort_keys=True)
                          for k, v in (message.get("attributes") or {}).items()}
            for key in ("operationType", "productType", "requirements"):
                if key in message:
                    attributes[key] = str(message[key])
            yield str(message.get("sku", "")), attributes


_INSERT = {"old": "INSERT OR REPLACE INTO old VALUES (?, ?)",
           "new": "INSERT OR REPLACE INTO new VALUES (?, ?)"}


def _index(db: sqlite3.Connection, table: str,
           rows: Iterator[tuple[str, dict[str, str]]]) -> int:
    """Stream ``rows`` into table ``old`` or ``new`` (a fixed name, never user text)."""
    insert = _INSERT[table]
    db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, attrs TEXT)")
    count, batch = 0, []
    for ident, attributes in rows:
        batch.append((ident, json.dumps(attributes, ensure_ascii=False, sort_keys=True)))
        count += 1
        if len(batch) >= BATCH:
            db.executemany(insert, batch)
            batch.clear()
    db.executemany(insert, batch)
    db.commit()
    return count


def _compare(db: sqlite3.Connection, report: DiffReport) -> None:
    for ident, in db.execute("SELECT n.id FROM new n LEFT JOIN old o ON o.id = n.id "
                             "WHERE o.id IS NULL ORDER BY n.rowid"):
        report.added += 1
        if len(report.added_ids) < EXAMPLES:
            report.added_ids.append(ident)
    for ident, in db.execute("SELECT o.id FROM old o LEFT JOIN new n ON o.id = n.id "
                             "WHERE n.id IS NULL ORDER BY o.rowid"):
        report.removed += 1
        if len(report.removed_ids) < EXAMPLES:
            report.removed_ids.append(ident)
    query = "SELECT o.id, o.attrs, n.attrs FROM old o JOIN new n ON o.id = n.id ORDER BY n.rowid"
    for ident, before, after in db.execute(query):
        if before == after:
            report.unchanged += 1
            continue
        changed = _changed(json.loads(before), json.loads(after))
        report.changed += 1
        report.attributes.update(changed.keys())
        if len(report.changes) < EXAMPLES:
            report.changes.append(Change(ident, changed))


def _changed(old: dict[str, str], new: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {name: (_short(old.get(name, "")), _short(new.get(name, "")))
            for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)}


def _short(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
