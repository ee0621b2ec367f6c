"""WooCommerce product CSV exports (Products > Export, and the bundled sample data).

Rows are products of a ``Type`` (itself a list: ``simple, downloadable, virtual``):

- ``simple``, ``external`` (and virtual/downloadable simples): one product each.
- ``variable``: the parent of a set of ``variation`` rows. It is not a product itself: its
  variations are. Its shared fields are remembered so the variations can inherit them.
- ``variation``: one product, ``item_group_id`` = the parent's SKU (or the ``Parent`` value as
  written, ``id:`` dropped, when the parent is unknown). Inherited from the parent when the
  variation has none: description, categories, tags, images (the parent's become additional
  images). ``title`` is the parent's name; the variation's attribute values go to
  ``color``/``size``/... and ``variant_title``.
- ``grouped``: a set of other products, each listed on its own row: not a product; reported
  as ``profile-not-a-product``.

Parents are usually listed before their variations, but not right before them: the sample
data lists simple products between a parent and its variations. So the profile remembers
the shared fields of the last ``MAX_PARENTS`` variable parents (a bounded cache, not the
catalog). A variation whose parent is not among them (listed after it, or evicted) is still
listed, with its own fields only. A variable parent none of whose variations was seen (by
the end of the file, or when it leaves the cache) is reported as ``profile-not-a-product``:
WooCommerce cannot sell a variable product without variations.

Other mappings: ``id`` = ``SKU``, else ``ID``; ``price``/``sale_price`` = ``Regular price`` /
``Sale price`` (a sale price only when below the regular price); ``sale_price_effective_date``
from the sale dates; ``availability`` from ``In stock?`` (1 / 0 / backorder), ``quantity`` from
``Stock``; ``Images`` (comma-separated, with or without a space) -> ``image_link`` and
``additional_image_link``; ``product_type`` = the first of ``Categories`` (``Clothing >
Tshirts``); ``link`` = ``External URL`` for external products. Extras: ``categories``,
``tags``, ``published`` (``Published`` 1 -> true, 0/-1 -> false), ``wc_id`` (the post id:
``overrides: {link: "'https://shop.example.com/?p=' ~ product.wc_id"}`` links to it).
WooCommerce 7.9 exports have no GTIN column.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    NOT_A_PRODUCT,
    Item,
    additional_images,
    apply_options,
    effective_dates,
    first,
    override_columns,
    problem,
    published,
    record,
    sale_price_pair,
    split_list,
    truthy,
)

MAX_PARENTS = 1000  # variable parents remembered at once (their shared fields only)
_SHARED = ("title", "description", "categories", "tags", "product_type")


@dataclass
class _Parent:
    origin: Record
    sku: str
    fields: dict[str, str]
    keys: tuple[str, ...]
    variations: int = 0


@dataclass
class _Parents:
    """The last ``MAX_PARENTS`` variable parents, found by SKU or by ``id:<ID>``."""

    by_key: dict[str, _Parent] = field(default_factory=dict)
    order: OrderedDict[int, _Parent] = field(default_factory=OrderedDict)

    def add(self, parent: _Parent) -> Iterator[_Parent]:
        """Remember ``parent``; yield the parents it pushes out (same key, or the oldest)."""
        for key in parent.keys:
            old = self.by_key.get(key)
            if old is not None:
                self._drop(old)
                yield old
        self.order[id(parent)] = parent
        for key in parent.keys:
            self.by_key[key] = parent
        while len(self.order) > MAX_PARENTS:
            _, oldest = self.order.popitem(last=False)
            self._drop(oldest)
            yield oldest

    def find(self, reference: str) -> _Parent | None:
        ref = reference.strip()
        parent = self.by_key.get(ref)
        if parent is None and not ref.startswith("id:"):
            parent = self.by_key.get(f"id:{ref}")
        return parent

    def _drop(self, parent: _Parent) -> None:
        self.order.pop(id(parent), None)
        for key in parent.keys:
            if self.by_key.get(key) is parent:
                del self.by_key[key]


def detect(columns: Iterable[str]) -> bool:
    names = set(columns)
    return {"Type", "SKU", "Name", "Regular price"} <= names and (
        "Parent" in names or "In stock?" in names)


def profile(stream: Iterator[Item]) -> Iterator[Item]:
    """WooCommerce rows -> one canonical record per sellable product or variation."""
    parents = _Parents()
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        row = item.data
        types = {t.lower() for t in split_list(row.get("Type", ""))}
        if "variable" in types:
            for pushed_out in parents.add(_parent(item)):
                yield from _unused(pushed_out)
        elif "grouped" in types:
            yield problem(item, NOT_A_PRODUCT, "a grouped product is a set of other products, "
                          "each listed on its own row", first(row.get("SKU"), row.get("ID")))
        elif "variation" in types:
            yield _variation(item, row.get("Parent", ""), parents.find(row.get("Parent", "")))
        else:
            simple = _product(row)
            simple.pop("variant_title", None)  # attribute values of a product, not a variant
            yield record(item, simple)
    for parent in parents.order.values():
        yield from _unused(parent)


def _parent(item: Record) -> _Parent:
    row = item.data
    product = _product(row)
    shared = {k: product.get(k, "") for k in _SHARED}
    shared["images"] = ",".join(split_list(row.get("Images", "")))
    sku, post_id = row.get("SKU", "").strip(), row.get("ID", "").strip()
    keys = tuple(k for k in (sku, f"id:{post_id}" if post_id else "") if k)
    return _Parent(item, sku, shared, keys)


def _unused(parent: _Parent) -> Iterator[Item]:
    if parent.variations == 0:
        yield problem(parent.origin, NOT_A_PRODUCT,
                      "a variable product without variation rows cannot be sold; list its "
                      "variations (export them with the product)", parent.sku)


def _variation(item: Record, reference: str, parent: _Parent | None) -> Record:
    out = _product(item.data)
    group = reference.strip().removeprefix("id:").strip()
    if parent is not None:
        parent.variations += 1
        group = first(parent.sku, group)
    if group:
        out["item_group_id"] = group
    if parent is not None:
        shared = parent.fields
        out["title"] = first(shared.get("title"), out.get("title"))
        for key in ("description", "categories", "tags", "product_type"):
            if not out.get(key):
                out[key] = shared.get(key, "")
        parent_images = split_list(shared.get("images", ""))
        main = first(out.get("image_link"), parent_images[0] if parent_images else "")
        own = split_list(out.get("additional_image_link", ""))
        out["image_link"] = main
        out["additional_image_link"] = additional_images(main, own + parent_images)
    return record(item, out)


def _product(row: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {
        "id": first(row.get("SKU"), row.get("ID")),
        "wc_id": row.get("ID", ""),
        "title": row.get("Name", ""),
        "description": first(row.get("Description"), row.get("Short description")),
        "categories": row.get("Categories", ""),
        "tags": row.get("Tags", ""),
        "published": published(truthy(row.get("Published"))),
        "link": row.get("External URL", ""),
    }
    categories = split_list(row.get("Categories", ""))
    out["product_type"] = categories[0] if categories else ""
    regular, sale = row.get("Regular price", ""), row.get("Sale price", "")
    out["price"], out["sale_price"] = sale_price_pair(sale, regular) if sale.strip() else (
        regular, "")
    if out["sale_price"]:
        out["sale_price_effective_date"] = effective_dates(
            row.get("Date sale price starts", ""), row.get("Date sale price ends", ""))
    stock = row.get("In stock?", "").strip().lower()
    if stock == "backorder" or stock == "onbackorder":
        out["availability"] = "backorder"
    elif truthy(stock) is not None:
        out["availability"] = "in stock" if truthy(stock) else "out of stock"
    out["quantity"] = row.get("Stock", "")
    pictures = split_list(row.get("Images", ""))
    out["image_link"] = pictures[0] if pictures else ""
    out["additional_image_link"] = additional_images(out["image_link"], pictures)
    apply_options(out, _attributes(row))
    out.update(override_columns(row))
    return out


def _attributes(row: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(name, value) of each attribute with exactly one value (a variation's choice, or a
    simple product's only value; a list of choices names no single variant)."""
    n = 1
    while f"Attribute {n} name" in row:
        name = row.get(f"Attribute {n} name", "")
        values = split_list(row.get(f"Attribute {n} value(s)", ""))
        if name.strip() and len(values) == 1:
            yield name, values[0]
        n += 1

