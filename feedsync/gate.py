"""The publish gate: refuse an empty or shrunken feed, or one with too many rejected products.

Pure logic, no I/O. ``push`` asks the state for the last good item count, calls
``evaluate`` and either publishes or reports the refusal (exit code GATE_REFUSED).

    decision = evaluate("google", written=400, rejected=3, last_good_items=1000,
                        policy=GatePolicy())
    decision.allowed   # False
    decision.reasons[0].message
    # 'google: 400 items against 1000 in the last good feed (-60%), more than the 20%
    #  allowed; use --force to publish anyway'

Limits are compared exactly (``fractions.Fraction`` of the decimal the user wrote), so a
drop of exactly the limit passes and the smallest step past it is refused.

Reason codes (stable, kebab-case, never renamed):

- ``feed-empty``: no items written;
- ``too-few-items``: fewer items than ``min_items`` (but more than none);
- ``feed-shrunk``: items fell by more than ``max_drop_ratio`` against the last good feed;
- ``feed-shrunk-count``: items fell by more than ``max_drop_count``;
- ``too-many-rejected``: rejected / (written + rejected) is above ``max_rejected_ratio``;
- ``too-many-deletes``: an API push would delete more than ``max_delete_ratio`` of the
  products the channel holds, or more than ``max_delete_count`` (``deletes=`` given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Final

from feedsync.errors import ConfigError, GateRefused

__all__ = ["GATE_CODES", "GateDecision", "GatePolicy", "GateReason", "evaluate"]

GATE_CODES: Final = (
    "feed-empty",
    "too-few-items",
    "feed-shrunk",
    "feed-shrunk-count",
    "too-many-rejected",
    "too-many-deletes",
)

_FORCE_HINT: Final = "use --force to publish anyway"
_FORCED_NOTE: Final = "published anyway because of --force"


# --- policy -------------------------------------------------------------------------------


def _ratio_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number between 0 and 1 (0.2 means 20%), got {value!r}"
    if not 0 <= value <= 1:  # also refuses NaN
        return f"must be between 0 and 1 (0.2 means 20%), got {value!r}"
    return None


def _count_problem(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be a whole number of items, 0 or more, or null for no limit, got {value!r}"
    return None


def _min_items_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return (
            f"must be a whole number, at least 1 (an empty feed is always refused), got {value!r}"
        )
    return None


_CHECKS: Final[dict[str, Callable[[object], str | None]]] = {
    "max_drop_ratio": _ratio_problem,
    "max_drop_count": _count_problem,
    "max_rejected_ratio": _ratio_problem,
    "min_items": _min_items_problem,
    "max_delete_ratio": _ratio_problem,
    "max_delete_count": _count_problem,
}


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Limits for one channel target. Ratios are fractions: 0.2 means 20%."""

    max_drop_ratio: float = 0.20
    max_drop_count: int | None = None
    max_rejected_ratio: float = 0.50
    min_items: int = 1
    max_delete_ratio: float = 0.20
    max_delete_count: int | None = None

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            problem = check(getattr(self, name))
            if problem:
                raise ValueError(f"GatePolicy.{name} {problem}")

    @classmethod
    def from_mapping(cls, data: object, key_path: str = "gate") -> GatePolicy:
        """Build a policy from a config mapping, naming the key path in any error.

        >>> GatePolicy.from_mapping({"max_drop_ratio": 0.1}, "targets.google.gate")
        GatePolicy(max_drop_ratio=0.1, max_drop_count=None, max_rejected_ratio=0.5, \
min_items=1, max_delete_ratio=0.2, max_delete_count=None)
        """
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"must be a mapping of gate limits, got {type(data).__name__}", key=key_path
            )
        values: dict[str, object] = {}
        for key, value in data.items():
            path = f"{key_path}.{key}" if key_path else str(key)
            check = _CHECKS.get(str(key))
            if check is None:
                known = ", ".join(f.name for f in fields(cls))
                raise ConfigError(f"unknown key; known keys: {known}", key=path)
            problem = check(value)
            if problem:
                raise ConfigError(problem, key=path)
            values[str(key)] = value
        return cls(**values)  # type: ignore[arg-type]  # each value was checked above


# --- decision -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateReason:
    """One limit the feed broke.

    ``old`` is the last good item count (``None`` for checks that do not compare with it);
    ``new`` is the count the limit applies to (items written, or products rejected for
    ``too-many-rejected``); ``limit`` is the threshold as shown to users ("20%", "500 items").
    """

    code: str
    message: str
    old: int | None
    new: int
    limit: str


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict. ``forced`` is true only when ``--force`` overrode a refusal."""

    allowed: bool
    forced: bool
    reasons: tuple[GateReason, ...]
    channel: str = ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)

    def raise_if_refused(self) -> None:
        """Raise ``GateRefused`` (exit code GATE_REFUSED) with every reason if not allowed."""
        if self.allowed:
            return
        details = "; ".join(r.message.removesuffix(f"; {_FORCE_HINT}") for r in self.reasons)
        raise GateRefused(
            f"{details}; {_FORCE_HINT}",
            tip="check the catalog first; if the change is intended, run again with --force "
            "or raise the limits under gate: in the config",
        )


def evaluate(
    channel: str,
    written: int,
    rejected: int,
    last_good_items: int | None,
    policy: GatePolicy,
    force: bool = False,
    deletes: int | None = None,
) -> GateDecision:
    """Decide whether a feed of ``written`` items may replace the live one.

    ``last_good_items`` is ``None`` for a first publish: then only emptiness and rejects
    are checked. With ``force`` the feed is allowed but every broken limit is still
    reported, so the report can say that the gate was overridden. ``deletes`` (API
    channels) is how many products the push would delete from the ``last_good_items``
    the channel holds.
    """
    _check_counts(written, rejected, last_good_items)
    found = [
        _size_reason(channel, written, rejected, last_good_items, policy),
        _ratio_drop_reason(channel, written, last_good_items, policy),
        _count_drop_reason(channel, written, last_good_items, policy),
        _rejected_reason(channel, written, rejected, policy),
        _deletes_reason(channel, deletes, last_good_items, policy),
    ]
    forced = force and any(found)
    suffix = _FORCED_NOTE if forced else _FORCE_HINT
    reasons = tuple(
        GateReason(r.code, f"{r.message}; {suffix}", r.old, r.new, r.limit) for r in found if r
    )
    return GateDecision(
        allowed=force or not reasons, forced=forced, reasons=reasons, channel=channel
    )


def _check_counts(written: int, rejected: int, last_good_items: int | None) -> None:
    counts = {"written": written, "rejected": rejected, "last_good_items": last_good_items}
    for name, value in counts.items():
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")


def _size_reason(
    channel: str, written: int, rejected: int, old: int | None, policy: GatePolicy
) -> GateReason | None:
    if written >= policy.min_items:
        return None
    required = f"{policy.min_items} {_items(policy.min_items)}"
    if written == 0:
        why = f", all {rejected} products were rejected" if rejected else ""
        message = f"{channel}: the feed is empty (0 items{why})"
        return GateReason("feed-empty", message, old, 0, f"at least {required}")
    message = f"{channel}: {written} {_items(written)}, fewer than the {required} required"
    return GateReason("too-few-items", message, old, written, f"at least {required}")


def _ratio_drop_reason(
    channel: str, written: int, old: int | None, policy: GatePolicy
) -> GateReason | None:
    if not old or written >= old:  # first publish, or nothing to shrink from
        return None
    drop, limit = Fraction(old - written, old), _exact(policy.max_drop_ratio)
    if drop <= limit:
        return None
    shown = _percent(limit)
    message = (
        f"{channel}: {written} items against {old} in the last good feed "
        f"(-{_percent(drop, beside=limit)}%), more than the {shown}% allowed"
    )
    return GateReason("feed-shrunk", message, old, written, f"{shown}%")


def _count_drop_reason(
    channel: str, written: int, old: int | None, policy: GatePolicy
) -> GateReason | None:
    limit = policy.max_drop_count
    if limit is None or old is None or old - written <= limit:
        return None
    message = (
        f"{channel}: {written} items against {old} in the last good feed "
        f"({old - written} fewer), more than the {limit} allowed"
    )
    return GateReason("feed-shrunk-count", message, old, written, f"{limit} {_items(limit)}")


def _rejected_reason(
    channel: str, written: int, rejected: int, policy: GatePolicy
) -> GateReason | None:
    total = written + rejected
    if not total:
        return None
    share, limit = Fraction(rejected, total), _exact(policy.max_rejected_ratio)
    if share <= limit:
        return None
    shown = _percent(limit)
    message = (
        f"{channel}: {rejected} of {total} products rejected "
        f"({_percent(share, beside=limit)}%), more than the {shown}% allowed"
    )
    return GateReason("too-many-rejected", message, None, rejected, f"{shown}%")


def _deletes_reason(
    channel: str, deletes: int | None, old: int | None, policy: GatePolicy
) -> GateReason | None:
    if not deletes:
        return None
    count = policy.max_delete_count
    if count is not None and deletes > count:
        message = (f"{channel}: the push would delete {deletes} {_items(deletes)} of the "
                   f"{old or 0} the channel holds, more than the {count} allowed")
        return GateReason("too-many-deletes", message, old, deletes, f"{count} {_items(count)}")
    if not old:
        return None
    share, limit = Fraction(deletes, old), _exact(policy.max_delete_ratio)
    if share <= limit:
        return None
    shown = _percent(limit)
    message = (f"{channel}: the push would delete {deletes} of the {old} products the channel "
               f"holds ({_percent(share, beside=limit)}%), more than the {shown}% allowed")
    return GateReason("too-many-deletes", message, old, deletes, f"{shown}%")


def _exact(ratio: float) -> Fraction:
    # repr() is the shortest decimal that round-trips: the number the user wrote, so 0.3
    # means 3/10 and not the binary float just below it.
    return Fraction(repr(ratio))


def _percent(value: Fraction, beside: Fraction | None = None) -> str:
    """``value`` as a percentage with the fewest decimals that stay honest.

    Without ``beside``: exact if a few decimals can say it (20, 12.5), else rounded. With
    ``beside`` (the limit): enough decimals that a value over the limit never reads as the
    limit itself ("20.04% ... more than the 20% allowed", not "20% ... more than 20%").
    """
    pct = value * 100
    for digits in range(7):
        text = f"{float(pct):.{digits}f}"
        if beside is None:
            if Fraction(text) == pct:
                return text
        elif pct == beside * 100 or text != f"{float(beside * 100):.{digits}f}":
            return text
    return f"{float(pct):g}"


def _items(count: int) -> str:
    return "item" if count == 1 else "items"
