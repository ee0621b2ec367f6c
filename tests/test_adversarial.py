"""gen_catalog.py --adversarial in every catalog format: ``bad-*`` rows never reach the Google
feed and are logged with the right code; ``ok-*`` rows reach it with their text intact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import ExitCode
from tests.helpers import (
    G,
    feed_ids,
    feed_items,
    gen_catalog,
    issues_for,
    read_issues,
    report_accounts_for_all,
    run_cli,
)

ROWS = 300
# id -> (code, field) that must reject it
BAD = {
    "bad-no-price": ("missing-required", "price"),
    "bad-negative-price": ("bad-money", "price"),
    "bad-gtin-checksum": ("bad-gtin", "gtin"),
    "bad-no-title": ("missing-required", "title"),
    "bad-no-link": ("missing-required", "link"),
}
# id -> the g:title after the Google template (plain_text | single_line) and an XML round trip
OK_TITLES = {
    "ok-markup": 'Tom & Jerry "Deluxe" Mug – 350 ml',
    "ok-template-text": "Mug {{ 7*7 }} edition",
    "ok-unicode": "Café Ünion Teekanne 😀 — 1 l",
    "ok-no-gtin": "Handmade bowl",
    "ok-dup": "First of duplicate pair",
}
OK_DESCRIPTIONS = {
    "ok-markup": "Holds 5 < 6 fl oz & keeps it > warm.\nDishwasher-safe.",
    "ok-template-text": "{% for x in range(10**9) %}x{% endfor %} {{ config.__class__ }}",
    "ok-unicode": "Ceai verde, чайник, 急須. Çok güzel.",
}


@pytest.fixture(scope="module", params=["csv", "tsv", "json", "jsonl"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp(f"adv-{request.param}")
    catalog = gen_catalog(folder / f"F.{request.param}", ROWS, "--adversarial")
    out = folder / "out"
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    report_accounts_for_all(report)
    return out, report


def test_every_row_is_read(built: tuple[Path, dict[str, Any]]) -> None:
    _, report = built
    assert report["catalog"]["read"] == ROWS + 11
    assert report["catalog"]["skipped"] == 0


def test_bad_rows_are_absent_and_logged_with_their_code(built: tuple[Path, dict[str, Any]]
                                                        ) -> None:
    out, _ = built
    ids = set(feed_ids(out / "google.xml"))
    issues = read_issues(out / "google.issues.jsonl")
    for product_id, (code, field) in BAD.items():
        assert product_id not in ids, product_id
        errors = [(i["code"], i["field"]) for i in issues_for(issues, product_id)
                  if i["severity"] == "error"]
        assert (code, field) in errors, (product_id, errors)


def test_ok_rows_keep_their_text(built: tuple[Path, dict[str, Any]]) -> None:
    out, _ = built
    items = feed_items(out / "google.xml")
    for product_id, title in OK_TITLES.items():
        assert product_id in items, product_id
        assert items[product_id].findtext(G + "title") == title, product_id
    for product_id, description in OK_DESCRIPTIONS.items():
        assert items[product_id].findtext(G + "description") == description, product_id
    assert items["ok-markup"].findtext(G + "price") == "12.50 USD"
    text = (out / "google.xml").read_text(encoding="utf-8")
    assert "<b>" not in text and "&lt;b&gt;" not in text  # tags removed, not escaped
    assert ">49<" not in text and " 49 " not in text       # nothing evaluated


def test_duplicate_keeps_the_first(built: tuple[Path, dict[str, Any]]) -> None:
    out, _ = built
    assert feed_ids(out / "google.xml").count("ok-dup") == 1
    dup = [i for i in issues_for(read_issues(out / "google.issues.jsonl"), "ok-dup")
           if i["code"] == "duplicate-id"]
    assert len(dup) == 1


def test_generated_products_are_written(built: tuple[Path, dict[str, Any]]) -> None:
    out, report = built
    google = report["channels"]["google"]
    ids = feed_ids(out / "google.xml")
    assert sum(1 for i in ids if i.startswith("SKU")) > ROWS * 0.9
    assert google["rejected"] >= len(BAD) + 1
