"""The channel template engine: compiled fast path vs plain sandboxed Jinja, extends, filters.

compiler.py translates most field expressions to Python and promises that the result is
what Jinja itself would give. These tests hold it to that on every expression of every
shipped channel, over the example catalog, the adversarial rows of gen_catalog.py and
random text.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import nodes

from feedsync.channels.compiler import Data, make_environment
from feedsync.channels.filters import (
    join_values,
    money,
    plain_text,
    single_line,
    split_values,
    truncate_words,
)
from feedsync.channels.loader import ChannelLibrary, ChannelSpec
from feedsync.channels.program import CompiledChannel, lookup_filter
from feedsync.errors import ConfigError, ExitCode, SecurityRefusal, TemplateError
from feedsync.model import Product
from tests.helpers import COLUMNS, EXAMPLES, gen_catalog, shared_dir

CHANNELS = sorted(ChannelLibrary().available())
CONTEXTS = [
    (Data(), Data()),
    (Data(country="DE", currency="EUR", language="de"), Data(currency="USD", condition="new")),
]


def _products_from_csv(path: Path) -> list[Product]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    products = []
    for number, row in enumerate(rows, start=2):
        product = Product({k: v for k, v in row.items() if k is not None and v is not None})
        product.file, product.line = str(path), number
        products.append(product)
    return products


@pytest.fixture(scope="module")
def sample_products(tmp_path_factory: pytest.TempPathFactory) -> list[Product]:
    products = _products_from_csv(EXAMPLES)
    if shared_dir() is not None:
        adversarial = tmp_path_factory.mktemp("adv") / "adv.csv"
        gen_catalog(adversarial, 0, "--adversarial")
        products += _products_from_csv(adversarial)
        assert any(p["id"] == "ok-template-text" for p in products)
    assert len(products) >= 35
    return products


@functools.cache
def _compiled(name: str) -> tuple[ChannelSpec, CompiledChannel, JinjaReference]:
    spec = ChannelLibrary().load(name)
    return spec, CompiledChannel(spec), JinjaReference(spec)


def _normalise(value: Any, multi: bool, separator: str) -> Any:
    """What the channel program does with an expression's value (None/''/lists)."""
    if multi:
        if isinstance(value, list | tuple):
            return [str(v) for v in value if v not in (None, "")]
        text = "" if value is None or value is False else str(value)
        return [part.strip() for part in text.split(separator) if part.strip()]
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    return str(value)


class JinjaReference:
    """Every field and check of a channel evaluated by the sandboxed Jinja environment."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.spec = spec
        env = make_environment({"lookup": lookup_filter(spec.tables)})
        self.fields = {name: env.compile_expression(f.value, undefined_to_none=False)
                       for name, f in spec.fields.items()}
        self.checks = [env.compile_expression(c.expression, undefined_to_none=False)
                       for c in spec.checks]

    def map(self, product: Product, target: Data, defaults: Data) -> dict[str, Any]:
        channel = Data(name=self.spec.name, template=self.spec.name, docs=self.spec.docs)
        item = {}
        for name, expression in self.fields.items():
            field = self.spec.fields[name]
            value = expression(product=product, target=target, defaults=defaults,
                               channel=channel, item=None)
            item[name] = _normalise(value, field.multi, field.separator)
        return item

    def verdicts(self, item: dict[str, Any], product: Product, target: Data,
                 defaults: Data) -> list[bool]:
        channel = Data(name=self.spec.name, template=self.spec.name, docs=self.spec.docs)
        return [bool(check(product=product, target=target, defaults=defaults, channel=channel,
                           item=Data(item))) for check in self.checks]


def _compiled_verdicts(compiled: CompiledChannel, item: dict[str, Any], product: Product,
                       target: Data, defaults: Data) -> list[bool]:
    # Every check that fails becomes an issue carrying the check's code and message.
    spec = compiled.spec
    channel = Data(name=spec.name, template=spec.name, docs=spec.docs)
    issues = compiled.validate(dict(item), product, target, defaults, channel)
    failed = {(i.code, i.message) for i in issues}
    return [(c.code, c.message) not in failed for c in spec.checks]


@pytest.mark.parametrize("name", CHANNELS)
def test_fast_path_agrees_with_jinja_on_sample_products(
        name: str, sample_products: list[Product]) -> None:
    spec = ChannelLibrary().load(name)
    compiled = CompiledChannel(spec)
    reference = JinjaReference(spec)
    assert any(compiled.fast_fields.values()), "no field uses the fast path: nothing compared"
    for target, defaults in CONTEXTS:
        channel = Data(name=spec.name, template=spec.name, docs=spec.docs)
        for product in sample_products:
            fast = compiled.map(product, target, defaults, channel)
            slow = reference.map(product, target, defaults)
            for field in spec.fields:
                assert fast[field] == slow[field], (name, product["id"], field, fast[field],
                                                    slow[field])
            assert (_compiled_verdicts(compiled, fast, product, target, defaults)
                    == reference.verdicts(slow, product, target, defaults)), product["id"]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_TRICKY = st.sampled_from(["", " ", "0", "-1", "12.5", "12,50", "1e309", "NaN", "in stock",
                           "In-Stock", "yes", "FALSE", "a,b,,c", "US::Std:4.95 USD",
                           "<b>x</b> &amp; y", "{{ 7*7 }}", "Apparel & Accessories"])


@pytest.mark.parametrize("name", CHANNELS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_agrees_with_jinja_on_random_text(name: str, data: st.DataObject) -> None:
    spec, compiled, reference = _compiled(name)
    product = Product({column: data.draw(_TEXT | _TRICKY, label=column) for column in COLUMNS})
    product.file, product.line = "random.csv", 2
    target, defaults = CONTEXTS[1]
    channel = Data(name=spec.name, template=spec.name, docs=spec.docs)
    fast = compiled.map(product, target, defaults, channel)
    slow = reference.map(product, target, defaults)
    assert fast == slow


# --- extends -------------------------------------------------------------------------

def _channel(folder: Path, name: str, text: str) -> Path:
    (folder / name).mkdir(parents=True, exist_ok=True)
    path = folder / name / "channel.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_overrides_one_field_and_keeps_the_parents_others(tmp_path: Path) -> None:
    _channel(tmp_path, "shouty", "name: shouty\nextends: google\n"
             "fields:\n  title: {value: product.title | upper}\n")
    library = ChannelLibrary([tmp_path])
    parent, child = library.load("google"), library.load("shouty")
    assert child.name == "shouty"
    assert child.fields["title"].value == "product.title | upper"
    assert child.fields["title"].rules == parent.fields["title"].rules  # rules inherited
    for name, field in parent.fields.items():
        if name != "title":
            assert child.fields[name] == field, name
    assert child.outputs == parent.outputs and child.docs == parent.docs
    assert [c.code for c in child.checks] == [c.code for c in parent.checks]

    product = Product(id="A1", title="Blue mug", description="<p>Nice &amp; big</p>",
                      price="3", currency="EUR")
    item = CompiledChannel(child).map(product, Data(), Data(), Data())
    assert item["title"] == "BLUE MUG"
    assert item["description"] == "Nice & big"   # parent's plain_text expression
    assert item["price"] == "3.00 EUR"


def test_extends_can_remove_fields_and_checks(tmp_path: Path) -> None:
    _channel(tmp_path, "lean", "extends: google\nremove_fields: [tax, shipping]\n"
             "remove_checks: [too-many-images]\n")
    spec = ChannelLibrary([tmp_path]).load("lean")
    assert "tax" not in spec.fields and "shipping" not in spec.fields
    assert "too-many-images" not in [c.code for c in spec.checks]
    assert "title" in spec.fields


@pytest.mark.parametrize("chain", [("a", "b"), ("self",), ("x", "y", "z")])
def test_circular_extends_is_a_template_error(tmp_path: Path, chain: tuple[str, ...]) -> None:
    for i, name in enumerate(chain):
        parent = chain[(i + 1) % len(chain)]
        _channel(tmp_path, name, f"name: {name}\nextends: {parent}\ndocs: https://x.example/\n")
    with pytest.raises(TemplateError, match="circular extends"):
        ChannelLibrary([tmp_path]).load(chain[0])


def test_extends_an_unknown_channel_names_it(tmp_path: Path) -> None:
    _channel(tmp_path, "orphan", "extends: nosuchparent\n")
    with pytest.raises((ConfigError, TemplateError)) as caught:
        ChannelLibrary([tmp_path]).load("orphan")
    assert "nosuchparent" in str(caught.value)


# --- product text is data, never a template (E1) ---------------------------------------

TEMPLATE_LOOKALIKES = ["{{ 7*7 }}", "{% for x in range(9**9) %}x{% endfor %}",
                       "{{ self.__init__.__globals__ }}", "{{ ''.__class__.__mro__ }}",
                       "{# comment #}", "${7*7}", "{{ config }}"]


@pytest.mark.parametrize("text", TEMPLATE_LOOKALIKES)
def test_product_values_are_never_rendered(text: str, tmp_path: Path) -> None:
    # One fast-path field and one field forced through the Jinja fallback (a test node).
    _channel(tmp_path, "both", "name: both\ndocs: https://x.example/\n"
             "outputs: {csv: {writer: csv, file: both.csv}}\nfields:\n"
             "  fast: product.title | single_line\n"
             "  slow: \"product.title if product.title is string else 'no'\"\n")
    compiled = CompiledChannel(ChannelLibrary([tmp_path]).load("both"))
    assert compiled.fast_fields == {"fast": True, "slow": False}
    item = compiled.map(Product(id="1", title=text), Data(), Data(), Data())
    assert item["fast"] == " ".join(text.split())
    assert item["slow"] == text
    google = CompiledChannel(ChannelLibrary().load("google"))
    mapped = google.map(Product(id="1", title=text, description=text), Data(), Data(), Data())
    assert mapped["title"] == text and mapped["description"] == text


# --- load-time refusals --------------------------------------------------------------

@pytest.mark.parametrize("expression, message", [
    ("produkt.title", "undefined variable 'produkt'"),
    ("produkt", "undefined variable 'produkt'"),
    ("(product.title | nope) ~ 'x'", "unknown filter 'nope'"),
    ("product.title | no_such_filter", "unknown filter 'no_such_filter'"),
    ("product.title | ", "bad expression"),
    ("product.title }} {{ product.id", "expected one expression|bad expression"),
])
def test_bad_expressions_fail_when_the_channel_compiles(
        tmp_path: Path, expression: str, message: str) -> None:
    _channel(tmp_path, "bad", "name: bad\ndocs: https://x.example/\n"
             "outputs: {csv: {writer: csv, file: bad.csv}}\nfields:\n"
             f"  title: {{value: \"{expression}\"}}\n")
    spec = ChannelLibrary([tmp_path]).load("bad")
    with pytest.raises(TemplateError, match=message) as caught:
        CompiledChannel(spec)
    assert "channel.yaml" in str(caught.value)  # the file is named
    assert "fields.title" in str(caught.value)  # and the key


# --- filters -------------------------------------------------------------------------

def test_plain_text_keeps_comparisons_and_ampersands() -> None:
    assert plain_text("5 < 6 & 7 > 3") == "5 < 6 & 7 > 3"
    assert plain_text("<p>5 &lt; 6 &amp; more</p><ul><li>a</li><li>b</li></ul>") == (
        "5 < 6 & more\na\nb")
    assert plain_text('Tom & Jerry <b>"Deluxe"</b> Mug') == 'Tom & Jerry "Deluxe" Mug'
    assert plain_text("<script>alert(1)</script>Safe") == "Safe"
    assert plain_text("  lots   of\t space ") == "lots of space"
    assert plain_text(None) == ""


def test_single_line_collapses_all_whitespace() -> None:
    assert single_line(" a\n b\r\n\tc  ") == "a b c"


@pytest.mark.parametrize("value, currency, expected", [
    ("12.5", "usd", "12.50 USD"),
    ("12", "EUR", "12.00 EUR"),
    ("12.50 GBP", "USD", "12.50 GBP"),   # an amount's own currency wins
    ("12.349", "USD", "12.35 USD"),
    ("", "USD", ""),
    ("1,99", "USD", "1,99 USD"),         # comma kept: the channel's money rule decides
    ("NaN", "USD", "NaN"),
    ("inf", "USD", "inf"),
    ("1e309", "USD", "1e309"),
    ("-0", "USD", "0.00 USD"),        # a zero price, not a negative one (issue 15 item 6)
    ("-0.001", "USD", "0.00 USD"),
    ("-0,004", "EUR", "0,00 EUR"),
    ("12.5", "", "12.50"),
])
def test_money(value: str, currency: str, expected: str) -> None:
    assert money(value, currency) == expected


@given(st.text(alphabet=st.sampled_from("ab c  de,f"), max_size=60),
       st.integers(min_value=1, max_value=40))
def test_truncate_words_cuts_on_word_boundaries(text: str, length: int) -> None:
    result = truncate_words(text, length)
    assert len(result) <= length
    assert text.startswith(result)
    if len(text) <= length:
        assert result == text
    elif " " in text[length // 2 + 1:length]:
        # a space in the second half of the window: the cut falls on a word boundary
        assert text[len(result)] in " ,;:-" or result == text


def test_truncate_words_examples() -> None:
    assert truncate_words("one two three four", 10) == "one two"
    assert truncate_words("one two three four", 100) == "one two three four"
    assert truncate_words("one two three four", 12, "…") == "one two…"


def test_split_and_join() -> None:
    assert split_values(" a, b ,,c ") == ["a", "b", "c"]
    assert split_values("a|b", "|") == ["a", "b"]
    assert split_values("") == []
    assert join_values(["a", "", "b"], "|") == "a|b"
    assert join_values("x") == "x"


def test_filters_run_the_same_through_jinja() -> None:
    env = make_environment()
    expression = env.compile_expression(
        "product.title | plain_text ~ '|' ~ (product.price | money('eur')) ~ '|' ~ "
        "(product.tags | split_values | join_values(';'))")
    product = Product(title="5 < 6 &amp; <i>x</i>", price="7", tags="a, b,,c")
    assert expression(product=product) == "5 < 6 & x|7.00 EUR|a;b;c"


def _iter_expressions() -> Iterator[tuple[str, str, str]]:
    for name in CHANNELS:
        spec = ChannelLibrary().load(name)
        for field_name, field in spec.fields.items():
            yield name, field_name, field.value


@pytest.mark.parametrize("channel, field, expression", list(_iter_expressions()))
def test_every_shipped_expression_parses_in_the_sandbox(
        channel: str, field: str, expression: str) -> None:
    env = make_environment({"lookup": lookup_filter({})})
    compiled = env.compile_expression(expression)
    assert callable(compiled)
    # Every filter it names is one the sandbox provides (Jinja would only find out when
    # the filter is first reached, on some product, in the middle of a build).
    used = {node.name for node in env.parse(f"{{{{ {expression} }}}}").find_all(nodes.Filter)}
    assert used <= set(env.filters), f"{channel}.{field} uses unknown {used - set(env.filters)}"


# --- the sandbox (E2) ----------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    "product.__class__",
    "product.__class__.__mro__",
    "''.__class__",
    "product | attr('__class__')",
    "(product.title ~ '') | attr('__init__')",
    "target._secret",
])
def test_underscore_attributes_are_a_security_refusal_at_load_time(
        tmp_path: Path, expression: str) -> None:
    _channel(tmp_path, "escape", "name: escape\ndocs: https://x.example/\n"
             "outputs: {csv: {writer: csv, file: e.csv}}\nfields:\n"
             f"  title: {{value: \"{expression}\"}}\n")
    spec = ChannelLibrary([tmp_path]).load("escape")
    with pytest.raises(SecurityRefusal) as caught:
        CompiledChannel(spec)
    assert caught.value.exit_code is ExitCode.SECURITY
    assert "fields.title" in str(caught.value) and "channel.yaml" in str(caught.value)


def test_str_format_escape_is_a_security_refusal_per_product(tmp_path: Path) -> None:
    _channel(tmp_path, "fmt", "name: fmt\ndocs: https://x.example/\n"
             "outputs: {csv: {writer: csv, file: f.csv}}\nfields:\n"
             "  title: {value: \"'{0.__class__}'.format(product.title)\"}\n")
    compiled = CompiledChannel(ChannelLibrary([tmp_path]).load("fmt"))
    with pytest.raises(SecurityRefusal, match="sandbox violation"):
        compiled.map(Product(id="1", title="x"), Data(), Data(), Data())
