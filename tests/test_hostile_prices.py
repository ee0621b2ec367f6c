"""Prices that are no finite number, and zero or negative prices (issue 15, item 6).

Every channel (Google, local inventory, Microsoft, Meta, TikTok, Pinterest, Amazon) gets
the same hostile prices through the real CLI. A price that is not a finite number (NaN,
inf, -inf, 1e309) is an error everywhere and never reaches a feed. A negative price is an
error everywhere. A zero price keeps each channel's own severity, from its own page (see
the price rules in ``channel_templates/*/channel.yaml``): Google, Microsoft, Meta, Amazon
and local inventory require more than zero (error); TikTok and Pinterest say nothing of
free items (warning ``zero-price``). ``-0`` and ``-0.001`` are a zero price, not a
negative one that slips past the zero rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedsync.errors import ExitCode
from tests.helpers import good_row, read_issues, run_cli, write_csv

NOT_FINITE = ["NaN", "nan", "inf", "-inf", "Infinity", "+inf", "1e309"]
NEGATIVE = ["-5.00", "-0.01"]
ZERO = ["0", "0.00", "-0", "-0.001"]
FILES = {"google": "google.xml", "google_local_inventory": "google_local_inventory.tsv",
         "microsoft": "microsoft.txt", "meta": "meta.csv", "tiktok": "tiktok.csv",
         "pinterest": "pinterest.tsv", "amazon": "amazon-listings.json"}
ZERO_SEVERITY = {"google": "error", "google_local_inventory": "error", "microsoft": "error",
                 "meta": "error", "amazon": "error", "tiktok": "warning",
                 "pinterest": "warning"}
VALUES = NOT_FINITE + NEGATIVE + ZERO


# What Amazon needs besides a price (a product type it maps, colour, size, a quantity).
AMAZON = {"quantity": "5", "color": "Blue", "size": "M",
          "product_type": "Apparel & Accessories > Clothing > Shirts & Tops"}


def _pid(number: int) -> str:
    return f"P{number:02d}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prices")
    rows = [good_row(_pid(n), price=value, **AMAZON) for n, value in enumerate(VALUES)]
    rows.append(good_row("GOOD", **AMAZON))   # Amazon refuses a feed in which every product failed
    write_csv(folder / "catalog.csv", rows)
    (folder / "stores.csv").write_text("store_code,id,quantity\n" + "".join(
        f"BER-01,{_pid(n)},3\n" for n in range(len(VALUES))) + "BER-01,GOOD,3\n")
    channels: dict[str, Any] = {name: {} for name in FILES}
    channels["google_local_inventory"] = {"stock": {"path": str(folder / "stores.csv")}}
    channels["amazon"] = {"options": {"listings": {
        "seller_id": "A1EXAMPLE0SELLER", "marketplace_id": "ATVPDKIKX0DER",
        "language_tag": "en_US"}}}
    config = folder / "feedsync.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "channels": channels}))
    code, _, err = run_cli("build", folder / "catalog.csv", "--config", config,
                           "-o", folder / "out")
    assert code == ExitCode.OK, err
    return folder / "out"


def _price_issues(built: Path, channel: str, product_id: str) -> list[dict[str, Any]]:
    return [i for i in read_issues(built / f"{channel}.issues.jsonl")
            if i.get("product_id") == product_id
            and i.get("field") in ("price", "purchasable_offer")
            and i["code"] != "formula-like-value"]


CASES = [(channel, n, value) for channel in FILES for n, value in enumerate(VALUES)]


@pytest.mark.parametrize(("channel", "number", "value"), CASES,
                         ids=[f"{c}-{v}" for c, _, v in CASES])
def test_each_channel_judges_each_hostile_price_at_its_own_severity(
        built: Path, channel: str, number: int, value: str) -> None:
    issues = _price_issues(built, channel, _pid(number))
    severities = {i["severity"] for i in issues}
    feed = (built / FILES[channel]).read_text(encoding="utf-8")
    if value in ZERO:
        expected = ZERO_SEVERITY[channel]
        assert expected in severities, issues
        if expected == "warning":
            assert "zero-price" in {i["code"] for i in issues}
            assert "error" not in severities, issues
    else:
        assert "error" in severities, issues
    if "error" in severities:
        assert f"{_pid(number)}" not in feed.replace(f"{_pid(number)}.jpg", "")
    body = feed.lower().split("\n", 1)[-1]
    assert not re.search(r"\b(nan|inf|infinity)\b|-0\.00\b", body), channel
