"""The hot path's rewrites give exactly what the plain forms they replaced gave.

Each fast form (issue 16) is checked against the straightforward one, kept here as the
oracle, on text built from the characters where they could differ.
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsync.channels.compiler import Data, ExpressionCompiler, make_environment
from feedsync.channels.filters import _BLOCK_TAG, _SCRIPT, _TAG, money, plain_text, single_line
from feedsync.channels.loader import ChannelLibrary
from feedsync.channels.program import CompiledChannel
from feedsync.deltas import _sink_rows, sink_line
from feedsync.model import Product
from feedsync.rules.checks import (
    _EXCLUDES,
    _FORBIDS,
    CHECKS,
    RuleTests,
    gtin_check_digit_ok,
    pattern_matcher,
)
from feedsync.rules.money import parse_money

_PIECES = [" ", "  ", "\t", "\r", "\n", "\f", "\v", "\u00a0", "\u3000", "\u2028", "\x85",
           "a", "b", "é", "<", ">", "&", ";", "<p>", "</p>", "<br/>", "</li>", "&amp;",
           "&lt;", "&#10;", "&nbsp;", "<script>x</script>", "<b>", "\ue001"]
texts = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


def plain_text_oracle(text: str) -> str:
    """plain_text as first written: one regex per step."""
    spaces = re.compile(r"[ \t\r\f\v\u00a0]+")
    if "<" not in text and "&" not in text:
        return text.strip() if "  " not in text else spaces.sub(" ", text).strip()
    if "<" in text:
        text = _TAG.sub("", _BLOCK_TAG.sub("\n", _SCRIPT.sub(" ", text)))
    text = spaces.sub(" ", html.unescape(text))
    return re.sub(r"\s*\n\s*", "\n", text).strip()


@settings(max_examples=3000, deadline=None)
@given(texts)
def test_plain_text_equals_the_regex_form(text: str) -> None:
    assert plain_text(text) == plain_text_oracle(text)


_ASCII_SPACES = [chr(c) for c in range(128) if chr(c).isspace()]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_PIECES + _ASCII_SPACES + ["x", "\x7f", "\x1b"]),
                max_size=30).map("".join))
def test_single_line_equals_split_and_join(text: str) -> None:
    assert single_line(text) == " ".join(text.split())


def test_single_line_knows_every_ascii_space_split_breaks_on() -> None:
    # The fast form lists them by hand: any it missed would pass through unchanged.
    assert _ASCII_SPACES == ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e",
                             "\x1f", " "]
    for space in _ASCII_SPACES:
        assert single_line(f"a{space}b") == single_line(f"a{space}{space}b") == "a b"
        assert single_line(f"{space}a") == single_line(f"a{space}") == "a"


def test_plain_text_on_a_description_with_markup() -> None:
    text = "<p>Warm  wool\t&amp; more</p>\n\n <ul><li>5 < 6</li><li> b </li></ul>"
    assert plain_text(text) == plain_text_oracle(text) == "Warm wool & more\n5 < 6\nb"


# --- rules -------------------------------------------------------------------------------

def money_oracle(value: str, positive: bool, allow_zero: bool,
                 currencies: frozenset[str]) -> str | None:
    """The money check as first written: every value through parse_money."""
    money = parse_money(value)
    if isinstance(money, str):
        return money
    if money.comma:
        return f"{value!r} uses a comma as decimal separator; write {value.replace(',', '.')!r}"
    if money.amount < 0:
        return f"{value!r} is negative"
    if money.amount == 0 and positive and not allow_zero:
        return f"{value!r} must be more than zero"
    if currencies and money.currency not in currencies:
        return (f"currency {money.currency} is not accepted here (one of "
                + ", ".join(sorted(currencies)) + ")")
    return None


amounts = st.from_regex(r"[+-]?[0-9]{1,4}([.,][0-9]{1,3})?", fullmatch=True)
codes = st.sampled_from(["USD", "EUR", "usd", "XXY", "GBP", "JPY", "US"])
money_texts = st.one_of(st.tuples(amounts, st.sampled_from([" ", "  ", ""]), codes).map(
    "".join), st.sampled_from(["NaN USD", "inf USD", "0 USD", "00.000 EUR", "0.01 USD"]))


@settings(max_examples=2000, deadline=None)
@given(money_texts, st.booleans(), st.booleans(),
       st.sampled_from([[], ["USD"], ["EUR", "GBP"]]))
def test_money_check_equals_parse_money(value: str, positive: bool, allow_zero: bool,
                                        currencies: list[str]) -> None:
    params: dict[str, object] = {"positive": positive, "allow_zero": allow_zero}
    if currencies:
        params["currencies"] = currencies
    test = CHECKS["money"].factory(params)
    assert test(value) == money_oracle(value, positive, allow_zero, frozenset(currencies))


def gtin_oracle(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"[0-9]{2,14}", fullmatch=True))
def test_gtin_check_digit_equals_the_weighted_sum(digits: str) -> None:
    assert gtin_check_digit_ok(digits) == gtin_oracle(digits)


def test_gtin_check_digit_on_known_codes() -> None:
    assert gtin_check_digit_ok("4006381333931")       # EAN-13 from GS1's examples
    assert gtin_check_digit_ok("036000291452")        # UPC-A
    assert not gtin_check_digit_ok("4006381333932")


words = ["free shipping", "sale", "% off", "buy now"]
titles = st.lists(st.sampled_from(["Free", " ", "SHIPPING", "shipping", "sale", "Sales",
                                   "% OFF", "x", "İ", "ſale", "buy", "NOW", "-", "ß"]),
                  max_size=8).map("".join)


@settings(max_examples=2000, deadline=None)
@given(titles)
def test_promo_text_first_test_never_hides_a_match(title: str) -> None:
    found = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.I)
    match = found.search(title)
    expected = f"contains promotional text {match.group()!r}" if match else None
    assert CHECKS["promo_text"].factory({"words": words})(title) == expected


@given(st.text(max_size=40))
def test_private_use_check_equals_the_scan(text: str) -> None:
    match = re.search("[\ue000-\uf8ff]", text)
    expected = f"contains private-use character U+{ord(match.group()):04X}" if match else None
    assert CHECKS["no_private_use"].factory({})(text) == expected


def _shipped_patterns() -> list[str]:
    """Every ``pattern`` rule's regex in the shipped channel files."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("check") == "pattern":
                found.add(node["regex"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(TEMPLATES.glob("*/channel.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return sorted(found)


TEMPLATES = Path(__file__).resolve().parents[1] / "channel_templates"
# Look-alikes of the two rewritten shapes that must not be taken for them.
_TRICKY = [r"(?!.*(a)).*(?!.*(b)).*", r"(?!.*(a)|(b)).*", r"(?!.*(a\))).*",
           r"(?i)(?!.*(ab|^c$)).*", r"(?!.*([)]x)).*", r"[^é]*x[^ü]*", r"[^é\]]*",
           r"[^\u00e9-\u00ff]*", r"(?i)[^K]*", r"(?i)[^\u212a]*", r"[^a]*", r"(?m)(?!.*(^b)).*"]
_PATTERN_TEXT = st.lists(st.sampled_from(
    ["a", "b", "c", "x", "K", "\u212a", "é", "ü", "]", ")", "\n", "\r", " ", "<p>", "&amp;",
     "&#9;", "lorem ipsum", "TBD", "N/A", "n/a", "#fff", "Multi", "dummy", "\u00ad", "\u200b",
     "\U0001f600", "\ufe0f", "0", ".", "USD", "a>b", "> c", ":", "/"]),
    max_size=12).map("".join)


@pytest.mark.parametrize("regex", _shipped_patterns() + _TRICKY)
@settings(max_examples=400, deadline=None)
@given(text=_PATTERN_TEXT)
def test_pattern_matcher_equals_fullmatch(regex: str, text: str) -> None:
    assert pattern_matcher(regex)(text) is (re.fullmatch(regex, text) is not None)


def test_the_channels_forbidding_patterns_take_the_fast_forms() -> None:
    """The shapes are recognised where they occur (else the test above proves little)."""
    shipped = _shipped_patterns()
    assert sum(1 for r in shipped if _FORBIDS.fullmatch(r)) >= 5
    assert sum(1 for r in shipped if _EXCLUDES.fullmatch(r)) >= 2
    assert not _EXCLUDES.fullmatch(r"[^é]*x[^ü]*") and not _FORBIDS.fullmatch(r"[^a]*")


# --- map: a field whose one input is empty is not computed -------------------------------

@pytest.mark.parametrize(("expression", "attribute"), [
    ("product.title | single_line", "title"),
    ("product.gtin | split_values | remove(' -')", "gtin"),
    ("product.price | money(product.currency or target.currency or defaults.currency)",
     "price"),
    ("product.title | truncate_words(-1, 'x')", None),   # gives 'x' for an empty title
    ("product.title | replace('', 'x')", None),           # replaces the empty match
    ("product.title | money(1 + 2)", None),               # an argument that computes
    ("product.title | lookup('t')", None),                # a channel table
    ("product.title or product.name | trim", None),       # two inputs
    ("product.title", None),                              # nothing to skip
])
def test_empty_input_only_where_emptiness_decides(expression: str,
                                                  attribute: str | None) -> None:
    compiler = ExpressionCompiler(make_environment({"lookup": lambda v, t: v}))
    assert compiler.empty_input(expression, "test") == attribute


def test_a_skipped_field_maps_as_the_full_expression_does(tmp_path: Path) -> None:
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "channel.yaml").write_text(
        "name: mini\ndocs: https://example.com/spec\n"
        "outputs: {csv: {writer: csv, file: mini.csv}}\nfields:\n"
        "  id: {value: product.id | single_line}\n"
        "  tags: {value: product.tags | split_values, multi: true}\n"
        "  cut: {value: \"product.title | truncate_words(-1, 'x')\"}\n"
        "  price: {value: product.price | money(target.currency)}\n", encoding="utf-8")
    spec = ChannelLibrary([tmp_path]).load("mini")
    channel = CompiledChannel(spec)
    for product in (Product(), Product(id=" a ", tags="x, y", title="t", price="2")):
        item = channel.map(product, Data(currency="EUR"), Data(), Data())
        assert item == {name: channel.field_function(name)(product, Data(currency="EUR"),
                                                            Data(), Data())
                        for name in spec.fields}
    first = channel.map(Product(), Data(), Data(), Data())
    second = channel.map(Product(), Data(), Data(), Data())
    assert first["tags"] == [] and first["tags"] is not second["tags"]  # a list each time
    assert first["cut"] == "x"


# --- API sink lines ------------------------------------------------------------------------

@settings(max_examples=1000, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_sink_keys_written_and_read_back_are_the_same(key: str) -> None:
    line = sink_line(key, b"\x01" * 16, b'{"offerId":1}')
    assert line.split(b"\t", 1)[0] == json.dumps(key, ensure_ascii=False).encode("utf-8")
    ((read, digest, offset, length),) = list(_sink_rows(io.BytesIO(line), [0]))
    assert (read, digest, offset, length) == (key, b"\x01" * 16, 0, len(line))


def money_filter_oracle(text: str, currency: str, decimals: int = 2) -> str:
    """The money filter as first written: every amount through Decimal."""
    from decimal import Decimal

    if not text:
        return ""
    match = re.match(r"^\s*([+-]?\d+(?:([.,])\d+)?)\s*([A-Za-z]{3})?\s*$", text)
    if match is None:
        return text
    amount_text, separator, own_currency = match.groups()
    unit = (own_currency or currency).upper()
    formatted = f"{Decimal(amount_text.replace(',', '.')):.{decimals}f}"
    if formatted.startswith("-") and not formatted.strip("-0.,"):
        formatted = formatted[1:]
    if separator == ",":
        formatted = formatted.replace(".", ",")
    return f"{formatted} {unit}" if unit else formatted


filter_amounts = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,5}([.,][0-9]{1,4})?( ?[A-Za-z]{3})?", fullmatch=True),
    st.sampled_from(["0.00", "00.10", "386.55", "٣.٥٠", "1.5", " 2.50 ", "-0.00", "7.99"]))


@settings(max_examples=2000, deadline=None)
@given(filter_amounts, st.sampled_from(["USD", "eur", ""]), st.sampled_from([2, 0, 3]))
def test_money_filter_equals_the_decimal_form(text: str, currency: str,
                                              decimals: int) -> None:
    assert money(text, currency, decimals) == money_filter_oracle(text, currency, decimals)


# --- rules shared between the channels of a run ------------------------------------------

_SHAREABLE_CASES = [
    ("url", {}, ["https://shop.example.com/p/1", "ftp://x", "", "https://bad host/"]),
    ("url", {"ascii": True}, ["https://shop.example.com/ü", "https://shop.example.com/p"]),
    ("money", {}, ["12.50 USD", "0 USD", "12,50 EUR", "-1 USD", "abc"]),
    ("gtin", {}, ["4006381333931", "4006381333932", "123"]),
    ("pattern", {"regex": "(?i)(?!.*(placeholder|dummy)).*"}, ["Shirt", "Dummy shirt"]),
]


@pytest.mark.parametrize(("check", "params", "values"), _SHAREABLE_CASES)
def test_shared_rule_tests_give_the_verdicts_of_their_own_test(
        check: str, params: dict[str, Any], values: list[str]) -> None:
    tests = RuleTests()
    first, second = tests.test(check, params), tests.test(check, dict(params))
    assert first is second  # one test for every channel with this rule
    own = CHECKS[check].factory(params)
    for _ in range(2):  # the second time round from what it remembers
        assert [first(v) for v in values] == [own(v) for v in values]
    assert tests.test(check, {**params, "extra": 1}) is not first


def test_shared_rule_tests_forget_beyond_their_bound() -> None:
    tests = RuleTests()
    url = tests.test("url", {})
    values = [f"https://shop.example.com/p/{n}" for n in range(3 * RuleTests.REMEMBERED)]
    assert [url(v) for v in values] == [None] * len(values)
    assert url("not a url") == CHECKS["url"].factory({})("not a url") is not None


def test_a_rule_that_reads_the_clock_is_never_shared() -> None:
    tests = RuleTests()
    assert tests.test("date_ahead", {"days": 30}) is not tests.test("date_ahead", {"days": 30})
    assert not CHECKS["date_ahead"].shareable


def test_a_shared_rule_test_given_a_list_decides_it_unremembered() -> None:
    """A value that is not text (unhashable) goes to the test itself, not the memory."""
    promo = RuleTests().test("promo_text", {"words": ["sale"]})
    own = CHECKS["promo_text"].factory({"words": ["sale"]})
    with pytest.raises(AttributeError):
        own(["sale"])  # the test itself decides, and fails alike
    with pytest.raises(AttributeError):
        promo(["sale"])
