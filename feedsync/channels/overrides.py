"""Check a merchant's expressions (``channels.NAME.overrides``) before any product is read.

A mistake in an override is the merchant's, in the merchant's file: it is a ``ConfigError``
(exit 2) naming the config file and the key ``channels.google.overrides.title``, never the
shipped template the field came from (issue 14 item 4). An unknown filter lists the filters
that exist, the close matches first; a value YAML read as plain text where an expression
was meant (an unquoted URL) is told so.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from feedsync.channels.compiler import ExpressionCompiler, make_environment
from feedsync.errors import ConfigError, TemplateError

# Text that reads as a literal, not an expression: a URL, or words with spaces and no
# operator. Such a value needs quotes inside the YAML value: "'https://…'".
_LOOKS_LITERAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^'\"|()~]*\s[^'\"|()~]*$")


def filters_hint(name: str, known: Iterable[str]) -> str:
    """``available filters: title, trim, …``: the close matches to ``name`` first."""
    every = sorted(known)
    close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
    rest = [f for f in every if f not in close]
    lead = "did you mean " + " or ".join(repr(c) for c in close) + "? " if close else ""
    return lead + "available filters: " + ", ".join(close + rest)


def check_overrides(overrides: Mapping[str, str], target: str, config_file: Path | None,
                    extra_filters: Mapping[str, Callable[..., Any]]) -> None:
    """Raise ``ConfigError`` for the first override that is not a usable expression."""
    env = make_environment(extra_filters)
    for name, expression in overrides.items():
        key = f"channels.{target}.overrides.{name}"
        file = str(config_file) if config_file is not None else None
        _check_one(env, expression, key, file)


def _check_one(env: Any, expression: str, key: str, file: str | None) -> None:
    try:
        tree = env.parse("{{ (" + expression + ") }}")
    except TemplateSyntaxError as exc:
        raise ConfigError(_syntax_message(expression, exc.message or "syntax error"),
                          file=file, key=key, tip=_syntax_tip(expression)) from exc
    for node in tree.find_all(nodes.Filter):
        if node.name not in env.filters:
            raise ConfigError(f"unknown filter {node.name!r} in {expression!r}", file=file,
                              key=key, tip=filters_hint(node.name, env.filters))
    try:
        ExpressionCompiler(env).compile_value(expression, key)
    except TemplateError as exc:
        raise ConfigError(exc.message.removeprefix(f"{key}: "), file=file, key=key,
                          tip=exc.tip) from exc


def _syntax_message(expression: str, detail: str) -> str:
    if _LOOKS_LITERAL.search(expression.strip()):
        return (f"{expression!r} is not a Jinja expression but plain text "
                f"(Jinja says: {detail})")
    return f"{expression!r} is not a valid Jinja expression: {detail}"


def _syntax_tip(expression: str) -> str:
    if _LOOKS_LITERAL.search(expression.strip()):
        return ("an override is an expression; to write fixed text, quote it inside the "
                f"YAML value: \"'{expression.strip()}'\"")
    return "overrides are Jinja expressions such as: product.title | truncate_words(150)"
