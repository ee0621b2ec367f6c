"""docs/rules.md is generated from the channel folders and must match them."""

from __future__ import annotations

from feedsync.rulesdoc import render
from tests.helpers import REPO

RULES_MD = REPO / "docs" / "rules.md"


def test_rules_page_is_current() -> None:
    expected = render()
    actual = RULES_MD.read_text(encoding="utf-8") if RULES_MD.is_file() else ""
    assert actual == expected, (
        "docs/rules.md is stale: regenerate it with "
        "`python -m feedsync.rulesdoc > docs/rules.md` and commit it")


def test_every_rule_and_check_is_on_the_page() -> None:
    from feedsync.channels.loader import ChannelLibrary

    page = render()
    library = ChannelLibrary()
    for name in library.available():
        spec = library.load(name)
        assert f"## {spec.name}" in page
        for field in spec.fields.values():
            assert f"`{field.name}`" in page, (name, field.name)
            for rule in field.rules:
                assert rule.source in page, (name, field.name, rule.check)
        for check in spec.checks:
            assert f"`{check.code}`" in page and check.source in page, (name, check.code)
