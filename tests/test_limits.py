"""A channel folder's ``limits:`` applied by every writer (feedsync/writers/split.py).

Small limits in test channel folders (extending the shipped ones) force splits in RSS,
TSV, CSV and JSON Lines outputs; a channel that takes one file refuses with the limit and
its source; parts are atomic as a set; stale parts of a bigger run go; a parallel build
writes the same parts as a serial one; push uploads every part to a local folder. Amazon's
documents split at its own limits in tests/test_channels_amazon.py.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsync.config import Config, parse_config
from feedsync.errors import ExitCode, OutputError
from feedsync.listings import history
from feedsync.pipeline import build
from feedsync.push import push
from feedsync.writers.split import part_path
from tests.fixtures.push.pushkit import make_site
from tests.helpers import good_row, invoke_cli, snapshot, temp_files, write_csv
from tests.servers.sshd import Sshd

SOURCE = "https://example.com/channel/limits"


def _channel(root: Path, name: str, parent: str, limits: dict[str, Any]) -> Path:
    folder = root / "templates" / name
    folder.mkdir(parents=True, exist_ok=True)
    entries = {key: {"value": value, "source": SOURCE} for key, value in limits.items()}
    (folder / "channel.yaml").write_text(
        f"extends: {parent}\nname: {name}\n" + "limits: " + json.dumps(entries) + "\n",
        encoding="utf-8")
    return root / "templates"


def _config(templates: Path, jobs: int = 1, **channels: Any) -> Config:
    """Each channel's files named after it (the folders extend google and meta)."""
    for name, settings in channels.items():
        settings.setdefault("files", {out: f"{name}.{out}" for out in ("xml", "tsv", "csv")})
    config = parse_config({"channels": channels})
    return dataclasses.replace(config, jobs=jobs, template_dirs=(templates,))


def _catalog(root: Path, count: int) -> Path:
    return write_csv(root / f"catalog-{count}.csv",
                     [good_row(f"P-{n:03d}") for n in range(1, count + 1)])


def _rss_ids(path: Path) -> list[str]:
    tree = etree.parse(str(path))
    return [str(e.text) for e in tree.iter("{http://base.google.com/ns/1.0}id")]


def _rows(path: Path, delimiter: str) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_an_item_limit_splits_rss_and_tsv_into_numbered_parts(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 3, "several_files": True})
    out = tmp_path / "out"
    report = build(_catalog(tmp_path, 7), ["gsmall"], out,
                   _config(templates, gsmall={"outputs": ["xml", "tsv"]}))
    parts = report.channels[0].parts
    xml = [Path(p["file"]) for p in parts["xml"]]
    assert [p.name for p in xml] == ["gsmall.xml", "gsmall-0002.xml", "gsmall-0003.xml"]
    ids = [_rss_ids(p) for p in xml]   # each part is a whole RSS document
    assert [len(i) for i in ids] == [3, 3, 1]
    assert sum(ids, []) == [f"P-{n:03d}" for n in range(1, 8)]
    tsv = [Path(p["file"]) for p in parts["tsv"]]
    assert [p.name for p in tsv] == ["gsmall.tsv", "gsmall-0002.tsv", "gsmall-0003.tsv"]
    tables = [_rows(p, "\t") for p in tsv]
    assert all(table[0] == tables[0][0] for table in tables)  # each with its header
    assert [len(t) - 1 for t in tables] == [3, 3, 1]
    for part in parts["xml"] + parts["tsv"]:
        data = Path(part["file"]).read_bytes()
        assert part["bytes"] == len(data)
        assert part["sha256"] == hashlib.sha256(data).hexdigest()
    assert [p["items"] for p in parts["xml"]] == [3, 3, 1]
    assert report.to_dict()["channels"]["gsmall"]["parts"]["tsv"][2]["items"] == 1


def test_a_byte_limit_splits_csv_and_keeps_each_part_under_it(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "msmall", "meta",
                         {"bytes_per_feed_file": 2500, "several_files": True})
    out = tmp_path / "out"
    report = build(_catalog(tmp_path, 12), ["msmall"], out, _config(templates, msmall={}))
    paths = [Path(p["file"]) for p in report.channels[0].parts["csv"]]
    assert len(paths) >= 2 and paths[0].name == "msmall.csv"
    rows: list[list[str]] = []
    for path in paths:
        assert path.stat().st_size <= 2500
        rows += _rows(path, ",")[1:]
    assert len(rows) == report.channels[0].written == 12


def test_a_channel_that_takes_one_file_refuses_and_replaces_nothing(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gone", "google", {"items_per_feed_file": 3})
    out = tmp_path / "out"
    build(_catalog(tmp_path, 3), ["gone"], out, _config(templates, gone={}))
    before = snapshot(out)
    with pytest.raises(OutputError) as caught:
        build(_catalog(tmp_path, 4), ["gone"], out, _config(templates, gone={}))
    message = caught.value.message
    assert "more than 3 items" in message and "items_per_feed_file" in message
    assert SOURCE in message and "gone.xml" in message
    assert caught.value.exit_code == ExitCode.USAGE
    assert snapshot(out) == before and temp_files(out) == []


def test_a_failed_run_leaves_the_last_good_set_and_no_temp_parts(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    _channel(tmp_path, "gone", "google", {"items_per_feed_file": 4})
    out = tmp_path / "out"
    build(_catalog(tmp_path, 4), ["gsmall", "gone"], out, _config(templates, gsmall={}, gone={}))
    before = snapshot(out)
    assert (out / "gsmall-0002.xml").is_file()
    # gsmall would now write 3 parts, but gone refuses: nothing of the run may land.
    with pytest.raises(OutputError):
        build(_catalog(tmp_path, 6), ["gsmall", "gone"], out,
              _config(templates, gsmall={}, gone={}))
    assert snapshot(out) == before and temp_files(out) == []
    assert not (out / "gsmall-0003.xml").exists()


def test_parts_of_a_bigger_run_are_removed_after_a_smaller_one(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    out = tmp_path / "out"
    build(_catalog(tmp_path, 5), ["gsmall"], out, _config(templates, gsmall={}))
    assert sorted(p.name for p in out.glob("gsmall*.xml")) == [
        "gsmall-0002.xml", "gsmall-0003.xml", "gsmall.xml"]
    build(_catalog(tmp_path, 3), ["gsmall"], out, _config(templates, gsmall={}))
    assert sorted(p.name for p in out.glob("gsmall*.xml")) == ["gsmall-0002.xml",
                                                               "gsmall.xml"]
    assert sum((_rss_ids(p) for p in (out / "gsmall.xml", out / "gsmall-0002.xml")),
               []) == ["P-001", "P-002", "P-003"]


def test_parallel_build_writes_the_same_parts_as_serial(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "jsmall", "google",
                         {"items_per_feed_file": 150, "several_files": True})
    _channel(tmp_path, "msmall", "meta", {"bytes_per_feed_file": 30000, "several_files": True})
    catalog = _catalog(tmp_path, 1000)
    files = []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        build(catalog, ["jsmall", "msmall"], out, _config(
            templates, jobs, jsmall={"outputs": ["xml", "tsv"]}, msmall={}))
        files.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert len([n for n in files[0] if n.startswith("jsmall-")]) == 12  # 7 parts each
    assert len([n for n in files[0] if n.startswith("msmall-")]) >= 2
    assert files[0] == files[1]


def test_part_names_keep_the_first_file_and_number_the_rest() -> None:
    assert part_path(Path("out/google.xml"), 1) == Path("out/google.xml")
    assert part_path(Path("out/google.xml"), 2) == Path("out/google-0002.xml")
    assert part_path(Path("out/feed.txt.gz"), 12) == Path("out/feed-0012.txt.gz")


def test_push_uploads_every_part_to_a_local_folder(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    live = tmp_path / "live"
    live.mkdir()
    config = _config(templates, gsmall={"destinations": [{"url": f"file://{live}/"}]})
    report = push(_catalog(tmp_path, 5), ["gsmall"], config, state_dir=tmp_path / "state")
    assert report.exit_code == 0, report.messages
    assert sorted(p.name for p in live.iterdir()) == [
        "gsmall-0002.xml", "gsmall-0003.xml", "gsmall.xml"]
    assert [d.status for d in report.deliveries] == ["published"] * 3
    ids = sum((_rss_ids(live / n) for n in ("gsmall.xml", "gsmall-0002.xml",
                                            "gsmall-0003.xml")), [])
    assert ids == [f"P-{n:03d}" for n in range(1, 6)]
    local = tmp_path / "local"
    build(_catalog(tmp_path, 5), ["gsmall"], local, _config(templates, gsmall={}))
    for name in ("gsmall.xml", "gsmall-0002.xml", "gsmall-0003.xml"):
        assert (live / name).read_bytes() == (local / name).read_bytes()
    run = history(state_dir=tmp_path / "state").runs[0]   # history keeps the parts
    assert run.summary is not None
    parts = run.summary["channels"]["gsmall"]["parts"]["xml"]
    assert [(p["file"], p["items"]) for p in parts] == [
        ("gsmall.xml", 2), ("gsmall-0002.xml", 2), ("gsmall-0003.xml", 1)]
    assert parts[2]["sha256"] == hashlib.sha256((live / "gsmall-0003.xml").read_bytes()
                                                ).hexdigest()


def test_push_names_remote_parts_a_smaller_set_leaves_behind(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    live = tmp_path / "live"
    live.mkdir()
    config = _config(templates, gsmall={"destinations": [{"url": f"file://{live}/"}]})
    push(_catalog(tmp_path, 5), ["gsmall"], config, state_dir=tmp_path / "state")
    report = push(_catalog(tmp_path, 2), ["gsmall"], config, state_dir=tmp_path / "state",
                  force=True)   # the gate would refuse a shrink from 5 to 2 products
    assert [d.status for d in report.deliveries] == ["published"]
    assert _rss_ids(live / "gsmall.xml") == ["P-001", "P-002"]
    stale = [m for m in report.messages if "earlier, bigger feed" in m]
    assert [m.split(" is a part")[0].rsplit("/", 1)[1] for m in stale] == [
        "gsmall-0002.xml", "gsmall-0003.xml"]


def test_the_cli_names_each_part(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    config = tmp_path / "feedsync.yaml"
    config.write_text(f"template_dirs: [{templates}]\nchannels:\n  gsmall:\n"
                      "    files: {xml: gsmall.xml}\n", encoding="utf-8")
    code, stdout, stderr = invoke_cli("build", _catalog(tmp_path, 3), "--config", config,
                                      "--out", tmp_path / "out")
    assert code == 0, stderr
    assert "gsmall xml: 2 parts, gsmall.xml (2 items), gsmall-0002.xml (1 items)" in stdout


def test_push_uploads_every_part_over_sftp(tmp_path: Path, sshd: Sshd, sftp_dir: Path) -> None:
    """Against a real OpenSSH sshd on 127.0.0.1 (skipped where sshd is missing)."""
    templates = _channel(tmp_path, "gsmall", "google",
                         {"items_per_feed_file": 2, "several_files": True})
    site = make_site(tmp_path, sshd, sftp_dir)
    destination = {"url": site.sftp_url, **site.sftp_options}
    config = _config(templates, gsmall={"destinations": [destination]})
    report = push(_catalog(tmp_path, 5), ["gsmall"], config, state_dir=tmp_path / "state")
    assert report.exit_code == 0, report.messages
    names = ["gsmall.xml", "gsmall-0002.xml", "gsmall-0003.xml"]
    assert sorted(p.name for p in sftp_dir.iterdir()) == sorted(names)
    local = tmp_path / "local"
    build(_catalog(tmp_path, 5), ["gsmall"], local, _config(templates, gsmall={}))
    for name in names:
        assert (sftp_dir / name).read_bytes() == (local / name).read_bytes()


def test_finished_parts_are_written_out_and_closed_at_once(tmp_path: Path) -> None:
    """A finished part holds no write buffer while later parts are written (a 1M-product
    Amazon feed has 239 parts, and an open 1 MB buffer each made memory grow with the
    catalog); the set is still committed, or dropped, as one."""
    from feedsync.fileio import AtomicFile
    from feedsync.writers.base import Column, Layout
    from feedsync.writers.jsonl import JsonLinesWriter
    from feedsync.writers.split import FileLimits, SplitWriter

    layout = Layout(columns=(Column(name="id", header="id"),))
    path = tmp_path / "feed.jsonl"
    writer = SplitWriter(JsonLinesWriter(layout),
                         FileLimits("test", items=2, items_source=SOURCE, several=True), path)
    first = AtomicFile(path)
    writer.start(first.open())
    for n in range(7):
        writer.write({"id": f"P-{n}"})
        finished = writer.files[:-1]
        assert all(f.handle is None for f in finished)          # sealed: no buffer held
        assert all(f.temp_path is not None and f.temp_path.exists() for f in finished)
    writer.finish()
    assert len(writer.files) == 3 and writer.files[-1].handle is not None
    assert not (tmp_path / "feed-0002.jsonl").exists()          # nothing visible yet
    for atomic in [first, *writer.files]:
        atomic.commit()
    lines = [json.loads(line)["id"] for n in range(1, 5)
             for line in part_path(path, n).read_text().splitlines()]
    assert lines == [f"P-{n}" for n in range(7)]
    assert temp_files(tmp_path) == []


def test_a_sealed_part_is_dropped_by_abort(tmp_path: Path) -> None:
    from feedsync.fileio import AtomicFile

    atomic = AtomicFile(tmp_path / "part.csv")
    atomic.open().write(b"a,b\n")
    atomic.seal()
    assert atomic.handle is None and atomic.temp_path is not None
    atomic.abort()
    assert list(tmp_path.iterdir()) == []
