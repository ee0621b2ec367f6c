"""The quality score of one channel target, 0–100 (defined in docs/report.md).

    score = floor(100 × (0.60 × W + 0.25 × R + 0.15 × C))

W is the share of products written (written / (written + rejected)); R the mean fill
rate of the channel's required fields and C that of its recommended fields, each fill
rate being filled / evaluated from the report's ``fill`` and ``evaluated``. With no
required (recommended) fields, R (C) is 1; with nothing evaluated, a fill rate is 0.
Computed in exact fractions and rounded down, so 100 means nothing left to fill or fix,
and the same counts always give the same score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from feedsync.channels.loader import ChannelSpec

WEIGHT_WRITTEN = Fraction(60, 100)
WEIGHT_REQUIRED = Fraction(25, 100)
WEIGHT_RECOMMENDED = Fraction(15, 100)


@dataclass(frozen=True)
class FieldRoles:
    """Which channel fields the score weighs: required, then recommended."""

    required: tuple[str, ...] = ()
    recommended: tuple[str, ...] = ()


def roles_of(spec: ChannelSpec) -> FieldRoles:
    """Required: a ``required`` rule with severity error. Recommended: a ``required`` rule
    with severity warning or hint, or named in the channel's ``recommended:`` list."""
    required: list[str] = []
    recommended: list[str] = []
    for field in spec.fields.values():
        severities = {r.severity for r in field.rules if r.check == "required"}
        if "error" in severities:
            required.append(field.name)
        elif severities:
            recommended.append(field.name)
    recommended += [n for n in spec.recommended if n not in required and n not in recommended]
    return FieldRoles(tuple(required), tuple(recommended))


@dataclass(frozen=True)
class Quality:
    score: int
    written_share: Fraction
    required_fill: Fraction
    recommended_fill: Fraction


def fill_rate(fill: Mapping[str, int], evaluated: int, name: str) -> Fraction:
    """Share of evaluated items with ``name`` filled; 0 when nothing was evaluated."""
    if evaluated <= 0:
        return Fraction(0)
    return Fraction(min(max(int(fill.get(name, 0)), 0), evaluated), evaluated)


def mean_fill(fill: Mapping[str, int], evaluated: int, names: Sequence[str]) -> Fraction:
    if not names:
        return Fraction(1)
    return sum((fill_rate(fill, evaluated, n) for n in names), Fraction(0)) / len(names)


def quality(written: int, rejected: int, evaluated: int, fill: Mapping[str, int],
            roles: FieldRoles) -> Quality | None:
    """The score and its three parts; None when no product reached the channel."""
    if written + rejected <= 0:
        return None
    share = Fraction(written, written + rejected)
    required = mean_fill(fill, evaluated, roles.required)
    recommended = mean_fill(fill, evaluated, roles.recommended)
    total = (WEIGHT_WRITTEN * share + WEIGHT_REQUIRED * required
             + WEIGHT_RECOMMENDED * recommended)
    return Quality(score=int(total * 100), written_share=share, required_fill=required,
                   recommended_fill=recommended)
