"""Saleor's Django fixture (``populatedb_data.json``): products rebuilt from linked records.

The file is one JSON array of ``{"model", "pk", "fields"}`` objects: products, variants,
per-channel prices, media, stock and attribute assignments, all linked by ``pk``. The JSON
reader yields one record per object (nested fields flattened to ``fields.name``,
``fields.description.blocks.0.data.text``, ...); this profile collects them **all** and
then joins them. That holds the whole file in memory: acceptable for a fixture of a demo
shop (a few hundred kB), not for a bulk export. Saleor's bulk exports (its CSV/XLSX
product export) are not this format.

Per variant (``product.productvariant``), one product:

- ``id``: the SKU, else Saleor's global id of the variant (base64 of ``ProductVariant:<pk>``,
  what Saleor's API and dashboard show). ``item_group_id``: the product's slug, when the
  product has more than one variant.
- ``title``: the product name; ``variant_title``: the variant name (unless it is the bare
  global id, as on SKU-less variants), else its attribute values.
- ``description``: the Editor.js JSON rendered as HTML (paragraphs, headers, lists, quotes;
  the inline HTML Editor.js keeps in its text stays), else ``description_plaintext``.
- prices: each channel listing gives ``price_<CUR>`` (and ``sale_price_<CUR>`` when the
  discounted price is lower); ``price``, ``sale_price`` and ``currency`` come from the
  listing of the channel with the lowest pk (Saleor's default channel).
- ``quantity``: stock in all warehouses less what is allocated; a variant that does not
  track inventory is ``in stock``; a preorder variant is ``preorder`` with
  ``availability_date`` = its preorder end.
- ``brand``, ``material``, ``color``, ``size`` (``size``, ``shoe-size``, ...) from the product's
  and variant's attribute values.
- ``product_type``: the category path (``Apparel > Sneakers``); ``image_link`` /
  ``additional_image_link``: the product's media in order (Saleor stores paths relative to
  its media URL, ``products/…png``: the URL rules reject them until the merchant prefixes
  the media host with an override).
- extras: ``slug``, ``published`` (the default channel's product listing). There is no URL:
  ``overrides: {link: "'https://shop.example.com/products/' ~ product.slug"}``.

A product without variants is reported as ``profile-not-a-product``.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    NOT_A_PRODUCT,
    Item,
    additional_images,
    apply_options,
    decimal,
    first,
    option_attribute,
    problem,
    published,
    record,
    truthy,
)


def detect(columns: Iterable[str]) -> bool:
    names = list(columns)
    return "model" in names and "pk" in names and any(n.startswith("fields.") for n in names)


@dataclass
class _Fixture:
    """The fixture's records by model and pk (only what the products need)."""

    products: list[Record] = field(default_factory=list)
    variants: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    by_model: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: defaultdict(dict))
    linked: dict[tuple[str, str], list[dict[str, str]]] = field(
        default_factory=lambda: defaultdict(list))

    def add(self, item: Record) -> None:
        row = item.data
        model, pk = row.get("model", ""), row.get("pk", "")
        fields = {k[7:]: v for k, v in row.items() if k.startswith("fields.")}
        fields["pk"] = pk
        if model == "product.product":
            self.products.append(Record(item.file, item.line, fields))
        elif model == "product.productvariant":
            self.variants[fields.get("product", "")].append(Record(item.file, item.line, fields))
        else:
            self.by_model[model][pk] = fields
        for model_name, key in _LINKS:
            if model == model_name:
                self.linked[(model, fields.get(key, ""))].append(fields)

    def get(self, model: str, pk: str) -> dict[str, str]:
        return self.by_model.get(model, {}).get(pk, {})

    def of(self, model: str, pk: str) -> list[dict[str, str]]:
        return self.linked.get((model, pk), [])


# (model, field) pairs to index: the records of `model` whose `field` is a given pk.
_LINKS = (
    ("product.productvariantchannellisting", "variant"),
    ("product.productchannellisting", "product"),
    ("product.productmedia", "product"),
    ("warehouse.stock", "product_variant"),
    ("attribute.assignedproductattributevalue", "product"),
    ("attribute.assignedvariantattribute", "variant"),
    ("attribute.assignedvariantattributevalue", "assignment"),
)


def profile(stream: Iterator[Item]) -> Iterator[Item]:
    """Saleor fixture records -> one canonical record per variant (the whole file is read
    first: see the module docstring)."""
    fixture = _Fixture()
    for item in stream:
        if isinstance(item, RowProblem):
            yield item
            continue
        fixture.add(item)
    channels = sorted(fixture.by_model.get("channel.channel", {}).items(),
                      key=lambda kv: _number(kv[0]))
    default_channel = channels[0][0] if channels else ""
    for product in fixture.products:
        variants = sorted(fixture.variants.get(product.data.get("pk", ""), []),
                          key=lambda v: (_number(v.data.get("sort_order")),
                                         _number(v.data.get("pk"))))
        if not variants:
            yield problem(product, NOT_A_PRODUCT, "a Saleor product without variants cannot "
                          "be sold", product.data.get("slug"))
            continue
        shared = _shared(fixture, product.data, default_channel)
        for variant in variants:
            yield record(variant, _variant(fixture, shared, variant.data, len(variants) > 1,
                                           default_channel))


def _number(text: str | None) -> Decimal:
    return decimal(text) or Decimal(0)


def _shared(fixture: _Fixture, product: dict[str, str], channel: str) -> dict[str, str]:
    pk = product.get("pk", "")
    out: dict[str, str] = {
        "title": product.get("name", ""),
        "slug": product.get("slug", ""),
        "description": first(editorjs_html(_subtree(product, "description")),
                             html.escape(product.get("description_plaintext", ""), False)),
        "product_type": _category_path(fixture, product.get("category", "")),
    }
    listing = next((p for p in fixture.of("product.productchannellisting", pk)
                    if p.get("channel") == channel), None)
    if listing is not None:
        out["published"] = published(truthy(listing.get("is_published")))
    media = sorted(fixture.of("product.productmedia", pk),
                   key=lambda m: (_number(m.get("sort_order")), _number(m.get("pk"))))
    pictures = [first(m.get("image"), m.get("external_url")) for m in media
                if m.get("type", "IMAGE").upper() == "IMAGE"]
    out["image_link"] = first(*pictures)
    out["additional_image_link"] = additional_images(out["image_link"], pictures)
    for assigned in fixture.of("attribute.assignedproductattributevalue", pk):
        _attribute(fixture, out, assigned.get("value", ""))
    return out


def _variant(fixture: _Fixture, shared: dict[str, str], variant: dict[str, str],
             grouped: bool, channel: str) -> dict[str, str]:
    pk = variant.get("pk", "")
    global_id = base64.b64encode(f"ProductVariant:{pk}".encode()).decode("ascii")
    out = dict(shared)
    out["id"] = first(variant.get("sku"), global_id)
    if grouped:
        out["item_group_id"] = shared.get("slug", "")
    options: list[tuple[str, str]] = []
    for assignment in fixture.of("attribute.assignedvariantattribute", pk):
        for assigned in fixture.of("attribute.assignedvariantattributevalue",
                                   assignment.get("pk", "")):
            value = fixture.get("attribute.attributevalue", assigned.get("value", ""))
            attribute = fixture.get("attribute.attribute", value.get("attribute", ""))
            if value.get("name"):
                options.append((first(attribute.get("slug"), attribute.get("name")),
                                value["name"]))
    apply_options(out, options)
    name = variant.get("name", "").strip()
    if name and name != global_id:
        out["variant_title"] = name
    _prices(fixture, out, pk, channel)
    _stock(fixture, out, variant)
    return out


def _prices(fixture: _Fixture, out: dict[str, str], variant_pk: str, channel: str) -> None:
    listings = sorted(fixture.of("product.productvariantchannellisting", variant_pk),
                      key=lambda p: (p.get("channel") != channel, _number(p.get("channel"))))
    for listing in listings:
        currency = listing.get("currency", "").strip().upper()
        price = listing.get("price_amount", "").strip()
        if not currency or not price or f"price_{currency}" in out:
            continue
        out[f"price_{currency}"] = price
        discounted = listing.get("discounted_price_amount", "").strip()
        price_n, discounted_n = decimal(price), decimal(discounted)
        sale = discounted if (price_n is not None and discounted_n is not None
                              and discounted_n < price_n) else ""
        if sale:
            out[f"sale_price_{currency}"] = sale
        if not out.get("price"):
            out["price"], out["currency"], out["sale_price"] = price, currency, sale


def _stock(fixture: _Fixture, out: dict[str, str], variant: dict[str, str]) -> None:
    if truthy(variant.get("is_preorder")):
        out["availability"] = "preorder"
        out["availability_date"] = variant.get("preorder_end_date", "")
        return
    if truthy(variant.get("track_inventory")) is False:
        out["availability"] = "in stock"
        return
    total = Decimal(0)
    for stock in fixture.of("warehouse.stock", variant.get("pk", "")):
        total += _number(stock.get("quantity")) - _number(stock.get("quantity_allocated"))
    out["quantity"] = str(max(total, Decimal(0)))


def _attribute(fixture: _Fixture, out: dict[str, str], value_pk: str) -> None:
    """A product attribute value into ``brand``/``material``/...; several values of one
    attribute are joined with ``/`` (``Cotton/Polyester``)."""
    value = fixture.get("attribute.attributevalue", value_pk)
    attribute = fixture.get("attribute.attribute", value.get("attribute", ""))
    name = value.get("name", "").strip()
    slug = first(attribute.get("slug"), attribute.get("name")).lower()
    target = "brand" if slug == "brand" else option_attribute(slug)
    if target and name:
        out[target] = f"{out[target]}/{name}" if out.get(target) else name


def _category_path(fixture: _Fixture, pk: str) -> str:
    names: list[str] = []
    seen: set[str] = set()
    while pk and pk not in seen:
        seen.add(pk)
        category = fixture.get("product.category", pk)
        if not category:
            break
        names.append(category.get("name", ""))
        pk = category.get("parent", "")
    return " > ".join(reversed([n for n in names if n]))


def _subtree(fields: dict[str, str], name: str) -> Any:
    """Rebuild the JSON value the reader flattened under ``name`` (dot keys, list indexes)."""
    prefix = name + "."
    if name in fields and fields[name].strip().startswith("{"):
        try:  # older Saleor versions store the Editor.js document as a JSON string
            return json.loads(fields[name])
        except ValueError:
            return None
    root: dict[str, Any] = {}
    for key, value in fields.items():
        if not key.startswith(prefix):
            continue
        node = root
        parts = key[len(prefix):].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def editorjs_html(document: Any) -> str:
    """An Editor.js document (``{"blocks": [...]}``) as HTML; ``""`` when it has no text.

    The text of Editor.js blocks is already HTML (``Launch <b>new markets</b>``), so it is
    kept as it is; code blocks are escaped. Unknown blocks contribute their ``text``.

    >>> editorjs_html({"blocks": [{"type": "header", "data": {"text": "Hi", "level": 2}}]})
    '<h2>Hi</h2>'
    """
    if not isinstance(document, dict):
        return ""
    blocks = document.get("blocks")
    if not isinstance(blocks, list):
        return ""
    parts = [_block(b) for b in blocks if isinstance(b, dict)]
    return "\n".join(p for p in parts if p)


def _block(block: dict[str, Any]) -> str:
    kind = str(block.get("type", ""))
    data = block.get("data")
    if not isinstance(data, dict):
        return ""
    text = _text(data.get("text"))
    if kind == "header":
        level = str(data.get("level", "2"))
        level = level if level in "123456" and len(level) == 1 else "2"
        return f"<h{level}>{text}</h{level}>" if text else ""
    if kind == "list":
        tag = "ol" if str(data.get("style", "")) == "ordered" else "ul"
        items = _list_items(data.get("items"))
        return f"<{tag}>{''.join(f'<li>{i}</li>' for i in items)}</{tag}>" if items else ""
    if kind == "quote":
        return f"<blockquote>{text}</blockquote>" if text else ""
    if kind == "code":
        code = _text(data.get("code"))
        return f"<pre>{html.escape(code, False)}</pre>" if code else ""
    if kind == "table":
        rows = data.get("content")
        if not isinstance(rows, list):
            return ""
        cells = ["<tr>" + "".join(f"<td>{_text(c)}</td>" for c in r) + "</tr>"
                 for r in rows if isinstance(r, list)]
        return f"<table>{''.join(cells)}</table>" if cells else ""
    return f"<p>{text}</p>" if text else ""


def _list_items(items: Any) -> list[str]:
    """List items: strings, or (nested lists) objects with ``content`` and ``items``. A list
    of strings reaches the profile joined with commas by the JSON reader; it is split back
    on the commas, so an item that holds a comma is split too."""
    if isinstance(items, str):
        return [part.strip() for part in items.split(",") if part.strip()]
    if not isinstance(items, list):
        return []
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            content = _text(item.get("content"))
            nested = _list_items(item.get("items"))
            if nested:
                content += "<ul>" + "".join(f"<li>{n}</li>" for n in nested) + "</ul>"
            if content:
                out.append(content)
        elif _text(item):
            out.append(_text(item))
    return out


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
