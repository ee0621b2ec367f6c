"""The duplicate-id table: exact answers, first line kept, compact growth."""

from __future__ import annotations

from feedsync.rules.duplicates import SeenIds


def test_first_occurrence_wins_and_its_line_is_returned() -> None:
    seen = SeenIds(capacity=4)
    assert seen.add("SKU-1", 10) == 0
    assert seen.add("SKU-2", 11) == 0
    assert seen.add("SKU-1", 500) == 10
    assert seen.add("sku-1", 501) == 0   # ids are compared exactly
    assert seen.count == 3


def test_growth_and_reserve_keep_every_id() -> None:
    seen = SeenIds(capacity=8)
    for number in range(50_000):
        assert seen.add(f"id-{number}", number + 2) == 0
    seen.reserve(200_000)
    for number in range(0, 50_000, 997):
        assert seen.add(f"id-{number}", 1) == number + 2
    assert seen.count == 50_000


def test_reserved_table_is_about_17_bytes_per_id() -> None:
    seen = SeenIds()
    seen.reserve(1_000_000)
    assert seen.nbytes < 18 * 1_000_000
