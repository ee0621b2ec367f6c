"""Hostile and unlucky input that used to end in exit 1 (a bug) or worse (issue 15, items
7, 8, 9, 10, 12, 13, 15, 16). Every case runs the real CLI as a subprocess: the exit code,
the one ``Error:`` line naming the place, and no traceback (``run_cli`` checks that)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from tests.helpers import (
    cli_command,
    cli_env,
    error_line,
    gen_catalog,
    good_row,
    read_issues,
    run_cli,
    write_config,
    write_csv,
    write_jsonl,
)

DOCS = "https://example.com/spec"


def _channel(folder: Path, name: str, body: str) -> None:
    """A channel folder ``tpl/<name>/channel.yaml`` with a csv output and ``body`` after."""
    (folder / "tpl" / name).mkdir(parents=True, exist_ok=True)
    (folder / "tpl" / name / "channel.yaml").write_text(
        f"name: {name}\ndocs: {DOCS}\noutputs: {{csv: {{writer: csv, file: {name}.csv}}}}\n"
        + body, encoding="utf-8")
    write_config(folder / "feedsync.yaml",
                 f"version: 1\ntemplate_dirs: [tpl]\nchannels: [{name}]\n")


def _catalog(folder: Path) -> Path:
    return write_csv(folder / "catalog.csv", [good_row(f"P-{i}") for i in range(3)])


def _build(folder: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("build", _catalog(folder), "--config", folder / "feedsync.yaml",
                   "--out", folder / "out", *extra, cwd=folder)


# --- item 7: each input gets its documented code and names the place -----------------------

def _deep_config(folder: Path) -> tuple[int, str, str]:
    write_config(folder / "feedsync.yaml",
                 "version: 1\nchannels: [google]\ndefaults: " + "[" * 5000 + "]" * 5000 + "\n")
    return _build(folder)


def _deep_channel_yaml(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "deep", "fields:\n  id: product.id\nlimits: " + "{a: " * 3000
             + "1" + "}" * 3000 + "\n")
    return _build(folder)


def _deep_field_expression(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "deep", "fields:\n  id: product.id\n  title: {value: \""
             + "(" * 3000 + "product.title" + ")" * 3000 + "\"}\n")
    return _build(folder)


def _deep_include(folder: Path) -> tuple[int, str, str]:
    write_config(folder / "feedsync.yaml", "version: 1\nchannels:\n  google:\n    include: \""
                 + "(" * 3000 + "1" + ")" * 3000 + "\"\n")
    return _build(folder)


def _integer_field_key(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "intkey", "fields:\n  id: product.id\n  3: product.title\n")
    return _build(folder)


def _null_field_key(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "nullkey", "fields:\n  id: product.id\n  ~: product.title\n")
    return _build(folder)


def _null_rule_key(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "rulekey", "fields:\n  id: product.id\n  title:\n    value: product.title"
             f"\n    rules: [{{check: required, source: '{DOCS}', ~: 1}}]\n")
    return _build(folder)


def _integer_config_key(folder: Path) -> tuple[int, str, str]:
    write_config(folder / "feedsync.yaml",
                 "version: 1\nchannels:\n  google:\n    target: {1: US}\n")
    return _build(folder)


def _long_delimiter(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "delim", "fields:\n  id: product.id\n")
    path = folder / "tpl" / "delim" / "channel.yaml"
    path.write_text(path.read_text().replace("file: delim.csv", "file: delim.csv, "
                                             "options: {delimiter: ';;'}"))
    return _build(folder)


def _number_delimiter(folder: Path) -> tuple[int, str, str]:
    _channel(folder, "delim", "fields:\n  id: product.id\n")
    path = folder / "tpl" / "delim" / "channel.yaml"
    path.write_text(path.read_text().replace("file: delim.csv", "file: delim.csv, "
                                             "options: {delimiter: 5}"))
    return _build(folder)


def _include_divides_by_zero(folder: Path) -> tuple[int, str, str]:
    write_config(folder / "feedsync.yaml",
                 "version: 1\nchannels:\n  google:\n    include: '1 / 0'\n")
    return _build(folder)


def _state_dir_is_a_file(folder: Path) -> tuple[int, str, str]:
    (folder / "statefile").write_text("not a directory")
    return run_cli("push", _catalog(folder), "--channel", "google", "--state",
                   folder / "statefile", "--to", (folder / "dest").as_uri() + "/", cwd=folder)


def _state_row_wrong_type(folder: Path) -> tuple[int, str, str]:
    (folder / "dest").mkdir()
    args = ("push", _catalog(folder), "--channel", "google", "--state", folder / "state",
            "--to", (folder / "dest").as_uri() + "/")
    code, _, stderr = run_cli(*args, cwd=folder)
    assert code == ExitCode.OK, stderr
    with sqlite3.connect(folder / "state" / "state.sqlite") as conn:
        conn.execute("UPDATE feeds SET items = 'many', created_at = 42")
    conn.close()
    return run_cli(*args, cwd=folder)


# name -> (make and run, exit code, text the error line must hold: the key, file or row)
ITEM_7: dict[str, tuple[Callable[[Path], tuple[int, str, str]], ExitCode, str]] = {
    "deep-config-yaml": (_deep_config, ExitCode.USAGE, "feedsync.yaml"),
    "deep-channel-yaml": (_deep_channel_yaml, ExitCode.TEMPLATE, "channel.yaml"),
    "deep-field-expression": (_deep_field_expression, ExitCode.TEMPLATE,
                              "fields.title.value"),
    "deep-include-expression": (_deep_include, ExitCode.USAGE, "channels.google.include"),
    "integer-field-key": (_integer_field_key, ExitCode.TEMPLATE, "'fields'"),
    "null-field-key": (_null_field_key, ExitCode.TEMPLATE, "'fields'"),
    "null-rule-key": (_null_rule_key, ExitCode.TEMPLATE, "fields.title.rules[0]"),
    "integer-config-key": (_integer_config_key, ExitCode.USAGE, "channels.google.target"),
    "two-character-delimiter": (_long_delimiter, ExitCode.TEMPLATE, "outputs.csv.options"),
    "number-delimiter": (_number_delimiter, ExitCode.TEMPLATE, "outputs.csv.options"),
    "include-divides-by-zero": (_include_divides_by_zero, ExitCode.TEMPLATE,
                                "channels.google.include"),
    "state-dir-is-a-file": (_state_dir_is_a_file, ExitCode.USAGE, "statefile"),
    "state-row-wrong-type": (_state_row_wrong_type, ExitCode.USAGE, "feeds row"),
}


@pytest.mark.parametrize("case", list(ITEM_7))
def test_user_error_is_not_an_internal_error(case: str, tmp_path: Path) -> None:
    make, expected, place = ITEM_7[case]
    code, _, stderr = make(tmp_path)
    assert code != ExitCode.INTERNAL, stderr
    assert code == expected, stderr
    assert place in error_line(stderr), stderr


# Config keys of the wrong type (a fuzz of every key with values of other types found these
# among others; each must be a config error naming the key, never exit 1).
WRONG_TYPES = [
    ("jobs", "[1]"), ("keep_feeds", "{a: 1}"), ("template_dirs", "7"), ("gate", "xx"),
    ("report", "[[]]"), ("catalog", "1.5"), ("category_map", "true"), ("defaults", "{1: 2}"),
    ("channels", "{google: {outputs: [[]]}}"), ("channels", "{google: {outputs: [1]}}"),
]


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES)
def test_config_key_of_the_wrong_type(key: str, value: str, tmp_path: Path) -> None:
    write_config(tmp_path / "feedsync.yaml", f"version: 1\nchannels: [google]\n{key}: {value}\n")
    code, _, stderr = _build(tmp_path)
    assert code == ExitCode.USAGE, stderr
    assert key in error_line(stderr), stderr


# --- item 8: product text is never rich markup -------------------------------------------

@pytest.mark.parametrize("product_id", ["[/]", "[bold]x", "[link=file:///etc/passwd]y[/link]"])
def test_markup_in_a_product_id_is_printed_as_text(product_id: str, tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "catalog.csv", [good_row(product_id, gtin="1"),
                                                   good_row("P-2")])
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                                   tmp_path / "out", cwd=tmp_path)
    assert code == ExitCode.OK, stderr
    assert product_id in stdout  # the examples column shows the id as written
    code, stdout, stderr = run_cli("explain", product_id, catalog, "--channel", "google",
                                   cwd=tmp_path)
    assert code != ExitCode.INTERNAL, stderr
    assert product_id in stdout + stderr


# --- item 9: a sandbox violation found at run time exits 9 ---------------------------------

DYNAMIC_ATTR = "attr('_' ~ '_class__')"


@pytest.mark.parametrize("where", ["field", "check", "include", "parallel"])
def test_run_time_sandbox_violation_exits_9(where: str, tmp_path: Path) -> None:
    extra: tuple[str, ...] = ()
    if where == "include":
        write_config(tmp_path / "feedsync.yaml", "version: 1\nchannels:\n  google:\n"
                     f"    include: \"product.title | {DYNAMIC_ATTR}\"\n")
    elif where == "check":
        _channel(tmp_path, "sbx", "fields:\n  id: product.id\n  title: product.title\n"
                 f"checks:\n  - {{code: x, assert: \"item.title | {DYNAMIC_ATTR}\", "
                 f"severity: error, message: m, source: '{DOCS}'}}\n")
    else:
        _channel(tmp_path, "sbx", "fields:\n  id: product.id\n"
                 f"  title: {{value: \"product.title | {DYNAMIC_ATTR}\"}}\n")
        extra = ("--jobs", "2") if where == "parallel" else ()
    code, _, stderr = _build(tmp_path, *extra)
    assert code == ExitCode.SECURITY, stderr
    assert "sandbox violation" in error_line(stderr)


# --- item 10: workers of a parent killed with SIGKILL stay quiet ---------------------------

def test_kill_9_of_a_parallel_build_leaves_workers_quiet(tmp_path: Path) -> None:
    catalog = gen_catalog(tmp_path / "catalog.csv", 60_000)
    # The workers inherit the parent's stderr: a worker's traceback lands in this file.
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            cli_command("build", catalog, "--channel", "google", "--out", tmp_path / "out",
                        "--jobs", "2"),
            cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True)
        time.sleep(2.5)  # past the fork, while batches are in flight
        assert process.poll() is None, "the build ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # The orphaned workers notice the closed pipe and end; give them time to (not) speak.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.2)
    assert not _group_alive(process.pid), "workers outlived their killed parent"
    text = stderr_path.read_text(errors="replace")
    assert "Traceback" not in text and "BrokenPipeError" not in text, text


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


# --- item 12: an expression's cost is bounded, and the product and field are named ---------

COSTLY = {
    "repeat-text": "(product.title ~ 'x') * 1000000000",
    "huge-power": "10 ** 100000000",
    "center-filter": "product.title | center(1000000000)",
    "center-method": "product.title.center(1000000000)",
    "percent-width": "'%999999999d' % 1",
    "replace-growth": "(product.title * 1000) | replace('', '" + "y" * 2000 + "')",
}


@pytest.mark.parametrize("case", list(COSTLY))
def test_costly_expression_fails_naming_product_and_field(case: str, tmp_path: Path) -> None:
    _channel(tmp_path, "cost",
             f"fields:\n  id: product.id\n  title: {{value: \"{COSTLY[case]}\"}}\n")
    code, _, stderr = _build(tmp_path)
    assert code == ExitCode.TEMPLATE, stderr
    line = error_line(stderr)
    assert "product 'P-0'" in line and "field 'title'" in line, stderr
    assert "too large" in line or "an expression may build" in line, stderr


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*)*y", "(\\\\w+\\\\s?)*$"])
def test_catastrophic_pattern_is_refused_at_load(pattern: str, tmp_path: Path) -> None:
    _channel(tmp_path, "regex", "fields:\n  id: product.id\n"
             f"  title: {{value: \"product.title | regex_replace('{pattern}', '')\"}}\n")
    code, _, stderr = _build(tmp_path)
    assert code == ExitCode.TEMPLATE, stderr
    assert "fields.title.value" in error_line(stderr) and "backtrack" in error_line(stderr)


# --- item 13: --jobs is capped at the cores available --------------------------------------

def test_jobs_beyond_the_cores_are_capped_with_a_notice(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "catalog.csv", [good_row(f"P-{i}") for i in range(500)])
    code, _, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                              tmp_path / "out", "--jobs", "100000", cwd=tmp_path)
    assert code == ExitCode.OK, stderr
    cores = len(os.sched_getaffinity(0))
    assert f"--jobs 100000 capped at {cores}" in stderr


# --- items 15 and 16: the sniffer does not decide a row's fate -----------------------------

@pytest.mark.parametrize("row", [1, 3000])
def test_nul_byte_in_one_title_is_that_products_issue(row: int, tmp_path: Path) -> None:
    rows = [good_row(f"P-{i}") for i in range(3200)]
    rows[row - 1]["title"] = "Shirt\x00with a NUL"
    catalog = write_csv(tmp_path / "catalog.csv", rows)
    assert (catalog.read_bytes().index(b"\x00") < 64 * 1024) == (row == 1)
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                                   tmp_path / "out", "--json", cwd=tmp_path)
    assert code == ExitCode.OK, stderr
    assert json.loads(stdout)["catalog"]["read"] == 3200
    issues = [i for i in read_issues(tmp_path / "out" / "google.issues.jsonl")
              if i["product_id"] == f"P-{row - 1}"]
    assert [(i["code"], i["line"], i["field"]) for i in issues] == [
        ("invalid-xml-char", row + 1, "title")]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_jsonl_with_a_first_line_longer_than_the_sniffed_head(suffix: str,
                                                               tmp_path: Path) -> None:
    long_text = "<p>" + "Long description. " * 5000 + "</p>"
    assert len(long_text) > 64 * 1024
    catalog = write_jsonl(tmp_path / f"catalog{suffix}",
                          [good_row(f"P-{i}", description=long_text) for i in range(3)])
    code, stdout, stderr = run_cli("build", catalog, "--channel", "google", "--out",
                                   tmp_path / "out", "--json", cwd=tmp_path)
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)["catalog"]
    assert (report["format"], report["read"]) == ("jsonl", 3)

