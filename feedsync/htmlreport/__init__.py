"""The HTML diagnostics report: one self-contained page per run (docs/report.md).

Input is the JSON report (``RunReport.to_dict()``, ``"version": 1``) and the files it
names: each channel's issue log (streamed, never loaded whole), the catalog's issue log
and the feed files (their first items are the preview). Earlier runs from state give the
trend. The page embeds at most what ``Bounds`` allows, however large the catalog.

>>> from feedsync.htmlreport import write_html
>>> write_html(report.to_dict(), "out/report.html")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsync.channels.loader import ChannelLibrary, ChannelSpec
from feedsync.config import Config
from feedsync.errors import FeedsyncError, OutputError
from feedsync.htmlreport.gather import Bounds, gather, shrink
from feedsync.htmlreport.page import esc, link, render
from feedsync.report import RunReport
from feedsync.state import DB_NAME, State
from feedsync.writers.atomic import AtomicFile

__all__ = ["Bounds", "HtmlResult", "esc", "link", "recent_runs", "render_html",
           "runs_from_state", "specs_for", "write_html", "write_run_html"]


DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class HtmlResult:
    path: Path
    bytes: int
    issue_rows: int       # issue rows embedded, all tables together
    preview_items: int


def specs_for(report: Mapping[str, Any], config: Config | None) -> dict[str, ChannelSpec | None]:
    """Each target's channel spec (for required/recommended fields and output formats).

    A target whose channel cannot be loaded gets None: the page still renders, unscored
    by field roles.
    """
    config = config or Config()
    library = ChannelLibrary(config.template_dirs)
    templates = {c.name: c.template for c in config.channels}
    specs: dict[str, ChannelSpec | None] = {}
    for target, entry in (report.get("channels") or {}).items():
        name = templates.get(str(target)) or str(entry.get("channel") or target)
        try:
            specs[str(target)] = library.load(name)
        except FeedsyncError:
            specs[str(target)] = None
    return specs


def recent_runs(state: State, limit: int = 10,
                exclude: int | None = None) -> list[dict[str, Any]]:
    """Finished runs in ``state`` (but ``exclude``), newest first (``history --json`` shape)."""
    rows = state.runs(limit + 1)
    return [{"id": r.id, "started_at": r.started_at.isoformat(), "status": r.status,
             "summary": r.summary} for r in rows
            if r.id != exclude and r.finished_at is not None][:limit]


def runs_from_state(state_dir: Path | str, limit: int = 10) -> list[dict[str, Any]]:
    """``recent_runs`` of the state in ``state_dir``, which is never created here.

    No state yet, or state that cannot be read, gives no runs: a report never fails for
    want of a trend.
    """
    if not (Path(state_dir) / DB_NAME).is_file():
        return []
    try:
        with State.open(Path(state_dir)) as state:
            return recent_runs(state, limit)
    except FeedsyncError:
        return []


def render_html(report: Mapping[str, Any], *, specs: Mapping[str, ChannelSpec | None]
                | None = None, runs: Sequence[Mapping[str, Any]] = (),
                bounds: Bounds = DEFAULT_BOUNDS, page_dir: Path | None = None,
                generated: datetime | None = None) -> tuple[str, int, int]:
    """The page as text, with the issue rows and preview items it embeds."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    view = gather(report, specs if specs is not None else specs_for(report, None), runs,
                  bounds, when)
    text = render(view, page_dir)
    while len(text.encode("utf-8", "backslashreplace")) > bounds.max_bytes and shrink(view):
        text = render(view, page_dir)
    rows = sum(len(c.scan.rows) for c in view.channels if c.scan)
    rows += len(view.catalog.scan.rows) if view.catalog.scan else 0
    items = sum(len(p.items) for c in view.channels for p in c.previews)
    return text, rows, items


def write_html(report: Mapping[str, Any], path: Path | str, *, config: Config | None = None,
               runs: Sequence[Mapping[str, Any]] = (), bounds: Bounds = DEFAULT_BOUNDS,
               generated: datetime | None = None) -> HtmlResult:
    """Render ``report`` to ``path`` (temp name + rename; the previous page stays on failure)."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target} is a directory; give the report's file name",
                          file=str(target), tip="e.g. --html out/report.html")
    text, rows, items = render_html(report, specs=specs_for(report, config), runs=runs,
                                    bounds=bounds, page_dir=target.parent, generated=generated)
    data = text.encode("utf-8", "backslashreplace")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {target.parent}: {exc.strerror}",
                          file=str(target)) from exc
    with AtomicFile(target) as handle:
        handle.write(data)
    return HtmlResult(path=target, bytes=len(data), issue_rows=rows, preview_items=items)


def write_run_html(report: RunReport, path: Path | str, config: Config,
                   runs: Sequence[Mapping[str, Any]] | None = None) -> HtmlResult:
    """The page of a finished run (build, validate, push); its path goes into the report.

    ``runs`` defaults to the runs recorded in the config's state folder, if there is one.
    """
    if runs is None:
        runs = runs_from_state(config.state_dir, DEFAULT_BOUNDS.trend_runs)
    result = write_html(report.to_dict(), path, config=config, runs=runs)
    report.html = str(result.path)
    return result
