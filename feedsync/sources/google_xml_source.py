"""Existing Google Merchant feeds as input: RSS 2.0 (``<rss><channel><item>``) and Atom
(``<feed><entry>``) with the ``g:`` namespace ``http://base.google.com/ns/1.0``.

- ``g:x`` gives the canonical key ``x`` (the g: local name IS the canonical name). Plain
  RSS ``title``/``link``/``description`` and Atom ``title``, ``link@href`` (rel alternate),
  ``summary``/``content`` fill ``title``/``link``/``description`` when no ``g:`` element
  gives them. Other elements (``guid``, ``pubDate``, Atom ``id``...) are ignored.
- Repeated elements (``additional_image_link``, ``product_type``, ``shipping``...) are
  joined with ``,`` in document order (empty ones left out).
- Nested ``g:shipping`` becomes Google's text form ``country:region:service:price``, with
  ``:min_handling_time:max_handling_time:min_transit_time:max_transit_time`` when the
  element gives them (answer/6324484: ``US:CA:Overnight:16.00 USD:1:1:2:3``), and
  ``g:tax`` ``country:region:rate:tax_ship`` (region, else postal_code / location_id /
  location_group_name); the children of any other nested element are joined with ``:``
  in document order. Sub-elements outside those layouts are not carried over.
- Text is stripped of surrounding whitespace; values are otherwise kept as given
  (``in stock`` is normalised later by the channel, not here).
- ``Record.line`` is the line of the ``<item>``/``<entry>`` start tag.

Safety: lxml ``iterparse`` with ``resolve_entities=False, no_network=True, load_dtd=False,
huge_tree=False`` (lxml >= 6.1.0, where iterparse got the XXE fix), and any DTD is
refused before a record is read, so external entities and entity bombs never expand.
Memory stays flat: each item is cleared, and the items before it deleted, once yielded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from feedsync.errors import CatalogError
from feedsync.model import Record
from feedsync.sources.base import FileSource, Item
from feedsync.sources.sniff import HEAD_BYTES
from feedsync.versions import check_lxml

G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
_G = f"{{{G_NS}}}"
_A = f"{{{ATOM_NS}}}"
_ATOM_LINK = f"{_A}link"

# root element -> item element
ITEM_TAGS: dict[str, str] = {
    "rss": "item",
    f"{_A}feed": f"{_A}entry",
    "feed": "entry",  # Atom written without its namespace
}
_PLAIN_KEYS: dict[str, str] = {
    "title": "title",
    "link": "link",
    "description": "description",
    f"{_A}title": "title",
    _ATOM_LINK: "link",
    f"{_A}summary": "description",
    f"{_A}content": "description",
}
_REGION = ("region", "postal_code", "location_id", "location_group_name")
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "shipping": (("country",), _REGION, ("service",), ("price",), ("min_handling_time",),
                 ("max_handling_time",), ("min_transit_time",), ("max_transit_time",)),
    "tax": (("country",), _REGION, ("rate",), ("tax_ship",)),
}
_DTD_TIP = "remove the <!DOCTYPE ...> declaration: feeds never need one"
# The prolog ends where the first element starts; a DOCTYPE can only come before it.
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_:]")
_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class GoogleXmlSource(FileSource):
    """A Google Merchant feed (RSS 2.0 or Atom) read back as records."""

    def read(self, fh: BinaryIO) -> Iterator[Item]:
        check_lxml()
        self._refuse_doctype_in_prolog(fh)
        options: dict[str, Any] = {}
        if self.probe.encoding_option:
            options["encoding"] = self.probe.encoding_option
        context = etree.iterparse(
            fh, events=("start", "end"), resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True, **options)
        try:
            yield from self._items(context)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None

    def _items(self, context: Any) -> Iterator[Item]:
        item_tag = ""
        first = True
        for event, elem in context:
            if not item_tag:
                item_tag = self._check_root(elem)
                continue
            if event != "end" or elem.tag != item_tag:
                continue
            record, has_google = self._record(elem)
            if first and not has_google:
                raise self.error(
                    f"not a Google product feed: the first <{_local(item_tag)}> has no g: "
                    "elements", line=record.line,
                    tip=f"a Google feed declares xmlns:g=\"{G_NS}\" and uses g:id, g:price...")
            first = False
            yield record
            _release(elem)

    def _check_root(self, root: Any) -> str:
        """The item tag for this root; refuses any DTD and unknown roots."""
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise self._dtd_error(root.sourceline)
        item_tag = ITEM_TAGS.get(root.tag) if isinstance(root.tag, str) else None
        if item_tag is None:
            raise self.error(
                f"not a Google product feed: the root element is <{_local(str(root.tag))}>",
                line=root.sourceline,
                tip="expected RSS 2.0 (<rss><channel><item>) or Atom (<feed><entry>) with "
                    "g: elements; other XML exports need converting to CSV first")
        return item_tag

    def _record(self, item: Any) -> tuple[Record, bool]:
        google: dict[str, list[str]] = {}
        plain: dict[str, str] = {}
        for child in item:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag.startswith(_G):
                name = tag[len(_G):]
                value = _nested(name, child) if len(child) else (child.text or "").strip()
                google.setdefault(name, []).append(value)
                continue
            key = _PLAIN_KEYS.get(tag)
            if key is None or key in plain:
                continue
            if tag == _ATOM_LINK:
                if child.get("rel", "alternate") != "alternate":
                    continue
                plain[key] = child.get("href", "").strip()
            else:
                plain[key] = "".join(child.itertext()).strip()
        data = {k: v for k, v in plain.items() if k not in google}
        for name, values in google.items():
            data[name] = values[0] if len(values) == 1 else ",".join(v for v in values if v)
        return Record(self.file, item.sourceline or 0, data), bool(google)

    def _refuse_doctype_in_prolog(self, fh: BinaryIO) -> None:
        head = fh.read(HEAD_BYTES)
        fh.seek(0)
        if not self.probe.ascii_compatible:
            text = head.decode(self.probe.encoding, "replace")
            head = text.encode("utf-8", "replace")
        first = _FIRST_ELEMENT.search(head)
        prolog = head[: first.start()] if first else head
        doctype = _DOCTYPE.search(prolog)
        if doctype:
            raise self._dtd_error(prolog.count(b"\n", 0, doctype.start()) + 1)

    def _dtd_error(self, line: int | None) -> CatalogError:
        return self.error("DTDs/entities not allowed in a catalog feed (a DOCTYPE can "
                          "define external or exploding entities)", line=line, tip=_DTD_TIP)

    def _syntax_error(self, exc: etree.XMLSyntaxError) -> CatalogError:
        message = str(getattr(exc, "msg", "") or exc)
        line = exc.lineno or None
        if "entity" in message.lower() and "amplification" in message.lower():
            return self._dtd_error(line)
        known = line and "line" not in message
        where = f" (line {line}, column {exc.position[1]})" if known else ""
        return self.error(f"malformed XML: {message}{where}", line=line,
                          tip="nothing was written; fix or re-export the feed")


def _nested(name: str, elem: Any) -> str:
    """A nested g: element (shipping, tax, ...) as Google's ``a:b:c`` text form."""
    parts = [(_local(child.tag), (child.text or "").strip())
             for child in elem if isinstance(child.tag, str)]
    layout = LAYOUTS.get(name)
    if layout is None:
        return ":".join(text for _, text in parts)
    found = dict(reversed(parts))  # the first of a repeated sub-element wins
    texts = [next((found[k] for k in slot if found.get(k)), "") for slot in layout]
    while len(texts) > 4 and not texts[-1]:  # optional trailing parts (shipping times)
        texts.pop()
    return ":".join(texts)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _release(elem: Any) -> None:
    """Free a finished item and everything before it, so memory does not grow."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
