"""``push``: lock, build, gate, publish, record. Safe to run unattended from cron.

The order is the promise:
1. take the lock (a second push on the same state exits at once with LOCKED);
2. build every channel in one pass into a staging folder under the state directory;
3. for each channel and destination, ask the publish gate (empty or shrunk feed, too many
   rejects) against the last good feed recorded for that destination;
4. publish what passed, each transport uploading to a temporary name and renaming;
5. record the run and every published feed (with its item count and sha256) in state;
6. return a report whose ``exit_code`` is the most serious outcome.

A refusal or a failure for one destination never stops the others, and never touches
the live feed there. Nothing here prints; events go to the ``feedsync`` logger.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync.apis import deliver as apis  # API channels (issue 12, docs/apis.md)
from feedsync.apis.base import ApiChannel
from feedsync.apis.sink import is_sink
from feedsync.config import ChannelConfig, Config, gate_policy
from feedsync.core import ChannelTarget, Output
from feedsync.destinations import destination_of
from feedsync.errors import (
    ConfigError,
    ExitCode,
    FeedsyncError,
    Interrupted,
    PublishFatal,
    PublishRetryable,
    SecurityRefusal,
)
from feedsync.fileio import sha256_file
from feedsync.gate import GateDecision, GatePolicy, evaluate
from feedsync.htmlreport import DEFAULT_BOUNDS, recent_runs, write_run_html
from feedsync.lock import RunLock
from feedsync.pipeline import ProgressCallback, Run
from feedsync.publishers.base import Destination, Publisher, Receipt, publisher_for
from feedsync.report import DeliveryResult, DeliveryStatus, LastGood, RollbackInfo, RunReport
from feedsync.secrets import redact
from feedsync.state import FeedRecord, RunStatus, State
from feedsync.targets import prepare_targets, resolve_targets
from feedsync.writers.split import SplitWriter, part_path

log = logging.getLogger("feedsync.push")
# Earlier parts looked for when a push writes fewer (a part number past it is not named).
MAX_REPORTED_PARTS = 1000

# When several destinations fail differently, the run exits with the most serious code.
_SEVERITY = [ExitCode.SECURITY, ExitCode.PUBLISH_FATAL, ExitCode.PUBLISH_RETRYABLE,
             ExitCode.GATE_REFUSED, ExitCode.OK]


@dataclass
class Delivery:
    """One feed file to one destination, and what happened to it."""

    channel: str
    output: str
    file: Path
    destination: Destination
    publisher: Publisher
    remote_name: str
    key: str                         # the destination + file, as recorded in state
    status: DeliveryStatus = "pending"
    gate: GateDecision | None = None
    receipt: Receipt | None = None
    error: str | None = None
    error_code: int = 0
    items: int = 0
    rejected: int = 0
    sha256: str = ""
    last_good: LastGood | None = None

    def result(self) -> DeliveryResult:
        """What the report keeps of this delivery."""
        return DeliveryResult(
            channel=self.channel, output=self.output, destination=self.key,
            status=self.status, items=self.items, rejected=self.rejected, sha256=self.sha256,
            last_good=self.last_good, error=self.error, exit_code=self.error_code,
            gate=self.gate, receipt=self.receipt)


@dataclass
class PushPlan:
    config: Config
    catalog: Path
    targets: list[ChannelTarget]
    destinations: dict[str, list[Destination]]
    state_dir: Path
    policies: dict[str, GatePolicy] = field(default_factory=dict)
    staging: Path = field(default_factory=Path)
    apis: dict[str, ApiChannel] = field(default_factory=dict)   # API channels, by target


def destinations_for(target: ChannelConfig, cli_urls: Sequence[str]) -> list[Destination]:
    """The channel's configured destinations plus any given on the command line."""
    found = [destination_of(raw, f"channels.{target.name}.destinations[{i}]")
             for i, raw in enumerate(target.destinations)]
    # --to URLs are checked by publisher_for, before anything is locked (plan_push).
    return found + [Destination(url, {}) for url in cli_urls]


def remote_key(destination: Destination, remote_name: str) -> str:
    shown = destination.display()
    return shown + remote_name if shown.endswith("/") else shown


def plan_push(config: Config, catalog: Path | str | None, channels: Iterable[str],
              to: Sequence[str], state_dir: Path | str | None) -> PushPlan:
    """Check everything a push needs before anything is read or locked."""
    catalog_path = Path(catalog) if catalog is not None else config.catalog.path
    if catalog_path is None:
        raise ConfigError("no catalog given",
                          tip="pass the catalog file, or set catalog.path in the config")
    state = Path(state_dir) if state_dir is not None else config.state_dir
    chosen = resolve_targets(config, list(channels))
    # The gate and the destinations first: they need no template and no store index.
    policies = {c.name: gate_policy(config, c) for c in chosen}
    destinations: dict[str, list[Destination]] = {}
    for channel in chosen:
        found = destinations_for(channel, to)
        if not found and not channel.api:
            raise ConfigError(
                f"channel {channel.name!r} has nowhere to go",
                key=f"channels.{channel.name}.destinations",
                tip="add destinations: in the config, or --to URL (e.g. file:///srv/feeds/), "
                    "or an api: section (docs/apis.md)")
        for destination in found:
            publisher_for(destination)  # reads the secrets and key files it names
        destinations[channel.name] = found
    targets = prepare_targets(config, list(channels), None, True)
    # API channels: credentials checked now, the API sink added to the target's outputs.
    api_channels = apis.channels_for(targets, {k: len(v) for k, v in destinations.items()})
    return PushPlan(config=config, catalog=catalog_path, targets=targets,
                    destinations=destinations, state_dir=state, policies=policies,
                    apis=api_channels)


def push(catalog: Path | str | None = None, channels: Iterable[str] = (),
         config: Config | None = None, *, to: Sequence[str] = (), force: bool = False,
         dry_run: bool = False, state_dir: Path | str | None = None,
         progress: ProgressCallback | None = None, full: bool = False,
         clock: Callable[[], float] | None = None) -> RunReport:
    """Build and deliver every selected channel; see the module docstring for the order.

    API channels (``api:``) send only what changed since the channel last accepted it;
    ``full`` re-sends everything. ``clock`` (seconds since the epoch) is for tests of the
    keep-alive window.

    >>> report = push("catalog.csv", ["google"], to=["file:///srv/feeds/"])  # doctest: +SKIP
    """
    config = config or Config()
    plan = plan_push(config, catalog, channels, to, state_dir)
    plan.state_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(plan.state_dir, "push"), State.open(plan.state_dir,
                                                      keep=max(config.keep_feeds, 1)) as state:
        run_id = state.begin_run("push --dry-run" if dry_run else "push")
        log.info("run %d started: %d channel(s)", run_id, len(plan.targets))
        plan.staging = plan.state_dir / "staging" / str(run_id)
        _remove_stale_staging(plan.staging.parent)
        plan.staging.mkdir(parents=True, exist_ok=True)
        try:
            report = _push(plan, state, run_id, force, dry_run, progress, full, clock)
        except FeedsyncError as exc:
            # SIGTERM arrives as Interrupted: record it as such, like SIGINT below.
            ended: RunStatus = "interrupted" if isinstance(exc, Interrupted) else "failed"
            state.finish_run(run_id, ended, int(exc.exit_code), {"error": redact(str(exc))})
            raise
        except BaseException:
            state.finish_run(run_id, "interrupted", int(ExitCode.INTERRUPTED), {})
            raise
        finally:
            shutil.rmtree(plan.staging, ignore_errors=True)
        status: RunStatus = "ok" if report.exit_code == 0 else (
            "refused" if report.exit_code == ExitCode.GATE_REFUSED else "failed")
        state.finish_run(run_id, status, report.exit_code, _summary(report))
        log.info("run %d finished: %s (exit %d)", run_id, status, report.exit_code)
        return report


def _push(plan: PushPlan, state: State, run_id: int, force: bool, dry_run: bool,
          progress: ProgressCallback | None, full: bool = False,
          clock: Callable[[], float] | None = None) -> RunReport:
    for target in plan.targets:
        target.report.files = {o.name: str(plan.staging / o.path.name) for o in target.outputs}
        for output in target.outputs:
            output.path = plan.staging / output.path.name
    report = Run(plan.config, plan.catalog, plan.targets, plan.staging, True, "push",
                 progress, require_products=False).execute()
    log.info("built %d products into %d channel(s)", report.products_read, len(plan.targets))
    _keep_issue_logs(plan, report, run_id, max(plan.config.keep_feeds, 1))
    deliveries: list[Delivery | apis.ApiDelivery] = []
    stale: list[str] = []
    for target in plan.targets:
        policy = plan.policies[target.name]
        for output in target.outputs:
            if is_sink(output.writer):
                continue   # the API channel's records, delivered below
            for destination in plan.destinations[target.config.name]:
                # Every part of a split output (writers/split.py) goes, each one gated on
                # the target's total, as one file was before: the set is all or nothing
                # at the gate, part 1 keeping the output's own name.
                for path in _parts_of(output):
                    delivery = Delivery(
                        channel=target.config.name, output=output.name, file=path,
                        destination=destination, publisher=publisher_for(destination),
                        remote_name=path.name, key=remote_key(destination, path.name),
                        items=target.report.written, rejected=target.report.rejected,
                        sha256=sha256_file(path).sha256)
                    _deliver(delivery, state, run_id, policy, force, dry_run)
                    deliveries.append(delivery)
                stale.extend(_stale_remote_parts(state, target.config.name, destination,
                                                 output))
        api = plan.apis.get(target.config.name)
        if api is not None:   # API channels
            deliveries.append(apis.deliver(
                target, api, state, run_id, policy, staging=plan.staging,
                logs=plan.state_dir / "logs" / str(run_id), force=force, full=full,
                dry_run=dry_run, clock=clock))
    report.dry_run = dry_run
    report.deliveries = [d.result() for d in deliveries]
    report.messages = [d.line() if isinstance(d, apis.ApiDelivery) else _line(d)
                       for d in deliveries] + stale
    report.exit_code = _worst(d.error_code for d in deliveries)
    _keep_html(plan, report, state, run_id)  # while the staged feeds are there to preview
    for target in plan.targets:
        # The staging copies are gone after the run; the deliveries say where feeds went.
        target.report.files = {}
    return report


def _parts_of(output: Output) -> list[Path]:
    """The files an output wrote: its parts when split, else its one file."""
    writer = output.writer
    if isinstance(writer, SplitWriter) and writer.parts:
        return [part.path for part in writer.parts]
    return [output.path]


def _stale_remote_parts(state: State, channel: str, destination: Destination,
                        output: Output) -> list[str]:
    """Parts published earlier to ``destination`` beyond this run's count, named.

    Publishers only upload (no remote delete, reliability D6: nothing but feedsync's own
    temps is ever removed remotely), so a smaller set leaves them there: say so.
    """
    parts = _parts_of(output)
    current = {remote_key(destination, p.name) for p in parts}
    earlier = {remote_key(destination, part_path(output.path, n).name)
               for n in range(len(parts) + 1, MAX_REPORTED_PARTS)}
    lines = []
    for key in sorted({r.destination for r in state.good_feeds(channel)} & earlier - current):
        line = (f"{channel}: {key} is a part of an earlier, bigger feed; feedsync does not "
                "delete remote files: remove it, or the channel reads old products from it")
        log.warning("%s", line)
        lines.append(line)
    return lines


def _deliver(delivery: Delivery, state: State, run_id: int, policy: GatePolicy, force: bool,
             dry_run: bool) -> None:
    last = state.last_good(delivery.channel, delivery.key)
    if last is not None:
        delivery.last_good = LastGood(run=last.run_id, items=last.items, sha256=last.sha256)
    delivery.gate = evaluate(delivery.channel, delivery.items, delivery.rejected,
                             last.items if last else None, policy, force)
    if not delivery.gate.allowed:
        delivery.status, delivery.error_code = "refused", int(ExitCode.GATE_REFUSED)
        delivery.error = "; ".join(r.message for r in delivery.gate.reasons)
        log.warning("gate refused %s -> %s: %s", delivery.channel, delivery.key, delivery.error)
        return
    if delivery.gate.forced:
        log.warning("gate overridden by --force for %s -> %s", delivery.channel, delivery.key)
    if _unchanged(last, delivery) and not force and not _interrupted_since(state, last, run_id):
        delivery.status = "unchanged"
        log.info("unchanged, not uploaded: %s -> %s", delivery.channel, delivery.key)
        return
    if dry_run:
        delivery.status = "dry-run"
        log.info("dry run: would upload %s (%d items) to %s", delivery.file.name,
                 delivery.items, delivery.key)
        return
    _publish(delivery)
    if delivery.status == "published":
        state.record_feed(run_id, delivery.channel, delivery.key, delivery.remote_name,
                          delivery.items, delivery.rejected, delivery.file, published=True)


def _publish(delivery: Delivery) -> None:
    log.info("uploading %s to %s", delivery.file.name, delivery.key)
    try:
        delivery.receipt = delivery.publisher.publish(delivery.file, delivery.remote_name)
    except (PublishRetryable, PublishFatal, SecurityRefusal) as exc:
        delivery.status, delivery.error_code = "failed", int(exc.exit_code)
        delivery.error = redact(str(exc))
        log.error("upload failed %s -> %s: %s", delivery.channel, delivery.key, delivery.error)
        return
    delivery.status = "published"
    log.info("published %s to %s (%d bytes, %s, %d attempt(s))", delivery.file.name,
             delivery.key, delivery.receipt.bytes, delivery.receipt.method,
             delivery.receipt.attempts)


def _unchanged(last: FeedRecord | None, delivery: Delivery) -> bool:
    return last is not None and last.sha256 == delivery.sha256


def _interrupted_since(state: State, last: FeedRecord | None, run_id: int) -> bool:
    """True when a run after ``last`` was killed: it may have replaced the live file and
    died before recording it, so the state no longer proves the remote is unchanged."""
    if last is None:
        return False
    later = [r for r in state.runs(max(run_id - last.run_id, 1)) if last.run_id < r.id < run_id]
    if any(r.status == "interrupted" for r in later):
        log.info("a run since run %d was interrupted: uploading again rather than trusting "
                 "the recorded feed", last.run_id)
        return True
    return False


def _keep_issue_logs(plan: PushPlan, report: RunReport, run_id: int, keep: int) -> None:
    """Move the run's issue logs out of staging to ``<state>/logs/<run>/``; keep ``keep``.

    The staging folder is removed after every run, and "why was my product not sent?"
    must still have an answer the next morning.
    """
    logs = plan.state_dir / "logs"
    folder = logs / str(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    for target in plan.targets:
        if target.report.issue_log:
            kept = folder / Path(target.report.issue_log).name
            shutil.move(target.report.issue_log, kept)
            target.report.issue_log = str(kept)
    if report.catalog_log:
        kept = folder / Path(report.catalog_log).name
        shutil.move(report.catalog_log, kept)
        report.catalog_log = str(kept)
    runs = sorted((p for p in logs.iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name))
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _keep_html(plan: PushPlan, report: RunReport, state: State, run_id: int) -> None:
    """The run's HTML report beside its issue logs, with the trend from earlier runs.

    The feeds are already delivered: a report that cannot be written is logged, never
    turned into a failed push.
    """
    path = plan.state_dir / "logs" / str(run_id) / "report.html"
    try:
        write_run_html(report, path, plan.config,
                       recent_runs(state, DEFAULT_BOUNDS.trend_runs, exclude=run_id))
    except Exception as exc:  # any failure, even a bug: see the docstring
        log.error("could not write the HTML report %s: %s: %s", path, type(exc).__name__,
                  redact(str(exc)))


def _remove_stale_staging(folder: Path) -> None:
    """Remove staging folders that killed runs left; we hold the lock, so none is in use."""
    try:
        entries = [e for e in folder.iterdir() if e.is_dir() and not e.is_symlink()]
    except OSError:
        return
    for entry in entries:
        log.info("removing the staging folder of an interrupted run: %s", entry)
        shutil.rmtree(entry, ignore_errors=True)


def _worst(codes: Iterable[int]) -> int:
    present = set(codes)
    for code in _SEVERITY:
        if int(code) in present:
            return int(code)
    return 0


def _line(delivery: Delivery) -> str:
    head = f"{delivery.channel} {delivery.output} -> {delivery.key}: {delivery.status}"
    if delivery.error:
        return f"{head} ({delivery.error})"
    if delivery.gate is not None and delivery.gate.forced:
        return f"{head} (gate overridden by --force)"
    return head


def _part_summary(parts: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """Per split output, each part's file name, items and SHA-256 (``history``)."""
    return {output: [{"file": Path(p["file"]).name, "items": p["items"], "sha256": p["sha256"]}
                     for p in found] for output, found in parts.items()}


def _summary(report: RunReport) -> Mapping[str, Any]:
    return {"products": report.products_read, "skipped": report.rows_skipped,
            "channels": {c.target: {"written": c.written, "rejected": c.rejected,
                                    **({"parts": _part_summary(c.parts)} if c.parts else {})}
                         for c in report.channels},
            "deliveries": [{"channel": d.channel, "destination": d.destination,
                            "status": d.status, "items": d.items}
                           for d in report.deliveries or []]}


def rollback(channel: str, config: Config | None = None, *, run: int | None = None,
             to: Sequence[str] = (), state_dir: Path | str | None = None) -> RunReport:
    """Re-publish an earlier good feed of ``channel`` (default: the one before the latest)."""
    config = config or Config()
    state_path = Path(state_dir) if state_dir is not None else config.state_dir
    target = next((c for c in config.channels if c.name == channel),
                  ChannelConfig(name=channel, template=channel))
    destinations = destinations_for(target, to)
    if not destinations:
        raise ConfigError(f"channel {channel!r} has nowhere to go",
                          tip="add destinations: in the config, or --to URL")
    state_path.mkdir(parents=True, exist_ok=True)
    report = RunReport(command="rollback")
    with RunLock(state_path, "push"), State.open(state_path,
                                                  keep=max(config.keep_feeds, 1)) as state:
        chosen = _rollback_choice(state, channel, run)
        run_id = state.begin_run(f"rollback {channel} to run {chosen.run_id}")
        assert chosen.kept_path is not None
        deliveries = []
        for destination in destinations:
            delivery = Delivery(channel=channel, output=chosen.file_name, file=chosen.kept_path,
                                destination=destination, publisher=publisher_for(destination),
                                remote_name=chosen.file_name,
                                key=remote_key(destination, chosen.file_name),
                                items=chosen.items, rejected=chosen.rejected,
                                sha256=chosen.sha256)
            _publish(delivery)
            if delivery.status == "published":
                state.record_feed(run_id, channel, delivery.key, delivery.remote_name,
                                  delivery.items, delivery.rejected, chosen.kept_path, True)
            deliveries.append(delivery)
        report.exit_code = _worst(d.error_code for d in deliveries)
        report.rollback = RollbackInfo(channel=channel, from_run=chosen.run_id,
                                       sha256=chosen.sha256, items=chosen.items)
        report.deliveries = [d.result() for d in deliveries]
        report.messages = [_line(d) for d in deliveries]
        state.finish_run(run_id, "ok" if report.exit_code == 0 else "failed",
                         report.exit_code, _summary(report))
    return report


def _rollback_choice(state: State, channel: str, run: int | None) -> FeedRecord:
    feeds = [f for f in state.good_feeds(channel) if f.kept_path is not None
             and f.kept_path.exists()]
    if run is not None:
        for feed in feeds:
            if feed.run_id == run:
                return feed
        raise ConfigError(f"no kept good feed of {channel!r} from run {run}",
                          tip="see `feedsync history` for runs with feeds still kept")
    newest = feeds[0].sha256 if feeds else None
    for feed in feeds:
        if feed.sha256 != newest:
            return feed
    raise ConfigError(f"no earlier good feed of {channel!r} to roll back to",
                      tip="see `feedsync history`")
