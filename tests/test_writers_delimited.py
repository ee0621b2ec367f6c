"""CSV and TSV feeds, read back with csv.reader (A10, E4 at the writer level)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsync.writers import WRITERS, Column, Layout

COLUMNS = (Column("id", "id"), Column("title", "title"),
           Column("image", "additional_image_link", multi=True, separator=","),
           Column("price", "price"))


def _render(kind: str, items: list[dict[str, Any]], **options: Any) -> bytes:
    handle = io.BytesIO()
    writer = WRITERS[kind](Layout(columns=COLUMNS, options=options))
    writer.start(handle)
    for item in items:
        writer.write(item)
    writer.finish()
    assert not handle.closed  # the AtomicFile owns the handle, not the writer
    return handle.getvalue()


def _read(data: bytes, delimiter: str) -> list[list[str]]:
    text = data.decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _item(**values: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "1", "title": "", "image": [], "price": "1.00 USD"}
    item.update(values)
    return item


@pytest.mark.parametrize("kind, delimiter", [("csv", ","), ("tsv", "\t")])
def test_header_and_rows(kind: str, delimiter: str) -> None:
    rows = _read(_render(kind, [_item(id="a", title="A", image=["https://x/1", "https://x/2"]),
                                _item(id="b")]), delimiter)
    assert rows == [["id", "title", "additional_image_link", "price"],
                    ["a", "A", "https://x/1,https://x/2", "1.00 USD"],
                    ["b", "", "", "1.00 USD"]]


TRICKY = ["a,b", "a\tb", "line\nbreak", "cr\rhere", 'say "hi"', '"', "", " padded ",
          "=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tleading tab",
          "Café 😀 急須", "a;b|c"]


@pytest.mark.parametrize("kind, delimiter", [("csv", ","), ("tsv", "\t")])
@pytest.mark.parametrize("text", TRICKY)
def test_values_round_trip_exactly(kind: str, delimiter: str, text: str) -> None:
    rows = _read(_render(kind, [_item(title=text)]), delimiter)
    assert len(rows) == 2 and all(len(r) == 4 for r in rows)
    assert rows[1][1] == text  # formulas are kept byte for byte (E4): the validator warns


def test_csv_delimiter_option() -> None:
    rows = _read(_render("csv", [_item(title="a;b")], delimiter=";"), ";")
    assert rows[1] == ["1", "a;b", "", "1.00 USD"]


def test_bom_option_writes_a_utf8_bom() -> None:
    data = _render("tsv", [_item()], bom=True)
    assert data.startswith(b"\xef\xbb\xbfid\t")
    assert not _render("tsv", [_item()]).startswith(b"\xef\xbb\xbf")


def test_lines_end_with_lf() -> None:
    data = _render("csv", [_item(), _item()])
    assert data.count(b"\r\n") == 0 and data.count(b"\n") == 3


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_any_text_round_trips_with_a_fixed_column_count(titles: list[str]) -> None:
    for kind, delimiter in (("csv", ","), ("tsv", "\t")):
        rows = _read(_render(kind, [_item(id=str(i), title=t) for i, t in enumerate(titles)]),
                     delimiter)
        assert len(rows) == len(titles) + 1
        assert all(len(row) == 4 for row in rows)
        assert [row[1] for row in rows[1:]] == titles


@pytest.mark.parametrize("text, expected", [
    ("line one\nline two", "line one line two"),
    ("a\r\n\r\nb", "a b"),
    ("tab\there", "tab here"),
    ("a \n b", "a   b"),
    ("no breaks, \"quotes\"", "no breaks, \"quotes\""),
])
def test_one_line_option_keeps_every_item_on_one_line(text: str, expected: str) -> None:
    data = _render("tsv", [_item(title=text, image=["https://x/1\n", "https://x/2"])],
                   one_line=True)
    assert data.count(b"\n") == 2  # header and one item, nothing quoted across lines
    rows = _read(data, "\t")
    assert rows[1][1] == expected
    assert rows[1][2] == "https://x/1 ,https://x/2"


def test_rows_joined_by_hand_equal_the_csv_writers() -> None:
    """The writer quotes cells itself (issue 16); the stdlib csv writer is the judge."""
    import csv
    import io
    import random

    from feedsync.writers.base import Column, Layout
    from feedsync.writers.delimited import DelimitedWriter

    rng = random.Random(16)
    alphabet = ["a", " ", ",", "\t", '"', "\n", "\r", "é", ";", "'", ""]
    columns = tuple(Column(name=f"c{i}", header=f"c{i}", multi=False, separator=",",
                           children=(), child_separator=":") for i in range(4))
    for delimiter in (",", "\t", ";"):
        writer = DelimitedWriter(Layout(columns=columns, options={}), delimiter)
        for _ in range(5000):
            item = {f"c{i}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
                    for i in range(4)}
            row, _, quote_all = writer._row(item)
            expected = io.StringIO(newline="")
            csv.writer(expected, delimiter=delimiter, lineterminator="\n",
                       quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerow(row)
            assert writer.encode(item) == expected.getvalue().encode("utf-8"), (delimiter, row)
