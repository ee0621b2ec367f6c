"""Lists stay lists through slicing, ``first``, ``last``, ``join`` and ``map`` (issue 14
item 2): ``(x | split_values(' '))[1:11]`` once sliced the *text* and wrote ``'https://i``.

Both the compiled fast path and the sandboxed Jinja fallback are exercised, at the level of
one expression and through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedsync.channels.compiler import Data, ExpressionCompiler, build_function, make_environment
from feedsync.channels.program import _as_list, _as_text
from feedsync.errors import ExitCode
from feedsync.model import Product
from tests.helpers import COLUMNS, feed_items, good_row, read_issues, run_cli, write_csv

URLS = " ".join(f"https://cdn.example.com/{n}.jpg" for n in range(1, 5))
G = "{http://base.google.com/ns/1.0}"


def _value(text: str) -> tuple[object, bool]:
    compiler = ExpressionCompiler(make_environment())
    source, fast = compiler.compile(text, "test")
    body = f"def v(product, target, defaults, channel, item):\n    return {source}"
    function = build_function("v", body, compiler.tables, "test")
    return function(Product({"id": "1", "x": URLS}), Data(), Data(), Data(), None), fast


@pytest.mark.parametrize(("text", "expected"), [
    ("(product.x | split_values(' '))[1:3]",
     ["https://cdn.example.com/2.jpg", "https://cdn.example.com/3.jpg"]),
    ("product.x | split_values(' ') | first", "https://cdn.example.com/1.jpg"),
    ("product.x | split_values(' ') | last", "https://cdn.example.com/4.jpg"),
    ("(product.x | split_values(' ') | map('upper'))[:1]", ["HTTPS://CDN.EXAMPLE.COM/1.JPG"]),
    ("product.x | split_values(' ') | map('upper')",
     [u.upper() for u in URLS.split()]),
    ("(product.x | split_values(' '))[2:] | join('|')",
     "https://cdn.example.com/3.jpg|https://cdn.example.com/4.jpg"),
    ("product.x[:5]", "https"),  # text is still sliced as text
])
def test_list_operations_keep_lists(text: str, expected: object) -> None:
    value, _ = _value(text)
    assert value == expected


def test_a_slice_is_compiled_on_the_fast_path() -> None:
    # The bug lived in the fast path: `_str(...)[a:b]`.
    value, fast = _value("(product.x | split_values(' '))[1:2]")
    assert fast and value == ["https://cdn.example.com/2.jpg"]


def test_what_a_field_receives() -> None:
    # A multi-valued field gets each value; a single-valued one the values joined by ','.
    values = ["a", "", "b"]
    assert _as_list(values, "|") == ["a", "b"]
    assert _as_list(iter(values), "|") == ["a", "b"]
    assert _as_text(values) == "a,b"
    assert _as_text(["x"]) == "x"


def test_a_sliced_override_writes_whole_urls(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "catalog.csv",
                        [good_row("A1", additional_image_link=URLS)], COLUMNS)
    config = tmp_path / "feedsync.yaml"
    config.write_text(json.dumps({"channels": {"google": {"overrides": {
        "additional_image_link":
            "(product.additional_image_link | split_values(' '))[1:11]"}}}}),
        encoding="utf-8")
    code, out, err = run_cli("build", catalog, "--config", config, "--channel", "google",
                             "--out", tmp_path / "out", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["channels"]["google"]["rejected"] == 0
    item = feed_items(tmp_path / "out" / "google.xml")["A1"]
    assert [e.text for e in item.iter(G + "additional_image_link")] == [
        f"https://cdn.example.com/{n}.jpg" for n in range(2, 5)]
    codes = {i["code"] for i in read_issues(tmp_path / "out" / "google.issues.jsonl")}
    assert "invalid-url" not in codes
