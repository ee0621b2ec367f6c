"""Golden files: every channel folder over examples/catalog.csv, every output, byte for byte.

Adding a channel means adding its folder and its golden files (DESIGN.md). To create or
refresh them, run

    FEEDSYNC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py -k <channel>

then read tests/golden/<channel>/ by eye before committing: the test only proves the
output did not change, the reading proves it is right.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from feedsync.channels.loader import ChannelLibrary
from feedsync.errors import ExitCode
from tests.helpers import EXAMPLES, REPO, read_issues, run_cli, write_config

GOLDEN = Path(__file__).resolve().parent / "golden"
ISSUES_FILE = "issues.txt"
# Optional: channel settings (YAML mapping, e.g. `options:`) merged into the golden build.
CONFIG_FILE = "golden-config.yaml"
UPDATE = os.environ.get("FEEDSYNC_UPDATE_GOLDEN") == "1"
HOW_TO = ("run `FEEDSYNC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py -k {name}`, "
          "read tests/golden/{name}/ by eye, and commit it")


def _issue_summary(log: Path) -> str:
    """One sorted line per finding: product id, code, field (no paths, no messages)."""
    lines = sorted(f"{i['product_id']} {i['code']} {i['field']}" for i in read_issues(log))
    return "".join(line + "\n" for line in lines)


def _build(name: str, tmp_path: Path) -> dict[str, bytes]:
    spec = ChannelLibrary().load(name)
    outputs = list(spec.outputs)
    settings: dict[str, object] = {"outputs": outputs}
    extra = GOLDEN / name / CONFIG_FILE
    if extra.is_file():  # e.g. Amazon's seller id: channel settings the build needs
        settings.update(yaml.safe_load(extra.read_text(encoding="utf-8")) or {})
    stock = settings.get("stock")
    if isinstance(stock, dict) and not Path(stock["path"]).is_absolute():
        stock["path"] = str(REPO / stock["path"])  # golden settings name repo paths
    config = write_config(tmp_path / "feedsync.yaml", json.dumps(
        {"channels": {name: settings}}))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("build", EXAMPLES, "--config", config, "--out", out,
                                   "--json")
    assert code == ExitCode.OK, stderr
    report = json.loads(stdout)["channels"][name]
    assert sorted(report["files"]) == sorted(outputs)
    produced = {Path(path).name: Path(path).read_bytes() for path in report["files"].values()}
    produced[ISSUES_FILE] = _issue_summary(Path(report["issue_log"])).encode("utf-8")
    return produced


@pytest.mark.parametrize("name", sorted(ChannelLibrary().available()))
def test_channel_matches_its_golden_files(name: str, tmp_path: Path) -> None:
    folder = GOLDEN / name
    if not UPDATE and not folder.is_dir():
        pytest.fail(f"channel {name!r} has no golden files in {folder}: "
                    + HOW_TO.format(name=name) + f" (settings the build needs, such as "
                    f"options, go in tests/golden/{name}/{CONFIG_FILE})")
    produced = _build(name, tmp_path)
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            if stale.name not in produced and stale.name != CONFIG_FILE:
                stale.unlink()
        for file_name, data in produced.items():
            (folder / file_name).write_bytes(data)
        return
    expected = {p.name: p.read_bytes() for p in folder.iterdir()
                if p.is_file() and p.name != CONFIG_FILE}
    assert sorted(expected) == sorted(produced), (
        f"golden files of {name!r} do not match its outputs; " + HOW_TO.format(name=name))
    for file_name, data in produced.items():
        if data != expected[file_name]:
            new = data.decode("utf-8", "replace").splitlines()
            old = expected[file_name].decode("utf-8", "replace").splitlines()
            first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                         min(len(old), len(new)))
            pytest.fail(
                f"{name}/{file_name} differs from its golden file at line {first + 1}:\n"
                f"  golden:   {old[first] if first < len(old) else '<end>'}\n"
                f"  produced: {new[first] if first < len(new) else '<end>'}\n"
                "If the change is intended, " + HOW_TO.format(name=name))


def test_every_golden_folder_belongs_to_a_channel() -> None:
    channels = set(ChannelLibrary().available())
    folders = {p.name for p in GOLDEN.iterdir() if p.is_dir()} if GOLDEN.is_dir() else set()
    assert folders <= channels, f"golden folders without a channel: {folders - channels}"
