"""PrestaShop installer fixtures as catalogs: products joined with their texts, combinations
joined with their products, language files refused, and no entities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import feedsync
from feedsync.config import parse_config
from feedsync.errors import CatalogError
from feedsync.model import Record, RowProblem
from feedsync.sources import SourceOptions, open_catalog

DATA = Path("/work/shared/data")
FIXTURE = DATA / "prestashop" / "fixtures-fashion"
CANARY = "CANARY-ps-81c2-secret-file-content"
needs_data = pytest.mark.skipif(not FIXTURE.is_dir(), reason="../shared/data is not available")


def products_xml(*rows: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<entity_product>\n'
            '  <fields id="name" class="Product">\n    <field name="price"/>\n  </fields>\n'
            "  <entities>\n" + "".join(f"    {row}\n" for row in rows)
            + "  </entities>\n</entity_product>\n")


def product(row_id: str, **values: str) -> str:
    base = {"reference": f"ref_{row_id}", "price": "10.000000", "ean13": "", "upc": "",
            "quantity": "0", "active": "1", "available_for_order": "1",
            "available_date": "0000-00-00", "condition": "new", "product_type": "standard",
            "weight": "0.000000", "id_manufacturer": "Acme", "id_category_default": "Home"}
    base.update(values)
    attributes = " ".join(f'{k}="{v}"' for k, v in base.items())
    return f'<product id="{row_id}" {attributes}><unity/><location/></product>'


def combinations_xml(*rows: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<entity_product_attribute>\n'
            '  <fields class="Combination">\n    <field name="id_product" relation="product"/>\n'
            "  </fields>\n  <entities>\n" + "".join(f"    {row}\n" for row in rows)
            + "  </entities>\n</entity_product_attribute>\n")


def combination(row_id: str, product_id: str, **values: str) -> str:
    base = {"reference": "", "ean13": "", "upc": "", "price": "0.000000", "quantity": "5",
            "weight": "0.000000", "available_date": "0000-00-00"}
    base.update(values)
    attributes = " ".join(f'{k}="{v}"' for k, v in base.items())
    return f'<product_attribute id="{row_id}" id_product="{product_id}" {attributes}/>'


def texts_xml(*rows: tuple[str, str, str, str]) -> str:
    body = "".join(
        f'  <product id="{row_id}" id_shop="1">\n    <description>{description}</description>\n'
        f"    <description_short>{short}</description_short>\n"
        f"    <link_rewrite>{row_id.lower()}</link_rewrite>\n    <name>{name}</name>\n"
        "  </product>\n" for row_id, name, description, short in rows)
    return f'<?xml version="1.0"?>\n<entity_product>\n{body}</entity_product>\n'


def fixture(tmp_path: Path, products: str | None = None, combinations: str | None = None,
            texts: str | None = None, lang: str = "en") -> Path:
    root = tmp_path / "fixtures" / "demo"
    (root / "data").mkdir(parents=True)
    if products is not None:
        (root / "data" / "product.xml").write_text(products, encoding="utf-8")
    if combinations is not None:
        (root / "data" / "product_attribute.xml").write_text(combinations, encoding="utf-8")
    if texts is not None:
        (root / "langs" / lang / "data").mkdir(parents=True)
        (root / "langs" / lang / "data" / "product.xml").write_text(texts, encoding="utf-8")
    return root


def read(path: Path, **options: Any) -> list[Record]:
    items = list(open_catalog(path, SourceOptions(**options)).records())
    assert not any(isinstance(i, RowProblem) for i in items)
    return [i for i in items if isinstance(i, Record)]


# --- the real fixtures -------------------------------------------------------------------

@needs_data
def test_the_fashion_products() -> None:
    source = open_catalog(FIXTURE / "data" / "product.xml")
    assert source.format == "prestashop-xml"
    found = read(FIXTURE / "data" / "product.xml")
    assert len(found) == 19  # the README's count
    by_id = {r.data["id"]: r for r in found}
    assert len(by_id) == 19
    tee = by_id["Hummingbird_printed_t-shirt"]
    assert tee.line == 48
    assert tee.data == {
        "id": "Hummingbird_printed_t-shirt", "product_id": "Hummingbird_printed_t-shirt",
        "title": "Hummingbird printed t-shirt",
        "description": tee.data["description"],
        "link_rewrite": "hummingbird-printed-t-shirt",
        "price": "23.900000", "mpn": "demo_1", "quantity": "0", "condition": "new",
        "ps_product_type": "combinations", "weight": "0.300000",
        "manufacturer_key": "Studio_Design", "category_key": "Men", "published": "true",
    }  # ean13/upc empty: no gtin; available_date 0000-00-00: none
    assert tee.data["description"].startswith("<p>Symbol of lightness")  # HTML unescaped
    assert {r.data["ps_product_type"] for r in found} == {
        "standard", "combinations", "virtual", "pack"}
    assert by_id["Pack_Mug_Framed_poster"].data["ps_product_type"] == "pack"
    assert not any("\r" in value for r in found for value in r.data.values())


@needs_data
def test_the_fashion_combinations() -> None:
    found = read(FIXTURE / "data" / "product_attribute.xml")
    assert len(found) == 39  # the README's count
    assert len({r.data["id"] for r in found}) == 39  # their references repeat; ids do not
    by_id = {r.data["id"]: r.data for r in found}
    poster = by_id["product_attribute_72"]
    assert poster["item_group_id"] == "The_best_is_yet_to_come_Framed_poster"
    assert poster["price"] == "79.000000"  # 29.000000 + an impact of 50.000000
    assert poster["title"] == "The best is yet to come' Framed poster"
    assert (poster["mpn"], poster["quantity"]) == ("demo_6", "0")
    assert "gtin" not in poster
    tee = by_id["product_attribute_46"]
    assert (tee["price"], tee["quantity"], tee["item_group_id"]) == (
        "23.900000", "300", "Hummingbird_printed_t-shirt")


@needs_data
@pytest.mark.parametrize("lang", ["en", "fr", "fa"])
def test_language_files_are_refused_with_a_tip(lang: str) -> None:
    path = FIXTURE / "langs" / lang / "data" / "product.xml"
    assert open_catalog(path).format == "prestashop-xml"
    with pytest.raises(CatalogError) as err:
        read(path)
    assert err.value.file == str(path)
    assert err.value.line == 3
    assert "not a catalog on its own" in err.value.message
    assert "data/product.xml" in (err.value.tip or "")


@needs_data
@pytest.mark.parametrize(("name", "count"), [("product.xml", 19),
                                             ("product_attribute.xml", 39)])
def test_the_fixtures_build_into_google(tmp_path: Path, name: str, count: int) -> None:
    config = parse_config({"defaults": {"currency": "EUR"}, "channels": {"google": {
        "overrides": {"link": "'https://shop.example.com/' ~ product.link_rewrite"}}}})
    report = feedsync.build(FIXTURE / "data" / name, ["google"], tmp_path / "out", config)
    assert report.catalog_format == "prestashop-xml"
    assert report.products_read == count
    (google,) = report.channels
    # The fixtures hold no image URLs (the installer copies image files): every product
    # is rejected for that, and for nothing else.
    assert google.rejected == count
    assert {f"{c.code}:{c.field}" for c in google.codes.values() if c.severity == "error"} \
        == {"missing-required:image_link"}


# --- joins and mapping on small fixtures ---------------------------------------------------

def test_texts_are_joined_and_dates_checked(tmp_path: Path) -> None:
    root = fixture(
        tmp_path,
        products=products_xml(
            product("Mug", price="11.900000", ean13="4006381333931", available_date="2030-01-31",
                    product_type="virtual", weight="0.500000"),
            product("Hidden", active="0", available_for_order="0", reference="H-1")),
        texts=texts_xml(
            ("Mug", "A mug", "", "&lt;p&gt;Short&lt;/p&gt;&#xD;\n&lt;p&gt;x&lt;/p&gt;")))
    mug, hidden = read(root / "data" / "product.xml")
    assert mug.data == {
        "id": "Mug", "product_id": "Mug", "title": "A mug",
        "description": "<p>Short</p>\n<p>x</p>", "link_rewrite": "mug",
        "price": "11.900000", "gtin": "4006381333931", "mpn": "ref_Mug", "quantity": "0",
        "condition": "new", "ps_product_type": "virtual", "available_date": "2030-01-31",
        "weight": "0.500000", "manufacturer_key": "Acme", "category_key": "Home",
        "published": "true",
    }
    assert "title" not in hidden.data  # no text for it in the language file
    assert (hidden.data["published"], hidden.data["availability"]) == ("false", "out_of_stock")
    assert hidden.data["mpn"] == "H-1"


def test_without_the_language_file_products_have_no_texts(tmp_path: Path) -> None:
    root = fixture(tmp_path, products=products_xml(product("Mug")),
                   texts=texts_xml(("Mug", "Une tasse", "&lt;p&gt;x&lt;/p&gt;", "")), lang="fr")
    (mug,) = read(root / "data" / "product.xml")
    assert "title" not in mug.data and "description" not in mug.data  # fr is not read
    assert mug.data["price"] == "10.000000"


def test_combinations_join_their_products(tmp_path: Path) -> None:
    root = fixture(
        tmp_path,
        products=products_xml(product("Tee", price="20.000000", upc="012345678905",
                                      weight="0.300000")),
        combinations=combinations_xml(
            combination("pa_1", "Tee", price="-2.500000", ean13="4006381333931",
                        weight="0.100000", reference="TEE-S"),
            combination("pa_2", "Gone", price="1.000000")),
        texts=texts_xml(("Tee", "A tee", "&lt;p&gt;Soft&lt;/p&gt;", "")))
    small, orphan = read(root / "data" / "product_attribute.xml")
    assert small.data == {
        "id": "pa_1", "item_group_id": "Tee", "product_id": "Tee", "title": "A tee",
        "description": "<p>Soft</p>", "link_rewrite": "tee", "price": "17.500000",
        "gtin": "4006381333931", "mpn": "TEE-S", "quantity": "5", "condition": "new",
        "ps_product_type": "standard", "weight": "0.400000", "manufacturer_key": "Acme",
        "category_key": "Home", "published": "true",
    }
    # Its product is not in product.xml: listed with its own fields (no price, no title).
    assert orphan.data == {"id": "pa_2", "item_group_id": "Gone", "product_id": "Gone",
                           "quantity": "5"}


def test_combinations_without_a_products_file(tmp_path: Path) -> None:
    root = fixture(tmp_path, combinations=combinations_xml(combination("pa_1", "Tee")))
    (only,) = read(root / "data" / "product_attribute.xml")
    assert "price" not in only.data and only.data["item_group_id"] == "Tee"


# --- detection and refusals ------------------------------------------------------------------

def test_detected_by_the_root_element(tmp_path: Path) -> None:
    path = tmp_path / "catalog.txt"
    path.write_text(products_xml(product("A")), encoding="utf-8")
    assert open_catalog(path).format == "prestashop-xml"


def test_other_fixture_entities_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "category.xml"
    path.write_text('<?xml version="1.0"?>\n<entity_category><entities/></entity_category>\n')
    with pytest.raises(CatalogError) as err:
        read(path, format="prestashop-xml")
    assert "not a PrestaShop product fixture" in err.value.message
    assert (err.value.file, err.value.line) == (str(path), 2)


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    text = products_xml(product("A"), '<product id="B" price="1"', product("C"))
    root = fixture(tmp_path, products=text)
    path = root / "data" / "product.xml"
    source = open_catalog(path)
    seen = []
    with pytest.raises(CatalogError) as err:
        for item in source.records():
            seen.append(item)
    assert err.value.file == str(path)
    assert err.value.line == 9  # the unclosed tag on line 8 ends where the next row starts
    assert "malformed XML" in err.value.message
    # Only good items come before the refusal. lxml 6.2 reads ahead: on a file this small
    # the error is found before the first item is handed out.
    assert [r.data["id"] for r in seen if isinstance(r, Record)] in ([], ["A"])


def doctype(canary: Path, root: str) -> str:
    return f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{canary.as_uri()}">]>\n'


def test_external_entity_in_the_products_file_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    text = products_xml(product("A", reference="&xxe;")).replace(
        "<entity_product>", doctype(canary, "entity_product") + "<entity_product>", 1)
    root = fixture(tmp_path, products=text)
    with pytest.raises(CatalogError) as err:
        read(root / "data" / "product.xml")
    assert "DTDs/entities not allowed" in err.value.message
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.to_dict())


def test_external_entity_in_the_joined_language_file_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    texts = texts_xml(("A", "&xxe;", "&xxe;", "")).replace(
        "<entity_product>", doctype(canary, "entity_product") + "<entity_product>", 1)
    root = fixture(tmp_path, products=products_xml(product("A")), texts=texts)
    seen: list[Any] = []
    with pytest.raises(CatalogError) as err:
        for item in open_catalog(root / "data" / "product.xml").records():
            seen.append(item)
    assert seen == []
    assert err.value.file == str(root / "langs" / "en" / "data" / "product.xml")
    assert "DTDs/entities not allowed" in err.value.message
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.to_dict())


def test_entity_bomb_in_the_combinations_file_is_refused(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    text = combinations_xml(combination("pa_1", "A", reference="&l9;")).replace(
        "<entity_product_attribute>",
        f'<!DOCTYPE entity_product_attribute [<!ENTITY l0 "lol">{laughs}]>\n'
        "<entity_product_attribute>", 1)
    root = fixture(tmp_path, combinations=text)
    with pytest.raises(CatalogError) as err:
        read(root / "data" / "product_attribute.xml")
    assert "DTDs/entities not allowed" in err.value.message
