"""Load a channel folder (``channel.yaml`` + lookup tables), resolving ``extends:``.

The YAML is checked fully here, before any product is read: unknown keys, wrong types,
unknown writers, rules without a source. Every problem is a ``TemplateError`` naming the
file and the key path. See docs/channels.md for the format.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from feedsync.codes import default_severity
from feedsync.errors import ConfigError, TemplateError
from feedsync.model import SEVERITIES, Severity
from feedsync.rules.checks import CHECKS
from feedsync.yamlio import load_yaml

CHANNEL_FILE = "channel.yaml"
WriterName = Literal["rss", "csv", "tsv", "jsonl", "json", "amazon_listings"]
WRITERS: tuple[WriterName, ...] = get_args(WriterName)
_TOP_KEYS = {"name", "title", "docs", "extends", "outputs", "default_outputs", "fields", "fan_out",
             "checks", "tables", "limits", "remove_fields", "remove_checks", "description",
             "id_field", "recommended"}
_FIELD_KEYS = {"value", "multi", "separator", "children", "child_separator", "rules",
               "outputs", "column", "doc"}
_OUTPUT_KEYS = {"writer", "file", "options"}
_CHECK_KEYS = {"code", "assert", "field", "severity", "message", "source"}


@dataclass(frozen=True)
class RuleSpec:
    check: str
    params: Mapping[str, Any]
    severity: Severity
    source: str
    code: str | None
    message: str | None
    where: str


@dataclass(frozen=True)
class FieldSpec:
    name: str
    value: str
    multi: bool = False
    separator: str = ","
    children: tuple[str, ...] = ()
    child_separator: str = ":"
    rules: tuple[RuleSpec, ...] = ()
    outputs: frozenset[str] | None = None  # None: every output
    column: str | None = None
    # Where the value expression is written, for messages: "<channel.yaml>: fields.x.value",
    # or "channels.<target>.overrides.x" for a merchant's override.
    where: str = ""


@dataclass(frozen=True)
class CheckSpec:
    """An item-level rule: ``assert`` must be true for the item to pass."""

    code: str
    expression: str
    field: str | None
    severity: Severity
    message: str
    source: str
    where: str


@dataclass(frozen=True)
class OutputSpec:
    name: str
    writer: WriterName
    file: str
    options: Mapping[str, Any]


@dataclass
class ChannelSpec:
    name: str
    title: str
    docs: str
    folder: Path
    outputs: dict[str, OutputSpec]
    default_outputs: list[str]
    fields: dict[str, FieldSpec]
    checks: list[CheckSpec]
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    yaml_path: Path = Path()
    fan_out: str | None = None  # "stock": one item per store row of the product
    # The field holding the product's id in this channel (``id``, Amazon's ``sku``):
    # duplicates are checked on its value. None: the channel has none; the catalog id is.
    id_field: str | None = "id"
    # Fields the channel advises filling though it does not reject an item without them
    # (the HTML report's quality score weighs their fill rate; docs/report.md).
    recommended: tuple[str, ...] = ()


def builtin_templates_dir() -> Path:
    """The channel folders shipped with feedsync (``channel_templates/`` in the repo)."""
    return Path(str(resources.files("feedsync.channel_templates")))


class ChannelLibrary:
    """Finds channel folders by name across the built-in and the configured directories.

    Later directories win, so a merchant's folder can replace a built-in channel.
    """

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.dirs = [builtin_templates_dir(), *extra_dirs]

    def available(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for directory in self.dirs:
            if not directory.is_dir():
                continue
            for child in sorted(directory.iterdir()):
                if (child / CHANNEL_FILE).is_file():
                    found[child.name] = child
        return found

    def folder(self, name: str) -> Path:
        folders = self.available()
        if name not in folders:
            raise ConfigError(
                f"unknown channel {name!r}",
                tip="available channels: " + ", ".join(sorted(folders)),
            )
        return folders[name]

    def load(self, name: str) -> ChannelSpec:
        return self._load(name, ())

    def _load(self, name: str, chain: tuple[str, ...]) -> ChannelSpec:
        if name in chain:
            raise TemplateError("circular extends: " + " -> ".join((*chain, name)))
        folder = self.folder(name)
        path = folder / CHANNEL_FILE
        raw = load_yaml(path, TemplateError)
        if not isinstance(raw, dict):
            raise TemplateError("a channel file must be a mapping", file=str(path))
        parent_name = raw.get("extends")
        if parent_name is None:
            return _build_spec(raw, folder, path, None)
        if not isinstance(parent_name, str):
            raise TemplateError("extends must be a channel name", file=str(path), key="extends")
        parent = self._load(parent_name, (*chain, name))
        return _build_spec(raw, folder, path, parent)


def _build_spec(raw: dict[str, Any], folder: Path, path: Path,
                parent: ChannelSpec | None) -> ChannelSpec:
    where = str(path)
    _check_keys(raw, _TOP_KEYS, where, "")
    name = _string(raw.get("name", folder.name), where, "name")
    docs = _string(raw.get("docs", parent.docs if parent else ""), where, "docs")
    if not docs:
        raise TemplateError("every channel names its docs URL", file=where, key="docs")
    outputs = dict(parent.outputs) if parent else {}
    outputs.update(_outputs(raw.get("outputs", {}), where))
    if not outputs:
        raise TemplateError("a channel needs at least one output", file=where, key="outputs")
    fields = dict(parent.fields) if parent else {}
    for field_name in _list_of_str(raw.get("remove_fields", []), where, "remove_fields"):
        fields.pop(field_name, None)
    for field_name, field_raw in _mapping(raw.get("fields", {}), where, "fields").items():
        inherited = fields.get(field_name)
        fields[field_name] = _field(field_name, field_raw, where, inherited)
    checks = list(parent.checks) if parent else []
    removed = set(_list_of_str(raw.get("remove_checks", []), where, "remove_checks"))
    checks = [c for c in checks if c.code not in removed]
    checks += _checks(raw.get("checks", []), where)
    default_outputs = _list_of_str(
        raw.get("default_outputs", parent.default_outputs if parent else list(outputs)[:1]),
        where, "default_outputs")
    for out in default_outputs:
        if out not in outputs:
            raise TemplateError(f"default output {out!r} is not declared", file=where,
                                key="default_outputs")
    tables = dict(parent.tables) if parent else {}
    tables.update(_tables(raw.get("tables", {}), folder, where))
    limits = dict(parent.limits) if parent else {}
    limits.update(_mapping(raw.get("limits", {}), where, "limits"))
    title = _string(raw.get("title", parent.title if parent else name), where, "title")
    fan_out = raw.get("fan_out", parent.fan_out if parent else None)
    if fan_out not in (None, "stock"):
        raise TemplateError("fan_out can only be 'stock' (one item per store row)",
                            file=where, key="fan_out")
    id_name = _string(raw.get("id_field", parent.id_field if parent and parent.id_field
                              else "id"), where, "id_field")
    if id_name not in fields and "id_field" in raw:
        raise TemplateError(f"id_field {id_name!r} is not a field of this channel",
                            file=where, key="id_field")
    id_field = id_name if id_name in fields else None
    return ChannelSpec(name=name, title=title, docs=docs, folder=folder, outputs=outputs,
                       default_outputs=default_outputs, fields=fields, checks=checks,
                       tables=tables, limits=limits, yaml_path=path, fan_out=fan_out,
                       id_field=id_field,
                       recommended=_recommended(raw, parent, fields, where))


def _recommended(raw: dict[str, Any], parent: ChannelSpec | None,
                 fields: Mapping[str, FieldSpec], where: str) -> tuple[str, ...]:
    """``recommended:`` names fields of this channel; a child inherits its parent's list."""
    if "recommended" not in raw:
        return tuple(n for n in (parent.recommended if parent else ()) if n in fields)
    names = _list_of_str(raw["recommended"], where, "recommended")
    for name in names:
        if name not in fields:
            raise TemplateError(f"recommended field {name!r} is not a field of this channel",
                                file=where, key="recommended")
    return tuple(names)


def _outputs(raw: Any, where: str) -> dict[str, OutputSpec]:
    result: dict[str, OutputSpec] = {}
    for name, spec in _mapping(raw, where, "outputs").items():
        key = f"outputs.{name}"
        spec = _mapping(spec, where, key)
        _check_keys(spec, _OUTPUT_KEYS, where, key)
        text = _string(spec.get("writer"), where, f"{key}.writer")
        writer = next((w for w in WRITERS if w == text), None)
        if writer is None:
            raise TemplateError(f"unknown writer {text!r}; one of {', '.join(WRITERS)}",
                                file=where, key=f"{key}.writer")
        file_name = _string(spec.get("file"), where, f"{key}.file")
        options = _mapping(spec.get("options", {}), where, f"{key}.options")
        result[name] = OutputSpec(name=name, writer=writer, file=file_name, options=options)
    return result


def _field(name: str, raw: Any, where: str, inherited: FieldSpec | None) -> FieldSpec:
    key = f"fields.{name}"
    if isinstance(raw, str):  # shorthand: `title: product.title`
        raw = {"value": raw}
    raw = _mapping(raw, where, key)
    _check_keys(raw, _FIELD_KEYS, where, key)
    base = inherited or FieldSpec(name=name, value="")
    value = raw.get("value", base.value)
    if not isinstance(value, str) or not value.strip():
        raise TemplateError("a field needs a value expression", file=where, key=f"{key}.value")
    rules = base.rules
    if "rules" in raw:
        rules = tuple(_rule(r, where, f"{key}.rules[{i}]")
                      for i, r in enumerate(_list(raw["rules"], where, f"{key}.rules")))
    outputs = base.outputs
    if "outputs" in raw:
        outputs = frozenset(_list_of_str(raw["outputs"], where, f"{key}.outputs"))
    children = tuple(_list_of_str(raw.get("children", list(base.children)), where,
                                  f"{key}.children"))
    return FieldSpec(
        name=name, value=value, multi=bool(raw.get("multi", base.multi)),
        separator=_string(raw.get("separator", base.separator), where, f"{key}.separator"),
        children=children,
        child_separator=_string(raw.get("child_separator", base.child_separator), where,
                                f"{key}.child_separator"),
        rules=rules, outputs=outputs, column=raw.get("column", base.column),
        where=f"{where}: {key}.value" if "value" in raw or not base.where else base.where,
    )


def _rule(raw: Any, where: str, key: str) -> RuleSpec:
    raw = dict(_mapping(raw, where, key))
    check = _string(raw.pop("check", None), where, f"{key}.check")
    source = raw.pop("source", None)
    if not isinstance(source, str) or not source.startswith(("http://", "https://")):
        raise TemplateError("every rule names its source URL", file=where, key=f"{key}.source")
    code = raw.pop("code", None)
    known = CHECKS.get(check)
    severity = _severity(raw.pop("severity", default_severity(
        code or (known.code if known else None))), where, key)
    message = raw.pop("message", None)
    return RuleSpec(check=check, params=raw, severity=severity, source=source, code=code,
                    message=message, where=f"{where}: {key}")


def _checks(raw: Any, where: str) -> list[CheckSpec]:
    result = []
    for i, item in enumerate(_list(raw, where, "checks")):
        key = f"checks[{i}]"
        item = _mapping(item, where, key)
        _check_keys(item, _CHECK_KEYS, where, key)
        source = item.get("source")
        if not isinstance(source, str) or not source.startswith(("http://", "https://")):
            raise TemplateError("every check names its source URL", file=where,
                                key=f"{key}.source")
        result.append(CheckSpec(
            code=_string(item.get("code"), where, f"{key}.code"),
            expression=_string(item.get("assert"), where, f"{key}.assert"),
            field=item.get("field"),
            severity=_severity(item.get("severity", default_severity(item.get("code"))),
                               where, key),
            message=_string(item.get("message"), where, f"{key}.message"),
            source=source, where=f"{where}: {key}"))
    return result


def _tables(raw: Any, folder: Path, where: str) -> dict[str, dict[str, str]]:
    """Two-column CSV lookup tables named in the channel file, loaded once."""
    result = {}
    for name, file_name in _mapping(raw, where, "tables").items():
        path = folder / _string(file_name, where, f"tables.{name}")
        result[name] = load_table(path, TemplateError)
    return result


def load_table(path: Path, error: type[TemplateError] | type[ConfigError]) -> dict[str, str]:
    """A CSV with a header and two columns (key, value) as a dict."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise error(f"cannot read lookup table: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise error("lookup table is not UTF-8", file=str(path)) from exc
    table: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) < 2:
            raise error("a lookup row needs a key and a value", file=str(path), line=number)
        table[row[0].strip()] = row[1].strip()
    return table


def _severity(value: Any, where: str, key: str) -> Severity:
    for severity in SEVERITIES:
        if value == severity:
            return severity
    raise TemplateError("severity must be error, warning or hint", file=where,
                        key=f"{key}.severity")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str, key: str) -> None:
    for name in raw:
        if name not in allowed:
            prefix = f"{key}." if key else ""
            raise TemplateError(f"unknown key {name!r}; expected one of "
                                + ", ".join(sorted(allowed)), file=where, key=prefix + str(name))


def _mapping(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TemplateError("expected a mapping", file=where, key=key)
    for name in value:
        # YAML reads `1:`, `~:` and `yes:` as an int, None and a bool: every key here is a
        # name, and a non-text one would fail later as a TypeError (exit 1).
        if not isinstance(name, str):
            raise TemplateError(f"keys must be text, found {name!r}", file=where, key=key)
    return value


def _list(value: Any, where: str, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise TemplateError("expected a list", file=where, key=key)
    return value


def _list_of_str(value: Any, where: str, key: str) -> list[str]:
    items = _list(value, where, key)
    if not all(isinstance(v, str) for v in items):
        raise TemplateError("expected a list of names", file=where, key=key)
    return items


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise TemplateError("expected text", file=where, key=key)
    return value
