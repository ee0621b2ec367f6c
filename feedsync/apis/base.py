"""What every API channel shares: the seam (``ApiChannel``), the run context, issues.

An API channel converts each mapped item into its wire record (at build time, in the
sink), resolves the submissions an earlier run left waiting, and sends a plan. Outcomes go
to the delta store only from the channel's answer; per-product findings become ordinary
feedsync issues (``Issue``) on that product, in the run's issue log and the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

from feedsync.apis.settings import Settings
from feedsync.apis.sink import ApiSink
from feedsync.deltas import DeltaStore, Plan
from feedsync.errors import FeedsyncError
from feedsync.model import Issue, Severity
from feedsync.report import ChannelReport
from feedsync.secrets import redact
from feedsync.writers.base import Layout

Clock = Callable[[], float]


@dataclass
class Counts:
    """What one delivery did, for the report and the run summary."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    deleted: int = 0
    delete_failed: int = 0
    warnings: int = 0
    submissions: int = 0
    resolved: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def tally(self, op: str, accepted: bool) -> None:
        """Count one answer: an upsert accepted or rejected, a delete done or refused."""
        if op == "upsert":
            if accepted:
                self.accepted += 1
            else:
                self.rejected += 1
        elif accepted:
            self.deleted += 1
        else:
            self.delete_failed += 1


POLL_KEYS = frozenset({"poll_interval", "poll_max_interval", "poll_timeout"})
T = TypeVar("T")


@dataclass(frozen=True)
class Poller:
    """Polling with back-off: from ``interval`` growing by half up to ``most``, for at
    most ``timeout`` seconds (an Amazon feed, a Meta batch handle)."""

    interval: float
    most: float
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings, interval: float, most: float,
                      timeout: float) -> Poller:
        return cls(settings.number("poll_interval", interval, 0, 3600),
                   settings.number("poll_max_interval", most, 0, 3600),
                   settings.number("poll_timeout", timeout, 0, 86400))

    def wait(self, check: Callable[[], T | None]) -> T | None:
        """``check()`` until it returns something; ``None`` when the time is up."""
        interval = self.interval
        give_up = time.monotonic() + self.timeout
        while True:
            found = check()
            if found is not None:
                return found
            if time.monotonic() + interval > give_up:
                return None
            time.sleep(interval)
            interval = min(max(interval * 1.5, 0.01), max(self.most, interval))


class Failures:
    """Failures of single submissions, collected so the others still finish; the most
    serious is raised at the end."""

    def __init__(self) -> None:
        self.found: list[FeedsyncError] = []

    def add(self, error: FeedsyncError) -> None:
        self.found.append(error)

    def raise_worst(self) -> None:
        if self.found:
            worst = max(self.found, key=lambda e: int(e.exit_code))
            self.found = []
            raise worst


class IssueSink:
    """Writes the channel's per-product findings as JSON lines and counts them."""

    def __init__(self, path: Path | None, report: ChannelReport, channel: str) -> None:
        self.path = path
        self.report = report
        self.channel = channel
        self._handle: BinaryIO | None = None

    def add(self, code: str, severity: Severity, message: str, product_id: str | None,
            field: str | None = None, source: str | None = None,
            value: str | None = None) -> Issue:
        issue = Issue(code=code, severity=severity, message=redact(message),
                      channel=self.channel, product_id=product_id, field=field,
                      value=redact(value) if value else None, source=source)
        self.report.add(issue)
        if self.path is not None:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("ab")
            self._handle.write(json.dumps(issue.to_dict(), ensure_ascii=False)
                               .encode("utf-8", "backslashreplace") + b"\n")
        return issue

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass
class Context:
    """One delivery's run-time pieces, handed to the API channel."""

    store: DeltaStore
    run_id: int
    channel: str
    staging: Path
    issues: IssueSink
    clock: Clock = time.time
    counts: Counts = field(default_factory=Counts)
    notes: list[str] = field(default_factory=list)


class ApiChannel(Protocol):
    """One channel target delivered through an API (see docs/apis.md)."""

    kind: str
    target_id: str          # the delta store's target: channel + account identity
    base_output: str | None  # the feed output whose layout the sink uses; None: the first
    keepalive: float | None  # seconds; re-send unchanged products accepted longer ago
    hold_after: int          # identical rejections before a product is held back
    describe: str            # where it goes, for messages (no secrets)

    def make_sink(self, layout: Layout) -> ApiSink:
        """The build-time writer of this channel's wire records (feedsync/apis/sink.py)."""

    def resolve(self, ctx: Context) -> None: ...

    def send(self, ctx: Context, plan: Plan) -> None: ...
