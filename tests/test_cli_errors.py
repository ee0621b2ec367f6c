"""User mistakes through the real CLI: one clear ``Error:`` line, the documented exit code
by name, never a traceback (reliability.md A, B5, E2, E5, E7, E8). The CLI runs in process
(Typer's CliRunner); the read-only directory needs a subprocess in a user namespace.

Fixture files in tests/fixtures/cli/ are named after the failure they trigger.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from tests.helpers import (
    EXAMPLES,
    FIXTURES,
    cli_env,
    error_line,
    invoke_cli,
    snapshot,
    tip_line,
)


def fail(*args: str | Path, code: ExitCode, cwd: Path | None = None) -> tuple[str, str, str]:
    """Run the CLI, expect ``code``; return (the Error: line, stderr, stdout)."""
    exit_code, stdout, stderr = invoke_cli(*args, cwd=cwd)
    assert exit_code == code, (ExitCode(exit_code) if exit_code in set(ExitCode) else exit_code,
                               stdout, stderr)
    return error_line(stderr), stderr, stdout


def fixture(name: str) -> Path:
    path = FIXTURES / name
    assert path.exists(), path
    return path


# --- the catalog ---------------------------------------------------------------------

def test_missing_catalog(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    line, _, _ = fail("build", missing, "--channel", "google", "--out", tmp_path / "out",
                      code=ExitCode.CATALOG)
    assert str(missing) in line


def test_catalog_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "catalog.csv"
    folder.mkdir()
    line, _, _ = fail("build", folder, "--channel", "google", "--out", tmp_path / "out",
                      code=ExitCode.CATALOG)
    assert str(folder) in line


@pytest.mark.parametrize("name", ["empty.csv", "header-only.csv"])
def test_catalog_without_products(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    line, _, _ = fail("build", fixture(name), "--channel", "google", "--out", out,
                      code=ExitCode.CATALOG)
    assert name in line and "holds no products" in line
    assert not (out / "google.xml").exists()


@pytest.mark.parametrize("name", ["binary-png-header.csv", "random-bytes.csv"])
def test_binary_catalog(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    line, _, _ = fail("build", fixture(name), "--channel", "google", "--out", out,
                      code=ExitCode.CATALOG)
    assert name in line
    assert not (out / "google.xml").exists()


def test_latin1_catalog_read_as_utf8(tmp_path: Path) -> None:
    """Line 3 holds Latin-1 bytes (``Café``): that row is reported with its line and byte
    offset and skipped; the other rows are written (README: rows the reader could not
    use go to catalog.issues.jsonl)."""
    out = tmp_path / "out"
    code, stdout, stderr = invoke_cli("build", fixture("latin1-encoding.csv"), "--channel",
                                      "google", "--out", out, "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)
    assert report["catalog"]["read"] == 2 and report["catalog"]["skipped"] == 1
    example, = report["catalog"]["examples"]
    assert example["line"] == 3 and example["file"].endswith("latin1-encoding.csv")
    assert example["code"] == "row-undecodable" and example["product_id"] == "LAT-2"
    offset = fixture("latin1-encoding.csv").read_bytes().index(b"\xe9")
    assert f"byte offset {offset}" in example["message"] and "encoding" in example["message"]
    logged = [json.loads(x) for x in (out / "catalog.issues.jsonl").read_text().splitlines()]
    assert [(i["line"], i["code"]) for i in logged] == [(3, "row-undecodable")]
    assert "Error:" not in stderr
    repo = Path(__file__).resolve().parents[1]
    assert "`row-undecodable`" in (repo / "docs" / "issue-codes.md").read_text(encoding="utf-8")
    assert "catalog.issues.jsonl" in (repo / "README.md").read_text(encoding="utf-8")


# --- channels and templates ----------------------------------------------------------

def test_unknown_channel_lists_the_channels(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--channel", "gogle", "--out", tmp_path,
                           code=ExitCode.USAGE)
    assert "'gogle'" in line
    assert "google" in tip_line(stderr)


def test_no_channel_selected_without_config(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--out", tmp_path, code=ExitCode.USAGE)
    assert "no channel selected" in line
    assert "--channel" in tip_line(stderr)


def test_no_catalog_and_no_config(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", "--channel", "google", cwd=tmp_path, code=ExitCode.USAGE)
    assert "no catalog given" in line
    assert "catalog.path" in tip_line(stderr)
    assert list(tmp_path.iterdir()) == []  # not even ./out was created


def test_broken_jinja_syntax_in_a_template(tmp_path: Path) -> None:
    line, _, _ = fail("build", EXAMPLES, "--config", fixture("template-broken-jinja-syntax.yaml"),
                      "--out", tmp_path, code=ExitCode.TEMPLATE)
    assert "broken-jinja-syntax/channel.yaml" in line and "fields.title" in line


def test_template_with_a_missing_filter(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--config", fixture("template-missing-filter.yaml"),
                           "--out", tmp_path, code=ExitCode.TEMPLATE)
    assert "missing-filter/channel.yaml" in line and "'no_such_filter'" in line
    assert "plain_text" in tip_line(stderr)


def test_template_with_an_undefined_variable_fails_before_reading_the_catalog(
        tmp_path: Path) -> None:
    # The catalog does not exist: a TEMPLATE exit proves the template was checked first (A9).
    line, _, _ = fail("build", tmp_path / "missing.csv", "--config",
                      fixture("template-undefined-variable.yaml"), "--out", tmp_path / "out",
                      code=ExitCode.TEMPLATE)
    assert "undefined-variable/channel.yaml" in line and "'produkt'" in line


def test_template_rule_without_source(tmp_path: Path) -> None:
    line, _, _ = fail("build", tmp_path / "missing.csv", "--config",
                      fixture("template-rule-without-source.yaml"), "--out", tmp_path,
                      code=ExitCode.TEMPLATE)
    assert "rule-without-source/channel.yaml" in line
    assert "fields.title.rules[0].source" in line


@pytest.mark.parametrize("name", ["sandbox-mro", "sandbox-str-class", "sandbox-attr-filter",
                                  "sandbox-format"])
def test_sandbox_escape_in_a_template_is_a_security_refusal(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    line, _, _ = fail("build", EXAMPLES, "--config", fixture(f"template-{name}.yaml"),
                      "--out", out, code=ExitCode.SECURITY)
    assert f"{name}/channel.yaml" in line and "sandbox" in line
    assert not out.exists() or not list(out.glob("*.csv"))  # no feed was written


# --- the config file -----------------------------------------------------------------

def test_config_file_missing(tmp_path: Path) -> None:
    line, _, _ = fail("build", EXAMPLES, "--config", tmp_path / "feedsync.yaml",
                      code=ExitCode.USAGE)
    assert str(tmp_path / "feedsync.yaml") in line and "not found" in line


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    line, _, _ = fail("build", EXAMPLES, "--config", fixture("bad-yaml-syntax.yaml"),
                      code=ExitCode.USAGE)
    assert "bad-yaml-syntax.yaml:" in line
    number = int(line.split("bad-yaml-syntax.yaml:")[1].split(",")[0].split(":")[0])
    assert number in (4, 5)  # the unclosed list opens on 4; the parser notices on 5


def test_unknown_config_key_suggests(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--config", fixture("unknown-config-key.yaml"),
                           code=ExitCode.USAGE)
    assert "unknown-config-key.yaml" in line and "'ouput_dir'" in line
    assert "did you mean 'output_dir'?" in tip_line(stderr)


def test_yaml_norway_trap_asks_for_quotes(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--config", fixture("yaml-norway-trap.yaml"),
                           code=ExitCode.USAGE)
    assert "'defaults.country'" in line and "boolean" in line
    assert "quote" in tip_line(stderr)


def test_duplicate_config_key_names_both_lines(tmp_path: Path) -> None:
    line, _, _ = fail("build", EXAMPLES, "--config", fixture("duplicate-config-key.yaml"),
                      code=ExitCode.USAGE)
    assert "'output_dir'" in line and "line 2" in line and "line 6" in line


def test_python_yaml_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    config = tmp_path / "python-tag.yaml"
    shutil.copy(fixture("python-tag.yaml"), config)
    line, _, _ = fail("build", EXAMPLES, "--config", config, "--out", tmp_path / "out",
                      cwd=tmp_path, code=ExitCode.USAGE)
    assert "python-tag.yaml:3" in line and "python/object" in line
    assert not (tmp_path / "feedsync-canary-E5").exists()
    assert not (tmp_path / "out").exists()


def test_inline_password_is_refused_and_not_echoed(tmp_path: Path) -> None:
    line, stderr, stdout = fail("build", EXAMPLES, "--config", fixture("inline-password.yaml"),
                                "--json", code=ExitCode.USAGE)
    assert "'channels.google.destinations[0].password'" in line and "secret" in line
    assert "password_env" in tip_line(stderr)
    assert "CANARY" not in stderr and "CANARY" not in stdout


def test_unknown_output_name(tmp_path: Path) -> None:
    line, stderr, _ = fail("build", EXAMPLES, "--config", fixture("unknown-output.yaml"),
                           "--out", tmp_path, code=ExitCode.USAGE)
    assert "'nope'" in line and "'channels.google.outputs'" in line
    assert "xml" in tip_line(stderr)


def test_path_traversal_in_an_output_file_name(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    config = work / "feedsync.yaml"
    shutil.copy(fixture("path-traversal-file-name.yaml"), config)
    before = snapshot(tmp_path)
    line, _, _ = fail("build", EXAMPLES, "--config", config, "--out", work / "out",
                      cwd=work, code=ExitCode.USAGE)
    assert "'channels.google.files.xml'" in line and "../../x.xml" in line
    assert snapshot(tmp_path) == before  # nothing written anywhere (E8)


def test_unknown_catalog_format(tmp_path: Path) -> None:
    line, _, _ = fail("build", "--config", fixture("unknown-catalog-format.yaml"), "--out",
                      tmp_path, code=ExitCode.USAGE)
    assert "'catalog.format'" in line and "'xls'" in line


# --- the output directory (B5) -------------------------------------------------------

def test_output_path_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("I am a file")
    line, _, _ = fail("build", EXAMPLES, "--channel", "google", "--out", target,
                      code=ExitCode.USAGE)
    assert str(target) in line and "is a file" in line
    assert target.read_text() == "I am a file"


def test_output_directory_under_a_file_fails_before_reading_the_catalog(tmp_path: Path) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("x")
    # The catalog does not exist: USAGE (not CATALOG) proves the preflight ran first.
    line, _, _ = fail("build", tmp_path / "missing.csv", "--channel", "google", "--out",
                      blocker / "sub", code=ExitCode.USAGE)
    assert str(blocker / "sub") in line


def _read_only_run(out: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        out.chmod(0o555)
        command = [sys.executable, "-m", "feedsync.cli", *map(str, args)]
    else:
        # root writes through chmod 555: mount a read-only tmpfs over the folder instead.
        if shutil.which("unshare") is None:
            pytest.skip("running as root and unshare(1) is missing: no read-only directory")
        probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip("running as root and user namespaces are refused: chmod 555 does "
                        "not stop root, and no read-only mount is possible")
        command = ["unshare", "-rm", "sh", "-c",
                   'mount -t tmpfs -o ro,size=64k tmpfs "$0" && exec "$@"', str(out),
                   sys.executable, "-m", "feedsync.cli", *map(str, args)]
    try:
        return subprocess.run(command, capture_output=True, text=True, env=cli_env(),
                              timeout=60)
    finally:
        out.chmod(0o755)


def test_read_only_output_directory_fails_before_reading_the_catalog(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = _read_only_run(out, "build", tmp_path / "missing.csv", "--channel", "google",
                          "--out", out)
    assert "Traceback" not in done.stderr
    assert done.returncode == ExitCode.USAGE, done.stderr
    line = error_line(done.stderr)
    assert str(out) in line and "not writable" in line


# --- machine output ------------------------------------------------------------------

def test_json_error_object_on_stdout(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    line, _, stdout = fail("build", missing, "--channel", "google", "--out", tmp_path / "o",
                           "--json", code=ExitCode.CATALOG)
    data = json.loads(stdout)
    assert data["version"] == 1
    error = data["error"]
    assert error["exit_code"] == ExitCode.CATALOG
    assert error["error"] == "CatalogError"
    assert error["file"] == str(missing)
    assert error["message"] and error["message"] in line


def test_validate_reports_the_same_errors(tmp_path: Path) -> None:
    line, _, _ = fail("validate", tmp_path / "nope.csv", "--channel", "google",
                      code=ExitCode.CATALOG)
    assert "nope.csv" in line
