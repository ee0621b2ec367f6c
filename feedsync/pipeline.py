"""The one pass: read the catalog once, fan each product out to every channel target.

``build()`` and ``validate()`` are the library's front door; the CLI only calls them.
Everything that can be checked before the first record is read is checked first
(config, channel templates, output directory), so a mistake costs nothing. Each output
is an ``AtomicFile``: on any failure, every one of them is dropped and the previous
feeds stay byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsync import parallel, profiles
from feedsync.channels.compiler import Data
from feedsync.channels.program import XML_ILLEGAL
from feedsync.codes import CODES
from feedsync.collector import tuned_for_pass
from feedsync.config import Config
from feedsync.controls import CatalogControls
from feedsync.core import (
    FILTERED,
    REJECTED,
    WRITTEN,
    ChannelTarget,
    IdGroups,
    Outcome,
    OutcomeKind,
)
from feedsync.errors import CatalogError, ConfigError, OutputError
from feedsync.htmlreport import write_run_html
from feedsync.mapping import mapper_for
from feedsync.model import Issue, Product, Record, RowProblem
from feedsync.report import IssueLog, RunReport, problem_to_issue
from feedsync.rules.duplicates import RESERVE_AFTER
from feedsync.sources import SourceOptions, open_catalog
from feedsync.targets import CATALOG_LOG, check_output_dir, issue_log_name, prepare_targets
from feedsync.translations import Translations, language_of
from feedsync.writers.atomic import AtomicFile, clean_stale_temps
from feedsync.writers.split import SplitWriter, remove_stale_parts

PROGRESS_EVERY = 2000


@dataclass(frozen=True)
class Progress:
    """Emitted every few thousand products; the CLI draws it, the library never prints."""

    products: int
    bytes_read: int
    bytes_total: int


ProgressCallback = Callable[[Progress], None]


class Run:
    """One pass over the catalog into every target. Used by build, validate and push."""

    def __init__(self, config: Config, catalog: Path, targets: list[ChannelTarget],
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
        # catalog.fields & co., compiled now: a broken mapping costs no read (exit 2).
        self.translations: Translations | None = None
        self.untranslated: Counter[str] = Counter()
        self.mapper = mapper_for(config.catalog.mapping, str(config.path or "<config>"),
                                 config.template_dirs)
        self.ids = IdGroups()
        self._catalog_log: IssueLog = IssueLog(None)
        self._catalog_log_file: AtomicFile | None = None
        self._bytes: tuple[Callable[[], int], int] = (lambda: 0, 0)

    def execute(self) -> RunReport:
        source = self.open_source()
        self.report.catalog_format = source.format
        files = self._open_files()
        try:
            self._start_writers()
            self._loop(source)
            if self.report.products_read == 0 and self.require_products:
                raise CatalogError(
                    "the catalog holds no products", file=str(self.catalog),
                    tip="nothing was written; the previous feeds are unchanged")
            for target in self.targets:
                broken = target.broken_expression()
                if broken is not None:
                    raise broken
            self._finish_writers()
            files += self._part_files()
            for atomic in files:
                atomic.commit()
            self._settle_parts()
        except BaseException:
            for atomic in files + self._part_files():
                atomic.abort()
            raise
        finally:
            self._close_stock()
            if self.translations is not None:
                self.translations.close()
                self.translations = None
        return self.report

    def open_source(self) -> Any:
        catalog = self.config.catalog
        return open_catalog(self.catalog, SourceOptions(
            format=catalog.format, encoding=catalog.encoding, delimiter=catalog.delimiter,
            trim=catalog.mapping.trim, short_rows=catalog.short_rows))

    def records(self, source: Any) -> Iterator[Record | RowProblem]:
        """The catalog's records through its profile, with progress measured in bytes."""
        bytes_read = getattr(source, "bytes_read", None)
        bytes_total = int(getattr(source, "bytes_total", 0) or 0)
        self._bytes = ((lambda: int(bytes_read()) if bytes_read else 0), bytes_total)
        stream = profiles.apply(source.records(), self.config.catalog.profile)
        if self.mapper is not None:
            # CSV/TSV: every record has the header's columns, so the first one checks them.
            stream = self.mapper.stream(stream, check_header=source.format in ("csv", "tsv"))
        return self._translated(stream)

    def _translated(self, stream: Iterator[Record | RowProblem]) -> Iterator[
            Record | RowProblem]:
        """catalog.translations for the targets with a language (feedsync/translations)."""
        config = self.config.catalog.mapping.translations
        wanted = [(t.name, language_of(t.market.get("language", ""))) for t in self.targets
                  if t.market.get("language")]
        if config is None or not wanted:
            return stream
        if self.translations is None:
            self.translations = Translations(config)
        return self.translations.stream(stream, wanted, self.untranslated)

    def _close_stock(self) -> None:
        for target in self.targets:
            if target.stock is not None:
                if self.report.stock is None:
                    self.report.stock = {}
                self.report.stock[target.name] = target.stock.stats.summary()
                target.stock.close()

    def _atomic(self, path: Path) -> AtomicFile:
        """A file of the output folder: a planted link out of it is refused (opt-in)."""
        return AtomicFile(path, within=self.out_dir,
                          follow_outside=self.config.follow_symlinks_outside_output)

    def _open_files(self) -> list[AtomicFile]:
        files: list[AtomicFile] = []
        if self.out_dir is None:
            return files
        clean_stale_temps(self.out_dir)
        try:
            for target in self.targets:
                if self.write:
                    for output in target.outputs:
                        output.file = self._atomic(output.path)
                        output.file.open()
                        files.append(output.file)
                log_path = self.out_dir / issue_log_name(target.name)
                target.log_file = self._atomic(log_path)
                target.log = IssueLog(target.log_file.open())
                target.report.issue_log = str(log_path)
                files.append(target.log_file)
            log_path = self.out_dir / CATALOG_LOG
            self._catalog_log_file = self._atomic(log_path)
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
            target.encoding = [o for o in target.outputs if o.file is not None]
            for output in target.encoding:
                assert output.file is not None and output.file.handle is not None
                if isinstance(output.writer, SplitWriter):
                    output.writer.bind(output.path)
                output.writer.start(output.file.handle)

    def _part_files(self) -> list[AtomicFile]:
        """Parts 2.. of split outputs (part 1 is the output's own file)."""
        return [atomic for target in self.targets for output in target.encoding
                if isinstance(output.writer, SplitWriter) for atomic in output.writer.files]

    def _settle_parts(self) -> None:
        """After the commit: parts of an earlier, bigger run removed, parts reported."""
        for target in self.targets:
            for output in target.encoding:
                writer = output.writer
                if not isinstance(writer, SplitWriter):
                    continue
                remove_stale_parts(output.path, len(writer.parts))
                target.report.parts[output.name] = [p.as_dict() for p in writer.parts]

    def _finish_writers(self) -> None:
        for target in self.targets:
            for output in target.encoding:
                try:
                    output.writer.finish()
                except OSError as exc:
                    raise OutputError(f"cannot write {output.path}: {exc.strerror}",
                                      file=str(output.path)) from exc

    def _loop(self, source: Any) -> None:
        records = self.records(source)
        bytes_total = self._bytes[1]
        jobs = parallel.jobs_for(self, bytes_total)
        with tuned_for_pass():
            if jobs > 1:
                parallel.run_parallel(self, records, jobs)
            else:
                self._run_serial(records)
        if self.progress is not None:
            self.progress(Progress(self.report.products_read, bytes_total, bytes_total))
        self.report.controls = self.controls.finish()
        for target in self.targets:
            target.report.find_missing_everywhere()
            if self.translations is not None and target.market.get("language"):
                target.report.untranslated = self.untranslated[target.name]

    def _run_serial(self, records: Iterable[Record | RowProblem]) -> None:
        defaults = self.defaults
        for record in records:
            if type(record) is RowProblem:
                self.add_problem(record)
                continue
            product = self.product_of(record)  # type: ignore[arg-type]
            ids = self.ids.ids(product)

            def outcomes(target: ChannelTarget, product_id: str, index: int,
                         product: Product = product) -> Iterator[Outcome]:
                for view in target.views(product):
                    yield target.outcome(view, product_id, defaults)

            self.settle(product["id"], product.file, product.line, ids, outcomes)

    def settle(self, catalog_id: str, file: str, line: int, ids: Sequence[str],
               outcomes: OutcomesFor, pending: Pending | None = None) -> None:
        """In catalog order: the duplicate check, then each target's outcomes written
        and counted. ``outcomes`` gives them (computed here, or by a worker)."""
        report = self.report
        if report.products_read == RESERVE_AFTER:
            self.reserve()
        firsts = self.ids.check(ids, line)
        for index, target in enumerate(self.targets):
            product_id = ids[target.group] or catalog_id
            first = firsts[target.group]
            if first:
                self.duplicate(target, product_id, file, line, first)
                continue
            settled = 0
            for outcome in outcomes(target, product_id, index):
                settled += 1
                self.commit(target, outcome, pending)
            if target.stock is not None:
                target.stock.count(settled > 0)
        self.tick(report.products_read)

    def commit(self, target: ChannelTarget, outcome: Outcome,
               pending: Pending | None = None) -> None:
        """Write an outcome's bytes and count it. With ``pending`` (a parallel build),
        bytes of concatenable writers are gathered and written once per batch."""
        payload = outcome.payload
        if payload is not None:
            for output, data in zip(target.encoding, payload, strict=True):
                if pending is not None and output.writer.concatenable:
                    pending.setdefault(id(output), []).append(data)
                else:
                    if pending:
                        self.flush(pending)  # keep the order of every output's bytes
                    output.writer.write_encoded(data)
        target.count(outcome)
        if outcome.kind == WRITTEN and not outcome.issues:
            target.report.written += 1
        else:
            self.record_outcome(target, outcome.kind, outcome.issues)

    def flush(self, pending: Pending) -> None:
        """Write the gathered bytes of every output, in output order."""
        for target in self.targets:
            for output in target.encoding:
                chunks = pending.get(id(output))
                if not chunks:
                    continue
                if isinstance(output.writer, SplitWriter):
                    output.writer.write_many(chunks)   # counts each item against limits
                else:
                    output.writer.write_encoded(b"".join(chunks))
        pending.clear()

    def reserve(self) -> None:
        """Size the id tables for the whole catalog, estimated from the bytes read so far."""
        bytes_read, bytes_total = self._bytes
        done = bytes_read()
        if done > 0 and bytes_total > done:
            expected = int(self.report.products_read * bytes_total / done * 1.1)
            self.ids.reserve(expected)
            # Writers that keep a table per item (Amazon's SKUs) size it once too, instead
            # of doubling it (a doubling briefly holds both: +9 MB at 1M products).
            for target in self.targets:
                for output in target.encoding:
                    reserve = getattr(output.writer, "reserve", None)
                    if reserve is not None:
                        reserve(expected)

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
        return self.complete(product)

    def complete(self, product: Product) -> Product:
        """Config defaults for empty attributes, and the one scan for characters XML
        cannot carry: shared by every channel, and nearly every product is clean."""
        for key, value in self.defaults.items():
            if not product.get(key):
                product[key] = value
        product.clean = self._defaults_clean and not XML_ILLEGAL.search(
            "".join(product.values()))
        return product

    def bind_columns(self, product: Product) -> None:
        """Override columns (``title@google``) are found in the first record's header."""
        for target in self.targets:
            target.controls.bind_columns(product.keys(), target.spec.fields)
        self.ids.bind(self.targets, self.defaults)

    def record_outcome(self, target: ChannelTarget, kind: OutcomeKind,
                       issues: list[Issue]) -> None:
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

    def duplicate(self, target: ChannelTarget, product_id: str, file: str, line: int,
                  first_line: int) -> None:
        self.record_outcome(target, REJECTED, [duplicate_issue(target, product_id, file, line,
                                                               first_line)])


OutcomesFor = Callable[[ChannelTarget, str, int], Iterable[Outcome]]
Pending = dict[int, list[bytes]]


def duplicate_issue(target: ChannelTarget, product_id: str, file: str, line: int,
                    first_line: int) -> Issue:
    """A later occurrence of an id: rejected, naming the line of the first."""
    return CODES["duplicate-id"].issue(
        channel=target.name, product_id=product_id, file=file, line=line, field="id",
        value=product_id, source=target.duplicate_source, first_line=first_line)


def prepare_run(catalog: Path | str | None, channels: Iterable[str],
                out_dir: Path | str | None, config: Config | None, *, write: bool,
                command: str, progress: ProgressCallback | None = None,
                jobs: int = 0) -> Run:
    """Check and compile everything a run needs; nothing is read or opened yet."""
    config = config or Config()
    catalog_path = Path(catalog) if catalog is not None else config.catalog.path
    if catalog_path is None:
        raise ConfigError("no catalog given",
                          tip="pass the catalog file, or set catalog.path in the config")
    out = Path(out_dir) if out_dir is not None else (config.output_dir if write else None)
    targets = prepare_targets(config, list(channels), out, write)
    if out is not None:
        check_output_dir(out)
    return Run(config, catalog_path, targets, out, write, command, progress, jobs=jobs)


def build(catalog: Path | str | None = None, channels: Iterable[str] = (),
          out_dir: Path | str | None = None, config: Config | None = None,
          progress: ProgressCallback | None = None, jobs: int = 0,
          html: Path | str | None = None) -> RunReport:
    """Write every selected channel's feed in one pass over the catalog.

    ``html`` (else the config's ``report.html``) also writes the HTML report there.

    >>> report = build("examples/catalog.csv", ["google"], "out")  # doctest: +SKIP
    """
    config = config or Config()
    report = prepare_run(catalog, channels, out_dir, config, write=True, command="build",
                         progress=progress, jobs=jobs).execute()
    return with_html(report, html, config)


def validate(catalog: Path | str | None = None, channels: Iterable[str] = (),
             out_dir: Path | str | None = None, config: Config | None = None,
             progress: ProgressCallback | None = None,
             html: Path | str | None = None) -> RunReport:
    """The same checks and report as ``build``; no feed is written.

    With ``out_dir`` the issue logs are written there; without, only the report is kept.
    """
    config = config or Config()
    report = prepare_run(catalog, channels, out_dir, config, write=False, command="validate",
                         progress=progress).execute()
    return with_html(report, html, config)


def with_html(report: RunReport, html: Path | str | None, config: Config) -> RunReport:
    """Write the HTML report of a build or validate where asked (``--html``, else
    ``report.html`` in the config); its path goes into the report."""
    path = html if html is not None else config.report_html
    if path is not None:
        write_run_html(report, path, config)
    return report
