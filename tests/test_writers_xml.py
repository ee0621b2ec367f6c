"""The streaming RSS writer, parsed back with lxml (A3, A10 at the writer level)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsync.errors import TemplateError
from feedsync.writers import WRITERS, Column, Layout
from feedsync.writers.rss import RssWriter, escape_text
from tests.helpers import G_NS, G

LAYOUT = Layout(
    columns=(
        Column("id", "id"),
        Column("title", "title"),
        Column("additional_image_link", "additional_image_link", multi=True),
        Column("shipping", "shipping", multi=True, children=("country", "region", "service",
                                                               "price")),
        Column("empty", "empty"),
    ),
    options={"prefix": "g", "namespace": G_NS,
             "channel": {"title": "Shop & Co <best>", "link": "https://shop.example.com/"}},
)
XML_ILLEGAL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff",
                                                                         "\ud800", "\udfff"]


def _render(items: list[dict[str, Any]], layout: Layout = LAYOUT) -> bytes:
    handle = io.BytesIO()
    writer = WRITERS["rss"](layout)
    writer.start(handle)
    for item in items:
        writer.write(item)
    writer.finish()
    return handle.getvalue()


def _item(**values: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "1", "title": "", "additional_image_link": [],
                            "shipping": [], "empty": ""}
    item.update(values)
    return item


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def test_namespace_is_declared_once_on_rss() -> None:
    data = _render([_item(id="a", title="A"), _item(id="b", title="B")])
    root = _parse(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert root.nsmap == {"g": G_NS}
    assert data.count(b"xmlns:g=") == 1
    for element in root.iter():
        if element is not root:
            assert element.nsmap == {"g": G_NS}  # inherited, never redeclared
    assert [i.findtext(G + "id") for i in root.iter("item")] == ["a", "b"]
    assert root.findtext("channel/title") == "Shop & Co <best>"
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_empty_feed_is_well_formed() -> None:
    root = _parse(_render([]))
    assert root.find("channel") is not None and list(root.iter("item")) == []


@pytest.mark.parametrize("text", [
    "Tom & Jerry <b>\"Deluxe\"</b> Mug – 350 ml",
    "5 < 6 & 7 > 3",
    "]]> <![CDATA[ x ]]>",
    "line one\nline two\r\nline three\rend",
    "tab\there",
    "&amp; stays &amp;",
    "Café Ünion 😀 чайник 急須",
    "{{ 7*7 }} {% raw %}",
    "'single' \"double\"",
    "  leading and trailing spaces  ",
])
def test_text_round_trips_exactly(text: str) -> None:
    root = _parse(_render([_item(title=text)]))
    assert root.find("channel/item").findtext(G + "title") == text


@pytest.mark.parametrize("char", XML_ILLEGAL)
def test_characters_xml_cannot_carry_are_dropped_never_written(char: str) -> None:
    data = _render([_item(title=f"a{char}b", shipping=[f"U{char}S::Std:1.00 USD"])])
    root = _parse(data)  # parses: the writer is the last line of defence
    item = root.find("channel/item")
    assert item.findtext(G + "title") == "ab"
    assert item.find(G + "shipping").findtext(G + "country") == "US"


def test_multi_values_repeat_the_element() -> None:
    root = _parse(_render([_item(additional_image_link=["https://a/1.jpg", "https://a/2.jpg"])]))
    links = root.find("channel/item").findall(G + "additional_image_link")
    assert [e.text for e in links] == ["https://a/1.jpg", "https://a/2.jpg"]


def test_children_become_sub_elements_and_empty_parts_are_left_out() -> None:
    root = _parse(_render([_item(shipping=["US:CA:Express:16.00 USD", "CA::Standard:9.95 USD"])]))
    shipping = root.find("channel/item").findall(G + "shipping")
    assert len(shipping) == 2
    first = {child.tag.replace(G, ""): child.text for child in shipping[0]}
    second = {child.tag.replace(G, ""): child.text for child in shipping[1]}
    assert first == {"country": "US", "region": "CA", "service": "Express", "price": "16.00 USD"}
    assert second == {"country": "CA", "service": "Standard", "price": "9.95 USD"}


def test_empty_values_are_left_out() -> None:
    item = _parse(_render([_item(title="")])).find("channel/item")
    assert item.find(G + "title") is None and item.find(G + "empty") is None
    assert item.find(G + "additional_image_link") is None


@pytest.mark.parametrize("name", ["xmlthing", "1abc", "a b", "a<b", "", "g:x"])
def test_element_names_are_checked_when_the_writer_is_made(name: str) -> None:
    with pytest.raises(TemplateError):
        RssWriter(Layout(columns=(Column("x", name),)))


def test_bad_prefix_and_channel_meta_names_are_refused() -> None:
    with pytest.raises(TemplateError):
        RssWriter(Layout(columns=(), options={"prefix": "x y"}))
    with pytest.raises(TemplateError):
        RssWriter(Layout(columns=(), options={"channel": {"bad name": "x"}}))


def test_escape_text_keeps_carriage_returns_as_references() -> None:
    assert escape_text("a\rb") == "a&#13;b"
    assert escape_text("<&>") == "&lt;&amp;&gt;"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=())))
def test_any_text_parses_and_round_trips_minus_illegal_characters(text: str) -> None:
    root = _parse(_render([_item(title=text, id=text or "x")]))
    expected = "".join(c for c in text if c not in XML_ILLEGAL
                       and not 0xD800 <= ord(c) <= 0xDFFF)
    assert (root.find("channel/item").findtext(G + "title") or "") == expected
