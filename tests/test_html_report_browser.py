"""The HTML report in headless Chromium, as a merchandiser opens it.

Debian's ``chromium`` (installed by .ci/run) driven by Playwright with
``executable_path``: Playwright never downloads a browser. Each page is opened from disk
with every request other than the page itself aborted and recorded; the tests assert no
console errors, no requests, the counts equal the ``--json`` report, search and
pagination work, and hostile product text never runs.

A screenshot of each page is saved in the test's temp dir; one is also copied to the
folder named by FEEDSYNC_SCREENSHOTS (default /work/i13html-screenshots when it exists).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from feedsync import build
from feedsync.config import parse_config
from feedsync.htmlreport import write_html
from tests.helpers import EXAMPLES, require_shared, run_cli
from tests.test_html_report import (
    HOSTILE_ID,
    HOSTILE_LABEL,
    HOSTILE_TITLE,
    every_channel_config,
    hostile_rows,
    write_catalog,
)

CHROMIUM = Path(os.environ.get("FEEDSYNC_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so CI must run these tests")
    pytest.skip(reason)


@dataclass
class Opened:
    page: Any
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    # A fresh profile per test: nothing cached, nothing remembered between pages.
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=ARGS,
        viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def open_page(browser: Any, path: Path) -> Opened:
    page = browser.new_page()
    opened = Opened(page)
    url = path.resolve().as_uri()
    page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: opened.console.append(f"pageerror: {e}"))
    page.on("request", lambda r: opened.requests.append(r.url))
    browser.route("**/*", lambda route: route.continue_() if route.request.url == url
                  else route.abort())
    page.goto(url)
    page.wait_for_load_state("load")
    return opened


def screenshot(opened: Opened, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    keep = Path(os.environ.get("FEEDSYNC_SCREENSHOTS", "/work/i13html-screenshots"))
    if keep.is_dir():
        shutil.copy(shot, keep / shot.name)
        opened.page.screenshot(path=str(keep / f"{name}-top.png"))  # the first screenful
    return shot


def assert_clean(opened: Opened, path: Path) -> None:
    assert opened.console == []
    assert opened.requests == [path.resolve().as_uri()]


def number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


def test_examples_into_every_channel(browser: Any, tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text(json.dumps(every_channel_config()), encoding="utf-8")
    code, out, err = run_cli("build", EXAMPLES, "--config", config, "-o", tmp_path / "out",
                             "--json", "--html", tmp_path / "out" / "report.html")
    assert code == 0, err
    report = json.loads(out)
    path = Path(report["html"])
    opened = open_page(browser, path)
    page = opened.page
    screenshot(opened, tmp_path, "examples-every-channel")
    assert_clean(opened, path)
    assert len(report["channels"]) == 7
    for target, entry in report["channels"].items():
        section = page.locator(f'section[data-target="{target}"]')
        card = page.locator(f'a.card[data-target="{target}"]')
        for key in ("written", "rejected", "warnings"):
            assert number(section.locator(f'.kpi [data-kpi="{key}"]').inner_text()) == \
                entry[key], (target, key)
            assert number(card.locator(f'[data-kpi="{key}"]').inner_text()) == entry[key]
        by_code: dict[str, int] = {}
        for row in section.locator("table.codes tbody tr").all():
            code_name = row.locator("a.code").inner_text()
            by_code[code_name] = by_code.get(code_name, 0) + number(
                row.locator("td.issues-count").inner_text())
        assert by_code == entry["issues"], target
        assert section.locator(".preview .item").count() > 0, target
    assert number(page.locator('[data-kpi="read"]').inner_text()) == report["catalog"]["read"]


@pytest.fixture(scope="module")
def magento(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """Magento's Luma sample export (1,847 products) into Google and Meta."""
    data = require_shared() / "data" / "magento2-sample-data" / "products.csv"
    out = tmp_path_factory.mktemp("magento")
    overrides = {"link": "'https://shop.example.com/' ~ product.url_key ~ '.html'",
                 "image_link": "'https://shop.example.com/media/catalog/product' ~ "
                               "product.image_link"}
    config = parse_config({"defaults": {"currency": "USD"}, "channels": {
        "google": {"overrides": overrides}, "meta": {"overrides": overrides}}})
    report = build(data, [], out, config).to_dict()
    write_html(report, out / "report.html", config=config)
    return report, out / "report.html"


def test_real_export_counts_search_and_pages(browser: Any, tmp_path: Path,
                                             magento: tuple[dict[str, Any], Path]) -> None:
    report, path = magento
    opened = open_page(browser, path)
    page = opened.page
    screenshot(opened, tmp_path, "magento-export")
    assert_clean(opened, path)
    meta = report["channels"]["meta"]
    section = page.locator('section[data-target="meta"]')
    assert number(section.locator('.kpi [data-kpi="rejected"]').inner_text()) == \
        meta["rejected"]
    block = section.locator(".issues-block")
    rows = block.locator("tbody tr")
    embedded = rows.count()
    assert 25 < embedded <= 1000 < sum(meta["issues"].values())
    visible = block.locator("tbody tr:visible")
    assert visible.count() == 25
    first_page = [r.inner_text() for r in visible.all()]
    assert block.locator(".page-info").inner_text() == f"Page 1 of {-(-embedded // 25)}"
    block.locator("button[data-page=next]").click()
    second_page = [r.inner_text() for r in visible.all()]
    assert second_page == [rows.nth(i).inner_text() for i in range(25, 50)]
    assert not set(first_page) & set(second_page)
    block.locator("button[data-page=prev]").click()
    assert [r.inner_text() for r in visible.all()] == first_page
    # Search: only rows holding every term stay; the status line counts them.
    block.locator("input[type=search]").fill("MH02 bad-url")
    matching = [r.inner_text() for r in visible.all()]
    assert matching and all("MH02" in t and "bad-url" in t for t in matching)
    expected = sum(1 for i in range(embedded) if "MH02" in (t := rows.nth(i).text_content()
                                                            or "") and "bad-url" in t)
    assert f"of {expected} matching rows" in block.locator(".status").inner_text()
    block.locator("input[type=search]").fill("no such product anywhere")
    assert visible.count() == 0
    assert block.locator(".status").inner_text() == "No matching rows"
    # A code in the chart filters the table to that code.
    section.locator('table.codes a.code[data-search="commerce-identifiers"]').click()
    assert block.locator("input[type=search]").input_value() == "commerce-identifiers"
    assert all("commerce-identifiers" in r.inner_text() for r in visible.all())
    assert opened.console == []


def test_hostile_product_text_never_runs(browser: Any, tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "hostile.csv", hostile_rows())
    config = parse_config({"jobs": 1, "channels": {"google": {}, "meta": {}}})
    report = build(catalog, [], tmp_path / "out", config).to_dict()
    path = write_html(report, tmp_path / "out" / "report.html", config=config).path
    opened = open_page(browser, path)
    page = opened.page
    # Open every preview item and its text as written, as a curious user would.
    closed = page.locator("details:not([open]) > summary")
    for _ in range(100):
        if closed.count() == 0:
            break
        closed.first.click()
    assert page.locator("details:not([open])").count() == 0
    page.locator('section[data-target="meta"] input[type=search]').fill("HOSTILE")
    screenshot(opened, tmp_path, "hostile-products")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert_clean(opened, path)
    text = page.locator("body").inner_text()
    assert HOSTILE_TITLE in text and HOSTILE_LABEL in text and HOSTILE_ID in text
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert not [h for h in hrefs if not h.startswith(("https://", "http://", "file://"))]
    assert page.locator("img, iframe, object, embed").count() == 0
