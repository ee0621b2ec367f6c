"""Everything the page shows, gathered from the JSON report and the files it names.

The page's size is bounded here, before any markup is made: ``Bounds`` caps the issue
rows and preview items embedded in all (split across channels by what each has), the
codes and fill bars per channel, the runs of the trend and the length of every text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync.channels.loader import ChannelSpec
from feedsync.htmlreport.preview import Preview, read_preview
from feedsync.htmlreport.quality import FieldRoles, Quality, quality, roles_of
from feedsync.htmlreport.scan import CodeStats, LogScan, cut, scan_log


@dataclass(frozen=True)
class Bounds:
    """What one page embeds at most (docs/report.md states the resulting file size)."""

    issue_rows: int = 2500              # issue rows in all: channels and the catalog
    issue_rows_per_channel: int = 1000
    preview_items: int = 40             # feed items previewed in all
    preview_items_per_channel: int = 10
    codes_per_channel: int = 50         # chart rows; the rest are summed in one line
    fill_fields_per_channel: int = 60   # fill bars; required and recommended first
    trend_runs: int = 10                # earlier runs in the trend
    text: int = 200                     # characters per cell (ids, messages, values)
    preview_columns: int = 60           # values shown per previewed item
    page_rows: int = 25                 # table rows per page (the script pages them)
    max_bytes: int = 5_000_000          # the whole file; past it, rows and items are halved


@dataclass(frozen=True)
class TrendPoint:
    run: str          # "#12" or "this run"
    written: int
    rejected: int


@dataclass
class ChannelView:
    target: str
    channel: str
    title: str
    docs: str
    counts: dict[str, int]                  # written, rejected, warnings, hints, filtered
    issues: dict[str, int]                  # the JSON report's issues by code
    evaluated: int
    fill: dict[str, int] | None             # None: the report has no fill counts
    roles: FieldRoles
    quality: Quality | None
    files: dict[str, str]
    issue_log: str | None
    scan: LogScan | None = None
    codes: list[CodeStats] = field(default_factory=list)
    hidden_codes: tuple[int, int] = (0, 0)  # (codes, issues) past the chart's bound
    previews: list[Preview] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    # required fields no product has, each with the mapping to add (docs/mapping.md)
    missing_everywhere: list[str] = field(default_factory=list)


@dataclass
class CatalogView:
    path: str
    format: str
    read: int
    skipped: int
    problems: dict[str, int]
    issue_log: str | None
    scan: LogScan | None = None


@dataclass
class PageView:
    command: str
    exit_code: int
    generated: str
    catalog: CatalogView
    channels: list[ChannelView]
    bounds: Bounds
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    trend_note: str = ""


def share(demands: Sequence[int], total: int, cap: int) -> list[int]:
    """Split ``total`` over ``demands``, at most ``cap`` and at most its demand each;
    what one needs less of goes to the others (water filling)."""
    given = [0] * len(demands)
    wanting = [i for i, d in enumerate(demands) if d > 0]
    left = total
    while left > 0 and wanting:
        each = max(left // len(wanting), 1)
        for i in list(wanting):
            give = min(each, cap - given[i], demands[i] - given[i], left)
            given[i] += give
            left -= give
            if given[i] >= min(cap, demands[i]):
                wanting.remove(i)
            if left == 0:
                break
    return given


def gather(report: Mapping[str, Any], specs: Mapping[str, ChannelSpec | None],
           runs: Sequence[Mapping[str, Any]], bounds: Bounds, generated: str,
           base: Path | None = None) -> PageView:
    """The page's view of ``report``; ``specs`` by target (None: channel unknown)."""
    catalog = _catalog(report.get("catalog") or {})
    entries = [e for e in (report.get("channels") or {}).values() if isinstance(e, Mapping)]
    channels = [_channel(e, specs.get(str(e.get("target"))), bounds) for e in entries]
    row_demand = [sum(catalog.problems.values()), *(sum(c.issues.values()) for c in channels)]
    rows = share(row_demand, bounds.issue_rows, bounds.issue_rows_per_channel)
    items = share([c.counts["written"] if c.files else 0 for c in channels],
                  bounds.preview_items, bounds.preview_items_per_channel)
    if catalog.issue_log:
        catalog.scan = scan_log(_path(catalog.issue_log, base), rows[0], bounds.text,
                                bounds.codes_per_channel)
    for view, row_budget, item_budget in zip(channels, rows[1:], items, strict=True):
        _fill_in(view, specs.get(view.target), row_budget, item_budget, bounds, base)
        view.trend = _trend(view, runs, bounds.trend_runs)
    deliveries = [d for d in report.get("deliveries", []) if isinstance(d, Mapping)]
    return PageView(command=str(report.get("command", "")),
                    exit_code=int(report.get("exit_code", 0) or 0), generated=generated,
                    catalog=catalog, channels=channels, bounds=bounds,
                    deliveries=[dict(d) for d in deliveries[:200]])


def _path(value: str, base: Path | None) -> Path:
    path = Path(value)
    return path if path.is_absolute() or base is None else base / path


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _catalog(raw: Mapping[str, Any]) -> CatalogView:
    problems = raw.get("problems") or {}
    return CatalogView(path=str(raw.get("path", "")), format=str(raw.get("format", "")),
                       read=_int(raw.get("read")), skipped=_int(raw.get("skipped")),
                       problems={str(k): _int(v) for k, v in problems.items()},
                       issue_log=raw.get("issue_log") or None)


def _channel(entry: Mapping[str, Any], spec: ChannelSpec | None, bounds: Bounds) -> ChannelView:
    counts = {k: _int(entry.get(k)) for k in ("written", "rejected", "warnings", "hints",
                                              "filtered")}
    raw_fill = entry.get("fill")
    fill = {str(k): _int(v) for k, v in raw_fill.items()} if isinstance(raw_fill, Mapping) \
        else None
    evaluated = _int(entry.get("evaluated"))
    roles = roles_of(spec) if spec is not None else FieldRoles()
    score = quality(counts["written"], counts["rejected"], evaluated, fill, roles) \
        if fill is not None else None
    return ChannelView(
        target=str(entry.get("target", "")), channel=str(entry.get("channel", "")),
        title=spec.title if spec is not None else str(entry.get("channel", "")),
        docs=spec.docs if spec is not None else "", counts=counts,
        issues={str(k): _int(v) for k, v in (entry.get("issues") or {}).items()},
        evaluated=evaluated, fill=fill, roles=roles, quality=score,
        files={str(k): str(v) for k, v in (entry.get("files") or {}).items()},
        issue_log=entry.get("issue_log") or None,
        missing_everywhere=[str(m.get("fix", "")) for m in entry.get("missing_everywhere") or []
                            if isinstance(m, dict)])


def _fill_in(view: ChannelView, spec: ChannelSpec | None, row_budget: int, item_budget: int,
             bounds: Bounds, base: Path | None) -> None:
    if view.issue_log:
        view.scan = scan_log(_path(view.issue_log, base), row_budget, bounds.text,
                             bounds.codes_per_channel)
        codes = view.scan.codes
    else:
        codes = _codes_from_counts(view.issues)
    view.codes = codes[: bounds.codes_per_channel]
    rest = codes[bounds.codes_per_channel:]
    view.hidden_codes = (len(rest), sum(c.issues for c in rest))
    per_output = _split(item_budget, len(view.files))
    for (output, path), limit in zip(view.files.items(), per_output, strict=True):
        writer, delimiter = _writer_of(spec, output)
        view.previews.append(read_preview(output, _path(path, base), writer, limit,
                                          bounds.text, bounds.preview_columns, delimiter))


def _codes_from_counts(issues: Mapping[str, int]) -> list[CodeStats]:
    """Without an issue log only the counts are known: no severity, no product count."""
    stats = [CodeStats(code=cut(code, 60), severity="unknown", issues=count, products=-1)
             for code, count in issues.items()]
    return sorted(stats, key=lambda s: (-s.issues, s.code))


def _split(total: int, parts: int) -> list[int]:
    if parts <= 0:
        return []
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _writer_of(spec: ChannelSpec | None, output: str) -> tuple[str | None, str]:
    if spec is None or output not in spec.outputs:
        return None, ","
    out = spec.outputs[output]
    return out.writer, str(out.options.get("delimiter", ","))


def _trend(view: ChannelView, runs: Sequence[Mapping[str, Any]], limit: int) -> list[TrendPoint]:
    """Earlier runs that built this target (oldest first), then this run."""
    points: list[TrendPoint] = []
    for run in runs:
        summary = run.get("summary") or {}
        channels = summary.get("channels") if isinstance(summary, Mapping) else None
        one = channels.get(view.target) if isinstance(channels, Mapping) else None
        if isinstance(one, Mapping):
            points.append(TrendPoint(run=f"#{run.get('id', '?')}",
                                     written=_int(one.get("written")),
                                     rejected=_int(one.get("rejected"))))
        if len(points) >= limit:
            break
    points.reverse()
    points.append(TrendPoint("this run", view.counts["written"], view.counts["rejected"]))
    return points


def shrink(view: PageView) -> bool:
    """Halve what the page embeds (issue rows, preview items, then chart rows), for a page
    over ``Bounds.max_bytes``; False when nothing is left to take away."""
    scans = [c.scan for c in view.channels if c.scan] + (
        [view.catalog.scan] if view.catalog.scan else [])
    previews = [p for c in view.channels for p in c.previews]
    if any(s.rows for s in scans) or any(p.items for p in previews):
        for scan in scans:
            scan.rows = scan.rows[: len(scan.rows) // 2]
        for preview in previews:
            preview.items = preview.items[: len(preview.items) // 2]
        return True
    if any(len(c.codes) > 1 for c in view.channels):
        for c in view.channels:
            keep = max(len(c.codes) // 2, 1)
            rest = c.codes[keep:]
            c.hidden_codes = (c.hidden_codes[0] + len(rest),
                              c.hidden_codes[1] + sum(r.issues for r in rest))
            c.codes = c.codes[:keep]
        return True
    return False
