"""``feedsync explain``: one product's way through every selected channel target.

It runs the same per-product core as a build (``feedsync/core.py``): the same ids and
duplicate check, the same store fan-out, the same controls, mapping, rules and writers'
``encode``, so the line or element it shows is the one a build writes. Products other
than the one asked about are only read for the duplicate check, except in targets
whose writer numbers its items (Amazon's message ids, ``numbered``): those see every
product before it, written into a sink that keeps nothing (and further parts of a split
feed into no file), so the message shown is numbered as the build would number it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from feedsync.channels.compiler import Data
from feedsync.config import Config
from feedsync.core import WRITTEN, ChannelTarget, Outcome
from feedsync.errors import ConfigError
from feedsync.model import Product, RowProblem
from feedsync.pipeline import Run, prepare_run
from feedsync.writers.split import SplitWriter

TraceOutcome = Literal["written", "rejected", "filtered", "skipped"]


@dataclass
class TargetTrace:
    """What one target made of the product: outcome, why, and what it would write.

    A fan-out target (local inventory) has one trace per store row in ``stores``.
    """

    outcome: TraceOutcome
    reason: str = ""
    source: str | None = None          # set for duplicate-id: the channel's id rule
    fired: list[str] | None = None      # controls and overrides that applied
    fields: dict[str, Any] | None = None
    rules: list[dict[str, Any]] | None = None
    issues: list[dict[str, object]] | None = None
    output: dict[str, str] | None = None   # output name -> the bytes a build writes
    store: str | None = None
    stores: list[TargetTrace] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.store is not None:
            data["store"] = self.store
        data["outcome"] = self.outcome
        data["reason"] = self.reason
        for key in ("source", "fired", "fields", "rules", "issues", "output"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.stores is not None:
            data["stores"] = [s.to_dict() for s in self.stores]
        return data


@dataclass
class Occurrence:
    """One catalog row holding the product (a repeated id has several)."""

    source: str                          # file:line
    record: dict[str, str] = field(default_factory=dict)
    joins: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)
    channels: dict[str, TargetTrace] = field(default_factory=dict)
    skipped: str | None = None           # the row problem, when the row was not read

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"source": self.source, "skipped": self.skipped}
        return {"source": self.source, "record": self.record, "joins": self.joins,
                "defaults": self.defaults,
                "channels": {name: t.to_dict() for name, t in self.channels.items()}}


@dataclass
class Explanation:
    """One product's way through the pipeline, per channel target (``feedsync explain``)."""

    product_id: str
    occurrences: list[Occurrence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "product_id": self.product_id,
                "occurrences": [o.to_dict() for o in self.occurrences]}


class _Sink(io.RawIOBase):
    """A binary file that keeps nothing: the document a stateful writer would write."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def explain(product_id: str, catalog: Path | str | None = None, channels: Iterable[str] = (),
            config: Config | None = None) -> Explanation:
    """Trace ``product_id`` (its catalog id, or the id a selected channel writes):
    source record, joins, controls, mapped fields, every rule's verdict with its source,
    and the output it produces, or why there is none.

    ``ConfigError`` when no row holds it.

    >>> explain("SKU-1", "catalog.csv", ["google"]).occurrences[0].source  # doctest: +SKIP
    """
    run = prepare_run(catalog, channels, None, config, write=False, command="explain")
    result = Explanation(product_id)
    try:
        _trace_all(run, product_id, result)
    finally:
        for target in run.targets:
            if target.stock is not None:
                target.stock.close()
    if not result.occurrences:
        raise ConfigError(f"no product with id {product_id!r} in the catalog",
                          tip="ids are matched exactly, case included, against the "
                              "catalog's id and the id each selected channel writes")
    return result


def _trace_all(run: Run, wanted: str, result: Explanation) -> None:
    stateful = set()
    for target in run.targets:
        target.encoding = list(target.outputs)
        if not all(o.writer.stateless and not getattr(o.writer, "numbered", False)
                   for o in target.outputs):
            stateful.add(target.name)
            for output in target.outputs:
                if isinstance(output.writer, SplitWriter):
                    output.writer.discard = True
                output.writer.start(_Sink())  # type: ignore[arg-type]  # a binary file
    defaults = run.defaults
    for record in run.records(run.open_source()):
        if isinstance(record, RowProblem):
            if record.product_id == wanted:
                result.occurrences.append(Occurrence(
                    source=f"{record.file}:{record.line}",
                    skipped=f"[{record.code}] {record.message}"))
            continue
        if not run.report.products_read:
            run.bind_columns(Product(record.data))
        run.report.products_read += 1
        product = Product(record.data)
        product.file, product.line = record.file, record.line
        joins = run.controls.apply(product) if run.controls.active else []
        used = [k for k, v in defaults.items() if v and not product.get(k)]
        run.complete(product)
        ids = run.ids.ids(product)
        firsts = run.ids.check(ids, product.line)
        catalog_id = product["id"]
        occurrence = None
        if catalog_id == wanted or wanted in ids:
            occurrence = Occurrence(source=f"{record.file}:{record.line}",
                                    record=dict(record.data), joins=joins, defaults=used)
            result.occurrences.append(occurrence)
        for target in run.targets:
            if occurrence is None and target.name not in stateful:
                continue
            first = firsts[target.group]
            if first:
                if occurrence is not None:
                    occurrence.channels[target.name] = TargetTrace(
                        outcome="rejected", reason=f"duplicate-id: the same id on line "
                        f"{first} is kept", source=target.duplicate_source)
                continue
            trace = _target(target, product, ids[target.group] or catalog_id, defaults,
                            occurrence is not None, target.name in stateful)
            if occurrence is not None and trace is not None:
                occurrence.channels[target.name] = trace


def _target(target: ChannelTarget, product: Product, product_id: str, defaults: Data,
            tracing: bool, stateful: bool) -> TargetTrace | None:
    traces = []
    views = target.views(product)
    for view in views:
        outcome = target.outcome(view, product_id, defaults, trace=tracing)
        if tracing:
            traces.append(_trace(target, view, outcome, defaults))
        if stateful and outcome.payload is not None:
            for output, data in zip(target.encoding, outcome.payload, strict=True):
                output.writer.write_encoded(data)
    if not tracing:
        return None
    if target.stock is None:
        return traces[0]
    return _stores(target, traces)


def _stores(target: ChannelTarget, traces: list[TargetTrace]) -> TargetTrace:
    """A fan-out target: one trace per store row, under one outcome."""
    assert target.stock is not None
    if not traces:
        return TargetTrace(outcome="skipped", reason="no row for this product in the store "
                           f"stock file {target.stock.source}", stores=[])
    kinds = [t.outcome for t in traces]
    overall: TraceOutcome = next(k for k in ("written", "rejected", "filtered") if k in kinds)
    written = kinds.count("written")
    return TargetTrace(outcome=overall, reason=f"{written} of {len(traces)} store rows written",
                       stores=traces)


def _trace(target: ChannelTarget, product: Product, outcome: Outcome,
           defaults: Data) -> TargetTrace:
    store = product.get("store_code") if target.stock is not None else None
    if outcome.item is None or outcome.seen_as is None:  # left out by the controls
        return TargetTrace(outcome=outcome.kind, reason=outcome.issues[0].message,
                           fired=outcome.fired, store=store)
    errors = [i for i in outcome.issues if i.severity == "error"]
    rules = target.channel.explain_rules(outcome.item, outcome.seen_as, target.market,
                                         defaults, target.context)
    output = {}
    if outcome.kind == WRITTEN and outcome.payload is not None:
        output = {o.name: data.decode("utf-8", "replace").removesuffix("\n")
                  for o, data in zip(target.encoding, outcome.payload, strict=True)}
    return TargetTrace(
        outcome=outcome.kind,
        reason="; ".join(f"[{i.code}] {i.message}" for i in errors),
        fired=outcome.fired + [f"override {name}" for name in target.config.overrides],
        fields=outcome.item, rules=rules, issues=[i.to_dict() for i in outcome.issues],
        output=output, store=store)
