"""What a run did: counts per channel and per issue code, examples, and the full issue log.

Memory stays bounded: the report keeps counts, a few example product ids per code and
the first few issues for display; every issue goes to a JSONL log on disk as it happens
(frictionless-py's "findings are data", with a limit on what is held in memory).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, TypedDict

from feedsync.codes import CODES
from feedsync.gate import GateDecision
from feedsync.model import Issue, RowProblem, Severity
from feedsync.publishers.base import Receipt

REPORT_VERSION = 1
EXAMPLES_PER_CODE = 3


@dataclass
class CodeSummary:
    code: str
    severity: Severity
    count: int = 0
    field: str | None = None
    source: str | None = None
    message: str = ""
    examples: list[str] = dataclasses.field(default_factory=list)


class FieldFill:
    """How many evaluated items have a value, per field, for one target.

    Counted from each item's fill mask (bit i: field i is not empty). Masks are tallied
    as they come and folded into per-field counts when many distinct ones have been
    seen, so the cost per item is one dict update and memory stays bounded.
    """

    FOLD_AT = 4096

    def __init__(self, fields: Sequence[str] = ()) -> None:
        self.fields = tuple(fields)
        self.evaluated = 0
        self._counts = [0] * len(self.fields)
        self._masks: dict[int, int] = {}

    def add(self, mask: int) -> None:
        self.evaluated += 1
        masks = self._masks
        masks[mask] = masks.get(mask, 0) + 1
        if len(masks) > self.FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        counts = self._counts
        for mask, times in self._masks.items():
            bit = 0
            while mask:
                if mask & 1:
                    counts[bit] += times
                mask >>= 1
                bit += 1
        self._masks.clear()

    def counts(self) -> dict[str, int]:
        """Field -> items with a value, every field of the channel (zeros included)."""
        self._fold()
        return dict(zip(self.fields, self._counts, strict=True))


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
    # output name -> its parts (file, items, bytes, sha256), for outputs under limits
    parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issue_log: str | None = None
    written: int = 0
    rejected: int = 0
    filtered: int = 0
    warnings: int = 0
    hints: int = 0
    codes: dict[tuple[str, str | None], CodeSummary] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    docs: str = ""
    fill: FieldFill = field(default_factory=FieldFill)
    # catalog.translations: products with no translation in this target's language
    untranslated: int | None = None
    # Required fields empty on every product: said once, with the fix (see missing_fix).
    missing_everywhere: list[str] = field(default_factory=list)

    def missing_fix(self) -> list[str]:
        """One line per required field no product has: the mapping that is missing."""
        return [f"no column maps to `{name}`: add `catalog.fields.{name}`; "
                "`feedsync inspect` suggests one" for name in self.missing_everywhere]

    def find_missing_everywhere(self) -> None:
        evaluated = self.fill.evaluated
        if evaluated <= 0:
            return
        self.missing_everywhere = sorted(
            s.field for s in self.codes.values()
            if s.code == "missing-required" and s.field and s.count >= evaluated)

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        key = (issue.code, issue.field)
        summary = self.codes.get(key)
        if summary is None:
            summary = CodeSummary(code=issue.code, severity=issue.severity, field=issue.field,
                                  source=issue.source, message=issue.message)
            self.codes[key] = summary
        summary.count += 1
        # A product without an id is shown by where it is: file:line.
        where = issue.product_id or (f"{Path(issue.file).name}:{issue.line}"
                                     if issue.file and issue.line else None)
        if len(summary.examples) < EXAMPLES_PER_CODE and where is not None:
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
        data = self._summary()
        if self.parts:   # only for outputs under limits: other reports keep their shape
            data["parts"] = self.parts
        return data

    def _summary(self) -> dict[str, Any]:
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
            # Products (store rows) mapped in this target, written or rejected, and how
            # many of them have a value in each field of the channel.
            "evaluated": self.fill.evaluated,
            "fill": self.fill.counts(),
            "issues": dict(self.counts),
            **({"untranslated": self.untranslated} if self.untranslated is not None else {}),
            "missing_everywhere": [{"field": name, "fix": fix} for name, fix in
                                   zip(self.missing_everywhere, self.missing_fix(),
                                       strict=True)],
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


@dataclass(frozen=True)
class JoinSummary:
    """One supplemental file's join: rows, and catalog products matched or missed."""

    path: str
    rows: int
    matched: int
    missing: int
    orphans: int
    problems: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CategoryMapSummary:
    path: str
    mapped: int
    unmapped_products: int
    unmapped_values: dict[str, int]   # the 20 most frequent values without a mapping

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ControlsSummary:
    """What the catalog-wide controls did (``--json``: ``controls``)."""

    supplemental: tuple[JoinSummary, ...] = ()
    category_map: CategoryMapSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.supplemental:
            data["supplemental"] = [j.to_dict() for j in self.supplemental]
        if self.category_map is not None:
            data["category_map"] = self.category_map.to_dict()
        return data


@dataclass(frozen=True)
class StockSummary:
    """A store stock file behind a fan-out channel (``--json``: ``stock.<target>``)."""

    path: str
    rows: int
    problems: int
    products_matched: int
    products_without_stock: int
    ids_without_product: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DeliveryStatus = Literal["pending", "published", "unchanged", "refused", "failed", "dry-run"]


@dataclass(frozen=True)
class LastGood:
    """The last good feed recorded for a destination, that the gate compared with."""

    run: int
    items: int
    sha256: str


@dataclass(frozen=True)
class DeliveryResult:
    """One feed file to one destination, and what happened (``--json``: ``deliveries``)."""

    channel: str
    output: str
    destination: str                 # the destination + file, as recorded in state
    status: DeliveryStatus
    items: int
    rejected: int
    sha256: str
    last_good: LastGood | None
    error: str | None
    exit_code: int
    gate: GateDecision | None = None
    receipt: Receipt | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "channel": self.channel, "output": self.output, "destination": self.destination,
            "status": self.status, "items": self.items, "rejected": self.rejected,
            "sha256": self.sha256,
            "last_good": dataclasses.asdict(self.last_good) if self.last_good else None,
            "error": self.error, "exit_code": self.exit_code,
        }
        if self.gate is not None:
            data["gate"] = {"allowed": self.gate.allowed, "forced": self.gate.forced,
                            "reasons": [{"code": r.code, "message": r.message, "old": r.old,
                                         "new": r.new, "limit": r.limit}
                                        for r in self.gate.reasons]}
        if self.receipt is not None:
            data["receipt"] = {"remote_path": self.receipt.remote_path,
                               "bytes": self.receipt.bytes, "method": self.receipt.method,
                               "attempts": self.receipt.attempts,
                               "seconds": round(self.receipt.seconds, 3),
                               "warnings": list(self.receipt.warnings)}
        return data


class DeliveryRecord(Protocol):
    """What the report keeps of a delivery: a feed file (``DeliveryResult``) or an API
    channel's run (``feedsync.apis.deliver.ApiDelivery``)."""

    @property
    def channel(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def items(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RollbackInfo:
    """Which kept feed a rollback re-published (``--json``: ``rollback``)."""

    channel: str
    from_run: int
    sha256: str
    items: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RunReport:
    """What a build, validate, push or rollback did. ``to_dict()`` is the ``--json`` shape
    (``"version": 1``); parts a command does not produce are left out of it."""

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
    exit_code: int = 0
    controls: ControlsSummary | None = None          # joins and category map, when used
    stock: dict[str, StockSummary] | None = None     # target -> its store stock file
    rollback: RollbackInfo | None = None
    deliveries: list[DeliveryRecord] | None = None   # push and rollback
    messages: list[str] | None = None                # one line per delivery, for people
    html: str | None = None                          # the HTML report written, if any
    api_status: dict[str, dict[str, Any]] | None = None  # `feedsync status`, per target

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
        if self.controls is not None:
            data["controls"] = self.controls.to_dict()
        if self.stock is not None:
            data["stock"] = {name: s.to_dict() for name, s in self.stock.items()}
        if self.rollback is not None:
            data["rollback"] = self.rollback.to_dict()
        if self.deliveries is not None:
            data["deliveries"] = [d.to_dict() for d in self.deliveries]
        if self.messages is not None:
            data["messages"] = list(self.messages)
        if self.html is not None:
            data["html"] = self.html
        if self.api_status is not None:
            data["status"] = self.api_status
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def problem_to_issue(problem: RowProblem) -> Issue:
    return CODES[problem.code].issue(message=problem.message, product_id=problem.product_id,
                                     file=problem.file, line=problem.line)
