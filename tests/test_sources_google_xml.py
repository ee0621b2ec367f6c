"""Google XML feeds as input: RSS and Atom mapping, flat memory, and no entities (E3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog
from feedsync.sources.google_xml_source import GoogleXmlSource

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
DATA = Path("/work/shared/data")
G = 'xmlns:g="http://base.google.com/ns/1.0"'
CANARY = "CANARY-7f3a-secret-file-content"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not available")


def read(path: Path, **options: str) -> list[Record]:
    items = list(open_catalog(path, SourceOptions(**options)).records())  # type: ignore[arg-type]
    assert all(isinstance(i, Record) for i in items)
    return [i for i in items if isinstance(i, Record)]


def refused(path: Path) -> CatalogError:
    with pytest.raises(CatalogError) as err:
        read(path)
    assert err.value.file == str(path)
    return err.value


# --- mapping ------------------------------------------------------------------------------

def test_rss_mapping_nested_and_repeated_elements() -> None:
    first, second = read(FIXTURES / "rss-shipping-tax.xml")
    assert first.line == 5
    assert first.data == {
        "id": "A1",
        "title": "G title wins",
        "link": "https://shop.example/a1",
        "description": "<p>5 &lt; 6</p>",
        "product_type": "Home > Decor,Gifts",
        "shipping": "US:CA:Ground:5.00 USD,US:10001::7.00 USD",
        "tax": "US:NY:8.875:yes",
        "installment": "6:10.00 USD",
        "availability": "in stock",
        "gtin": "00012345678905",
    }
    assert (second.line, second.data) == (21, {"id": "A2", "title": "Second"})


def test_atom_link_href_and_summary() -> None:
    (entry,) = read(FIXTURES / "atom-links.xml")
    assert entry.data == {"id": "E1", "title": "Atom title", "link": "https://shop.example/p/1",
                          "description": "Atom summary"}


def test_utf16_feed() -> None:
    (item,) = read(FIXTURES / "utf16-feed.xml")
    assert item.data == {"id": "U1", "title": "Café"}


@needs_data
def test_real_atom_feed_pallmann() -> None:
    path = DATA / "google-feed-pallmann-store" / "google-merchant-feed.xml"
    records = read(path)
    assert len(records) == 305
    assert len({r.data["id"] for r in records}) == 305
    first = records[0]
    assert first.line == 7
    assert first.data["shipping"] == "FR::Standard:9.90 EUR"
    assert first.data["availability"] == "in_stock"
    assert first.data["mpn"] == "041060"
    assert first.data["title"].startswith("Disque Ø150")
    starts = [n for n, line in enumerate(path.read_text().splitlines(), start=1)
              if line.strip() == "<entry>"]
    assert [r.line for r in records] == starts


@needs_data
def test_real_rss_feed_atomra_with_repeated_images() -> None:
    records = read(DATA / "google-feed-atomra-home-romania" / "google-merchant-feed.xml")
    assert len(records) == 7
    counts = [len(r.data["additional_image_link"].split(",")) for r in records
              if r.data.get("additional_image_link")]
    assert sum(counts) == 26
    assert max(counts) == 9
    first = records[0].data
    assert first["title"].startswith('Ceara de nisip "Granule Box"')
    assert first["availability"] == "in stock"
    assert first["google_product_category"] == "Home & Garden > Decor > Candles"
    assert first["link"].startswith("https://")


@needs_data
@pytest.mark.parametrize("name", [
    "prestashop/fixtures-fashion/data/product.xml",
    "woocommerce/sample_products.xml",
])
def test_xml_that_is_not_a_google_feed_is_refused_with_a_tip(name: str) -> None:
    # Sniffed, these have readers of their own (prestashop-xml, wxr); forced, the Google
    # reader still refuses them.
    with pytest.raises(CatalogError) as err:
        read(DATA / name, format="google-xml")
    assert err.value.file == str(DATA / name) and err.value.tip


@pytest.mark.parametrize("name", ["not-a-google-feed.xml", "rss-without-g-namespace.xml"])
def test_fixture_xml_that_is_not_a_google_feed(name: str) -> None:
    assert "not a Google product feed" in refused(FIXTURES / name).message


# --- malformed ----------------------------------------------------------------------------

def test_malformed_xml_names_file_and_line_after_the_good_items() -> None:
    source = open_catalog(FIXTURES / "malformed.xml")
    seen = []
    with pytest.raises(CatalogError) as err:
        for item in source.records():
            seen.append(item)
    assert err.value.line == 5
    assert err.value.file == str(FIXTURES / "malformed.xml")
    # Only good items come before the refusal. lxml 6.2 reads ahead: on a file this small
    # the error is found before the first item is handed out.
    assert [r.data["id"] for r in seen if isinstance(r, Record)] in ([], ["1"])


def test_truncated_xml_is_fatal() -> None:
    assert refused(FIXTURES / "truncated.xml").line == 5


# --- E3: DTDs, external entities and entity bombs -------------------------------------------

def xxe_feed(tmp_path: Path, prolog_padding: str = "") -> Path:
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n{prolog_padding}'
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{canary.as_uri()}">]>\n'
        f'<rss version="2.0" {G}><channel><item><g:id>&xxe;</g:id><title>&xxe;</title>'
        "</item></channel></rss>\n")
    return path


@pytest.mark.parametrize("padding", ["", "<!-- " + "p" * 70_000 + " -->\n"])
def test_external_entity_is_refused_and_the_canary_never_appears(
    tmp_path: Path, padding: str
) -> None:
    # With padding the DOCTYPE sits past the first 64 KiB: lxml's docinfo check catches it.
    path = xxe_feed(tmp_path, padding)
    source = open_catalog(path)
    seen: list[Any] = []
    with pytest.raises(CatalogError) as err:
        for item in source.records():
            seen.append(item)
    assert seen == []
    assert "DTDs/entities not allowed" in err.value.message
    assert err.value.file == str(path)
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.to_dict())


def test_xxe_through_the_cli_shaped_subprocess_leaks_nothing(tmp_path: Path) -> None:
    path = xxe_feed(tmp_path)
    code = ("import sys\nfrom feedsync.sources import open_catalog\n"
            "from feedsync.errors import CatalogError\n"
            f"try:\n    print(list(open_catalog({str(path)!r}).records()))\n"
            "except CatalogError as e:\n    print('Error:', e, e.tip)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "DTDs/entities not allowed" in done.stdout
    assert CANARY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_billion_laughs_is_refused() -> None:
    error = refused(FIXTURES / "billion-laughs.xml")
    assert "DTDs/entities not allowed" in error.message
    assert error.tip


def test_entity_bomb_in_a_root_attribute_after_a_long_prolog(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!-- ' + "p" * 70_000 + ' -->\n'
                    f'<!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>\n'
                    f'<rss version="&l9;" {G}><channel></channel></rss>\n')
    assert "DTDs/entities not allowed" in refused(path).message


def test_a_plain_doctype_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "doctype.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rss>\n<rss {G}><channel/></rss>\n')
    assert refused(path).line == 2


def test_doctype_text_inside_cdata_is_data_not_a_dtd(tmp_path: Path) -> None:
    path = tmp_path / "cdata.xml"
    path.write_text(f'<rss {G}><channel><item><g:id>1</g:id>'
                    "<g:description><![CDATA[<!DOCTYPE html><p>x</p>]]></g:description>"
                    "</item></channel></rss>")
    (item,) = read(path)
    assert item.data["description"] == "<!DOCTYPE html><p>x</p>"


# --- memory ---------------------------------------------------------------------------------

def test_items_are_released_as_they_are_yielded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.xml"
    items = "".join(f"<item><g:id>{n}</g:id><g:title>t{n}</g:title></item>\n"
                    for n in range(2000))
    path.write_text(f'<rss version="2.0" {G}><channel><title>x</title>\n{items}</channel></rss>')
    before: list[int] = []  # elements still kept before the item being read
    original = GoogleXmlSource._record

    def spy(self: GoogleXmlSource, item: Any) -> tuple[Record, bool]:
        before.append(item.getparent().index(item))
        return original(self, item)

    monkeypatch.setattr(GoogleXmlSource, "_record", spy)
    records = read(path)
    assert len(records) == 2000
    # At most one element (the channel's <title>, then the cleared previous item) precedes
    # the item being read: everything older is freed. (iterparse parses a buffer ahead,
    # so later siblings exist: that is bounded by the buffer.)
    assert max(before) == 1


def test_no_row_problems_from_xml() -> None:
    items = list(open_catalog(FIXTURES / "rss-shipping-tax.xml").records())
    assert not any(isinstance(i, RowProblem) for i in items)
