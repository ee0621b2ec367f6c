"""The one pass: read the catalog once, fan each product out to every channel target.

``build()`` and ``validate()`` are the library's front door; the CLI only calls them.
Everything that can be checked before the first record is read is checked first
(config, channel templates, output directory), so a mistake costs nothing. Each output
is an ``AtomicFile``: on any failure, every one of them is dropped and the previous
feeds stay byte for byte.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsync import parallel, profiles
from feedsync.channels.compiler import Data
from feedsync.channels.loader import ChannelLibrary, ChannelSpec
from feedsync.channels.program import XML_ILLEGAL, CompiledChannel
from feedsync.config import ChannelConfig, Config, check_file_name
from feedsync.controls import CatalogControls, TargetControls
from feedsync.errors import (
    CatalogError,
    ConfigError,
    FeedsyncError,
    OutputError,
    TemplateError,
)
from feedsync.fill import FillCounter, fill_key
from feedsync.model import FILTERED, REJECTED, WRITTEN, Issue, Product, Record, RowProblem
from feedsync.report import ChannelReport, IssueLog, RunReport, problem_to_issue
from feedsync.rules.duplicates import RESERVE_AFTER, SeenIds
from feedsync.sources import SourceOptions, open_catalog
from feedsync.stores import StoreStock
from feedsync.writers import WRITERS, Column, ItemRejected, Layout, Writer
from feedsync.writers.atomic import AtomicFile, clean_stale_temps

DUPLICATE_SOURCE = "https://support.google.com/merchants/answer/6324405"
PROGRESS_EVERY = 2000


@dataclass(frozen=True)
class Progress:
    """Emitted every few thousand products; the CLI draws it, the library never prints."""

    products: int
    bytes_read: int
    bytes_total: int


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Output:
    name: str
    path: Path
    writer: Writer
    file: AtomicFile | None = None


@dataclass
class Target:
    """One channel target at run time: compiled template, context, outputs and counts."""

    config: ChannelConfig
    spec: ChannelSpec
    channel: CompiledChannel
    outputs: list[_Output]
    report: ChannelReport
    context: Data
    target_vars: Data
    controls: TargetControls
    duplicate_source: str = DUPLICATE_SOURCE
    stock: StoreStock | None = None
    log: IssueLog = field(default_factory=lambda: IssueLog(None))
    log_file: AtomicFile | None = None
    fill: FillCounter = field(default_factory=lambda: FillCounter(()))


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


def prepare_targets(config: Config, requested: Sequence[str], out_dir: Path | None,
                    write: bool) -> list[Target]:
    """Load and compile every selected channel; nothing is opened yet."""
    library = ChannelLibrary(config.template_dirs)
    targets = []
    for target_config in resolve_targets(config, requested):
        spec = _with_overrides(library.load(target_config.template), target_config)
        names = _output_names(target_config, spec)
        delimited = any(spec.outputs[n].writer in ("csv", "tsv") for n in names)
        channel = CompiledChannel(spec, lint_formulas=delimited)
        outputs = []
        for name in names:
            overrides = dict(target_config.options.get(name, {}))
            # Writers that keep a sidecar between builds (Amazon's SKU list) need to know
            # where the feed goes; they still never open the feed itself.
            overrides["_output_dir"] = str(out_dir) if out_dir is not None else None
            overrides["_target"] = target_config.name
            writer = WRITERS[spec.outputs[name].writer](_layout(spec, name, overrides))
            path = (out_dir or Path(".")) / _file_name(target_config, spec, name)
            outputs.append(_Output(name=name, path=path, writer=writer))
        report = ChannelReport(channel=spec.name, target=target_config.name, docs=spec.docs)
        if write:
            report.files = {o.name: str(o.path) for o in outputs}
        target_vars = Data(target_config.target)
        context = Data(name=target_config.name, template=spec.name, docs=spec.docs)
        controls = TargetControls(target_config, spec.name, target_vars)
        targets.append(Target(config=target_config, spec=spec, channel=channel,
                              outputs=outputs, report=report, context=context,
                              target_vars=target_vars, controls=controls,
                              duplicate_source=_id_source(spec),
                              stock=_stock_for(target_config, spec),
                              fill=FillCounter(tuple(spec.fields))))
    return targets


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


def store_views(target: Target, product: Product) -> list[Product]:
    """The product once per store row, the row's columns laid over it."""
    assert target.stock is not None
    views = []
    for row in target.stock.rows_for(product["id"]):
        view = product.clone()
        values = {k: v for k, v in row.items() if v != ""}
        view.update(values)
        view.clean = view.clean and not XML_ILLEGAL.search("".join(values.values()))
        views.append(view)
    return views


def _id_source(spec: ChannelSpec) -> str:
    """Where the channel says ids must be unique: its ``id`` rules' source, else its docs."""
    id_field = spec.fields.get("id")
    if id_field is not None and id_field.rules:
        return id_field.rules[0].source
    return spec.docs or DUPLICATE_SOURCE


def _with_overrides(spec: ChannelSpec, target: ChannelConfig) -> ChannelSpec:
    """Replace field expressions named in the config's ``overrides:`` for this target."""
    if not target.overrides:
        return spec
    fields = dict(spec.fields)
    for name, expression in target.overrides.items():
        if name not in fields:
            raise ConfigError(f"channel {spec.name!r} has no field {name!r}",
                              key=f"channels.{target.name}.overrides.{name}",
                              tip="fields of this channel: " + ", ".join(fields))
        fields[name] = dataclasses.replace(fields[name], value=expression)
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


@dataclass
class Outcome:
    """What happened to one product in one target: kind, issues, and the item to write."""

    kind: int
    issues: list[Issue]
    item: dict[str, Any] | None = None
    filled: bytes | None = None  # fill.fill_key of the mapped item; None when not mapped

    def reject(self, issue: Issue) -> None:
        self.kind, self.item = REJECTED, None
        self.issues.append(issue)


def writer_issue(target: Target, product: Product, exc: ItemRejected) -> Issue:
    return Issue(code=exc.code, severity="error", message=exc.message,
                 channel=target.config.name, product_id=product["id"], file=product.file,
                 line=product.line, field=exc.field, source=exc.source)


class Run:
    """One pass over the catalog into every target. Used by build, validate and push."""

    def __init__(self, config: Config, catalog: Path, targets: list[Target],
                 out_dir: Path | None, write: bool, command: str,
                 progress: ProgressCallback | None = None, require_products: bool = True,
                 jobs: int = 0) -> None:
        self.config = config
        self.catalog = catalog
        self.targets = targets
        self.out_dir = out_dir
        self.write = write
        self.progress = progress
        # push leaves an empty catalog to the publish gate, which refuses it with its own
        # exit code; build refuses it here, before any file is replaced.
        self.require_products = require_products
        self.jobs = jobs if jobs else config.jobs  # 0: automatic (see parallel.jobs_for)
        self.report = RunReport(command=command, catalog=str(catalog))
        self.report.channels = [t.report for t in targets]
        self.defaults = Data(config.defaults)
        self._defaults_clean = not XML_ILLEGAL.search("".join(self.defaults.values()))
        self.controls = CatalogControls(config)
        self._catalog_log: IssueLog = IssueLog(None)
        self._catalog_log_file: AtomicFile | None = None

    def execute(self) -> RunReport:
        source = open_catalog(self.catalog, SourceOptions(
            format=self.config.catalog.format,  # type: ignore[arg-type]
            encoding=self.config.catalog.encoding, delimiter=self.config.catalog.delimiter))
        self.report.catalog_format = source.format
        files = self._open_files()
        try:
            self._start_writers()
            self._loop(source)
            if self.report.products_read == 0 and self.require_products:
                raise CatalogError(
                    "the catalog holds no products", file=str(self.catalog),
                    tip="nothing was written; the previous feeds are unchanged")
            self._finish_writers()
            for atomic in files:
                atomic.commit()
        except BaseException:
            for atomic in files:
                atomic.abort()
            raise
        finally:
            self._close_stock()
        return self.report

    def _close_stock(self) -> None:
        for target in self.targets:
            if target.stock is not None:
                self.report.extra.setdefault("stock", {})[target.config.name] = \
                    target.stock.stats.to_dict()
                target.stock.close()

    def _open_files(self) -> list[AtomicFile]:
        files: list[AtomicFile] = []
        if self.out_dir is None:
            return files
        clean_stale_temps(self.out_dir)
        try:
            for target in self.targets:
                if self.write:
                    for output in target.outputs:
                        output.file = AtomicFile(output.path)
                        output.file.open()
                        files.append(output.file)
                log_path = self.out_dir / f"{target.config.name}.issues.jsonl"
                target.log_file = AtomicFile(log_path)
                target.log = IssueLog(target.log_file.open())
                target.report.issue_log = str(log_path)
                files.append(target.log_file)
            log_path = self.out_dir / "catalog.issues.jsonl"
            self._catalog_log_file = AtomicFile(log_path)
            self._catalog_log = IssueLog(self._catalog_log_file.open())
            self.report.catalog_log = str(log_path)
            files.append(self._catalog_log_file)
        except BaseException:
            for atomic in files:
                atomic.abort()
            raise
        return files

    def _start_writers(self) -> None:
        for target in self.targets:
            for output in target.outputs:
                if output.file is not None and output.file.handle is not None:
                    output.writer.start(output.file.handle)

    def _finish_writers(self) -> None:
        for target in self.targets:
            for output in target.outputs:
                if output.file is not None:
                    try:
                        output.writer.finish()
                    except OSError as exc:
                        raise OutputError(f"cannot write {output.path}: {exc.strerror}",
                                          file=str(output.path)) from exc

    def _loop(self, source: Any) -> None:
        records = profiles.apply(source.records(), self.config.catalog.profile)
        bytes_read = getattr(source, "bytes_read", None)
        bytes_total = int(getattr(source, "bytes_total", 0) or 0)
        self._bytes: tuple[Callable[[], int], int] = (
            (lambda: int(bytes_read()) if bytes_read else 0), bytes_total)
        jobs = parallel.jobs_for(self, bytes_total)
        if jobs > 1:
            parallel.run_parallel(self, records, jobs)
        else:
            self._run_serial(records)
        if self.progress is not None:
            self.progress(Progress(self.report.products_read, bytes_total, bytes_total))
        for target in self.targets:
            target.report.fill = target.fill.counts()
            target.report.evaluated = target.fill.evaluated
        summary = self.controls.finish()
        if summary:
            self.report.extra["controls"] = summary

    def _run_serial(self, records: Iterable[Record | RowProblem]) -> None:
        seen = SeenIds()
        report = self.report
        for record in records:
            if type(record) is RowProblem:
                self.add_problem(record)
                continue
            product = self.product_of(record)  # type: ignore[arg-type]
            if report.products_read == RESERVE_AFTER:
                self.reserve(seen)
            first_line = seen.add(product["id"], record.line) if product["id"] else 0
            for target in self.targets:
                if first_line:
                    self.duplicate(target, product, first_line)
                    continue
                if target.stock is not None:
                    views = store_views(target, product)
                    target.stock.count(bool(views))
                else:
                    views = [product]
                for view in views:
                    outcome = self.evaluate(target, view)
                    if outcome.filled is not None:
                        target.fill.add(outcome.filled)
                    if outcome.item is not None:
                        self._write(target, view, outcome)
                    self.record_outcome(target, outcome.kind, outcome.issues)
            self.tick(report.products_read)

    def reserve(self, seen: SeenIds) -> None:
        """Size the id table for the whole catalog, estimated from the bytes read so far."""
        bytes_read, bytes_total = self._bytes
        done = bytes_read()
        if done > 0 and bytes_total > done:
            seen.reserve(int(self.report.products_read * bytes_total / done * 1.1))

    def add_problem(self, problem: RowProblem) -> None:
        self.report.add_problem(problem)
        self._catalog_log.write(problem_to_issue(problem))

    def tick(self, count: int) -> None:
        if self.progress is not None and count % PROGRESS_EVERY == 0:
            bytes_read, bytes_total = self._bytes
            self.progress(Progress(count, bytes_read(), bytes_total))

    def product_of(self, record: Record) -> Product:
        """The canonical product of a record, counted as read."""
        if not self.report.products_read:
            self.bind_columns(Product(record.data))
        self.report.products_read += 1
        return self.prepare(Product(record.data), record.file, record.line)

    def prepare(self, product: Product, file: str, line: int) -> Product:
        """Joins and category map, then config defaults (also run in parallel workers)."""
        product.file = file
        product.line = line
        if self.controls.active:
            self.controls.apply(product)
        for key, value in self.defaults.items():
            if not product.get(key):
                product[key] = value
        # One scan per product, shared by every channel: nearly every product is clean,
        # and then no channel needs to look for characters XML cannot carry.
        product.clean = self._defaults_clean and not XML_ILLEGAL.search(
            "".join(product.values()))
        return product

    def bind_columns(self, product: Product) -> None:
        for target in self.targets:
            target.controls.bind_columns(product.keys(), target.spec.fields)

    def evaluate(self, target: Target, product: Product) -> Outcome:
        """Filters, mapping and rules for one product in one target; no side effects."""
        channel = target.channel
        controls = target.controls
        if controls.active:
            verdict = controls.decide(product, target.target_vars, self.defaults)
            if verdict.excluded is not None:
                return Outcome(FILTERED, [verdict.excluded])
            if verdict.rejected is not None:
                return Outcome(REJECTED, [verdict.rejected])
            product = verdict.product
        try:
            item = channel.map(product, target.target_vars, self.defaults, target.context)
            if controls.override_columns:
                controls.apply_overrides(item, product, channel.separator_of)
            issues = channel.validate(item, product, target.target_vars, self.defaults,
                                      target.context)
        except FeedsyncError as exc:
            exc.product_id = exc.product_id or product["id"]
            exc.file, exc.line = exc.file or product.file, exc.line or product.line
            raise
        except Exception as exc:  # a template expression failed on this product's data
            raise TemplateError(
                f"channel {channel.name!r} failed on this product: {type(exc).__name__}: {exc}",
                file=product.file, line=product.line, product_id=product["id"],
                tip=f"check the field expressions in {target.spec.yaml_path}") from exc
        filled = fill_key(item, target.fill.names)
        if any(issue.severity == "error" for issue in issues):
            return Outcome(REJECTED, issues, filled=filled)
        return Outcome(WRITTEN, issues, item, filled)

    def _write(self, target: Target, product: Product, outcome: Outcome) -> None:
        assert outcome.item is not None
        for output in target.outputs:
            if output.file is not None:
                try:
                    output.writer.write(outcome.item)
                except ItemRejected as exc:
                    outcome.reject(writer_issue(target, product, exc))
                    return

    def record_outcome(self, target: Target, kind: int, issues: list[Issue]) -> None:
        """Count one product's outcome in the target's report and log its issues."""
        report = target.report
        for issue in issues:
            if kind != FILTERED:
                report.add(issue)
            target.log.write(issue)
        if kind == WRITTEN:
            report.written += 1
        elif kind == REJECTED:
            report.rejected += 1
        else:
            report.filtered += 1

    def duplicate(self, target: Target, product: Product, first_line: int) -> None:
        issue = Issue(
            code="duplicate-id", severity="error",
            message=f"id {product['id']!r} already appeared on line {first_line}; "
                    "the first occurrence is kept",
            channel=target.config.name, product_id=product["id"], file=product.file,
            line=product.line, field="id", value=product["id"],
            source=target.duplicate_source)
        self.record_outcome(target, REJECTED, [issue])


def _prepare(catalog: Path | str | None, channels: Iterable[str], out_dir: Path | str | None,
             config: Config | None, write: bool) -> tuple[Config, Path, list[Target], Path | None]:
    config = config or Config()
    catalog_path = Path(catalog) if catalog is not None else config.catalog.path
    if catalog_path is None:
        raise ConfigError("no catalog given",
                          tip="pass the catalog file, or set catalog.path in the config")
    out = Path(out_dir) if out_dir is not None else (config.output_dir if write else None)
    targets = prepare_targets(config, list(channels), out, write)
    if out is not None:
        check_output_dir(out)
    return config, catalog_path, targets, out


def build(catalog: Path | str | None = None, channels: Iterable[str] = (),
          out_dir: Path | str | None = None, config: Config | None = None,
          progress: ProgressCallback | None = None, jobs: int = 0) -> RunReport:
    """Write every selected channel's feed in one pass over the catalog.

    >>> report = build("examples/catalog.csv", ["google"], "out")  # doctest: +SKIP
    """
    config, catalog_path, targets, out = _prepare(catalog, channels, out_dir, config, True)
    return Run(config, catalog_path, targets, out, True, "build", progress,
               jobs=jobs).execute()


def validate(catalog: Path | str | None = None, channels: Iterable[str] = (),
             out_dir: Path | str | None = None, config: Config | None = None,
             progress: ProgressCallback | None = None) -> RunReport:
    """The same checks and report as ``build``; no feed is written.

    With ``out_dir`` the issue logs are written there; without, only the report is kept.
    """
    config, catalog_path, targets, out = _prepare(catalog, channels, out_dir, config, False)
    return Run(config, catalog_path, targets, out, False, "validate", progress).execute()


@dataclass
class Explanation:
    """One product's way through the pipeline, per channel target (``feedsync explain``)."""

    product_id: str
    occurrences: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "product_id": self.product_id, "occurrences": self.occurrences}


def explain(product_id: str, catalog: Path | str | None = None, channels: Iterable[str] = (),
            config: Config | None = None) -> Explanation:
    """Trace ``product_id``: source record, joins, controls, mapped fields, every rule's
    verdict with its source, and the output it produces (or why there is none).

    >>> explain("SKU-1", "catalog.csv", ["google"]).occurrences[0]["source"]  # doctest: +SKIP
    """
    config, catalog_path, targets, _ = _prepare(catalog, channels, None, config, False)
    run = Run(config, catalog_path, targets, None, False, "explain")
    source = open_catalog(catalog_path, SourceOptions(
        format=config.catalog.format,  # type: ignore[arg-type]
        encoding=config.catalog.encoding, delimiter=config.catalog.delimiter))
    result = Explanation(product_id)
    first_line = 0
    bound = False
    for record in profiles.apply(source.records(), config.catalog.profile):
        if isinstance(record, RowProblem):
            if record.product_id == product_id:
                result.occurrences.append({"source": f"{record.file}:{record.line}",
                                           "skipped": f"[{record.code}] {record.message}"})
            continue
        if not bound:
            run.bind_columns(Product(record.data))
            bound = True
        if record.data.get("id") != product_id:
            continue
        result.occurrences.append(_explain_one(run, record.file, record.line, record.data,
                                               first_line))
        first_line = first_line or record.line
    return result


def _explain_one(run: Run, file: str, line: int, data: dict[str, str],
                 first_line: int) -> dict[str, Any]:
    product = Product(data)
    product.file, product.line = file, line
    joins = run.controls.apply(product) if run.controls.active else []
    defaults_used = [k for k, v in run.defaults.items() if not product.get(k) and v]
    for key in defaults_used:
        product[key] = run.defaults[key]
    entry: dict[str, Any] = {"source": f"{file}:{line}", "record": dict(data),
                             "joins": joins, "defaults": defaults_used, "channels": {}}
    for target in run.targets:
        entry["channels"][target.config.name] = _explain_target(run, target, product,
                                                                first_line)
    return entry


def _explain_target(run: Run, target: Target, product: Product,
                    first_line: int) -> dict[str, Any]:
    if first_line:
        return {"outcome": "rejected", "reason": f"duplicate-id: the same id on line "
                f"{first_line} is kept", "source": DUPLICATE_SOURCE}
    fired: list[str] = []
    if target.controls.active:
        verdict = target.controls.decide(product, target.target_vars, run.defaults)
        fired += verdict.fired
        if verdict.excluded is not None:
            return {"outcome": "filtered", "reason": verdict.excluded.message, "fired": fired}
        if verdict.rejected is not None:
            return {"outcome": "rejected", "reason": verdict.rejected.message, "fired": fired}
        product = verdict.product
    channel = target.channel
    item = channel.map(product, target.target_vars, run.defaults, target.context)
    if target.controls.override_columns:
        fired += target.controls.apply_overrides(item, product, channel.separator_of)
    issues = channel.validate(dict(item), product, target.target_vars, run.defaults,
                              target.context)
    rules = channel.explain_rules(item, product, target.target_vars, run.defaults,
                                  target.context)
    errors = [i for i in issues if i.severity == "error"]
    overridden = [f"override {name}" for name in target.config.overrides]
    return {
        "outcome": "rejected" if errors else "written",
        "reason": "; ".join(f"[{i.code}] {i.message}" for i in errors),
        "fired": fired + overridden,
        "fields": item,
        "rules": rules,
        "issues": [i.to_dict() for i in issues],
        "output": {} if errors else _render_outputs(target, item),
    }


def _render_outputs(target: Target, item: dict[str, Any]) -> dict[str, str]:
    """What each output would contain for this item: the XML element or the CSV line.

    Rendered as the difference between a document with the item and one without, so
    writers need no special mode for it.
    """
    rendered = {}
    for output in target.outputs:
        empty = _document(output.writer, None)
        full = _document(output.writer, item)
        head = 0
        while head < len(empty) and empty[head] == full[head]:
            head += 1
        head = full.rfind(b"\n", 0, head) + 1  # whole lines only
        body = full[head:len(full) - (len(empty) - head)]
        rendered[output.name] = body.decode("utf-8", "replace").strip()
    return rendered


def _document(writer: Writer, item: dict[str, Any] | None) -> bytes:
    buffer = io.BytesIO()
    writer.start(buffer)
    if item is not None:
        writer.write(item)
    writer.finish()
    return buffer.getvalue()
