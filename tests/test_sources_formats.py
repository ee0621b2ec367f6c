"""All readers together: same catalog in every format gives the same records; arbitrary
bytes never raise anything but CatalogError (A12); memory does not grow with the catalog."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import open_catalog

GENERATOR = Path("/work/shared/bench/gen_catalog.py")
needs_generator = pytest.mark.skipif(not GENERATOR.exists(), reason="gen_catalog.py missing")
EXTENSIONS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".xml", ".dat")


def generate(tmp_path: Path, name: str, rows: int, *flags: str) -> Path:
    out = tmp_path / name
    subprocess.run([sys.executable, str(GENERATOR), str(rows), str(out), *flags],
                   check=True, timeout=120)
    return out


@needs_generator
def test_every_format_yields_the_same_records(tmp_path: Path) -> None:
    catalogs = {
        "csv": generate(tmp_path, "c.csv", 200, "--adversarial"),
        "csv+bom": generate(tmp_path, "b.csv", 200, "--adversarial", "--bom"),
        "tsv": generate(tmp_path, "c.tsv", 200, "--adversarial"),
        "json": generate(tmp_path, "c.json", 200, "--adversarial"),
        "jsonl": generate(tmp_path, "c.jsonl", 200, "--adversarial"),
    }
    results = {}
    for name, path in catalogs.items():
        items = list(open_catalog(path).records())
        assert not [i for i in items if isinstance(i, RowProblem)], name
        results[name] = [i.data for i in items if isinstance(i, Record)]
    reference = results.pop("csv")
    assert len(reference) == 211
    ids = [row["id"] for row in reference]
    assert {"ok-markup", "ok-template-text", "ok-unicode", "bad-no-price"} <= set(ids)
    assert ids.count("ok-dup") == 2
    for name, rows in results.items():
        assert rows == reference, name
    unicode_row = next(r for r in reference if r["id"] == "ok-unicode")
    assert unicode_row["title"] == "Café Ünion Teekanne 😀 — 1 l"


@needs_generator
@pytest.mark.parametrize("name", ["m.csv", "m.json", "m.jsonl"])
def test_memory_does_not_grow_with_the_catalog(tmp_path: Path, name: str) -> None:
    small = generate(tmp_path, "small-" + name, 1_000)
    large = generate(tmp_path, "large-" + name, 8_000)
    peaks = []
    for path in (small, large):
        tracemalloc.start()
        count = sum(1 for _ in open_catalog(path).records())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count in (1_000, 8_000)
    # 8x the rows: a reader that kept records would need about 8x the memory.
    assert peaks[1] < peaks[0] * 2 + 256 * 1024


# --- A12: arbitrary bytes ---------------------------------------------------------------------

TOKENS = [b"[", b"]", b"{", b"}", b'"', b",", b":", b";", b"\t", b"|", b"\n", b"\r\n", b"\r",
          b" ", b"id", b"title", b"1", b"1.5e3", b"9" * 50, b"true", b"null", b"NaN", b"\\",
          b"\\u", b"\\ud800", b"\\udc00", b"\xef\xbb\xbf", b"\xff", b"\xc3\xa9", b"\x00",
          b"<", b">", b"/", b"<?xml version='1.0'?>", b"<rss xmlns:g='http://base.google.com/ns/1.0'>",
          b"<channel>", b"<item>", b"</item>", b"<g:id>", b"</g:id>", b"<g:shipping>",
          b"<!DOCTYPE x>", b"&amp;", b"&x;", b"<![CDATA[", b"]]>", b'"id":', b'{"id": "1"}']
structured = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)


def read_everything(data: bytes, extension: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("catalog" + extension)
        path.write_bytes(data)
        try:
            source = open_catalog(path)
            for item in source.records():
                assert isinstance(item, Record | RowProblem)
                if isinstance(item, Record):
                    assert all(type(k) is str and type(v) is str for k, v in item.data.items())
        except CatalogError as exc:
            assert exc.file == str(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), extension=st.sampled_from(EXTENSIONS))
def test_arbitrary_bytes_only_ever_raise_catalog_error(data: bytes, extension: str) -> None:
    read_everything(data, extension)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=structured, extension=st.sampled_from(EXTENSIONS))
def test_format_shaped_noise_only_ever_raises_catalog_error(data: bytes, extension: str) -> None:
    read_everything(data, extension)
