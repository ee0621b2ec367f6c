"""The reliability catalogue items owned by ``feedsync build`` (../shared/reliability.md
A1-A12, B1-B8, D4, D6, E1, E4), on real files and real processes.

Each test asserts the exit code by name, no traceback, and that the report accounts for
every row (written, rejected with a reason, or skipped with a reason).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feedsync
from feedsync.channels.filters import plain_text, single_line
from feedsync.config import parse_config
from feedsync.errors import CatalogError, ExitCode, FeedsyncError, OutputError
from feedsync.writers import atomic
from tests.helpers import (
    COLUMNS,
    EXAMPLES,
    G,
    cli_command,
    cli_env,
    error_line,
    feed_ids,
    feed_items,
    gen_catalog,
    good_row,
    invoke_cli,
    issues_for,
    parse_feed,
    read_issues,
    read_tsv,
    report_accounts_for_all,
    sha256,
    snapshot,
    temp_files,
    write_config,
    write_csv,
    write_jsonl,
)

XML_TSV = "channels:\n  google:\n    outputs: [xml, tsv]\n"


def build_json(catalog: Path, out: Path, *extra: str | Path,
               code: ExitCode = ExitCode.OK) -> dict[str, Any]:
    exit_code, stdout, stderr = invoke_cli("build", catalog, "--channel", "google", "--out", out,
                                        "--json", *extra)
    assert exit_code == code, stderr
    report = json.loads(stdout)
    if code == ExitCode.OK:
        report_accounts_for_all(report)
    return report


def xml_tsv_config(tmp_path: Path, extra: str = "") -> Path:
    return write_config(tmp_path / "feedsync.yaml", extra + XML_TSV)


def catalog_problems(out: Path) -> list[dict[str, Any]]:
    return read_issues(out / "catalog.issues.jsonl")


def previous_feed(out: Path) -> str:
    """Build the example catalog into ``out``: the 'live feed' a failure must not touch."""
    report = feedsync.build(EXAMPLES, ["google"], out)
    assert report.channels[0].written > 0
    return sha256(out / "google.xml")


# --- A1 ragged rows and an unterminated quote ----------------------------------------

def test_a1_ragged_rows_and_unterminated_quote(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    good = [good_row(f"G{i}") for i in range(6)]

    def line(row: dict[str, str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow([row.get(c, "") for c in COLUMNS])
        return buffer.getvalue()

    lines = [header, line(good[0]), line(good[1]),
             line(good_row("TOO-MANY")) + ",extra,cells",          # line 4
             line(good[2]), line(good[3]),
             ",".join(["TOO-FEW", "Short row", "x"]),              # line 7
             'QUOTE-1,"Unterminated title,desc,https://shop.example.com/q',  # line 8
             line(good[4]), line(good[5])]
    catalog = tmp_path / "ragged.csv"
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    report = build_json(catalog, out)
    assert report["catalog"]["read"] == 6
    assert report["catalog"]["skipped"] == 3
    problems = catalog_problems(out)
    assert [(p["line"], p["product_id"], p["code"]) for p in problems] == [
        (4, "TOO-MANY", "row-ragged"), (7, "TOO-FEW", "row-ragged"),
        (8, "QUOTE-1", "row-unterminated-quote")]
    for problem in problems:
        assert problem["file"] == str(catalog) and problem["message"]
    # the rows after the unclosed quote are read again: every good row is written
    assert sorted(feed_ids(out / "google.xml")) == sorted(r["id"] for r in good)
    assert report["channels"]["google"]["written"] == 6


# --- A2 encodings --------------------------------------------------------------------

def test_a2_invalid_utf8_byte_is_reported_with_line_and_offset(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "bad-byte.csv",
                        [good_row("A"), good_row("B"), good_row("C"), good_row("D")])
    data = catalog.read_bytes().replace(b"Plain cotton shirt C", b"Plain cotton \xff shirt C")
    catalog.write_bytes(data)
    out = tmp_path / "out"
    report = build_json(catalog, out)
    assert report["catalog"]["read"] == 3 and report["catalog"]["skipped"] == 1
    problem, = catalog_problems(out)
    assert problem["line"] == 4 and problem["file"] == str(catalog)
    offset = data.index(b"\xff")
    assert "byte" in problem["message"] and str(offset) in problem["message"], (
        offset, problem["message"])
    assert sorted(feed_ids(out / "google.xml")) == ["A", "B", "D"]


def test_a2_utf8_bom_header_is_id(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "bom.csv", [good_row("BOM-1"), good_row("BOM-2")])
    catalog.write_bytes(b"\xef\xbb\xbf" + catalog.read_bytes())
    out = tmp_path / "out"
    report = build_json(catalog, out)
    assert report["catalog"]["read"] == 2 and report["catalog"]["skipped"] == 0
    assert feed_ids(out / "google.xml") == ["BOM-1", "BOM-2"]
    assert report["channels"]["google"]["issues"] == {}


def test_a2_latin1_with_encoding_option(tmp_path: Path) -> None:
    catalog = tmp_path / "latin1.csv"
    with catalog.open("w", newline="", encoding="latin-1") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerow(good_row("L1", title="Café crème bowl", brand="Müller"))
    config = write_config(tmp_path / "feedsync.yaml", "catalog: {encoding: latin-1}\n")
    out = tmp_path / "out"
    build_json(catalog, out, "--config", config)
    item = feed_items(out / "google.xml")["L1"]
    assert item.findtext(G + "title") == "Café crème bowl"
    assert item.findtext(G + "brand") == "Müller"


# --- A3 characters XML cannot carry --------------------------------------------------

ILLEGAL = {"nul": "\x00", "soh": "\x01", "bs": "\x08", "so": "\x0e", "esc": "\x1b",
           "fffe": "\ufffe", "ffff": "\uffff"}
# Python's str.split() counts these as whitespace, so the title's single_line filter turns
# them into a space before any check runs: they never reach a writer.
WHITESPACE_CONTROLS = {"vt": "\x0b", "ff": "\x0c", "fs": "\x1c", "us": "\x1f"}


def test_a3_illegal_characters_are_cleaned_and_reported(tmp_path: Path) -> None:
    rows = [good_row(f"CTL-{name}", title=f"Mug{char} with lid") for name, char in ILLEGAL.items()]
    # a lone surrogate can only arrive through a JSON escape (write_jsonl writes "\ud800")
    rows.append(good_row("SURROGATE", title="Mug\ud800 with lid"))
    catalog = write_jsonl(tmp_path / "ctl.jsonl", [good_row("CLEAN"), *rows])
    assert "\\ud800" in catalog.read_text(encoding="utf-8")
    out = tmp_path / "out"
    report = build_json(catalog, out, "--config", xml_tsv_config(tmp_path))
    items = feed_items(out / "google.xml")  # parses
    affected = [f"CTL-{name}" for name in ILLEGAL] + ["SURROGATE"]
    issues = read_issues(out / "google.issues.jsonl")
    for product_id in affected:
        assert items[product_id].findtext(G + "title") == "Mug with lid", product_id
        found = [i for i in issues_for(issues, product_id) if i["code"] == "invalid-xml-char"]
        assert len(found) == 1 and found[0]["field"] == "title", (product_id, found)
    assert report["channels"]["google"]["written"] == len(affected) + 1
    assert report["channels"]["google"]["issues"]["invalid-xml-char"] == len(affected)
    tsv = {row[0]: row for row in read_tsv(out / "google.tsv")[1:]}
    assert all(tsv[p][1] == "Mug with lid" for p in affected)


def test_a3_whitespace_controls_in_titles_and_descriptions(tmp_path: Path) -> None:
    rows = [good_row(f"WS-{name}", title=f"Mug{char}with lid", description=f"Deep{char}bowl")
            for name, char in WHITESPACE_CONTROLS.items()]
    out = tmp_path / "out"
    build_json(write_jsonl(tmp_path / "ws.jsonl", rows), out)
    items = feed_items(out / "google.xml")
    issues = read_issues(out / "google.issues.jsonl")
    for name, char in WHITESPACE_CONTROLS.items():
        item = items[f"WS-{name}"]
        assert item.findtext(G + "title") == "Mug with lid"  # single_line: a space
        description = item.findtext(G + "description")
        cleaned = [i["field"] for i in issues_for(issues, f"WS-{name}")
                   if i["code"] == "invalid-xml-char"]
        if description == "Deep bowl":  # plain_text collapses VT and FF as spaces
            assert char in "\x0b\x0c" and cleaned == []
        else:  # the other controls are removed from the description and reported
            assert description == "Deepbowl" and cleaned == ["description"]


# --- A4 private-use characters -------------------------------------------------------

def test_a4_private_use_in_title_is_an_error_in_description_a_warning(tmp_path: Path) -> None:
    catalog = write_csv(tmp_path / "pua.csv", [
        good_row("PUA-TITLE", title="Mug \ue000 deluxe"),
        good_row("PUA-DESC", description="Holds tea \uf8ff nicely"),
        good_row("PLAIN"),
    ])
    out = tmp_path / "out"
    report = build_json(catalog, out)
    items = feed_items(out / "google.xml")
    assert "PUA-TITLE" not in items and set(items) == {"PUA-DESC", "PLAIN"}
    assert items["PUA-DESC"].findtext(G + "description") == "Holds tea \uf8ff nicely"
    issues = read_issues(out / "google.issues.jsonl")
    title, = issues_for(issues, "PUA-TITLE")
    assert (title["code"], title["severity"], title["field"]) == ("private-use-char", "error",
                                                                  "title")
    assert title["source"] == "https://support.google.com/merchants/answer/160079"
    desc, = issues_for(issues, "PUA-DESC")
    assert (desc["code"], desc["severity"], desc["field"]) == ("private-use-char", "warning",
                                                               "description")
    assert report["channels"]["google"]["rejected"] == 1


# --- A5 duplicate ids ----------------------------------------------------------------

def test_a5_duplicate_id_first_wins_and_both_lines_are_named(tmp_path: Path) -> None:
    rows = [good_row(f"R{i}") for i in range(8)]
    rows[1] = good_row("DUP", title="First DUP")     # line 3
    rows[5] = good_row("DUP", title="Second DUP")    # line 7
    out = tmp_path / "out"
    report = build_json(write_csv(tmp_path / "dup.csv", rows), out)
    assert feed_ids(out / "google.xml").count("DUP") == 1
    assert feed_items(out / "google.xml")["DUP"].findtext(G + "title") == "First DUP"
    dup, = issues_for(read_issues(out / "google.issues.jsonl"), "DUP")
    assert dup["code"] == "duplicate-id" and dup["line"] == 7 and "line 3" in dup["message"]
    assert report["channels"]["google"]["rejected"] == 1
    assert report["channels"]["google"]["written"] == 7


# --- A7 truncated JSON, broken JSONL line --------------------------------------------

def test_a7_json_cut_mid_object_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    previous_feed(out)
    before = snapshot(out)
    text = json.dumps([good_row("J1"), good_row("J2"), good_row("J3")], indent=1)
    catalog = tmp_path / "cut.json"
    catalog.write_text(text[: text.index('"J3"') + 10], encoding="utf-8")
    code, stdout, stderr = invoke_cli("build", catalog, "--channel", "google", "--out", out)
    assert code == ExitCode.CATALOG, stderr
    line = error_line(stderr)
    last = len(catalog.read_text(encoding="utf-8").splitlines())
    assert f"{catalog}:{last}:" in line and "column" in line  # file, line and column
    assert snapshot(out) == before  # feed and logs byte for byte, no temp files


def test_a7_jsonl_with_one_broken_line(tmp_path: Path) -> None:
    catalog = write_jsonl(tmp_path / "one-bad.jsonl", [good_row(f"L{i}") for i in range(5)])
    lines = catalog.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # line 3 cut in half
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    report = build_json(catalog, out)
    assert report["catalog"]["read"] == 4 and report["catalog"]["skipped"] == 1
    problem, = catalog_problems(out)
    assert problem["line"] == 3 and problem["file"] == str(catalog)
    assert feed_ids(out / "google.xml") == ["L0", "L1", "L3", "L4"]


# --- A10 any text through the google xml and tsv writers -----------------------------

_XML_ILLEGAL = {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"} | {"\ufffe", "\uffff"}


def _clean(text: str) -> str:
    return "".join(c for c in text if c not in _XML_ILLEGAL and not 0xD800 <= ord(c) <= 0xDFFF)


_TEXT = st.text(st.characters(blacklist_categories=()), max_size=60) | st.sampled_from([
    "a,b\tc\nd", 'say "hi"', "5 < 6 & 7 > 3", "<b>bold</b> &amp; co", "line\r\nbreak",
    "=SUM(A1)", "  padded  ", "\u2028sep\u2029", "tab\tinside"])
_CONFIG = parse_config({"defaults": {"currency": "USD"},
                        "channels": {"google": {"outputs": ["xml", "tsv"]}}})


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(title=_TEXT, description=_TEXT, brand=_TEXT)
def test_a10_any_text_is_written_intact_or_rejected_with_a_field(
        title: str, description: str, brand: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        row = good_row("HYPO", title=title, description=description, brand=brand)
        catalog = write_jsonl(folder / "c.jsonl", [row, good_row("ANCHOR")])
        report = feedsync.build(catalog, ["google"], folder / "out", _CONFIG)
        google = report.channels[0]
        assert google.written + google.rejected == 2
        items = feed_items(folder / "out" / "google.xml")
        tsv = read_tsv(folder / "out" / "google.tsv")
        header = tsv[0]
        assert all(len(r) == len(header) for r in tsv), "TSV column count changed"
        assert "ANCHOR" in items
        if "HYPO" in items:
            expected = {"title": _clean(single_line(plain_text(title))),
                        "description": _clean(plain_text(description)),
                        "brand": _clean(single_line(brand))}
            row_tsv = next(r for r in tsv[1:] if r[0] == "HYPO")
            for field, value in expected.items():
                assert (items["HYPO"].findtext(G + field) or "") == value, field
                # Google's TSV is one item per line (`one_line: true`)
                assert row_tsv[header.index(field)] == re.sub(r"[\t\r\n]+", " ", value), field
            assert (folder / "out" / "google.tsv").read_text(encoding="utf-8").count("\n") == 3
        else:
            errors = [i for i in read_issues(folder / "out" / "google.issues.jsonl")
                      if i["product_id"] == "HYPO" and i["severity"] == "error"]
            assert errors and all(i["field"] for i in errors), errors


# --- A11 bad numbers -----------------------------------------------------------------

BAD_PRICES = {"COMMA": "1,99", "NAN": "NaN", "INF": "inf", "HUGE": "1e309", "NEGZERO": "-0",
              "EMPTY": "", "MINUS-INF": "-Infinity"}


def test_a11_bad_numbers_are_field_errors_and_never_reach_the_feed(tmp_path: Path) -> None:
    rows = [good_row(f"P-{name}", price=price) for name, price in BAD_PRICES.items()]
    rows.append(good_row("NO-CURRENCY", currency=""))
    rows.append(good_row("SALE-NAN", sale_price="NaN"))
    rows.append(good_row("OK", price="12.5"))
    out = tmp_path / "out"
    report = build_json(write_csv(tmp_path / "prices.csv", rows), out,
                        "--config", xml_tsv_config(tmp_path))
    items = feed_items(out / "google.xml")
    assert set(items) == {"OK"}
    assert items["OK"].findtext(G + "price") == "12.50 USD"
    issues = read_issues(out / "google.issues.jsonl")
    for row in rows[:-1]:
        errors = {(i["code"], i["field"]) for i in issues_for(issues, row["id"])
                  if i["severity"] == "error"}
        assert errors & {("bad-money", "price"), ("missing-required", "price"),
                         ("bad-money", "sale_price")}, (row["id"], errors)
    assert report["channels"]["google"]["rejected"] == len(rows) - 1
    text = (out / "google.xml").read_text(encoding="utf-8").lower()
    assert "nan" not in text and "inf" not in text
    for item in parse_feed(out / "google.xml").getroot().iter("item"):
        for price in item.iter(G + "price"):
            assert price.text and price.text.strip()
    tsv_text = (out / "google.tsv").read_text(encoding="utf-8").lower()
    assert "nan" not in tsv_text and "\tinf" not in tsv_text


# --- A12 arbitrary bytes as catalogs -------------------------------------------------

@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000) | st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([b"id,title,price\n", b"[{\"id\": ", b"{\"id\": \"1\"}\n",
                     b"<?xml version=\"1.0\"?><rss><channel><item>", b"\xef\xbb\xbfid\t",
                     b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>"]),
    st.binary(max_size=300)),
       suffix=st.sampled_from([".csv", ".tsv", ".json", ".jsonl", ".xml", ".txt"]))
def test_a12_arbitrary_bytes_raise_only_feedsync_errors(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        catalog = Path(work) / f"catalog{suffix}"
        catalog.write_bytes(data)
        try:
            report = feedsync.build(catalog, ["google"], Path(work) / "out")
        except FeedsyncError as exc:
            assert exc.exit_code in (ExitCode.CATALOG, ExitCode.USAGE), exc
            assert str(exc)
        else:
            read = report.products_read
            assert all(c.written + c.rejected == read for c in report.channels)


# --- B1 SIGKILL mid-write; B2 SIGTERM / SIGINT; B8 TMPDIR -----------------------------

@pytest.fixture(scope="module")
def big_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # ~1.4 KB a product: the feed's 1 MiB write buffer fills after ~700 products, so a
    # temp file with bytes in it proves the kill lands mid-write.
    return gen_catalog(tmp_path_factory.mktemp("big") / "big.csv", 30000)


def _start_build(catalog: Path, out: Path, env: dict[str, str] | None = None,
                 *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(cli_command("build", catalog, "--channel", "google", "--out", out,
                                        *extra),
                            env=cli_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_temp_with_bytes(out: Path, process: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for temp in temp_files(out):
            try:
                if temp.name.startswith(".feedsync-google.xml.") and temp.stat().st_size > 0:
                    return temp
            except FileNotFoundError:
                continue
        assert process.poll() is None, "the build ended before a temp file was seen"
        time.sleep(0.002)
    process.kill()
    raise AssertionError("no temp file with bytes appeared")


def _other_filesystem_dir(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(dir=shm, prefix="feedsync-tmpdir-"))
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    return folder


def test_b1_sigkill_mid_write_then_the_next_build_cleans_up(
        tmp_path: Path, big_catalog: Path) -> None:
    out = tmp_path / "out"
    previous = previous_feed(out)
    before = set(os.listdir(out))
    tmpdir = _other_filesystem_dir(tmp_path)
    try:
        process = _start_build(big_catalog, out, {"TMPDIR": str(tmpdir)})
        temp = _wait_for_temp_with_bytes(out, process)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        # B8: the temp file lives beside the target, never in TMPDIR
        assert temp.parent == out and list(tmpdir.iterdir()) == []
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    assert sha256(out / "google.xml") == previous
    new = set(os.listdir(out)) - before
    assert new and all(name.startswith(".feedsync-") and name.endswith(".tmp") for name in new)
    assert all(f".{process.pid}." in name for name in new)
    # the next run removes the leftovers (and only them) and succeeds
    (out / "keep.me").write_text("user file")
    code, _, stderr = invoke_cli("build", EXAMPLES, "--channel", "google", "--out", out)
    assert code == ExitCode.OK, stderr
    assert temp_files(out) == []
    assert (out / "keep.me").read_text() == "user file"
    assert sha256(out / "google.xml") == previous  # same catalog, same feed


@pytest.mark.parametrize("jobs", ["1", "2"])  # serial, and the parallel workers
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, ExitCode.TERMINATED),
                                       (signal.SIGINT, ExitCode.INTERRUPTED)])
def test_b2_sigterm_and_sigint_mid_build(tmp_path: Path, big_catalog: Path,
                                         sig: signal.Signals, code: ExitCode, jobs: str) -> None:
    out = tmp_path / "out"
    previous = previous_feed(out)
    before = snapshot(out)
    process = _start_build(big_catalog, out, None, "--jobs", jobs)
    _wait_for_temp_with_bytes(out, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert temp_files(out) == [], stderr
    assert snapshot(out) == before and sha256(out / "google.xml") == previous
    assert stderr.strip(), "the interruption is explained on stderr"


# --- B3 disk full / file too large ---------------------------------------------------

def _userns_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def medium_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # ~3 MB of feed: more than the 1 MiB write buffer, so the disk fills mid-loop too
    return gen_catalog(tmp_path_factory.mktemp("medium") / "medium.csv", 2000)


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # ~100 KB of feed: fits the write buffer, so the disk fills at the final flush
    return gen_catalog(tmp_path_factory.mktemp("small") / "small.csv", 80)


@pytest.mark.parametrize("size", ["small", "medium"])
def test_b3_no_space_left_on_a_64k_tmpfs(tmp_path: Path, size: str, request: Any) -> None:
    if not _userns_works():
        pytest.skip("user namespaces are refused here; the RLIMIT_FSIZE variant below runs")
    catalog = request.getfixturevalue(f"{size}_catalog")
    seed = tmp_path / "seed"
    previous = previous_feed(seed)
    out = tmp_path / "out"
    out.mkdir()
    results = tmp_path / "results"
    results.mkdir()
    script = textwrap.dedent("""\
        set -u
        mount -t tmpfs -o size=64k tmpfs "$OUT" || exit 99
        cp "$SEED/google.xml" "$OUT/google.xml"
        "$PY" -m feedsync.cli build "$CATALOG" --channel google --out "$OUT" \\
            >"$RES/stdout" 2>"$RES/stderr"
        echo $? >"$RES/rc"
        ls -A "$OUT" >"$RES/ls"
        cp "$OUT/google.xml" "$RES/google.xml"
    """)
    env = cli_env({"OUT": str(out), "SEED": str(seed), "PY": sys.executable,
                   "CATALOG": str(catalog), "RES": str(results)})
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    stderr = (results / "stderr").read_text()
    assert "Traceback" not in stderr
    code = int((results / "rc").read_text())
    assert code == ExitCode.USAGE, stderr
    line = error_line(stderr)
    assert "no space left" in line and str(out) in line
    assert sha256(results / "google.xml") == previous
    assert not [n for n in (results / "ls").read_text().split() if n.startswith(".feedsync-")]


@pytest.mark.parametrize("size", ["small", "medium"])
def test_b3_file_too_large_under_rlimit_fsize(tmp_path: Path, size: str, request: Any) -> None:
    catalog = request.getfixturevalue(f"{size}_catalog")
    out = tmp_path / "out"
    previous = previous_feed(out)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = subprocess.run(cli_command("build", catalog, "--channel", "google", "--out", out),
                          env=cli_env(), capture_output=True, text=True, timeout=120,
                          preexec_fn=limit)
    assert "Traceback" not in done.stderr
    assert done.returncode == ExitCode.USAGE, done.stderr
    line = error_line(done.stderr)
    assert "file too large" in line and str(out) in line
    assert sha256(out / "google.xml") == previous
    assert temp_files(out) == []


# --- B4 stdout cannot be written -----------------------------------------------------

def test_b4_json_to_dev_full(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run(cli_command("build", EXAMPLES, "--channel", "google", "--out",
                                          tmp_path, "--json"),
                              env=cli_env(), stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    assert done.returncode != ExitCode.OK
    assert done.returncode == ExitCode.USAGE
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "stdout" in lines[0], lines
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


def test_b4_json_into_a_closed_pipe(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written (`| head -c 0`)
    try:
        done = subprocess.run(cli_command("build", EXAMPLES, "--channel", "google", "--out",
                                          tmp_path, "--json"),
                              env=cli_env(), stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert done.returncode == ExitCode.OK
    assert (tmp_path / "google.xml").exists()


def test_b4_json_piped_to_head(tmp_path: Path) -> None:
    builder = subprocess.Popen(cli_command("build", EXAMPLES, "--channel", "google", "--out",
                                           tmp_path, "--json"),
                               env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-c", "10"], stdin=builder.stdout, capture_output=True,
                          timeout=60)
    assert builder.stdout is not None
    builder.stdout.close()
    _, stderr = builder.communicate(timeout=60)
    assert head.stdout == b'{\n  "versi'
    assert b"BrokenPipeError" not in stderr and b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr
    assert builder.returncode == ExitCode.OK


# --- B6 modes ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o644, 0o604])
def test_b6_an_existing_feed_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    previous_feed(tmp_path)
    (tmp_path / "google.xml").chmod(mode)
    code, _, _ = invoke_cli("build", EXAMPLES, "--channel", "google", "--out", tmp_path)
    assert code == ExitCode.OK
    assert (tmp_path / "google.xml").stat().st_mode & 0o777 == mode


def test_b6_a_new_feed_is_not_0600(tmp_path: Path) -> None:
    done = subprocess.run(cli_command("build", EXAMPLES, "--channel", "google", "--out",
                                      tmp_path),
                          env=cli_env(), capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(0o022))
    assert done.returncode == ExitCode.OK, done.stderr
    for name in ("google.xml", "google.issues.jsonl"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


# --- B7 durability order -------------------------------------------------------------

def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_b7_write_fsync_replace_fsync_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        path = _fd_path(fd)
        size = os.fstat(fd).st_size if os.path.isfile(path) else -1
        events.append(("fsync", path, str(size)))
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    feedsync.build(EXAMPLES, ["google"], out)
    monkeypatch.undo()

    target = str(out / "google.xml")
    replaced = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == target]
    assert len(replaced) == 1
    r = replaced[0]
    temp = events[r][1]
    assert Path(temp).parent == out and Path(temp).name.startswith(".feedsync-google.xml.")
    synced = [i for i, e in enumerate(events) if e[:2] == ("fsync", temp)]
    assert synced and synced[-1] < r, events
    # everything was written before the fsync: the synced size is the final size
    assert int(events[synced[-1]][2]) == (out / "google.xml").stat().st_size
    dir_syncs = [i for i, e in enumerate(events) if e[:2] == ("fsync", str(out))]
    assert any(i > r for i in dir_syncs), events


def test_b7_failure_before_replace_unlinks_the_temp(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    feedsync.build(EXAMPLES, ["google"], out)
    before = snapshot(out)
    real_fsync, real_replace = os.fsync, os.replace
    replaced: list[str] = []

    def failing_fsync(fd: int) -> None:
        if os.path.basename(_fd_path(fd)).startswith(".feedsync-google.xml."):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        replaced.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as caught:
        feedsync.build(EXAMPLES, ["google"], out)
    monkeypatch.undo()
    assert str(out / "google.xml") in str(caught.value)
    assert str(out / "google.xml") not in replaced
    assert snapshot(out) == before  # target untouched, every temp file unlinked


def test_b7_atomic_file_exception_before_replace(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"live")
    handle = atomic.AtomicFile(target)
    handle.open().write(b"new content")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match="no space left"):
        handle.commit()
    monkeypatch.undo()
    assert target.read_bytes() == b"live"
    assert temp_files(tmp_path) == []


# --- B8 symlinked target -------------------------------------------------------------

def test_b8_a_symlinked_feed_is_written_through(tmp_path: Path) -> None:
    """With the opt-in: a link out of the output folder is refused by default (issue 15
    item 3, tests/test_hostile_outputs.py)."""
    config = tmp_path / "feedsync.yaml"
    config.write_text("version: 1\nfollow_symlinks_outside_output: true\n")
    www = tmp_path / "www"
    www.mkdir()
    real = www / "products.xml"
    real.write_text("old feed")
    out = tmp_path / "out"
    out.mkdir()
    (out / "google.xml").symlink_to(real)
    code, _, stderr = invoke_cli("build", EXAMPLES, "--config", config, "--channel", "google",
                                 "--out", out)
    assert code == ExitCode.OK, stderr
    assert (out / "google.xml").is_symlink() and os.readlink(out / "google.xml") == str(real)
    assert len(feed_ids(real)) > 0
    assert sorted(p.name for p in www.iterdir()) == ["products.xml"]  # no temp left
    assert temp_files(out) == []


# --- D4 a reader during rewrites -----------------------------------------------------

READER = r"""
import hashlib, os, sys
from lxml import etree
target, stop = sys.argv[1], sys.argv[2]
seen, reads = set(), 0
while not os.path.exists(stop):
    with open(target, "rb") as handle:
        data = handle.read()
    etree.fromstring(data)  # raises on a partial file
    seen.add(hashlib.sha256(data).hexdigest())
    reads += 1
print(reads, " ".join(sorted(seen)))
"""


def test_d4_a_reader_never_sees_a_partial_feed(tmp_path: Path) -> None:
    versions = [write_csv(tmp_path / f"v{n}.csv", [good_row(f"V{n}-{i}") for i in range(60)])
                for n in (1, 2)]
    out = tmp_path / "out"
    hashes = []
    for version in versions:
        feedsync.build(version, ["google"], tmp_path / f"expected-{version.stem}")
        hashes.append(sha256(tmp_path / f"expected-{version.stem}" / "google.xml"))
    assert hashes[0] != hashes[1]
    feedsync.build(versions[0], ["google"], out)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out / "google.xml"),
                               str(stop)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        for n in range(20):
            feedsync.build(versions[(n + 1) % 2], ["google"], out)
    finally:
        stop.touch()
        stdout, stderr = reader.communicate(timeout=60)
    assert reader.returncode == 0, stderr
    reads, *seen = stdout.split()
    assert int(reads) > 0
    assert set(seen) <= set(hashes), "a reader saw a feed that is neither version"


# --- D6 stale temp cleanup is conservative -------------------------------------------

def test_d6_only_a_dead_runs_temp_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [out / "google.xml.bak", out / ".in.google.xml",
                out / f".feedsync-google.xml.{live.pid}.a1b2c3.tmp",
                out / f".feedsync-google.xml.{os.getpid()}.d4e5f6.tmp"]
        for path in keep:
            path.write_text("keep")
        stale = out / f".feedsync-google.xml.{dead.pid}.z9y8x7.tmp"
        stale.write_text("stale")
        code, _, stderr = invoke_cli("build", EXAMPLES, "--channel", "google", "--out", out)
        assert code == ExitCode.OK, stderr
        assert not stale.exists()
        for path in keep:
            assert path.read_text() == "keep", path
    finally:
        live.kill()
        live.wait()


# --- E1 template-looking product text ------------------------------------------------

TEMPLATE_TITLES = ["{{ 7*7 }}", "{% for x in range(9**9) %}", "{{ self.__init__.__globals__ }}"]


def test_e1_template_syntax_in_data_is_written_literally(tmp_path: Path) -> None:
    rows = [good_row(f"E1-{i}", title=f"Mug {title}", description=title)
            for i, title in enumerate(TEMPLATE_TITLES)]
    out = tmp_path / "out"
    report = build_json(write_csv(tmp_path / "e1.csv", rows), out, "--config",
                        xml_tsv_config(tmp_path))
    assert report["channels"]["google"]["written"] == len(rows)
    items = feed_items(out / "google.xml")
    tsv = {row[0]: row for row in read_tsv(out / "google.tsv")[1:]}
    for i, title in enumerate(TEMPLATE_TITLES):
        assert items[f"E1-{i}"].findtext(G + "title") == f"Mug {title}"
        assert items[f"E1-{i}"].findtext(G + "description") == title
        assert tsv[f"E1-{i}"][1] == f"Mug {title}"
    assert "49" not in (out / "google.xml").read_text(encoding="utf-8")


# --- E4 formula-like values in the channel TSV ---------------------------------------

FORMULAS = {"HYPERLINK": '=HYPERLINK("http://x")', "PLUS": "+1", "MINUS": "-2",
            "AT": "@SUM(A1)"}


def test_e4_formulas_are_kept_exactly_and_warned(tmp_path: Path) -> None:
    rows = [good_row(f"F-{name}", title=value) for name, value in FORMULAS.items()]
    rows.append(good_row("F-TAB", title="\t=1+1 tab-led"))
    rows.append(good_row("F-MPN", mpn="=cmd|' /C calc'!A0"))
    out = tmp_path / "out"
    build_json(write_csv(tmp_path / "e4.csv", rows), out, "--config", xml_tsv_config(tmp_path))
    tsv = read_tsv(out / "google.tsv")
    header = tsv[0]
    by_id = {row[0]: row for row in tsv[1:]}
    issues = read_issues(out / "google.issues.jsonl")
    for name, value in FORMULAS.items():
        assert by_id[f"F-{name}"][header.index("title")] == value
        warned = [i for i in issues_for(issues, f"F-{name}") if i["code"] == "formula-like-value"]
        assert len(warned) == 1 and warned[0]["field"] == "title"
        assert warned[0]["severity"] == "warning"
    # the google template trims titles (single_line): the tab goes, the formula stays
    assert by_id["F-TAB"][header.index("title")] == "=1+1 tab-led"
    assert [i["field"] for i in issues_for(issues, "F-TAB")
            if i["code"] == "formula-like-value"] == ["title"]
    assert by_id["F-MPN"][header.index("mpn")] == "=cmd|' /C calc'!A0"
    assert [i["field"] for i in issues_for(issues, "F-MPN")
            if i["code"] == "formula-like-value"] == ["mpn"]


def test_e4_no_formula_warnings_for_an_xml_only_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build_json(write_csv(tmp_path / "e4.csv", [good_row("F", title="=1+1")]), out)
    assert "formula-like-value" not in report["channels"]["google"]["issues"]


# --- the library raises, never exits -------------------------------------------------

def test_library_build_raises_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        feedsync.build(tmp_path / "missing.csv", ["google"], tmp_path / "out")
    assert caught.value.exit_code is ExitCode.CATALOG

