"""Medusa v2 product CSV exports (comma- or semicolon-separated; the reader sniffs which).

One row per variant, with the product's fields repeated on each. Rows of one product
(``Product Id``) are consecutive; the profile holds one product's rows at a time:

- ``id``: ``Variant Sku``, else ``Variant Id`` (``variant_01J44…``, stable in Medusa).
- ``item_group_id``: ``Product Id``, when the product has more than one variant.
- ``title`` = ``Product Title``; ``description`` = ``Product Description`` (HTML kept), else the
  ``Product Subtitle``; ``variant_title`` = ``Variant Title``.
- prices: one column per currency, ``Variant Price EUR`` -> ``price_EUR``. ``price`` and
  ``currency`` are the first currency with a price, in column order; a channel target with a
  ``currency`` picks its own column (``price_<CUR>``, see docs/channels.md).
- ``gtin``: ``Variant Ean``, ``Variant Upc`` or ``Variant Barcode``; ``material``: the
  variant's, else the product's; options ``Variant Option N Name`` / ``Value`` -> ``color``,
  ``size``, ... and ``variant_title`` when the variant has no title.
- ``image_link``: ``Product Thumbnail``, else ``Product Image 1``; ``additional_image_link``:
  the other ``Product Image N``. Medusa exports them as written in the shop, which may be
  a bare file name (the rules then reject it as not a URL).
- ``availability``: ``in stock`` when Medusa does not manage the variant's inventory
  (``Variant Manage Inventory`` false: always for sale). The export holds no stock levels,
  so a managed variant has no availability: set it with a supplemental stock file.
- extras: ``handle``, ``tags`` (``Product Tag N``), ``published`` (false unless ``Product
  Status`` is ``published``). There is no URL: ``overrides: {link:
  "'https://shop.example.com/products/' ~ product.handle"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    MISSING_KEY,
    Item,
    additional_images,
    apply_options,
    first,
    override_columns,
    problem,
    published,
    record,
    truthy,
)

_PRICE = re.compile(r"^Variant Price ([A-Za-z]{3})$")
_NUMBERED = re.compile(r"^(Product Image|Product Tag|Variant Option) (\d+)( Name| Value)?$")


def detect(columns: Iterable[str]) -> bool:
    names = set(columns)
    return {"Product Id", "Product Handle", "Product Title", "Variant Id"} <= names


def profile(stream: Iterator[Item]) -> Iterator[Item]:
    """Medusa rows -> one canonical record per variant."""
    group: list[Record] = []
    current = ""
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        product_id = first(item.data.get("Product Id"), item.data.get("Variant Product Id"))
        if not product_id:
            yield problem(item, MISSING_KEY, "row without a Product Id: it belongs to no "
                          "product", item.data.get("Variant Id"))
            continue
        if product_id != current and group:
            yield from _variants(group)
            group = []
        current = product_id
        group.append(item)
    if group:
        yield from _variants(group)


def _numbered(row: dict[str, str], prefix: str, suffix: str = "") -> list[str]:
    """The cells of ``<prefix> 1<suffix>``, ``<prefix> 2<suffix>``, ... in number order."""
    found: list[tuple[int, str]] = []
    for name, value in row.items():
        match = _NUMBERED.match(name)
        if match and match.group(1) == prefix and (match.group(3) or "") == suffix:
            found.append((int(match.group(2)), value))
    return [value for _, value in sorted(found)]


def _variants(rows: list[Record]) -> Iterator[Item]:
    grouped = len(rows) > 1
    for item in rows:
        row = item.data
        out: dict[str, str] = {
            "id": first(row.get("Variant Sku"), row.get("Variant Id")),
            "handle": row.get("Product Handle", ""),
            "title": row.get("Product Title", ""),
            "description": first(row.get("Product Description"), row.get("Product Subtitle")),
            "gtin": first(row.get("Variant Ean"), row.get("Variant Upc"),
                          row.get("Variant Barcode")),
            "material": first(row.get("Variant Material"), row.get("Product Material")),
            "tags": ", ".join(t.strip() for t in _numbered(row, "Product Tag") if t.strip()),
            "published": published(row.get("Product Status", "").strip().lower()
                                   == "published"),
        }
        if grouped:
            out["item_group_id"] = first(row.get("Product Id"), row.get("Variant Product Id"))
        for name, value in row.items():
            match = _PRICE.match(name)
            if match and value.strip():
                currency = match.group(1).upper()
                out[f"price_{currency}"] = value
                if not out.get("price"):
                    out["price"], out["currency"] = value, currency
        pictures = _numbered(row, "Product Image")
        main = first(row.get("Product Thumbnail"), *pictures)
        out["image_link"] = main
        out["additional_image_link"] = additional_images(main, pictures)
        if truthy(row.get("Variant Manage Inventory")) is False:
            out["availability"] = "in stock"
        apply_options(out, zip(_numbered(row, "Variant Option", " Name"),
                               _numbered(row, "Variant Option", " Value"), strict=False))
        out["variant_title"] = first(row.get("Variant Title"), out.get("variant_title"))
        out.update(override_columns(row))
        yield record(item, out)

