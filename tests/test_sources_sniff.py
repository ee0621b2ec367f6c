"""open_catalog: refusing what cannot be read, and choosing the format and delimiter."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsync.errors import CatalogError, ConfigError, ExitCode
from feedsync.sources import FORMATS, SourceOptions, open_catalog
from feedsync.sources.sniff import sniff_delimiter

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_missing_file_is_a_catalog_error_with_the_path_and_a_tip(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(CatalogError) as err:
        open_catalog(missing)
    assert err.value.file == str(missing)
    assert err.value.tip
    assert err.value.exit_code is ExitCode.CATALOG


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="directory") as err:
        open_catalog(tmp_path)
    assert err.value.file == str(tmp_path)
    assert err.value.tip


@pytest.mark.parametrize("name", ["binary-nul-bytes.csv", "xlsx-renamed.csv"])
def test_binary_files_are_refused_with_a_tip(name: str) -> None:
    with pytest.raises(CatalogError) as err:
        open_catalog(FIXTURES / name)
    assert err.value.file == str(FIXTURES / name)
    assert err.value.tip


def test_an_xlsx_gets_a_specific_tip() -> None:
    with pytest.raises(CatalogError) as err:
        open_catalog(FIXTURES / "xlsx-renamed.csv")
    assert "xlsx" in (err.value.tip or "")


def test_mostly_control_bytes_count_as_binary(tmp_path: Path) -> None:
    with pytest.raises(CatalogError):
        open_catalog(write(tmp_path, "x.csv", bytes(range(1, 32)) * 20))


@pytest.mark.parametrize("name", ["empty.csv", "header-only.csv", "whitespace-only.json"])
def test_empty_and_header_only_files_yield_nothing(name: str) -> None:
    assert list(open_catalog(FIXTURES / name).records()) == []


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".txt", ".json", ".jsonl", ".xml", ".dat"])
def test_zero_bytes_is_an_empty_catalog_in_every_format(tmp_path: Path, ext: str) -> None:
    source = open_catalog(write(tmp_path, "empty" + ext, b""))
    assert list(source.records()) == []
    assert source.bytes_total == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", "id,title\n1,a\n", "csv"),
        ("a.csv", "id\ttitle\n1\ta\n", "tsv"),
        ("a.tsv", "id,title\n1,a\n", "tsv"),
        ("a.txt", "id\ttitle\n1\ta\n", "tsv"),
        ("a.txt", "id;title\n1;a\n", "csv"),
        ("a.json", '[{"id": "1"}]', "json"),
        ("a.json", '{"id": "1"}\n{"id": "2"}\n', "jsonl"),
        ("a.jsonl", '{"id": "1"}\n', "jsonl"),
        ("a.ndjson", '{"id": "1"}\n', "jsonl"),
        ("a.jsonl", '[{"id": "1"}]', "json"),
        ("a.xml", "<rss/>", "google-xml"),
        ("feed.rss", "<rss/>", "google-xml"),
        ("a.csv", '[{"id": "1"}]', "json"),
        ("a.csv", "<?xml version='1.0'?><rss/>", "google-xml"),
        ("export", '{"id": "1"}\n{"id": "2"}\n', "jsonl"),
        ("export", '{\n  "products": []\n}', "json"),
        ("export", "id|title\n1|a\n", "csv"),
        ("[brackets].csv", "[ID],[Name]\n1,a\n", "csv"),
    ],
)
def test_format_from_extension_confirmed_by_content(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    assert open_catalog(write(tmp_path, name, content)).format == expected


def test_an_explicit_format_skips_the_content_check(tmp_path: Path) -> None:
    path = write(tmp_path, "feed.data", "id\ttitle\n1\ta\n")
    assert open_catalog(path, SourceOptions(format="tsv")).format == "tsv"
    assert open_catalog(path, SourceOptions(format="jsonl")).format == "jsonl"


def test_every_format_in_the_registry_is_a_reader() -> None:
    assert set(FORMATS) == {"csv", "tsv", "json", "jsonl", "google-xml", "wxr", "prestashop-xml"}


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (SourceOptions(format="xlsx"), "format"),  # type: ignore[arg-type]
        (SourceOptions(encoding="no-such-codec"), "encoding"),
        (SourceOptions(delimiter=",,"), "delimiter"),
        (SourceOptions(delimiter='"'), "delimiter"),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(
    tmp_path: Path, options: SourceOptions, key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        open_catalog(write(tmp_path, "a.csv", "id\n1\n"), options)
    assert err.value.key == key


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("id,title,price\n1,a,2\n", ","),
        ("id;title;price\n1;a;2\n", ";"),
        ("id\ttitle\n1\ta\n", "\t"),
        ("id|title\n1|a\n", "|"),
        ("id\n1\n", ","),
        ('"a,b";c;d\n1;2;3\n', ";"),
        # PrestaShop: commas inside header names, semicolons between them
        ("id;Categories (x,y,z...);Tags (x,y,z...);price\n1;a,b;c,d;5,00\n", ";"),
        # thirty bees: the reverse
        ("id,Categories (x;y;z...),Tags (x;y;z...),price\n1,a;b,c;d,5\n", ","),
        ("id,title\n", ","),
    ],
)
def test_delimiter_sniffing(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


def test_an_explicit_delimiter_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "id;title,x\n1;a,b\n")
    records = list(open_catalog(path, SourceOptions(delimiter=",")).records())
    assert records[0].data == {"id;title": "1;a", "x": "b"}  # type: ignore[union-attr]
