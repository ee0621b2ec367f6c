"""The publish gate: pure decisions over counts (reliability.md A6)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsync.errors import ConfigError, ExitCode, GateRefused
from feedsync.gate import GATE_CODES, GatePolicy, evaluate

DEFAULT = GatePolicy()

# (id, written, rejected, last_good_items, policy, allowed, codes)
CASES: list[tuple[str, int, int, int | None, GatePolicy, bool, tuple[str, ...]]] = [
    # emptiness: always refused, first publish or not
    ("empty-first-publish", 0, 0, None, DEFAULT, False, ("feed-empty",)),
    ("empty-all-rejected", 0, 5, None, DEFAULT, False, ("feed-empty", "too-many-rejected")),
    ("empty-after-good", 0, 0, 1000, DEFAULT, False, ("feed-empty", "feed-shrunk")),
    # first publish: nothing to compare with, allowed unless empty or mostly rejected
    ("first-publish-one", 1, 0, None, DEFAULT, True, ()),
    ("first-publish-big", 5000, 10, None, DEFAULT, True, ()),
    ("first-publish-mostly-rejected", 10, 20, None, DEFAULT, False, ("too-many-rejected",)),
    # relative shrink, default 20%
    ("grown", 1200, 0, 1000, DEFAULT, True, ()),
    ("unchanged", 1000, 0, 1000, DEFAULT, True, ()),
    ("shrunk-under-limit", 801, 0, 1000, DEFAULT, True, ()),
    ("shrunk-exactly-limit", 800, 0, 1000, DEFAULT, True, ()),
    ("shrunk-just-over-limit", 799, 0, 1000, DEFAULT, False, ("feed-shrunk",)),
    ("shrunk-hair-over-limit", 79_999, 0, 100_000, DEFAULT, False, ("feed-shrunk",)),
    ("shrunk-60-percent", 400, 0, 1000, DEFAULT, False, ("feed-shrunk",)),
    ("last-good-was-empty", 5, 0, 0, DEFAULT, True, ()),
    # limits that are not exact binary fractions are compared as the decimal written
    ("ratio-0.3-exact", 700, 0, 1000, GatePolicy(max_drop_ratio=0.3), True, ()),
    ("ratio-0.3-over", 699, 0, 1000, GatePolicy(max_drop_ratio=0.3), False, ("feed-shrunk",)),
    ("ratio-0.7-exact", 30, 0, 100, GatePolicy(max_drop_ratio=0.7), True, ()),
    ("ratio-0.1-exact", 9, 0, 10, GatePolicy(max_drop_ratio=0.1), True, ()),
    ("ratio-zero-any-drop", 999, 0, 1000, GatePolicy(max_drop_ratio=0), False, ("feed-shrunk",)),
    ("ratio-one-any-drop", 1, 0, 1000, GatePolicy(max_drop_ratio=1), True, ()),
    # absolute shrink
    (
        "count-exactly-limit", 900, 0, 1000,
        GatePolicy(max_drop_ratio=1.0, max_drop_count=100), True, (),
    ),
    (
        "count-over-limit", 899, 0, 1000,
        GatePolicy(max_drop_ratio=1.0, max_drop_count=100), False, ("feed-shrunk-count",),
    ),
    (
        "count-zero-any-drop", 999, 0, 1000,
        GatePolicy(max_drop_ratio=1.0, max_drop_count=0), False, ("feed-shrunk-count",),
    ),
    (
        "count-and-ratio", 500, 0, 1000,
        GatePolicy(max_drop_count=100), False, ("feed-shrunk", "feed-shrunk-count"),
    ),
    ("count-first-publish", 10, 0, None, GatePolicy(max_drop_count=0), True, ()),
    ("count-growth", 2000, 0, 1000, GatePolicy(max_drop_count=0), True, ()),
    # rejected share, default 50%
    ("rejected-exactly-limit", 50, 50, None, DEFAULT, True, ()),
    ("rejected-just-over", 49, 51, None, DEFAULT, False, ("too-many-rejected",)),
    ("rejected-none", 10, 0, None, GatePolicy(max_rejected_ratio=0), True, ()),
    (
        "rejected-zero-limit", 10, 1, None,
        GatePolicy(max_rejected_ratio=0), False, ("too-many-rejected",),
    ),
    ("rejected-one-limit", 1, 1000, None, GatePolicy(max_rejected_ratio=1), True, ()),
    (
        "rejected-and-shrunk", 100, 900, 1000,
        DEFAULT, False, ("feed-shrunk", "too-many-rejected"),
    ),
    # minimum size
    ("min-items-under", 99, 0, None, GatePolicy(min_items=100), False, ("too-few-items",)),
    ("min-items-exact", 100, 0, None, GatePolicy(min_items=100), True, ()),
    ("min-items-empty", 0, 0, None, GatePolicy(min_items=100), False, ("feed-empty",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("written", "rejected", "last", "policy", "allowed", "codes"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decision_table(
    written: int,
    rejected: int,
    last: int | None,
    policy: GatePolicy,
    allowed: bool,
    codes: tuple[str, ...],
) -> None:
    decision = evaluate("google", written, rejected, last, policy)
    assert decision.allowed is allowed
    assert decision.codes == codes
    assert decision.forced is False
    assert decision.channel == "google"
    assert set(decision.codes) <= set(GATE_CODES)


@pytest.mark.parametrize(
    ("written", "rejected", "last", "policy", "allowed", "codes"),
    [case[1:] for case in CASES if case[5] is False],
    ids=[case[0] for case in CASES if case[5] is False],
)
def test_force_allows_but_still_reports(
    written: int,
    rejected: int,
    last: int | None,
    policy: GatePolicy,
    allowed: bool,
    codes: tuple[str, ...],
) -> None:
    decision = evaluate("google", written, rejected, last, policy, force=True)
    assert decision.allowed is True
    assert decision.forced is True
    assert decision.codes == codes
    assert all("published anyway because of --force" in r.message for r in decision.reasons)
    decision.raise_if_refused()  # allowed: does not raise


def test_force_without_a_refusal_is_not_an_override() -> None:
    decision = evaluate("google", 1000, 0, 1000, DEFAULT, force=True)
    assert (decision.allowed, decision.forced, decision.reasons) == (True, False, ())


def test_a6_message_gives_old_new_and_threshold() -> None:
    (reason,) = evaluate("google", 400, 0, 1000, DEFAULT).reasons
    assert reason.message == (
        "google: 400 items against 1000 in the last good feed (-60%), "
        "more than the 20% allowed; use --force to publish anyway"
    )
    assert (reason.code, reason.old, reason.new, reason.limit) == ("feed-shrunk", 1000, 400, "20%")


def test_percent_never_reads_as_the_limit_it_broke() -> None:
    (reason,) = evaluate("google", 7996, 0, 10_000, DEFAULT).reasons
    assert "(-20.04%), more than the 20% allowed" in reason.message


def test_count_and_rejected_reasons_carry_their_numbers() -> None:
    policy = GatePolicy(max_drop_ratio=1.0, max_drop_count=100)
    (count,) = evaluate("meta", 850, 0, 1000, policy).reasons
    assert (count.old, count.new, count.limit) == (1000, 850, "100 items")
    assert "150 fewer" in count.message and "100 allowed" in count.message
    (rejects,) = evaluate("meta", 40, 60, None, DEFAULT).reasons
    assert (rejects.old, rejects.new, rejects.limit) == (None, 60, "50%")
    assert "60 of 100 products rejected (60%)" in rejects.message


def test_empty_reason_names_the_rejects() -> None:
    empty = evaluate("tiktok", 0, 7, None, DEFAULT).reasons[0]
    assert empty.code == "feed-empty"
    assert "all 7 products were rejected" in empty.message
    assert empty.limit == "at least 1 item"


def test_raise_if_refused_lists_every_reason_once_with_one_hint() -> None:
    decision = evaluate("google", 100, 900, 1000, DEFAULT)
    with pytest.raises(GateRefused) as caught:
        decision.raise_if_refused()
    err = caught.value
    assert err.exit_code is ExitCode.GATE_REFUSED
    assert "100 items against 1000" in err.message
    assert "900 of 1000 products rejected" in err.message
    assert err.message.count("use --force") == 1
    assert err.tip


def test_allowed_decision_does_not_raise() -> None:
    decision = evaluate("google", 1000, 0, 1000, DEFAULT)
    assert decision.allowed and decision.reasons == () and not decision.forced
    assert decision.raise_if_refused() is None  # returns instead of raising GateRefused


@pytest.mark.parametrize(
    ("written", "rejected", "last"), [(-1, 0, None), (1, -1, None), (1, 0, -5)]
)
def test_negative_counts_are_a_bug(written: int, rejected: int, last: int | None) -> None:
    with pytest.raises(ValueError, match="negative"):
        evaluate("google", written, rejected, last, DEFAULT)


@given(
    last=st.integers(min_value=1, max_value=10**7),
    written=st.integers(min_value=1, max_value=10**7),
    percent=st.integers(min_value=0, max_value=100),
)
def test_shrink_limit_matches_integer_arithmetic(last: int, written: int, percent: int) -> None:
    policy = GatePolicy(max_drop_ratio=percent / 100)
    decision = evaluate("google", written, 0, last, policy)
    # refused exactly when (last - written) / last > percent / 100, in integers
    assert ("feed-shrunk" in decision.codes) is ((last - written) * 100 > percent * last)


@given(
    written=st.integers(min_value=1, max_value=10**6),
    rejected=st.integers(min_value=0, max_value=10**6),
    percent=st.integers(min_value=0, max_value=100),
)
def test_rejected_limit_matches_integer_arithmetic(
    written: int, rejected: int, percent: int
) -> None:
    decision = evaluate(
        "google", written, rejected, None, GatePolicy(max_rejected_ratio=percent / 100)
    )
    expected = rejected * 100 > percent * (written + rejected)
    assert ("too-many-rejected" in decision.codes) is expected


# --- policy from config ---------------------------------------------------------------------


def test_from_mapping_reads_every_key() -> None:
    policy = GatePolicy.from_mapping(
        {"max_drop_ratio": 0.1, "max_drop_count": 500, "max_rejected_ratio": 1, "min_items": 10},
        "gate",
    )
    assert policy == GatePolicy(0.1, 500, 1.0, 10)


def test_from_mapping_empty_gives_defaults() -> None:
    assert GatePolicy.from_mapping({}, "gate") == GatePolicy()
    assert GatePolicy.from_mapping({"max_drop_count": None}, "gate") == GatePolicy()


BAD_VALUES: list[tuple[str, Any, str]] = [
    ("max_drop_ratio", 1.5, "between 0 and 1"),
    ("max_drop_ratio", -0.1, "between 0 and 1"),
    ("max_drop_ratio", math.nan, "between 0 and 1"),
    ("max_drop_ratio", "20%", "must be a number"),
    ("max_drop_ratio", True, "must be a number"),
    ("max_drop_ratio", None, "must be a number"),
    ("max_rejected_ratio", 2, "between 0 and 1"),
    ("max_drop_count", -1, "whole number"),
    ("max_drop_count", 1.5, "whole number"),
    ("max_drop_count", "10", "whole number"),
    ("max_drop_count", False, "whole number"),
    ("min_items", 0, "at least 1"),
    ("min_items", 1.0, "whole number"),
    ("min_items", True, "whole number"),
]


@pytest.mark.parametrize(("key", "value", "fragment"), BAD_VALUES)
def test_from_mapping_names_the_key_path(key: str, value: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GatePolicy.from_mapping({key: value}, "targets.google.gate")
    err = caught.value
    assert err.key == f"targets.google.gate.{key}"
    assert f"targets.google.gate.{key}" in str(err)
    assert fragment in err.message
    assert err.exit_code is ExitCode.USAGE


@pytest.mark.parametrize(("key", "value", "fragment"), BAD_VALUES)
def test_direct_construction_checks_the_same_way(key: str, value: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        GatePolicy(**{key: value})


def test_from_mapping_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        GatePolicy.from_mapping({"max_drop": 0.1}, "gate")
    assert caught.value.key == "gate.max_drop"
    assert "max_drop_ratio" in caught.value.message  # lists the known keys


def test_from_mapping_refuses_a_non_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        GatePolicy.from_mapping([0.2], "gate")
    assert caught.value.key == "gate"


def test_from_mapping_without_a_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        GatePolicy.from_mapping({"min_items": 0}, "")
    assert caught.value.key == "min_items"
