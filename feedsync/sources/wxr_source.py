"""WordPress eXtended RSS (WXR) exports of a WooCommerce shop (Tools > Export > Products).

A WXR file is RSS 2.0 whose root declares the WordPress export namespace
(``xmlns:wp="http://wordpress.org/export/1.2/"``; 1.0 and 1.1 are read too). Every post is
an ``<item>``: its ``<wp:post_type>`` says what it is, its fields are ``<wp:postmeta>``
key/value pairs, and its taxonomies are ``<category domain="...">`` elements.

The reader maps WooCommerce's data onto canonical attributes itself (the same rules as the
WooCommerce CSV profile, docs/profiles.md), so the records need no profile:

- ``product`` items of type ``simple`` and ``external`` (and any type other than the two
  below) are one product each. ``variable`` products are the parents of their
  ``product_variation`` items: not products themselves; a variable product none of whose
  variations is in the file is reported as ``profile-not-a-product``. ``grouped`` products
  (a set of other products) are always reported so.
- ``product_variation`` items are one product each: ``item_group_id`` = the parent's
  ``id`` (its SKU, else its post id; the ``wp:post_parent`` value when the parent is not
  in the file); ``title``, ``description`` (when the variation has none), ``product_type``,
  ``categories`` and ``tags`` come from the parent, and the parent's images follow the
  variation's own as additional images. ``attribute_pa_color`` = ``red`` becomes
  ``color`` = ``Red`` (the parent's term name for the slug); every value goes into
  ``variant_title`` (``Red / No``); an empty value ("any") is left out.
- ``attachment`` items are the images: their ``wp:attachment_url`` is what the products'
  ``_thumbnail_id`` and ``_product_image_gallery`` (``"32,33"``) refer to.
- Other post types (pages, posts, menu items, orders) are not catalog rows and are skipped.

Mapping: ``id`` = ``_sku``, else ``wp:post_id``; ``title``; ``description`` =
``content:encoded`` (HTML kept), else ``excerpt:encoded``; ``link`` = ``<link>`` (an
external product: ``_product_url``); ``image_link`` = the ``_thumbnail_id`` attachment,
``additional_image_link`` = the ``_product_image_gallery`` ones; ``price`` /
``sale_price`` = ``_regular_price`` / ``_sale_price`` with Google's meaning (a sale price
only when below the regular price; ``_price``, the price paid, when neither is set);
``sale_price_effective_date`` from ``_sale_price_dates_from``/``_to`` (Unix times);
``quantity`` = ``_stock``; ``availability`` from ``_stock_status`` (``instock`` ->
``in_stock``, ``outofstock`` -> ``out_of_stock``, ``onbackorder`` -> ``backorder``);
``gtin`` = ``_global_unique_id`` (WooCommerce 9.2+); ``product_type`` = the first
``product_cat`` category (WXR gives the category's own name, not its path);
``color``/``size``/... from a simple product's single-valued ``pa_*`` attributes. Extras:
``wc_id`` (the post id), ``categories``, ``tags``, ``weight`` (``_weight``, in the shop's
weight unit, which the export does not name), ``published`` (``wp:status`` other than
``publish`` -> false).

Two passes, bounded memory. A WXR file lists attachments *after* the products that use
them, and may list a variation before its parent. So the file is read twice: the first
pass keeps only the attachment id -> URL map (one short string per image) and, per
variable product, the few fields its variations inherit and its number of variations;
the second pass yields the records, one ``<item>`` at a time. Both passes stream (each
item is cleared once read); what is held grows with the number of images and variable
products, not with the descriptions or meta of the catalog, which suits WXR files (a
WordPress export meant for moving a site, not a bulk product feed). ``Record.line`` is the
line of the ``<item>`` start tag.

Safety: as ``google_xml_source``: lxml ``iterparse`` with ``resolve_entities=False,
no_network=True, load_dtd=False, huge_tree=False``, and any DTD is refused before a record
is read. PHP-serialized meta (``_product_attributes``, ``_children``) is never unserialized.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from lxml import etree

from feedsync.model import Record, RowProblem
from feedsync.profiles.common import (
    NOT_A_PRODUCT,
    additional_images,
    apply_options,
    effective_dates,
    first,
    record,
    sale_price_pair,
)
from feedsync.sources.base import Item
from feedsync.sources.google_xml_source import GoogleXmlSource, _release
from feedsync.versions import check_lxml

WP_NS_PATTERN = re.compile(r"^https?://wordpress\.org/export/\d+\.\d+/$")
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_STOCK_STATUS = {"instock": "in_stock", "outofstock": "out_of_stock",
                 "onbackorder": "backorder"}
_NOT_A_WXR_TIP = ("a WordPress export is RSS 2.0 declaring xmlns:wp=\"http://wordpress.org/"
                  "export/1.2/\"; other XML needs another format option")


@dataclass
class _Parent:
    """What a variable product's variations inherit, and how many there are."""

    id: str
    title: str
    description: str
    product_cats: list[str]
    tags: list[str]
    images: list[str]  # attachment ids: the thumbnail, then the gallery
    terms: dict[str, dict[str, str]]  # taxonomy (pa_color) -> slug -> name
    variations: int = 0


@dataclass
class _Index:
    """The first pass: attachment URLs and variable parents (see the module docstring)."""

    images: dict[str, str] = field(default_factory=dict)
    parents: dict[str, _Parent] = field(default_factory=dict)
    variations: dict[str, int] = field(default_factory=dict)  # parent post id -> count


@dataclass
class _Post:
    """One ``<item>`` read into plain values."""

    line: int
    post_id: str
    parent: str
    post_type: str
    status: str
    title: str
    link: str
    content: str
    excerpt: str
    attachment_url: str
    meta: dict[str, list[str]]
    categories: list[tuple[str, str, str]]  # (domain, nicename, name)

    def one(self, key: str) -> str:
        """The first non-empty value of a meta key (``_price`` repeats on variable
        products)."""
        return first(*self.meta.get(key, []))

    def terms(self, domain: str) -> list[str]:
        return [name for d, _, name in self.categories if d == domain and name]

    @property
    def wc_type(self) -> str:
        types = self.terms("product_type")
        return types[0].lower() if types else "simple"


class WxrSource(GoogleXmlSource):
    """A WooCommerce WXR export read as canonical product records.

    Subclasses ``GoogleXmlSource`` for its hardened XML handling only (DTD refusal in the
    prolog and at the root, syntax errors as ``CatalogError`` with the line).
    """

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        check_lxml()
        self._refuse_doctype_in_prolog(fh)
        # The first pass reads its own handle, so the progress bar tracks the second.
        with open(self.path, "rb") as index_fh:
            index = self._index(index_fh)
        try:
            yield from self._records(self._posts(fh), index)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None

    def _parse(self, fh: BinaryIO) -> Any:
        options: dict[str, Any] = {}
        if self.probe.encoding_option:
            options["encoding"] = self.probe.encoding_option
        return etree.iterparse(
            fh, events=("start", "end"), resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True, **options)

    def _posts(self, fh: BinaryIO) -> Iterator[_Post]:
        """Every ``<item>`` of the channel as a ``_Post``, released once read."""
        context = self._parse(fh)
        wp = ""
        for event, elem in context:
            if not wp:
                wp = self._wp_namespace(elem)
                continue
            if event != "end" or elem.tag != "item":
                continue
            yield _post(elem, wp)
            _release(elem)

    def _index(self, fh: BinaryIO) -> _Index:
        index = _Index()
        try:
            for post in self._posts(fh):
                if post.post_type == "attachment":
                    if post.attachment_url:
                        index.images[post.post_id] = post.attachment_url
                elif post.post_type == "product" and post.wc_type == "variable":
                    index.parents[post.post_id] = _parent(post)
                elif post.post_type == "product_variation":
                    index.variations[post.parent] = index.variations.get(post.parent, 0) + 1
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None
        return index

    def _wp_namespace(self, root: Any) -> str:
        """The WordPress export namespace declared on an ``<rss>`` root (refuses a DTD)."""
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise self._dtd_error(root.sourceline)
        if root.tag != "rss":
            raise self.error(
                f"not a WordPress export (WXR): the root element is <{_local(str(root.tag))}>",
                line=root.sourceline, tip=_NOT_A_WXR_TIP)
        for uri in (root.nsmap or {}).values():
            if uri and WP_NS_PATTERN.match(uri):
                return f"{{{uri}}}"
        raise self.error("not a WordPress export (WXR): the <rss> root declares no "
                         "wordpress.org/export namespace", line=root.sourceline,
                         tip=_NOT_A_WXR_TIP)

    def _records(self, posts: Iterator[_Post], index: _Index) -> Iterator[Item]:
        for post in posts:
            origin = Record(self.file, post.line, {})
            if post.post_type == "product":
                yield from self._product(origin, post, index)
            elif post.post_type == "product_variation":
                yield _variation(origin, post, index)

    def _product(self, origin: Record, post: _Post, index: _Index) -> Iterator[Item]:
        kind = post.wc_type
        product_id = first(post.one("_sku"), post.post_id)
        if kind == "grouped":
            yield _problem(origin, "a grouped product is a set of other products, each "
                           "listed on its own item", product_id)
        elif kind == "variable":
            if not index.variations.get(post.post_id):
                yield _problem(origin, "a variable product without variation items cannot "
                               "be sold; export its variations with it", product_id)
        else:
            out = _common(post)
            if kind == "external":
                out["link"] = first(post.one("_product_url"), post.link)
            out["title"] = post.title
            cats = post.terms("product_cat")
            out["product_type"] = cats[0] if cats else ""
            out["categories"] = ", ".join(cats)
            out["tags"] = ", ".join(post.terms("product_tag"))
            thumbnail = _urls([post.one("_thumbnail_id")], index)
            gallery = _urls(_ids(post.one("_product_image_gallery")), index)
            out["image_link"] = first(*thumbnail, *gallery)
            out["additional_image_link"] = additional_images(out["image_link"], gallery)
            apply_options(out, _single_terms(post))
            out.pop("variant_title", None)  # attribute values of a product, not a variant
            yield record(origin, out)


def _post(item: Any, wp: str) -> _Post:
    meta: dict[str, list[str]] = {}
    categories: list[tuple[str, str, str]] = []
    values: dict[str, str] = {}
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == f"{wp}postmeta":
            key = _text(child.find(f"{wp}meta_key"))
            if key:
                meta.setdefault(key, []).append(_text(child.find(f"{wp}meta_value")))
        elif tag == "category":
            categories.append((child.get("domain", ""), child.get("nicename", ""),
                               _text(child)))
        elif tag not in values:
            values[tag] = _text(child)
    return _Post(
        line=item.sourceline or 0,
        post_id=values.get(f"{wp}post_id", ""),
        parent=values.get(f"{wp}post_parent", ""),
        post_type=values.get(f"{wp}post_type", ""),
        status=values.get(f"{wp}status", ""),
        title=values.get("title", ""),
        link=values.get("link", ""),
        content=values.get(f"{{{CONTENT_NS}}}encoded", ""),
        excerpt=values.get(f"{wp[:-1]}excerpt/}}encoded", ""),
        attachment_url=values.get(f"{wp}attachment_url", ""),
        meta=meta,
        categories=categories,
    )


def _parent(post: _Post) -> _Parent:
    terms: dict[str, dict[str, str]] = {}
    for domain, slug, name in post.categories:
        if domain.startswith("pa_") and slug:
            terms.setdefault(domain, {})[slug] = name
    return _Parent(
        id=first(post.one("_sku"), post.post_id),
        title=post.title,
        description=first(post.content, post.excerpt),
        product_cats=post.terms("product_cat"),
        tags=post.terms("product_tag"),
        images=[i for i in [post.one("_thumbnail_id"), *_ids(post.one("_product_image_gallery"))]
                if i],
        terms=terms,
    )


def _common(post: _Post) -> dict[str, str]:
    """The fields a product and a variation read the same way."""
    out: dict[str, str] = {
        "id": first(post.one("_sku"), post.post_id),
        "wc_id": post.post_id,
        "description": first(post.content, post.excerpt),
        "link": post.link,
        "gtin": post.one("_global_unique_id"),
        "quantity": post.one("_stock"),
        "availability": _STOCK_STATUS.get(post.one("_stock_status").lower(), ""),
        "weight": post.one("_weight"),
        "published": "true" if post.status in ("publish", "") else "false",
    }
    regular, sale = post.one("_regular_price"), post.one("_sale_price")
    if sale:
        out["price"], out["sale_price"] = sale_price_pair(sale, regular)
    else:
        out["price"] = first(regular, post.one("_price"))
    if out.get("sale_price"):
        out["sale_price_effective_date"] = effective_dates(
            _date(post.one("_sale_price_dates_from")), _date(post.one("_sale_price_dates_to")))
    return out


def _variation(origin: Record, post: _Post, index: _Index) -> Record:
    out = _common(post)
    parent = index.parents.get(post.parent)
    own = _urls([post.one("_thumbnail_id")], index)
    if parent is None:
        out["item_group_id"] = post.parent if post.parent not in ("", "0") else ""
        out["title"] = post.title
        out["image_link"] = first(*own)
        apply_options(out, _variation_options(post, {}))
        return record(origin, out)
    out["item_group_id"] = parent.id
    out["title"] = first(parent.title, post.title)
    out["description"] = first(out.get("description"), parent.description)
    out["product_type"] = parent.product_cats[0] if parent.product_cats else ""
    out["categories"] = ", ".join(parent.product_cats)
    out["tags"] = ", ".join(parent.tags)
    inherited = _urls(parent.images, index)
    out["image_link"] = first(*own, *inherited)
    out["additional_image_link"] = additional_images(out["image_link"], inherited)
    apply_options(out, _variation_options(post, parent.terms))
    return record(origin, out)


def _variation_options(post: _Post, terms: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """(name, value) of a variation's ``attribute_*`` meta: ``attribute_pa_color`` = ``red``
    -> (``color``, the parent's name for the slug, else the slug)."""
    options: list[tuple[str, str]] = []
    for key, values in post.meta.items():
        if not key.startswith("attribute_"):
            continue
        value = first(*values)
        if not value:
            continue  # "any" value: the variation stands for all of them
        name = key.removeprefix("attribute_")
        if name.startswith("pa_"):
            value = terms.get(name, {}).get(value, value)
            name = name.removeprefix("pa_")
        options.append((name, value))
    return options


def _single_terms(post: _Post) -> list[tuple[str, str]]:
    """(name, value) of each ``pa_*`` attribute with exactly one term on a product."""
    found: dict[str, list[str]] = {}
    for domain, _, name in post.categories:
        if domain.startswith("pa_") and name:
            found.setdefault(domain.removeprefix("pa_"), []).append(name)
    return [(name, values[0]) for name, values in found.items() if len(values) == 1]


def _urls(ids: list[str], index: _Index) -> list[str]:
    return [index.images[i] for i in ids if i in index.images]


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _date(text: str) -> str:
    """A WooCommerce sale date (a Unix time since WooCommerce 3) as ``YYYY-MM-DD HH:MM``
    in UTC; other text is kept as written."""
    value = text.strip()
    if value.isdigit():
        try:
            return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, OSError, ValueError):
            return ""
    return value


def _problem(origin: Record, message: str, product_id: str) -> RowProblem:
    return RowProblem(origin.file, origin.line, NOT_A_PRODUCT, message, product_id or None)


def _text(elem: Any) -> str:
    if elem is None:
        return ""
    return "".join(elem.itertext()).strip()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]

