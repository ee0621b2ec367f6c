"""The field checks a channel file can name. Each is data-driven and cites its source.

A check factory takes the rule's parameters and returns a test over one mapped value.
The test returns ``None`` when the value passes, or a short reason. Values are ``str``
or, for multi-valued fields, ``list[str]``; empty values pass every check but
``required`` (an optional attribute that is absent is not wrong).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feedsync.rules.money import ISO_4217, parse_money

Test = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class CheckType:
    code: str               # stable kebab-case code reported when the test fails
    factory: Callable[[Mapping[str, Any]], Test]
    per_value: bool = True  # apply to each value of a multi-valued field
    # The verdict depends on the value and the rule's parameters alone (not the clock),
    # and costs more than a dict look-up: worth sharing between channels (``RuleTests``).
    shareable: bool = False


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


def _money(params: Mapping[str, Any]) -> Test:
    """``<amount> <ISO 4217 code>``, with the channel's own rules on sign and separator.

    ``positive`` (default true): more than zero; ``allow_zero`` also accepts 0 (free items
    a channel takes, e.g. shipping). A negative amount is never a price. ``comma_decimal``
    accepts ``12,50 EUR``; ``currencies`` limits the codes to the channel's own list.
    """
    positive = _flag(params, "positive", True)
    allow_zero = _flag(params, "allow_zero", False)
    comma_decimal = _flag(params, "comma_decimal", False)
    currencies = _currencies(params)

    def test(value: str) -> str | None:
        if not value:
            return None
        plain = _PLAIN_MONEY.fullmatch(value)
        if plain is not None and plain.group(2) in ISO_4217:
            # ``12.50 USD`` (what the money filter writes): no sign, no comma, a known
            # code; nearly every price. Decided without building a Decimal.
            if positive and not allow_zero and not plain.group(1).strip("0."):
                return f"{value!r} must be more than zero"
            if currencies and plain.group(2) not in currencies:
                return (f"currency {plain.group(2)} is not accepted here (one of "
                        + ", ".join(sorted(currencies)) + ")")
            return None
        money = parse_money(value)
        if isinstance(money, str):
            return money
        if money.comma and not comma_decimal:
            dotted = value.replace(",", ".")
            return f"{value!r} uses a comma as decimal separator; write {dotted!r}"
        if money.amount < 0:
            return f"{value!r} is negative"
        if money.amount == 0 and positive and not allow_zero:
            return f"{value!r} must be more than zero"
        if currencies and money.currency not in currencies:
            return (f"currency {money.currency} is not accepted here (one of "
                    + ", ".join(sorted(currencies)) + ")")
        return None
    return test


_PLAIN_MONEY = re.compile(r"(\d+(?:\.\d+)?) ([A-Z]{3})")  # fullmatch: see _money


def _currencies(params: Mapping[str, Any]) -> frozenset[str]:
    raw = params.get("currencies")
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        raise ValueError("currencies must be a non-empty list of ISO 4217 codes")
    unknown = [c for c in raw if c not in ISO_4217]
    if unknown:
        raise ValueError("not ISO 4217 currency codes: " + ", ".join(unknown))
    return frozenset(raw)


def gtin_check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: weights 3,1,3,... from the digit left of the check digit."""
    body = digits[:-1]  # weight 3 on body[-1], body[-3]...; 1 on body[-2], body[-4]...
    total = 3 * sum(map(int, body[::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10 == int(digits[-1])


# Google's GTIN page (answer/6324461): coupons use the GS1 prefixes 05 and 98-99,
# restricted circulation 02, 04 and 2; both disapprove the product.
_COUPON_PREFIXES = ("05", "98", "99")
_RESTRICTED_PREFIXES = ("02", "04", "2")


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
            return f"{value!r} is in a coupon range (prefix {view[:2]})"
        return None
    return test


def _gtin_restricted(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        view = _gtin13_view(value)
        if view.startswith(_RESTRICTED_PREFIXES):
            return f"{value!r} is a restricted-circulation number (prefix {view[:2]})"
        return None
    return test


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 date or date-time (``2016-02-24T13:00-0800``), or None."""
    candidate = text.strip()
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    # Google writes offsets as -0800; fromisoformat in 3.11 accepts that form too.
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _parse_iso(text: str) -> bool:
    return parse_iso(text) is not None


def reference_now() -> datetime:
    """The moment rules relative to "now" measure from (``max_future_days``).

    ``FEEDSYNC_NOW`` (an ISO 8601 date-time) fixes it, for tests and reproducible builds;
    otherwise the current UTC time. Read when a channel is compiled, so one run uses one
    moment throughout (parallel workers included: they inherit the environment).
    """
    fixed = os.environ.get("FEEDSYNC_NOW", "").strip()
    moment = parse_iso(fixed) if fixed else None
    if fixed and moment is None:
        raise ValueError(f"FEEDSYNC_NOW={fixed!r} is not an ISO 8601 date-time")
    return _aware(moment) if moment is not None else datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        return None if not value or _parse_iso(value) else f"{value!r} is not an ISO 8601 date"
    return test


def _date_ahead(params: Mapping[str, Any]) -> Test:
    """At most ``days`` days after now (``reference_now``). A value that is no date passes:
    the ``date`` rule reports that, at its own severity."""
    days = _int(params, "days")
    limit = reference_now() + timedelta(days=days)

    def test(value: str) -> str | None:
        moment = parse_iso(value) if value else None
        if moment is not None and _aware(moment) > limit:
            return f"{value!r} is more than {days} days ahead"
        return None
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


# Google's shipping text form (answer/6324484): country:area:service:price, then optionally
# min_handling_time:max_handling_time:min_transit_time:max_transit_time (business days).
SHIPPING_PARTS = ("country", "region", "service", "price", "min_handling_time",
                  "max_handling_time", "min_transit_time", "max_transit_time")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DAYS = re.compile(r"^\d+$")


def _shipping(_: Mapping[str, Any]) -> Test:
    """One shipping group in Google's text form, e.g. ``US:CA:Overnight:16.00 USD:1:1:2:3``.

    Country (ISO 3166-1 alpha-2) and price are required; the price may be 0 (free
    shipping); handling and transit times are whole business days, a minimum only with
    its maximum and not above it (Merchant API message Shipping, products_common.proto).
    """
    def test(value: str) -> str | None:
        parts = value.split(":")
        if len(parts) < 4 or len(parts) > len(SHIPPING_PARTS):
            return (f"{value[:80]!r} is not country:region:service:price[:min_handling:"
                    "max_handling:min_transit:max_transit]")
        named = dict(zip(SHIPPING_PARTS, (p.strip() for p in parts), strict=False))
        if not _COUNTRY.match(named["country"]):
            return f"shipping country {named['country']!r} is not a 2-letter country code"
        price = named["price"]
        if not price:
            return "shipping needs a price (0 for free shipping)"
        money = parse_money(price)
        if isinstance(money, str) or money.comma or money.amount < 0:
            return f"shipping price {price!r} is not an amount with a currency ('4.95 USD')"
        return _shipping_times(named)
    return test


def _shipping_times(named: Mapping[str, str]) -> str | None:
    for kind in ("handling", "transit"):
        low, high = named.get(f"min_{kind}_time", ""), named.get(f"max_{kind}_time", "")
        for label, text in ((f"min_{kind}_time", low), (f"max_{kind}_time", high)):
            if text and not _DAYS.match(text):
                return f"{label} {text!r} is not a whole number of days"
        if low and not high:
            return f"min_{kind}_time needs max_{kind}_time"
        if low and high and int(low) > int(high):
            return f"min_{kind}_time {low} is more than max_{kind}_time {high}"
    return None


# Google's business-days attributes (answer/16072859, answer/16072858): days separated by
# ";" or a range with "-", each day in one of three spellings, not mixed.
_DAY_STYLES = (
    ("M", "T", "W", "R", "F", "S", "U"),
    ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
)


def _business_days(_: Mapping[str, Any]) -> Test:
    """``Mon;Tue;Wed``, ``Mon-Fri`` or ``M-R;S``: week days in one spelling."""
    def test(value: str) -> str | None:
        days = [d.strip() for part in value.split(";") for d in part.split("-")]
        styles = {i for i, style in enumerate(_DAY_STYLES) for d in days if d in style}
        unknown = [d for d in days if not any(d in style for style in _DAY_STYLES)]
        if unknown:
            return f"{unknown[0]!r} is not a day of the week (M, Mon or Monday ...)"
        if len(styles) > 1:
            return f"{value!r} mixes day spellings; use one (M, Mon or Monday)"
        if any(part.count("-") > 1 for part in value.split(";")):
            return f"{value!r} has a range with more than two days"
        return None
    return test


def _pattern(params: Mapping[str, Any]) -> Test:
    regex = params.get("regex")
    if not isinstance(regex, str):
        raise ValueError("pattern needs 'regex'")
    matches = pattern_matcher(regex)

    def test(value: str) -> str | None:
        if not value or matches(value):
            return None
        return f"{value[:80]!r} does not match {regex}"
    return test


# ``(?flags)(?!.*(X)).*``: "X occurs nowhere", the channels' way to forbid text.
_FORBIDS = re.compile(r"(\(\?[aiLmsu]+\))?\(\?!\.\*\((.+)\)\)\.\*", re.S)
# ``(?flags)[^SET]*``: "no character of SET" (one class: SET holds no bare bracket).
_EXCLUDES = re.compile(r"(\(\?[aiLmsu]+\))?\[\^((?:[^\[\]\\]|\\.)+)\]\*", re.S)


def pattern_matcher(regex: str) -> Callable[[str], bool]:
    """Whether a value fully matches ``regex``, as ``re.fullmatch`` decides, cheaper for
    the two shapes channel files use to forbid text (the rules' hot path, on every title
    and description):

    - ``(?!.*(X)).*`` makes the engine try X at every position after running ``.*`` to
      the end: ``search(X)`` finds the same match in one forward scan (without the ``s``
      flag ``.*`` stops at a line break, so a value holding one never matches);
    - ``[^SET]*`` where SET holds no ASCII character passes every ASCII value unread
      (``str.isascii`` is O(1)).

    Anything else, and any doubt (``x`` mode, an X that does not compile alone, so its
    brackets may not be the lookahead's own), is plain ``fullmatch``.
    """
    full = re.compile(regex).fullmatch
    forbids = _FORBIDS.fullmatch(regex)
    if forbids is not None:
        flags, inner = forbids.group(1) or "", forbids.group(2)
        if _compiled(flags + inner) is not None:  # X alone: its brackets are its own
            search = re.compile(f"{flags}({inner})").search
            if "s" in flags:
                return lambda value: search(value) is None
            return lambda value: "\n" not in value and search(value) is None
    excludes = _EXCLUDES.fullmatch(regex)
    if excludes is not None:
        excluded = _compiled(f"{excludes.group(1) or ''}[{excludes.group(2)}]")
        if excluded is not None and not any(excluded.fullmatch(chr(code))
                                            for code in range(128)):
            return lambda value: value.isascii() or full(value) is not None
    return lambda value: full(value) is not None


def _compiled(regex: str) -> re.Pattern[str] | None:
    """``regex`` compiled, or None where it does not compile alone."""
    try:
        return re.compile(regex)
    except re.error:
        return None


def _max_count(params: Mapping[str, Any]) -> Test:
    limit = _int(params, "limit")

    def test(value: Any) -> str | None:
        count = len(value) if isinstance(value, list) else (1 if value else 0)
        return f"has {count} values, more than {limit}" if count > limit else None
    return test


_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _no_private_use(_: Mapping[str, Any]) -> Test:
    def test(value: str) -> str | None:
        if value.isascii():  # O(1) in CPython: most text never needs the scan
            return None
        match = _PRIVATE_USE.search(value)
        return f"contains private-use character U+{ord(match.group()):04X}" if match else None
    return test


def _promo_text(params: Mapping[str, Any]) -> Test:
    words = params.get("words", [])
    if not isinstance(words, list) or not words:
        raise ValueError("promo_text needs a list 'words'")
    found = re.compile(r"(?<!\w)(" + "|".join(re.escape(str(w)) for w in words) + r")(?!\w)", re.I)
    # ASCII text holding none of the words in lower case cannot match: a cheap first test.
    # (Only for ASCII on both sides, where re.I and str.lower agree exactly.)
    lowered = tuple(str(w).lower() for w in words) if all(
        str(w).isascii() for w in words) else None

    def test(value: str) -> str | None:
        if lowered is not None and value.isascii():
            text = value.lower()
            if not any(word in text for word in lowered):
                return None
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


def _flag(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name!r} must be true or false")
    return value


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
    "url": CheckType("bad-url", _url, shareable=True),
    "money": CheckType("bad-money", _money, shareable=True),
    "gtin": CheckType("bad-gtin", _gtin, shareable=True),
    "gtin_coupon": CheckType("gtin-coupon-range", _gtin_coupon, shareable=True),
    "gtin_restricted": CheckType("gtin-restricted-range", _gtin_restricted, shareable=True),
    "date": CheckType("bad-date", _date, shareable=True),
    "date_ahead": CheckType("date-too-far-ahead", _date_ahead),  # reads the clock
    "date_range": CheckType("bad-date-range", _date_range, shareable=True),
    "shipping": CheckType("bad-shipping", _shipping, shareable=True),
    "business_days": CheckType("bad-business-days", _business_days, shareable=True),
    "pattern": CheckType("pattern-mismatch", _pattern, shareable=True),
    "max_count": CheckType("too-many-values", _max_count, per_value=False),
    "no_private_use": CheckType("private-use-char", _no_private_use),
    "promo_text": CheckType("promotional-text", _promo_text, shareable=True),
    "all_caps": CheckType("all-caps", _all_caps, shareable=True),
}


class RuleTests:
    """The value tests of one run's rules, shared between its channels.

    Channels check the same values with the same rules: each of five channels tests the
    product's link and image with ``url``, its GTIN with ``gtin``, its price with
    ``money``, and Microsoft runs Google's rules on Google's values. A shareable check is
    made once per distinct rule (check and parameters) and remembers its verdicts on the
    last values it saw (at most ``REMEMBERED``; a product's values follow each other
    through every channel), so the second channel to ask pays a dict look-up. Verdicts
    are pure, so sharing never changes one; severity, code and message stay each
    channel's own (``CompiledChannel`` keeps them beside the test).
    """

    REMEMBERED = 256

    def __init__(self) -> None:
        self._made: dict[str, Test] = {}

    def test(self, check: str, params: Mapping[str, Any]) -> Test:
        kind = CHECKS[check]
        if not kind.shareable:
            return kind.factory(params)
        key = check + "\0" + json.dumps(params, sort_keys=True, default=str)
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = _remembering(kind.factory(params), self.REMEMBERED)
        return made


def _remembering(test: Test, size: int) -> Test:
    # The look-up is inlined: this wrapper runs ~40 times a product.
    seen: dict[str, str | None] = {}
    look_up = seen.get
    unseen: Any = object()

    def remembered(value: str) -> str | None:
        try:
            verdict = look_up(value, unseen)
        except TypeError:  # not text (the map gives per-value tests text): not remembered
            return test(value)
        if verdict is unseen:
            if len(seen) >= size:
                seen.clear()
            verdict = seen[value] = test(value)
        return verdict  # type: ignore[no-any-return]
    return remembered
