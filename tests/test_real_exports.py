"""Real product exports of shop systems feedsync has no profile for (tests/data/<system>/,
origin in each ORIGIN.md), mapped to Google and Meta by their feedsync.yaml alone.

The number of sellable products is counted here from the raw file with the csv module
(rows with an id and a price above 0), independently of feedsync's reader and mapping;
the build must list exactly those, never at $0, and every variant with its parent's data.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from feedsync.errors import ExitCode
from tests.helpers import G, invoke_cli

DATA = Path(__file__).parent / "data"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Export:
    system: str
    file: str
    delimiter: str
    id_column: str
    price_column: str
    group_column: str | None  # the column naming a variant's product (None: no variants)
    id: str
    title: str
    price: str
    description: str

    @property
    def path(self) -> Path:
        return DATA / self.system / self.file


EXPORTS = [
    Export("shopware6", "products.csv", ";", "product_number", "price_gross", None,
           id="product_number", title="name", price="price_gross", description="description"),
    Export("spree", "products_import.csv", ",", "sku", "price", "slug",
           id="sku", title="name", price="price", description="description"),
    Export("vendure", "products.csv", ",", "sku", "price", "slug",
           id="sku", title="name", price="price", description="description"),
]
# What the catalog mapping (feedsync/mapping.py) cannot do yet for an export.
MISSING: dict[str, str] = {}


def raw_rows(export: Export) -> list[dict[str, str]]:
    """The file as the csv module reads it, cells and names stripped of padding."""
    with export.path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=export.delimiter, skipinitialspace=True)
        header = [name.strip() for name in next(reader)]
        return [dict(zip(header, [c.strip() for c in row], strict=False))
                for row in reader if any(c.strip() for c in row)]


def sellable(rows: list[dict[str, str]], export: Export) -> list[dict[str, str]]:
    def price(row: dict[str, str]) -> float:
        match = _NUMBER.search(row.get(export.price_column) or "")
        return float(match.group(0)) if match else 0.0
    return [r for r in rows if r.get(export.id_column) and price(r) > 0]


def build(export: Export, out: Path) -> dict[str, object]:
    config = DATA / export.system / "feedsync.yaml"
    code, stdout, stderr = invoke_cli("build", "--config", config, "--out", out, "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    assert isinstance(report, dict)
    return report


def params(exports: list[Export]) -> list[object]:
    return [pytest.param(e, id=e.system, marks=[pytest.mark.xfail(
        reason=MISSING[e.system], strict=True)] if e.system in MISSING else [])
        for e in exports]


def test_the_exports_have_no_profile() -> None:
    from feedsync.profiles import detect
    for export in EXPORTS:
        assert detect(raw_rows(export)[0].keys()) is None, export.system
        assert (DATA / export.system / "ORIGIN.md").is_file()


@pytest.mark.parametrize("export", params(EXPORTS))
def test_every_sellable_product_is_listed_and_valid(export: Export, tmp_path: Path) -> None:
    rows = raw_rows(export)
    candidates = sellable(rows, export)
    # A sellable row whose id an earlier row already has is a duplicate, not a product
    # (Vendure's file has three rows with SKU 404.038.96): the first one is listed.
    want = list({r[export.id_column]: r for r in reversed(candidates)}.values())[::-1]
    duplicates = len(candidates) - len(want)
    assert want, "the export has sellable rows"
    report = build(export, tmp_path)
    channels = report["channels"]
    assert isinstance(channels, dict) and set(channels) == {"google", "meta"}
    for name, result in channels.items():
        assert result["written"] == len(want), (name, result)
        assert result["rejected"] == duplicates, (name, result["issues"])
        with (tmp_path / f"{name}.issues.jsonl").open(encoding="utf-8") as fh:
            errors = {i["code"] for i in map(json.loads, fh) if i["severity"] == "error"}
        assert errors <= {"duplicate-id"}, (name, errors)

    items = etree.parse(str(tmp_path / "google.xml")).getroot().iter("item")
    listed = {item.findtext(f"{G}id"): item for item in items}
    assert set(listed) == {r[export.id_column] for r in want}
    masters = {r[export.group_column]: r for r in rows
               if export.group_column and r.get(export.group_column) and r.get(export.title)}
    for row in want:
        item = listed[row[export.id_column]]
        price = item.findtext(f"{G}price") or ""
        assert float(price.split()[0]) > 0, ("$0 listing", row[export.id_column], price)
        assert float(price.split()[0]) == float(_NUMBER.findall(row[export.price_column])[0])
        # A variant row carries its parent's title and description, and its group.
        assert item.findtext(f"{G}title"), row[export.id_column]
        assert item.findtext(f"{G}description"), row[export.id_column]
        group = row.get(export.group_column or "", "")
        if group in masters and not row.get(export.title):
            assert item.findtext(f"{G}title") == masters[group][export.title]
            assert item.findtext(f"{G}item_group_id") == group

    with (tmp_path / "meta.csv").open(encoding="utf-8", newline="") as fh:
        meta = list(csv.DictReader(fh))
    assert {r["id"] for r in meta} == set(listed)
    assert all(float(r["price"].split()[0]) > 0 for r in meta)


@pytest.mark.parametrize("export", [pytest.param(e, id=e.system) for e in EXPORTS])
def test_inspect_suggests_id_title_price_description(export: Export) -> None:
    args = ["inspect", export.path, "--json", "--all"]
    if export.system == "spree":
        args.append("--pad-short-rows")
    code, stdout, stderr = invoke_cli(*args)
    assert code == ExitCode.OK, stderr
    fields = {k: v["value"] for k, v in json.loads(stdout)["suggested_fields"].items()}
    assert fields["id"] == export.id
    assert fields["title"] == export.title
    assert fields["price"] == export.price
    assert fields["description"] == export.description
