"""From config to ``ChannelTarget``: which channels run, compiled, with their outputs.

Everything here happens before the catalog is opened, so every mistake in a channel's
settings (an unknown output, an override of a field the channel lacks, a missing store
stock file) costs nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from feedsync.channels.compiler import Data
from feedsync.channels.loader import ChannelLibrary, ChannelSpec
from feedsync.channels.overrides import check_overrides
from feedsync.channels.program import CompiledChannel, lookup_filter, shared_keys
from feedsync.channels.severity import apply_severity
from feedsync.config import ChannelConfig, Config, check_file_name
from feedsync.controls import TargetControls
from feedsync.core import ChannelTarget, Output
from feedsync.errors import ConfigError, OutputError, TemplateError
from feedsync.report import ChannelReport, FieldFill
from feedsync.rules.checks import RuleTests
from feedsync.stores import StoreStock
from feedsync.writers import WRITERS, Column, Layout, Writer
from feedsync.writers.delimited import unquoted
from feedsync.writers.split import SplitWriter, file_limits

DUPLICATE_SOURCE = "https://support.google.com/merchants/answer/6324405"


def resolve_targets(config: Config, requested: Sequence[str]) -> list[ChannelConfig]:
    """The channel targets to run: named on the command line, else all in the config."""
    if not requested:
        if not config.channels:
            raise ConfigError(
                "no channel selected",
                tip="add --channel NAME (see `feedsync channels`) or list channels in the config")
        return list(config.channels)
    chosen: list[ChannelConfig] = []
    for name in requested:
        exact = [c for c in config.channels if c.name == name]
        by_template = [c for c in config.channels if c.template == name]
        chosen.extend(exact or by_template or [ChannelConfig(name=name, template=name)])
    seen: set[str] = set()
    unique = []
    for target in chosen:
        if target.name not in seen:
            seen.add(target.name)
            unique.append(target)
    return unique


def prepare_targets(config: Config, requested: Sequence[str], out_dir: Path | None,
                    write: bool) -> list[ChannelTarget]:
    """Load and compile every selected channel; nothing is opened yet."""
    library = ChannelLibrary(config.template_dirs)
    chosen = resolve_targets(config, requested)
    specs = [apply_severity(_with_overrides(library.load(c.template), c, config.path),
                            c.severity, c.name, config.path) for c in chosen]
    # Expressions several channels compute alike are computed once per product.
    shared = shared_keys(specs)
    rule_tests = RuleTests()  # and identical rules on identical values decided once
    targets = []
    for target_config, spec in zip(chosen, specs, strict=True):
        names = _output_names(target_config, spec)
        delimited = any(spec.outputs[n].writer in ("csv", "tsv") for n in names)
        unquoted_text = any(unquoted({**spec.outputs[n].options,
                                      **target_config.options.get(n, {})}) for n in names)
        channel = CompiledChannel(spec, lint_formulas=delimited, clean_breaks=unquoted_text,
                                  shared=shared, rule_tests=rule_tests)
        outputs = []
        for name in names:
            overrides = dict(target_config.options.get(name, {}))
            # Writers that keep a sidecar between builds (Amazon's SKU list) need to know
            # where the feed goes; they still never open the feed itself.
            overrides["_output_dir"] = str(out_dir) if out_dir is not None else None
            overrides["_target"] = target_config.name
            # The field the pipeline rejects duplicates of (duplicate-id), so a writer
            # need not keep a second table of it.
            overrides["_unique_field"] = spec.id_field
            try:
                writer: Writer = WRITERS[spec.outputs[name].writer](
                    _layout(spec, name, overrides))
            except TemplateError as exc:
                # A writer refuses its options (a two-character delimiter): name where.
                if exc.file is None and exc.key is None:
                    exc.file, exc.key = str(spec.yaml_path), f"outputs.{name}.options"
                raise
            path = (out_dir or Path(".")) / _file_name(target_config, spec, name)
            # The channel's published file limits (Amazon's own options may lower them).
            limits = file_limits(target_config.name, spec.limits,
                                 getattr(writer, "max_messages", None),
                                 getattr(writer, "max_bytes", None))
            if limits.active:
                writer = SplitWriter(writer, limits, path,
                                     follow_outside=config.follow_symlinks_outside_output)
            outputs.append(Output(name=name, path=path, writer=writer))
        report = ChannelReport(channel=spec.name, target=target_config.name, docs=spec.docs,
                               fill=FieldFill(list(spec.fields)))
        if write:
            report.files = {o.name: str(o.path) for o in outputs}
        market = Data(target_config.market)
        context = Data(name=target_config.name, template=spec.name, docs=spec.docs)
        controls = TargetControls(target_config, spec.name, market)
        targets.append(ChannelTarget(config=target_config, spec=spec, channel=channel,
                                     outputs=outputs, report=report, context=context,
                                     market=market, controls=controls,
                                     duplicate_source=_id_source(spec),
                                     stock=_stock_for(target_config, spec)))
    check_distinct_paths(targets, out_dir or Path("."))
    return targets


CATALOG_LOG = "catalog.issues.jsonl"


def issue_log_name(target_name: str) -> str:
    return f"{target_name}.issues.jsonl"


def check_distinct_paths(targets: Sequence[ChannelTarget], out_dir: Path) -> None:
    """Refuse two outputs (feeds or issue logs) that land on one file, naming both keys.

    The second writer's commit would replace the first's file: the report would count the
    items of one and the disk hold the other (issue 15, item 4). Names are compared
    case-folded, because on a case-insensitive file system (macOS, Windows shares)
    ``Google.xml`` and ``google.xml`` are one file.
    """
    claims: dict[str, str] = {}

    def claim(path: Path, key: str) -> None:
        folded = path.as_posix().casefold()
        if folded in claims:
            raise ConfigError(
                f"{key} and {claims[folded]} both write {path}; one would replace "
                "the other", key=key,
                tip="give each channel target its own files: name")
        claims[folded] = key

    claim(out_dir / CATALOG_LOG, f"the catalog's issue log ({CATALOG_LOG})")
    for target in targets:
        name = target.config.name
        for output in target.outputs:
            key = (f"channels.{name}.files.{output.name}" if output.name in target.config.files
                   else f"channels.{name} (output {output.name}: {output.path.name})")
            claim(output.path, key)
        claim(out_dir / issue_log_name(name), f"channels.{name} (issue log {issue_log_name(name)})")


def _output_names(target: ChannelConfig, spec: ChannelSpec) -> list[str]:
    names = list(target.outputs) if target.outputs else list(spec.default_outputs)
    for name in names:
        if name not in spec.outputs:
            raise ConfigError(
                f"channel {spec.name!r} has no output {name!r}",
                key=f"channels.{target.name}.outputs",
                tip="outputs of this channel: " + ", ".join(spec.outputs))
    return names


def _file_name(target: ChannelConfig, spec: ChannelSpec, output: str) -> str:
    name = target.files.get(output) or spec.outputs[output].file
    if target.name != spec.name and output not in target.files:
        name = name.replace(spec.name, target.name, 1) if name.startswith(spec.name) else (
            f"{target.name}-{name}")
    check_file_name(name, spec.yaml_path.as_posix(), f"outputs.{output}.file")
    return name


def _layout(spec: ChannelSpec, output: str, overrides: dict[str, Any]) -> Layout:
    columns = tuple(
        Column(name=f.name, header=f.column or f.name, multi=f.multi, separator=f.separator,
               children=f.children, child_separator=f.child_separator)
        for f in spec.fields.values() if f.outputs is None or output in f.outputs)
    options = dict(spec.outputs[output].options)
    options.update(overrides)
    return Layout(columns=columns, options=options)


def _stock_for(target: ChannelConfig, spec: ChannelSpec) -> StoreStock | None:
    """The store stock index of a fan-out channel (local inventory), built before the pass."""
    if spec.fan_out != "stock":
        return None
    if target.stock is None:
        raise ConfigError(
            f"channel {spec.name!r} needs a store stock file",
            key=f"channels.{target.name}.stock",
            tip="set stock: {path: stores.csv} (columns store_code, id, quantity[, price])")
    return StoreStock(target.stock.path, key=target.stock.key,
                      store_column=target.stock.store)


def _id_source(spec: ChannelSpec) -> str:
    """Where the channel says ids must be unique: its id field's rules' source, else its
    docs."""
    id_field = spec.fields.get(spec.id_field) if spec.id_field else None
    if id_field is not None and id_field.rules:
        return id_field.rules[0].source
    return spec.docs or DUPLICATE_SOURCE


def _with_overrides(spec: ChannelSpec, target: ChannelConfig,
                    config_file: Path | None = None) -> ChannelSpec:
    """Replace field expressions named in the config's ``overrides:`` for this target."""
    if not target.overrides:
        return spec
    fields = dict(spec.fields)
    for name, expression in target.overrides.items():
        if name not in fields:
            raise ConfigError(f"channel {spec.name!r} has no field {name!r}",
                              key=f"channels.{target.name}.overrides.{name}",
                              tip="fields of this channel: " + ", ".join(fields))
        fields[name] = dataclasses.replace(fields[name], value=expression,
                                           where=f"channels.{target.name}.overrides.{name}")
    check_overrides(target.overrides, target.name, config_file,
                    {"lookup": lookup_filter(spec.tables)})
    return dataclasses.replace(spec, fields=fields)


def check_output_dir(out_dir: Path) -> None:
    """Fail before reading the catalog when the feeds could not be written (B5)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output path {out_dir} is a file, not a directory", file=str(out_dir))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out_dir}: {exc.strerror}",
                          file=str(out_dir)) from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {out_dir} is not writable", file=str(out_dir),
                          tip="choose another --out or fix its permissions")
