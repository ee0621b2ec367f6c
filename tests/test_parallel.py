"""A parallel build writes exactly what a serial build writes."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from feedsync import build, parallel
from feedsync.config import Config, parse_config
from feedsync.errors import TemplateError
from feedsync.pipeline import prepare_run
from tests.helpers import gen_catalog


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = gen_catalog(tmp_path_factory.mktemp("parallel") / "catalog.csv", 2500,
                       "--adversarial")
    # A ragged row and a duplicate across batch boundaries, so ordering matters.
    with path.open("a", encoding="utf-8") as handle:
        handle.write("ragged,row\n")
        handle.write(path.read_text(encoding="utf-8").splitlines()[5] + "\n")
    return path


GOOGLE = {"google": {"outputs": ["xml", "tsv"]}}


def _build(catalog: Path, out: Path, jobs: int,
           channels: dict[str, object] = GOOGLE, name: str = "google") -> dict[str, object]:
    config = parse_config({"jobs": jobs, "channels": channels})
    report = build(catalog, [], out, config)
    return {k: v for k, v in report.to_dict()["channels"][name].items()
            if k not in ("file", "files", "issue_log")} | {"read": report.products_read,
                                                          "skipped": report.rows_skipped}


def test_parallel_output_is_byte_identical(catalog: Path, tmp_path: Path) -> None:
    serial = _build(catalog, tmp_path / "serial", 1)
    parallel = _build(catalog, tmp_path / "parallel", 2)
    assert serial == parallel
    assert serial["read"] == 2512 and serial["skipped"] == 1
    for name in ("google.xml", "google.tsv", "google.issues.jsonl", "catalog.issues.jsonl"):
        assert (tmp_path / "serial" / name).read_bytes() == \
            (tmp_path / "parallel" / name).read_bytes(), name
    assert "duplicate-id" in serial["issues"]  # type: ignore[operator]


def test_parallel_report_counts_reserves_as_serial(catalog: Path, tmp_path: Path) -> None:
    """A reserve that applied travels with the outcome from the worker: the parallel
    report counted none (``reserved: 0``) before it did."""
    channels = {"google": {"reserve": 2}}
    serial = _build(catalog, tmp_path / "serial", 1, channels)
    parallel = _build(catalog, tmp_path / "parallel", 2, channels)
    assert serial == parallel
    assert serial["reserved"] > 1000   # type: ignore[operator]
    assert (tmp_path / "serial" / "google.xml").read_bytes() == \
        (tmp_path / "parallel" / "google.xml").read_bytes()


def test_parallel_duplicates_per_channel_id(catalog: Path, tmp_path: Path) -> None:
    # Two id expressions (two duplicate tables): the parent decides both in catalog order
    # from the ids the workers send back.
    channels = {"google": {"overrides": {"id": "product.id | lower | trim"}}, "tiktok": {}}
    for name in ("google", "tiktok"):
        serial = _build(catalog, tmp_path / "serial", 1, channels, name)
        parallel = _build(catalog, tmp_path / "parallel", 2, channels, name)
        assert serial == parallel, name
        assert "duplicate-id" in serial["issues"]  # type: ignore[operator]
    for name in ("google.xml", "tiktok.csv", "google.issues.jsonl", "tiktok.issues.jsonl"):
        assert (tmp_path / "serial" / name).read_bytes() == \
            (tmp_path / "parallel" / name).read_bytes(), name


def _channel(tmp_path: Path, name: str, field: str) -> Path:
    """A channel folder ``name`` writing ``id`` and one more field (``name: expression``)."""
    folder = tmp_path / "templates" / name
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text(
        f"name: {name}\ndocs: https://example.com/docs\n"
        f"outputs: {{csv: {{writer: csv, file: {name}.csv}}}}\n"
        f"fields:\n  id: product.id\n  {field}\n", encoding="utf-8")
    return tmp_path / "templates"


def test_per_product_expression_failures_match_serial(catalog: Path, tmp_path: Path) -> None:
    # Fails on products without a positive quantity: an issue on each, the build goes on.
    templates = _channel(tmp_path, "units", "per_unit: (1000 // (product.quantity | int)) "
                                            "| string")
    results = []
    for jobs in (1, 2):
        config = dataclasses.replace(Config(), jobs=jobs, template_dirs=(templates,))
        out = tmp_path / f"out{jobs}"
        report = build(catalog, ["units"], out, config).to_dict()["channels"]["units"]
        results.append(({k: v for k, v in report.items() if k not in ("file", "files",
                                                                       "issue_log")},
                        (out / "units.csv").read_bytes(),
                        (out / "units.issues.jsonl").read_bytes()))
    assert results[0] == results[1]
    assert 0 < results[0][0]["issues"]["expression-failed"] < 2512  # type: ignore[index]


def test_worker_errors_keep_their_location(catalog: Path, tmp_path: Path) -> None:
    # Fails at run time on every product: a broken template, located at the first.
    templates = _channel(tmp_path, "broken", "cents: (product.price | float * 100) | int // 0")
    config = dataclasses.replace(Config(), jobs=2, template_dirs=(templates,))
    with pytest.raises(TemplateError) as caught:
        build(catalog, ["broken"], tmp_path / "out", config)
    assert caught.value.product_id is not None
    assert caught.value.line is not None
    assert not list((tmp_path / "out").glob("broken.csv"))


def _store_stock(catalog: Path, path: Path) -> Path:
    """Two stores for every third product, one for every fifth (some quantities empty,
    some not a number), none for the rest."""
    with catalog.open(newline="", encoding="utf-8") as source, \
            path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(["store_code", "id", "quantity"])
        for number, row in enumerate(csv.DictReader(source)):
            if number % 3 == 0:
                writer.writerow(["STORE-1", row["id"], number % 7])
                writer.writerow(["STORE-2", row["id"], "" if number % 2 else "many"])
            elif number % 5 == 0:
                writer.writerow(["STORE-3", row["id"], number % 4])
    return path


AMAZON = {"seller_id": "A1EXAMPLE0SELLER", "marketplace_id": "ATVPDKIKX0DER",
          "language_tag": "en_US", "max_messages": 400}


def test_amazon_builds_in_parallel_with_the_other_channels(catalog: Path,
                                                           tmp_path: Path) -> None:
    """Amazon's messages are encoded in the workers; the parent numbers them in catalog
    order, per document of the split feed: the same bytes as a serial build. Every
    shipped channel runs, local inventory fanned out per store row (none, one or two a
    product), so the packed batches (``parallel.Packed``) carry every kind of outcome."""
    stock = _store_stock(catalog, tmp_path / "stores.csv")
    channels = {"google": {}, "microsoft": {}, "meta": {}, "tiktok": {}, "pinterest": {},
                "amazon": {"options": {"listings": AMAZON}},
                "google_local_inventory": {"stock": {"path": str(stock)}}}
    raw = {"jobs": 2, "defaults": {"currency": "USD"}, "channels": channels}
    run = prepare_run(catalog, [], tmp_path / "probe", parse_config(raw), write=True,
                      command="build")
    for target in run.targets:
        target.encoding = list(target.outputs)
    assert parallel.jobs_for(run, 0) == 2   # no writer forces a serial build any more
    reports = []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        report = build(catalog, [], out, parse_config({**raw, "jobs": jobs})).to_dict()
        reports.append({name: {k: v for k, v in channel.items() if k not in (
            "file", "files", "issue_log", "parts")} for name, channel in
            report["channels"].items()})
    assert reports[0] == reports[1]
    assert reports[0]["amazon"]["written"] > 400   # type: ignore[index]
    local = reports[0]["google_local_inventory"]
    assert local["written"] > 500 and local["rejected"] > 0, local  # type: ignore[index]
    names = sorted(p.name for p in (tmp_path / "out1").iterdir())
    assert "amazon-listings-0002.json" in names
    assert names == sorted(p.name for p in (tmp_path / "out2").iterdir())
    for name in names:
        assert (tmp_path / "out1" / name).read_bytes() == \
            (tmp_path / "out2" / name).read_bytes(), name


def _controlled_catalog(catalog: Path, folder: Path) -> tuple[Path, dict[str, object]]:
    """The adversarial catalog plus per-channel override and price columns, and the files
    of every control a parallel build runs in its workers (category map, translations)."""
    with catalog.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    types = sorted({r[header.index("product_type")] for r in body
                    if len(r) == len(header)})[:3]
    path = folder / "controlled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "title@google", "price_EUR"])
        for number, row in enumerate(body):
            extra = [f"Own title {number}" if number % 7 == 0 else "",
                     f"{number % 90 + 1}.50 EUR" if number % 3 else ""]
            if len(row) == len(header) and number % 4 == 0:
                row[header.index("google_product_category")] = ""   # the map fills it
            writer.writerow(row + extra if len(row) == len(header) else row)
    with (folder / "categories.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["product_type", "google_product_category"],
                                      *[[t, str(2169 + n)] for n, t in enumerate(types)]])
    with (folder / "translations.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "locale", "title"])
        for number, row in enumerate(body[:400]):
            if number % 5 == 0 and len(row) == len(header):
                writer.writerow([row[0], "de-DE", f"Titel {number}"])
    raw: dict[str, object] = {
        "defaults": {"currency": "USD", "condition": "new"},
        "category_map": {"path": str(folder / "categories.csv"),
                         "from": "product_type", "to": "google_product_category"},
        "catalog": {"translations": {"path": str(folder / "translations.csv"), "key": "id",
                                     "locale": "locale", "fields": {"title": "title"}}},
        "channels": {
            "google": {"outputs": ["xml", "tsv"], "reserve": "10%",
                       "exclude": "product.brand == 'Acme'",
                       "severity": {"bad-gtin": "warning"},
                       "overrides": {"custom_label_0": "product.size | upper"}},
            "google-DE": {"template": "google", "reserve": 1,
                          "target": {"country": "DE", "currency": "EUR", "language": "de"}},
            "meta": {"include": "product.availability != 'out_of_stock'",
                     # fails on a product with no price: counted as a failed expression
                     "overrides": {"custom_label_1": "100 // ((product.quantity | int) % 4)"}},
            "tiktok": {}}}
    return path, raw


def test_every_control_reports_the_same_in_parallel(catalog: Path, tmp_path: Path) -> None:
    """Filters, reserves, overrides (one failing on some products), override columns, a
    second market priced from its own column, severity changes, category map and
    translations: the whole report and every file are a serial build's."""
    path, raw = _controlled_catalog(catalog, tmp_path)
    reports, outputs = [], []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        report = build(path, [], out, parse_config({**raw, "jobs": jobs})).to_dict()
        reports.append(json.loads(json.dumps(report).replace(str(out), "<out>")))
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert reports[0] == reports[1]
    assert outputs[0] == outputs[1]
    channels = reports[0]["channels"]
    assert channels["google"]["reserved"] > 100 and channels["google"]["filtered"] > 0
    assert channels["google-DE"]["reserved"] > 100 and channels["meta"]["filtered"] > 0
    assert reports[0]["controls"]["category_map"]["mapped"] > 0
    assert channels["meta"]["issues"]["expression-failed"] > 0
    assert b"Own title 7" in outputs[0]["google.xml"]
    assert b"Titel 5" in outputs[0]["google-DE.xml"] or b"Titel 10" in outputs[0]["google-DE.xml"]
