"""What a run did: counts per channel and per issue code, examples, and the full issue log.

Memory stays bounded: the report keeps counts, a few example product ids per code and
the first few issues for display; every issue goes to a JSONL log on disk as it happens
(frictionless-py's "findings are data", with a limit on what is held in memory).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypedDict

from feedsync.model import Issue, RowProblem

REPORT_VERSION = 1
EXAMPLES_PER_CODE = 3


@dataclass
class CodeSummary:
    code: str
    severity: str
    count: int = 0
    field: str | None = None
    source: str | None = None
    message: str = ""
    examples: list[str] = dataclasses.field(default_factory=list)


class IssueLog:
    """Appends issues as JSON lines to an open binary file (an ``AtomicFile``)."""

    def __init__(self, handle: BinaryIO | None) -> None:
        self.handle = handle

    def write(self, issue: Issue) -> None:
        if self.handle is not None:
            line = json.dumps(issue.to_dict(), ensure_ascii=False)
            self.handle.write(line.encode("utf-8", "backslashreplace") + b"\n")


@dataclass
class ChannelReport:
    channel: str
    target: str
    files: dict[str, str] = field(default_factory=dict)  # output name -> path
    issue_log: str | None = None
    written: int = 0
    rejected: int = 0
    filtered: int = 0
    warnings: int = 0
    hints: int = 0
    codes: dict[tuple[str, str | None], CodeSummary] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    docs: str = ""
    # Mapped items (written or rejected after mapping) and, per channel field, how many
    # of them carry a value: the HTML report's fill rates and quality score (feedsync/fill.py).
    evaluated: int = 0
    fill: dict[str, int] = field(default_factory=dict)

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        key = (issue.code, issue.field)
        summary = self.codes.get(key)
        if summary is None:
            summary = CodeSummary(code=issue.code, severity=issue.severity, field=issue.field,
                                  source=issue.source, message=issue.message)
            self.codes[key] = summary
        summary.count += 1
        if len(summary.examples) < EXAMPLES_PER_CODE and issue.product_id is not None:
            where = f"{issue.product_id}"
            if where not in summary.examples:
                summary.examples.append(where)
        if issue.severity == "warning":
            self.warnings += 1
        elif issue.severity == "hint":
            self.hints += 1

    def top(self, limit: int = 10) -> list[CodeSummary]:
        order = {"error": 0, "warning": 1, "hint": 2}
        return sorted(self.codes.values(),
                      key=lambda s: (order.get(s.severity, 3), -s.count, s.code))[:limit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "target": self.target,
            "file": next(iter(self.files.values()), None),
            "files": self.files,
            "issue_log": self.issue_log,
            "written": self.written,
            "rejected": self.rejected,
            "filtered": self.filtered,
            "warnings": self.warnings,
            "hints": self.hints,
            "evaluated": self.evaluated,
            "fill": dict(self.fill),
            "issues": dict(self.counts),
            "top_issues": [
                {"code": c.code, "severity": c.severity, "count": c.count, "field": c.field,
                 "message": c.message, "source": c.source, "examples": c.examples}
                for c in self.top()
            ],
        }


class CatalogSummary(TypedDict):
    path: str
    format: str
    read: int
    skipped: int
    problems: dict[str, int]


@dataclass
class RunReport:
    command: str
    catalog: str = ""
    catalog_format: str = ""
    products_read: int = 0
    rows_skipped: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    problem_examples: list[dict[str, Any]] = field(default_factory=list)
    channels: list[ChannelReport] = field(default_factory=list)
    catalog_log: str | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0

    def add_problem(self, problem: RowProblem) -> None:
        self.rows_skipped += 1
        self.problems[problem.code] += 1
        if len(self.problem_examples) < 20:
            self.problem_examples.append({
                "file": problem.file, "line": problem.line, "code": problem.code,
                "message": problem.message, "product_id": problem.product_id})

    def to_dict(self) -> dict[str, Any]:
        catalog: CatalogSummary = {
            "path": self.catalog, "format": self.catalog_format, "read": self.products_read,
            "skipped": self.rows_skipped, "problems": dict(self.problems)}
        data: dict[str, Any] = {
            "version": REPORT_VERSION,
            "command": self.command,
            "exit_code": self.exit_code,
            "catalog": {**catalog, "examples": self.problem_examples,
                        "issue_log": self.catalog_log},
            "channels": {c.target: c.to_dict() for c in self.channels},
        }
        data.update(self.extra)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def problem_to_issue(problem: RowProblem) -> Issue:
    return Issue(code=problem.code, severity="error", message=problem.message, channel="",
                 product_id=problem.product_id, file=problem.file, line=problem.line)
