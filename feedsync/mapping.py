"""Catalog mapping: any export's rows into canonical products, by configuration alone.

``catalog.fields`` maps a canonical attribute to a column or to a Jinja expression over
``row``. All of them are compiled once, by the channel compiler and its sandbox
(``feedsync/channels/compiler.py``), into one generated Python function that writes the
mapped attributes into the row in place: no per-row copy, no per-field call. Product text
is only ever data passed to that function.

``RowMapper.stream`` wraps the record stream (after the shop-export profile): it checks
the mapped columns against the first record (the header), groups variant rows
(``group_by``: streaming, one group held), then maps, splits multi-values, names option
pairs and joins units. docs/mapping.md describes every key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError, UndefinedError

from feedsync.channels.compiler import (
    Data,
    ExpressionCompiler,
    build_function,
    make_environment,
)
from feedsync.channels.filters import split_values
from feedsync.config import MappingConfig
from feedsync.errors import ConfigError, SecurityRefusal, TemplateError
from feedsync.model import Record, RowProblem
from feedsync.rules.duplicates import SeenIds

Stream = Iterator[Record | RowProblem]
MapFunction = Callable[[dict[str, str]], dict[str, str]]

_COLUMN = re.compile(r"^[^\s'\"()|~+*/<>=!\[\]{}]+$")  # a bare word: a column name
_PRODUCT_NAME = re.compile(r"""product(?:\.([A-Za-z_]\w*)|\[\s*['"]([^'"]+)['"]\s*\])""")
_OPTION_PAIR = re.compile(r"^option\s*_?(\d+)\s*_?\s*(name|value)$", re.I)
_FACET_SPLIT = re.compile(r"[|,;]")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")

# Default option name -> attribute synonyms (docs/mapping.md, ``options``).
OPTION_SYNONYMS: dict[str, str] = {
    "color": "color", "colour": "color", "farbe": "color", "couleur": "color",
    "size": "size", "größe": "size", "groesse": "size", "taille": "size",
    "material": "material", "fabric": "material", "pattern": "pattern", "print": "pattern",
    "gender": "gender", "age group": "age_group", "age_group": "age_group",
}
# Attributes feedsync itself sets or reads, whether or not a template names them.
_CORE_ATTRIBUTES = frozenset({"id", "item_group_id", "title", "description", "link",
                              "image_link", "additional_image_link", "price", "sale_price",
                              "availability", "brand", "gtin", "mpn", "condition", "color",
                              "size", "material", "pattern", "gender", "age_group",
                              "quantity", "product_type", "google_product_category",
                              "shipping_weight", "shipping_length", "shipping_width",
                              "shipping_height", "store_code"})


# --- the filters a mapping expression may use, besides every channel filter ------------
def split(value: Any, separator: str = ",") -> list[str]:
    """``row.assets | split('|')``: the parts, trimmed, empty ones dropped."""
    return split_values(value, separator)


def first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else ""
    return value if value is not None else ""


def last(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[-1] if value else ""
    return value if value is not None else ""


def to_int(value: Any, default: int = 0) -> int:
    """``row.stock | int``: a whole number, ``default`` when the text is not one."""
    try:
        return int(float(str(value).strip().replace(",", ".")))
    except ValueError:
        return default


def to_float(value: Any, default: float = 0.0) -> float:
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return default


def facet(value: Any, key: str) -> str:
    """``brand:Acme|color:red`` read by key (case-insensitive); ``""`` when absent."""
    wanted = key.strip().lower()
    parts = value if isinstance(value, list) else _FACET_SPLIT.split(str(value or ""))
    for part in parts:
        name, colon, found = str(part).partition(":")
        if colon and name.strip().lower() == wanted:
            return found.strip()
    return ""


MAPPING_FILTERS: dict[str, Callable[..., Any]] = {
    "split": split, "first": first, "last": last, "int": to_int, "float": to_float,
    "facet": facet,
}


def _value(value: Any) -> str:
    """A mapped value as the text a product holds: lists become `,`-separated values."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value if v is not None and v != "")
    return str(value)


class _RowCompiler(ExpressionCompiler):
    """The channel compiler, over one name: ``row`` (a dict of the row's cells)."""

    def _check_names(self, tree: nodes.Expr, where: str) -> None:
        names = [tree] if isinstance(tree, nodes.Name) else []
        for name in [*names, *tree.find_all(nodes.Name)]:
            if name.ctx == "load" and name.name != "row":
                raise TemplateError(f"{where}: undefined variable {name.name!r}",
                                    tip="a mapping expression reads the row's cells: "
                                        "row.column or row['column name']")

    def _n_Getattr(self, node: nodes.Getattr) -> str:
        if not isinstance(node.node, nodes.Name):
            return super()._n_Getattr(node)
        return f"row.get({self.tables.const(node.attr)}, '')"

    def _n_Getitem(self, node: nodes.Getitem) -> str:
        arg = node.arg
        if isinstance(node.node, nodes.Name) and isinstance(arg, nodes.Const) \
                and isinstance(arg.value, str):
            return f"row.get({self.tables.const(arg.value)}, '')"
        return super()._n_Getitem(node)

    def _fallback(self, text: str, where: str) -> str:
        compiled = self.env.compile_expression(text, undefined_to_none=False)

        def call(row: dict[str, str]) -> Any:
            try:
                return compiled(row=Data(row))
            except SecurityError as exc:
                raise SecurityRefusal(f"{where}: template sandbox violation: {exc}") from exc
            except UndefinedError as exc:
                raise TemplateError(f"{where}: {exc.message}") from exc

        return f"{self.tables.func(call)}(row)"

    def columns(self, text: str, where: str) -> set[str]:
        """The cells an expression reads (``row.x``, ``row['x']``)."""
        tree = self._parse(text, where)
        found = [tree, *tree.find_all((nodes.Getattr, nodes.Getitem))]
        names = {n.attr for n in found if isinstance(n, nodes.Getattr)
                 and isinstance(n.node, nodes.Name)}
        names |= {n.arg.value for n in found if isinstance(n, nodes.Getitem)
                  and isinstance(n.node, nodes.Name) and isinstance(n.arg, nodes.Const)
                  and isinstance(n.arg.value, str)}
        return names


@cache
def _template_attributes(folders: tuple[Path, ...]) -> frozenset[str]:
    names: set[str] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".j2", ".jinja", ".xml") and path.is_file():
                for match in _PRODUCT_NAME.finditer(path.read_text(encoding="utf-8",
                                                                   errors="replace")):
                    names.add(match.group(1) or match.group(2))
    return frozenset(names)


def known_attributes(template_dirs: Iterable[Path] = ()) -> frozenset[str]:
    """Every canonical attribute: what the channel templates read, plus feedsync's own."""
    from feedsync.channels.loader import builtin_templates_dir

    folders = (builtin_templates_dir(), *(Path(p) for p in template_dirs))
    return _CORE_ATTRIBUTES | _template_attributes(tuple(folders))


class RowMapper:
    """The compiled ``catalog:`` mapping of one run."""

    def __init__(self, config: MappingConfig, where: str = "<config>",
                 attributes: frozenset[str] | None = None,
                 extra_attributes: Iterable[str] = ()) -> None:
        self.config = config
        self.where = where
        attributes = (attributes or known_attributes()) | frozenset(extra_attributes)
        self._check_attributes(attributes)
        env = make_environment(MAPPING_FILTERS)
        self.compiler = _RowCompiler(env)
        self.columns: dict[str, set[str]] = {}  # config key -> the columns it reads
        self.function = self._compile()
        self._pairs: list[tuple[str, str]] = []  # option1_name/option1_value columns

    def _check_attributes(self, attributes: frozenset[str]) -> None:
        targets = [*(("catalog.fields", a) for a in self.config.fields),
                   *(("catalog.split", a) for a in self.config.split),
                   *(("catalog.units", a) for a in self.config.units)]
        if self.config.options:
            targets += [("catalog.options.map", a) for a in self.config.options.map.values()]
        for prefix, attribute in targets:
            if attribute in attributes or attribute.startswith(("option_", "custom_")):
                continue
            close = difflib.get_close_matches(attribute, sorted(attributes), n=3)
            raise ConfigError(
                f"unknown attribute {attribute!r}: no channel template reads it",
                file=self.where, key=f"{prefix}.{attribute}",
                tip=(f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                     "docs/mapping.md lists the canonical attributes"))

    def _compile(self) -> MapFunction:
        """One ``def map_row(row)``: every value computed first (each reads the row as
        read), then written into the row.

        A column mapped by its bare name and read by nothing else moves to its attribute
        (``row.pop``): the product does not carry the same text twice, which would double
        the cost of everything that scans a product's values.
        """
        tables = self.compiler.tables
        bare: dict[str, str] = {}
        reads: dict[str, int] = {}
        expressions: list[tuple[str, str]] = []
        for attribute, text in self.config.fields.items():
            key = f"catalog.fields.{attribute}"
            text = text.strip()
            if _COLUMN.match(text):
                self.columns[key] = {text}
                bare[attribute] = text
            else:
                try:
                    self.columns[key] = self.compiler.columns(text, key)
                    expr, _, is_text = self.compiler.compile_value(text, key)
                except (TemplateError, SecurityRefusal) as exc:
                    raise ConfigError(f"the expression {text!r} does not compile: "
                                      f"{_strip_where(exc.message, key)}", file=self.where,
                                      key=key, tip=exc.tip) from exc
                expressions.append((attribute, expr if is_text else f"_value({expr})"))
            for column in self.columns[key]:
                reads[column] = reads.get(column, 0) + 1
        for column in self._later_columns():
            reads[column] = reads.get(column, 0) + 2
        lines = ["def map_row(row):"]
        writes = []
        for i, (attribute, source) in enumerate(expressions):
            lines.append(f"    e{i} = {source}")
            writes.append(f"    row[{tables.const(attribute)}] = e{i}")
        for i, (attribute, column) in enumerate(bare.items()):
            if column == attribute:
                continue
            how = "pop" if reads[column] == 1 else "get"
            lines.append(f"    b{i} = row.{how}({tables.const(column)}, '')")
            writes.append(f"    row[{tables.const(attribute)}] = b{i}")
        lines += [*writes, "    return row"]
        function: MapFunction = build_function(
            "map_row", "\n".join(lines) + "\n", tables, "catalog.fields",
            helpers={"_value": _value})
        return function

    def _later_columns(self) -> set[str]:
        """Columns the steps after ``fields`` read: they must stay on the row."""
        columns = {self.config.group_by or ""}
        if self.config.options:
            columns |= {self.config.options.names, self.config.options.values}
        for unit in self.config.units.values():
            columns |= {unit.value, unit.unit}
        return columns - {""}

    # --- the stream -----------------------------------------------------------------
    def stream(self, records: Iterable[Record | RowProblem], check_header: bool) -> Stream:
        """The records mapped; ``check_header``: the first record's columns are the
        header (CSV/TSV), so a mapped column it lacks stops the run before any product."""
        items = self._checked(iter(records)) if check_header else iter(records)
        return self._mapped(self._grouped(items) if self.config.group_by else items)

    def _checked(self, items: Iterator[Record | RowProblem]) -> Stream:
        for item in items:
            if type(item) is Record:
                self.check_header(item.data.keys())
                yield item
                break
            yield item
        yield from items

    def check_header(self, columns: Iterable[str]) -> None:
        """Every mapped column is in the header, before the first product is read."""
        names = list(columns)
        present = set(names)
        wanted = dict(self.columns)
        if self.config.group_by:
            wanted["catalog.group_by"] = {self.config.group_by}
        if self.config.options:
            wanted["catalog.options.names"] = {self.config.options.names}
            wanted["catalog.options.values"] = {self.config.options.values}
        for attribute, unit in self.config.units.items():
            wanted[f"catalog.units.{attribute}.value"] = {unit.value}
            wanted[f"catalog.units.{attribute}.unit"] = {unit.unit}
        for key, needed in wanted.items():
            for column in sorted(needed - present):
                close = difflib.get_close_matches(column, names, n=3, cutoff=0.5)
                raise ConfigError(
                    f"the catalog has no column {column!r}", file=self.where, key=key,
                    tip=("closest columns: " + ", ".join(close)) if close else
                    ("columns: " + ", ".join(names[:20])))

    def _bind(self, columns: Iterable[str]) -> None:
        pairs: dict[str, dict[str, str]] = {}
        for column in columns:
            match = _OPTION_PAIR.match(column.strip())
            if match:
                pairs.setdefault(match.group(1), {})[match.group(2).lower()] = column
        self._pairs = [(p["name"], p["value"]) for _, p in sorted(pairs.items(),
                                                                   key=lambda kv: int(kv[0]))
                       if "name" in p and "value" in p]

    def _mapped(self, items: Iterable[Record | RowProblem]) -> Stream:
        function = self.function if self.config.fields else None
        stream = iter(items)
        for item in stream:  # up to the first record: its header finds option columns
            if type(item) is Record:
                self._bind(item.data.keys())
                self._map_one(item.data, function)
                yield item
                break
            yield item
        if function is not None and not self._has_steps():
            # Only fields: the one generated function per record, nothing else.
            for item in stream:
                if type(item) is Record:
                    function(item.data)
                yield item
            return
        for item in stream:
            if type(item) is Record:
                self._map_one(item.data, function)
            yield item

    def _has_steps(self) -> bool:
        config = self.config
        return bool(config.split or config.options or config.units or self._pairs)

    def _map_one(self, data: dict[str, str], function: MapFunction | None) -> None:
        if function is not None:
            function(data)
        for attribute, separator in self.config.split.items():
            value = data.get(attribute, "")
            if separator in value:
                data[attribute] = ",".join(split_values(value, separator))
        options = self.config.options
        if options is not None:
            self._options(data, options.names, options.values, options.separator)
        for name_column, value_column in self._pairs:
            self._option(data, data.get(name_column, ""), data.get(value_column, ""))
        for attribute, unit in self.config.units.items():
            number = data.get(unit.value, "").strip()
            measure = data.get(unit.unit, "").strip()
            data[attribute] = f"{number} {measure}" if number and measure else number

    def _options(self, data: dict[str, str], names: str, values: str, separator: str) -> None:
        name_list = data.get(names, "").split(separator)
        value_list = data.get(values, "").split(separator)
        for name, value in zip(name_list, value_list, strict=False):
            self._option(data, name, value)

    def _option(self, data: dict[str, str], name: str, value: str) -> None:
        name, value = name.strip(), value.strip()
        if not name or not value:
            return
        key = name.lower()
        mapped = self.config.options.map if self.config.options else {}
        attribute = mapped.get(key) or OPTION_SYNONYMS.get(key) or \
            "option_" + re.sub(r"\W+", "_", key).strip("_")
        if not data.get(attribute):
            data[attribute] = value

    def _grouped(self, items: Iterator[Record | RowProblem]) -> Stream:
        """Master row + variant rows, one group held (see docs/mapping.md)."""
        column = self.config.group_by
        assert column is not None
        # Finished groups' keys as 64-bit hashes in flat arrays (12 bytes a group, as for
        # duplicate ids): enough to say a key came back, never the groups themselves.
        seen = SeenIds()
        key = ""
        master: Record | None = None
        master_raw: dict[str, str] = {}
        variants = 0
        rows = keyed = 0
        for item in items:
            if type(item) is not Record:
                yield item
                continue
            rows += 1
            value = item.data.get(column, "")
            value = value.strip() if isinstance(value, str) else str(value)
            if not value and master is not None and self.config.group_empty == "continue":
                value = key  # the export writes the key on the group's master row only
            if not value:
                yield RowProblem(item.file, item.line, "group-key-empty",
                                 f"the {column!r} cell (catalog.group_by) is empty; the row "
                                 "belongs to no product group", _id_of(item))
                continue
            keyed += 1
            if master is not None and value == key:
                if variants == 0:
                    yield self._with_group(master, key) if self._sellable(master_raw) else \
                        RowProblem(master.file, master.line, "profile-not-a-product",
                                   f"the master row of group {key!r} ({column}) has variants "
                                   "and no price of its own; its variants are the products",
                                   _id_of(master))
                variants += 1
                for name, cell in master_raw.items():
                    if not item.data.get(name):
                        item.data[name] = cell
                yield self._with_group(item, key)
                continue
            if master is not None and variants == 0:
                yield master
            if master is not None:
                seen.add(key, master.line)
            earlier = seen.line_of(value)
            if earlier:
                yield RowProblem(item.file, item.line, "group-not-adjacent",
                                 f"group {value!r} ({column}) began at line {earlier}, with "
                                 "other groups between; the rows of a group must be adjacent",
                                 _id_of(item))
                master = None
                key = ""
                continue
            key, master, variants = value, item, 0
            master_raw = dict(item.data)
        if master is not None and variants == 0:
            yield master
        if rows and not keyed:
            raise ConfigError(f"the group_by column {column!r} is empty on every row",
                              file=self.where, key="catalog.group_by",
                              tip="name the column that is the same on a product's master "
                                  "row and its variant rows (a slug, a parent SKU)")

    def _sellable(self, raw: dict[str, str]) -> bool:
        """A master row is a product of its own only when it has a price above 0."""
        price = raw.get("price", "")
        if self.config.fields.get("price"):
            price = self.function(dict(raw)).get("price", "")
        match = _NUMBER.search(price or "")
        return match is not None and to_float(match.group(0)) > 0

    def _with_group(self, item: Record, key: str) -> Record:
        mapped_group = self.config.fields.get("item_group_id")
        if not mapped_group and not item.data.get("item_group_id"):
            item.data["item_group_id"] = key
        return item


def _id_of(item: Record) -> str | None:
    value = item.data.get("id")
    return value if isinstance(value, str) and value else None


def _strip_where(message: str, key: str) -> str:
    """The compiler's message without the key and text the config error names already."""
    for marker in (f" in {key}: ", f"{key}: "):
        at = message.find(marker)
        if at >= 0:
            return message[at + len(marker):]
    return message


def mapper_for(config: MappingConfig, where: str,
               template_dirs: Iterable[Path] = ()) -> RowMapper | None:
    """The run's mapper, or None when the config maps nothing."""
    if not config.active:
        return None
    return RowMapper(config, where, known_attributes(template_dirs))


__all__ = ["MAPPING_FILTERS", "OPTION_SYNONYMS", "RowMapper",
           "facet", "known_attributes", "mapper_for"]
