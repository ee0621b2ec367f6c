"""``feedsync.yaml``: loaded strictly and checked fully before any work starts.

Every problem is a ``ConfigError`` naming the file and the key path (``channels.google.
outputs``). Unknown keys get a suggestion. Secrets are never accepted inline: a key such
as ``password:`` is refused with a pointer to ``password_env`` / ``password_file``.
YAML 1.1 traps (``country: NO`` read as false, ``gtin: 0012…`` read as a number) are
refused where text is expected, with a tip to quote the value. See config.example.yaml.

Settings that are only used late in a run are checked here too, so that a mistake costs
nothing (no lock taken, no run recorded, no catalog read): the publish gate's limits,
``catalog.profile``, and each destination's URL and options (``destinations.py``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from feedsync.destinations import destination_of
from feedsync.errors import ConfigError
from feedsync.gate import GatePolicy
from feedsync.profiles import PROFILES
from feedsync.sources.base import FormatOption
from feedsync.yamlio import load_yaml

_TOP_KEYS = {"version", "catalog", "defaults", "output_dir", "template_dirs", "channels",
             "gate", "state_dir", "keep_feeds", "supplemental", "category_map", "jobs",
             "report", "follow_symlinks_outside_output"}
_REPORT_KEYS = {"html"}
_SUPPLEMENTAL_KEYS = {"path", "key", "columns", "mode", "format", "encoding", "delimiter"}
_CATEGORY_KEYS = {"path", "from", "to"}
_CATALOG_KEYS = {"path", "format", "encoding", "delimiter", "profile", "fields", "trim",
                 "group_by", "group_empty", "split", "options", "units", "translations",
                 "short_rows"}
_OPTIONS_KEYS = {"names", "values", "separator", "map"}
_UNIT_KEYS = {"value", "unit"}
_TRANSLATION_KEYS = {"path", "key", "locale", "fields", "format", "encoding", "delimiter"}
_CHANNEL_KEYS = {"template", "outputs", "files", "target", "options", "destinations", "gate",
                 "overrides", "include", "exclude", "reserve", "stock", "api", "severity"}
_STOCK_KEYS = {"path", "key", "store"}
_TARGET_KEYS = {"country", "currency", "language"}
_FORMATS: tuple[FormatOption, ...] = get_args(FormatOption)
# Keys whose value would be a secret. Their *_env / *_file forms are the only way in.
_SECRET_KEY = re.compile(
    r"^(password|passphrase|secret|token|api_key|apikey|client_secret|refresh_token|"
    r"access_token|private_key|key_passphrase|bearer)$", re.I)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class CatalogConfig:
    path: Path | None = None
    format: FormatOption = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    profile: str = "auto"    # shop-export profile (feedsync/profiles), "auto" or "none"
    mapping: MappingConfig = field(default_factory=lambda: MappingConfig())
    short_rows: Literal["error", "pad"] = "error"  # a row with fewer cells than the header


@dataclass(frozen=True)
class OptionsConfig:
    """Positional option pairs: ``names`` and ``values`` columns split on ``separator``."""

    names: str
    values: str
    separator: str = "|"
    map: Mapping[str, str] = field(default_factory=dict)   # option name -> attribute


@dataclass(frozen=True)
class UnitField:
    """An attribute made of a number column and a unit column (``19.8`` + ``lb``)."""

    value: str
    unit: str


@dataclass(frozen=True)
class TranslationsConfig:
    """A file of (product key, locale) -> title/description, for targets with a language."""

    path: Path
    key: str = "id"
    locale: str = "locale"
    fields: Mapping[str, str] = field(default_factory=lambda: {
        "title": "title", "description": "description"})
    format: FormatOption = "auto"
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class MappingConfig:
    """``catalog:`` keys that turn any export into canonical products (docs/mapping.md)."""

    fields: Mapping[str, str] = field(default_factory=dict)  # attribute <- column/expression
    trim: bool = True
    group_by: str | None = None
    group_empty: str = "skip"  # a row whose group key is empty: "skip" it, or "continue"
    split: Mapping[str, str] = field(default_factory=dict)   # attribute -> separator
    options: OptionsConfig | None = None
    units: Mapping[str, UnitField] = field(default_factory=dict)
    translations: TranslationsConfig | None = None

    @property
    def active(self) -> bool:
        """Whether any mapping step runs (trim alone is done by the reader)."""
        return bool(self.fields or self.group_by or self.split or self.options
                    or self.units)


@dataclass(frozen=True)
class ChannelConfig:
    """One channel target: a template folder, the outputs to write, and where to."""

    name: str                                   # target name, e.g. google or google-DE
    template: str                               # channel folder name
    outputs: tuple[str, ...] | None = None      # None: the template's default outputs
    files: Mapping[str, str] = field(default_factory=dict)
    # The config's ``target:`` (country, currency, language): the market this target
    # sells to, given to the templates as their ``target`` variable.
    market: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    destinations: tuple[Mapping[str, Any], ...] = ()
    gate: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # field -> expression
    include: str | None = None                                  # expression over product
    exclude: str | None = None
    reserve: Reserve | None = None
    stock: StockConfig | None = None
    # Channel API settings (merchant/catalog ids, credentials as *_env / *_file): checked by
    # feedsync/apis when a push plans, not here (docs/apis.md).
    api: Mapping[str, Any] = field(default_factory=dict)
    # Rule severities raised or lowered for this target (code -> severity, or code ->
    # field -> severity): checked against the channel in feedsync/channels/severity.py.
    severity: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StockConfig:
    """A store stock file (store_code, id, quantity[, price …]) for local inventory feeds."""

    path: Path
    key: str = "id"
    store: str = "store_code"


@dataclass(frozen=True)
class Reserve:
    """Units a channel must never sell: a fixed count or a percentage of the stock."""

    units: int = 0
    percent: float = 0.0


@dataclass(frozen=True)
class Supplemental:
    """A file joined to the catalog by id: stock levels, GTIN backfill, title overrides."""

    path: Path
    key: str = "id"
    columns: tuple[str, ...] | None = None
    mode: str = "override"   # override: its values win; fill: only empty attributes
    format: FormatOption = "auto"
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class CategoryMap:
    """A two-column CSV mapping one attribute to another (product_type -> google category)."""

    path: Path
    source: str = "product_type"
    target: str = "google_product_category"


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    catalog: CatalogConfig = CatalogConfig()
    defaults: Mapping[str, str] = field(default_factory=dict)
    output_dir: Path = Path("out")
    template_dirs: tuple[Path, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    gate: Mapping[str, Any] = field(default_factory=dict)
    state_dir: Path = Path(".feedsync")
    keep_feeds: int = 5
    supplemental: tuple[Supplemental, ...] = ()
    category_map: CategoryMap | None = None
    jobs: int = 0            # worker processes for a build; 0 = automatic, 1 = serial
    report_html: Path | None = None  # report.html: build and validate write the HTML report
    # A feed or issue log that is a symlink out of the output folder is refused unless this
    # is set (issue 15, item 3): a planted link must not redirect a write.
    follow_symlinks_outside_output: bool = False


def load_config(path: Path) -> Config:
    """Read and check ``path``; relative paths in it are relative to its folder."""
    raw = load_yaml(path, ConfigError)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the config file must be a mapping of settings", file=str(path))
    return parse_config(raw, path)


def parse_config(raw: Mapping[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "<config>"
    base = path.parent if path else Path.cwd()
    _reject_inline_secrets(raw, where, "")
    _check_keys(raw, _TOP_KEYS, where, "")
    version = raw.get("version", 1)
    if version != 1:
        raise ConfigError(f"unsupported config version {version!r}; this feedsync reads 1",
                          file=where, key="version")
    return Config(
        path=path,
        catalog=_catalog(raw.get("catalog"), base, where),
        defaults=_text_mapping(raw.get("defaults", {}), where, "defaults"),
        output_dir=_path(raw.get("output_dir", "out"), base, where, "output_dir"),
        template_dirs=tuple(_path(p, base, where, f"template_dirs[{i}]")
                            for i, p in enumerate(_list(raw.get("template_dirs", []), where,
                                                        "template_dirs"))),
        channels=_channels(raw.get("channels", []), base, where),
        gate=_gate(raw.get("gate", {}), where, "gate"),
        state_dir=_path(raw.get("state_dir", ".feedsync"), base, where, "state_dir"),
        keep_feeds=_int(raw.get("keep_feeds", 5), where, "keep_feeds"),
        supplemental=tuple(_supplemental(item, base, where, f"supplemental[{i}]")
                           for i, item in enumerate(_list(raw.get("supplemental", []), where,
                                                          "supplemental"))),
        category_map=_category_map(raw.get("category_map"), base, where),
        jobs=_int(raw.get("jobs", 0), where, "jobs"),
        report_html=_report_html(raw.get("report"), base, where),
        follow_symlinks_outside_output=_bool(raw.get("follow_symlinks_outside_output", False),
                                             where, "follow_symlinks_outside_output"),
    )


def _report_html(raw: Any, base: Path, where: str) -> Path | None:
    """``report: {html: PATH}``: where build and validate write the HTML report."""
    if raw is None:
        return None
    raw = _mapping(raw, where, "report")
    _check_keys(raw, _REPORT_KEYS, where, "report")
    html = raw.get("html")
    return None if html is None else _path(html, base, where, "report.html")


def _supplemental(raw: Any, base: Path, where: str, key: str) -> Supplemental:
    if isinstance(raw, str):
        raw = {"path": raw}
    raw = _mapping(raw, where, key)
    _check_keys(raw, _SUPPLEMENTAL_KEYS, where, key)
    if "path" not in raw:
        raise ConfigError("a supplemental source needs a path", file=where, key=f"{key}.path")
    path = _path(raw["path"], base, where, f"{key}.path")
    if not path.is_file():
        raise ConfigError(f"supplemental file not found: {path}", file=where, key=f"{key}.path")
    mode = _text(raw.get("mode", "override"), where, f"{key}.mode")
    if mode not in ("override", "fill"):
        raise ConfigError("mode must be override or fill", file=where, key=f"{key}.mode")
    columns = raw.get("columns")
    fmt = _format(raw.get("format", "auto"), where, f"{key}.format")
    return Supplemental(
        path=path, key=_text(raw.get("key", "id"), where, f"{key}.key"),
        columns=tuple(_text(c, where, f"{key}.columns") for c in _list(columns, where,
                                                                       f"{key}.columns"))
        if columns is not None else None,
        mode=mode, format=fmt, encoding=raw.get("encoding"), delimiter=raw.get("delimiter"))


def _category_map(raw: Any, base: Path, where: str) -> CategoryMap | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"path": raw}
    raw = _mapping(raw, where, "category_map")
    _check_keys(raw, _CATEGORY_KEYS, where, "category_map")
    path = _path(raw.get("path"), base, where, "category_map.path")
    if not path.is_file():
        raise ConfigError(f"category map not found: {path}", file=where, key="category_map.path")
    return CategoryMap(path=path,
                       source=_text(raw.get("from", "product_type"), where, "category_map.from"),
                       target=_text(raw.get("to", "google_product_category"), where,
                                    "category_map.to"))


def _reserve(raw: Any, where: str, key: str) -> Reserve | None:
    """``reserve: 2`` holds back two units; ``reserve: "10%"`` a tenth of the stock."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return Reserve(units=raw)
    if isinstance(raw, str) and raw.endswith("%"):
        try:
            percent = float(raw[:-1])
        except ValueError:
            percent = -1.0
        if 0 <= percent <= 100:
            return Reserve(percent=percent)
    raise ConfigError("reserve is a whole number of units or a percentage such as '10%'",
                      file=where, key=key)


def _catalog(raw: Any, base: Path, where: str) -> CatalogConfig:
    if raw is None:
        return CatalogConfig()
    if isinstance(raw, str):
        raw = {"path": raw}
    raw = _mapping(raw, where, "catalog")
    _check_keys(raw, _CATALOG_KEYS, where, "catalog")
    fmt = _format(raw.get("format", "auto"), where, "catalog.format")
    delimiter = raw.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ConfigError("delimiter must be one character, e.g. ';'", file=where,
                          key="catalog.delimiter")
    encoding = raw.get("encoding")
    if encoding is not None:
        encoding = _text(encoding, where, "catalog.encoding")
        try:
            "".encode(encoding)
        except LookupError as exc:
            raise ConfigError(f"unknown encoding {encoding!r}", file=where,
                              key="catalog.encoding") from exc
    path = raw.get("path")
    profile = _text(raw.get("profile", "auto"), where, "catalog.profile")
    if profile not in ("auto", "none") and profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}", file=where, key="catalog.profile",
                          tip="profiles: auto, none, " + ", ".join(sorted(PROFILES)))
    short_rows = raw.get("short_rows", "error")
    if short_rows not in ("error", "pad"):
        raise ConfigError("short_rows is error or pad", file=where, key="catalog.short_rows",
                          tip="pad: a row with fewer cells than the header is read with "
                              "empty cells at its end")
    return CatalogConfig(
        path=_path(path, base, where, "catalog.path") if path is not None else None,
        format=fmt, encoding=encoding, delimiter=delimiter, profile=profile,
        mapping=_mapping_config(raw, base, where), short_rows=short_rows)


def _mapping_config(raw: Mapping[str, Any], base: Path, where: str) -> MappingConfig:
    """The mapping keys' shapes; columns and expressions are checked when a run compiles
    them (feedsync/mapping.py), against the catalog's header."""
    trim = raw.get("trim", True)
    if not isinstance(trim, bool):
        raise ConfigError("trim is true or false", file=where, key="catalog.trim")
    group_by = _optional_text(raw.get("group_by"), where, "catalog.group_by")
    group_empty = raw.get("group_empty", "skip")
    if group_empty not in ("skip", "continue"):
        raise ConfigError(f"group_empty is skip or continue, not {group_empty!r}", file=where,
                          key="catalog.group_empty",
                          tip="continue: a row with an empty group_by cell belongs to the "
                              "group above it (exports that write the key on the master row "
                              "only)")
    if "group_empty" in raw and group_by is None:
        raise ConfigError("group_empty needs group_by", file=where, key="catalog.group_empty")
    split = _text_mapping(raw.get("split", {}), where, "catalog.split")
    for attribute, separator in split.items():
        if not separator:
            raise ConfigError("a separator cannot be empty", file=where,
                              key=f"catalog.split.{attribute}")
    units = {}
    for attribute, spec in _mapping(raw.get("units", {}), where, "catalog.units").items():
        key = f"catalog.units.{attribute}"
        spec = _text_mapping(spec, where, key)
        _check_keys(spec, _UNIT_KEYS, where, key)
        if "value" not in spec or "unit" not in spec:
            raise ConfigError("a unit field needs value: and unit: columns", file=where,
                              key=key, tip="e.g. shipping_weight: {value: weight, unit: "
                                           "weight_unit}")
        units[str(attribute)] = UnitField(spec["value"], spec["unit"])
    return MappingConfig(
        fields=_text_mapping(raw.get("fields", {}), where, "catalog.fields"),
        trim=trim, group_by=group_by, group_empty=group_empty, split=split,
        options=_options(raw.get("options"), where), units=units,
        translations=_translations(raw.get("translations"), base, where))


def _options(raw: Any, where: str) -> OptionsConfig | None:
    if raw is None:
        return None
    raw = _mapping(raw, where, "catalog.options")
    _check_keys(raw, _OPTIONS_KEYS, where, "catalog.options")
    for needed in ("names", "values"):
        if needed not in raw:
            raise ConfigError(f"options need a {needed}: column", file=where,
                              key=f"catalog.options.{needed}",
                              tip="e.g. names: optionGroups, values: optionValues; "
                                  "option1_name/option1_value columns are read without this")
    separator = _text(raw.get("separator", "|"), where, "catalog.options.separator")
    if not separator:
        raise ConfigError("a separator cannot be empty", file=where,
                          key="catalog.options.separator")
    return OptionsConfig(
        names=_text(raw["names"], where, "catalog.options.names"),
        values=_text(raw["values"], where, "catalog.options.values"), separator=separator,
        map={k.strip().lower(): v for k, v in
             _text_mapping(raw.get("map", {}), where, "catalog.options.map").items()})


def _translations(raw: Any, base: Path, where: str) -> TranslationsConfig | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"path": raw}
    key = "catalog.translations"
    raw = _mapping(raw, where, key)
    _check_keys(raw, _TRANSLATION_KEYS, where, key)
    path = _path(raw.get("path"), base, where, f"{key}.path")
    if not path.is_file():
        raise ConfigError(f"translation file not found: {path}", file=where, key=f"{key}.path")
    fields = _text_mapping(raw.get("fields", {"title": "title", "description": "description"}),
                           where, f"{key}.fields")
    return TranslationsConfig(
        path=path, key=_text(raw.get("key", "id"), where, f"{key}.key"),
        locale=_text(raw.get("locale", "locale"), where, f"{key}.locale"), fields=fields,
        format=_format(raw.get("format", "auto"), where, f"{key}.format"),
        encoding=_optional_text(raw.get("encoding"), where, f"{key}.encoding"),
        delimiter=_optional_text(raw.get("delimiter"), where, f"{key}.delimiter"))


def _format(raw: Any, where: str, key: str) -> FormatOption:
    text = _text(raw, where, key)
    for fmt in _FORMATS:
        if fmt == text:
            return fmt
    raise ConfigError(f"unknown format {text!r}; one of {', '.join(_FORMATS)}", file=where,
                      key=key)


def _stock(raw: Any, base: Path, where: str, key: str) -> StockConfig | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"path": raw}
    raw = _mapping(raw, where, key)
    _check_keys(raw, _STOCK_KEYS, where, key)
    path = _path(raw.get("path"), base, where, f"{key}.path")
    if not path.is_file():
        raise ConfigError(f"store stock file not found: {path}", file=where, key=f"{key}.path")
    return StockConfig(path=path, key=_text(raw.get("key", "id"), where, f"{key}.key"),
                       store=_text(raw.get("store", "store_code"), where, f"{key}.store"))


def _channels(raw: Any, base: Path, where: str) -> tuple[ChannelConfig, ...]:
    if isinstance(raw, list):
        raw = {_text(name, where, f"channels[{i}]"): {} for i, name in enumerate(raw)}
    raw = _mapping(raw, where, "channels")
    result = []
    for name, settings in raw.items():
        key = f"channels.{name}"
        if not isinstance(name, str) or not _SAFE_NAME.match(name):
            raise ConfigError("a channel name is letters, digits, '-', '_' or '.'",
                              file=where, key=key)
        settings = _mapping(settings or {}, where, key)
        _check_keys(settings, _CHANNEL_KEYS, where, key)
        outputs = settings.get("outputs")
        files = _text_mapping(settings.get("files", {}), where, f"{key}.files")
        for output, file_name in files.items():
            check_file_name(file_name, where, f"{key}.files.{output}")
        market = _text_mapping(settings.get("target", {}), where, f"{key}.target")
        _check_keys(market, _TARGET_KEYS, where, f"{key}.target")
        options = _mapping(settings.get("options", {}), where, f"{key}.options")
        destinations = _list(settings.get("destinations", []), where, f"{key}.destinations")
        result.append(ChannelConfig(
            name=name,
            template=_text(settings.get("template", name), where, f"{key}.template"),
            outputs=tuple(_text_list(outputs, where, f"{key}.outputs")) if outputs else None,
            files=files, market=market, options=options,
            destinations=tuple(_destination(d, where, f"{key}.destinations[{i}]")
                               for i, d in enumerate(destinations)),
            gate=_gate(settings.get("gate", {}), where, f"{key}.gate"),
            overrides=_text_mapping(settings.get("overrides", {}), where, f"{key}.overrides"),
            include=_optional_text(settings.get("include"), where, f"{key}.include"),
            exclude=_optional_text(settings.get("exclude"), where, f"{key}.exclude"),
            reserve=_reserve(settings.get("reserve"), where, f"{key}.reserve"),
            stock=_stock(settings.get("stock"), base, where, f"{key}.stock"),
            api=_mapping(settings.get("api", {}), where, f"{key}.api"),
            severity=_mapping(settings.get("severity", {}), where, f"{key}.severity")))
    return tuple(result)


def _gate(raw: Any, where: str, key: str) -> Mapping[str, Any]:
    """Publish gate limits, checked now: a typo must not wait for the end of a build."""
    mapping = _mapping(raw, where, key)
    try:
        GatePolicy.from_mapping(mapping, key)
    except ConfigError as exc:
        exc.file = where
        raise
    return mapping


def _destination(raw: Any, where: str, key: str) -> Mapping[str, Any]:
    mapping = _mapping(raw, where, key)
    destination_of(mapping, key, where)
    return mapping


def gate_policy(config: Config, target: ChannelConfig) -> GatePolicy:
    """A target's gate: the top-level limits, each overridden by the channel's own."""
    return GatePolicy.from_mapping({**config.gate, **target.gate},
                                   f"channels.{target.name}.gate")


def check_file_name(name: str, where: str, key: str) -> None:
    """Output names are plain file names: no directories, '..', NUL or newlines (E8)."""
    if (not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name
            or "\n" in name or "\r" in name or name.startswith(".feedsync-")):
        raise ConfigError(f"{name!r} is not a plain file name", file=where, key=key,
                          tip="give a name such as google.xml; the directory is output_dir")


def _reject_inline_secrets(raw: Any, where: str, prefix: str) -> None:
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, str) and _SECRET_KEY.match(key):
                raise ConfigError(
                    "secrets must not be written in the config file", file=where, key=path,
                    tip=f"set {key}_env: NAME_OF_ENV_VAR or {key}_file: /path/to/secret")
            _reject_inline_secrets(value, where, path)
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            _reject_inline_secrets(value, where, f"{prefix}[{i}]")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            path = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            tip = f"did you mean {close[0]!r}?" if close else (
                "allowed keys: " + ", ".join(sorted(allowed)))
            raise ConfigError(f"unknown key {key!r}", file=where, key=path, tip=tip)


def _mapping(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {_kind(value)}", file=where, key=key)
    for name in value:
        if not isinstance(name, str):  # YAML's `1:` / `~:`; a TypeError later otherwise
            raise ConfigError(f"keys must be text, found {name!r}", file=where, key=key)
    return value


def _text_list(value: Any, where: str, key: str) -> list[str]:
    """A list of names: ``[[]]`` or ``[1]`` is a config error, not a TypeError later."""
    items = _list(value, where, key)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ConfigError(f"expected a name, got {_kind(item)}", file=where,
                              key=f"{key}[{index}]")
    return items


def _list(value: Any, where: str, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {_kind(value)}", file=where, key=key)
    return value


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected text, got {_kind(value)} {value!r}", file=where, key=key,
                          tip="quote the value: YAML reads NO, off and 012 as other types")
    return value


def _optional_text(value: Any, where: str, key: str) -> str | None:
    return None if value is None else _text(value, where, key)


def _text_mapping(value: Any, where: str, key: str) -> dict[str, str]:
    mapping = _mapping(value, where, key)
    return {str(k): _text(v, where, f"{key}.{k}") for k, v in mapping.items()}


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError("expected true or false", file=where, key=key)
    return value


def _int(value: Any, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError("expected a whole number of 0 or more", file=where, key=key)
    return value


def _path(value: Any, base: Path, where: str, key: str) -> Path:
    text = _text(value, where, key)
    if "\x00" in text:
        raise ConfigError("a path cannot hold a NUL byte", file=where, key=key)
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list",
            dict: "a mapping", type(None): "nothing"}.get(type(value), type(value).__name__)
