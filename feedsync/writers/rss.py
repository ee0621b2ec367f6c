"""RSS 2.0 with a namespace for item fields (Google's ``g:``), streamed item by item.

The namespace is declared once, on ``<rss>``. Multi-valued fields repeat their element;
a field with ``children`` (Google's ``shipping``) becomes one element per value with its
``:``-separated parts as sub-elements (``US:CA:Express:16.00 USD`` ->
``<g:country>US</g:country><g:region>CA</g:region>…``); empty parts are left out.

Items are serialised here rather than through lxml elements: building ~30 elements per
product and handing them to ``etree.xmlfile`` cost more than the whole hand-written
reference pipeline (docs/architecture.md has the figures). Well-formedness rests on two
things, both tested with lxml as the parser: every text passes through ``escape_text``,
and characters XML cannot carry were already removed by the validator (and are removed
again here, so no caller can produce an unparseable feed). Element names come from the
channel file and are checked as XML names when the writer is created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, BinaryIO

from feedsync.errors import TemplateError
from feedsync.writers.base import Layout

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def escape_text(text: str) -> str:
    """Escape for element content; CR is kept as a reference so it survives parsing."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _drop_illegal(text: str) -> str:
    """The safety net: one scan of a whole serialised item for what XML cannot carry."""
    return _XML_ILLEGAL.sub("", text) if _XML_ILLEGAL.search(text) else text


def escape_attribute(text: str) -> str:
    text = _drop_illegal(escape_text(text))
    return text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _check_name(name: str) -> str:
    if not _NAME.match(name) or name.lower().startswith("xml"):
        raise TemplateError(f"{name!r} cannot be an XML element name")
    return name


class RssWriter:
    stateless = True
    concatenable = True

    def __init__(self, layout: Layout) -> None:
        options = layout.options
        self.prefix = _check_name(str(options.get("prefix", "g")))
        self.namespace = str(options.get("namespace", "http://base.google.com/ns/1.0"))
        self.channel_meta = {_check_name(str(k)): str(v)
                             for k, v in dict(options.get("channel", {})).items()}
        self.item_tag = _check_name(str(options.get("item", "item")))
        p = self.prefix + ":"
        self._columns = [
            (c.name, p + _check_name(c.header), c.multi,
             tuple(p + _check_name(child) for child in c.children), c.child_separator)
            for c in layout.columns
        ]
        self._handle: BinaryIO | None = None

    def start(self, handle: BinaryIO) -> None:
        self._handle = handle
        head = ['<?xml version="1.0" encoding="UTF-8"?>\n',
                f'<rss version="2.0" xmlns:{self.prefix}="{escape_attribute(self.namespace)}">\n',
                "<channel>\n"]
        head += [f"<{k}>{escape_text(v)}</{k}>\n" for k, v in self.channel_meta.items()]
        handle.write(_drop_illegal("".join(head)).encode("utf-8"))

    def write(self, item: Mapping[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(self.encode(item))

    def write_encoded(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write(data)

    def encode(self, item: Mapping[str, Any]) -> bytes:
        """One ``<item>`` element as UTF-8 bytes."""
        parts = [f"<{self.item_tag}>"]
        add = parts.append
        for name, tag, multi, children, child_sep in self._columns:
            value = item[name]
            if not value:
                continue
            if children:
                for one in value if multi else (value,):
                    add(f"<{tag}>")
                    # The last part keeps any further separators: a structured title's
                    # content may hold a colon ("Stride & Conquer: Shoes").
                    pieces = one.split(child_sep, len(children) - 1)
                    for child, part in zip(children, pieces, strict=False):
                        if part:
                            add(f"<{child}>{escape_text(part)}</{child}>")
                    add(f"</{tag}>")
            elif multi:
                for one in value:
                    add(f"<{tag}>{escape_text(one)}</{tag}>")
            else:
                add(f"<{tag}>{escape_text(value)}</{tag}>")
        add(f"</{self.item_tag}>\n")
        return _drop_illegal("".join(parts)).encode("utf-8")

    def finish(self) -> None:
        assert self._handle is not None
        self._handle.write(b"</channel>\n</rss>\n")
