"""The data that flows between stages: records from sources, products, and findings.

A ``Record`` is one row as read (strings only, with its origin). A ``Product`` is the
canonical view the channel templates see: a dict of canonical attribute names to strings,
where a missing attribute reads as the empty string. Findings are ``Issue`` values, never
exceptions: validation returns data (frictionless-py's habit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "hint"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "hint")


@dataclass(slots=True)
class Record:
    """One catalog row: where it came from and its cells as strings."""

    file: str
    line: int
    data: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row the source could not turn into a Record (ragged, undecodable, broken JSON).

    Sources yield these in place of the record so the pipeline reports and skips the row:
    it is never silently dropped, and it never stops the run.
    """

    file: str
    line: int
    code: str
    message: str
    product_id: str | None = None


class Product(dict[str, str]):
    """Canonical attributes of one product. Unknown attributes read as ``""``.

    Subclassing ``dict`` keeps attribute access from Jinja (``product.title``) and the
    compiled fast path (``product["title"]``) equally cheap.
    """

    __slots__ = ("file", "line", "clean", "memo")

    file: str
    line: int
    clean: bool  # no value holds a character XML cannot carry (checked once, when read)
    # Field values every channel of the run computes alike, computed on first use
    # (channels/program.py ``memoised``). Set lazily; a clone starts without it.
    memo: dict[object, object]

    def __missing__(self, key: str) -> str:
        return ""

    def clone(self) -> Product:
        """A copy to change for one channel, keeping the origin."""
        copy = Product(self)
        copy.file, copy.line = self.file, self.line
        copy.clean = getattr(self, "clean", False)
        return copy

    @property
    def id(self) -> str:
        return self.get("id", "")


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about one product (or row) in one channel.

    ``code`` is a stable kebab-case name documented in docs/issue-codes.md; tests assert
    codes and positions, never message text.
    """

    code: str
    severity: Severity
    message: str
    channel: str = ""
    product_id: str | None = None
    file: str | None = None
    line: int | None = None
    field: str | None = None
    value: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "channel": self.channel,
            "product_id": self.product_id,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "value": self.value,
            "source": self.source,
        }
