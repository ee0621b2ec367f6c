"""The terminal view of a ``RunReport``: what ``--json`` has, readable at 80 columns.

Every count that changes what reaches a channel is shown (issue 14 item 7): products
filtered out, the reserve, each supplemental join (matched, missing, orphan rows), the
category map's misses and each store stock file. "0 rejected" never stands alone when
products were filtered or a join matched nothing. Tables keep issue codes whole, shorten
URLs to their host and last segment, and elide long ids (item 8), so a narrow terminal
wraps text, not codes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from feedsync import pipeline
from feedsync.diff import DiffReport
from feedsync.report import ChannelReport, CodeSummary, RunReport

ID_WIDTH = 14        # an example id longer than this is elided in the middle
URL_WIDTH = 28
FIELD_WIDTH = 24
WIDE = 160           # columns from which nothing is shortened


def render_report(report: RunReport, console: Console) -> None:
    """Print the catalog line, the channel table, the controls and the top issues."""
    # A field no product has is a missing mapping, not N product errors: said first.
    for fix in dict.fromkeys(fix for c in report.channels for fix in c.missing_fix()):
        console.print(f"missing everywhere: {fix}", markup=False, highlight=False)
    _catalog(report, console)
    console.print(_channel_table(report))
    for line in part_lines(report) + translation_lines(report):
        console.print(line, markup=False, highlight=False)
    for line in control_lines(report):
        console.print(line, markup=False, highlight=False)
    for channel in report.channels:
        _top_issues(channel, console)
    for line in report.messages or []:
        console.print(line, markup=False)
    if report.html:
        console.print(f"HTML report: {report.html}", markup=False)


def _catalog(report: RunReport, console: Console) -> None:
    console.print(f"catalog {report.catalog} ({report.catalog_format}): "
                  f"{report.products_read:,} products read, {report.rows_skipped:,} rows "
                  "skipped", markup=False)
    for example in report.problem_examples[:5]:
        console.print(f"  skipped {example['file']}:{example['line']} [{example['code']}] "
                      f"{example['message']}", markup=False)


def _channel_table(report: RunReport) -> Table:
    # validate writes nothing: its count is of products that would be written.
    passed = "passed" if report.command == "validate" else "written"
    table = Table(box=None)
    for name in ("channel", passed, "rejected", "filtered", "warnings"):
        table.add_column(name, no_wrap=True, justify="left" if name == "channel" else "right")
    table.add_column("file", overflow="fold")
    folder = _common_folder(report)
    for channel in report.channels:
        files = [Path(f).name if folder else f for f in channel.files.values()]
        table.add_row(channel.target, f"{channel.written:,}", f"{channel.rejected:,}",
                      f"{channel.filtered:,}", f"{channel.warnings:,}",
                      ", ".join(files) or "-")
    if folder:
        table.caption = f"files in {folder}"
        table.caption_justify = "left"
    return table


def _common_folder(report: RunReport) -> str | None:
    """The one folder every feed went to: named once, so the table shows file names."""
    folders = {str(Path(f).parent) for c in report.channels for f in c.files.values()}
    return folders.pop() if len(folders) == 1 else None


def part_lines(report: RunReport) -> list[str]:
    """One line per output a channel's limits split into parts, with each part's items."""
    return [f"{channel.target} {output}: {len(parts)} parts, " + ", ".join(
                f"{Path(p['file']).name} ({p['items']:,} items)" for p in parts)
            for channel in report.channels for output, parts in channel.parts.items()
            if len(parts) > 1]


def translation_lines(report: RunReport) -> list[str]:
    """Per target with a translation file: how many products it had no translation for."""
    return [f"{c.target}: {c.untranslated:,} products with no translation "
            "(catalog.translations)" for c in report.channels if c.untranslated is not None]


def control_lines(report: RunReport) -> list[str]:
    """One line per control that changed what the channels got; warnings first-class."""
    lines: list[str] = []
    for channel in report.channels:
        if channel.filtered:
            lines.append(f"{channel.target}: {channel.filtered:,} products filtered out by "
                         "include/exclude (not rejected; not in the feed)")
        if channel.reserved:
            lines.append(f"{channel.target}: reserve applied to {channel.reserved:,} "
                         "products (quantity lowered)")
    controls = report.controls
    for join in controls.supplemental if controls else ():
        lines.append(f"join {join.path}: {join.rows:,} rows, {join.matched:,} products "
                     f"matched, {join.missing:,} without a row, {join.orphans:,} rows "
                     "without a product")
        if join.matched == 0 and report.products_read:
            lines.append(f"warning: join {join.path} matched no product: check its key "
                         "column against the catalog ids")
    mapping = controls.category_map if controls else None
    if mapping is not None:
        misses = ", ".join(f"{value!r} ({count:,})" for value, count in
                           list(mapping.unmapped_values.items())[:3])
        lines.append(f"category map {mapping.path}: {mapping.mapped:,} mapped, "
                     f"{mapping.unmapped_products:,} products not mapped"
                     + (f"; most common: {misses}" if misses else ""))
    for target, stock in (report.stock or {}).items():
        lines.append(f"{target} stock {stock.path}: {stock.rows:,} rows, "
                     f"{stock.products_matched:,} products matched, "
                     f"{stock.products_without_stock:,} without stock, "
                     f"{stock.ids_without_product:,} ids without a product")
    return lines


def _top_issues(channel: ChannelReport, console: Console) -> None:
    top = channel.top()
    if not top:
        return
    console.print(f"{channel.target}: top issues (full log: {channel.issue_log or '-'})",
                  markup=False)
    # A wide console (a pipe, a log file) keeps whole ids and URLs; a terminal cuts them.
    wide = console.width >= WIDE
    cut = (lambda text: text) if wide else elide
    link = (lambda text: text) if wide else short_url
    table = Table(box=None)
    # Codes, fields and ids are never broken inside; the source is cut short instead.
    code_width = max(len(s.code) for s in top)
    field_width = min(FIELD_WIDTH, max(len(s.field or "") for s in top) or 5)
    table.add_column("severity", no_wrap=True, min_width=8)
    table.add_column("code", no_wrap=True, min_width=code_width)
    table.add_column("count", no_wrap=True, justify="right", min_width=5)
    table.add_column("field", no_wrap=True, overflow="ellipsis", min_width=field_width)
    table.add_column("examples", no_wrap=True, min_width=min(ID_WIDTH, _widest(top)))
    table.add_column("source", overflow="fold",  # two lines at most on a terminal
                     max_width=None if wide else URL_WIDTH)
    for summary in top:
        table.add_row(summary.severity, summary.code, f"{summary.count:,}",
                      summary.field or "", "\n".join(cut(e) for e in summary.examples),
                      link(summary.source or ""))
    console.print(table)


def _widest(top: list[CodeSummary]) -> int:
    return max((len(elide(e)) for s in top for e in s.examples), default=8)


def elide(text: str, width: int = ID_WIDTH) -> str:
    """``VERY-LONG-PRODUCT-ID-0001`` -> ``VERY-L…ID-0001``: both ends stay readable."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def short_url(url: str, width: int = URL_WIDTH) -> str:
    """``https://support.google.com/merchants/answer/6324405`` ->
    ``support.google.com/…/6324405``: the host and the page, never wrapped."""
    parts = urlsplit(url)
    if not parts.netloc:
        return elide(url, width)
    segments = [s for s in parts.path.split("/") if s]
    text = parts.netloc + ("/…/" + segments[-1] if len(segments) > 1 else
                           "/" + segments[0] if segments else "")
    return elide(text, width)


class ProductRateColumn(ProgressColumn):
    """Products per second since the start: the rate a merchant thinks in."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        products = int(task.fields.get("products", 0))
        if elapsed <= 0 or products == 0:
            return Text("- products/s")
        return Text(f"{products / elapsed:,.0f} products/s")


def catalog_progress(console: Console) -> tuple[Progress, Callable[[pipeline.Progress], None]]:
    """A progress bar for reading the catalog, and the callback that moves it.

    The bar, the transfer speed and the time remaining come from bytes read (rich's own
    columns), so the ETA holds for any catalog format; the count and rate are products.
    """
    bar = Progress(TextColumn("[bold]reading catalog"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TextColumn("{task.fields[products]:,} products"),
                   ProductRateColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task("catalog", total=None, products=0)

    def update(event: pipeline.Progress) -> None:
        bar.update(task, completed=event.bytes_read, total=event.bytes_total or None,
                   products=event.products)

    return bar, update


def render_diff(report: DiffReport, console: Console) -> None:
    """``feedsync diff``: the counts, the attributes that changed most, the first ids."""
    console.print(f"{report.old} ({report.old_items:,} items) -> {report.new} "
                  f"({report.new_items:,} items), {report.format}", markup=False)
    console.print(f"{report.added:,} added, {report.removed:,} removed, {report.changed:,} "
                  f"changed, {report.unchanged:,} unchanged", markup=False)
    if report.attributes:
        table = Table("attribute", "items changed", box=None)
        for name, count in report.attributes.most_common(15):
            table.add_row(name, f"{count:,}")
        console.print(table)
    for label, ids in (("added", report.added_ids), ("removed", report.removed_ids)):
        if ids:
            console.print(f"{label}: " + ", ".join(elide(i, 24) for i in ids), markup=False)
    for change in report.changes[:5]:
        for name, (old, new) in change.attributes.items():
            console.print(f"changed {elide(change.id, 24)} {name}: {old!r} -> {new!r}",
                          markup=False)
