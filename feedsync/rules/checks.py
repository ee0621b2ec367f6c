"""The field checks a channel file can name. Each is data-driven and cites its source.

A check factory takes the rule's parameters and returns a test over one mapped value.
The test returns ``None`` when the value passes, or a short reason. Values are ``str``
or, for multi-valued fields, ``list[str]``; empty values pass every check but
``required`` (an optional attribute that is absent is not wrong).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from feedsync.rules.currencies import ISO_4217_CURRENCIES

Test = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class CheckType:
    code: str               # stable kebab-case code reported when the test fails
    factory: Callable[[Mapping[str, Any]], Test]
    per_value: bool = True  # apply to each value of a multi-valued field


def _required(_: Mapping[str, Any]) -> Test:
    def test(value: Any) -> str | None:
        return None if value else "is required but empty"
    return test


def _max_length(params: Mapping[str, Any]) -> Test:
    limit = _int(params, "limit")

    def test(value: str) -> str | None:
        return f"is {len(value)} characters, more than {limit}" if len(value) > limit else None
    return test


def _min_length(params: Mapping[str, Any]) -> Test:
    limit = _int(params, "limit")

    def test(value: str) -> str | None:
        if value and len(value) < limit:
            return f"is {len(value)} characters, fewer than {limit}"
        return None
    return test


def _enum(params: Mapping[str, Any]) -> Test:
    values = params.get("values")
    if not isinstance(values, list) or not values:
        raise ValueError("enum needs a non-empty list 'values'")
    allowed = frozenset(str(v) for v in values)
    shown = ", ".join(sorted(allowed))

    def test(value: str) -> str | None:
        return None if not value or value in allowed else f"{value!r} is not one of {shown}"
    return test


_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.I)


def _url(params: Mapping[str, Any]) -> Test:
    ascii_only = bool(params.get("ascii", False))

    def test(value: str) -> str | None:
        if not value:
            return None
        if not _URL.match(value):
            return f"{value[:80]!r} is not an http(s) URL"
        if ascii_only and not value.isascii():
            return "must be ASCII; percent-encode other characters"
        return None
    return test


_MONEY = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
_MONEY_COMMA = re.compile(r"^(\d+(?:[.,]\d+)?) ([A-Z]{3})$")


def _money(params: Mapping[str, Any]) -> Test:
    """``"<amount> <ISO 4217 code>"``, e.g. ``12.50 USD``.

    ``positive`` (default true): the amount must be more than zero; ``allow_zero`` lets 0
    through as well. ``comma_decimal`` accepts ``12,50 EUR``. ``currencies`` restricts the
    code to a list. A code outside ISO 4217 always fails, and so does anything that is not
    a plain decimal amount (NaN, inf, thousands separators).
    """
    positive = bool(params.get("positive", True))
    allow_zero = bool(params.get("allow_zero", False))
    pattern = _MONEY_COMMA if params.get("comma_decimal", False) else _MONEY
    allowed = _currency_list(params)

    def test(value: str) -> str | None:
        if not value:
            return None
        match = pattern.match(value)
        if match is None:
            return _money_format_reason(value, pattern is _MONEY_COMMA)
        code = match.group(2)
        if code not in ISO_4217_CURRENCIES:
            return f"{value!r}: {code!r} is not an ISO 4217 currency code"
        if allowed is not None and code not in allowed:
            return f"{value!r}: the currency must be " + " or ".join(sorted(allowed))
        if positive:
            amount = Decimal(match.group(1).replace(",", "."))
            if amount < 0 or (amount == 0 and not allow_zero):
                return f"{value!r} must be more than zero"
        return None
    return test


def _money_format_reason(value: str, comma_decimal: bool) -> str:
    if not comma_decimal and re.match(r"^-?\d+,\d+(?: ?[A-Za-z]{3})?$", value):
        return f"{value!r} uses a comma as decimal separator; this channel needs a period"
    if re.match(r"^-?\d+(?:[.,]\d+)?$", value):
        return f"{value!r} has no currency (ISO 4217 code such as 'USD')"
    if value.startswith("-"):
        return f"{value!r} is negative"
    return f"{value!r} is not an amount with an ISO 4217 currency ('12.50 USD')"


def _currency_list(params: Mapping[str, Any]) -> frozenset[str] | None:
    codes = params.get("currencies")
    if codes is None:
        return None
    if not isinstance(codes, list) or not codes or not all(
            isinstance(c, str) and c in ISO_4217_CURRENCIES for c in codes):
        raise ValueError("money 'currencies' must be a list of ISO 4217 codes")
    return frozenset(codes)


def gtin_check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: weights 3,1,3,... from the digit left of the check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


_COUPON_PREFIXES = ("981", "982", "983", "984", "99", "05")


def _gtin(params: Mapping[str, Any]) -> Test:
    lengths = frozenset(params.get("lengths", [8, 12, 13, 14]))

    def test(value: str) -> str | None:
        if not value:
            return None
        if not value.isdigit() or not value.isascii():
            return f"{value!r} must be digits only"
        if len(value) not in lengths:
            return f"{value!r} has {len(value)} digits; expected " + "/".join(
                str(n) for n in sorted(lengths))
        if not gtin_check_digit_ok(value):
            return f"{value!r} fails the GS1 check digit"
        return None
    return test


def _gtin13_view(value: str) -> str:
    """The GTIN-13 form, where coupon and restricted-circulation prefixes are defined."""
    return value.zfill(14)[1:] if value.isdigit() and value.isascii() else ""


def _gtin_coupon(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        view = _gtin13_view(value)
        if view.startswith(_COUPON_PREFIXES):
            return f"{value!r} is in a coupon range (prefix {view[:3]})"
        return None
    return test


def _gtin_restricted(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        view = _gtin13_view(value)
        if view.startswith(("02", "04", "2")):
            return f"{value!r} is a restricted-circulation number (prefix {view[:2]})"
        return None
    return test


def _parse_iso(text: str) -> bool:
    candidate = text.strip()
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    # Google writes offsets as -0800; fromisoformat in 3.11 accepts that form too.
    try:
        datetime.fromisoformat(candidate)
    except ValueError:
        return False
    return True


def _date(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        return None if not value or _parse_iso(value) else f"{value!r} is not an ISO 8601 date"
    return test


def _date_range(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        if not value:
            return None
        parts = value.split("/")
        if len(parts) != 2 or not all(_parse_iso(p) for p in parts):
            return f"{value!r} is not two ISO 8601 dates joined by '/'"
        return None
    return test


def _pattern(params: Mapping[str, Any]) -> Test:
    regex = params.get("regex")
    if not isinstance(regex, str):
        raise ValueError("pattern needs 'regex'")
    compiled = re.compile(regex)

    def test(value: str) -> str | None:
        if not value or compiled.fullmatch(value):
            return None
        return f"{value[:80]!r} does not match {regex}"
    return test


def _max_count(params: Mapping[str, Any]) -> Test:
    limit = _int(params, "limit")

    def test(value: Any) -> str | None:
        count = len(value) if isinstance(value, list) else (1 if value else 0)
        return f"has {count} values, more than {limit}" if count > limit else None
    return test


_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _no_private_use(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        match = _PRIVATE_USE.search(value)
        return f"contains private-use character U+{ord(match.group()):04X}" if match else None
    return test


def _promo_text(params: Mapping[str, Any]) -> Test:
    words = params.get("words", [])
    if not isinstance(words, list) or not words:
        raise ValueError("promo_text needs a list 'words'")
    found = re.compile(r"(?<!\w)(" + "|".join(re.escape(str(w)) for w in words) + r")(?!\w)", re.I)

    def test(value: str) -> str | None:
        match = found.search(value)
        return f"contains promotional text {match.group()!r}" if match else None
    return test


def _all_caps(params: Mapping[str, Any]) -> Test:
    min_letters = int(params.get("min_letters", 8))

    def test(value: str) -> str | None:
        # isupper(): every cased character is upper case (and there is one).
        if value.isupper() and sum(c.isalpha() for c in value) >= min_letters:
            return "is written in capitals only"
        return None
    return test


def _int(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"needs an integer {name!r}")
    return value


CHECKS: dict[str, CheckType] = {
    "required": CheckType("missing-required", _required, per_value=False),
    "max_length": CheckType("too-long", _max_length),
    "min_length": CheckType("too-short", _min_length),
    "enum": CheckType("not-in-enum", _enum),
    "url": CheckType("bad-url", _url),
    "money": CheckType("bad-money", _money),
    "gtin": CheckType("bad-gtin", _gtin),
    "gtin_coupon": CheckType("gtin-coupon-range", _gtin_coupon),
    "gtin_restricted": CheckType("gtin-restricted-range", _gtin_restricted),
    "date": CheckType("bad-date", _date),
    "date_range": CheckType("bad-date-range", _date_range),
    "pattern": CheckType("pattern-mismatch", _pattern),
    "max_count": CheckType("too-many-values", _max_count, per_value=False),
    "no_private_use": CheckType("private-use-char", _no_private_use),
    "promo_text": CheckType("promotional-text", _promo_text),
    "all_caps": CheckType("all-caps", _all_caps),
}
