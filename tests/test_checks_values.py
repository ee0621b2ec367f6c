"""The generic value checks (feedsync/rules/checks.py) other channels build on.

money's parameters are the ones every channel folder uses (positive, allow_zero,
comma_decimal, currencies); shipping reads Google's own documented examples; date_ahead is
measured from FEEDSYNC_NOW, which tests/conftest.py fixes for the suite.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from feedsync.rules.checks import CHECKS, Test, reference_now
from feedsync.rules.money import ISO_4217, parse_money


def _test(check: str, **params: object) -> Test:
    return CHECKS[check].factory(params)


@pytest.mark.parametrize("value", ["NaN USD", "nan", "inf", "-inf EUR", "INF", "Infinity USD",
                                   "+nan GBP"])
def test_non_finite_amounts_are_never_prices(value: str) -> None:
    for params in ({}, {"positive": False}, {"allow_zero": True}, {"comma_decimal": True}):
        reason = _test("money", **params)(value)
        assert reason is not None and "finite" in reason, (value, params)


def test_currency_must_be_an_active_iso_4217_code() -> None:
    money = _test("money")
    assert money("12.50 EUR") is None and money("12.50 ZWG") is None
    assert "ISO 4217" in (money("12.50 ABC") or "")        # three capitals, no currency
    assert "ISO 4217" in (money("12.50 HRK") or "")        # withdrawn: Croatia uses EUR
    assert "capitals" in (money("12.50 usd") or "")
    assert "no currency" in (money("12.50") or "")
    assert {"USD", "EUR", "GBP", "JPY", "CHF"} <= ISO_4217 and "XXX" not in ISO_4217


def test_sign_zero_and_comma_follow_the_channel() -> None:
    strict = _test("money")                                # Google's price: more than 0
    assert "more than zero" in (strict("0.00 USD") or "")
    assert "negative" in (strict("-1.00 USD") or "")
    assert "comma" in (strict("12,50 EUR") or "")
    free_ok = _test("money", allow_zero=True)              # e.g. a free shipping price
    assert free_ok("0 USD") is None and free_ok("-1 USD") is not None
    comma_ok = _test("money", comma_decimal=True)
    assert comma_ok("12,50 EUR") is None
    assert comma_ok("1.234,50 EUR") is not None            # thousands separators: no
    assert _test("money", positive=False)("0 USD") is None


def test_currencies_limit_the_codes() -> None:
    amazon_de = _test("money", currencies=["EUR"])
    assert amazon_de("12.50 EUR") is None
    assert "EUR" in (amazon_de("12.50 GBP") or "")
    with pytest.raises(ValueError, match="ISO 4217"):
        _test("money", currencies=["EURO"])
    with pytest.raises(ValueError, match="true or false"):
        _test("money", positive="yes")


def test_parse_money_keeps_the_parts() -> None:
    parsed = parse_money("12,5 EUR")
    assert not isinstance(parsed, str)
    assert (str(parsed.amount), parsed.currency, parsed.comma) == ("12.5", "EUR", True)


# Google's shipping page (answer/6324484) and its sub-attributes.
@pytest.mark.parametrize("value", [
    "US:CA:Overnight:16.00 USD:1:1:2:3",   # the page's text example, with times
    "US:CA:Overnight:16.00 USD",
    "US::Standard:4.95 USD",
    "US:94043:Ground:6.49 USD",             # a postal code as the area
    "US:94*:Ground:6.49 USD",
    "AU:NSW:Express:0 AUD",                 # free shipping
    "DE:::4.90 EUR:0:1",                    # handling only
    "GB:::3.50 GBP:::1:3",                  # transit only
])
def test_google_shipping_examples_pass(value: str) -> None:
    assert _test("shipping")(value) is None


@pytest.mark.parametrize(("value", "reason"), [
    ("USA::Standard:4.95 USD", "country"),
    ("US::Standard:", "price"),
    ("US::Standard:4,95 USD", "price"),
    ("US::Standard:4.95 USD:2:1", "more than"),
    ("US::Standard:4.95 USD:1:x", "whole number"),
    ("US::Standard:4.95 USD:1::2:3", "needs max_handling_time"),
    ("US:4.95 USD", "country:region"),
    ("US:CA:Overnight:16.00 USD:1:1:2:3:4", "country:region"),
])
def test_broken_shipping_is_named(value: str, reason: str) -> None:
    assert reason in (_test("shipping")(value) or "")


def test_date_ahead_is_measured_from_the_fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSYNC_NOW", "2030-01-01T00:00Z")
    assert reference_now() == datetime(2030, 1, 1, tzinfo=UTC)
    ahead = _test("date_ahead", days=365)
    assert ahead("2030-12-31T00:00Z") is None
    assert "365 days ahead" in (ahead("2031-01-02T00:00Z") or "")
    assert ahead("not a date") is None                     # the date rule reports that
    monkeypatch.setenv("FEEDSYNC_NOW", "soon")
    with pytest.raises(ValueError, match="FEEDSYNC_NOW"):
        reference_now()


def test_real_clock_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDSYNC_NOW", raising=False)
    assert "FEEDSYNC_NOW" not in os.environ
    assert reference_now().tzinfo is not None and reference_now().year >= 2026


def test_gtin_prefixes_are_googles() -> None:
    coupon, restricted = _test("gtin_coupon"), _test("gtin_restricted")
    assert coupon("9781455582341") is None                 # ISBN (978): no coupon
    assert coupon("0512345678900") is not None and coupon("512345678900") is not None
    assert coupon("9812345678902") is not None and coupon("9912345678901") is not None
    assert restricted("0212345678909") is not None and restricted("212345678909") is not None
    assert restricted("2000000000008") is not None and restricted("4006381333931") is None


def test_business_days() -> None:
    days = _test("business_days")
    assert days("Mon-Fri") is None and days("M;T;W;R;F") is None
    assert days("Monday;Saturday") is None
    assert "mixes" in (days("Mon;Tuesday") or "")
    assert "not a day" in (days("Mon;Funday") or "")
