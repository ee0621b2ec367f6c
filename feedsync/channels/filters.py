"""The filters channel templates use: what feeds need, nothing more.

Each filter is a plain function so the compiled fast path can call it directly; the same
functions are registered in the sandboxed Jinja environment, so both paths agree.
Filters never raise on bad product data: they return the value unchanged (or empty) and
leave the verdict to the channel's rules, which report it with a field and a source.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from feedsync.errors import TemplateError

# A tag starts with a letter, '/', '!' or '?': "5 < 6" in text is not a tag.
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|p|div|li|h[1-6])\b[^>]*>", re.I)
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.I | re.S)
# Whitespace that collapses to one space within a line (a line break is kept apart).
_SPACE_CHARS = "\t\r\f\v\u00a0"
_PLAIN_CACHE: dict[int, tuple[str, str]] = {}
_MONEY = re.compile(r"^\s*([+-]?\d+(?:([.,])\d+)?)\s*([A-Za-z]{3})?\s*$")
_CENTS = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9]{2}")  # formats as itself with 2 decimals


def plain_text(value: Any) -> str:
    # Every channel asks for the same product's title and description in turn: remember
    # the last few answers, keyed by the very string object (the entry keeps it alive,
    # so its id cannot be reused while cached).
    if type(value) is not str:
        return _plain_text(value)
    hit = _PLAIN_CACHE.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    result = _plain_text(value)
    if len(_PLAIN_CACHE) >= 8:
        _PLAIN_CACHE.clear()
    _PLAIN_CACHE[id(value)] = (value, result)
    return result


def _plain_text(value: Any) -> str:
    """HTML to plain text: tags dropped, entities decoded, whitespace collapsed.

    Block-level tags become line breaks so that list items stay readable.

    >>> plain_text("<p>5 &lt; 6 &amp; more</p><ul><li>a</li></ul>")
    '5 < 6 & more\\na'
    """
    text = value if type(value) is str else _text(value)
    if "<" not in text and "&" not in text:
        return text.strip() if "  " not in text else _collapse_spaces(text).strip()
    if "<" in text:
        text = _SCRIPT.sub(" ", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
    text = _collapse_spaces(html.unescape(text))
    if "\n" not in text:
        return text.strip()
    # Each line trimmed, blank lines dropped: what ``re.sub(r"\s*\n\s*", "\n")`` does.
    return "\n".join(line for line in (part.strip() for part in text.split("\n")) if line)


def _collapse_spaces(text: str) -> str:
    """Every run of spaces, tabs, CRs, form feeds and no-break spaces as one space.

    String methods, not a regex: ``[ \t…]+`` matched at every single space of a
    description and was the largest cost of ``plain_text`` (~20 µs of ~25).
    """
    for char in _SPACE_CHARS:
        if char in text:
            text = text.replace(char, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def single_line(value: Any) -> str:
    """Collapse every run of whitespace, line breaks included, to one space."""
    text = value if type(value) is str else _text(value)
    # Most text is already one line: ASCII (known without a scan) with none of the
    # whitespace ``str.split`` breaks on but single inner spaces. Eleven substring scans
    # cost a third of splitting a 1,000-character description into words and joining
    # them again (issue 16: Microsoft's and Pinterest's descriptions, ~70 calls a product).
    if (text.isascii() and "  " not in text and "\n" not in text and "\t" not in text
            and "\r" not in text and "\x0b" not in text and "\x0c" not in text
            and "\x1c" not in text and "\x1d" not in text and "\x1e" not in text
            and "\x1f" not in text and text[:1] != " " and text[-1:] != " "):
        return text
    return " ".join(text.split())


def truncate_words(value: Any, length: int, end: str = "") -> str:
    """Cut text to at most ``length`` characters, on a word boundary where there is one."""
    text = _text(value)
    if len(text) <= length:
        return text
    room = length - len(end)
    cut = text[:room]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + end


def money(value: Any, currency: Any = "", decimals: int = 2) -> str:
    """``12.5`` + ``USD`` -> ``12.50 USD``. Anything else comes back as it was given.

    An amount that already carries a currency keeps it. A comma decimal keeps its comma
    (``12,5`` -> ``12,50 EUR``): whether the channel takes it is the ``money`` rule's
    call, which also rejects what is returned unchanged (``NaN``, ``inf``, ``1e5``,
    ``€12``, ``1.234,50``), so nothing malformed is turned into a value that passes.
    """
    text = value if type(value) is str else _text(value)
    if not text:
        return ""
    if decimals == 2 and _CENTS.fullmatch(text):
        # ``386.55``, the common case, is already what Decimal would format: no Decimal.
        unit = _text(currency).upper()
        return f"{text} {unit}" if unit else text
    match = _MONEY.match(text)
    if match is None:
        return text
    amount_text, separator, own_currency = match.groups()
    amount = Decimal(amount_text.replace(",", "."))  # the regex admits only decimals
    unit = (own_currency or _text(currency)).upper()
    formatted = f"{amount:.{decimals}f}"
    if formatted.startswith("-") and not formatted.strip("-0.,"):
        # -0, or -0.001 rounded: a zero price, checked as one (issue 15, item 6), not a
        # negative price that the zero-price rules miss.
        formatted = formatted[1:]
    if separator == ",":
        formatted = formatted.replace(".", ",")
    return f"{formatted} {unit}" if unit else formatted


def split_values(value: Any, separator: str = ",") -> list[str]:
    """Split a multi-value cell into its non-empty, trimmed parts."""
    if isinstance(value, list):
        return [v for v in value if v]
    text = value if type(value) is str else _text(value)
    if not text:
        return []
    return [part.strip() for part in text.split(separator) if part.strip()]


def remove(value: Any, chars: str) -> Any:
    """Every character of ``chars`` taken out: of the text, or of each value of a list.

    ``product.gtin | split_values | remove(' -')``: Google reads spaces and dashes in a
    GTIN as nothing (answer/6324461), so they are dropped before the digits are checked.
    """
    table = str.maketrans("", "", chars)
    if isinstance(value, list | tuple):
        return [v for v in (_text(one).translate(table) for one in value) if v]
    return _text(value).translate(table)


def join_values(value: Any, separator: str = ",") -> str:
    """Join a list of values, skipping empty ones."""
    if isinstance(value, list | tuple):
        return separator.join(_text(v) for v in value if _text(v))
    return _text(value)


def limit(value: Any, count: int) -> list[str]:
    """Keep the first ``count`` values of a list."""
    return list(value)[:count] if isinstance(value, list | tuple) else [_text(value)]


def yes_no(value: Any) -> str:
    """Normalise the many spellings of a boolean to ``yes`` / ``no``; keep anything else."""
    text = _text(value).strip().lower()
    if text in {"1", "true", "yes", "y", "t"}:
        return "yes"
    if text in {"0", "false", "no", "n", "f"}:
        return "no"
    return _text(value)


def enum_value(value: Any) -> str:
    """``In Stock`` / ``in-stock`` -> ``in_stock``: the spelling enumerations use."""
    text = value if type(value) is str else _text(value)  # inline: a hot path
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def amount(value: Any) -> float:
    """The number in a money value (``12.50 USD`` -> 12.5); 0.0 when there is none.

    For comparisons in checks only; feeds are written from the text, never from floats.
    """
    match = _MONEY.match(_text(value))
    return float(match.group(1).replace(",", ".")) if match else 0.0


def stock_availability(quantity: Any) -> str:
    """Availability from a stock count: ``in_stock`` above zero, else ``out_of_stock``."""
    text = _text(quantity).strip()
    if not text:
        return ""
    try:
        return "in_stock" if Decimal(text) > 0 else "out_of_stock"
    except InvalidOperation:
        return ""


# The longest text an expression may build (1 MB). No feed field comes near it; an
# expression that would build more (``center(10**9)``, ``'x' * 10**9``) fails on that
# product, naming the field, instead of filling memory (issue 15, item 12).
MAX_TEXT = 1_000_000


def check_size(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise TemplateError(f"{what} would build {length:,} characters, more than the "
                            f"{MAX_TEXT:,} an expression may build")


def replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    """Jinja's ``replace`` without its Markup handling, which feeds never use."""
    text = value if type(value) is str else _text(value)
    if len(new) > len(old):  # a count of the matches bounds the result before building it
        check_size(len(text) + text.count(old) * (len(new) - len(old)) if old
                   else len(text) * (len(new) + 1), "replace")
    return text.replace(old, new, -1 if count is None else count)


def center(value: Any, width: int = 80) -> str:
    """Jinja's ``center``, bounded."""
    check_size(int(width), "center")
    return _text(value).center(int(width))


_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


def check_pattern(regex: str) -> None:
    """Refuse the usual catastrophic-backtracking shapes, an unbounded repeat of a group
    that itself repeats (``(a+)+``, ``(x*)*``, ``(\\w+\\s?)*``): Python's ``re`` has no
    timeout, and such a pattern can run for hours on one 50-character value."""
    try:
        re.compile(regex)
    except re.error as exc:
        raise TemplateError(f"regex_replace: bad pattern {regex!r}: {exc}") from exc
    if _NESTED.search(regex):
        raise TemplateError(f"regex_replace: pattern {regex!r} repeats a group that itself "
                            "repeats, which can backtrack for hours; make the inner or the "
                            "outer repeat bounded or possessive")


@functools.lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    check_pattern(regex)  # once per pattern: the cache keeps the cost off each product
    return re.compile(regex)


def regex_replace(value: Any, pattern: str, replacement: str = "") -> str:
    """``re.sub`` for template authors.

    ``product.sale_date | regex_replace('([+-]\\d\\d)(\\d\\d)$', '\\1:\\2')`` turns
    ``-0800`` into ``-08:00``.
    """
    return _pattern(pattern).sub(replacement, _text(value))


def trim(value: Any, chars: str | None = None) -> str:
    return (value if type(value) is str else _text(value)).strip(chars)


def lower(value: Any) -> str:
    return (value if type(value) is str else _text(value)).lower()


def upper(value: Any) -> str:
    return (value if type(value) is str else _text(value)).upper()


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


FEED_FILTERS: dict[str, Callable[..., Any]] = {
    "plain_text": plain_text,
    "single_line": single_line,
    "truncate_words": truncate_words,
    "money": money,
    "split_values": split_values,
    "join_values": join_values,
    "remove": remove,
    "limit": limit,
    "yes_no": yes_no,
    "enum_value": enum_value,
    "amount": amount,
    "stock_availability": stock_availability,
    "replace": replace,
    "center": center,
    "regex_replace": regex_replace,
    "trim": trim,
    "lower": lower,
    "upper": upper,
}

# Filters known to return text: the compiler skips re-normalising their result.
TEXT_FILTERS = frozenset(FEED_FILTERS) - {"split_values", "limit", "amount", "remove"}
