"""Magento 2 product CSVs: the catalog import/export format and the sample-data fixtures.

**Import/export format** (System > Export > Products; columns ``sku``, ``product_type``,
``attribute_set_code``, ``additional_attributes``, ``configurable_variations``, ...):

- ``simple``, ``virtual``, ``downloadable`` and ``bundle`` rows are products. A bundle whose
  price comes from its options has no ``price`` and is rejected by the rules for it.
- A ``configurable`` row is the parent of the simple rows named in its
  ``configurable_variations`` (``sku=MH01-XS-Black,size=XS,color=Black|sku=...``). It is not a
  product itself. Its children get ``item_group_id`` = the parent's SKU, ``title`` = the
  parent's name, the variation's attributes (``size``, ``color``, ... and ``variant_title``)
  and, where they have none, the parent's description, attributes, category and images.
- Magento writes the children *before* their parent. The profile keeps the children that
  wait for a parent (rows with visibility "Not Visible Individually") until the parent
  comes, at most ``MAX_WAITING`` rows: about one product group. Children after their
  parent are matched against the last parent seen. A child whose parent never comes (or
  that is pushed out of the waiting rows) is listed on its own, without a group.
- A configurable none of whose children was seen is reported as ``profile-not-a-product``,
  and so are ``grouped`` rows (a set of products listed on their own) and store-view rows
  (a non-empty ``store_view_code``: a translation of a product listed on its default row;
  one feed per store view is not supported).
- ``additional_attributes`` (``key=value,key=value``, multi-select values joined by ``|``)
  gives ``color``, ``size``, ``material``, ``pattern``, ``gender``, ``brand`` (``manufacturer``
  or ``brand``); several values become ``Cotton/Polyester``.
- ``price``; ``special_price`` (when lower) -> ``sale_price``, with its from/to dates;
  ``qty`` -> ``quantity``; ``is_in_stock`` -> ``availability``; ``base_image`` ->
  ``image_link``, ``additional_images`` -> ``additional_image_link``. Magento exports image
  paths relative to its media folder (``/m/h/mh01-black_main.jpg``): they are passed on as
  written, and the channels' URL rules reject them until the merchant prefixes the media
  URL, e.g. ``overrides: {image_link: "'https://shop.example.com/media/catalog/product' ~
  product.image_link"}``.
- ``product_type``: the first of ``categories``, as ``Men > Tops > Hoodies & Sweatshirts`` (the
  root category dropped). Extras: ``categories``, ``url_key`` (a child takes its parent's, as
  children have no page of their own), ``published`` (``product_online``). There is no URL
  in the export: ``overrides: {link: "'https://shop.example.com/' ~ product.url_key ~
  '.html'"}``.

**Sample-data fixtures** (``products_gear_bags.csv``, ``yoga_bundle.csv``, ...; columns
``sku``, ``name``, ``price``, ``category``, ``attribute_set``): one product per row; the
newline is the multi-value separator (``category`` ``Gear\\nBags`` -> ``Gear > Bags``,
``material`` ``Nylon\\nPolyester`` -> ``Nylon/Polyester``). They carry no images and no URL.
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
    decimal,
    effective_dates,
    first,
    gender,
    option_attribute,
    override_columns,
    problem,
    published,
    record,
    sale_price_pair,
    split_list,
    truthy,
)

MAX_WAITING = 1000  # child rows held while they wait for their configurable parent
_HIDDEN = "not visible individually"
_INHERITED = ("description", "product_type", "categories", "brand", "material", "pattern",
              "gender", "color", "size")


@dataclass
class _Parent:
    origin: Record
    sku: str
    shared: dict[str, str]
    children: dict[str, list[tuple[str, str]]]  # child sku -> its variation attributes
    seen: int = 0


@dataclass
class _State:
    waiting: OrderedDict[str, Record] = field(default_factory=OrderedDict)
    parent: _Parent | None = None


def detect(columns: Iterable[str]) -> bool:
    names = set(columns)
    export = {"sku", "product_type", "name", "price"} <= names and (
        "attribute_set_code" in names or "configurable_variations" in names)
    fixture = {"sku", "name", "attribute_set", "category"} <= names
    return export or fixture


def profile(stream: Iterator[Item]) -> Iterator[Item]:
    """Magento rows -> one canonical record per product or configurable child."""
    state = _State()
    fixture: bool | None = None
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        if fixture is None:
            fixture = "product_type" not in item.data and "attribute_set" in item.data
        if fixture:
            yield record(item, _fixture_product(item.data))
            continue
        yield from _export_row(state, item)
    yield from _flush_waiting(state, everything=True)
    if state.parent is not None:
        yield from _unused(state.parent)


def _export_row(state: _State, item: Record) -> Iterator[Item]:
    row = item.data
    sku = row.get("sku", "").strip()
    kind = row.get("product_type", "").strip().lower()
    if row.get("store_view_code", "").strip():
        yield problem(item, NOT_A_PRODUCT, "a store-view row localises the product on its "
                      "default row; one feed per store view is not supported", sku)
        return
    if kind == "grouped":
        yield problem(item, NOT_A_PRODUCT, "a grouped product is a set of other products, "
                      "each listed on its own row", sku)
        return
    if kind == "configurable":
        if state.parent is not None:
            yield from _unused(state.parent)
        new = state.parent = _new_parent(item)
        for child_sku in list(state.waiting):
            if child_sku in new.children:
                yield _child(state.waiting.pop(child_sku), new)
        yield from _flush_waiting(state, everything=True)
        return
    held = state.parent
    if held is not None and sku in held.children:
        yield _child(item, held)
        return
    if row.get("visibility", "").strip().lower() == _HIDDEN:
        state.waiting[sku or f"line-{item.line}"] = item
        yield from _flush_waiting(state, everything=False)
        return
    yield record(item, _product(row))


def _flush_waiting(state: _State, everything: bool) -> Iterator[Item]:
    """List waiting children on their own: all of them, or those over the limit."""
    while state.waiting and (everything or len(state.waiting) > MAX_WAITING):
        _, item = state.waiting.popitem(last=False)
        yield record(item, _product(item.data))


def _unused(parent: _Parent) -> Iterator[Item]:
    if parent.seen == 0:
        yield problem(parent.origin, NOT_A_PRODUCT,
                      "a configurable product is sold through its simple children, and none "
                      "of them is in the file", parent.sku)


def _new_parent(item: Record) -> _Parent:
    row = item.data
    children: dict[str, list[tuple[str, str]]] = {}
    for variation in row.get("configurable_variations", "").split("|"):
        pairs = _pairs(variation)
        child_sku = next((v for k, v in pairs if k == "sku"), "")
        if child_sku:
            children[child_sku] = [(k, v) for k, v in pairs if k != "sku"]
    product = _product(row)
    shared = {k: product.get(k, "") for k in _INHERITED}
    shared["title"] = product.get("title", "")
    shared["url_key"] = product.get("url_key", "")
    shared["image_link"] = product.get("image_link", "")
    shared["additional_image_link"] = product.get("additional_image_link", "")
    return _Parent(item, row.get("sku", "").strip(), shared, children)


def _child(item: Record, parent: _Parent) -> Record:
    parent.seen += 1
    out = _product(item.data)
    shared = parent.shared
    out["item_group_id"] = parent.sku
    out["title"] = first(shared.get("title"), out.get("title"))
    chosen: dict[str, str] = {}
    apply_options(chosen, parent.children.get(item.data.get("sku", "").strip(), []))
    out.update(chosen)
    for key in (*_INHERITED, "url_key"):
        if shared.get(key) and (key == "url_key" or not out.get(key)):
            out[key] = shared[key]
    if not out.get("image_link"):
        out["image_link"] = shared.get("image_link", "")
        out["additional_image_link"] = shared.get("additional_image_link", "")
    return record(item, out)


def _pairs(text: str, separator: str = ",") -> list[tuple[str, str]]:
    """``a=1,b=x,y,c=2`` -> [(a, 1), (b, "x,y"), (c, 2)]: a part without ``=`` belongs to the
    value before it (a comma inside a value)."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(separator):
        if "=" in part:
            key, _, value = part.partition("=")
            pairs.append((key.strip(), value.strip()))
        elif pairs and part.strip():
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value}{separator}{part.strip()}")
    return pairs


def _product(row: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {
        "id": row.get("sku", ""),
        "title": row.get("name", ""),
        "description": first(row.get("description"), row.get("short_description")),
        "categories": row.get("categories", ""),
        "url_key": row.get("url_key", ""),
        "published": published(False if row.get("product_online", "").strip() in ("0", "2")
                               else None),
    }
    out["product_type"] = _category_path(row.get("categories", ""))
    out["price"], out["sale_price"] = _prices(row)
    if out["sale_price"]:
        out["sale_price_effective_date"] = effective_dates(
            row.get("special_price_from_date", ""), row.get("special_price_to_date", ""))
    stock = truthy(row.get("is_in_stock"))
    if stock is not None:
        out["availability"] = "in stock" if stock else "out of stock"
    out["quantity"] = row.get("qty", "")
    main = first(row.get("base_image"), row.get("small_image"), row.get("thumbnail_image"))
    out["image_link"] = main
    out["additional_image_link"] = additional_images(main, split_list(
        row.get("additional_images", "")))
    _attributes(out, _pairs(row.get("additional_attributes", "")))
    out.update(override_columns(row))
    return out


def _prices(row: dict[str, str]) -> tuple[str, str]:
    price, special = row.get("price", ""), row.get("special_price", "")
    special_n, price_n = decimal(special), decimal(price)
    if special_n is not None and price_n is not None and special_n < price_n:
        return sale_price_pair(special, price)
    return price.strip(), ""


def _attributes(out: dict[str, str], pairs: Iterable[tuple[str, str]]) -> None:
    for key, value in pairs:
        value = value.replace("|", "/").strip()
        name = key.strip().lower()
        target = "brand" if name in ("manufacturer", "brand") else option_attribute(name)
        if target and value and not out.get(target):
            out[target] = gender(value) if target == "gender" else value


def _category_path(categories: str) -> str:
    """``Default Category/Men/Tops,Default Category/...`` -> ``Men > Tops`` (the first path,
    the root category dropped)."""
    for path in split_list(categories):
        parts = [p.strip() for p in path.split("/") if p.strip()]
        if len(parts) > 1:
            return " > ".join(parts[1:])
    return ""


def _fixture_product(row: dict[str, str]) -> dict[str, str]:
    def lines(column: str) -> list[str]:
        return [v.strip() for v in row.get(column, "").splitlines() if v.strip()]

    out: dict[str, str] = {
        "id": row.get("sku", ""),
        "title": row.get("name", ""),
        "description": first(row.get("description"), row.get("short_description")),
        "product_type": " > ".join(lines("category")),
        "categories": ", ".join(lines("category")),
        "quantity": row.get("qty", ""),
        "material": "/".join(lines("material")),
        "pattern": "/".join(lines("pattern")),
        "gender": gender(row.get("gender", "")),
    }
    out["price"], out["sale_price"] = _prices(row)
    out.update(override_columns(row))
    return out
