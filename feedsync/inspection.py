"""``feedsync inspect``: look at a catalog and say how to map it, without writing a feed.

One streaming pass over at most ``max_rows`` records (all of them with ``max_rows=None``)
keeps, per column, a fill counter and the first three distinct non-empty values: memory
depends on the number of columns, never on the catalog. From that it reports the detected
format, delimiter, encoding and profile, suggests a ``catalog.fields`` mapping
(``feedsync.suggest``) and lists the attributes each selected channel requires that
neither a column nor the suggestion covers.

Example::

    result = inspect_catalog(Path("products.csv"), channels=["google"])
    print(result.suggestions["title"].value, result.uncovered["google"])
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync import profiles
from feedsync.channels.loader import ChannelLibrary
from feedsync.errors import ConfigError, OutputError
from feedsync.fileio import AtomicFile
from feedsync.model import Record
from feedsync.sources import SourceOptions, open_catalog
from feedsync.suggest import ColumnView, Suggestion, normalise, suggest

DEFAULT_ROWS = 10_000
DEFAULT_CHANNELS = ("google", "meta")
SAMPLES = 3
SAMPLE_CHARS = 60
MAX_COLUMNS = 1000  # a JSON catalog with ever-new keys must not grow memory without end
MAX_DISTINCT = 10_000  # values remembered per key-like column, to see if rows share them
# Columns a master row and its variant rows all carry (not a parent reference, which the
# master row itself leaves empty; not item_group_id, whose rows are already products).
GROUP_NAMES = ("slug", "handle", "product_handle", "url_key", "group_id")
OPTION_COLUMNS = (("optiongroups", "optionvalues"), ("option_names", "option_values"),
                  ("options_names", "options_values"))
_PRODUCT_REF = re.compile(r"\bproduct\.([a-z_][a-z0-9_]*)")
# Filled by the starter config's ``defaults:``, so not reported as uncovered.
STARTER_DEFAULTS = {"currency": "USD", "condition": "new"}


@dataclass
class ColumnStats:
    """Counters for one column: bounded, whatever the catalog's size."""

    name: str
    filled: int = 0
    samples: list[str] = field(default_factory=list)
    # Hashes of the values of a column that may group variants (GROUP_NAMES), capped.
    distinct: set[int] | None = None
    repeats: bool = False  # two non-empty cells held the same value

    def add(self, value: str) -> None:
        value = value.strip()
        if not value:
            return
        self.filled += 1
        if len(self.samples) < SAMPLES and value not in self.samples:
            self.samples.append(value)
        seen = self.distinct
        if seen is not None and not self.repeats:
            key = hash(value)
            if key in seen:
                self.repeats = True
            elif len(seen) < MAX_DISTINCT:
                seen.add(key)


@dataclass
class Inspection:
    path: Path
    format: str
    delimiter: str
    encoding: str
    profile: str | None
    rows: int
    complete: bool  # every record was read (not stopped at max_rows)
    row_problems: int
    problem_codes: dict[str, int]  # row-problem code -> count (a handful of codes)
    short_rows: str  # the short_rows option the catalog was read with
    columns: list[ColumnStats]
    suggestions: dict[str, Suggestion]
    uncovered: dict[str, list[str]]  # channel -> required attributes nothing covers
    group_by: str | None = None  # a slug/parent column whose value repeats across rows
    options: tuple[str, str] | None = None  # (names, values) columns of `|` option pairs
    more_columns: int = 0  # columns past MAX_COLUMNS, counted but not described

    def fill_rate(self, column: ColumnStats) -> float:
        return column.filled / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog": str(self.path), "format": self.format, "delimiter": self.delimiter,
            "encoding": self.encoding, "profile": self.profile, "rows_read": self.rows,
            "complete": self.complete, "row_problems": self.row_problems,
            "problem_codes": self.problem_codes,
            "columns": [{"name": c.name, "filled": c.filled,
                         "fill_rate": round(self.fill_rate(c), 4), "samples": c.samples}
                        for c in self.columns],
            "suggested_fields": {k: {"value": s.value, "reason": s.reason}
                                 for k, s in self.suggestions.items()},
            "uncovered": self.uncovered,
            "suggested_group_by": self.group_by,
            "suggested_options": ({"names": self.options[0], "values": self.options[1]}
                                  if self.options else None),
            "more_columns": self.more_columns,
        }


def inspect_catalog(path: Path, *,
                    options: SourceOptions = SourceOptions(trim=True),  # noqa: B008 -- frozen
                    channels: Sequence[str] = DEFAULT_CHANNELS,
                    max_rows: int | None = DEFAULT_ROWS,
                    template_dirs: Iterable[Path] = ()) -> Inspection:
    """Read up to ``max_rows`` records of ``path`` and describe them.

    Raises ``CatalogError`` for an unreadable catalog and ``ConfigError`` for an unknown
    channel, as ``build`` does.
    """
    required = required_attributes(channels, template_dirs)
    source = open_catalog(path, options)
    probe = getattr(source, "probe", None)
    stats: dict[str, ColumnStats] = {}
    rows = problems = 0
    codes: dict[str, int] = {}
    complete = True
    extra: set[str] = set()
    for item in source.records():
        if not isinstance(item, Record):
            problems += 1
            codes[item.code] = codes.get(item.code, 0) + 1
            continue
        if max_rows is not None and rows >= max_rows:
            complete = False
            break
        rows += 1
        for name, value in item.data.items():
            col = stats.get(name)
            if col is None:
                if len(stats) >= MAX_COLUMNS:
                    if len(extra) < MAX_COLUMNS:
                        extra.add(name)
                    continue
                col = stats[name] = ColumnStats(name)
                if normalise(name) in GROUP_NAMES:
                    col.distinct = set()
            col.add(value)
    columns = list(stats.values())
    views = [ColumnView(c.name, c.filled / rows if rows else 0.0, c.samples) for c in columns]
    found = suggest(views)
    return Inspection(
        path=path, format=source.format, delimiter=getattr(probe, "delimiter", ""),
        encoding=getattr(probe, "encoding", "utf-8"), profile=profiles.detect(stats),
        rows=rows, complete=complete, row_problems=problems, problem_codes=codes,
        short_rows=options.short_rows, columns=columns,
        suggestions=found, uncovered=_uncovered(required, columns, found),
        group_by=_group_column(columns), options=_option_columns(columns),
        more_columns=len(extra))


def _group_column(columns: Sequence[ColumnStats]) -> str | None:
    """The first slug/parent-like column whose values repeat: rows sharing it are one
    product's master and variant rows."""
    if any(normalise(c.name) == "item_group_id" and c.filled for c in columns):
        return None  # variants already listed one per row, with their group
    by_norm = {normalise(c.name): c for c in columns if c.repeats}
    return next((by_norm[n].name for n in GROUP_NAMES if n in by_norm), None)


def _option_columns(columns: Sequence[ColumnStats]) -> tuple[str, str] | None:
    by_norm = {normalise(c.name): c.name for c in columns if c.filled}
    for names, values in OPTION_COLUMNS:
        if names in by_norm and values in by_norm:
            return by_norm[names], by_norm[values]
    return None


def required_attributes(channels: Sequence[str],
                        template_dirs: Iterable[Path] = ()) -> dict[str, list[str]]:
    """Channel -> the canonical attributes its required fields read (``product.x``)."""
    library = ChannelLibrary(template_dirs)
    result: dict[str, list[str]] = {}
    for name in channels:
        spec = library.load(name)
        names: list[str] = []
        wanted = {c.field for c in spec.checks if c.code == "missing-required" and c.field}
        for fld in spec.fields.values():
            if fld.name in wanted or any(r.check == "required" for r in fld.rules):
                for attr in _PRODUCT_REF.findall(fld.value):
                    if attr not in names:
                        names.append(attr)
        result[name] = names
    return result


def _uncovered(required: dict[str, list[str]], columns: Sequence[ColumnStats],
               found: dict[str, Suggestion]) -> dict[str, list[str]]:
    have = {c.name for c in columns if c.filled} | set(found) | set(STARTER_DEFAULTS)
    return {channel: [a for a in attrs if a not in have] for channel, attrs in required.items()}


def safe_sample(value: str) -> str:
    """A sample value fit for one table cell: one line, control characters shown, cut short."""
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in value.replace("\n", " "))
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "\u2026"


def starter_config(result: Inspection, config_dir: Path | None = None) -> str:
    """A ``feedsync.yaml`` using the suggestion, with comments saying what to check.

    The catalog path is written relative to ``config_dir`` (where the file will live), as
    ``load_config`` reads it.
    """
    catalog_path = result.path.resolve().as_posix()
    if config_dir is not None:
        catalog_path = Path(os.path.relpath(result.path.resolve(),
                                            config_dir.resolve())).as_posix()
    lines = [
        "# feedsync.yaml written by `feedsync inspect` from "
        f"{result.rows} row(s) of {result.path.name}.",
        "# Check every mapping below, replace https://shop.example.com with your shop's",
        "# address, then run `feedsync validate`. config.example.yaml lists every setting.",
        "version: 1",
        "",
        "catalog:",
        f"  path: {_yaml_str(catalog_path)}",
        f"  format: {result.format}",
    ]
    if result.delimiter and result.delimiter != ",":
        lines.append(f"  delimiter: {_yaml_str(result.delimiter)}")
    if result.short_rows == "pad":
        lines.append("  short_rows: pad   # rows with fewer cells than the header get empty ones")
    elif result.problem_codes.get("row-ragged"):
        lines.append(f"  # {result.problem_codes['row-ragged']} row(s) have another number of "
                     "cells than the header; if the")
        lines.append("  # export drops trailing empty cells, add: short_rows: pad")
    if result.group_by:
        lines += [f"  group_by: {_yaml_str(result.group_by)}   # rows sharing it: one master "
                  "row, then its variants"]
    if result.options:
        lines += ["  options:   # positional option pairs, e.g. \"size|color\" / \"M|red\"",
                  f"    names: {_yaml_str(result.options[0])}",
                  f"    values: {_yaml_str(result.options[1])}",
                  '    separator: "|"']
    if result.profile:
        # The profile maps the shop's columns onto canonical attributes itself; a fields:
        # mapping over the raw column names would read columns the profile has replaced.
        lines += [f"  profile: {result.profile}   # detected from the header; it maps the "
                  "columns (docs/profiles.md)"]
    mapped = {k: s for k, s in result.suggestions.items()
              if s.value != k and not result.profile}
    same = [k for k, s in result.suggestions.items() if s.value == k]
    if same and not result.profile:
        lines.append("  # already named as feedsync expects: " + ", ".join(same))
    if mapped:
        lines.append("  fields:   # canonical attribute <- a column, or an expression over `row`")
        for name, s in mapped.items():
            lines.append(f"    # {s.reason}")
            lines.append(f"    {name}: {_yaml_str(s.value)}")
    lines += ["", "# Filled in where a product leaves the attribute empty.", "defaults:"]
    lines += [f"  {k}: {_yaml_str(v)}" for k, v in STARTER_DEFAULTS.items()]
    lines += ["", "output_dir: out", "", "channels:"]
    for channel, missing in result.uncovered.items():
        if missing:
            lines.append(f"  # {channel}: no column covers {', '.join(missing)}: add them "
                         "under catalog.fields")
        lines.append(f"  {channel}:")
        lines.append('    target: {country: "US", currency: "USD", language: "en"}')
    return "\n".join(lines) + "\n"


def _yaml_str(value: str) -> str:
    """A double-quoted YAML scalar (JSON escaping is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def write_starter(result: Inspection, target: Path, *, force: bool = False) -> Path:
    """Write ``starter_config`` to ``target`` atomically; refuse to replace it unless ``force``."""
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists", file=str(target),
                          tip="pass --force to replace it, or --write another file name")
    if target.is_dir():
        raise OutputError(f"{target} is a directory", file=str(target))
    atomic = AtomicFile(target)
    try:
        atomic.open().write(starter_config(result, target.parent).encode("utf-8"))
        # replace=False: a file created meanwhile by someone else is kept, not clobbered.
        atomic.commit(replace=force)
    except BaseException:
        atomic.abort()
        raise
    return target
