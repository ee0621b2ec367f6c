"""The per-product core: one product's way through one channel target.

``build``/``validate`` (``pipeline.Run``), a parallel build's workers (``parallel``) and
``feedsync explain`` all call the same three steps, so they cannot drift apart:

1. ``IdGroups.ids(product)``: the product's id as each channel will write it (one value
   per distinct id expression); the caller checks them for duplicates in catalog order;
2. ``ChannelTarget.views(product)``: the product once, or once per store row for a
   fan-out channel (local inventory);
3. ``ChannelTarget.outcome(view, product_id)``: controls, mapping, overrides, rules and
   encoding, giving an ``Outcome`` (written, rejected or filtered, with its issues and
   the bytes each output would write).

Nothing here writes a file or counts anything: that stays with the caller, which sees
products in catalog order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jinja2.exceptions import SecurityError

from feedsync.channels.compiler import Data
from feedsync.channels.loader import ChannelSpec
from feedsync.channels.program import XML_ILLEGAL, CompiledChannel
from feedsync.codes import CODES
from feedsync.config import ChannelConfig
from feedsync.controls import TargetControls, expression_failed, reserves_fired
from feedsync.errors import FeedsyncError, TemplateError
from feedsync.model import Issue, Product
from feedsync.report import ChannelReport, IssueLog
from feedsync.rules.duplicates import SeenIds
from feedsync.stores import StoreStock
from feedsync.writers import ItemRejected, Writer
from feedsync.writers.atomic import AtomicFile

OutcomeKind = Literal["written", "rejected", "filtered"]
WRITTEN: OutcomeKind = "written"
REJECTED: OutcomeKind = "rejected"
FILTERED: OutcomeKind = "filtered"


@dataclass
class Output:
    """One output file of a target: its writer and, once opened, its atomic file."""

    name: str
    path: Path
    writer: Writer
    file: AtomicFile | None = None


@dataclass(slots=True)
class Outcome:
    """What happened to one product (or store view) in one target.

    ``payload`` holds the encoded bytes for each output in ``ChannelTarget.encoding``
    when the product is written. ``fill`` says which fields have a value (the report's
    fill counts), ``failed`` which expressions raised on this product. ``item`` is the
    mapped item; it, ``seen_as`` (the product after the target's controls) and ``fired``
    are kept only when tracing (explain).
    """

    kind: OutcomeKind
    issues: list[Issue]
    item: dict[str, Any] | None = None
    payload: list[bytes] | None = None
    fill: int = -1                   # bit i set: field i has a value; -1: not mapped
    failed: tuple[str, ...] = ()     # config keys of the expressions that raised
    fired: list[str] = field(default_factory=list)
    seen_as: Product | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker sends outcomes to the parent by the hundred thousand: a plain tuple of
        # what the parent needs (no item, no trace) pickles smallest.
        return (Outcome, (self.kind, self.issues, None, self.payload, self.fill, self.failed))

    def reject(self, issue: Issue) -> None:
        self.kind, self.payload = REJECTED, None
        self.issues.append(issue)


@dataclass
class ChannelTarget:
    """One channel target at run time: compiled template, controls, outputs and counts."""

    config: ChannelConfig
    spec: ChannelSpec
    channel: CompiledChannel
    outputs: list[Output]
    report: ChannelReport
    context: Data
    market: Data                 # the template's ``target`` variable: country, currency...
    controls: TargetControls
    duplicate_source: str
    stock: StoreStock | None = None
    log: IssueLog = field(default_factory=lambda: IssueLog(None))
    log_file: AtomicFile | None = None
    group: int = 0               # index of this target's id in ``IdGroups.ids``
    # The outputs whose bytes ``outcome`` encodes: those being written (build), or all
    # of them (explain shows each output's line). Set by the caller before the pass.
    encoding: list[Output] = field(default_factory=list)
    reached: int = 0             # outcomes settled (products, or store rows), not duplicates
    # config key -> (products it failed on, the first of those findings)
    failures: dict[str, tuple[int, Issue]] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        """Count an outcome settled in catalog order: fill, and failed expressions."""
        self.reached += 1
        if outcome.fired and reserves_fired(outcome.fired):
            self.report.reserved += 1
        if outcome.fill >= 0:
            self.report.fill.add(outcome.fill)
        if outcome.failed:
            found = [i for i in outcome.issues if i.code == "expression-failed"]
            for key, issue in zip(outcome.failed, found, strict=True):
                seen = self.failures.get(key)
                self.failures[key] = (seen[0] + 1, seen[1]) if seen else (1, issue)

    def broken_expression(self) -> TemplateError | None:
        """An expression that failed on every product it was evaluated on: the template
        (or the override) is broken, not the data. None when there is none."""
        for key, (count, first) in self.failures.items():
            filters = (f"channels.{self.name}.include", f"channels.{self.name}.exclude")
            evaluated = self.reached if key in filters else self.report.fill.evaluated
            if count >= evaluated > 0:
                return TemplateError(
                    f"{key}: the expression failed on every product ({count:,}); the first: "
                    f"{first.message.removeprefix(key + ': ')}",
                    file=first.file, line=first.line, product_id=first.product_id,
                    field=first.field,
                    tip="fix the expression; with data it cannot handle on some products "
                        "only, each is reported as expression-failed and the build goes on")
        return None

    @property
    def name(self) -> str:
        return self.config.name

    def views(self, product: Product) -> list[Product]:
        """The product once, or for a fan-out channel once per store row, the row's
        columns laid over it (none when the store stock file has no row for it).

        An empty cell keeps the product's value (the online price stands for a store that
        gives none). Each column is also kept as ``store_<column>`` with the row's own value,
        empty or not, so a channel can tell the store's value from the product's: a store
        row without a quantity must not take the online stock.
        """
        if self.stock is None:
            return [product]
        views = []
        for row in self.stock.rows_for(product["id"]):
            view = product.clone()
            values = {k: v for k, v in row.items() if v != ""}
            view.update(values)
            view.update({f"store_{k}": v for k, v in row.items()})
            view.clean = view.clean and not XML_ILLEGAL.search("".join(values.values()))
            views.append(view)
        return views

    def outcome(self, product: Product, product_id: str, defaults: Data,
                trace: bool = False) -> Outcome:
        """Controls, mapping, overrides, rules and encoding of one product; no side effect
        outside this target's stateful writers (see ``Writer.stateless``)."""
        outcome = self.evaluate(product, product_id, defaults, trace)
        if outcome.item is not None and outcome.kind == WRITTEN:
            try:
                outcome.payload = [o.writer.encode(outcome.item) for o in self.encoding]
            except ItemRejected as exc:
                outcome.reject(CODES[exc.code].issue(
                    message=exc.message, channel=self.name, product_id=product_id,
                    file=product.file, line=product.line, field=exc.field,
                    source=exc.source))
        if not trace:
            outcome.item = None
        return outcome

    def evaluate(self, product: Product, product_id: str, defaults: Data,
                 trace: bool = False) -> Outcome:
        """Filters, mapping and rules for one product; nothing is encoded.

        An expression that raises on this product's data makes it ``expression-failed``
        (rejected); a sandbox violation or a signal stops the run, located at the product.
        """
        try:
            return self._evaluate(product, product_id, defaults, trace)
        except FeedsyncError as exc:
            exc.product_id = exc.product_id or product_id
            exc.file, exc.line = exc.file or product.file, exc.line or product.line
            raise

    def _evaluate(self, product: Product, product_id: str, defaults: Data,
                  trace: bool) -> Outcome:
        controls = self.controls
        fired: list[str] = []
        if controls.active:
            verdict = controls.decide(product, self.market, defaults, product_id)
            fired = verdict.fired
            if verdict.excluded is not None:
                return Outcome(FILTERED, [verdict.excluded], fired=fired)
            if verdict.rejected is not None:
                keys = (verdict.failed.key,) if verdict.failed is not None else ()
                return Outcome(REJECTED, [verdict.rejected], failed=keys, fired=fired)
            product = verdict.product
        channel = self.channel
        item, failures = channel.map_checked(product, self.market, defaults, self.context)
        if controls.override_columns:
            fired += controls.apply_overrides(item, product, channel.separator_of)
        issues = channel.validate(item, product, self.market, defaults, self.context,
                                  product_id, failures)
        failed: tuple[str, ...] = ()
        if failures:
            issues += [expression_failed(f, self.name, product_id, product) for f in failures]
            failed = tuple(f.key for f in failures)
        kind = REJECTED if any(i.severity == "error" for i in issues) else WRITTEN
        return Outcome(kind, issues, item, fill=channel.fill_mask(item), failed=failed,
                       fired=fired, seen_as=product if trace else None)


IdFunction = Callable[[Product], str]


class IdGroups:
    """The id each target writes, and one duplicate-id table per distinct id.

    Duplicates are checked on the id as the channel writes it: after the channel's
    expression, a config override or an override column, and the cleaning every value
    gets (characters XML cannot carry removed). Targets whose id comes from the same
    context-free expression share one value and one table (``SeenIds``: ~14 bytes an
    id), so the common case (every channel maps ``product.id | single_line``) pays for
    one table however many channels run. The id is taken from the product as read (joins
    and defaults applied), before a target's own controls (currency, reserve), which
    never touch ids.
    """

    def __init__(self) -> None:
        self.functions: list[IdFunction] = []
        self.tables: list[SeenIds] = []
        self._expected = 0

    def bind(self, targets: Sequence[ChannelTarget], defaults: Data) -> None:
        """Group the targets by how their id is made (override columns are known now)."""
        keys: dict[tuple[str, ...], int] = {}
        for target in targets:
            key, function = _id_function(target, defaults)
            if key not in keys:
                keys[key] = len(self.functions)
                self.functions.append(function)
                self.tables.append(SeenIds())
                if self._expected:
                    self.tables[-1].reserve(self._expected)
            target.group = keys[key]

    def ids(self, product: Product) -> list[str]:
        return [function(product) for function in self.functions]

    def check(self, ids: Sequence[str], line: int) -> list[int]:
        """Per group: the line where this id was first seen, or 0 for a first occurrence."""
        return [table.add(value, line) if value else 0
                for table, value in zip(self.tables, ids, strict=True)]

    def reserve(self, expected: int) -> None:
        self._expected = expected
        for table in self.tables:
            table.reserve(expected)


def _id_function(target: ChannelTarget, defaults: Data) -> tuple[tuple[str, ...], IdFunction]:
    """The key that says which targets share an id, and the function computing it."""
    name = target.spec.id_field
    if name is None:
        return ("catalog",), _catalog_id
    channel = target.channel
    column = next((c for f, c in target.controls.override_columns if f == name), "")
    value = channel.field_function(name)
    shared = channel.context_free(name) and not column
    key = ("expression", target.spec.fields[name].value,
           "" if shared else target.name, column)
    market, context = target.market, target.context

    def id_of(product: Product) -> str:
        raw = product.get(column, "") if column else ""
        if not raw:
            try:
                raw = value(product, market, defaults, context)
            except TemplateError:  # an undefined value: the mapping reports it
                return ""
            except (SecurityError, FeedsyncError):  # a sandbox violation, SIGTERM: stop
                raise
            except Exception:  # noqa: BLE001 - the mapping reports it on this product
                return ""
        text = raw if type(raw) is str else ",".join(raw) if isinstance(raw, list) else str(raw)
        return XML_ILLEGAL.sub("", text) if XML_ILLEGAL.search(text) else text

    return key, id_of


def _catalog_id(product: Product) -> str:
    return product["id"]
