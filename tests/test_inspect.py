"""``feedsync inspect`` through the real CLI: what it prints, its JSON, --write, errors.

Catalogs are files on disk: the shipped example, the real exports in tests/data/, and small
ones written here to pin a single behaviour (synonyms, value shapes, markup in product text).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from feedsync.errors import ExitCode
from feedsync.inspection import inspect_catalog
from feedsync.suggest import gtin_valid
from tests.helpers import EXAMPLES, error_line, invoke_cli, write_csv

REAL = Path(__file__).parent / "data"


def inspect_json(*args: str | Path, cwd: Path | None = None) -> dict[str, object]:
    code, out, err = invoke_cli("inspect", *args, "--json", cwd=cwd)
    assert code == ExitCode.OK, err
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_json_shape_on_the_example_catalog() -> None:
    catalog = EXAMPLES
    data = inspect_json(catalog)
    assert data["format"] == "csv" and data["delimiter"] == "," and data["encoding"] == "utf-8"
    assert data["profile"] is None
    with catalog.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    columns = data["columns"]
    assert isinstance(columns, list)
    assert [c["name"] for c in columns] == header
    for col in columns:
        assert 0.0 <= col["fill_rate"] <= 1.0
        assert len(col["samples"]) <= 3
        assert (col["filled"] == 0) == (col["samples"] == [])
    fields = data["suggested_fields"]
    assert isinstance(fields, dict)
    # Canonical columns map to themselves.
    for name in ("id", "title", "description", "link", "image_link", "price"):
        assert fields[name]["value"] == name
    assert data["uncovered"] == {"google": [], "meta": []}
    assert data["complete"] is True and data["written"] is None


def test_synonyms_and_value_shapes(tmp_path: Path) -> None:
    columns = ["variant_sku", "product_name", "body_html", "handle", "Image Src",
               "variant_price", "stock_qty", "vendor", "code13"]
    rows = [{"variant_sku": f"S-{i}", "product_name": f"Mug {i}", "body_html": "<p>Big</p>",
             "handle": f"mug-{i}", "Image Src": f"https://cdn.example.com/m{i}.jpg",
             "variant_price": "9.50", "stock_qty": str(i), "vendor": "Acme",
             "code13": "4006381333931"} for i in range(3)]
    catalog = write_csv(tmp_path / "export.csv", rows, columns)
    fields = {k: v["value"] for k, v in inspect_json(catalog)["suggested_fields"].items()}
    assert fields["id"] == "variant_sku"
    assert fields["title"] == "product_name"
    assert fields["description"] == "body_html"
    assert fields["link"] == "'https://shop.example.com/products/' ~ row.handle"
    assert fields["image_link"] == "row['Image Src']"
    assert fields["price"] == "variant_price"
    assert fields["brand"] == "vendor"
    assert fields["availability"] == "'in_stock' if row.stock_qty | int > 0 else 'out_of_stock'"
    assert fields["gtin"] == "code13"  # found by its check digit, not its name
    assert gtin_valid("4006381333931") and not gtin_valid("4006381333932")


def test_uncovered_required_attributes_are_listed(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "bare.csv", [{"sku": "A1", "name": "Mug"}], ["sku", "name"])
    data = inspect_json(catalog, "--channel", "google")
    uncovered = data["uncovered"]
    assert isinstance(uncovered, dict) and list(uncovered) == ["google"]
    for attr in ("link", "image_link", "price", "availability", "description"):
        assert attr in uncovered["google"]
    for attr in ("id", "title"):
        assert attr not in uncovered["google"]


def test_product_text_is_printed_as_text_not_markup(tmp_path: Path) -> None:
    rows = [{"sku": "A1", "name": "[bold red]Mug[/bold red] [link=x]y[/link]",
             "description": "line one\nline two"}]
    catalog = write_csv(tmp_path / "markup.csv", rows, ["sku", "name", "description"])
    code, out, err = invoke_cli("inspect", catalog)
    assert code == ExitCode.OK, err
    assert "[bold red]Mug[/bold red] [link=x]y[/link]" in out
    assert "line one line two" in out  # one table line per sample
    assert "csv, delimiter ,, encoding utf-8, profile none" in out


def test_rows_bounds_the_pass_and_all_reads_everything(tmp_path: Path) -> None:
    rows = [{"sku": f"A{i}", "name": "Mug" if i < 5 else ""} for i in range(20)]
    catalog = write_csv(tmp_path / "many.csv", rows, ["sku", "name"])
    sampled = inspect_catalog(catalog, max_rows=5)
    assert sampled.rows == 5 and not sampled.complete
    assert sampled.fill_rate(sampled.columns[1]) == 1.0
    full = inspect_json(catalog, "--all")
    assert full["rows_read"] == 20 and full["complete"] is True
    name_col = full["columns"][1]
    assert name_col["filled"] == 5 and name_col["fill_rate"] == 0.25


def test_write_starter_config_that_build_accepts(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_bytes((EXAMPLES).read_bytes())
    target = tmp_path / "feedsync.yaml"
    code, out, err = invoke_cli("inspect", catalog, "--write", target, cwd=tmp_path)
    assert code == ExitCode.OK, err
    assert f"Wrote {target}" in out
    config = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert config["catalog"]["path"] == "catalog.csv"  # relative to the config's folder
    assert set(config["channels"]) == {"google", "meta"}
    code, out, err = invoke_cli("build", "--config", target, "--json", cwd=tmp_path)
    assert code in (ExitCode.OK, ExitCode.GATE_REFUSED), err
    report = json.loads(out)
    assert set(report["channels"]) == {"google", "meta"}
    with catalog.open(encoding="utf-8", newline="") as fh:
        assert report["catalog"]["read"] == sum(1 for _ in csv.DictReader(fh))
    assert report["channels"]["google"]["written"] > 0
    assert (tmp_path / "out" / "google.xml").is_file()


def test_write_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "c.csv", [{"sku": "A1", "name": "Mug"}], ["sku", "name"])
    target = tmp_path / "feedsync.yaml"
    target.write_text("# mine\n", encoding="utf-8")
    code, _, err = invoke_cli("inspect", catalog, "--write", target)
    assert code == ExitCode.USAGE
    assert "already exists" in error_line(err) and "--force" in err
    assert target.read_text(encoding="utf-8") == "# mine\n"
    code, _, err = invoke_cli("inspect", catalog, "--write", target, "--force")
    assert code == ExitCode.OK, err
    assert "fields:" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_bad_path_and_unknown_channel_exit_codes(tmp_path: Path) -> None:
    code, _, err = invoke_cli("inspect", tmp_path / "missing.csv")
    assert code == ExitCode.CATALOG
    assert "missing.csv" in error_line(err)
    catalog = write_csv(tmp_path / "c.csv", [{"sku": "A1"}], ["sku"])
    code, _, err = invoke_cli("inspect", catalog, "--channel", "gogle")
    assert code == ExitCode.USAGE
    assert "gogle" in error_line(err)


def test_semicolon_export_is_sniffed() -> None:
    data = inspect_json(REAL / "shopware6" / "products.csv")
    assert data["delimiter"] == ";" and data["format"] == "csv"


def test_starter_config_for_a_master_variant_export_groups_it(tmp_path: Path) -> None:
    """Spree: slug repeats on master and variant rows, so the starter config groups by it,
    and the build it makes drops the price-0 masters instead of listing them at $0."""
    catalog = tmp_path / "products_import.csv"
    catalog.write_bytes((REAL / "spree" / "products_import.csv").read_bytes())
    target = tmp_path / "feedsync.yaml"
    code, _, err = invoke_cli("inspect", catalog, "--pad-short-rows", "--write", target,
                              cwd=tmp_path)
    assert code == ExitCode.OK, err
    config = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert config["catalog"]["group_by"] == "slug"
    assert config["catalog"]["short_rows"] == "pad"
    assert config["catalog"]["fields"]["id"] == "sku"
    code, out, err = invoke_cli("build", "--config", target, "--json", cwd=tmp_path)
    assert code == ExitCode.OK, err
    report = json.loads(out)
    with catalog.open(encoding="utf-8", newline="") as fh:
        masters = sum(1 for row in csv.DictReader(fh) if not row["sku"])
    assert report["catalog"]["problems"] == {"profile-not-a-product": masters}


def test_option_pair_columns_are_suggested() -> None:
    data = inspect_json(REAL / "vendure" / "products.csv")
    assert data["suggested_options"] == {"names": "optionGroups", "values": "optionValues"}
    assert data["suggested_group_by"] is None  # slug is empty on Vendure's variant rows


def test_a_profiled_export_is_named_and_left_to_its_profile(tmp_path: Path) -> None:
    columns = ["Handle", "Title", "Body (HTML)", "Vendor", "Variant SKU", "Variant Price",
               "Image Src"]
    rows = [{"Handle": "mug", "Title": "Mug", "Body (HTML)": "<p>Big</p>", "Vendor": "Acme",
             "Variant SKU": "M-1", "Variant Price": "9.50",
             "Image Src": "https://cdn.example.com/mug.jpg"}]
    catalog = write_csv(tmp_path / "shopify.csv", rows, columns)
    target = tmp_path / "feedsync.yaml"
    data = inspect_json(catalog, "--write", target)
    assert data["profile"] == "shopify"
    config = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert config["catalog"]["profile"] == "shopify"
    assert "fields" not in config["catalog"]
    code, out, err = invoke_cli("build", "--config", target, "--json", cwd=tmp_path)
    assert code == ExitCode.OK, err
    google = json.loads(out)["channels"]["google"]
    # The profile read the row (a Shopify row without a shop URL still lacks link).
    assert google["evaluated"] == 1 and google["fill"]["title"] == 1
