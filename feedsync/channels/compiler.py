"""Compile a channel's Jinja field expressions once, into one Python function per channel.

Why not render each field through Jinja per product: that costs about 3x the whole
hand-written pipeline (../shared/bench/README.md). Most feed expressions are attribute
lookups and filter chains, so each expression is parsed with Jinja's own parser and,
where every node is one we understand (names, attributes, constants, known filters,
``~``, ``or``/``and``/``not``, ``x if c else y``, comparisons), translated to a Python
expression over the same filter functions. Anything else is compiled by the sandboxed
Jinja environment and called as a callable. Both paths share filters and attribute
semantics; a test checks they agree on every shipped template.

Safety: generated code only ever contains indexes into tables of constants, filters and
fallback callables that this module built; product text is data passed at call time and
is never parsed as a template. Unknown variables are refused at load time.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import (
    StrictUndefined,
    Undefined,
    nodes,
    pass_context,
)
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from feedsync.channels.filters import FEED_FILTERS, TEXT_FILTERS, check_pattern, check_size
from feedsync.errors import SecurityRefusal, TemplateError
from feedsync.model import Product
from feedsync.versions import check_jinja

# Variables a field expression may use. ``item`` is only bound in item-level checks.
CONTEXT_NAMES = frozenset({"product", "target", "defaults", "channel", "item"})

_COMPARE_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">=",
                "in": "in", "notin": "not in"}
_STR_METHODS = frozenset({"startswith", "endswith", "lower", "upper", "strip", "lstrip",
                          "rstrip", "title", "capitalize", "isdigit", "isupper", "islower"})


class Data(dict[str, Any]):
    """A context mapping (target, defaults, item) whose missing keys read as ``""``."""

    def __missing__(self, key: str) -> str:
        return ""


# Operators and str methods whose result can dwarf their operands; the sandbox checks the
# size before computing (issue 15, item 12). ``**`` is bounded by the result's bits.
_MAX_POW_BITS = 4096
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _bounded_binop(operator: str, left: Any, right: Any) -> None:
    """Raise before an operator would build a huge number or text."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1 and right * abs(left).bit_length() > _MAX_POW_BITS:
            raise TemplateError(f"{left} ** {right} is too large a number")
    elif operator == "*":
        for text, times in ((left, right), (right, left)):
            if isinstance(text, str | list | tuple) and isinstance(times, int):
                check_size(len(text) * times, "repetition with *")
    elif operator == "%" and isinstance(left, str):
        widths = [int(w) for w in re.findall(r"%[-#0 +]*(\d+)", left)]
        check_size(max(widths, default=0), "a % format width")


class FeedEnvironment(ImmutableSandboxedEnvironment):
    """Sandboxed Jinja where ``product.x`` is always the attribute ``x``, never a dict method."""

    intercepted_binops = frozenset({"**", "*", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Product | Data):
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _bounded_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any,  # noqa: N805 - Jinja's names
             **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str) and args:
            if name in _WIDTH_METHODS and isinstance(args[0], int):
                check_size(args[0], f"str.{name}")
            elif name == "expandtabs" and isinstance(args[0], int):
                check_size(len(__obj.__self__) * args[0], "str.expandtabs")
        return super().call(__context, __obj, *args, **kwargs)


def make_environment(
        extra_filters: Mapping[str, Callable[..., Any]] | None = None) -> FeedEnvironment:
    check_jinja()
    env = FeedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters.update(FEED_FILTERS)
    for name in _GENERATOR_FILTERS:
        env.filters[name] = _as_list_filter(env.filters[name])
    if extra_filters:
        env.filters.update(extra_filters)
    return env


# Jinja's filters that return a generator: a feed wants a list it can slice and count.
_GENERATOR_FILTERS = ("map", "select", "reject", "selectattr", "rejectattr")


def _as_list_filter(jinja_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``jinja_filter`` returning a list, so ``(x | map('upper'))[1:]`` works (item 2)."""

    @pass_context
    def as_list(context: Any, value: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return list(jinja_filter(context, value, *args, **kwargs))

    return as_list


class _Unsupported(Exception):
    """The fast path does not handle this node; use the Jinja callable instead."""


@dataclass
class _Tables:
    constants: list[Any] = field(default_factory=list)
    functions: list[Callable[..., Any]] = field(default_factory=list)

    def const(self, value: Any) -> str:
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"

    def func(self, fn: Callable[..., Any]) -> str:
        self.functions.append(fn)
        return f"F[{len(self.functions) - 1}]"


@dataclass(frozen=True)
class Expression:
    """One field expression, where it was declared, and how it was compiled."""

    text: str
    where: str  # "channel_templates/google/channel.yaml: fields.title.value"
    fast: bool = False


class ExpressionCompiler:
    """Turns expressions into Python source over a shared table of filters and constants."""

    def __init__(self, env: FeedEnvironment) -> None:
        self.env = env
        self.tables = _Tables()

    def compile(self, text: str, where: str) -> tuple[str, bool]:
        """Python source for ``text`` (its free names are the context names) and fast flag."""
        source, fast, _ = self.compile_value(text, where)
        return source, fast

    def compile_value(self, text: str, where: str) -> tuple[str, bool, bool]:
        """Like ``compile``, plus whether the result is certainly ``str``."""
        try:
            return self._compile_value(text, where)
        except RecursionError as exc:
            # Jinja's parser and our translation recurse once per nesting level.
            raise TemplateError(f"{where}: expression nested too deeply "
                                f"({len(text)} characters)") from exc

    def _compile_value(self, text: str, where: str) -> tuple[str, bool, bool]:
        tree = self._parse(text, where)
        self._check_names(tree, where)
        self._check_attributes(tree, where)
        try:
            return self._node(tree), True, _is_text(tree)
        except _Unsupported:
            return self._fallback(text, where), False, False

    def inputs(self, text: str, where: str) -> tuple[frozenset[str], frozenset[str]]:
        """The context names and the filters an expression uses."""
        tree = self._parse(text, where)
        names = [tree] if isinstance(tree, nodes.Name) else []
        filters = [tree] if isinstance(tree, nodes.Filter) else []
        return (frozenset(n.name for n in [*names, *tree.find_all(nodes.Name)]),
                frozenset(f.name for f in [*filters, *tree.find_all(nodes.Filter)]))

    def empty_input(self, text: str, where: str) -> str | None:
        """The product attribute whose emptiness alone makes ``text`` empty, or None.

        That is a chain of filters over ``product.X`` where each filter gives the same
        result for an empty value whatever its arguments (``EMPTY_STABLE``), and the
        arguments are plain look-ups that cannot fail. ``map`` then skips the chain when
        ``product.X`` is ``""``: most fields of most products are empty (issue 16).
        """
        node: nodes.Node | None = self._parse(text, where)
        if not isinstance(node, nodes.Filter):
            return None
        while isinstance(node, nodes.Filter):
            if (node.name not in EMPTY_STABLE or node.kwargs or node.dyn_args is not None
                    or node.dyn_kwargs is not None
                    or self.env.filters.get(node.name) is not FEED_FILTERS[node.name]
                    or not all(_plain_lookup(a) for a in node.args)):
                return None
            node = node.node
        if (isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name)
                and node.node.name == "product" and not node.attr.startswith("_")):
            return node.attr
        return None

    def _parse(self, text: str, where: str) -> nodes.Expr:
        try:
            template = self.env.parse("{{ (" + text + ") }}")
        except RecursionError as exc:
            raise TemplateError(f"{where}: expression nested too deeply "
                                f"({len(text)} characters)") from exc
        except TemplateSyntaxError as exc:
            raise TemplateError(f"bad expression {text!r} in {where}: {exc.message}") from exc
        body = template.body
        if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
            raise TemplateError(f"{where}: expected one expression, got {text!r}")
        expr = body[0].nodes[0]
        # find_all() skips the node itself: a top-level filter must be checked too.
        filters = [expr] if isinstance(expr, nodes.Filter) else []
        for node in [*filters, *expr.find_all(nodes.Filter)]:
            if (node.name == "regex_replace" and node.args
                    and isinstance(node.args[0], nodes.Const)
                    and isinstance(node.args[0].value, str)):
                try:
                    check_pattern(node.args[0].value)
                except TemplateError as exc:
                    raise TemplateError(f"{where}: {exc.message}") from exc
            if node.name not in self.env.filters:
                raise TemplateError(
                    f"{where}: unknown filter {node.name!r} in {text!r}",
                    tip="available filters: " + ", ".join(sorted(self.env.filters)),
                )
        return expr

    def _check_names(self, tree: nodes.Expr, where: str) -> None:
        names = [tree] if isinstance(tree, nodes.Name) else []
        for name in [*names, *tree.find_all(nodes.Name)]:
            if name.ctx == "load" and name.name not in CONTEXT_NAMES:
                raise TemplateError(
                    f"{where}: undefined variable {name.name!r}",
                    tip="field expressions may use: " + ", ".join(sorted(CONTEXT_NAMES)),
                )

    def _check_attributes(self, tree: nodes.Expr, where: str) -> None:
        """Refuse at load time the ``_`` names the sandbox refuses (E2).

        ``product`` and the context mappings answer any attribute with their own item, so
        ``product.__class__`` or ``product | attr('__class__')`` would quietly give "" and
        the escape attempt would go unnoticed.
        """
        found = [tree, *tree.find_all((nodes.Getattr, nodes.Filter))]
        names = [n.attr for n in found if isinstance(n, nodes.Getattr)]
        names += [n.args[0].value for n in found
                  if isinstance(n, nodes.Filter) and n.name == "attr" and n.args
                  and isinstance(n.args[0], nodes.Const)]
        for name in names:
            if isinstance(name, str) and name.startswith("_"):
                raise SecurityRefusal(
                    f"{where}: template sandbox violation: access to attribute {name!r} "
                    "is unsafe")

    def _fallback(self, text: str, where: str) -> str:
        compiled = self.env.compile_expression(text, undefined_to_none=False)

        def call(product: Any, target: Any, defaults: Any, channel: Any, item: Any) -> Any:
            try:
                result = compiled(product=product, target=target, defaults=defaults,
                                  channel=channel, item=item)
                if isinstance(result, Undefined):
                    str(result)  # StrictUndefined raises here, not later outside this guard
                if isinstance(result, Iterator):
                    return list(result)  # ``map``/``select``: a list, as on the fast path
                return result
            except SecurityError as exc:
                raise SecurityRefusal(f"{where}: template sandbox violation: {exc}") from exc
            except UndefinedError as exc:
                raise TemplateError(f"{where}: {exc.message}") from exc

        return f"{self.tables.func(call)}(product, target, defaults, channel, item)"

    # --- the fast path -------------------------------------------------------------
    def _node(self, node: nodes.Node) -> str:
        method = getattr(self, "_n_" + type(node).__name__, None)
        if method is None:
            raise _Unsupported(type(node).__name__)
        result: str = method(node)
        return result

    def _n_Const(self, node: nodes.Const) -> str:
        return self.tables.const(node.value)

    def _n_Name(self, node: nodes.Name) -> str:
        return node.name

    def _n_Getattr(self, node: nodes.Getattr) -> str:
        if not isinstance(node.node, nodes.Name):
            raise _Unsupported("nested attribute")
        return f"{node.node.name}[{self.tables.const(node.attr)}]"

    def _n_Getitem(self, node: nodes.Getitem) -> str:
        arg = node.arg
        if isinstance(arg, nodes.Slice):
            bounds = [self._node(b) if b is not None else "None"
                      for b in (arg.start, arg.stop, arg.step)]
            return f"_slice({self._node(node.node)}, {bounds[0]}, {bounds[1]}, {bounds[2]})"
        if not isinstance(node.node, nodes.Name) or not isinstance(arg, nodes.Const):
            raise _Unsupported("dynamic item")
        if not isinstance(arg.value, str):
            raise _Unsupported("non-string key")
        return f"{node.node.name}[{self.tables.const(arg.value)}]"

    def _n_Call(self, node: nodes.Call) -> str:
        """Only the side-effect-free string methods feeds need: ``x.startswith('A')``."""
        target = node.node
        if (not isinstance(target, nodes.Getattr) or target.attr not in _STR_METHODS
                or node.kwargs or node.dyn_args or node.dyn_kwargs):
            raise _Unsupported("call")
        args = ", ".join(self._node(a) for a in node.args)
        return f"_str({self._node(target.node)}).{target.attr}({args})"

    def _n_Filter(self, node: nodes.Filter) -> str:
        if node.dyn_args is not None or node.dyn_kwargs is not None or node.node is None:
            raise _Unsupported("dynamic filter arguments")
        func = self.env.filters[node.name]
        pass_arg = _PassArg.from_obj(func)
        args = [self._node(node.node)] + [self._node(a) for a in node.args]
        args += [f"{kw.key}={self._node(kw.value)}" for kw in node.kwargs]
        if pass_arg is _PassArg.environment:
            args.insert(0, self.tables.const(self.env))
        elif pass_arg is not None:
            raise _Unsupported("context filter")
        elif not _is_plain_callable(func):
            raise _Unsupported("filter is not a plain function")
        return f"{self.tables.func(func)}({', '.join(args)})"

    def _n_Concat(self, node: nodes.Concat) -> str:
        parts = [f"_str({self._node(n)})" for n in node.nodes]
        return "(" + " + ".join(parts) + ")"

    def _n_CondExpr(self, node: nodes.CondExpr) -> str:
        otherwise = self._node(node.expr2) if node.expr2 is not None else "''"
        return f"({self._node(node.expr1)} if {self._node(node.test)} else {otherwise})"

    def _n_Or(self, node: nodes.Or) -> str:
        return f"({self._node(node.left)} or {self._node(node.right)})"

    def _n_And(self, node: nodes.And) -> str:
        return f"({self._node(node.left)} and {self._node(node.right)})"

    def _n_Not(self, node: nodes.Not) -> str:
        return f"(not {self._node(node.node)})"

    def _n_Compare(self, node: nodes.Compare) -> str:
        parts = [self._node(node.expr)]
        for operand in node.ops:
            if operand.op not in _COMPARE_OPS:
                raise _Unsupported(operand.op)
            parts.append(f"{_COMPARE_OPS[operand.op]} {self._node(operand.expr)}")
        return "(" + " ".join(parts) + ")"

    def _n_Neg(self, node: nodes.Neg) -> str:
        return f"(-{self._node(node.node)})"

    def _n_List(self, node: nodes.List) -> str:
        return "[" + ", ".join(self._node(n) for n in node.items) + "]"

    def _n_Tuple(self, node: nodes.Tuple) -> str:
        return "(" + "".join(self._node(n) + ", " for n in node.items) + ")"


# Filters whose result for "" and for [] does not depend on their arguments (see
# ``ExpressionCompiler.empty_input``). Not ``truncate_words`` (a negative length gives its
# ``end``), ``replace`` or ``regex_replace`` (an empty match is replaced), ``center``.
EMPTY_STABLE = frozenset({"plain_text", "single_line", "trim", "lower", "upper",
                          "enum_value", "money", "split_values", "remove", "yes_no",
                          "stock_availability", "join_values", "limit"})


def _plain_lookup(node: nodes.Node) -> bool:
    """A constant, ``name.attr`` or ``a or b`` of those: evaluating it cannot fail."""
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.Getattr):
        return isinstance(node.node, nodes.Name) and node.node.name != "item"
    if isinstance(node, nodes.Or):
        return _plain_lookup(node.left) and _plain_lookup(node.right)
    return False


def _is_text(node: nodes.Node) -> bool:
    """True when the expression always yields ``str`` (context values are all text)."""
    if isinstance(node, nodes.Filter):
        return node.name in TEXT_FILTERS
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        return isinstance(node.node, nodes.Name) and node.node.name != "item"
    if isinstance(node, nodes.Concat):
        return True
    if isinstance(node, nodes.Const):
        return isinstance(node.value, str)
    if isinstance(node, nodes.Or | nodes.And):
        return _is_text(node.left) and _is_text(node.right)
    if isinstance(node, nodes.CondExpr):
        return _is_text(node.expr1) and node.expr2 is not None and _is_text(node.expr2)
    return False


def _is_plain_callable(func: Callable[..., Any]) -> bool:
    return inspect.isfunction(func) or inspect.isbuiltin(func) or isinstance(func, type)


def _str(value: Any) -> str:
    """Jinja's ``~``: ``None`` and missing values join as empty text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _slice(value: Any, start: Any, stop: Any, step: Any) -> Any:
    """``x[a:b]`` as Jinja does it: a list stays a list (issue 14 item 2), text is text."""
    if isinstance(value, list | tuple):
        return list(value)[start:stop:step]
    return _str(value)[start:stop:step]


def build_function(
    name: str, body: str, tables: _Tables, where: str,
    helpers: Mapping[str, Callable[..., Any]] | None = None,
) -> Callable[..., Any]:
    """Compile generated ``body`` (a Python ``def``) with its tables bound as globals."""
    namespace: dict[str, Any] = {"K": tables.constants, "F": tables.functions, "_str": _str,
                                 "_slice": _slice,
                                 "__builtins__": {}, **(helpers or {})}
    try:
        code = compile(body, f"<feedsync {where}>", "exec")
    except SyntaxError as exc:  # pragma: no cover - generated code; a bug if reached
        raise TemplateError(f"{where}: internal compile error: {exc}") from exc
    exec(code, namespace)  # noqa: S102 - code generated above from Jinja's AST, no user text
    function: Callable[..., Any] = namespace[name]
    return function
