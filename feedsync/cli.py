"""The ``feedsync`` command: parse arguments, call the library, print the report.

Nothing here decides anything about feeds. Every ``FeedsyncError`` becomes one
``Error:`` line (plus ``Tip:``) on stderr and its documented exit code; an unexpected
exception becomes exit 1 with a pointer to the bug tracker, never a traceback (set
``FEEDSYNC_DEBUG=1`` to see one).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand

import feedsync
from feedsync import diff as feedsync_diff
from feedsync import pipeline
from feedsync.apis.deliver import status as api_status
from feedsync.config import Config, load_config
from feedsync.errors import ConfigError, ExitCode, FeedsyncError, Interrupted
from feedsync.inspection import (
    DEFAULT_CHANNELS,
    DEFAULT_ROWS,
    Inspection,
    inspect_catalog,
    safe_sample,
    write_starter,
)
from feedsync.report import RunReport
from feedsync.secrets import RedactingFilter, install_redaction
from feedsync.sources import SourceOptions
from feedsync.terminal import catalog_progress, render_diff, render_report

BUG_URL = "https://github.com/feedsync/feedsync/issues"

# Plain click help (rich_markup_mode=None): typer's rich panels print programmer types
# such as ``<bool>`` next to every flag (issue 14 item 10). Values get a word instead.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])

class _Command(TyperCommand):
    """A command whose help names each argument without its Python type (``<path>``)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        super().format_help(ctx, formatter)


def _no_type(ctx: Any) -> None:
    return None


CatalogArg = Annotated[Path | None, typer.Argument(
    metavar="CATALOG", show_default=False,
    help="Catalog file: CSV, TSV, JSON, JSONL, a Google XML feed, a WordPress/WooCommerce "
         "WXR export or a PrestaShop XML export. Optional when the config names "
         "catalog.path.")]
ChannelOpt = Annotated[list[str] | None, typer.Option(
    "--channel", "-c", metavar="NAME",
    help="Channel or target to build; repeat for several. Default: all "
    "channels in the config.", show_default=False)]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", metavar="DIR",
    help="Output directory. Default: output_dir from the config, else ./out.",
    show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE",
    help="feedsync.yaml with catalog, defaults and channels.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON report on stdout.")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", metavar="FILE",
    help="Also write the HTML diagnostics report to this file (docs/report.md). "
    "Default: report.html from the config.", show_default=False)]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _fail(error: FeedsyncError, as_json: bool) -> int:
    if as_json:
        _print_json({"version": 1, "error": error.to_dict()})
    console = _stderr()
    console.print(f"Error: {error}", markup=False)
    if error.tip:
        console.print(f"Tip: {error.tip}", markup=False)
    return int(error.exit_code)


def handle_errors(command: F) -> F:
    """Turn every failure of a command into a message and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        previous = signal.signal(signal.SIGTERM, _on_signal)
        previous_int = signal.signal(signal.SIGINT, _on_signal)
        try:
            code = command(*args, **kwargs)
        except FeedsyncError as exc:
            code = _fail(exc, as_json)
        except KeyboardInterrupt:
            _stderr().print("Interrupted: temporary files removed; previous feeds unchanged.")
            code = int(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            code = _quiet_broken_pipe()
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EPIPE):
                raise _internal(exc) from exc
            code = _quiet_broken_pipe() if exc.errno == errno.EPIPE else _stdout_full(exc)
        except Exception as exc:
            raise _internal(exc) from exc
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
        raise typer.Exit(int(code or 0))

    return wrapper  # type: ignore[return-value]


GRACE_SECONDS = 10.0


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Stop cleanly: the exception unwinds through every ``finally`` (temp files, lock).

    A watchdog then gives the clean-up ``GRACE_SECONDS``: a peer that stopped answering
    must not keep a cron job alive. Past that the process exits with the same code; the
    kernel frees the lock, and the next run removes the temp files of a dead process.
    """
    code = ExitCode.INTERRUPTED if signum == signal.SIGINT else ExitCode.TERMINATED
    _start_watchdog(int(code))
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    error = Interrupted("terminated (SIGTERM); temporary files removed, previous feeds "
                        "unchanged")
    error.exit_code = ExitCode.TERMINATED
    raise error


def _start_watchdog(code: int) -> None:
    def expire() -> None:
        sys.stderr.write(f"Error: clean-up after the signal took over {GRACE_SECONDS:g} s; "
                         "stopping now (previous feeds unchanged)\n")
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(GRACE_SECONDS, expire)
    timer.daemon = True
    timer.start()


def _internal(exc: Exception) -> typer.Exit:
    if os.environ.get("FEEDSYNC_DEBUG"):
        import traceback

        traceback.print_exc()
    _stderr().print(f"Internal error: {type(exc).__name__}: {exc}", markup=False)
    _stderr().print(f"This is a bug in feedsync. Please report it at {BUG_URL} "
                    "(run with FEEDSYNC_DEBUG=1 for details).", markup=False)
    return typer.Exit(int(ExitCode.INTERNAL))


def _quiet_broken_pipe() -> int:
    # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return int(ExitCode.OK)


def _stdout_full(exc: OSError) -> int:
    _quiet_broken_pipe()
    sys.stderr.write(f"Error: cannot write the report to stdout: {exc.strerror}\n")
    return int(ExitCode.USAGE)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def _config(path: Path | None) -> Config:
    return load_config(path) if path is not None else Config()


@contextmanager
def _progress(enabled: bool) -> Iterator[pipeline.ProgressCallback | None]:
    """A rich progress bar on a terminal; nothing on a pipe or under cron."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar, update = catalog_progress(_stderr())
    with bar:
        yield update


def _exit_code(report: RunReport) -> int:
    return report.exit_code


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"feedsync {feedsync.__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Syndicate one product catalog to every sales channel.

    Example: feedsync build catalog.csv --config feedsync.yaml
    """


@app.command(cls=_Command)
@handle_errors
def build(catalog: CatalogArg = None, channel: ChannelOpt = None, out: OutOpt = None,
          config: ConfigOpt = None, as_json: JsonOpt = False,
          jobs: Annotated[int, typer.Option(
              "--jobs", "-j", metavar="N", min=0,
              help="Worker processes; 0 = automatic (one per core, "
              "for catalogs over 8 MB), 1 = serial.")] = 0, html: HtmlOpt = None) -> int:
    """Build every selected channel's feed in one pass over the catalog.

    Example: feedsync build catalog.csv --config feedsync.yaml --channel google
    """
    cfg = _config(config)
    with _progress(not as_json) as progress:
        report = feedsync.build(catalog, channel or [], out, cfg, progress, jobs=jobs,
                                html=html)
    _show(report, as_json)
    return _exit_code(report)


@app.command(cls=_Command)
@handle_errors
def validate(catalog: CatalogArg = None, channel: ChannelOpt = None, out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="DIR",
                                  help="Write the issue logs here (no feeds).",
                                  show_default=False)] = None,
        config: ConfigOpt = None, as_json: JsonOpt = False, html: HtmlOpt = None) -> int:
    """Run every check and print the report; no feed is written.

    Example: feedsync validate catalog.csv --channel meta
    """
    cfg = _config(config)
    with _progress(not as_json) as progress:
        report = feedsync.validate(catalog, channel or [], out, cfg, progress, html=html)
    _show(report, as_json)
    return _exit_code(report)


@app.command(cls=_Command)
@handle_errors
def channels(config: ConfigOpt = None, as_json: JsonOpt = False) -> int:
    """List the available channel templates with their docs URL.

    Example: feedsync channels --config feedsync.yaml
    """
    report = feedsync.channels(_config(config))
    if as_json:
        _print_json(report.to_dict())
        return 0
    table = Table("channel", "title", "outputs", "docs", box=None)
    for row in report.channels:
        table.add_row(row.name, row.title, ", ".join(row.outputs), row.docs)
    _console().print(table)
    return 0


@app.command(cls=_Command)
@handle_errors
def inspect(catalog: Annotated[Path, typer.Argument(
                help="Catalog file to look at (CSV, TSV, JSON, JSONL, XML).", show_default=False)],
            channel: Annotated[list[str] | None, typer.Option(
                "--channel", "-c", metavar="NAME",
                help="Channel whose required attributes to check; repeat "
                "for several. Default: google and meta.", show_default=False)] = None,
            as_json: JsonOpt = False,
            write: Annotated[Path | None, typer.Option(
                "--write", metavar="FILE",
                help="Write a starter feedsync.yaml with the suggested mapping.",
                show_default=False)] = None,
            force: Annotated[bool, typer.Option(
                "--force", help="With --write: replace an existing file.")] = False,
            rows: Annotated[int, typer.Option(
                "--rows", min=1, metavar="N",
                help="Read at most this many records.")] = DEFAULT_ROWS,
            all_rows: Annotated[bool, typer.Option(
                "--all", help="Read every record (fill rates over the whole catalog).")] = False,
            encoding: Annotated[str | None, typer.Option(
                "--encoding", metavar="NAME",
                help="The catalog's encoding, e.g. cp1252. Default: UTF-8.",
                show_default=False)] = None,
            delimiter: Annotated[str | None, typer.Option(
                "--delimiter", metavar="CHAR", help="CSV delimiter. Default: sniffed.",
                show_default=False)] = None,
            short_rows: Annotated[bool, typer.Option(
                "--pad-short-rows", help="Read a row with fewer cells than the header with "
                "empty cells at its end (catalog.short_rows: pad).")] = False) -> int:
    """Describe a catalog and suggest its field mapping, without writing any feed.

    Example: feedsync inspect products.csv --write feedsync.yaml
    """
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigError("--delimiter must be one character", key="--delimiter")
    options = SourceOptions(encoding=encoding, delimiter=delimiter, trim=True,
                            short_rows="pad" if short_rows else "error")
    result = inspect_catalog(catalog, options=options,
                             channels=channel or list(DEFAULT_CHANNELS),
                             max_rows=None if all_rows else rows)
    written = write_starter(result, write, force=force) if write is not None else None
    if as_json:
        data = {"version": 1, **result.to_dict(),
                "written": str(written) if written is not None else None}
        _print_json(data)
        return 0
    render_inspection(result, _console())
    if written is not None:
        _console().print(Text(f"\nWrote {written}: check it, then run "
                              f"`feedsync validate --config {written}`."))
    return 0


def _problems(codes: dict[str, int]) -> str:
    if not codes:
        return ""
    listed = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
    tip = " (--pad-short-rows if the export drops trailing empty cells)" \
        if "row-ragged" in codes else ""
    return f"; rows not read: {listed}{tip}"


def render_inspection(result: Inspection, console: Console) -> None:
    """Print an inspection; product text goes in ``Text`` so it is never read as markup."""
    scope = "all" if result.complete else "first"
    delim = {"\t": "tab", "": "-"}.get(result.delimiter, result.delimiter)
    console.print(Text(f"{result.path}: {result.format}, delimiter {delim}, encoding "
                       f"{result.encoding}, profile {result.profile or 'none'}; "
                       f"{scope} {result.rows} record(s) read"
                       + _problems(result.problem_codes)))
    table = Table("column", "filled", "samples", box=None)
    for col in result.columns:
        samples = " | ".join(safe_sample(v) for v in col.samples)
        table.add_row(Text(col.name), f"{result.fill_rate(col):.0%}", Text(samples))
    console.print(table)
    console.print(Text("\nSuggested catalog.fields (check each):"))
    for name, s in result.suggestions.items():
        console.print(Text(f"  {name}: {s.value}    # {s.reason}"))
    if result.group_by:
        console.print(Text(f"  group_by: {result.group_by}    # its values repeat: master and "
                           "variant rows"))
    if result.options:
        console.print(Text(f"  options: names {result.options[0]}, values {result.options[1]}"))
    if result.more_columns:
        console.print(Text(f"({result.more_columns} more columns not described)"))
    for ch, missing in result.uncovered.items():
        line = ", ".join(missing) if missing else "every required attribute is covered"
        console.print(Text(f"{ch}: " + ("no column covers " if missing else "") + line))


def _console() -> Console:
    """stdout; on a pipe or under cron wide enough that nothing is cut off."""
    if sys.stdout.isatty():
        return Console(highlight=False, markup=False)
    return Console(highlight=False, width=250, color_system=None, markup=False)


def _show(report: RunReport, as_json: bool) -> None:
    if as_json:
        _print_json(report.to_dict())
        return
    render_report(report, _console())


LogFormatOpt = Annotated[str, typer.Option(
    "--log-format", metavar="text|json",
    help="Event lines on stderr: text or json (one object per line).")]
StateOpt = Annotated[Path | None, typer.Option(
    "--state", metavar="DIR",
    help="State directory (runs, last good feeds, lock). Default: state_dir from "
    "the config, else ./.feedsync", show_default=False)]


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                           "level": record.levelname.lower(), "logger": record.name,
                           "message": record.getMessage()}, ensure_ascii=False)


def setup_logging(log_format: str) -> None:
    """One line per event on stderr; on a terminal only warnings, under cron everything.

    The redacting filter sits on the handler, so third-party records (urllib3, asyncssh)
    are scrubbed of secrets too.
    """
    if log_format not in ("text", "json"):
        raise ConfigError(f"--log-format must be text or json, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if log_format == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger("feedsync")
    root.handlers[:] = [handler]
    root.propagate = False
    quiet = sys.stderr.isatty() and log_format == "text"
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    install_redaction()


@app.command(cls=_Command)
@handle_errors
def push(catalog: CatalogArg = None, channel: ChannelOpt = None, config: ConfigOpt = None,
         to: Annotated[list[str] | None, typer.Option(
             "--to", metavar="URL",
             help="Destination URL (file://, sftp://, ftp://, ftps://, https://); "
             "repeat for several. Credentials come from the environment, never the URL.",
             show_default=False)] = None,
         force: Annotated[bool, typer.Option(
             "--force", help="Publish even if the gate refuses, and even if unchanged.")
         ] = False,
         dry_run: Annotated[bool, typer.Option(
             "--dry-run", help="Build and show what would be uploaded where; touch nothing "
             "remote.")] = False,
         state: StateOpt = None, as_json: JsonOpt = False, log_format: LogFormatOpt = "text",
         full: Annotated[bool, typer.Option(
             "--full", help="API channels: re-send every product, not only what changed.")
         ] = False,
         ) -> int:
    """Build, check the publish gate, and deliver each channel's feed (cron-safe).

    Example: feedsync push --config feedsync.yaml --dry-run
    """
    setup_logging(log_format)
    cfg = _config(config)
    with _progress(not as_json) as progress:
        report = feedsync.push(catalog, channel or [], cfg, to=to or [], force=force,
                               dry_run=dry_run, state_dir=state, progress=progress, full=full)
    _show(report, as_json)
    return _exit_code(report)


@app.command(cls=_Command)
@handle_errors
def status(channel: ChannelOpt = None, config: ConfigOpt = None, state: StateOpt = None,
           as_json: JsonOpt = False, log_format: LogFormatOpt = "text") -> int:
    """What the API channels hold: accepted, rejected, held back; Google's item issues.

    Example: feedsync status --config feedsync.yaml --channel google
    """
    setup_logging(log_format)
    report = api_status(_config(config), channel or [], state)
    _show(report, as_json)
    return _exit_code(report)


@app.command(cls=_Command)
@handle_errors
def history(config: ConfigOpt = None, state: StateOpt = None,
            limit: Annotated[int, typer.Option("--limit", metavar="N",
            help="How many runs.")] = 20,
            as_json: JsonOpt = False) -> int:
    """List recent runs with their outcome and published feeds.

    Example: feedsync history --config feedsync.yaml --limit 5
    """
    report = feedsync.history(_config(config), state, limit)
    if as_json:
        _print_json(report.to_dict())
        return 0
    table = Table("run", "started", "command", "status", "exit", "products", box=None)
    for run in report.runs:
        table.add_row(str(run.id), run.started_at.isoformat(), run.command, run.status,
                      str(run.exit_code), str((run.summary or {}).get("products", "")))
    _console().print(table)
    return 0


@app.command(cls=_Command)
@handle_errors
def rollback(channel: Annotated[str, typer.Argument(
                 metavar="CHANNEL", show_default=False, help="Channel target to roll back.")],
             run: Annotated[int | None, typer.Option(
                 "--run", metavar="RUN",
                 help="Run whose feed to re-publish. Default: the good feed before "
                 "the latest.", show_default=False)] = None,
             config: ConfigOpt = None,
             to: Annotated[list[str] | None, typer.Option(
                 "--to", metavar="URL",
                 help="Destination URL; default: the channel's configured ones.",
                 show_default=False)] = None,
             state: StateOpt = None, as_json: JsonOpt = False,
             log_format: LogFormatOpt = "text") -> int:
    """Re-publish an earlier good feed of CHANNEL to its destinations.

    Example: feedsync rollback google --config feedsync.yaml
    """
    setup_logging(log_format)
    report = feedsync.rollback(channel, _config(config), run=run, to=to or [],
                               state_dir=state)
    if as_json:
        _print_json(report.to_dict())
    else:
        console = Console(highlight=False, soft_wrap=True, markup=False)
        info = report.rollback
        assert info is not None
        console.print(f"rolled back {channel} to the feed of run {info.from_run} "
                      f"({info.items} items)", markup=False)
        for line in report.messages or []:
            console.print(line, markup=False)
    return report.exit_code


@app.command(cls=_Command)
@handle_errors
def explain(product_id: Annotated[str, typer.Argument(
                metavar="PRODUCT_ID", show_default=False, help="The product id to trace.")],
            catalog: CatalogArg = None, channel: ChannelOpt = None, config: ConfigOpt = None,
            as_json: JsonOpt = False) -> int:
    """Why is (or isn't) PRODUCT_ID in each channel's feed? Traces it through the pipeline.

    Example: feedsync explain SKU-123 catalog.csv --channel google
    """
    result = feedsync.explain(product_id, catalog, channel or [], _config(config))
    if as_json:
        _print_json(result.to_dict())
        return 0
    render_explanation(result.to_dict(), _console())
    return 0


@app.command(cls=_Command)
@handle_errors
def diff(old: Annotated[Path | None, typer.Argument(
             metavar="OLD", show_default=False, help="The earlier feed file.")] = None,
         new: Annotated[Path | None, typer.Argument(
             metavar="NEW", show_default=False, help="The later feed file, same format.")
         ] = None,
         run: Annotated[list[int] | None, typer.Option(
             "--run", metavar="RUN",
             help="Compare the feeds two runs kept instead: give --run twice (see "
             "`feedsync history`).", show_default=False)] = None,
         channel: Annotated[str | None, typer.Option(
             "--channel", "-c", metavar="NAME", help="The channel whose kept feeds --run "
             "compares.", show_default=False)] = None,
         config: ConfigOpt = None, state: StateOpt = None, as_json: JsonOpt = False) -> int:
    """What changes between two feeds: items added, removed, changed, and which
    attributes changed (RSS/XML, TSV/CSV, Amazon JSON). Exit 0 whether or not they differ.

    Example: feedsync diff out-old/google.xml out/google.xml
    """
    if run:
        if len(run) != 2 or channel is None or old is not None:
            raise ConfigError("--run needs two runs and --channel, and no feed files",
                              tip="feedsync diff --run 3 --run 5 --channel google")
        state_dir = state or _config(config).state_dir
        report = feedsync_diff.diff_runs(state_dir, channel, run[0], run[1])
    elif old is None or new is None:
        raise ConfigError("give two feed files (OLD NEW), or --run twice with --channel",
                          tip="feedsync diff out-old/google.xml out/google.xml")
    else:
        report = feedsync_diff.diff_files(old, new)
    if as_json:
        _print_json(report.to_dict())
    else:
        render_diff(report, _console())
    return 0


def render_explanation(data: dict[str, Any], console: Console) -> None:
    for occurrence in data["occurrences"]:
        console.print(f"product {data['product_id']} at {occurrence['source']}", markup=False)
        if "skipped" in occurrence:
            console.print(f"  not read: {occurrence['skipped']}", markup=False)
            continue
        for join in occurrence["joins"]:
            console.print(f"  joined: {join}", markup=False)
        if occurrence["defaults"]:
            console.print("  defaults used: " + ", ".join(occurrence["defaults"]), markup=False)
        for name, trace in occurrence["channels"].items():
            _render_trace(f"[{name}]", trace, console, "  ")


def _render_trace(label: str, trace: dict[str, Any], console: Console, indent: str) -> None:
    console.print(f"{indent}{label} {trace['outcome'].upper()}"
                  + (f": {trace['reason']}" if trace.get("reason") else ""), markup=False)
    inner = indent + "  "
    for store in trace.get("stores", []):
        _render_trace(f"store {store.get('store') or '?'}", store, console, inner)
    for fired in trace.get("fired", []):
        console.print(f"{inner}control: {fired}", markup=False)
    for key, value in trace.get("fields", {}).items():
        if value:
            console.print(f"{inner}{key} = {value!r}", markup=False)
    for rule in trace.get("rules", []):
        if rule["verdict"] == "fail" or trace.get("fields", {}).get(rule["field"]):
            mark = "FAIL" if rule["verdict"] == "fail" else "ok  "
            console.print(f"{inner}{mark} {rule['severity']:<7} {rule['code']:<28} "
                          f"{rule['field'] or ''} {rule['reason']} ({rule['source']})",
                          markup=False)
    for output, text in trace.get("output", {}).items():
        console.print(f"{inner}output {output}: {text}", markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="feedsync")  # the same name under `python -m feedsync.cli`
    except BrokenPipeError:
        sys.exit(_quiet_broken_pipe())


if __name__ == "__main__":
    main()
