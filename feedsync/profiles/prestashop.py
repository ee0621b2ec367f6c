"""PrestaShop and thirty bees CSV import files: products, and combinations (variants).

Both shops use the same columns in two dialects: PrestaShop 1.7+ writes ``;`` between cells
and ``,`` inside multi-value cells (``Categories (x,y,z...)``); thirty bees (a PrestaShop 1.6
fork) writes ``,`` between cells and ``;`` inside them (``Categories (x;y;z...)``). The
multi-value separator is read from the header (``(x,y,z...)`` or ``(x;y;z...)``).

**Products** (profile ``prestashop``; ``products_import.csv``): one product per row.
``id`` = ``Reference #``, else ``Product ID``; ``title`` = ``Name *``; ``description`` =
``Description`` (else the summary), HTML kept; ``price`` = ``Price tax excluded`` (thirty
bees: ``Price tax excluded or Price tax included``, which the header leaves ambiguous);
``sale_price`` from ``Discount amount`` / ``Discount percent`` (``On sale`` only shows a banner),
with ``sale_price_effective_date`` from the discount dates; ``gtin`` = ``EAN13``, else
``UPC``; ``mpn``; ``brand`` = ``Manufacturer``; ``quantity``; ``condition``; ``product_type`` =
the first category; ``image_link`` / ``additional_image_link`` from ``Image URLs``;
``availability`` ``out of stock`` when ``Available for order`` is 0; features
(``Color:Blue:1``) give ``color``/``size``/``material``/... Extras: ``product_id``, ``tags``,
``link_rewrite`` (``URL rewritten``), ``published`` (``Active`` 0 or visibility ``none`` ->
false). There is no URL: ``overrides: {link: "'https://shop.example.com/' ~
product.product_id ~ '-' ~ product.link_rewrite ~ '.html'"}``.

**Combinations** (profile ``prestashop-combinations``; ``combinations_import.csv``): one
variant per row, tied to its product by ``Product ID*``. A combination holds only
*differences* from its product (``Impact on price`` is a delta), so the profile joins the
products file: the **companion**, found next to the combinations file as
``products_import.csv`` or as the combinations file's name with ``combinations`` replaced by
``products``. The companion is read whole into memory (a products file is small next to
its combinations; the catalog itself is still streamed). With it:

- each combination becomes a product: ``id`` = its ``Reference``, else ``<product id>-<n>``
  (n = the combination's place among its product's, from 1); ``item_group_id`` = the
  product id; ``price`` = the product's price + the impact (and the product's discount
  applied to it); ``title``, ``description``, ``brand``, ``product_type``, images and the
  other product fields from the product; its own ``gtin``, ``quantity``, images; attributes
  (``Color:color:0, Disk space:select:1`` with values ``Blue:0, 16GB:1``) -> ``color``,
  ``size``, ... and ``variant_title``;
- after the last combination, every product of the companion that had no combination is
  listed as it is, so the combinations file gives the whole catalog.

Without a companion a combination has no price, title or description of its own: it is
listed with what it has (``price`` left empty), and the rules reject it for the missing
fields. ``categories_import.csv`` is not a product list and has no profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    MISSING_KEY,
    Item,
    amount_text,
    apply_options,
    decimal,
    effective_dates,
    first,
    images,
    option_attribute,
    override_columns,
    problem,
    published,
    record,
    truthy,
)
from feedsync.sources import SourceOptions, open_catalog

COMPANION_NAME = "products_import.csv"
_PRICE_COLUMNS = ("Price tax excluded", "Price tax excluded or Price tax included",
                  "Price tax included")


def detect_products(columns: Iterable[str]) -> bool:
    names = set(columns)
    return {"Product ID", "Name *"} <= names and any(c in names for c in _PRICE_COLUMNS)


def detect_combinations(columns: Iterable[str]) -> bool:
    names = set(columns)
    return {"Product ID*", "Attribute (Name:Type:Position)*", "Value (Value:Position)*"} <= names


def _separator(columns: Iterable[str]) -> str:
    """The multi-value separator: ``;`` in thirty bees' files, whose header names hold
    ``;`` (``Categories (x;y;z...)``, ``Default (0 = No; 1 = Yes)``), else PrestaShop's ``,``."""
    return ";" if any(";" in c for c in columns) else ","


def _column(row: dict[str, str], prefix: str) -> str:
    """The cell of the column whose name starts with ``prefix`` (headers carry the list
    syntax, ``Image URLs (x,y,z...)``, and it differs between the dialects)."""
    for name, value in row.items():
        if name.startswith(prefix):
            return value
    return ""


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def products_profile(stream: Iterator[Item]) -> Iterator[Item]:
    """PrestaShop / thirty bees products -> one canonical record per row."""
    separator: str | None = None
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        if separator is None:
            separator = _separator(item.data)
        yield record(item, product(item.data, separator))


def product(row: dict[str, str], separator: str) -> dict[str, str]:
    """One products-file row as canonical attributes."""
    price = first(*(row.get(c) for c in _PRICE_COLUMNS))
    product_id = row.get("Product ID", "").strip()
    visibility = row.get("Visibility", "").strip().lower()
    active = truthy(row.get("Active (0/1)"))
    out: dict[str, str] = {
        "id": first(row.get("Reference #"), product_id),
        "product_id": product_id,
        "title": row.get("Name *", ""),
        "description": first(row.get("Description"), row.get("Summary"),
                             row.get("Short description")),
        "price": price,
        "gtin": first(row.get("EAN13"), row.get("UPC")),
        "mpn": row.get("MPN", ""),
        "brand": row.get("Manufacturer", ""),
        "quantity": row.get("Quantity", ""),
        "condition": row.get("Condition", "").strip().lower(),
        "tags": ", ".join(_split(_column(row, "Tags ("), separator)),
        "link_rewrite": row.get("URL rewritten", ""),
        "published": published(False if active is False or visibility == "none" else None),
    }
    categories = _split(_column(row, "Categories ("), separator)
    out["product_type"] = categories[0] if categories else ""
    out["image_link"], out["additional_image_link"] = images(
        _split(_column(row, "Image URLs ("), separator))
    if truthy(_column(row, "Available for order")) is False:
        out["availability"] = "out of stock"
    price_n = decimal(price)
    if price_n is not None:
        _sale(out, row, price_n)
    apply_options(out, _features(_column(row, "Feature("), separator))
    out.pop("variant_title", None)
    out.update(override_columns(row))
    return out


def _sale(out: dict[str, str], row: dict[str, str], price: Decimal) -> None:
    """``sale_price`` (and its dates) from the product's discount applied to ``price``."""
    discount = _discount(row)
    if discount is None:
        return
    sale = discount(price)
    if Decimal(0) < sale < price:
        out["sale_price"] = amount_text(sale)
        out["sale_price_effective_date"] = effective_dates(
            row.get("Discount from (yyyy-mm-dd)", ""), row.get("Discount to (yyyy-mm-dd)", ""))


def _discount(row: dict[str, str]) -> Callable[[Decimal], Decimal] | None:
    """The product's discount as a function of a price, or None."""
    amount = decimal(row.get("Discount amount"))
    percent = decimal(row.get("Discount percent"))
    if amount is not None and amount > 0:
        return lambda price: price - amount
    if percent is not None and 0 < percent < 100:
        return lambda price: price * (Decimal(100) - percent) / Decimal(100)
    return None


def _features(text: str, separator: str) -> Iterator[tuple[str, str]]:
    """``Color:Blue:1,Material:Cotton:2`` -> (Color, Blue), (Material, Cotton)."""
    for part in _split(text, separator):
        name, _, rest = part.partition(":")
        value = rest.rsplit(":", 1)[0] if rest.count(":") else rest
        if option_attribute(name):
            yield name, value


def companion_path(catalog: Path) -> Path | None:
    """The products file that goes with a combinations file, if there is one beside it."""
    candidates = [catalog.with_name(COMPANION_NAME)]
    if "combinations" in catalog.name:
        candidates.append(catalog.with_name(catalog.name.replace("combinations", "products")))
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != catalog.resolve():
            return candidate
    return None


class _Companion:
    """The products file, read whole: product id -> (origin, row, separator)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, tuple[Record, dict[str, str]]] = {}
        self.separator = ","
        self.used: set[str] = set()
        for item in open_catalog(path, SourceOptions()).records():
            if isinstance(item, RowProblem):
                continue  # reported when the products file itself is built
            if not self.rows:
                self.separator = _separator(item.data)
            product_id = item.data.get("Product ID", "").strip()
            if product_id:
                self.rows.setdefault(product_id, (item, item.data))

    def row(self, product_id: str) -> dict[str, str] | None:
        found = self.rows.get(product_id)
        if found is None:
            return None
        self.used.add(product_id)
        return found[1]

    def unused(self) -> Iterator[Record]:
        for product_id, (origin, row) in self.rows.items():
            if product_id not in self.used:
                yield record(origin, product(row, self.separator))


def combinations_profile(stream: Iterator[Item], companion: Path | None = None) -> Iterator[Item]:
    """Combinations -> one canonical record per variant, joined with the products file.

    ``companion`` names the products file; by default it is looked for beside the
    combinations file (``companion_path``).
    """
    counts: dict[str, int] = {}
    products: _Companion | None = None
    looked = False
    separator = ","
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        if not looked:
            looked = True
            separator = _separator(item.data)
            path = companion or companion_path(Path(item.file))
            products = _Companion(path) if path is not None else None
        row = item.data
        product_id = row.get("Product ID*", "").strip()
        if not product_id:
            yield problem(item, MISSING_KEY, "combination without a Product ID*: it belongs "
                          "to no product", row.get("Reference"))
            continue
        counts[product_id] = n = counts.get(product_id, 0) + 1
        base = products.row(product_id) if products is not None else None
        base_separator = products.separator if products is not None else separator
        yield record(item, _combination(row, product_id, n, base, base_separator, separator))
    if products is not None:
        yield from products.unused()


def _combination(row: dict[str, str], product_id: str, n: int, base_row: dict[str, str] | None,
                 base_separator: str, separator: str) -> dict[str, str]:
    base = product(base_row, base_separator) if base_row is not None else None
    out: dict[str, str] = dict(base or {})
    for key in ("sale_price", "sale_price_effective_date", "gtin", "mpn"):
        out.pop(key, None)
    out["id"] = first(row.get("Reference"), f"{product_id}-{n}")
    out["item_group_id"] = product_id
    out["product_id"] = product_id
    out["gtin"] = first(row.get("EAN13"), row.get("UPC"))
    out["quantity"] = row.get("Quantity", "")
    impact = decimal(row.get("Impact on price")) or Decimal(0)
    base_price = decimal((base or {}).get("price"))
    out["price"] = amount_text(base_price + impact) if base_price is not None else ""
    if base_row is not None and base is not None and base_price is not None:
        _sale(out, base_row, base_price + impact)
    own_images = _split(first(_column(row, "Image URLs ("), row.get("Image URL")), separator)
    if own_images:
        out["image_link"], out["additional_image_link"] = images(
            own_images + _split((base or {}).get("additional_image_link", ""), ","))
    names = [p.split(":")[0] for p in _split(_column(row, "Attribute (Name"), separator)]
    values = [p.rsplit(":", 1)[0] if ":" in p else p
              for p in _split(_column(row, "Value (Value"), separator)]
    for key in ("color", "size", "material", "pattern"):
        if any(option_attribute(name) == key for name in names):
            out.pop(key, None)
    apply_options(out, zip(names, values, strict=False))
    out.update(override_columns(row))
    return out
