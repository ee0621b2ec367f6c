"""Suggest a ``catalog.fields`` mapping from a catalog's column names and sample values.

Used by ``feedsync inspect``. The rules are plain tables, not learning: a column whose
normalised name is a known synonym of a canonical attribute is taken first (in table
order, so ``sku`` beats ``id`` for ``id``: a shop's internal row id is rarely what a
channel wants), then a few attributes are recognised by the shape of their values (a
GTIN by its GS1 check digit, an image column by URLs ending in an image extension).
Attributes no column gives but another column can derive (``link`` from a slug,
``availability`` from a stock quantity) get an expression with a placeholder base URL
the merchant must replace.

>>> normalise("Product Name ")
'product_name'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PLACEHOLDER_BASE = "https://shop.example.com"

# canonical attribute -> column-name synonyms (normalised), best first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("sku", "variant_sku", "product_number", "productnumber", "product_code", "item_sku",
           "article_number", "model", "code", "reference", "id", "product_id"),
    "title": ("title", "name", "product_name", "productname", "product_title", "item_name"),
    "description": ("description", "body_html", "body", "long_description", "product_description",
                    "description_html", "short_description", "summary"),
    "link": ("link", "url", "product_url", "producturl", "permalink", "product_page"),
    "image_link": ("image_link", "image", "image_url", "imageurl", "main_image", "images",
                   "image_src", "cover_media_url", "picture", "thumbnail", "assets",
                   "featured_image", "photo"),
    "price": ("price", "price_gross", "regular_price", "variant_price", "retail_price",
              "unit_price", "list_price", "amount", "price_incl_tax"),
    "sale_price": ("sale_price", "special_price", "discount_price"),
    "currency": ("currency", "currency_code", "price_currency"),
    "availability": ("availability", "stock_status", "in_stock", "availability_status"),
    "quantity": ("quantity", "stock", "qty", "stock_qty", "qty_on_hand", "stock_quantity",
                 "stockonhand", "inventory", "inventory_quantity", "inventory_count",
                 "stock_on_hand", "variant_inventory_qty"),
    "brand": ("brand", "vendor", "manufacturer", "manufacturer_name", "make"),
    "gtin": ("gtin", "ean", "upc", "barcode", "isbn", "gtin13", "ean13", "variant_barcode"),
    "mpn": ("mpn", "manufacturer_part_number", "part_number", "manufacturer_number"),
    "condition": ("condition",),
    "product_type": ("product_type", "category", "categories", "type", "collection"),
    "item_group_id": ("item_group_id", "parent_id", "parent", "parent_sku", "group_id"),
    "weight": ("weight", "shipping_weight", "weight_kg", "weight_lb"),
    "color": ("color", "colour"),
    "size": ("size",),
}
SLUG_NAMES = ("handle", "slug", "url_key", "seo_url", "permalink_slug", "url_path")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_IMAGE_VALUE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:\?|$|\|)", re.IGNORECASE)
_URL_VALUE = re.compile(r"^https?://", re.IGNORECASE)
_PRICE_VALUE = re.compile(r"^\s*\d+(?:[.,]\d{1,2})?\s*$")
_INT_VALUE = re.compile(r"^\s*-?\d+\s*$")
_BRAND_FACET = re.compile(r"(?:^|\|)\s*brand\s*:", re.IGNORECASE)
_BARE_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalise(name: str) -> str:
    """A column name folded for matching: lower case, runs of non-alphanumerics as ``_``."""
    return _NON_WORD.sub("_", name.strip().lower()).strip("_")


def gtin_valid(value: str) -> bool:
    """An 8, 12, 13 or 14 digit code whose GS1 mod-10 check digit is right."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


@dataclass(frozen=True)
class ColumnView:
    """What the suggester needs to know about one column."""

    name: str
    fill_rate: float
    samples: Sequence[str]


@dataclass(frozen=True)
class Suggestion:
    attribute: str
    value: str  # a bare column name, or an expression over ``row``
    reason: str


def column_ref(name: str) -> str:
    """How a mapping refers to a column: its bare name, or ``row['...']`` for odd names."""
    if _BARE_COLUMN.match(name):
        return name
    return "row[" + repr(name) + "]"


def _row_ref(name: str) -> str:
    return f"row.{name}" if _BARE_COLUMN.match(name) else "row[" + repr(name) + "]"


def _all(samples: Sequence[str], pattern: re.Pattern[str]) -> bool:
    return bool(samples) and all(pattern.search(s) for s in samples)


def _by_name(columns: Sequence[ColumnView], used: set[str]) -> dict[str, Suggestion]:
    by_norm: dict[str, ColumnView] = {}
    for column in columns:
        by_norm.setdefault(normalise(column.name), column)
    found: dict[str, Suggestion] = {}
    for attribute, names in SYNONYMS.items():
        for synonym in names:
            col = by_norm.get(synonym)
            if col is None or col.name in used or col.fill_rate == 0:
                continue
            found[attribute] = Suggestion(attribute, column_ref(col.name),
                                          f"column {col.name!r} (name)")
            used.add(col.name)
            break
    return found


def _by_value(columns: Sequence[ColumnView], found: dict[str, Suggestion],
              used: set[str]) -> None:
    free = [c for c in columns if c.name not in used and c.fill_rate > 0]
    if "gtin" not in found:
        for col in free:
            if col.samples and all(gtin_valid(s) for s in col.samples):
                found["gtin"] = Suggestion("gtin", column_ref(col.name),
                                           f"column {col.name!r} (values are valid GTINs)")
                used.add(col.name)
                break
    if "image_link" not in found:
        for col in free:
            if col.name not in used and _all(col.samples, _IMAGE_VALUE):
                found["image_link"] = _image(col, "values are image files")
                used.add(col.name)
                break
    if "brand" not in found:
        for col in free:
            if col.name not in used and _all(col.samples, _BRAND_FACET):
                found["brand"] = Suggestion(
                    "brand", f"{_row_ref(col.name)} | facet('brand')",
                    f"column {col.name!r} (key:value list with a brand key)")
                used.add(col.name)
                break
    if "link" not in found:
        for col in free:
            if col.name not in used and _all(col.samples, _URL_VALUE) \
                    and not _all(col.samples, _IMAGE_VALUE) and "product" in normalise(col.name):
                found["link"] = Suggestion("link", column_ref(col.name),
                                           f"column {col.name!r} (values are URLs)")
                used.add(col.name)
                break


def _image(col: ColumnView, why: str) -> Suggestion:
    ref = _row_ref(col.name)
    multi = any("|" in s for s in col.samples)
    expr = f"({ref} | split('|') | first)" if multi else ref
    if not _all(col.samples, _URL_VALUE):
        expr = f"'{PLACEHOLDER_BASE}/images/' ~ {expr}"
        why += "; file names only: replace the placeholder base URL"
    elif multi:
        why += "; several per cell, the first is taken"
    if expr == ref and _BARE_COLUMN.match(col.name):
        expr = col.name
    return Suggestion("image_link", expr, f"column {col.name!r} ({why})")


def _derived(columns: Sequence[ColumnView], found: dict[str, Suggestion]) -> None:
    by_norm = {normalise(c.name): c for c in columns if c.fill_rate > 0}
    if "link" not in found:
        for name in SLUG_NAMES:
            col = by_norm.get(name)
            if col is not None:
                found["link"] = Suggestion(
                    "link", f"'{PLACEHOLDER_BASE}/products/' ~ {_row_ref(col.name)}",
                    f"column {col.name!r} (a slug): replace the placeholder base URL")
                break
    image = found.get("image_link")
    if image is not None and image.reason.endswith("(name)"):
        col = next(c for c in columns if column_ref(c.name) == image.value)
        found["image_link"] = _image(col, "name")
    qty = found.get("quantity")
    if "availability" not in found and qty is not None:
        col = next(c for c in columns if column_ref(c.name) == qty.value)
        if _all(col.samples, _INT_VALUE):
            found["availability"] = Suggestion(
                "availability",
                f"'in_stock' if {_row_ref(col.name)} | int > 0 else 'out_of_stock'",
                f"column {col.name!r} (stock quantity)")
    price = found.get("price")
    if price is not None:
        col = next(c for c in columns if column_ref(c.name) == price.value)
        if col.samples and not _all(col.samples, _PRICE_VALUE):
            found["price"] = Suggestion("price", price.value,
                                        price.reason + "; values are not plain numbers: check")


def suggest(columns: Sequence[ColumnView]) -> dict[str, Suggestion]:
    """The suggested mapping, canonical attribute -> ``Suggestion``, in ``SYNONYMS`` order.

    A column whose name already is the canonical attribute maps to itself (harmless, and
    it shows the merchant the attribute is covered).
    """
    used: set[str] = set()
    found = _by_name(columns, used)
    _by_value(columns, found, used)
    _derived(columns, found)
    order = {name: i for i, name in enumerate(SYNONYMS)}
    return dict(sorted(found.items(), key=lambda kv: order.get(kv[0], len(order))))


def as_mapping(suggestions: Mapping[str, Suggestion]) -> dict[str, str]:
    """The ``fields:`` mapping itself: attribute -> column or expression."""
    return {name: s.value for name, s in suggestions.items()}
