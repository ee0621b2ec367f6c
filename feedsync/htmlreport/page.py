"""The HTML document: one file, inline CSS, SVG and a small script, no request anywhere.

Escaping happens in exactly two functions: ``esc`` (every text and attribute value) and
``link`` (a value becomes an ``href`` only when it is a plain http(s) URL; anything else,
``javascript:`` included, is shown as text). A Content-Security-Policy allows only this
page's own style and script (by hash) and no loads at all, so even a mistake in escaping
could not run a script or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from feedsync.htmlreport.fixes import fix_for
from feedsync.htmlreport.gather import CatalogView, ChannelView, PageView, TrendPoint
from feedsync.htmlreport.preview import Preview, PreviewItem
from feedsync.htmlreport.scan import CodeStats, IssueRow, LogScan
from feedsync.htmlreport.svg import bar, donut, sparkline, trend_chart

_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f<>\"'`\\]+\Z", re.IGNORECASE)
_SEVERITIES = {"error": "Error", "warning": "Warning", "hint": "Hint"}
_ID_NAMES = ("sku", "id", "g:id", "sku_id", "offer_id")  # what an item is called, by format
_FORMAT_NAMES = {"rss": "RSS/XML", "csv": "CSV", "tsv": "tab-separated text",
                 "jsonl": "JSON Lines", "json": "JSON", "amazon_listings": "Amazon JSON listings"}


def esc(value: object) -> str:
    """Text for element content or a quoted attribute: & < > " ' escaped."""
    text = str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def link(url: object, text: object | None = None) -> str:
    """A link when ``url`` is a plain http(s) URL; otherwise the value as text."""
    value = str(url or "")
    shown = esc(value if text is None else text)
    if not _HTTP_URL.match(value):
        return shown
    return f'<a href="{esc(value)}" rel="noopener noreferrer nofollow" target="_blank">{shown}</a>'


def file_link(path: str, page_dir: Path | None, text: str) -> str:
    """A relative link to one of our own files (an issue log) beside the page."""
    if page_dir is None:
        return esc(text)
    try:
        relative = os.path.relpath(Path(path).absolute(), page_dir.absolute())
    except ValueError:  # another drive on Windows
        return esc(text)
    return f'<a href="{esc(quote(Path(relative).as_posix()))}">{esc(text)}</a>'


def _asset(name: str) -> str:
    return (resources.files("feedsync.htmlreport") / "assets" / name).read_text("utf-8")


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def render(view: PageView, page_dir: Path | None) -> str:
    """The whole document for ``view``; links to logs are relative to ``page_dir``."""
    css, script = _asset("report.css"), _asset("report.js")
    policy = (f"default-src 'none'; style-src '{_hash(css)}'; script-src '{_hash(script)}'; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    title = f"Feed diagnostics – {Path(view.catalog.path).name or view.command}"
    body = [_header(view), '<main class="wrap">', _cards(view.channels, _written_word(view))]
    if view.catalog.skipped or (view.catalog.scan and view.catalog.scan.issues):
        body.append(_catalog(view.catalog, view, page_dir))
    if view.deliveries:
        body.append(_deliveries(view.deliveries))
    body += [_channel(c, view, page_dir) for c in view.channels]
    body += ["</main>", _footer(view)]
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">',
        '<meta name="referrer" content="no-referrer">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title><style>{css}</style></head><body>\n",
        "\n".join(body),
        f"\n<script>{script}</script></body></html>\n"])


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(share: float) -> str:
    """Rounded down: 100% only when complete."""
    return f"{math.floor(share * 100 + 1e-9)}%"


def _header(view: PageView) -> str:
    cat = view.catalog
    parts = [f"<span>{esc(view.command)}</span>",
             f"<span>catalog <b>{esc(cat.path)}</b> ({esc(cat.format or '?')})</span>",
             f"<span><b data-kpi=\"read\">{_n(cat.read)}</b> products read</span>",
             f'<span class="{"bad" if cat.skipped else ""}"><b data-kpi="skipped">'
             f"{_n(cat.skipped)}</b> rows skipped</span>",
             f"<span>exit code <b>{view.exit_code}</b></span>",
             f"<span>{esc(view.generated)}</span>"]
    return ('<header class="top"><div class="wrap"><div class="brand">feedsync</div>'
            f'<h1>Feed diagnostics</h1><p class="meta">{"".join(parts)}</p></div></header>')


def _delta(points: list[TrendPoint], key: str, good_up: bool) -> str:
    if len(points) < 2:
        return ""
    before, now = points[-2], points[-1]
    change = getattr(now, key) - getattr(before, key)
    if change == 0:
        return f'<span class="delta">= {esc(before.run)}</span>'
    css = ("up" if change > 0 else "down") + ("-good" if (change > 0) == good_up else "-bad")
    sign = "+" if change > 0 else "−"
    return (f'<span class="delta {css}" data-delta="{key}">{sign}{_n(abs(change))} vs run '
            f"{esc(before.run.lstrip('#'))}</span>")


def _written_word(view: PageView) -> str:
    """validate writes nothing: its count is of products that would be written."""
    return "Passed" if view.command == "validate" else "Written"


def _cards(channels: list[ChannelView], written: str) -> str:
    cards = []
    for c in channels:
        spark = sparkline([p.written for p in c.trend], [p.rejected for p in c.trend])
        trend = (f'<div class="spark-line">{spark}{_delta(c.trend, "written", True)}</div>'
                 if spark else "")
        score = c.quality.score if c.quality else None
        cards.append(
            f'<a class="card" href="#ch-{esc(c.target)}" data-target="{esc(c.target)}">'
            f"{donut(score)}<div><div class=\"name\">{esc(c.target)}</div>"
            f'<div class="sub">{esc(c.title)}</div><dl class="mini">'
            + _mini(written, "written", c.counts["written"])
            + _mini("Rejected", "rejected", c.counts["rejected"])
            + _mini("Warnings", "warnings", c.counts["warnings"])
            + f"</dl>{trend}</div></a>")
    if not cards:
        return '<p class="empty-state">No channel in this run.</p>'
    return ('<section class="overview"><h2 class="sr">Channels</h2><div class="cards">'
            + "".join(cards) + "</div></section>")


def _mini(label: str, key: str, value: int) -> str:
    return f'<div><dt>{label}</dt><dd data-kpi="{key}">{_n(value)}</dd></div>'


def _channel(c: ChannelView, view: PageView, page_dir: Path | None) -> str:
    files = " · ".join(esc(Path(p).name) for p in c.files.values()) or "no feed file written"
    docs = f" · {link(c.docs, 'channel specification')}" if c.docs else ""
    head = (f'<div class="section-head"><h2>{esc(c.target)}</h2>'
            f'<span class="muted">{esc(c.title)}{docs}</span>'
            f'<span class="files muted">{files}</span></div>')
    return (f'<section class="channel" id="ch-{esc(c.target)}" data-target="{esc(c.target)}">'
            + head + _missing(c) + _kpis(c, _written_word(view)) + '<div class="row2">'
            + _quality(c, _written_word(view)) + _trend(c) + "</div>"
            + _codes(c.codes, c.hidden_codes, f"t-{c.target}", c.scan is None)
            + _fills(c, view.bounds.fill_fields_per_channel)
            + _table(f"t-{c.target}", c.scan, c.issue_log, sum(c.issues.values()), view,
                     page_dir)
            + _previews(c) + "</section>")


def _missing(c: ChannelView) -> str:
    """A field no product has is one missing mapping: said before the counts."""
    if not c.missing_everywhere:
        return ""
    items = "".join(f"<li>{esc(fix)}</li>" for fix in c.missing_everywhere)
    return f'<ul class="missing-everywhere" data-missing="{len(c.missing_everywhere)}">' \
           f"{items}</ul>"


def _kpis(c: ChannelView, written: str) -> str:
    boxes = [("written", written, True), ("rejected", "Rejected", False),
             ("warnings", "Warnings", False), ("hints", "Hints", False),
             ("filtered", "Filtered out", False)]
    html = []
    for key, label, good_up in boxes:
        delta = _delta(c.trend, key, good_up) if key in ("written", "rejected") else ""
        html.append(f'<div class="kpi {key}"><span class="label">{label}</span>'
                    f'<span class="value" data-kpi="{key}">{_n(c.counts[key])}</span>'
                    f"{delta}</div>")
    return '<div class="kpis">' + "".join(html) + "</div>"


def _quality(c: ChannelView, written: str) -> str:
    q = c.quality
    if q is None:
        reason = ("no fill counts in this report" if c.fill is None
                  else "no product reached this channel")
        return (f'<div class="panel quality"><h3>Quality score</h3>'
                f'<div class="score-box">{donut(None, 96)}<p class="empty-state">'
                f"Not scored: {reason}.</p></div></div>")
    parts = [(f"Products {written.lower()}", q.written_share),
             (f"Required fields ({len(c.roles.required)})", q.required_fill),
             (f"Recommended fields ({len(c.roles.recommended)})", q.recommended_fill)]
    rows = "".join(
        f'<div class="part" data-part="{i}"><span>{label}</span>'
        f'{bar(share, _health(float(share)))}'
        f'<span class="pct">{_pct(float(share))}</span></div>'
        for i, (label, share) in enumerate(parts))
    return (f'<div class="panel quality"><h3>Quality score</h3><div class="score-box">'
            f'{donut(q.score, 96)}<div class="parts">{rows}</div></div>'
            '<p class="note">score = ⌊100 × (0.60 × written share + 0.25 × required fill '
            "+ 0.15 × recommended fill)⌋; see docs/report.md.</p></div>")


def _health(share: float) -> str:
    """Bar colour of a share that should be full: green, amber or red."""
    return "good" if share >= 0.95 else "fair" if share >= 0.7 else "poor"


def _plural(count: int, word: str) -> str:
    return f"{_n(count)} {word}" if count == 1 else f"{_n(count)} {word}s"


def _trend(c: ChannelView) -> str:
    if len(c.trend) < 2:
        return ('<div class="panel trend"><h3>Trend</h3><p class="empty-state">'
                "No earlier runs of this channel in the state folder yet; "
                "<code>feedsync push</code> records each run.</p></div>")
    labels = [p.run for p in c.trend]
    chart = trend_chart(labels, [p.written for p in c.trend], [p.rejected for p in c.trend])
    return ('<div class="panel trend"><h3>Trend</h3>' + chart
            + '<div class="legend"><span><i class="l-written"></i>written</span>'
            '<span><i class="l-rejected"></i>rejected</span></div></div>')


def _severity(severity: str) -> str:
    css = severity if severity in _SEVERITIES else "other"
    return f'<span class="sev sev-{css}">{esc(_SEVERITIES.get(severity, severity))}</span>'


def _codes(codes: list[CodeStats], hidden: tuple[int, int], table_id: str,
           no_log: bool, unit: str = "product") -> str:
    if not codes:
        return ('<div class="panel"><h3>Issues by code</h3>'
                '<p class="ok-state">No issues: every product passed every rule.</p></div>')
    top = max(max(c.products, c.issues) if c.products < 0 else c.products for c in codes)
    rows = []
    for c in codes:
        measure = c.issues if c.products < 0 else c.products
        css = f"sev-{c.severity}" if c.severity in _SEVERITIES else ""
        fields = f'<span class="fields">{esc(", ".join(c.fields))}</span>' if c.fields else ""
        source = f" · {link(c.source, 'rule source')}" if c.source else ""
        example = (f'<div class="example">e.g. “{esc(c.message)}”{source}</div>'
                   if c.message or source else "")
        products = f"{unit} count unknown" if c.products < 0 else _plural(c.products, unit)
        rows.append(
            f'<tr data-code="{esc(c.code)}" data-severity="{esc(c.severity)}" '
            f'data-issues="{c.issues}" data-products="{c.products}">'
            f"<td>{_severity(c.severity)}</td><td>"
            f'<a class="code" href="#{esc(table_id)}" data-search="{esc(c.code)}">'
            f"{esc(c.code)}</a>{fields}"
            f'<div class="fix"><b>How to fix:</b> {esc(fix_for(c.code, c.message))}</div>'
            f"{example}</td>"
            f'<td class="bar-cell">{bar(measure / max(top, 1), css)}'
            f'<span class="n">{products}</span></td>'
            f'<td class="num issues-count">{_n(c.issues)}</td></tr>')
    more = ""
    if hidden[0]:
        more = (f'<p class="note">{_n(hidden[0])} more codes with {_n(hidden[1])} issues '
                "are in the issue log.</p>")
    lead = (f"Most {unit}s affected first. Click a code to list them."
            if not no_log else "No issue log was written (run with --out to keep one): "
            "counts only.")
    return ('<div class="panel"><h3>Issues by code</h3>'
            f'<p class="lead">{lead}</p><div class="table-scroll"><table class="codes">'
            '<thead><tr><th>Severity</th><th>Issue and how to fix it</th>'
            f'<th>{unit.capitalize()}s affected</th><th class="num">Issues</th></tr></thead>'
            '<tbody>'
            + "".join(rows) + f"</tbody></table></div>{more}</div>")


def _fills(c: ChannelView, limit: int) -> str:
    fill = c.fill
    if fill is None:
        return ""
    if c.evaluated <= 0:
        return ('<div class="panel"><h3>Attribute fill rates</h3><p class="empty-state">'
                "No product was mapped for this channel.</p></div>")
    groups: dict[str, list[str]] = {"Required": [], "Recommended": [], "Optional": []}
    for name in sorted(fill, key=lambda n: (-fill.get(n, 0), n)):
        kind = ("Required" if name in c.roles.required else
                "Recommended" if name in c.roles.recommended else "Optional")
        groups[kind].append(name)
    html, shown = [], 0
    for kind, names in groups.items():
        names = names[: max(limit - shown, 0)]
        shown += len(names)
        if names:
            html.append(f"<h4>{kind}</h4>")
            html += [_fill_row(name, fill.get(name, 0), c.evaluated, kind) for name in names]
    more = (f'<p class="note">{len(fill) - shown} more fields are in the JSON report.</p>'
            if len(fill) > shown else "")
    return ('<div class="panel"><h3>Attribute fill rates</h3>'
            f'<p class="lead">Share of the {_n(c.evaluated)} products mapped for this channel '
            "that carry each attribute. Required and recommended attributes count in the "
            "quality score.</p>"
            '<div class="legend"><span><i class="l-good"></i>95% or more</span>'
            '<span><i class="l-fair"></i>70–95%</span><span><i class="l-poor"></i>under 70%'
            '</span><span><i class="l-other"></i>optional</span></div>'
            f'<div class="fills">{"".join(html)}</div>{more}</div>')


def _fill_row(name: str, filled: int, evaluated: int, kind: str) -> str:
    count = min(max(filled, 0), evaluated)
    share = count / evaluated
    css = _health(share) if kind != "Optional" or count == evaluated else ""
    return (f'<div class="fill-row" data-field="{esc(name)}" data-filled="{count}">'
            f'<span class="fname" title="{esc(name)}">{esc(name)}</span>'
            f'{bar(share, css)}<span class="pct"><b>{_pct(share)}</b> '
            f"{_n(count)}/{_n(evaluated)}</span></div>")


def _issue_rows(rows: Iterable[IssueRow]) -> str:
    out = []
    for r in rows:
        where = esc(f"{Path(r.file).name}:{r.line}" if r.line is not None else r.file)
        out.append(f'<tr data-severity="{esc(r.severity)}"><td>{_severity(r.severity)}</td>'
                   f'<td class="id">{esc(r.product_id) or "–"}</td>'
                   f'<td class="where">{where}</td>'
                   f'<td class="field">{esc(r.field)}</td>'
                   f'<td class="msg"><span class="code">{esc(r.code)}</span>'
                   f"{esc(r.message)}</td></tr>")
    return "".join(out)


def _table(block_id: str, scan: LogScan | None, log: str | None, total: int, view: PageView,
           page_dir: Path | None, title: str = "Affected products") -> str:
    if scan is None or not scan.rows:
        if scan is not None and scan.missing:
            text = f"The issue log {esc(log or '')} is no longer there."
        elif total:
            text = "No issue log was written (run with --out to keep one)."
        else:
            text = "No product has an issue."
        return f'<div class="panel"><h3>{title}</h3><p class="empty-state">{text}</p></div>'
    shown = len(scan.rows)
    log_name = Path(scan.path).name
    note = (f"This page holds {_n(shown)} of {_n(scan.issues)} issues "
            + ("(all of them). " if shown == scan.issues else
               "(a few examples of every code, then the first in catalog order). ")
            + f"Every issue: {file_link(scan.path, page_dir, log_name)} "
            f'<span class="mono">({esc(scan.path)})</span>, one JSON object per line.')
    return (f'<div class="panel issues-block" id="{esc(block_id)}" '
            f'data-page-size="{view.bounds.page_rows}"><h3>{title}</h3>'
            '<div class="toolbar" hidden><input type="search" '
            'placeholder="Search id, field, code or message…" aria-label="Search issues">'
            '<span class="status"></span></div>'
            '<div class="table-scroll"><table class="issues"><thead><tr><th>Severity</th>'
            "<th>Product id</th><th>Where</th><th>Field</th><th>Issue</th></tr></thead><tbody>"
            + _issue_rows(scan.rows) + "</tbody></table></div>"
            '<div class="pager" hidden><button type="button" data-page="prev">‹ Previous'
            '</button><span class="page-info"></span><button type="button" data-page="next">'
            f'Next ›</button></div><p class="note">{note}</p></div>')


def _previews(c: ChannelView) -> str:
    if not c.previews:
        return ""
    return "".join(_preview(p, c.title) for p in c.previews)


def _preview(p: Preview, title: str) -> str:
    name = esc(Path(p.path).name)
    fmt = _FORMAT_NAMES.get(p.format, p.format)
    if p.error:
        body = f'<p class="empty-state">{name}: {esc(p.error)}.</p>'
    elif not p.items:
        body = f'<p class="empty-state">{name} holds no items.</p>'
    else:
        body = "".join(_item(item, i == 0, p.format) for i, item in enumerate(p.items))
    count = ("first item" if len(p.items) == 1 else f"first {len(p.items)} items"
             if p.items else "items")
    return ('<div class="panel preview" data-output="' + esc(p.output) + '">'
            f"<h3>Feed preview: {name}</h3>"
            f'<p class="lead">The {count} of {name} ({esc(fmt)}), read back from the file '
            f"exactly as {esc(title)} receives them.</p>{body}</div>")


def _item(item: PreviewItem, first: bool, fmt: str) -> str:
    filled = [(k, v) for k, v in item.pairs if v]
    empty = [k for k, v in item.pairs if not v]
    named = dict(filled)
    ident = next((named[k] for k in _ID_NAMES if named.get(k)),
                 filled[0][1] if filled else "(empty item)")
    title = _plain(next((v for k, v in filled if "title" in k or "item_name" in k), ""))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{link(v)}</td></tr>" for k, v in filled)
    empties = (f'<p class="empties">Empty: {esc(", ".join(empty))}</p>' if empty else "")
    raw = (f'<details class="raw"><summary>As written ({esc(_FORMAT_NAMES.get(fmt, fmt))})'
           f"</summary><pre>{esc(item.raw)}</pre></details>" if item.raw else "")
    return (f'<details class="item"{" open" if first else ""}><summary><b>{esc(ident)}</b>'
            f'{esc(title)}</summary><div class="body"><table class="kv">{rows}</table>'
            f"{empties}{raw}</div></details>")


def _plain(value: str) -> str:
    """Amazon's ``[{"value": …, "language_tag": …}]`` as its value, for an item's heading."""
    if value.startswith('[{"value"'):
        try:
            return str(json.loads(value)[0]["value"])
        except (ValueError, LookupError, TypeError):
            pass
    return value


def _catalog(cat: CatalogView, view: PageView, page_dir: Path | None) -> str:
    codes = cat.scan.codes[: view.bounds.codes_per_channel] if cat.scan else \
        [CodeStats(code=k, severity="error", issues=v, products=v)
         for k, v in sorted(cat.problems.items(), key=lambda kv: -kv[1])]
    return ('<section class="catalog" id="catalog"><div class="section-head">'
            f"<h2>Catalog rows skipped</h2><span class=\"muted\">{_n(cat.skipped)} rows of "
            f"{esc(cat.path)} could not be read and were left out of every channel</span>"
            "</div>" + _codes(codes, (0, 0), "t-catalog", cat.scan is None, "row")
            + _table("t-catalog", cat.scan, cat.issue_log, cat.skipped, view, page_dir,
                     "Skipped rows") + "</section>")


def _deliveries(deliveries: list[dict[str, object]]) -> str:
    rows = "".join(
        f"<tr><td>{esc(d.get('channel', ''))}</td><td>{esc(d.get('destination', ''))}</td>"
        f"<td>{esc(d.get('status', ''))}</td>"
        f"<td class=\"num\">{_n(int(str(d.get('items') or 0)))}</td>"
        f"<td>{esc(d.get('error') or '')}</td></tr>" for d in deliveries)
    return ('<div class="panel"><h3>Deliveries</h3><div class="table-scroll">'
            '<table class="deliveries"><thead><tr><th>Channel</th><th>Destination</th>'
            '<th>Status</th><th class="num">Items</th><th>Error</th></tr></thead><tbody>'
            + rows + "</tbody></table></div></div>")


def _footer(view: PageView) -> str:
    b = view.bounds
    return ('<footer class="wrap"><p>Made by feedsync. This file is self-contained: it loads '
            "nothing from the network and can be mailed as it is.</p>"
            f"<p>Page bounds: at most {_n(b.issue_rows)} issue rows "
            f"({_n(b.issue_rows_per_channel)} per channel) and {b.preview_items} preview items "
            f"({b.preview_items_per_channel} per channel), texts cut to {b.text} characters; "
            "the issue logs hold everything.</p></footer>")
