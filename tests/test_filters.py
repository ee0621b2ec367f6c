"""Feed filters: each one on the values that real catalogs hold."""

from __future__ import annotations

from feedsync.channels.filters import (
    amount,
    money,
    plain_text,
    regex_replace,
    split_values,
    stock_availability,
    truncate_words,
    yes_no,
)


def test_regex_replace_adds_the_colon_meta_wants_in_offsets() -> None:
    assert regex_replace("2016-02-24T13:00-0800", r"([+-]\d\d)(\d\d)$", r"\1:\2") == \
        "2016-02-24T13:00-08:00"
    assert regex_replace("", "x", "y") == ""


def test_money_formats_and_leaves_garbage_for_the_rules() -> None:
    assert money("12.5", "usd") == "12.50 USD"
    assert money("15.0 EUR", "USD") == "15.00 EUR"
    assert money("1,99", "USD") == "1,99 USD"   # the comma is kept: the rule decides
    assert money("12,5", "eur") == "12,50 EUR"
    for garbage in ("NaN", "nan", "inf", "-INF", "Infinity", "1e5", "€12", "1.234,50"):
        assert money(garbage, "USD") == garbage  # unchanged, for the money rule to reject
    assert money("", "USD") == ""


def test_plain_text_keeps_comparisons_and_entities_as_text() -> None:
    assert plain_text("<p>5 < 6 &amp; 7 > 3</p>") == "5 < 6 & 7 > 3"
    assert plain_text("<ul><li>a</li><li>b</li></ul>") == "a\nb"
    assert plain_text("<script>x()</script>ok") == "ok"


def test_small_helpers() -> None:
    assert truncate_words("one two three four", 9) == "one two"
    assert split_values(" a, ,b ") == ["a", "b"]
    assert yes_no("TRUE") == "yes" and yes_no("0") == "no" and yes_no("maybe") == "maybe"
    assert stock_availability("0") == "out_of_stock"
    assert stock_availability("3") == "in_stock"
    assert stock_availability("lots") == ""
    assert amount("12.50 USD") == 12.5 and amount("x") == 0.0
