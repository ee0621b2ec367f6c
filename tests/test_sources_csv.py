"""CSV/TSV reader: positions, dialects, encodings, and every bad row as a RowProblem."""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from pathlib import Path

import pytest

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

Item = Record | RowProblem


def read(path: Path, **options: str) -> list[Item]:
    return list(open_catalog(path, SourceOptions(**options)).records())  # type: ignore[arg-type]


def records(items: list[Item]) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def problems(items: list[Item]) -> list[RowProblem]:
    return [i for i in items if isinstance(i, RowProblem)]


def summary(items: list[Item]) -> list[tuple[str, int, str | None]]:
    """(kind, line, id or code) per item, the shape most tests assert."""
    return [("R", i.line, i.data.get("id")) if isinstance(i, Record)
            else ("P", i.line, i.code) for i in items]


# --- A1: ragged rows and quotes ---------------------------------------------------------

def test_ragged_rows_are_row_problems_and_good_rows_all_load() -> None:
    items = read(FIXTURES / "ragged-rows.csv")
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-ragged"), ("R", 4, "3"),
                              ("P", 5, "row-ragged"), ("R", 6, "5")]
    too_many, too_few = problems(items)
    assert (too_many.product_id, too_few.product_id) == ("2", "4")
    assert "3" in too_many.message and "4" in too_many.message
    assert "2" in too_few.message
    assert too_many.file == str(FIXTURES / "ragged-rows.csv")


def test_unterminated_quote_at_end_of_file_is_a_row_problem() -> None:
    items = read(FIXTURES / "unterminated-quote-at-eof.csv")
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-unterminated-quote")]
    assert problems(items)[0].product_id == "2"


def test_runaway_quote_swallows_nothing_the_next_lines_are_read_again() -> None:
    items = read(FIXTURES / "unterminated-quote-mid-file.csv")
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-unterminated-quote"),
                              ("R", 4, "3"), ("R", 5, "4")]


def test_a_cell_over_the_field_limit_is_a_row_problem_and_reading_resumes(
    tmp_path: Path
) -> None:
    path = tmp_path / "field-too-large.csv"
    path.write_text('id,title\n1,"' + "x" * (csv.field_size_limit() + 10) + "\n2,ok\n3,ok\n")
    assert summary(read(path)) == [("P", 2, "row-field-too-large"), ("R", 3, "2"),
                                   ("R", 4, "3")]


def test_bare_cr_inside_an_unquoted_cell_costs_one_row() -> None:
    assert summary(read(FIXTURES / "stray-carriage-return.csv")) == [
        ("P", 2, "row-malformed"), ("R", 3, "2")]


def test_the_a1_mix_three_bad_rows_among_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "a1.csv"
    path.write_text('id,title,price\n1,a,1\n2,b\n3,c,3\n4,d,4,x\n5,e,5\n6,"f,6\n')
    items = read(path)
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-ragged"), ("R", 4, "3"),
                              ("P", 5, "row-ragged"), ("R", 6, "5"),
                              ("P", 7, "row-unterminated-quote")]
    assert [p.product_id for p in problems(items)] == ["2", "4", "6"]


# --- positions ------------------------------------------------------------------------------

def test_line_is_where_a_multi_line_row_starts() -> None:
    items = read(FIXTURES / "multiline-quoted-cells.csv")
    assert summary(items) == [("R", 2, "1"), ("R", 5, "2"), ("R", 6, "3"), ("R", 8, "4")]
    assert records(items)[0].data["description"] == "line one\nline two\nline three"
    assert records(items)[2].data["description"] == "x\r\ny"
    assert records(items)[3].data["description"] == "last, no newline\nat end"


def test_blank_lines_and_empty_rows_are_skipped_but_counted_in_lines() -> None:
    assert summary(read(FIXTURES / "blank-lines.csv")) == [("R", 5, "1"), ("R", 9, "2")]


def test_the_real_multi_line_catalog_starts_rows_where_the_file_says() -> None:
    path = DATA / "meta-catalog-landingmaj" / "facebook-catalog.csv"
    raw = path.read_text(encoding="utf-8")
    starts = [n for n, line in enumerate(raw.split("\n"), start=1)
              if line.startswith('"prod_')]
    items = read(path)
    assert [r.line for r in records(items)] == starts
    assert len(starts) == 36


# --- A2: encodings ----------------------------------------------------------------------------

def test_bom_is_stripped_so_the_first_header_is_id() -> None:
    items = read(FIXTURES / "bom-crlf.csv")
    first = records(items)[0]
    assert list(first.data) == ["id", "title", "gtin"]
    assert first.data == {"id": "1", "title": "Café", "gtin": "0012345678905"}
    assert records(items)[1].data["title"] == "two\r\nlines"
    assert records(items)[1].data["gtin"] == "0000080446392"


def test_one_invalid_utf8_byte_costs_one_row_with_its_byte_offset() -> None:
    path = FIXTURES / "bad-encoding.csv"
    items = read(path)
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-undecodable"), ("R", 4, "3")]
    problem = problems(items)[0]
    offset = path.read_bytes().index(b"\xe9")
    assert f"byte offset {offset}" in problem.message
    assert problem.product_id == "2"
    assert records(items)[1].data["title"] == "ok é"


def test_a_bad_byte_inside_a_multi_line_cell_poisons_only_that_row() -> None:
    items = read(FIXTURES / "bad-encoding-in-multiline-cell.csv")
    assert summary(items) == [("R", 2, "1"), ("P", 3, "row-undecodable"), ("R", 6, "3")]


def test_an_undecodable_header_is_fatal_with_a_tip() -> None:
    with pytest.raises(CatalogError) as err:
        read(FIXTURES / "bad-encoding-header.csv")
    assert err.value.line == 1
    assert "encoding" in (err.value.tip or "")


def test_latin1_file_reads_with_the_encoding_option() -> None:
    items = read(FIXTURES / "latin1-legacy.csv", encoding="latin-1")
    assert [r.data["title"] for r in records(items)] == ["Café crème", "Äpfel"]
    assert not problems(items)


def test_latin1_file_without_the_option_reports_each_row() -> None:
    items = read(FIXTURES / "latin1-legacy.csv")
    assert [p.code for p in problems(items)] == ["row-undecodable"] * 2


def test_utf16_excel_unicode_text_is_read_by_its_bom() -> None:
    source = open_catalog(FIXTURES / "utf16-excel-unicode-text.txt")
    assert source.format == "tsv"
    items = list(source.records())
    assert [r.data for r in records(items)] == [
        {"id": "1", "title": "Café", "price": "5.00"},
        {"id": "2", "title": "急須", "price": "6.00"}]


def test_utf16_with_a_bad_code_unit_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "bad16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "id,t\r\n1,a\r\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(CatalogError, match="utf-16"):
        read(path)


def test_classic_mac_cr_line_ends() -> None:
    items = read(FIXTURES / "cr-only-line-ends.csv")
    assert summary(items) == [("R", 2, "1"), ("R", 3, "2")]
    assert records(items)[1].data["title"] == "quoted\rcell"


# --- headers and cells ------------------------------------------------------------------------

def test_header_names_are_stripped_and_unnamed_or_repeated_ones_kept() -> None:
    (record,) = read(FIXTURES / "padded-header.csv")
    assert isinstance(record, Record)
    assert record.data == {"id": "1", "title": "a", "column_3": "x", "title_2": "b"}


def test_cells_stay_strings_with_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "gtin.csv"
    path.write_text("id,gtin,price\n007,00012345678905,1.50\n")
    (record,) = read(path)
    assert isinstance(record, Record)
    assert record.data == {"id": "007", "gtin": "00012345678905", "price": "1.50"}


def test_semicolon_file_with_commas_in_header_names() -> None:
    (record,) = read(FIXTURES / "semicolon-with-commas-in-header.csv")
    assert isinstance(record, Record)
    assert record.data["Categories (x,y,z...)"] == "a,b"


def test_pipe_delimited_txt() -> None:
    source = open_catalog(FIXTURES / "pipe-delimited.txt")
    assert [r.data for r in records(list(source.records()))] == [
        {"id": "1", "title": "a", "price": "5"}]


def test_records_can_be_read_twice_and_report_progress() -> None:
    source = open_catalog(FIXTURES / "ragged-rows.csv")
    seen = []
    for _ in source.records():
        seen.append(source.bytes_read())
    assert seen == sorted(seen)
    assert 0 < seen[0] <= source.bytes_total
    assert source.bytes_read() == source.bytes_total
    assert len(list(source.records())) == 5


# --- the real exports in ../shared/data ----------------------------------------------------

# Row problems the real files are known to contain (data/README.md), and nothing else.
EXPECTED_PROBLEMS = {
    "prestashop/combinations_import.csv": [(2, "row-ragged")],  # 24 fields vs 23
}
EXPECTED_ROWS = {
    "magento2-sample-data/products.csv": 1994,
    "magento2-sample-data/products_gear_bags.csv": 14,
    "magento2-sample-data/products_training_video_download.csv": 6,
    "magento2-sample-data/yoga_bundle.csv": 1,
    "medusa/exported-products-comma.csv": 3,
    "medusa/exported-products-semicolon.csv": 3,
    "meta-catalog-landingmaj/facebook-catalog.csv": 36,
    "prestashop/categories_import.csv": 3,
    "prestashop/combinations_import.csv": 26,
    "prestashop/products_import.csv": 7,
    "shopify-partners/apparel.csv": 22,
    "shopify-partners/home-and-garden.csv": 21,
    "shopify-partners/jewelery.csv": 41,
    "shopify-template/product_template.csv": 17,
    "shopify-template-excel-roundtrip/product_template.csv": 17,
    "thirtybees/combinations_import.csv": 27,
    "thirtybees/products_import.csv": 7,
    "woocommerce/experimental_fashion_sample_9_products.csv": 9,
    "woocommerce/experimental_sample_9_products.csv": 9,
    "woocommerce/sample_products.csv": 25,
}
REAL_CSVS = sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*.csv")) if DATA.is_dir() else []


@pytest.mark.skipif(not REAL_CSVS, reason="../shared/data is not available")
def test_the_walk_covers_every_real_csv() -> None:
    assert set(REAL_CSVS) == set(EXPECTED_ROWS)


@pytest.mark.parametrize("name", REAL_CSVS)
def test_every_real_csv_loads(name: str) -> None:
    items = read(DATA / name)
    assert len(records(items)) == EXPECTED_ROWS[name]
    assert [(p.line, p.code) for p in problems(items)] == EXPECTED_PROBLEMS.get(name, [])
    for record in records(items):
        assert all(isinstance(v, str) for v in record.data.values())
        assert not any(k.startswith("\ufeff") for k in record.data)


@pytest.mark.skipif(not REAL_CSVS, reason="../shared/data is not available")
def test_comma_and_semicolon_medusa_exports_give_the_same_records() -> None:
    comma = read(DATA / "medusa" / "exported-products-comma.csv")
    semicolon = read(DATA / "medusa" / "exported-products-semicolon.csv")
    assert [r.data for r in records(comma)] == [r.data for r in records(semicolon)]
    assert "\n" in records(comma)[0].data["Product Description"]


@pytest.mark.skipif(not REAL_CSVS, reason="../shared/data is not available")
def test_woocommerce_bom_crlf_export() -> None:
    first = records(read(DATA / "woocommerce" / "sample_products.csv"))[0]
    assert next(iter(first.data)) == "ID"
    assert not any(v.endswith("\r") for v in first.data.values())


@pytest.mark.skipif(not REAL_CSVS, reason="../shared/data is not available")
def test_prestashop_ean13_keeps_leading_zeros() -> None:
    eans = Counter(r.data["EAN13"][:4] for r in
                   records(read(DATA / "prestashop" / "combinations_import.csv")))
    assert eans["0000"] > 0


def test_short_rows_pad_fills_missing_trailing_cells(tmp_path: Path) -> None:
    """catalog.short_rows: pad (Spree's variant rows omit their trailing empty cells)."""
    path = tmp_path / "short.csv"
    path.write_text("id,title,color,size\nA1,Mug\nA2,Cup,red,L\nA3,Pot,blue,M,extra\n",
                    encoding="utf-8")
    strict = list(open_catalog(path).records())
    assert [type(i) for i in strict] == [RowProblem, Record, RowProblem]
    padded = list(open_catalog(path, SourceOptions(short_rows="pad")).records())
    assert isinstance(padded[0], Record)
    assert padded[0].data == {"id": "A1", "title": "Mug", "color": "", "size": ""}
    assert padded[0].line == 2
    assert isinstance(padded[2], RowProblem) and padded[2].code == "row-ragged"  # too many
