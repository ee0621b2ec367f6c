"""The merchandiser's controls, applied between reading a product and mapping it.

Catalog-wide (once per product): supplemental files joined by id, and a category
mapping table. Per channel target: include/exclude filters, the inventory reserve, the
price for the target's currency, and override columns in the catalog
(``title@tiktok`` replaces the mapped ``title`` for the ``tiktok`` target).

Nothing is converted or dropped silently: every join miss, unmapped category, missing
currency price and filtered product is counted in the report (and, per product, in the
issue log).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from feedsync.channels.compiler import Data, ExpressionCompiler, build_function, make_environment
from feedsync.channels.loader import load_table
from feedsync.channels.program import Failure, failure_of
from feedsync.codes import CODES
from feedsync.config import CategoryMap, ChannelConfig, Config, Reserve, Supplemental
from feedsync.errors import ConfigError, TemplateError
from feedsync.model import Issue, Product, RowProblem
from feedsync.report import CategoryMapSummary, ControlsSummary, JoinSummary
from feedsync.sources import SourceOptions, open_catalog

# How a reserve that applied is named among the controls that fired.
RESERVE_FIRED = "reserve:"


def reserves_fired(fired: list[str]) -> list[str]:
    """The reserves among the controls that fired: the report counts them
    (``ChannelTarget.count``), so a parallel build's packed outcome carries them."""
    return [entry for entry in fired if entry.startswith(RESERVE_FIRED)]


@dataclass
class JoinStats:
    path: str
    rows: int = 0
    matched: int = 0            # catalog products that found a row
    missing: int = 0            # catalog products with no row in this file
    orphans: int = 0            # rows whose id matched no catalog product
    problems: int = 0           # rows the reader could not use
    _seen: set[str] = field(default_factory=set, repr=False)

    def summary(self) -> JoinSummary:
        return JoinSummary(path=self.path, rows=self.rows, matched=self.matched,
                           missing=self.missing, orphans=self.orphans, problems=self.problems)


class _Join:
    """One supplemental file held as id -> columns. Memory grows with *this* file only."""

    def __init__(self, spec: Supplemental) -> None:
        self.spec = spec
        self.stats = JoinStats(path=str(spec.path))
        self.rows: dict[str, dict[str, str]] = {}
        source = open_catalog(spec.path, SourceOptions(
            format=spec.format,
            encoding=spec.encoding, delimiter=spec.delimiter))
        for record in source.records():
            if isinstance(record, RowProblem):
                self.stats.problems += 1
                continue
            key = record.data.get(spec.key, "").strip()
            if not key:
                self.stats.problems += 1
                continue
            columns = spec.columns or [c for c in record.data if c != spec.key]
            self.rows[key] = {c: record.data.get(c, "") for c in columns}
        self.stats.rows = len(self.rows)

    def apply(self, product: Product) -> bool:
        row = self.rows.get(product["id"])
        if row is None:
            self.stats.missing += 1
            return False
        self.stats.matched += 1
        self.stats._seen.add(product["id"])
        fill_only = self.spec.mode == "fill"
        for column, value in row.items():
            if value and (not fill_only or not product.get(column)):
                product[column] = value
        return True

    def finish(self) -> None:
        self.stats.orphans = len(self.rows.keys() - self.stats._seen)


class CatalogControls:
    """Joins and the category map: applied to every product once, before the fan-out."""

    def __init__(self, config: Config) -> None:
        self.joins = [_Join(spec) for spec in config.supplemental]
        self.category: CategoryMap | None = config.category_map
        self.category_table = (load_table(self.category.path, ConfigError)
                               if self.category else {})
        self.unmapped: Counter[str] = Counter()
        self.mapped = 0

    @property
    def active(self) -> bool:
        return bool(self.joins or self.category)

    def apply(self, product: Product) -> list[str]:
        """Apply joins and mapping; return what was applied (for ``explain``)."""
        applied = [j.stats.path for j in self.joins if j.apply(product)]
        if self.category and not product.get(self.category.target):
            value = product.get(self.category.source, "")
            mapped = self.category_table.get(value)
            if mapped:
                product[self.category.target] = mapped
                self.mapped += 1
                applied.append(f"category_map: {value} -> {mapped}")
            elif value:
                self.unmapped[value] += 1
        return applied

    def finish(self) -> ControlsSummary | None:
        """What the joins and the category map did; None when neither is configured."""
        for join in self.joins:
            join.finish()
        if not self.active:
            return None
        category = None
        if self.category:
            category = CategoryMapSummary(
                path=str(self.category.path), mapped=self.mapped,
                unmapped_products=sum(self.unmapped.values()),
                unmapped_values=dict(self.unmapped.most_common(20)))
        return ControlsSummary(supplemental=tuple(j.stats.summary() for j in self.joins),
                               category_map=category)


@dataclass
class Verdict:
    """What the per-target controls decided for one product."""

    product: Product
    excluded: Issue | None = None
    rejected: Issue | None = None
    fired: list[str] = field(default_factory=list)
    failed: Failure | None = None   # the include/exclude expression raised on this product


class TargetControls:
    """Filters, reserve, currency and override columns for one channel target."""

    def __init__(self, target: ChannelConfig, template: str, market: Data) -> None:
        self.name = target.name
        self.template = template
        self.reserve: Reserve | None = target.reserve
        self.currency = market.get("currency", "")
        self._include = _predicate(target.include, f"channels.{target.name}.include")
        self._exclude = _predicate(target.exclude, f"channels.{target.name}.exclude")
        self.override_columns: list[tuple[str, str]] = []

    @property
    def active(self) -> bool:
        return bool(self._include or self._exclude or self.reserve or self.currency)

    def bind_columns(self, columns: Iterable[str], fields: Iterable[str]) -> None:
        """Find ``field@target`` / ``field@template`` override columns in the header."""
        names = set(columns)
        for name in fields:
            for suffix in (self.name, self.template):
                column = f"{name}@{suffix}"
                if column in names:
                    self.override_columns.append((name, column))
                    break

    def decide(self, product: Product, market: Data, defaults: Data,
               product_id: str | None = None) -> Verdict:
        """``product_id``: the id findings name (as the channel writes it)."""
        ref = product["id"] if product_id is None else product_id
        verdict = Verdict(product)
        for which, predicate, keep in (("include", self._include, True),
                                       ("exclude", self._exclude, False)):
            if predicate is None:
                continue
            try:
                decided = predicate(product, market, defaults)
            except Exception as exc:  # noqa: BLE001 - _failure stops on what is fatal
                failure = failure_of(exc, f"channels.{self.name}.{which}", None)
                verdict.failed = failure
                verdict.rejected = expression_failed(failure, self.name, ref, product)
                return verdict
            if decided is not keep:
                verdict.excluded = self._filtered(product, ref, which)
                return verdict
        if self.currency or self.reserve:
            verdict.product = _copy(product)
        if self.currency:
            self._choose_price(verdict, ref)
            if verdict.rejected:
                return verdict
        if self.reserve:
            _apply_reserve(verdict, self.reserve)
        return verdict

    def apply_overrides(self, item: dict[str, Any], product: Product,
                        multi: Callable[[str], str | None]) -> list[str]:
        fired = []
        for name, column in self.override_columns:
            value = product.get(column, "")
            if value:
                separator = multi(name)
                item[name] = ([v.strip() for v in value.split(separator) if v.strip()]
                              if separator else value)
                fired.append(f"override column {column}")
        return fired

    def _filtered(self, product: Product, ref: str, which: str) -> Issue:
        code = CODES["include-filter"] if which == "include" else CODES["exclude-filter"]
        return code.issue(channel=self.name, product_id=ref, file=product.file,
                          line=product.line)

    def _choose_price(self, verdict: Verdict, ref: str) -> None:
        """Take the price in the target's currency; never convert."""
        product, currency = verdict.product, self.currency
        own = product.get("currency", "").upper()
        column = f"price_{currency}"
        if product.get(column):
            product["price"] = product[column]
            product["sale_price"] = product.get(f"sale_price_{currency}", "")
            product["currency"] = currency
            verdict.fired.append(f"price from column {column}")
        elif own == currency or (not own and _has_currency(product.get("price", ""), currency)):
            product["currency"] = currency
        else:
            verdict.rejected = CODES["no-price-in-target-currency"].issue(
                channel=self.name, product_id=ref, file=product.file, line=product.line,
                field="price", value=product.get("price", ""), currency=currency,
                own=own or "unknown", column=column)


def _has_currency(price: str, currency: str) -> bool:
    return price.strip().upper().endswith(" " + currency)


def _apply_reserve(verdict: Verdict, reserve: Reserve) -> None:
    product = verdict.product
    try:
        quantity = Decimal(product.get("quantity", "").strip())
    except InvalidOperation:
        return
    if not quantity.is_finite():
        return
    held = Decimal(reserve.units) + Decimal(math.ceil(quantity * Decimal(reserve.percent) / 100))
    left = max(Decimal(0), quantity - held)
    product["quantity"] = str(int(left))
    availability = product.get("availability", "").strip().lower().replace(" ", "_")
    if availability not in ("preorder", "backorder"):
        product["availability"] = "in_stock" if left > 0 else "out_of_stock"
    verdict.fired.append(f"{RESERVE_FIRED} {quantity} -> {left}")


def _copy(product: Product) -> Product:
    return product.clone()


def _predicate(expression: str | None, where: str) -> Callable[..., bool] | None:
    if not expression:
        return None
    compiler = ExpressionCompiler(make_environment())
    try:
        source, _ = compiler.compile(expression, where)
    except TemplateError as exc:
        raise ConfigError(exc.message, key=where, tip=exc.tip) from exc
    body = f"def check(product, target, defaults, channel=None, item=None):\n    return {source}"
    function = build_function("check", body, compiler.tables, where)
    return lambda product, target, defaults: bool(function(product, target, defaults))


def expression_failed(failure: Failure, channel: str, product_id: str,
                      product: Product) -> Issue:
    """The finding for an expression that raised on this product (it is rejected)."""
    return CODES["expression-failed"].issue(
        channel=channel, product_id=product_id, file=product.file, line=product.line,
        field=failure.field, key=failure.key, error=failure.error)
