"""PrestaShop installer fixtures (``install-dev/fixtures/<theme>/``): the demo catalog every
PrestaShop shop starts with, as XML.

A fixture folder holds ``data/<entity>.xml`` (the scalar values) and
``langs/<lang>/data/<entity>.xml`` (the translated texts), joined on the rows' string ``id``::

    <entity_product>
      <fields id="name" class="Product"> <field name="price"/> ... </fields>
      <entities>
        <product id="Hummingbird_printed_t-shirt" price="23.900000" reference="demo_1" .../>
      </entities>
    </entity_product>

Two files are catalogs (format ``prestashop-xml``, detected by the root element):

- **``data/product.xml``** (``<entity_product>``): one product per ``<product>`` row,
  joined with the texts of ``../langs/en/data/product.xml`` (relative to the ``data``
  folder). ``SourceOptions`` has no language setting, so the language is English
  (``LANGUAGE``). Without that file the products are read without texts (no title or
  description: the channel rules then reject them for it). The texts are read whole into
  a dict (id -> a few short strings): a fixture is a few dozen products.
- **``data/product_attribute.xml``** (``<entity_product_attribute>``): one variant per
  ``<product_attribute>`` row (a combination). A combination holds only differences from
  its product (``price`` is an impact), so the products file beside it
  (``data/product.xml``) is read whole into a dict (fixture-sized, as above) and joined on
  ``id_product``; the variant takes the product's fields and texts, with ``price`` =
  product price + impact. Without the products file a combination is listed with its own
  fields only (no price or title). Which attribute values (colour, size) a combination
  has is in ``product_attribute_combination.xml``, which is not read: the variants have
  no ``color``/``size``/``variant_title``.

The language files (``langs/<lang>/data/product.xml``, also ``<entity_product>`` but with
the rows right under the root and texts as child elements) are not catalogs on their
own: they are refused with a ``CatalogError`` whose tip names ``data/product.xml``.

Mapping (products): ``id`` = the row's ``id`` (``Hummingbird_printed_t-shirt``), else its
``reference``; ``title`` = ``name``; ``description`` = ``description``, else
``description_short`` (HTML kept; the fixtures' ``&#xD;`` line ends become ``\\n``);
``price`` = ``price`` as written (``23.900000``: the channel's money filter formats it);
``gtin`` = ``ean13``, else ``upc`` (empty in every fixture row, and left empty); ``mpn`` =
``mpn``, else ``reference``; ``quantity``; ``condition``; ``availability`` ``out_of_stock``
when ``available_for_order`` is 0. Extras: ``product_id`` (the row id), ``link_rewrite``,
``ps_product_type`` (PrestaShop's ``standard``/``combinations``/``virtual``/``pack``; it
is not Google's ``product_type``), ``available_date`` (left empty when it is the invalid
``0000-00-00`` or not a date), ``weight``, ``manufacturer_key`` and ``category_key`` (the
fixture's keys of other entities, ``Studio_Design``, ``Home_Accessories``: not names, so
not ``brand``/``product_type``), ``published`` (``active`` 0 -> false). Combinations: ``id``
= the combination's ``id`` (``product_attribute_46``; their ``reference`` repeats the
product's), ``item_group_id`` and ``product_id`` = ``id_product``, their own ``gtin``,
``quantity``, ``mpn`` (``reference``), ``available_date``, ``weight`` = product weight +
impact. The fixture's product rows hold ``quantity="0"`` (PrestaShop keeps stock in
``stock_available``, not in the data set), so the channels derive ``out_of_stock`` for them.

Safety: as ``google_xml_source`` (lxml ``iterparse`` with ``resolve_entities=False,
no_network=True, load_dtd=False, huge_tree=False``; any DTD refused before a record is
read), for the joined files too. ``Record.line`` is the line of the row's start tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from feedsync.errors import CatalogError
from feedsync.model import Record
from feedsync.profiles.common import decimal, first, published, record, truthy
from feedsync.sources.base import Item, SourceOptions
from feedsync.sources.google_xml_source import GoogleXmlSource, _release
from feedsync.sources.sniff import probe
from feedsync.versions import check_lxml

LANGUAGE = "en"
PRODUCTS = "entity_product"
COMBINATIONS = "entity_product_attribute"
_ROW_TAGS = {PRODUCTS: "product", COMBINATIONS: "product_attribute"}
_TEXTS = ("name", "description", "description_short", "link_rewrite")


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]


class PrestashopXmlSource(GoogleXmlSource):
    """A PrestaShop installer fixture (products or combinations) read as canonical records.

    Subclasses ``GoogleXmlSource`` for its hardened XML handling only (DTD refusal, syntax
    errors as ``CatalogError`` with the line).
    """

    root = ""  # the root element, once the file's first tag was read

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        check_lxml()
        self._refuse_doctype_in_prolog(fh)
        products: dict[str, _Row] | None = None
        texts: dict[str, dict[str, str]] | None = None
        combinations = False
        for row in self.rows(fh, texts=False):
            if texts is None:  # the root was checked: now join the companions
                combinations = self.root == COMBINATIONS
                texts = self._texts()
                products = self._products() if combinations else None
            if combinations:
                yield self._combination(row, products or {}, texts)
            else:
                yield record(Record(self.file, row.line, {}), _product(row.values, texts))

    # --- reading rows ---------------------------------------------------------------

    def rows(self, fh: BinaryIO, texts: bool) -> Iterator[_Row]:
        """The rows of a fixture file (a ``data`` file, or with ``texts`` a language
        file), each released once read."""
        options: dict[str, Any] = {}
        if self.probe.encoding_option:
            options["encoding"] = self.probe.encoding_option
        context = etree.iterparse(
            fh, events=("start", "end"), resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True, **options)
        try:
            yield from self._rows(context, texts)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None

    def _rows(self, context: Any, texts: bool) -> Iterator[_Row]:
        depth = 0
        row_tag = ""
        for event, elem in context:
            if event == "start":
                depth += 1
                if depth == 1:
                    row_tag = self._check_root(elem)
                elif depth == 2 and elem.tag == row_tag and not texts:
                    raise self._language_file(elem.sourceline)
                continue
            depth -= 1
            if elem.tag != row_tag or depth not in (1, 2):
                continue
            values = {str(k): str(v) for k, v in elem.attrib.items()}
            for child in elem:
                if isinstance(child.tag, str):
                    values.setdefault(child.tag, "".join(child.itertext()))
            yield _Row(elem.sourceline or 0, values)
            _release(elem)

    def _check_root(self, root: Any) -> str:
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise self._dtd_error(root.sourceline)
        tag = root.tag if isinstance(root.tag, str) else ""
        if tag not in _ROW_TAGS:
            raise self.error(
                f"not a PrestaShop product fixture: the root element is <{tag}>",
                line=root.sourceline,
                tip="read data/product.xml (<entity_product>) or data/product_attribute.xml "
                    "(<entity_product_attribute>)")
        self.root = tag
        return _ROW_TAGS[tag]

    def _language_file(self, line: int | None) -> CatalogError:
        return self.error(
            "a PrestaShop fixture language file (the translated names and descriptions of "
            "the products, no prices) is not a catalog on its own", line=line,
            tip="read the fixture's data/product.xml instead: it joins these texts "
                f"(langs/{LANGUAGE}/data/product.xml) by product id")

    # --- the joined files -----------------------------------------------------------

    def _texts(self) -> dict[str, dict[str, str]]:
        """id -> texts from ``../langs/<LANGUAGE>/data/product.xml``; empty if missing."""
        path = self.path.parent.parent / "langs" / LANGUAGE / "data" / "product.xml"
        return {row.values.get("id", ""): row.values for row in _companion_rows(path, True)}

    def _products(self) -> dict[str, _Row]:
        """id -> row of ``product.xml`` beside a combinations file; empty if missing."""
        path = self.path.with_name("product.xml")
        return {row.values.get("id", ""): row for row in _companion_rows(path, False)}

    def _combination(self, row: _Row, products: dict[str, _Row],
                     texts: dict[str, dict[str, str]]) -> Record:
        values = row.values
        product_id = values.get("id_product", "").strip()
        base_row = products.get(product_id)
        base = _product(base_row.values, texts) if base_row is not None else {}
        out = dict(base)
        out.pop("gtin", None)
        out["id"] = first(values.get("id"), f"{product_id}-{row.line}")
        out["item_group_id"] = product_id
        out["product_id"] = product_id
        out["gtin"] = first(values.get("ean13"), values.get("upc"))
        out["mpn"] = first(values.get("mpn"), values.get("reference"), base.get("mpn"))
        out["quantity"] = values.get("quantity", "")
        out["price"] = _plus(base.get("price"), values.get("price"))
        out["weight"] = _plus(base.get("weight"), values.get("weight")) or base.get("weight", "")
        out["available_date"] = first(_date(values.get("available_date")),
                                      base.get("available_date"))
        return record(Record(self.file, row.line, {}), out)


def _companion_rows(path: Path, texts: bool) -> Iterator[_Row]:
    """The rows of a joined fixture file, or none when it is not there."""
    if not path.is_file():
        return
    source = PrestashopXmlSource(probe(path, SourceOptions(format="prestashop-xml")))
    if source.probe.empty:
        return
    with open(path, "rb") as fh:
        source._refuse_doctype_in_prolog(fh)
        yield from source.rows(fh, texts=texts)


def _product(values: dict[str, str], texts: dict[str, dict[str, str]]) -> dict[str, str]:
    row_id = values.get("id", "").strip()
    text = {key: _lines(texts.get(row_id, {}).get(key, "")) for key in _TEXTS}
    out: dict[str, str] = {
        "id": first(row_id, values.get("reference")),
        "product_id": row_id,
        "title": text["name"],
        "description": first(text["description"], text["description_short"]),
        "link_rewrite": text["link_rewrite"],
        "price": values.get("price", ""),
        "gtin": first(values.get("ean13"), values.get("upc")),
        "mpn": first(values.get("mpn"), values.get("reference")),
        "quantity": values.get("quantity", ""),
        "condition": values.get("condition", "").strip().lower(),
        "ps_product_type": values.get("product_type", ""),
        "available_date": _date(values.get("available_date")),
        "weight": _nonzero(values.get("weight")),
        "manufacturer_key": values.get("id_manufacturer", ""),
        "category_key": values.get("id_category_default", ""),
        "published": published(truthy(values.get("active"))),
    }
    if truthy(values.get("available_for_order")) is False:
        out["availability"] = "out_of_stock"
    return out


def _lines(text: str) -> str:
    """The fixtures' ``&#xD;`` (a CR before each line break) as plain ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _date(text: str | None) -> str:
    """A ``YYYY-MM-DD`` date, or ``""`` for ``0000-00-00`` and anything not a date."""
    value = (text or "").strip()
    try:
        date.fromisoformat(value)
    except ValueError:
        return ""
    return value


def _nonzero(text: str | None) -> str:
    number = decimal(text)
    return (text or "").strip() if number is not None and number != 0 else ""


def _plus(base: str | None, impact: str | None) -> str:
    """``base`` + ``impact`` with the decimals of the fixture (``23.900000`` + ``20.000000``
    -> ``43.900000``); ``""`` without a base."""
    base_n = decimal(base)
    if base_n is None:
        return ""
    total = base_n + (decimal(impact) or Decimal(0))
    return f"{total:f}"
