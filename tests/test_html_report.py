"""The HTML diagnostics report without a browser: bounds, escaping, score, hooks.

Pages are parsed with lxml's HTML parser and read as a user would: the tables' rows,
the numbers in them, the links. The browser tests (test_html_report_browser.py) load
the same pages in Chromium.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from feedsync import build
from feedsync.channels.loader import ChannelLibrary
from feedsync.config import parse_config
from feedsync.errors import ConfigError, TemplateError
from feedsync.htmlreport import Bounds, esc, link, render_html, write_html
from feedsync.htmlreport.fixes import FIXES, fix_for
from feedsync.htmlreport.gather import share
from feedsync.htmlreport.preview import read_preview
from feedsync.htmlreport.quality import FieldRoles, quality, roles_of
from feedsync.htmlreport.scan import scan_log
from feedsync.model import Issue
from feedsync.push import push
from tests.helpers import COLUMNS, EXAMPLES, REPO, run_cli
from tests.test_channels_amazon import SELLER

# Shop exports often hold HTML as entities; the channel's plain-text filter decodes them,
# so this title reaches the feed (and the page) as a real <script> tag.
HOSTILE_TITLE = "<script>window.__pwned = 1</script>Hostile mug"
HOSTILE_TITLE_IN_CATALOG = "&lt;script&gt;window.__pwned = 1&lt;/script&gt;Hostile mug"
HOSTILE_LABEL = "<script>window.__pwned = 5</script>"
HOSTILE_ID = '"><img src=x onerror="window.__pwned=2">'


def page_of(path: Path) -> Any:
    return lxml_html.fromstring(path.read_bytes())


def write_catalog(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS + ["custom_label_0"])
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS + ["custom_label_0"]})
    return path


def hostile_rows() -> list[dict[str, str]]:
    base = {"description": "A mug.", "image_link": "https://cdn.example.com/m.jpg",
            "price": "9.50", "currency": "USD", "availability": "in_stock",
            "condition": "new", "brand": "Nordwind"}
    return [
        {**base, "id": "HOSTILE-1", "title": HOSTILE_TITLE_IN_CATALOG,
         "link": "https://shop.example.com/p/1", "custom_label_0": HOSTILE_LABEL},
        {**base, "id": "HOSTILE-5", "title": "Label link mug",
         "link": "https://shop.example.com/p/5", "custom_label_0": "javascript:alert(1)"},
        {**base, "id": HOSTILE_ID, "title": "Quote mug",
         "link": "https://shop.example.com/p/2\"><script>window.__pwned=4</script>"},
        {**base, "id": "HOSTILE-3", "title": "Script link mug",
         "link": "javascript:window.__pwned=3"},
        {**base, "id": "HOSTILE-4", "title": "No price", "price": "",
         "link": "https://shop.example.com/p/4"},
    ]


def synthetic_log(path: Path, issues: int, channel: str = "google") -> dict[str, int]:
    """A real-format issue log: about 2.5 issues per product, a dozen codes."""
    codes = [("missing-required", "error", "gtin"), ("bad-gtin", "error", "gtin"),
             ("too-long", "error", "title"), ("all-caps", "warning", "title"),
             ("promotional-text", "warning", "title"), ("bad-url", "error", "link")]
    counts: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as handle:
        for n in range(issues):
            code, severity, field = codes[n % len(codes)]
            product = n * 2 // 5
            issue = Issue(code=code, severity=severity,  # type: ignore[arg-type]
                          message=f"{field} of SKU-{product} fails {code}", channel=channel,
                          product_id=f"SKU-{product}", file="catalog.csv", line=product + 2,
                          field=field, source="https://support.google.com/merchants/answer/1")
            handle.write(json.dumps(issue.to_dict()) + "\n")
            counts[code] = counts.get(code, 0) + 1
    return counts


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """examples/ built for Google, its issue log replaced by one of 100,000 issues."""
    out = tmp_path_factory.mktemp("big")
    report = build(EXAMPLES, ["google"], out, parse_config({"jobs": 1})).to_dict()
    entry = report["channels"]["google"]
    entry["issues"] = synthetic_log(Path(entry["issue_log"]), 100_000)
    return report, out


# --- bounds -------------------------------------------------------------------------------

def test_100k_issues_embed_at_most_the_row_bound_and_link_the_log(
        big_report: tuple[dict[str, Any], Path]) -> None:
    report, out = big_report
    result = write_html(report, out / "report.html")
    bounds = Bounds()
    page = page_of(result.path)
    rows = page.xpath('//*[@id="t-google"]//table[@class="issues"]/tbody/tr')
    assert len(rows) == result.issue_rows == bounds.issue_rows_per_channel
    assert result.bytes <= bounds.max_bytes
    log_links = page.xpath('//*[@id="t-google"]//a[@href="google.issues.jsonl"]')
    assert log_links, "the table links to the full issue log beside the page"
    note = page.xpath('string(//*[@id="t-google"]//p[@class="note"])')
    assert "1,000 of 100,000 issues" in note
    # The chart still counts every issue, and products affected exactly.
    codes = {tr.get("data-code"): tr for tr in page.xpath('//table[@class="codes"]/tbody/tr')}
    assert {c: int(tr.get("data-issues")) for c, tr in codes.items()} == \
        report["channels"]["google"]["issues"]
    assert int(codes["bad-gtin"].get("data-products")) == len(
        {n * 2 // 5 for n in range(100_000) if n % 6 == 1})


def test_every_shown_code_has_example_rows(big_report: tuple[dict[str, Any], Path]) -> None:
    report, out = big_report
    bounds = Bounds(issue_rows=30, issue_rows_per_channel=30)
    text, rows, _ = render_html(report, runs=(), bounds=bounds, page_dir=out)
    page = lxml_html.fromstring(text)
    shown = {tr.text_content() for tr in page.xpath('//table[@class="issues"]//td[@class="msg"]'
                                                    '/span[@class="code"]')}
    assert shown == set(report["channels"]["google"]["issues"])
    assert rows == 30


def test_hostile_text_keeps_the_page_under_its_byte_bound(tmp_path: Path) -> None:
    report = build(EXAMPLES, ["google"], tmp_path, parse_config({"jobs": 1})).to_dict()
    entry = report["channels"]["google"]
    hostile = "\"'<&>" * 100
    with open(entry["issue_log"], "w", encoding="utf-8") as handle:
        for n in range(5000):
            issue = Issue(code=f"code-{n % 40}", severity="error", message=hostile,
                          channel="google", product_id=hostile + str(n), file=hostile,
                          line=n, field=hostile, source="https://example.com/" + hostile)
            handle.write(json.dumps(issue.to_dict()) + "\n")
    entry["issues"] = {f"code-{k}": 125 for k in range(40)}
    bounds = Bounds(max_bytes=400_000)
    text, rows, items = render_html(report, runs=(), bounds=bounds, page_dir=tmp_path)
    size = len(text.encode("utf-8"))
    assert size <= bounds.max_bytes
    assert 0 < rows < bounds.issue_rows_per_channel  # halved until it fitted
    page = lxml_html.fromstring(text)
    note = page.xpath('string(//*[@id="t-google"]//p[@class="note"])')
    assert f"{rows:,} of 5,000 issues" in note


def test_share_splits_a_budget_by_need() -> None:
    assert share([10, 5000, 5000], 2500, 1000) == [10, 1000, 1000]
    assert share([5000] * 5, 2500, 1000) == [500] * 5
    assert share([0, 3], 100, 10) == [0, 3]
    assert sum(share([7, 7, 7], 10, 10)) == 10


# --- escaping -----------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "javascript:alert(1)", " javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "https://x.example/\"><script>x</script>",
    "https://x.example/a\nb", "//evil.example/", "vbscript:msgbox", "http://x.example/ a"])
def test_only_plain_http_urls_become_links(url: str) -> None:
    assert "<a " not in link(url)
    assert "<script" not in link(url) and "\"" not in link(url).replace("&quot;", "")


def test_http_urls_become_escaped_links() -> None:
    markup = link("https://shop.example.com/p?a=1&b=2")
    assert markup.startswith('<a href="https://shop.example.com/p?a=1&amp;b=2"')
    assert 'rel="noopener noreferrer nofollow"' in markup


def test_esc_escapes_text_and_attribute_characters() -> None:
    assert esc("<a href='x'>\"&") == "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;"


def test_hostile_products_are_text_everywhere(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "hostile.csv", hostile_rows())
    config = parse_config({"jobs": 1, "channels": {"google": {}, "meta": {}}})
    report = build(catalog, [], tmp_path / "out", config).to_dict()
    result = write_html(report, tmp_path / "out" / "report.html", config=config)
    page = page_of(result.path)
    scripts = page.xpath("//script")
    assert len(scripts) == 1 and "__pwned" not in scripts[0].text
    assert not [e for e in page.iter() if any(a.lower().startswith("on") for a in e.attrib)]
    assert not page.xpath("//img | //iframe | //object | //embed")
    for anchor in page.xpath("//a[@href]"):
        href = anchor.get("href")
        assert href.startswith(("https://", "http://", "#")) or href.endswith(".jsonl"), href
        assert "__pwned" not in href
    text = page.text_content()
    assert HOSTILE_TITLE in text           # shown literally in the preview
    assert HOSTILE_LABEL in text
    assert HOSTILE_ID in text              # in the issue table
    assert "javascript:alert(1)" in text   # a javascript: value is text, not a link


def test_content_security_policy_allows_only_the_pages_own_script(tmp_path: Path) -> None:
    report = build(EXAMPLES, ["google"], tmp_path, parse_config({"jobs": 1})).to_dict()
    page = page_of(write_html(report, tmp_path / "r.html").path)
    policy = page.xpath('string(//meta[@http-equiv="Content-Security-Policy"]/@content)')
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy


# --- the quality score --------------------------------------------------------------------

def test_quality_score_formula() -> None:
    roles = FieldRoles(required=("a", "b"), recommended=("c",))
    q = quality(8, 2, 10, {"a": 10, "b": 5, "c": 0}, roles)
    assert q is not None
    assert (q.written_share, q.required_fill, q.recommended_fill) == (
        Fraction(4, 5), Fraction(3, 4), Fraction(0))
    assert q.score == 66  # floor(100 * (0.6*0.8 + 0.25*0.75 + 0.15*0)) = floor(66.75)


def test_quality_score_edges() -> None:
    roles = FieldRoles(required=("a",), recommended=("c",))
    perfect = quality(5, 0, 5, {"a": 5, "c": 5}, roles)
    assert perfect is not None and perfect.score == 100
    almost = quality(999, 1, 1000, {"a": 1000, "c": 1000}, roles)
    assert almost is not None and almost.score == 99  # rounded down: 100 only when complete
    assert quality(0, 0, 0, {}, roles) is None
    nothing_mapped = quality(0, 3, 0, {"a": 0}, roles)
    assert nothing_mapped is not None and nothing_mapped.score == 0
    no_roles = quality(1, 1, 2, {}, FieldRoles())
    assert no_roles is not None and no_roles.score == 70  # 0.6*0.5 + 0.25 + 0.15


def test_field_roles_come_from_the_channel_file() -> None:
    library = ChannelLibrary()
    google = roles_of(library.load("google"))
    # title is required as "title or structured_title" (an item check), not a field rule
    assert {"id", "price", "link", "image_link"} <= set(google.required)
    assert {"brand", "gtin", "mpn", "color"} <= set(google.recommended)
    assert roles_of(library.load("microsoft")).recommended == google.recommended  # extends
    meta = roles_of(library.load("meta"))
    assert "availability" in meta.required  # Meta rejects an item without it
    assert not set(meta.required) & set(meta.recommended)


def test_recommended_must_name_fields(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "channel.yaml").write_text(
        "extends: google\nrecommended: [brand, no_such_field]\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        ChannelLibrary([tmp_path]).load("mine")
    assert caught.value.key == "recommended"


# --- scanning and preview -----------------------------------------------------------------

def test_products_affected_counts_each_product_once(tmp_path: Path) -> None:
    log = tmp_path / "x.issues.jsonl"
    entries = [("P1", 2, "too-long", "title"), ("P1", 2, "too-long", "description"),
               ("P1", 2, "bad-gtin", "gtin"), ("P2", 3, "too-long", "title"),
               ("P1", 4, "too-long", "title")]  # the same id on another line: another row
    log.write_text("".join(json.dumps({"code": c, "severity": "error", "product_id": p,
                                       "file": "c.csv", "line": n, "field": f,
                                       "message": "m"}) + "\n"
                           for p, n, c, f in entries) + "not json\n", encoding="utf-8")
    scan = scan_log(log, 10)
    by_code = {s.code: s for s in scan.codes}
    assert (by_code["too-long"].issues, by_code["too-long"].products) == (4, 3)
    assert by_code["too-long"].fields == ["title", "description"]
    assert scan.codes[0].code == "too-long"  # most products affected first
    assert scan.unreadable == 1 and len(scan.rows) == 5


def test_filter_entries_are_not_issues(tmp_path: Path) -> None:
    log = tmp_path / "x.issues.jsonl"
    log.write_text(json.dumps({"code": "exclude-filter", "severity": "hint"}) + "\n",
                   encoding="utf-8")
    scan = scan_log(log, 10)
    assert (scan.issues, scan.filtered, scan.rows) == (0, 1, [])


def every_channel_config() -> dict[str, Any]:
    return {"jobs": 1, "channels": {
        "google": {}, "meta": {}, "microsoft": {}, "pinterest": {}, "tiktok": {},
        "google_local_inventory": {"stock": str(REPO / "examples" / "stores.csv")},
        "amazon": {"options": {"listings": SELLER}}}}


def test_preview_reads_the_first_items_of_every_format(tmp_path: Path) -> None:
    config = parse_config(every_channel_config())
    report = build(EXAMPLES, [], tmp_path, config).to_dict()
    library = ChannelLibrary()
    for target, entry in report["channels"].items():
        spec = library.load(entry["channel"])
        for output, path in entry["files"].items():
            preview = read_preview(output, Path(path), spec.outputs[output].writer, 3)
            assert not preview.error, (target, preview.error)
            assert len(preview.items) == min(3, entry["written"]), target
            first = dict(preview.items[0].pairs)
            assert any(v for v in first.values()), target
    amazon = read_preview("listings", Path(report["channels"]["amazon"]["file"]),
                          "amazon_listings", 2)
    assert "sku" in dict(amazon.items[0].pairs) and amazon.items[0].raw.startswith("{")


def test_preview_of_a_gzipped_feed_and_a_missing_file(tmp_path: Path) -> None:
    build(EXAMPLES, ["google"], tmp_path, parse_config({"jobs": 1}))
    packed = tmp_path / "google.xml.gz"
    with (tmp_path / "google.xml").open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    preview = read_preview("xml", packed, None, 2)
    assert preview.format == "rss" and dict(preview.items[0].pairs)["g:id"] == "TS-100-NAVY-S"
    gone = read_preview("xml", tmp_path / "nope.xml", "rss", 2)
    assert gone.error and not gone.items


def test_fix_lines_are_keyed_by_documented_codes() -> None:
    documented = (REPO / "docs" / "issue-codes.md").read_text(encoding="utf-8")
    assert [c for c in FIXES if f"`{c}`" not in documented] == []
    assert fix_for("no-such-code", "the message") == "the message"


# --- hooks: CLI, config, push -------------------------------------------------------------

def test_build_and_validate_write_the_page(tmp_path: Path) -> None:
    code, out, err = run_cli("build", EXAMPLES, "-c", "google", "-o", tmp_path / "out",
                             "--html", tmp_path / "build.html", "--json")
    assert code == 0, err
    assert json.loads(out)["html"] == str(tmp_path / "build.html")
    assert page_of(tmp_path / "build.html").xpath('//section[@id="ch-google"]')
    code, out, err = run_cli("validate", EXAMPLES, "-c", "meta", "--html",
                             tmp_path / "validate.html")
    assert code == 0, err
    assert f"HTML report: {tmp_path / 'validate.html'}" in out
    page = page_of(tmp_path / "validate.html")
    assert page.xpath('string(//*[@id="ch-meta"]//span[@data-kpi="written"]/../'
                      'span[@class="label"])') == "Passed"


def test_report_html_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text("report: {html: pages/report.html}\nchannels: [google]\n",
                      encoding="utf-8")
    code, _, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "pages" / "report.html").is_file()
    with pytest.raises(ConfigError) as caught:
        parse_config({"report": {"htm": "x.html"}})
    assert caught.value.key == "report.htm"


def test_html_path_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("build", EXAMPLES, "-c", "google", "-o", tmp_path / "out",
                           "--html", tmp_path)
    assert code == 2 and "is a directory" in err


def test_push_keeps_a_page_per_run_with_the_trend(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    state = tmp_path / "state"
    reports = [push(EXAMPLES, ["google"], parse_config({}), to=[live.as_uri() + "/"],
                    state_dir=state, force=True) for _ in range(2)]
    first, second = (Path(str(r.html)) for r in reports)
    assert first.parent.parent == state / "logs" and first.name == "report.html"
    assert first.parent != second.parent
    page = page_of(second)
    labels = page.xpath('//*[@id="ch-google"]//svg[@class="trend-chart"]/text/text()')
    assert "this run" in labels and f"#{first.parent.name}" in labels
    preview = page.xpath('//*[@id="ch-google"]//div[contains(@class, "preview")]')
    assert preview and not preview[0].xpath('.//p[@class="empty-state"]')  # feed was staged
    assert page.xpath('//table[@class="deliveries"]/tbody/tr')
