"""JSON array reader: streaming, value conversion, and fatal errors with positions (A7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog
from feedsync.sources.json_source import MAX_DEPTH

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
DATA = Path("/work/shared/data")


def read(path: Path, **options: str) -> list[Record | RowProblem]:
    return list(open_catalog(path, SourceOptions(**options)).records())  # type: ignore[arg-type]


def data(path: Path, **options: str) -> list[dict[str, str]]:
    return [i.data for i in read(path, **options) if isinstance(i, Record)]


def fatal(path: Path) -> CatalogError:
    with pytest.raises(CatalogError) as err:
        read(path)
    assert err.value.file == str(path)
    return err.value


def test_line_is_the_item_index_and_values_become_strings() -> None:
    (record,) = read(FIXTURES / "nested-values.json")
    assert isinstance(record, Record)
    assert record.line == 1
    assert record.data == {
        "id": "0012", "price": "1.50", "big": "123456789012345678901234567890",
        "exp": "1E+2", "ok": "true", "no": "false", "none": "", "tags": "a,b,3",
        "shipping.country": "US", "shipping.price": "5 USD",
        "ship.0.country": "US", "ship.1.country": "CA", "empty": "", "none_list": ""}


def test_non_object_items_are_row_problems_and_the_rest_load() -> None:
    items = read(FIXTURES / "non-object-items.json")
    assert [(i.line, i.code if isinstance(i, RowProblem) else i.data["id"]) for i in items] == [
        (1, "1"), (2, "row-not-object"), (3, "row-not-object"), (4, "row-not-object"),
        (5, "row-not-object"), (6, "2")]


def test_products_under_a_key_are_found() -> None:
    assert data(FIXTURES / "products-under-key.json") == [
        {"id": "1", "price": "1.50"}, {"id": "2", "in_stock": "true", "sale": ""}]


def test_an_empty_product_list_is_an_empty_catalog() -> None:
    assert read(FIXTURES / "empty-products-key.json") == []


@pytest.mark.parametrize("name", ["no-product-list.json", "top-level-scalar.json"])
def test_a_document_without_a_product_list_is_refused_with_a_tip(name: str) -> None:
    assert fatal(FIXTURES / name).tip


def test_bom_is_skipped() -> None:
    assert data(FIXTURES / "bom.json") == [{"id": "1"}]


def test_legacy_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes('[{"id": "1", "title": "Café"}]'.encode("latin-1"))
    assert data(path, encoding="latin-1") == [{"id": "1", "title": "Café"}]


def test_lone_surrogate_escapes_load_as_python_strings() -> None:
    assert data(FIXTURES / "lone-surrogate.json") == [
        {"id": "1", "title": "ok 😀"}, {"id": "2", "title": "bad \ud800 high"},
        {"id": "3", "title": "bad \udc00 low"}]


@pytest.mark.parametrize("shift", range(14))
def test_lone_surrogate_late_in_a_big_file_keeps_earlier_items_once(
    tmp_path: Path, shift: int
) -> None:
    # Every position of the escape around the 64 KiB chunk boundary, including right
    # at the end of a chunk with the closing quote in the same chunk.
    path = tmp_path / "late.json"
    head = '[{"id": "0", "t": "' + "x" * (65536 - 19 - 10 + shift) + '"},\n'
    tail = '{"id": "1", "t": "\\udbff"}, {"id": "2", "t": "\\ud83d\\ude00"}]'
    path.write_text(head + tail)
    rows = data(path)
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    assert rows[1]["t"] == "\udbff"
    assert rows[2]["t"] == "\U0001f600"


# --- A7: a truncated or malformed document is fatal, with a position ------------------------

def test_truncated_json_is_fatal_with_line_and_column() -> None:
    error = fatal(FIXTURES / "truncated.json")
    assert error.line == 3
    assert "line 3, column 17" in error.message
    assert "cut short" in error.message


def test_items_before_the_break_were_yielded_then_the_error() -> None:
    source = open_catalog(FIXTURES / "truncated.json")
    seen = []
    with pytest.raises(CatalogError):
        for item in source.records():
            seen.append(item)
    assert [i.data["id"] for i in seen if isinstance(i, Record)] == ["1", "2"]


def test_malformed_json_mid_document_names_the_line_and_column() -> None:
    error = fatal(FIXTURES / "malformed-mid-document.json")
    assert error.line == 2
    assert "line 2, column 15" in error.message


def test_malformed_json_after_many_chunks_is_located(tmp_path: Path) -> None:
    path = tmp_path / "late-error.json"
    lines = [f'{{"id": "{n}", "pad": "{"y" * 50}"}},' for n in range(5000)]
    path.write_text("[\n" + "\n".join(lines) + '\n{"id": "x" "oops": 1}]')
    error = fatal(path)
    assert error.line == 5002
    # yajl points a few bytes into the offending token ("oops" starts at column 12)
    column = int(error.message.rsplit("column ", 1)[1])
    assert 12 <= column <= 17


def test_trailing_garbage_is_fatal() -> None:
    assert fatal(FIXTURES / "trailing-garbage.json").line == 1


def test_invalid_utf8_is_fatal_with_a_position() -> None:
    assert fatal(FIXTURES / "invalid-utf8.json").line == 1


# --- inputs that crash or exhaust ijson's C backend must be refused cleanly -----------------

def test_a_number_of_thousands_of_digits_is_refused_not_a_crash() -> None:
    # ijson 3.6's C backend segfaults on an int over Python's 4300-digit limit; run in a
    # child process so a regression shows as a failure, not a dead test run.
    code = ("from feedsync.sources import open_catalog\n"
            "from feedsync.errors import CatalogError\n"
            f"try:\n    list(open_catalog({str(FIXTURES / 'number-too-long.json')!r}).records())\n"
            "except CatalogError as e:\n    print('refused', e.line)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused 1"


def test_deep_nesting_does_not_exhaust_memory(tmp_path: Path) -> None:
    # ijson's C items() needs gigabytes for these; basic_parse and skipping need none.
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 200_000)
    assert "cut short" in fatal(path).message
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    (problem,) = read(path)
    assert isinstance(problem, RowProblem)
    assert problem.code == "row-not-object"


def test_deep_nesting_inside_an_item_is_refused() -> None:
    assert str(MAX_DEPTH) in fatal(FIXTURES / "deep-nesting-in-item.json").message


def test_exponent_out_of_decimal_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "exp.json"
    path.write_text('[{"n": 1e999999999999999999999}]')
    assert "out of range" in fatal(path).message


# --- the real Saleor fixture -----------------------------------------------------------------

@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not available")
def test_saleor_fixture_streams_all_721_objects() -> None:
    items = read(DATA / "saleor" / "populatedb_data.json")
    assert len(items) == 721
    assert all(isinstance(i, Record) for i in items)
    models = {i.data["model"] for i in items if isinstance(i, Record)}
    assert "product.product" in models
    product = next(i for i in items if isinstance(i, Record)
                   and i.data["model"] == "product.product")
    assert "fields.name" in product.data
    assert [i.line for i in items[:3]] == [1, 2, 3]
