"""``catalog:`` mapping (docs/mapping.md): real files on disk, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from feedsync.errors import ExitCode
from tests.helpers import G, error_line, feed_items, invoke_cli, tip_line, write_config

# A padded export with a master row per product and variant rows below it, `|` lists and
# `key:value` facets: the shape issue 10 met.
PADDED = (Path(__file__).parent / "data" / "mapping" / "padded.csv").read_text(
    encoding="utf-8")

CONFIG = '''\
catalog:
  path: {catalog}
  group_by: slug
  fields:
    id: sku
    title: name
    description: name
    link: "'https://shop.example.com/products/' ~ row.slug"
    image_link: "row.assets | split('|') | first"
    additional_image_link: assets
    availability: "'in_stock' if row.stockOnHand | int > 0 else 'out_of_stock'"
    brand: "row.facets | facet('brand')"
    price: "row.price ~ ' USD'"
    condition: "'new'"
  split:
    additional_image_link: "|"
  options: {{names: optionGroups, values: optionValues, separator: "|"}}
  units:
    shipping_weight: {{value: weight, unit: wunit}}
channels:
  google:
    overrides: {{custom_label_0: product.shipping_weight}}   # no shipped channel has one
'''


def _setup(tmp_path: Path, catalog: str = PADDED, config: str = CONFIG) -> Path:
    (tmp_path / "products.csv").write_text(catalog, encoding="utf-8")
    return write_config(tmp_path / "feedsync.yaml", config.format(catalog="products.csv"))


def _build(tmp_path: Path, config: Path) -> tuple[int, dict, str]:
    code, stdout, stderr = invoke_cli("build", "--config", config, "--out", tmp_path / "out",
                                      "--json", cwd=tmp_path)
    return code, json.loads(stdout) if stdout.strip().startswith("{") else {}, stderr


def test_a_padded_master_variant_export_maps_to_a_valid_google_feed(tmp_path: Path) -> None:
    code, report, stderr = _build(tmp_path, _setup(tmp_path))
    assert code == ExitCode.OK, stderr
    items = feed_items(tmp_path / "out" / "google.xml")
    # The price-0 master row is no listing; its two variants and the mug are.
    assert sorted(items) == ["A1-M", "A1-S", "B2"]
    shirt = items["A1-S"]
    assert shirt.findtext(G + "title") == "Blue shirt"          # inherited from the master
    assert shirt.findtext(G + "item_group_id") == "shirt"
    assert shirt.findtext(G + "brand") == "Acme"                # facet('brand'), inherited
    assert shirt.findtext(G + "image_link") == "https://c.example.com/a.jpg"
    assert shirt.findtext(G + "link") == "https://shop.example.com/products/shirt"
    assert shirt.findtext(G + "price") == "19.99 USD"
    assert shirt.findtext(G + "size") == "S"                    # option pair, synonym
    assert shirt.findtext(G + "material") == "cotton"           # fabric -> material
    assert items["A1-M"].findtext(G + "availability") == "out_of_stock"
    assert items["B2"].findtext(G + "item_group_id") is None    # a group of one row
    assert [e.text for e in items["B2"].iter(G + "additional_image_link")] == [
        "https://c.example.com/m.jpg", "https://c.example.com/n.jpg"]
    assert items["B2"].findtext(G + "custom_label_0") == "0.4 kg"
    assert not any("$0" in (e.text or "") or e.text == "0 USD" for e in shirt.iter())
    google = report["channels"]["google"]
    assert google["written"] == 3 and google["rejected"] == 0


def test_trim_false_keeps_the_padding(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("  group_by: slug\n",
                                                    "  group_by: slug\n  trim: false\n"))
    code, report, stderr = _build(tmp_path, config)
    assert code == ExitCode.OK, stderr
    # The variants' padded name cells are not empty, so they inherit no title: rejected.
    google = report["channels"]["google"]
    assert (google["written"], google["rejected"]) == (1, 2)
    assert google["issues"]["missing-required"] == 6  # title, description, image_link
    assert list(feed_items(tmp_path / "out" / "google.xml")) == ["B2"]


def test_a_mapped_column_the_catalog_lacks_is_a_config_error(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("title: name", "title: nmae"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.title" in error_line(stderr) and "'nmae'" in error_line(stderr)
    assert "name" in tip_line(stderr)
    assert not (tmp_path / "out" / "google.xml").exists()


def test_a_column_read_by_an_expression_is_checked_too(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("row.slug", "row.slugg"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.link" in error_line(stderr) and "slug" in tip_line(stderr)


def test_an_expression_that_does_not_compile_names_its_key(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("row.price ~ ' USD'", "row.price ~~ 'x'"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.price" in error_line(stderr)
    assert "does not compile" in error_line(stderr)


def test_an_unknown_filter_names_its_key(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("facet('brand')", "facets('brand')"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.brand" in error_line(stderr)


def test_a_mapping_to_an_unknown_attribute_suggests_close_names(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("title: name", "titel: name"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.titel" in error_line(stderr)
    assert "'title'" in tip_line(stderr)


def test_an_unknown_catalog_key_gets_a_close_match(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("group_by:", "groupby:"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.groupby" in error_line(stderr) and "group_by" in tip_line(stderr)


def test_a_sandbox_escape_in_a_mapping_is_refused(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("row.price ~ ' USD'",
                                                    "row.__class__ ~ ''"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.fields.price" in error_line(stderr)


def test_product_text_is_data_not_a_template(tmp_path: Path) -> None:
    catalog = PADDED.replace("Mug ", "{{ 7*7 }}")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog))
    assert code == ExitCode.OK, stderr
    assert feed_items(tmp_path / "out" / "google.xml")["B2"].findtext(G + "title") == \
        "{{ 7*7 }}"


def test_an_empty_group_key_is_a_row_issue(tmp_path: Path) -> None:
    catalog = PADDED.replace("A1-M ,             ,shirt   ", "A1-M ,             ,        ")
    code, report, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog))
    assert code == ExitCode.OK, stderr
    problems = [json.loads(line) for line in
                (tmp_path / "out" / "catalog.issues.jsonl").read_text().splitlines()]
    assert [(p["code"], p["line"]) for p in problems if p["code"] == "group-key-empty"] == \
        [("group-key-empty", 4)]
    assert "A1-M" not in feed_items(tmp_path / "out" / "google.xml")


def test_group_empty_continue_puts_a_keyless_row_in_the_group_above(tmp_path: Path) -> None:
    """Exports that write the key on the master row only (Vendure): the variant rows below
    it carry an empty key and still belong to that master."""
    catalog = PADDED.replace("A1-M ,             ,shirt   ", "A1-M ,             ,        ")
    config = CONFIG.replace("  group_by: slug\n", "  group_by: slug\n  group_empty: continue\n")
    code, report, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog, config=config))
    assert code == ExitCode.OK, stderr
    items = feed_items(tmp_path / "out" / "google.xml")
    assert items["A1-M"].findtext(G + "item_group_id") == "shirt"
    assert items["A1-M"].findtext(G + "title") == items["A1-S"].findtext(G + "title") == \
        "Blue shirt"
    assert "A1" not in items  # the price-0 master is still dropped


def test_group_empty_continue_cannot_start_a_group(tmp_path: Path) -> None:
    # A keyless first row has no group above it: still a row issue, not a guess.
    lines = PADDED.splitlines(keepends=True)
    catalog = lines[0] + lines[1].replace(",shirt   ,", ",        ,", 1) + "".join(lines[2:])
    config = CONFIG.replace("  group_by: slug\n", "  group_by: slug\n  group_empty: continue\n")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog, config=config))
    assert code == ExitCode.OK, stderr
    problems = [json.loads(line) for line in
                (tmp_path / "out" / "catalog.issues.jsonl").read_text().splitlines()]
    assert [(p["code"], p["line"]) for p in problems if p["code"] == "group-key-empty"] == \
        [("group-key-empty", 2)]


def test_group_empty_takes_skip_or_continue_and_needs_group_by(tmp_path: Path) -> None:
    bad = CONFIG.replace("  group_by: slug\n", "  group_by: slug\n  group_empty: inherit\n")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, config=bad))
    assert code == ExitCode.USAGE and "catalog.group_empty" in error_line(stderr)
    alone = CONFIG.replace("  group_by: slug\n", "  group_empty: continue\n")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, config=alone))
    assert code == ExitCode.USAGE and "needs group_by" in error_line(stderr)


def test_a_group_key_empty_on_every_row_is_a_config_error(tmp_path: Path) -> None:
    config = _setup(tmp_path, config=CONFIG.replace("group_by: slug", "group_by: optionGroups")
                    .replace("  options: {names: optionGroups, values: optionValues, "
                             "separator: \"|\"}\n", ""))
    catalog = PADDED.replace("Size|Fabric", "           ")
    (tmp_path / "products.csv").write_text(catalog, encoding="utf-8")
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.USAGE
    assert "catalog.group_by" in error_line(stderr) and "every row" in error_line(stderr)
    assert not (tmp_path / "out" / "google.xml").exists()


def test_a_group_seen_again_later_is_reported_not_buffered(tmp_path: Path) -> None:
    catalog = PADDED + "A1-L ,             ,shirt   ,             ,3          ,   ,19.99 ,,,,\n"
    code, _, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog))
    assert code == ExitCode.OK, stderr
    problems = [json.loads(line) for line in
                (tmp_path / "out" / "catalog.issues.jsonl").read_text().splitlines()]
    assert [(p["code"], p["line"]) for p in problems if p["code"] == "group-not-adjacent"] == \
        [("group-not-adjacent", 6)]
    assert "began at line 2" in next(p["message"] for p in problems
                                     if p["code"] == "group-not-adjacent")
    assert "A1-L" not in feed_items(tmp_path / "out" / "google.xml")


def test_option_name_value_columns_are_read_without_config(tmp_path: Path) -> None:
    catalog = ("sku,name,url,img,price,option1_name,option1_value,option2_name,option2_value\n"
               "X1,Tee,https://s.example.com/x,https://c.example.com/x.jpg,9.00 USD,"
               "Colour,Red,Pattern,Striped\n")
    config = ("catalog:\n  path: products.csv\n  fields:\n    id: sku\n    title: name\n"
              "    description: name\n    link: url\n    image_link: img\n"
              "    availability: \"'in_stock'\"\nchannels: [google]\n")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog, config=config))
    assert code == ExitCode.OK, stderr
    item = feed_items(tmp_path / "out" / "google.xml")["X1"]
    assert item.findtext(G + "color") == "Red" and item.findtext(G + "pattern") == "Striped"


def test_canonical_catalogs_need_no_mapping(tmp_path: Path) -> None:
    from tests.helpers import good_row, write_csv

    write_csv(tmp_path / "products.csv", [good_row("P1"), good_row("P2")])
    config = write_config(tmp_path / "feedsync.yaml",
                          "catalog:\n  path: products.csv\nchannels: [google]\n")
    code, report, stderr = _build(tmp_path, config)
    assert code == ExitCode.OK, stderr
    assert sorted(feed_items(tmp_path / "out" / "google.xml")) == ["P1", "P2"]


TRANSLATED = '''\
catalog:
  path: products.csv
  fields: {{id: sku, title: name, description: name, link: url, image_link: img}}
  translations:
    path: translations.csv
    key: sku
    locale: lang
    fields: {{title: name, description: text}}
defaults: {{availability: in_stock, condition: new}}
channels:
  google: {{}}
  google-DE:
    template: google
    target: {{country: DE, currency: EUR, language: de}}
'''


def test_a_target_with_a_language_gets_the_translated_title(tmp_path: Path) -> None:
    catalog = ("sku,name,url,img,price\n"
               "T1,Red cup,https://s.example.com/t1,https://c.example.com/t1.jpg,5.00 EUR\n"
               "T2,Blue cup,https://s.example.com/t2,https://c.example.com/t2.jpg,5.00 EUR\n")
    (tmp_path / "translations.csv").write_text(
        "sku,lang,name,text\nT1,de-DE,Roter Becher,Ein roter Becher\nT1,fr,Tasse rouge,x\n",
        encoding="utf-8")
    code, report, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog,
                                                   config=TRANSLATED))
    assert code == ExitCode.OK, stderr
    german = feed_items(tmp_path / "out" / "google-DE.xml")
    assert german["T1"].findtext(G + "title") == "Roter Becher"
    assert german["T1"].findtext(G + "description") == "Ein roter Becher"
    assert german["T2"].findtext(G + "title") == "Blue cup"     # no translation: kept
    assert feed_items(tmp_path / "out" / "google.xml")["T1"].findtext(G + "title") == \
        "Red cup"
    assert report["channels"]["google-DE"]["untranslated"] == 1
    assert "untranslated" not in report["channels"]["google"]
    code, stdout, _ = invoke_cli("build", "--config", tmp_path / "feedsync.yaml", "--out",
                                 tmp_path / "out2", cwd=tmp_path)
    assert "google-DE: 1 products with no translation" in stdout


def test_a_translation_column_the_file_lacks_is_a_config_error(tmp_path: Path) -> None:
    catalog = ("sku,name,url,img,price\n"
               "T1,Cup,https://s.example.com/1,https://c.example.com/1,5 EUR\n")
    (tmp_path / "translations.csv").write_text("sku,locale,name,text\nT1,de,Becher,x\n",
                                               encoding="utf-8")
    code, _, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog, config=TRANSLATED))
    assert code == ExitCode.USAGE
    assert "catalog.translations.locale" in error_line(stderr)


def test_a_field_missing_from_every_product_is_said_once_with_the_fix(tmp_path: Path) -> None:
    catalog = "sku,name,price\nM1,Cup,5.00 USD\nM2,Mug,6.00 USD\n"
    config = ("catalog:\n  path: products.csv\n  fields: {{id: sku, title: name}}\n"
              "channels: [google]\n")
    code, report, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog,
                                                   config=config))
    missing = {m["field"]: m["fix"] for m in report["channels"]["google"]["missing_everywhere"]}
    assert "link" in missing and "image_link" in missing and "title" not in missing
    assert missing["link"] == ("no column maps to `link`: add `catalog.fields.link`; "
                               "`feedsync inspect` suggests one")
    code, stdout, _ = invoke_cli("validate", "--config", tmp_path / "feedsync.yaml",
                                 "--html", tmp_path / "report.html", cwd=tmp_path)
    first_lines = stdout.splitlines()[:6]
    assert any("no column maps to `link`" in line for line in first_lines), stdout
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "no column maps to `link`: add `catalog.fields.link`" in page


def test_an_issue_of_a_product_without_id_shows_file_and_line(tmp_path: Path) -> None:
    catalog = ("sku,name,url,img,price\n"
               ",Cup,https://s.example.com/1,https://c.example.com/1.jpg,5.00 USD\n")
    config = ("catalog:\n  path: products.csv\n  fields: {{id: sku, title: name, "
              "description: name, link: url, image_link: img}}\n"
              "defaults: {{availability: in_stock}}\nchannels: [google]\n")
    code, report, stderr = _build(tmp_path, _setup(tmp_path, catalog=catalog, config=config))
    examples = [e for issue in report["channels"]["google"]["top_issues"]
                if issue["field"] == "id" for e in issue["examples"]]
    assert examples == ["products.csv:2"], report["channels"]["google"]["top_issues"]


def test_mapping_filters_read_facets_numbers_and_lists() -> None:
    from feedsync.mapping import facet, first, to_int

    assert facet("brand:Acme|color:blue", "Brand") == "Acme"
    assert facet("color: red ; brand : Zed", "brand") == "Zed"
    assert facet("color:red", "brand") == ""
    assert facet(["brand:Acme", "size:M"], "size") == "M"
    assert (to_int("12"), to_int("3,7"), to_int("n/a"), to_int("")) == (12, 3, 0, 0)
    assert (first(["a", "b"]), first([]), first("x")) == ("a", "", "x")


def test_a_jsonl_catalog_is_mapped_too(tmp_path: Path) -> None:
    rows = [{"sku": "J1", "name": "Jug", "url": "https://s.example.com/j1",
             "img": "https://c.example.com/j1.jpg", "amount": "4.00 USD", "qty": "2"}]
    (tmp_path / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                             encoding="utf-8")
    config = write_config(tmp_path / "feedsync.yaml", (
        "catalog:\n  path: products.jsonl\n  fields:\n    id: sku\n    title: name\n"
        "    description: name\n    link: url\n    image_link: img\n    price: amount\n"
        "    availability: \"'in_stock' if row.qty | int > 0 else 'out_of_stock'\"\n"
        "defaults: {condition: new}\nchannels: [google]\n"))
    code, _, stderr = _build(tmp_path, config)
    assert code == ExitCode.OK, stderr
    item = feed_items(tmp_path / "out" / "google.xml")["J1"]
    assert (item.findtext(G + "title"), item.findtext(G + "availability")) == ("Jug", "in_stock")
