"""What the shop-export profiles share: building canonical records, prices, options, lists.

A profile turns the rows of one shop system's export into canonical records (the
attribute names of ``examples/catalog.csv``). These helpers keep the rules that every
profile follows in one place:

- values are strings, stripped; empty attributes are left out (a ``Product`` reads a
  missing attribute as ``""``);
- a price with a higher "compare at" / regular price becomes Google's pair: ``price`` is the
  regular price and ``sale_price`` the price the shopper pays (``sale_price_pair``);
- option names such as ``Color``/``Colour``/``Size`` map to the canonical ``color``/``size``
  (``option_attribute``); every option value also goes into ``variant_title``;
- catalog columns named ``field@target`` (per-channel overrides, see docs/channels.md) are
  passed through unchanged (``override_columns``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from feedsync.model import Record, RowProblem

Item = Record | RowProblem

# Row-problem codes the profiles report (documented in docs/profiles.md).
NOT_A_PRODUCT = "profile-not-a-product"
MISSING_KEY = "profile-missing-key"

_TRUE = frozenset({"1", "true", "yes", "y", "t", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "off", "-1"})

# Option and attribute names that carry a canonical variant attribute. Lower-cased, with
# spaces, dashes and underscores removed before the lookup.
_OPTION_NAMES: dict[str, str] = {
    "color": "color", "colour": "color", "colors": "color", "colours": "color",
    "farbe": "color", "couleur": "color", "kleur": "color", "colore": "color",
    "size": "size", "sizes": "size", "shoesize": "size", "clothingsize": "size",
    "taille": "size", "grosse": "size", "größe": "size", "maat": "size", "taglia": "size",
    "material": "material", "materials": "material", "fabric": "material",
    "pattern": "pattern",
    "gender": "gender",
    "agegroup": "age_group",
}
_GENDERS: dict[str, str] = {
    "male": "male", "men": "male", "man": "male", "mens": "male", "men's": "male",
    "female": "female", "women": "female", "woman": "female", "womens": "female",
    "women's": "female", "ladies": "female",
    "unisex": "unisex",
}
_SEPARATOR_CHARS = re.compile(r"[\s_\-]+")


def record(origin: Record, data: Mapping[str, str]) -> Record:
    """A canonical record at ``origin``'s file and line, empty values left out."""
    return Record(origin.file, origin.line, compact(data))


def compact(data: Mapping[str, str]) -> dict[str, str]:
    """The non-empty attributes of ``data``, stripped."""
    out: dict[str, str] = {}
    for key, value in data.items():
        text = value.strip() if value else ""
        if text:
            out[key] = text
    return out


def problem(origin: Record, code: str, message: str, product_id: str | None = None) -> RowProblem:
    return RowProblem(origin.file, origin.line, code, message, product_id or None)


def override_columns(row: Mapping[str, str]) -> dict[str, str]:
    """The ``field@target`` override columns of a row (kept as the merchant wrote them)."""
    return {key: value for key, value in row.items() if "@" in key and value}


def truthy(text: str | None) -> bool | None:
    """``TRUE``/``1``/``yes`` -> True, ``FALSE``/``0``/``no`` -> False, else None."""
    value = (text or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def decimal(text: str | None) -> Decimal | None:
    """A finite number, or None (``.5`` and ``1,5`` are read; thousands separators are not)."""
    value = (text or "").strip()
    if not value:
        return None
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def amount_text(number: Decimal) -> str:
    """A computed amount (sum, discount) as text with two decimals."""
    return f"{number.quantize(Decimal('0.01')):f}"


def sale_price_pair(paid: str, regular: str) -> tuple[str, str]:
    """Google's ``(price, sale_price)`` from the price paid and a regular price.

    Shopify's "compare at" price and WooCommerce's regular price are the price before the
    sale: when it is higher than the price paid, it becomes ``price`` and the price paid
    becomes ``sale_price``. Otherwise the regular price is ignored (a compare-at price
    below the price is a data mistake, not a sale).

    >>> sale_price_pair("42.99", "44.99")
    ('44.99', '42.99')
    """
    paid_n, regular_n = decimal(paid), decimal(regular)
    if paid_n is not None and regular_n is not None and regular_n > paid_n:
        return regular.strip(), paid.strip()
    return paid.strip(), ""


def option_attribute(name: str) -> str | None:
    """The canonical attribute an option name carries (``Colour`` -> ``color``), or None."""
    key = _SEPARATOR_CHARS.sub("", name.strip().lower())
    return _OPTION_NAMES.get(key)


def gender(value: str) -> str:
    """``Men``/``Women``/``Unisex`` (or several of them) -> Google's male/female/unisex.

    An unknown value is kept as written, so the channel's enum rule reports it.
    """
    parts = [p.strip().lower() for p in re.split(r"[\n,;/|]+", value) if p.strip()]
    found = {_GENDERS.get(p) for p in parts}
    if not parts or None in found:
        return value.strip()
    return "unisex" if len(found) > 1 else found.pop() or ""


def apply_options(out: dict[str, str], options: Iterable[tuple[str, str]]) -> None:
    """Put option values into canonical attributes and ``variant_title``.

    ``options`` are (name, value) pairs in the shop's order. Shopify's placeholder option
    (``Title`` = ``Default Title``) is not an option.
    """
    titles: list[str] = []
    for name, value in options:
        name, value = name.strip(), value.strip()
        if not value or (name.lower() == "title" and value.lower() == "default title"):
            continue
        titles.append(value)
        target = option_attribute(name)
        if target and not out.get(target):
            out[target] = gender(value) if target == "gender" else value
    if titles:
        out["variant_title"] = " / ".join(titles)


def split_list(text: str, separator: str = ",") -> list[str]:
    """A multi-value cell as its non-empty, stripped parts. ``\\,`` escapes the separator
    (WooCommerce writes commas inside a value that way)."""
    if not text:
        return []
    escaped = "\\" + separator
    if escaped in text:
        marker = "\x00"
        parts = text.replace(escaped, marker).split(separator)
        return [p.replace(marker, separator).strip() for p in parts if p.strip()]
    return [part.strip() for part in text.split(separator) if part.strip()]


def images(urls: Iterable[str]) -> tuple[str, str]:
    """``(image_link, additional_image_link)`` from image URLs in order, duplicates dropped."""
    seen: list[str] = []
    for url in urls:
        url = url.strip()
        if url and url not in seen:
            seen.append(url)
    if not seen:
        return "", ""
    return seen[0], ",".join(seen[1:])


def additional_images(main: str, urls: Iterable[str]) -> str:
    """The comma-separated additional images: ``urls`` without ``main`` and duplicates."""
    kept: list[str] = []
    for url in urls:
        url = url.strip()
        if url and url != main and url not in kept:
            kept.append(url)
    return ",".join(kept)


def effective_dates(start: str, end: str) -> str:
    """Google's ``sale_price_effective_date`` from a sale's first and last day (or
    date-time): ``2024-05-01T00:00/2024-05-31T23:59``; empty unless both are given."""
    start, end = start.strip(), end.strip()
    if not start or not end:
        return ""
    return f"{_iso(start, '00:00')}/{_iso(end, '23:59')}"


def _iso(text: str, time: str) -> str:
    if " " in text:
        return text.replace(" ", "T", 1)
    return f"{text}T{time}" if len(text) == 10 else text


def first(*values: str | None) -> str:
    """The first non-empty value, stripped."""
    for value in values:
        if value and value.strip():
            return value.strip()
    return ""


def published(flag: bool | None) -> str:
    """The canonical extra ``published`` attribute: ``"true"`` unless the shop says not."""
    return "false" if flag is False else "true"

