"""Shopify product CSV exports (the 2018 column set and the 2023+ one with ``Status``).

A product is a run of consecutive rows with the same ``Handle``: the first row carries the
product fields (title, body, vendor, type, tags, option names), every row may carry one
variant, and rows with only ``Image Src``/``Image Position`` add pictures to the product.
The profile holds one handle's rows at a time and yields one canonical record per variant:

- ``id``: ``Variant SKU``, or ``<handle>-<n>`` (n = the variant's place in the handle,
  from 1) when the SKU is empty. Such ids change when variants are reordered: give every
  variant a SKU.
- ``item_group_id``: the handle, when the handle has more than one variant.
- ``title`` (the product's, the same for every variant), ``description`` (``Body (HTML)``,
  HTML kept), ``brand`` (``Vendor``), ``product_type`` (``Type``, else ``Product Category``).
- ``price`` / ``sale_price``: ``Variant Price``; when ``Variant Compare At Price`` is higher,
  it becomes ``price`` and the variant price ``sale_price`` (Google's meaning).
- ``gtin`` (``Variant Barcode``); ``mpn`` from the variant's own row (an MPN names one
  variant, so it is not copied to the others); ``gender``, ``age_group``, ``condition``,
  ``google_product_category``, ``custom_label_0..4`` from the product's ``Google Shopping / …``
  columns.
- ``color`` / ``size`` / ``material`` from options whose name says so (``Color``, ``Colour``,
  ``Size``, ...); all option values in ``variant_title`` (``Blue / S``).
- ``image_link``: ``Variant Image``, else the product's first image (lowest ``Image
  Position``); ``additional_image_link``: the product's other images.
- ``quantity``: ``Variant Inventory Qty`` when Shopify tracks the stock. An empty
  ``Variant Inventory Tracker`` means "not tracked" (always for sale): then ``availability``
  is ``in stock`` and no quantity is given. Inventory policy ``continue`` (keep selling when
  sold out) also gives ``in stock``.
- ``identifier_exists``: ``no`` when ``Google Shopping / Custom Product`` is true and the
  variant has neither barcode nor MPN.
- extras: ``handle``, ``tags``, ``published`` (``false`` for ``Status`` draft/archived or
  ``Published`` false; such products are still listed, filter them with
  ``exclude: "product.published == 'false'"``).
- ``link``: Shopify exports have no URL. A ``link``/``url``/``product url`` column is used when
  the merchant adds one; otherwise set it per channel, e.g.
  ``overrides: {link: "'https://shop.example.com/products/' ~ product.handle"}``.

A handle with no variant row (image rows only) is reported as ``profile-not-a-product``; a
row without a handle as ``profile-missing-key``. Rows of one handle must be consecutive
(Shopify writes them so): a handle that comes back later starts a new product without the
product fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    MISSING_KEY,
    NOT_A_PRODUCT,
    Item,
    additional_images,
    apply_options,
    decimal,
    first,
    gender,
    override_columns,
    problem,
    published,
    record,
    sale_price_pair,
    truthy,
)

_VARIANT_COLUMNS = ("Variant SKU", "Variant Price", "Option1 Value", "Variant Barcode",
                    "Variant Inventory Qty", "Variant Compare At Price")
_LINK_COLUMNS = ("link", "url", "product url", "product link")
_GOOGLE = "Google Shopping / "


def detect(columns: Iterable[str]) -> bool:
    names = set(columns)
    return {"Handle", "Title", "Variant Price"} <= names and (
        "Body (HTML)" in names or "Variant SKU" in names)


def profile(stream: Iterator[Item]) -> Iterator[Item]:
    """Shopify rows -> one canonical record per variant (see the module docstring)."""
    group: list[Record] = []
    handle = ""
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        row_handle = item.data.get("Handle", "").strip()
        if not row_handle:
            yield problem(item, MISSING_KEY, "row without a Handle: Shopify ties every row "
                          "to its product by Handle", item.data.get("Variant SKU"))
            continue
        if row_handle != handle and group:
            yield from _products(handle, group)
            group = []
        handle = row_handle
        group.append(item)
    if group:
        yield from _products(handle, group)


def _is_variant(row: dict[str, str]) -> bool:
    return any(row.get(column, "").strip() for column in _VARIANT_COLUMNS)


def _products(handle: str, rows: list[Record]) -> Iterator[Item]:
    head = next((r.data for r in rows if r.data.get("Title", "").strip()), rows[0].data)
    variants = [r for r in rows if _is_variant(r.data)]
    if not variants:
        yield problem(rows[0], NOT_A_PRODUCT,
                      f"handle {handle!r} has image rows only, no variant: nothing to list")
        return
    pictures = _images(rows)
    option_names = [head.get(f"Option{n} Name", "") for n in (1, 2, 3)]
    shared = _shared(handle, head)
    grouped = len(variants) > 1
    for n, variant in enumerate(variants, start=1):
        row = variant.data
        out = dict(shared)
        out["id"] = first(row.get("Variant SKU"), f"{handle}-{n}")
        if grouped:
            out["item_group_id"] = handle
        out["price"], out["sale_price"] = sale_price_pair(
            row.get("Variant Price", ""), row.get("Variant Compare At Price", ""))
        out["gtin"] = row.get("Variant Barcode", "")
        out["mpn"] = row.get(_GOOGLE + "MPN", "")
        _stock(out, row, variant)
        main = first(row.get("Variant Image"), pictures[0] if pictures else "")
        out["image_link"] = main
        out["additional_image_link"] = additional_images(main, pictures)
        apply_options(out, ((option_names[i] or f"Option{i + 1}",
                             row.get(f"Option{i + 1} Value", "")) for i in range(3)))
        if (truthy(head.get(_GOOGLE + "Custom Product")) and not out["gtin"].strip()
                and not out["mpn"]):
            out["identifier_exists"] = "no"
        out.update(override_columns(row))
        yield record(variant, out)


def _shared(handle: str, head: dict[str, str]) -> dict[str, str]:
    """The product-level attributes, from the handle's first row."""
    status = head.get("Status", "").strip().lower()
    hidden = truthy(head.get("Published")) is False or status in ("draft", "archived")
    out = {
        "handle": handle,
        "title": head.get("Title", ""),
        "description": head.get("Body (HTML)", ""),
        "brand": head.get("Vendor", ""),
        "product_type": first(head.get("Type"), head.get("Product Category")),
        "google_product_category": head.get(_GOOGLE + "Google Product Category", ""),
        "gender": gender(head.get(_GOOGLE + "Gender", "")),
        "age_group": head.get(_GOOGLE + "Age Group", "").strip().lower(),
        "condition": head.get(_GOOGLE + "Condition", "").strip().lower(),
        "tags": head.get("Tags", ""),
        "published": published(False if hidden else None),
        "link": next((head[c] for c in head if c.strip().lower() in _LINK_COLUMNS
                      and head[c].strip()), ""),
    }
    for n in range(5):
        out[f"custom_label_{n}"] = head.get(f"{_GOOGLE}Custom Label {n}", "")
    return out


def _stock(out: dict[str, str], row: dict[str, str], variant: Record) -> None:
    tracked = row.get("Variant Inventory Tracker", "").strip() or \
        "Variant Inventory Tracker" not in row
    policy = row.get("Variant Inventory Policy", "").strip().lower()
    if not tracked or policy == "continue":
        out["availability"] = "in stock"
    if tracked:
        out["quantity"] = row.get("Variant Inventory Qty", "")


def _images(rows: list[Record]) -> list[str]:
    """The handle's images, by ``Image Position`` (rows without one keep file order)."""
    found: list[tuple[float, int, str]] = []
    for index, item in enumerate(rows):
        src = item.data.get("Image Src", "").strip()
        if src:
            position = decimal(item.data.get("Image Position"))
            found.append((float(position) if position is not None else float("inf"), index, src))
    found.sort()
    ordered: list[str] = []
    for _, _, src in found:
        if src not in ordered:
            ordered.append(src)
    return ordered
