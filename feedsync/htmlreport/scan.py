"""Stream an issue log (JSONL) once: counts per code and severity, and a bounded sample.

The log is never loaded whole. What is kept is one small record per (code, severity)
and at most ``row_budget`` issue rows, so a log of millions of lines costs the same memory
as one of a hundred. Products affected are counted exactly without remembering products:
the pipeline logs all issues of one product in one target together, so a code's product
count grows when the product (id, file, line) differs from the last one seen for that code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Filtered products are logged with these codes but are not issues (report.py skips them).
FILTER_CODES = frozenset({"include-filter", "exclude-filter"})
SEVERITY_ORDER = {"error": 0, "warning": 1, "hint": 2}
EXAMPLES_PER_CODE = 5
FIELDS_PER_CODE = 4


def cut(value: Any, limit: int) -> str:
    """``value`` as text of at most ``limit`` characters (an ellipsis marks the cut)."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@dataclass(frozen=True, slots=True)
class IssueRow:
    """One issue as the page's table shows it; every text already cut to the page bound."""

    seq: int
    severity: str
    code: str
    product_id: str
    file: str
    line: int | None
    field: str
    message: str


@dataclass
class CodeStats:
    """One (code, severity): issues, distinct products, and what the chart row shows."""

    code: str
    severity: str
    issues: int = 0
    products: int = 0
    fields: list[str] = field(default_factory=list)
    source: str = ""
    message: str = ""
    examples: list[IssueRow] = field(default_factory=list)
    _last: tuple[Any, ...] | None = None

    def sort_key(self) -> tuple[int, int, str]:
        return (-self.products, SEVERITY_ORDER.get(self.severity, 3), self.code)


@dataclass
class LogScan:
    """What one pass over a log found."""

    path: str
    codes: list[CodeStats] = field(default_factory=list)  # most products affected first
    rows: list[IssueRow] = field(default_factory=list)    # at most the row budget
    issues: int = 0                                       # issues (filtered entries left out)
    filtered: int = 0
    unreadable: int = 0                                   # lines that were not JSON objects
    missing: bool = False                                 # the log file was not there


def scan_log(path: str | Path, row_budget: int, text_limit: int = 200,
             shown_codes: int = 50) -> LogScan:
    """Count every issue in ``path`` and keep at most ``row_budget`` rows.

    The rows are a few examples of each of the ``shown_codes`` codes the chart shows
    (so every bar has rows to search), then the first issues in log order.
    """
    result = LogScan(path=str(path))
    stats: dict[tuple[str, str], CodeStats] = {}
    first: list[IssueRow] = []
    try:
        entries = _entries(Path(path), result)
        for seq, entry in enumerate(entries):
            code = str(entry.get("code") or "unknown")
            if code in FILTER_CODES:
                result.filtered += 1
                continue
            result.issues += 1
            one = _count(stats, code, entry, text_limit)
            # Rows are made only for issues that may be shown: most of a big log is counted.
            keep = len(first) < row_budget
            if keep or len(one.examples) < EXAMPLES_PER_CODE:
                row = _row(seq, code, entry, text_limit)
                if keep:
                    first.append(row)
                if len(one.examples) < EXAMPLES_PER_CODE:
                    one.examples.append(row)
    except FileNotFoundError:
        result.missing = True
    result.codes = sorted(stats.values(), key=CodeStats.sort_key)
    result.rows = _choose_rows(result.codes[:shown_codes], first, row_budget)
    return result


def _entries(path: Path, result: LogScan) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for raw in handle:
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                yield entry
            elif raw.strip():
                result.unreadable += 1


def _row(seq: int, code: str, entry: dict[str, Any], limit: int) -> IssueRow:
    line = entry.get("line")
    return IssueRow(seq=seq, severity=str(entry.get("severity") or "error"), code=cut(code, 60),
                    product_id=cut(entry.get("product_id"), limit),
                    file=cut(entry.get("file"), limit),
                    line=line if isinstance(line, int) and not isinstance(line, bool) else None,
                    field=cut(entry.get("field"), 60), message=cut(entry.get("message"), limit))


def _count(stats: dict[tuple[str, str], CodeStats], code: str, entry: dict[str, Any],
           limit: int) -> CodeStats:
    key = (code, str(entry.get("severity") or "error"))
    one = stats.get(key)
    if one is None:
        one = stats[key] = CodeStats(code=cut(code, 60), severity=key[1],
                                     source=cut(entry.get("source"), 300),
                                     message=cut(entry.get("message"), limit))
    one.issues += 1
    product = (entry.get("product_id"), entry.get("file"), entry.get("line"))
    if product != one._last or product == (None, None, None):
        one.products += 1
        one._last = product
    field_name = entry.get("field")
    if field_name and len(one.fields) < FIELDS_PER_CODE:
        shown = cut(field_name, 60)
        if shown not in one.fields:
            one.fields.append(shown)
    return one


def _choose_rows(shown: list[CodeStats], first: list[IssueRow], budget: int) -> list[IssueRow]:
    """Examples of every shown code first, then log order; sorted back into log order."""
    chosen: dict[int, IssueRow] = {}
    per_code = min(EXAMPLES_PER_CODE, budget // max(len(shown), 1))
    for stats in shown:
        for row in stats.examples[:per_code]:
            chosen[row.seq] = row
    for row in first:
        if len(chosen) >= budget:
            break
        chosen.setdefault(row.seq, row)
    return sorted(chosen.values(), key=lambda r: r.seq)[:budget]
