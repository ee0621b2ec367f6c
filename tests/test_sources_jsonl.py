"""JSON Lines reader: one broken line costs one row (A7)."""

from __future__ import annotations

import codecs
from pathlib import Path

from feedsync.model import Record, RowProblem
from feedsync.sources import open_catalog

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def read(path: Path) -> list[Record | RowProblem]:
    return list(open_catalog(path).records())


def summary(items: list[Record | RowProblem]) -> list[tuple[int, str]]:
    return [(i.line, i.data["id"]) if isinstance(i, Record) else (i.line, i.code)
            for i in items]


def test_broken_lines_are_rejected_and_the_rest_load() -> None:
    items = read(FIXTURES / "broken-line.jsonl")
    assert summary(items) == [(1, "1"), (2, "row-bad-json"), (4, "3"), (5, "row-not-object"),
                              (6, "row-bad-json"), (7, "5")]
    assert all(i.file == str(FIXTURES / "broken-line.jsonl") for i in items)


def test_lone_surrogate_escape_loads_as_a_python_string() -> None:
    last = read(FIXTURES / "broken-line.jsonl")[-1]
    assert isinstance(last, Record)
    assert last.data["title"] == "bad \ud800"


def test_undecodable_line_names_its_byte_offset() -> None:
    path = FIXTURES / "bad-encoding.jsonl"
    items = read(path)
    assert summary(items) == [(1, "1"), (2, "row-undecodable"), (3, "3")]
    problem = items[1]
    assert isinstance(problem, RowProblem)
    offset = path.read_bytes().index(b"\xe9")
    assert f"byte offset {offset}" in problem.message


def test_values_convert_like_json_arrays(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"id": "007", "p": 1.50, "b": true, "n": null, "s": {"c": "US"}, '
                    '"l": [1, "a"]}\r\n')
    (record,) = read(path)
    assert isinstance(record, Record)
    assert record.data == {"id": "007", "p": "1.50", "b": "true", "n": "", "s.c": "US",
                           "l": "1,a"}


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.ndjson"
    path.write_bytes(codecs.BOM_UTF8 + b'{"id": "1"}\r\n\r\n{"id": "2"}')
    assert summary(read(path)) == [(1, "1"), (3, "2")]


def test_hostile_lines_are_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([
        '{"id": "1"}',
        '{"n": ' + "9" * 5000 + "}",  # over Python's int digit limit
        '{"n": 1e999999999999999999999}',  # out of Decimal's range
        "[" * 5000 + "]" * 5000,  # deeper than the json module recurses
        '{"x": ' + '{"y": ' * 100 + "1" + "}" * 101,  # deeper than a product nests
        '{"id": "6"}',
    ]))
    assert summary(read(path)) == [(1, "1"), (2, "row-bad-json"), (3, "row-bad-json"),
                                   (4, "row-bad-json"), (5, "row-bad-json"), (6, "6")]


def test_utf16_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_bytes(codecs.BOM_UTF16_LE + '{"id": "é"}\n{"id": "2"}\n'.encode("utf-16-le"))
    assert summary(read(path)) == [(1, "é"), (2, "2")]
