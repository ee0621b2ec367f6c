"""A merchant's own channel folder, outside feedsync, used through the real CLI.

The channel is only YAML and a CSV lookup table in tmp_path; the config points at it with
`template_dirs:`; `python -m feedsync.cli build` runs as a subprocess. This is what
docs/channels.md promises: adding a channel needs no Python.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers import EXAMPLES, G, feed_items, invoke_cli, read_issues, write_config

MYCHANNEL = """\
# A marketplace that wants five columns, its own colour words, and short names.
name: mychannel
title: My marketplace
docs: https://marketplace.example.com/feed-spec
outputs:
  csv:
    writer: csv
    file: mychannel.csv
    options: {delimiter: ";"}
tables:
  colours: colours.csv
fields:
  sku:
    value: product.id | single_line
    rules:
      - {check: required, source: https://marketplace.example.com/feed-spec#sku}
  name:
    value: product.title | plain_text | single_line
    rules:
      - {check: max_length, limit: 60, source: https://marketplace.example.com/feed-spec#name}
  colour:
    value: product.color | lookup('colours', product.color)
    column: colour_code
  price:
    value: product.price | money(product.currency or defaults.currency)
    rules:
      - {check: required, source: https://marketplace.example.com/feed-spec#price}
      - {check: money, source: https://marketplace.example.com/feed-spec#price}
  shop:
    value: "'Example shop ' ~ (target.country | lower)"
checks:
  - code: cheap-without-brand
    assert: product.brand or (item.price | amount) >= 50
    field: price
    severity: warning
    message: unbranded products under 50 sell poorly here
    source: https://marketplace.example.com/feed-spec#tips
"""

COLOURS = "colour,code\nNavy Blue,NAVY\nHeather Grey,GREY\n Yellow , YLW \n"


def _setup(tmp_path: Path, config_text: str) -> Path:
    folder = tmp_path / "channels" / "mychannel"
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text(MYCHANNEL, encoding="utf-8")
    (folder / "colours.csv").write_text(COLOURS, encoding="utf-8")
    return write_config(tmp_path / "cfg.yaml", config_text)


def test_a_new_channel_folder_builds_through_the_cli(tmp_path: Path) -> None:
    config = _setup(tmp_path, 'version: 1\ntemplate_dirs: [channels]\n'
                              'channels:\n  mychannel:\n    target: {country: "DE"}\n')
    out = tmp_path / "OUT"

    code, stdout, stderr = invoke_cli("channels", "--config", config, "--json")
    assert code == 0, stderr
    listed = {c["name"]: c for c in json.loads(stdout)["channels"]}
    assert listed["mychannel"]["title"] == "My marketplace"
    assert "google" in listed                     # the built-in channels are still there

    code, stdout, stderr = invoke_cli("build", EXAMPLES, "--config", config,
                                   "--channel", "mychannel", "--out", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)["channels"]["mychannel"]
    # LONG-TITLE-1's 194-character title breaks the 60-character rule; NO-PRICE-1 has no
    # price; "1,99" is no amount; the second MUG-350 row repeats an id.
    assert report["rejected"] == 4
    assert report["issues"]["too-long"] == 1
    assert report["issues"]["missing-required"] == 1
    assert report["issues"]["bad-money"] == 1
    assert report["issues"]["duplicate-id"] == 1
    # GIFT-CARD-50 (50.00) and BOWL-HANDMADE (45.00) carry no brand: the bowl is warned
    # about and, a warning being no error, written.
    assert report["issues"]["cheap-without-brand"] == 1
    issues = read_issues(out / "mychannel.issues.jsonl")
    rejected = {i["product_id"] for i in issues if i["severity"] == "error"}
    assert rejected == {"LONG-TITLE-1", "NO-PRICE-1", "COMMA-PRICE-1", "MUG-350"}
    warned = {i["product_id"] for i in issues if i["code"] == "cheap-without-brand"}
    assert warned == {"BOWL-HANDMADE"}

    with (out / "mychannel.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == ["sku", "name", "colour_code", "price", "shop"]
    by_sku = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert len(by_sku) == report["written"] == len(rows) - 1
    assert by_sku["TS-100-NAVY-S"]["colour_code"] == "NAVY"          # from the table
    assert by_sku["TS-100-HEAT-L"]["colour_code"] == "GREY"
    assert by_sku["RJ-KIDS-104"]["colour_code"] == "YLW"             # keys and values trimmed
    assert by_sku["MUG-350"]["colour_code"] == ""                    # no colour at all
    assert by_sku["TS-100-NAVY-S"]["price"] == "24.00 USD"           # the catalog's currency
    assert by_sku["MUG-350"]["shop"] == "Example shop de"
    assert by_sku["TEMPLATE-TEXT-1"]["name"] == "Mug {{ 7*7 }} edition"
    assert by_sku["BOWL-HANDMADE"]["price"] == "45.00 USD"


def test_a_channel_that_extends_google_and_overrides_one_field(tmp_path: Path) -> None:
    folder = tmp_path / "channels" / "google-utm"
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text(
        "name: google-utm\n"
        "extends: google\n"
        "fields:\n"
        "  link:\n"
        "    value: product.link ~ ('&' if '?' in product.link else '?') ~ 'utm_source=google'\n",
        encoding="utf-8")
    config = write_config(tmp_path / "cfg.yaml", 'version: 1\ntemplate_dirs: [channels]\n'
                                                 'defaults: {currency: "USD"}\n')
    ours, plain = tmp_path / "utm", tmp_path / "plain"
    for channel, out in (("google-utm", ours), ("google", plain)):
        code, _, stderr = invoke_cli("build", EXAMPLES, "--config", config, "--channel", channel,
                                  "--out", out)
        assert code == 0, stderr

    # The output and its file name come from google's channel file.
    utm_items, google_items = feed_items(ours / "google.xml"), feed_items(plain / "google.xml")
    assert list(utm_items) == list(google_items)
    assert utm_items["MUG-350"].findtext(G + "link") == (
        "https://shop.example.com/products/deluxe-mug?utm_source=google")
    assert utm_items["TS-100-NAVY-S"].findtext(G + "link") == (
        "https://shop.example.com/products/crew-tee?variant=1&utm_source=google")
    for product_id, item in utm_items.items():
        other = google_items[product_id]
        assert [(e.tag, e.text) for e in item if e.tag != G + "link"] == (
            [(e.tag, e.text) for e in other if e.tag != G + "link"]), product_id
        # The link keeps google's rules: a bad link would still be rejected.
        assert item.findtext(G + "link", "").startswith("https://")
