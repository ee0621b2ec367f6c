"""A channel compiled for the per-product path: one mapping function, one validator.

``compile_channel`` runs once per channel at start-up. It turns every field expression
and every item check into generated Python (see compiler.py) and every field rule into a
prepared test, so the per-product work is a function call and a loop over tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from feedsync.channels.compiler import (
    Data,
    ExpressionCompiler,
    _Tables,
    build_function,
    make_environment,
)
from feedsync.channels.loader import ChannelSpec, FieldSpec
from feedsync.errors import TemplateError
from feedsync.model import Issue, Product, Severity
from feedsync.rules.checks import CHECKS, Test

# XML 1.0 cannot carry C0 controls (but tab, LF, CR), lone surrogates, U+FFFE/U+FFFF;
# lxml refuses them with a ValueError (reliability.md finding 8). They are cleaned here,
# for every format, and reported.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_ILLEGAL = XML_ILLEGAL
_XML_CLEAN_SOURCE = "https://www.w3.org/TR/xml/#charsets"
_FORMULA_CHARS = frozenset("=+-@\t\r")
_BREAKS = re.compile(r"[\t\r\n]+")
_FORMULA_SOURCE = "https://owasp.org/www-community/attacks/CSV_Injection"


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


@dataclass(frozen=True)
class _ItemCheck:
    code: str
    field: str | None
    severity: Severity
    source: str
    message: str


def lookup_filter(tables: Mapping[str, Mapping[str, str]]) -> Callable[..., Any]:
    """``value | lookup('taxonomy')``: the value mapped through a channel table, else ''."""

    def lookup(value: Any, table: str, default: Any = "") -> Any:
        return tables[table].get(str(value), default) if table in tables else default

    return lookup


class CompiledChannel:
    """The per-product face of a channel: ``map`` then ``validate``."""

    def __init__(self, spec: ChannelSpec, lint_formulas: bool = False,
                 clean_breaks: bool = False) -> None:
        self.spec = spec
        self.name = spec.name
        self.fields: list[FieldSpec] = list(spec.fields.values())
        env = make_environment({"lookup": lookup_filter(spec.tables)})
        self._env = env
        compiler = ExpressionCompiler(env)
        self.fast_fields: dict[str, bool] = {}
        self._map = self._compile_map(compiler)
        self._tests = self._compile_tests()
        self._run_tests = self._generate_tests()
        self._item_checks, self._check_fn = self._compile_checks(compiler)
        self._lint_formulas = lint_formulas
        # An unquoted text output (quoting: none) cannot carry a tab or a line break.
        self._clean_breaks = clean_breaks

    # --- compile ---------------------------------------------------------------------
    def _compile_map(self, compiler: ExpressionCompiler) -> Callable[..., dict[str, Any]]:
        """One generated function building the whole item; values normalised inline."""
        lines = ["def map_item(product, target, defaults, channel, item):", "    return {"]
        for spec in self.fields:
            where = f"{self.spec.yaml_path}: fields.{spec.name}.value"
            source, fast, is_text = compiler.compile_value(spec.value, where)
            self.fast_fields[spec.name] = fast
            if spec.multi:
                source = f"_L({source}, {compiler.tables.const(spec.separator)})"
            elif not is_text:
                source = f"_T({source})"
            lines.append(f"        {spec.name!r}: {source},")
        lines.append("    }")
        return build_function("map_item", "\n".join(lines), compiler.tables, self.name,
                              {"_L": _as_list, "_T": _as_text})

    def _compile_tests(self) -> list[_FieldTest]:
        tests = []
        for spec in self.fields:
            for rule in spec.rules:
                check = CHECKS.get(rule.check)
                if check is None:
                    raise TemplateError(f"unknown check {rule.check!r}; one of "
                                        + ", ".join(sorted(CHECKS)), key=rule.where)
                try:
                    test = check.factory(rule.params)
                except (ValueError, TypeError, re.error) as exc:
                    raise TemplateError(f"{rule.where}: {exc}") from exc
                tests.append(_FieldTest(
                    field=spec.name, code=rule.code or check.code,
                    severity=rule.severity,  # type: ignore[arg-type]
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
                                     severity=check.severity,  # type: ignore[arg-type]
                                     source=check.source, message=check.message))
        lines.append("    )")
        return checks, build_function("run_checks", "\n".join(lines), compiler.tables,
                                      self.name)

    def separator_of(self, name: str) -> str | None:
        """The multi-value separator of field ``name``; None for a single-valued field."""
        spec = self.spec.fields.get(name)
        return spec.separator if spec is not None and spec.multi else None

    # --- per product -----------------------------------------------------------------
    def map(self, product: Product, target: Data, defaults: Data, channel: Data) -> dict[str, Any]:
        """The channel's item for ``product``: field name -> str or list of str."""
        item: dict[str, Any] = self._map(product, target, defaults, channel, None)
        return item

    def validate(self, item: dict[str, Any], product: Product, target: Data, defaults: Data,
                 channel: Data) -> list[Issue]:
        """Findings for one mapped item. Illegal characters are cleaned in place."""
        issues: list[Issue] = []
        self._clean_text(item, product, issues)
        tests = self._tests
        for index, reason, value in self._run_tests(item):
            issues.append(self._issue(tests[index], reason, product, value))
        if self._item_checks:
            verdicts = self._check_fn(product, target, defaults, channel, Data(item))
            for check, verdict in zip(self._item_checks, verdicts, strict=True):
                if not verdict:
                    issues.append(Issue(
                        code=check.code, severity=check.severity, message=check.message,
                        channel=self.name, product_id=product["id"], file=product.file,
                        line=product.line, field=check.field,
                        value=_short(item.get(check.field, "")) if check.field else None,
                        source=check.source))
        return issues

    def explain_rules(self, item: dict[str, Any], product: Product, target: Data,
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
            verdicts = self._check_fn(product, target, defaults, channel, Data(item))
            for check, ok in zip(self._item_checks, verdicts, strict=True):
                rows.append({"field": check.field, "code": check.code,
                             "severity": check.severity, "verdict": "pass" if ok else "fail",
                             "reason": "" if ok else check.message, "source": check.source})
        return rows

    def _issue(self, t: _FieldTest, reason: str, product: Product, value: Any) -> Issue:
        return Issue(code=t.code, severity=t.severity,
                     message=t.message or f"{t.field} {reason}", channel=self.name,
                     product_id=product["id"], file=product.file, line=product.line,
                     field=t.field, value=_short(value), source=t.source)

    def _clean_text(self, item: dict[str, Any], product: Product, issues: list[Issue]) -> None:
        if not getattr(product, "clean", False):
            self._drop_illegal(item, product, issues)
        if self._clean_breaks:
            self._drop_breaks(item, product, issues)
        if self._lint_formulas:
            for name, value in item.items():
                # A multi-valued cell starts with its first value.
                first = value if type(value) is str else (value[0] if value else "")
                if first and first[0] in _FORMULA_CHARS:
                    issues.append(self._formula(name, first, product))

    def _drop_illegal(self, item: dict[str, Any], product: Product,
                      issues: list[Issue]) -> None:
        _replace_all(item, _XML_ILLEGAL, "", lambda name, value: issues.append(
            self._cleaned(name, value, product)))

    def _drop_breaks(self, item: dict[str, Any], product: Product,
                     issues: list[Issue]) -> None:
        _replace_all(item, _BREAKS, " ", lambda name, value: issues.append(
            self._unbroken(name, value, product)))

    def _unbroken(self, name: str, value: str, product: Product) -> Issue:
        return Issue(code="line-break-removed", severity="warning",
                     message=f"{name} held a tab or line break, which this unquoted text "
                             "feed cannot carry; each run was replaced by a space",
                     channel=self.name, product_id=product["id"], file=product.file,
                     line=product.line, field=name, value=_short(value),
                     source=self.spec.docs)

    def _cleaned(self, name: str, value: str, product: Product) -> Issue:
        bad = _XML_ILLEGAL.search(value)
        code_point = f"U+{ord(bad.group()):04X}" if bad else "?"
        return Issue(code="invalid-xml-char", severity="warning",
                     message=f"{name} held a character feeds cannot carry ({code_point}); "
                             "it was removed", channel=self.name, product_id=product["id"],
                     file=product.file, line=product.line, field=name,
                     value=_short(_XML_ILLEGAL.sub("\ufffd", value)), source=_XML_CLEAN_SOURCE)

    def _formula(self, name: str, value: str, product: Product) -> Issue:
        return Issue(code="formula-like-value", severity="warning",
                     message=f"{name} starts with {value[0]!r}; a spreadsheet opening this "
                             "feed would run it as a formula (kept as is for the channel)",
                     channel=self.name, product_id=product["id"], file=product.file,
                     line=product.line, field=name, value=_short(value), source=_FORMULA_SOURCE)


def _replace_all(item: dict[str, Any], pattern: re.Pattern[str], replacement: str,
                 report: Callable[[str, str], Any]) -> None:
    """Replace ``pattern`` in every value of ``item`` in place; report each value changed."""
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


def _as_list(value: Any, separator: str) -> list[str]:
    if isinstance(value, list | tuple):
        return [_as_text(v) for v in value if v not in (None, "")]
    text = _as_text(value)
    return [part.strip() for part in text.split(separator) if part.strip()] if text else []


def _as_text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    return str(value)


def _short(value: Any, limit: int = 200) -> str:
    text = ",".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def compile_channel(spec: ChannelSpec, lint_formulas: bool = False,
                    clean_breaks: bool = False) -> CompiledChannel:
    return CompiledChannel(spec, lint_formulas=lint_formulas, clean_breaks=clean_breaks)
