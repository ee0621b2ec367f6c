"""Deliver a channel target through its API: resolve, plan, gate, send, record.

``push`` calls three functions here (its hooks are marked ``# API channels``):

- ``channels_for(targets)`` at plan time: builds each target's ``ApiChannel`` from its
  ``api:`` settings (secrets read and checked before anything runs) and adds the API sink
  output to the target, so the build's one pass writes the wire records;
- ``deliver(...)`` per target after the build: earlier submissions still waiting are
  finished first, then the plan (deltas against what the channel last accepted) passes
  the publish gate (``too-many-deletes`` among the rest), then it is sent;
- ``status(...)`` for ``feedsync status``: the channel's own view read back.

Order of a delivery, and why: resolving before planning means a submission whose answer
an earlier (killed) run never saw is recorded first, so nothing of it is sent twice; the
gate runs before anything is sent, so a refused push sends nothing (exit 5).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync.apis.base import ApiChannel, Clock, Context, Counts, IssueSink
from feedsync.apis.sink import is_sink
from feedsync.config import ChannelConfig, Config
from feedsync.core import ChannelTarget as Target
from feedsync.core import Output as _Output
from feedsync.deltas import DeltaStore, Plan
from feedsync.errors import (
    ConfigError,
    ExitCode,
    PublishFatal,
    PublishRetryable,
    SecurityRefusal,
)
from feedsync.gate import GateDecision, GatePolicy, evaluate
from feedsync.report import ChannelReport, RunReport
from feedsync.secrets import redact
from feedsync.state import DB_NAME, State
from feedsync.targets import _layout

DEFAULT_KIND = {"google": "google_merchant", "amazon": "amazon_feeds", "meta": "meta_batch"}
HELD_SOURCE = "docs/apis.md#held-back-products"


def api_channel(target: ChannelConfig) -> ApiChannel | None:
    """The target's API channel from its ``api:`` settings, or ``None`` without them."""
    if not target.api:
        return None
    from feedsync.apis.amazon_feeds import AmazonFeeds
    from feedsync.apis.google_merchant import GoogleMerchant
    from feedsync.apis.meta_batch import MetaBatch

    kinds: dict[str, type[GoogleMerchant] | type[AmazonFeeds] | type[MetaBatch]] = {
        "google_merchant": GoogleMerchant, "amazon_feeds": AmazonFeeds,
        "meta_batch": MetaBatch}
    key = f"channels.{target.name}.api"
    kind = target.api.get("kind", DEFAULT_KIND.get(target.template))
    if kind not in kinds:
        raise ConfigError(f"unknown API kind {kind!r}; known: {', '.join(kinds)}",
                          key=f"{key}.kind",
                          tip="set kind: google_merchant, amazon_feeds or meta_batch")
    return kinds[str(kind)](target.api, key, target)


def channels_for(targets: Sequence[Target], file_destinations: Mapping[str, int]
                 ) -> dict[str, ApiChannel]:
    """Build the API channels and add each one's sink output to its target.

    A target with no file destination builds only the sink: its feed files would go
    nowhere (and Amazon's would hit the 25,000-message cap of one document).
    """
    found: dict[str, ApiChannel] = {}
    for target in targets:
        channel = api_channel(target.config)
        if channel is None:
            continue
        base = channel.base_output or target.outputs[0].name
        overrides = dict(target.config.options.get(base, {}))
        overrides.update({"_output_dir": None, "_target": target.config.name,
                          "_output": base, "_unique_field": target.spec.id_field})
        sink = channel.make_sink(_layout(target.spec, base, overrides))
        output = _Output(name="api", path=Path(f"{target.config.name}.api.jsonl"),
                         writer=sink)
        if not file_destinations.get(target.config.name):
            target.outputs = []
        target.outputs.append(output)
        found[target.config.name] = channel
    return found


def sink_path(target: Target) -> Path:
    path: Path = next(o.path for o in target.outputs if is_sink(o.writer))
    return path


@dataclass
class ApiDelivery:
    """One channel target through its API, and what happened."""

    channel: str
    describe: str
    status: str = "pending"       # published | unchanged | refused | failed | dry-run
    plan: dict[str, int] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    gate: GateDecision | None = None
    error: str | None = None
    error_code: int = 0
    issue_log: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "channel": self.channel, "output": "api", "destination": self.describe,
            "status": self.status, "items": self.plan.get("items", 0), "plan": self.plan,
            "result": self.counts.to_dict(), "error": self.error, "exit_code": self.error_code,
            "issue_log": self.issue_log, "notes": self.notes}
        if self.gate is not None:
            data["gate"] = {"allowed": self.gate.allowed, "forced": self.gate.forced,
                            "reasons": [{"code": r.code, "message": r.message, "old": r.old,
                                         "new": r.new, "limit": r.limit}
                                        for r in self.gate.reasons]}
        return data

    @property
    def destination(self) -> str:
        return self.describe

    @property
    def items(self) -> int:
        return self.plan.get("items", 0)

    def result(self) -> ApiDelivery:
        """The record the run report keeps (this delivery itself: it holds no handles)."""
        return self

    def line(self) -> str:
        head = f"{self.channel} api -> {self.describe}: {self.status}"
        plan, counts = self.plan, self.counts
        if plan:
            head += (f" ({plan.get('new', 0)} new, {plan.get('changed', 0)} changed, "
                     f"{plan.get('keepalive', 0) + plan.get('full', 0)} re-sent, "
                     f"{plan.get('deletes', 0)} to delete, {plan.get('unchanged', 0)} "
                     f"unchanged, {plan.get('held', 0)} held back")
            if self.status in ("published", "failed"):
                head += (f"; accepted {counts.accepted}, rejected {counts.rejected}, "
                         f"deleted {counts.deleted}")
            head += ")"
        if self.error:
            head += f": {self.error}"
        elif self.gate is not None and self.gate.forced:
            head += " (gate overridden by --force)"
        return head


def deliver(target: Target, channel: ApiChannel, state: State, run_id: int,
            policy: GatePolicy, *, staging: Path, logs: Path, force: bool, full: bool,
            dry_run: bool, clock: Clock | None = None) -> ApiDelivery:
    """Resolve, plan, gate and send one target; failures end up in the delivery."""
    name = target.config.name
    delivery = ApiDelivery(name, channel.describe)
    store = DeltaStore(state, channel.target_id, clock or time.time)
    issues = IssueSink(logs / f"{name}.api.issues.jsonl", target.report, name)
    delivery.issue_log = str(issues.path)
    ctx = Context(store, run_id, name, staging, issues, clock or time.time,
                  counts=delivery.counts, notes=delivery.notes)
    try:
        if not dry_run:
            channel.resolve(ctx)
        plan = store.plan(sink_path(target), keepalive=channel.keepalive, full=full,
                          hold_after=channel.hold_after)
        delivery.plan = plan.counts()
        _report_held(plan, issues, channel.hold_after)
        delivery.gate = evaluate(name, plan.items, target.report.rejected,
                                 plan.previous or None, policy, force, deletes=plan.deletes)
        if not delivery.gate.allowed:
            delivery.status, delivery.error_code = "refused", int(ExitCode.GATE_REFUSED)
            delivery.error = "; ".join(r.message for r in delivery.gate.reasons)
            return delivery
        if dry_run:
            delivery.status = "dry-run"
            return delivery
        if plan.sending or plan.deletes:
            channel.send(ctx, plan)
            delivery.status = "published"
        else:
            delivery.status = "unchanged"
        store.forget_gone()
    except (PublishRetryable, PublishFatal, SecurityRefusal) as exc:
        delivery.status, delivery.error_code = "failed", int(exc.exit_code)
        delivery.error = redact(str(exc))
    finally:
        issues.close()
    return delivery


def _report_held(plan: Plan, issues: IssueSink, hold_after: int) -> None:
    for key, reason, count in plan.held_back():
        issues.add("api-held-back", "warning",
                   f"not sent: the channel refused this exact version {count} times "
                   f"(hold_after: {hold_after}); last answer: {reason}. It is sent again "
                   "once the product changes, or with --full", key, source=HELD_SOURCE)


# --- feedsync status -------------------------------------------------------------------------

def status(config: Config, channels: Sequence[str] = (), state_dir: Path | None = None
           ) -> RunReport:
    """The channels' own view: state counts per API target, and Google's item issues."""
    state_path = Path(state_dir) if state_dir is not None else config.state_dir
    targets = [c for c in config.channels if c.api and (not channels or c.name in channels
                                                         or c.template in channels)]
    if not targets:
        raise ConfigError("no channel with an api: section selected",
                          tip="see docs/apis.md; status reads what the API channels hold")
    if not (state_path / DB_NAME).exists():
        raise ConfigError(f"no state in {state_path}", tip="run `feedsync push` first")
    report = RunReport(command="status")
    folder = state_path / "status"
    with State.open(state_path) as state:
        for target in targets:
            channel = api_channel(target)
            assert channel is not None
            channel_report = ChannelReport(channel=target.template, target=target.name)
            report.channels.append(channel_report)
            summary = _state_summary(state, channel)
            log = folder / f"{target.name}.status.issues.jsonl"
            log.unlink(missing_ok=True)
            sink = IssueSink(log, channel_report, target.name)
            try:
                if channel.kind == "google_merchant":
                    summary.update(_google_status(channel, sink))
            except (PublishRetryable, PublishFatal, SecurityRefusal) as exc:
                summary["error"] = redact(str(exc))
                report.exit_code = max(report.exit_code, int(exc.exit_code))
            finally:
                sink.close()
            channel_report.issue_log = str(log) if log.exists() else None
            channel_report.written = summary["accepted"]
            channel_report.rejected = summary["rejected"]
            report.api_status = {**(report.api_status or {}), target.name: summary}
            report.messages = [*(report.messages or []), _status_line(target.name, summary)]
    return report


def _state_summary(state: State, channel: ApiChannel) -> dict[str, Any]:
    conn = state.connection
    with state.guard("could not be read"):
        accepted, rejected, held = conn.execute(
            "SELECT count(hash), sum(rejected IS NOT NULL),"
            " sum(rejected IS NOT NULL AND rejections >= ?) FROM deltas WHERE target = ?",
            (channel.hold_after, channel.target_id)).fetchone()
        pending = conn.execute("SELECT count(*) FROM submissions WHERE target = ?",
                               (channel.target_id,)).fetchone()[0]
    return {"kind": channel.kind, "destination": channel.describe, "accepted": accepted or 0,
            "rejected": rejected or 0, "held": held or 0, "pending_submissions": pending}


def _google_status(channel: Any, sink: IssueSink) -> dict[str, Any]:
    listed = with_issues = 0
    for offer_id, item_issues in channel.products():
        listed += 1
        with_issues += bool(item_issues)
        for issue in item_issues:
            channel.report_issue(sink, offer_id, issue)
    return {"listed": listed, "with_issues": with_issues}


def _status_line(name: str, summary: Mapping[str, Any]) -> str:
    text = (f"{name} -> {summary['destination']}: {summary['accepted']:,} accepted, "
            f"{summary['rejected']:,} rejected ({summary['held']:,} held back), "
            f"{summary['pending_submissions']} submission(s) waiting")
    if "listed" in summary:
        waiting = max(summary["accepted"] - summary["listed"], 0)
        text += (f"; Google lists {summary['listed']:,} ({summary['with_issues']:,} with "
                 f"issues, {waiting:,} accepted but not listed yet)")
    if "error" in summary:
        text += f"; read-back failed: {summary['error']}"
    return text
