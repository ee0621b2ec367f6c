"""A channel compiled for the per-product path: one mapping function, one validator.

``compile_channel`` runs once per channel at start-up. It turns every field expression
and every item check into generated Python (see compiler.py) and every field rule into a
prepared test, so the per-product work is a function call and a loop over tests.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError

from feedsync.channels.compiler import (
    Data,
    ExpressionCompiler,
    _Tables,
    build_function,
    make_environment,
)
from feedsync.channels.filters import FEED_FILTERS
from feedsync.channels.loader import ChannelSpec, FieldSpec
from feedsync.codes import CODES
from feedsync.errors import FeedsyncError, SecurityRefusal, TemplateError
from feedsync.model import Issue, Product, Severity
from feedsync.rules.checks import CHECKS, RuleTests, Test

# XML 1.0 cannot carry C0 controls (but tab, LF, CR), lone surrogates, U+FFFE/U+FFFF;
# lxml refuses them with a ValueError (reliability.md finding 8). They are cleaned here,
# for every format, and reported.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_ILLEGAL = XML_ILLEGAL
_FORMULA_CHARS = frozenset("=+-@\t\r")
_BREAKS = re.compile(r"[\t\r\n]+")


@dataclass(frozen=True)
class _FieldTest:
    field: str
    code: str
    severity: Severity
    source: str
    test: Test
    per_value: bool
    message: str | None
    required: bool
    template: str          # the code's message template, when the rule gives no message


@dataclass(frozen=True)
class _ItemCheck:
    code: str
    field: str | None
    severity: Severity
    source: str
    message: str
    where: str


def lookup_filter(tables: Mapping[str, Mapping[str, str]]) -> Callable[..., Any]:
    """``value | lookup('taxonomy')``: the value mapped through a channel table, else ''."""

    def lookup(value: Any, table: str, default: Any = "") -> Any:
        return tables[table].get(str(value), default) if table in tables else default

    return lookup


class CompiledChannel:
    """The per-product face of a channel: ``map`` then ``validate``."""

    def __init__(self, spec: ChannelSpec, lint_formulas: bool = False,
                 clean_breaks: bool = False,
                 shared: frozenset[MemoKey] = frozenset(),
                 rule_tests: RuleTests | None = None) -> None:
        self.spec = spec
        # The run's value tests, shared with its other channels (``RuleTests``).
        self._rule_tests = rule_tests or RuleTests()
        # Field expressions other channels of this run compute too (``memo_key``): their
        # value is computed once per product and reused (``_memo``).
        self._shared = shared
        self.name = spec.name
        self.fields: list[FieldSpec] = list(spec.fields.values())
        env = make_environment({"lookup": lookup_filter(spec.tables)})
        self._env = env
        self._field_functions: dict[str, Callable[..., Any]] = {}
        self._checks_alone: list[Callable[..., Any]] | None = None
        compiler = ExpressionCompiler(env)
        self.fast_fields: dict[str, bool] = {}
        self._map = self._compile_map(compiler)
        self._tests = self._compile_tests()
        self._run_tests = self._generate_tests()
        self._item_checks, self._check_fn = self._compile_checks(compiler)
        self.fill_mask = self._compile_fill()
        self._lint_formulas = lint_formulas
        # An unquoted text output (quoting: none) cannot carry a tab or a line break.
        self._clean_breaks = clean_breaks

    # --- compile ---------------------------------------------------------------------
    def _compile_map(self, compiler: ExpressionCompiler) -> Callable[..., dict[str, Any]]:
        """One generated function building the whole item; values normalised inline."""
        lines = ["def map_item(product, target, defaults, channel, item):", "    return {"]
        for spec in self.fields:
            source, fast = self._value_source(compiler, spec)
            self.fast_fields[spec.name] = fast
            if fast and memo_key(spec) in self._shared and self._product_only(spec):
                source = self._memoised(compiler, spec, source)
            if fast:
                source = self._skip_when_empty(compiler, spec, source)
            lines.append(f"        {spec.name!r}: {source},")
        lines.append("    }")
        return build_function("map_item", "\n".join(lines), compiler.tables, self.name,
                              {"_L": _as_list, "_T": _as_text, "_M": _memo,
                               "_ML": _memo_list, "_get": dict.get})

    def _skip_when_empty(self, compiler: ExpressionCompiler, spec: FieldSpec,
                         source: str) -> str:
        """``source`` guarded by the test that its one input is empty, where that alone
        decides the value (``empty_input``); the value for that case is computed now."""
        attribute = compiler.empty_input(spec.value, self.where(spec))
        if attribute is None:
            return source
        try:
            empty = self.field_function(spec.name)(Product(), Data(), Data(), Data())
        except Exception:  # noqa: BLE001 - then the field is always computed, as before
            return source
        if isinstance(empty, str) and not empty:
            literal = "''"
        elif isinstance(empty, list) and not empty:
            literal = "[]"  # a new list each time: cleaning changes lists in place
        else:
            return source
        # ``get``: a missing attribute (most of them) without Product.__missing__'s call.
        key = compiler.tables.const(attribute)
        return f"({literal} if _get(product, {key}, '') == '' else {source})"

    def _product_only(self, spec: FieldSpec) -> bool:
        """True when a value depends on the product alone, through pure filters: the
        same for every channel that asks (no target, defaults or lookup table)."""
        names, filters = ExpressionCompiler(self._env).inputs(spec.value, self.where(spec))
        # A bare attribute or one string method costs less than the memo's look-up.
        return (names <= {"product"} and filters <= FEED_FILTERS.keys()
                and bool(filters - _CHEAP_FILTERS))

    def _memoised(self, compiler: ExpressionCompiler, spec: FieldSpec, source: str) -> str:
        """``source`` computed once per product for all channels (``_memo``)."""
        body = f"def value(product):\n    return {source}"
        function = build_function("value", body, compiler.tables, self.name,
                                  {"_L": _as_list, "_T": _as_text})
        helper = "_ML" if spec.multi else "_M"
        key, call = compiler.tables.const(memo_key(spec)), compiler.tables.func(function)
        return f"{helper}(product, {key}, {call})"

    def _compile_fill(self) -> Callable[[dict[str, Any]], int]:
        """``fill_mask(item)``: bit i set when the i-th field has a value (the report's
        per-field fill counts; one generated expression, so it costs little)."""
        # Straight-line ifs: about twice as fast as one expression of conditional terms.
        lines = ["def fill_mask(item):", "    m = 0"]
        lines += [f"    if item[{spec.name!r}]: m |= {1 << i}"
                  for i, spec in enumerate(self.fields)]
        lines.append("    return m")
        return build_function("fill_mask", "\n".join(lines), _Tables(), self.name)

    def where(self, spec: FieldSpec) -> str:
        """The config key of a field's expression, for messages."""
        return spec.where or f"{self.spec.yaml_path}: fields.{spec.name}.value"

    def _value_source(self, compiler: ExpressionCompiler, spec: FieldSpec) -> tuple[str, bool]:
        """Python source for one field's value, normalised to text or a list of text."""
        source, fast, is_text = compiler.compile_value(spec.value, self.where(spec))
        if spec.multi:
            source = f"_L({source}, {compiler.tables.const(spec.separator)})"
        elif not is_text:
            source = f"_T({source})"
        return source, fast

    def field_function(self, name: str) -> Callable[..., Any]:
        """One field's value alone, as ``map`` computes it: ``f(product, target, defaults,
        channel)``. Compiled on first use (the id of duplicate checks, a failing field)."""
        function = self._field_functions.get(name)
        if function is None:
            compiler = ExpressionCompiler(self._env)
            source, _ = self._value_source(compiler, self.spec.fields[name])
            body = f"def value(product, target, defaults, channel, item=None):\n    return {source}"
            function = build_function("value", body, compiler.tables, self.name,
                                      {"_L": _as_list, "_T": _as_text})
            self._field_functions[name] = function
        return function

    def context_free(self, name: str) -> bool:
        """True when a field's value depends on the product and defaults alone (not on the
        target, the channel or its lookup tables): targets may then share its values."""
        spec = self.spec.fields[name]
        names, filters = ExpressionCompiler(self._env).inputs(spec.value, self.where(spec))
        return not names & {"target", "channel", "item"} and "lookup" not in filters

    def _compile_tests(self) -> list[_FieldTest]:
        tests = []
        for spec in self.fields:
            for rule in spec.rules:
                check = CHECKS.get(rule.check)
                if check is None:
                    raise TemplateError(f"unknown check {rule.check!r}; one of "
                                        + ", ".join(sorted(CHECKS)), key=rule.where)
                try:
                    test = self._rule_tests.test(rule.check, rule.params)
                except (ValueError, TypeError, re.error) as exc:
                    raise TemplateError(f"{rule.where}: {exc}") from exc
                code = rule.code or check.code
                known = CODES.get(code)
                tests.append(_FieldTest(
                    field=spec.name, code=code,
                    template=known.message if known and known.message else "{field} {reason}",
                    severity=rule.severity,
                    source=rule.source, test=test, per_value=check.per_value,
                    message=rule.message, required=rule.check == "required"))
        return tests

    def _generate_tests(self) -> Callable[[dict[str, Any]], list[tuple[int, str, Any]]]:
        """One function running every field test, in declaration order.

        Generated so the per-product path is straight-line code: empty values skip to the
        next field at once (only ``required`` fails on them), and no per-test attribute
        lookups are left. It returns ``(test index, reason, value)`` for each failure.
        """
        tables = _Tables()
        lines = ["def run_tests(item):", "    failed = []"]
        by_field: dict[str, list[tuple[int, _FieldTest]]] = {}
        for index, test in enumerate(self._tests):
            by_field.setdefault(test.field, []).append((index, test))
        for name, tests in by_field.items():
            multi = self.spec.fields[name].multi
            lines.append(f"    v = item[{tables.const(name)}]")
            lines.append("    if v:")
            for index, test in tests:
                call = tables.func(test.test)
                if test.per_value and multi:
                    lines += ["        for one in v:",
                              f"            r = {call}(one) if one else None",
                              "            if r:",
                              f"                failed.append(({index}, r, one))",
                              "                break"]
                else:
                    lines += [f"        r = {call}(v)",
                              f"        if r: failed.append(({index}, r, v))"]
            required = [i for i, t in tests if t.required]
            lines.append("    else:")
            lines += [f"        failed.append(({i}, 'is required but empty', v))" for i in required]
            lines.append("        pass")
        lines.append("    return failed")
        return build_function("run_tests", "\n".join(lines), tables, self.name)

    def _compile_checks(
        self, compiler: ExpressionCompiler
    ) -> tuple[list[_ItemCheck], Callable[..., tuple[Any, ...]]]:
        checks, lines = [], ["def run_checks(product, target, defaults, channel, item):",
                             "    return ("]
        for check in self.spec.checks:
            source, _ = compiler.compile(check.expression, check.where)
            lines.append(f"        {source},")
            checks.append(_ItemCheck(code=check.code, field=check.field,
                                     severity=check.severity,
                                     source=check.source, message=check.message,
                                     where=check.where))
        lines.append("    )")
        return checks, build_function("run_checks", "\n".join(lines), compiler.tables,
                                      self.name)

    def separator_of(self, name: str) -> str | None:
        """The multi-value separator of field ``name``; None for a single-valued field."""
        spec = self.spec.fields.get(name)
        return spec.separator if spec is not None and spec.multi else None

    # --- per product -----------------------------------------------------------------
    def map(self, product: Product, market: Data, defaults: Data,
            channel: Data) -> dict[str, Any]:
        """The channel's item for ``product``: field name -> str or list of str.

        ``market`` is what the templates call ``target`` (country, currency, language).
        """
        item: dict[str, Any] = self._map(product, market, defaults, channel, None)
        return item

    def map_checked(self, product: Product, market: Data, defaults: Data,
                    channel: Data) -> tuple[dict[str, Any], list[Failure]]:
        """``map``, where a field expression that raises on this product's data leaves
        that field empty and is returned as a ``Failure`` (the others still map).

        A sandbox violation (``SecurityRefusal``) and any other ``FeedsyncError`` (a
        signal arriving as ``Interrupted``) stop the run instead.
        """
        try:
            item: dict[str, Any] = self._map(product, market, defaults, channel, None)
            return item, []
        except FeedsyncError as exc:
            if not isinstance(exc, TemplateError):
                raise
        except Exception:  # noqa: BLE001, S110 - found again, field by field, below
            pass
        # The slow path, for this product only: which field failed, and why.
        item, failures = {}, []
        for spec in self.fields:
            try:
                item[spec.name] = self.field_function(spec.name)(product, market, defaults,
                                                                 channel)
            except Exception as exc:  # noqa: BLE001 - each kind is sorted by _failure
                failures.append(failure_of(exc, self.where(spec), spec.name))
                item[spec.name] = [] if spec.multi else ""
        return item, failures

    def validate(self, item: dict[str, Any], product: Product, market: Data, defaults: Data,
                 channel: Data, product_id: str | None = None,
                 failures: list[Failure] | None = None) -> list[Issue]:
        """Findings for one mapped item. Illegal characters are cleaned in place.

        ``product_id`` is the id the findings name (the id as the channel writes it);
        by default the catalog's. With ``failures``, an item check whose expression
        raises on this product is added there instead of raising.
        """
        issues: list[Issue] = []
        ref = product["id"] if product_id is None else product_id
        self._clean_text(item, product, ref, issues)
        tests = self._tests
        for index, reason, value in self._run_tests(item):
            issues.append(self._issue(tests[index], reason, product, ref, value))
        if self._item_checks:
            verdicts = self._verdicts(product, market, defaults, channel, item, failures)
            for check, verdict in zip(self._item_checks, verdicts, strict=True):
                if verdict is False:
                    issues.append(Issue(
                        code=check.code, severity=check.severity, message=check.message,
                        channel=self.name, product_id=ref, file=product.file,
                        line=product.line, field=check.field,
                        value=_short(item.get(check.field, "")) if check.field else None,
                        source=check.source))
        return issues

    def explain_rules(self, item: dict[str, Any], product: Product, market: Data,
                      defaults: Data, channel: Data) -> list[dict[str, Any]]:
        """Every rule with its verdict on this item, for ``feedsync explain``."""
        rows: list[dict[str, Any]] = []
        for t in self._tests:
            value = item[t.field]
            if not value and not t.required:
                verdict, reason = "pass (empty)", ""
            elif t.per_value and isinstance(value, list):
                reasons = [r for r in (t.test(v) for v in value if v) if r]
                verdict, reason = ("fail", reasons[0]) if reasons else ("pass", "")
            else:
                result = t.test(value) if value else "is required but empty"
                verdict, reason = ("fail", result) if result else ("pass", "")
            rows.append({"field": t.field, "code": t.code, "severity": t.severity,
                         "verdict": verdict, "reason": reason, "source": t.source})
        if self._item_checks:
            failures: list[Failure] = []
            verdicts = self._verdicts(product, market, defaults, channel, item, failures)
            errors = iter(failures)
            for check, ok in zip(self._item_checks, verdicts, strict=True):
                verdict = "fail" if ok is not True else "pass"
                reason = ("" if ok else check.message) if ok is not None else (
                    f"the expression failed: {next(errors).error}")
                rows.append({"field": check.field, "code": check.code,
                             "severity": check.severity, "verdict": verdict,
                             "reason": reason, "source": check.source})
        return rows

    def _verdicts(self, product: Product, market: Data, defaults: Data, channel: Data,
                  item: dict[str, Any], failures: list[Failure] | None) -> list[bool | None]:
        """Each item check's verdict; ``None`` where its expression failed (added to
        ``failures``; without a list the error is raised)."""
        data = Data(item)
        try:
            return [bool(v) for v in self._check_fn(product, market, defaults, channel, data)]
        except FeedsyncError as exc:
            if failures is None or not isinstance(exc, TemplateError):
                raise
        except Exception:
            if failures is None:
                raise
        verdicts: list[bool | None] = []
        for check, function in zip(self._item_checks, self._check_functions(), strict=True):
            try:
                verdicts.append(bool(function(product, market, defaults, channel, data)))
            except Exception as exc:  # noqa: BLE001 - each kind is sorted by _failure
                failures.append(failure_of(exc, check.where, check.field))
                verdicts.append(None)
        return verdicts

    def _check_functions(self) -> list[Callable[..., Any]]:
        """Each item check alone (compiled on first use: a check that failed)."""
        if self._checks_alone is None:
            self._checks_alone = []
            for check in self.spec.checks:
                compiler = ExpressionCompiler(self._env)
                source, _ = compiler.compile(check.expression, check.where)
                body = f"def check(product, target, defaults, channel, item):\n    return {source}"
                self._checks_alone.append(build_function("check", body, compiler.tables,
                                                         self.name))
        return self._checks_alone

    def _issue(self, t: _FieldTest, reason: str, product: Product, ref: str,
               value: Any) -> Issue:
        return Issue(code=t.code, severity=t.severity,
                     message=t.message or t.template.format(field=t.field, reason=reason),
                     channel=self.name,
                     product_id=ref, file=product.file, line=product.line,
                     field=t.field, value=_short(value), source=t.source)

    def _clean_text(self, item: dict[str, Any], product: Product, ref: str,
                    issues: list[Issue]) -> None:
        if not getattr(product, "clean", False):
            self._drop_illegal(item, product, ref, issues)
        if self._clean_breaks:
            self._drop_breaks(item, product, ref, issues)
        if self._lint_formulas:
            for name, value in item.items():
                # A multi-valued cell starts with its first value.
                first = value if type(value) is str else (value[0] if value else "")
                if first and first[0] in _FORMULA_CHARS:
                    issues.append(self._formula(name, first, product, ref))

    def _drop_illegal(self, item: dict[str, Any], product: Product, ref: str,
                      issues: list[Issue]) -> None:
        _replace_all(item, _XML_ILLEGAL, "", lambda name, value: issues.append(
            self._cleaned(name, value, product, ref)), _XML_ILLEGAL.search)

    def _drop_breaks(self, item: dict[str, Any], product: Product, ref: str,
                     issues: list[Issue]) -> None:
        _replace_all(item, _BREAKS, " ", lambda name, value: issues.append(
            CODES["line-break-removed"].issue(
                channel=self.name, product_id=ref, file=product.file, line=product.line,
                field=name, value=_short(value), source=self.spec.docs)), _has_break)

    def _cleaned(self, name: str, value: str, product: Product, ref: str) -> Issue:
        bad = _XML_ILLEGAL.search(value)
        code_point = f"U+{ord(bad.group()):04X}" if bad else "?"
        return CODES["invalid-xml-char"].issue(
            channel=self.name, product_id=ref, file=product.file, line=product.line,
            field=name, value=_short(_XML_ILLEGAL.sub("\ufffd", value)), code_point=code_point)

    def _formula(self, name: str, value: str, product: Product, ref: str) -> Issue:
        return CODES["formula-like-value"].issue(
            channel=self.name, product_id=ref, file=product.file, line=product.line,
            field=name, value=_short(value), first=value[0])


@dataclass(frozen=True, slots=True)
class Failure:
    """An expression that raised on one product: its config key, field and error."""

    key: str              # "channel_templates/google/channel.yaml: fields.title.value"
    field: str | None
    error: str


def failure_of(exc: Exception, where: str, field: str | None) -> Failure:
    """A per-product failure, or the run stops: a sandbox violation (exit 9), a signal."""
    if isinstance(exc, SecurityError):
        raise SecurityRefusal(f"{where}: template sandbox violation: {exc}") from exc
    if isinstance(exc, FeedsyncError):
        if not isinstance(exc, TemplateError):
            raise exc
        return Failure(where, field, exc.message.removeprefix(f"{where}: "))
    return Failure(where, field, f"{type(exc).__name__}: {exc}")


def _has_break(text: str) -> bool:
    return "\n" in text or "\t" in text or "\r" in text


def _replace_all(item: dict[str, Any], pattern: re.Pattern[str], replacement: str,
                 report: Callable[[str, str], Any],
                 present: Callable[[str], object]) -> None:
    """Replace ``pattern`` in every value of ``item`` in place; report each value changed.

    ``present(text)`` says whether the pattern occurs at all (for line breaks, three
    ``in`` tests cost a tenth of the regex scan)."""
    # One scan of all the text first: nearly every item has nothing to replace. (The
    # patterns match single characters, so joining cannot make or hide a match.)
    if not present("".join(
            v if type(v) is str else "".join(v) for v in item.values())):
        return
    for name, value in item.items():
        if isinstance(value, str):
            if pattern.search(value):
                item[name] = pattern.sub(replacement, value)
                report(name, value)
        elif value:
            for i, one in enumerate(value):
                if pattern.search(one):
                    value[i] = pattern.sub(replacement, one)
                    report(name, one)


MemoKey = tuple[str, bool, str]
_CHEAP_FILTERS = frozenset({"trim", "lower", "upper", "replace"})
_MISSING = object()


def memo_key(spec: FieldSpec) -> MemoKey:
    """What makes two channels' field values equal on every product: the expression and
    its normalisation (text, or a list split on the separator)."""
    return (spec.value, spec.multi, spec.separator if spec.multi else "")


def shared_keys(specs: Sequence[ChannelSpec]) -> frozenset[MemoKey]:
    """The field expressions at least two of ``specs`` compute (``extends:`` makes
    many): worth remembering per product. One channel alone pays nothing for it."""
    counts = Counter(key for spec in specs for key in {memo_key(f) for f in spec.fields.values()})
    return frozenset(key for key, count in counts.items() if count > 1)


def _memo(product: Any, key: MemoKey, compute: Callable[[Any], Any]) -> Any:
    """The value of ``compute(product)``, computed on first use within the product."""
    try:
        memo = product.memo
    except AttributeError:
        if not isinstance(product, Product):
            return compute(product)
        memo = product.memo = {}
    value = memo.get(key, _MISSING)
    if value is _MISSING:
        value = memo[key] = compute(product)
    return value


def _memo_list(product: Any, key: MemoKey, compute: Callable[[Any], Any]) -> list[str]:
    """``_memo`` for a list value: each channel gets its own copy, because cleaning and
    override columns change an item's lists in place."""
    return list(_memo(product, key, compute))


def _as_list(value: Any, separator: str) -> list[str]:
    """A multi-valued field's values: a list (or ``map``'s generator) keeps its values;
    text is split on the field's separator."""
    if _is_sequence(value):
        return [_as_text(v) for v in value if v not in (None, "")]
    text = _as_text(value)
    return [part.strip() for part in text.split(separator) if part.strip()] if text else []


def _as_text(value: Any) -> str:
    """A single-valued field's text. A list (``split_values``, a slice, ``map``) is
    joined with ``,``, never written as Python's ``['a', 'b']``."""
    if type(value) is str:  # nearly every value: skip the checks below
        return value
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    if _is_sequence(value):
        return ",".join(t for t in (_as_text(v) for v in value) if t)
    return str(value)


def _is_sequence(value: Any) -> bool:
    """A list, tuple or iterator of values: not text, not a mapping (a product)."""
    return isinstance(value, list | tuple) or (
        hasattr(value, "__next__") and not isinstance(value, str | bytes | dict))


def _short(value: Any, limit: int = 200) -> str:
    text = ",".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def compile_channel(spec: ChannelSpec, lint_formulas: bool = False,
                    clean_breaks: bool = False,
                    shared: frozenset[MemoKey] = frozenset()) -> CompiledChannel:
    return CompiledChannel(spec, lint_formulas=lint_formulas, clean_breaks=clean_breaks,
                           shared=shared)
