"""``feedsync push`` end to end on local folders, through the library and the CLI in process.

Catalogue items (../shared/reliability.md): A6 (empty, header-only and shrunken catalogs
against a last good feed), the rejected-products gate, B9 (damaged state refused, never
read as a first publish), unchanged feeds not re-uploaded, --dry-run, --force, history and
rollback. Two ``file://`` folders stand for two destinations: nothing here needs a server.
The same push to SFTP against OpenSSH is the last test (skipped where sshd is missing).
Exit codes are asserted by name; the CLI runs in process (``invoke``), which asserts that
no traceback was printed. Subprocesses, signals and kill -9 are in test_push_faults.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import ConfigError, ExitCode
from feedsync.state import StateError
from tests.fixtures.push.pushkit import (
    Site,
    build_feed,
    feedsync_temps,
    invoke,
    make_site,
    sha256,
    snapshot,
    state_rows,
    write_catalog,
)
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.timeout(240)

N = 20  # items in the last good feed


@pytest.fixture()
def site(tmp_path: Path) -> Site:
    """channel google -> two local folders."""
    site = make_site(tmp_path, mirror=True)
    site.write_config()
    return site


def catalog(site: Site, name: str, count: int = N, version: str = "v1", **kw: int) -> Path:
    return write_catalog(site.root / name, count, version, **kw)


def expected(site: Site, catalog_path: Path) -> str:
    """sha256 of what a local ``feedsync build`` of ``catalog_path`` produces."""
    out = site.root / f"build-{catalog_path.stem}"
    return sha256(build_feed(catalog_path, out))


def assert_published_everywhere(site: Site, digest: str) -> None:
    assert site.live_shas() == [digest] * len(site.live_files())
    for live in site.live_files():
        assert feedsync_temps(live.parent) == [], f"temp files left beside {live}"


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {d["destination"]: d["status"] for d in report["deliveries"]}


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("feedsync") and r.levelno >= level]


# --- happy path -----------------------------------------------------------------------------


def test_push_to_two_folders_matches_a_local_build(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    result = site.invoke("push", v1)
    assert result.exit is ExitCode.OK, str(result)
    assert_published_everywhere(site, expected(site, v1))
    for live in site.live_files():
        assert f"-> file://{live}: published" in result.stdout
    # The staging folder of the run is gone; the kept copy for rollback is there.
    assert list((site.state / "staging").iterdir()) == []
    kept = list((site.state / "feeds" / "google").iterdir())
    assert [sha256(k) for k in kept] == [expected(site, v1)]

    text = site.history()
    assert text.exit is ExitCode.OK, str(text)
    assert " push " in text.stdout and " ok " in text.stdout
    [run] = site.runs()
    assert (run["command"], run["status"], run["exit_code"]) == ("push", "ok", 0)
    assert run["summary"]["products"] == N
    assert sorted(d["status"] for d in run["summary"]["deliveries"]) == ["published"] * 2


def test_json_report_of_a_push(site: Site) -> None:
    v1 = catalog(site, "v1.csv", rejected=2)
    report = site.push_library(v1)
    assert report["exit_code"] == ExitCode.OK
    assert report["catalog"]["read"] == N + 2
    assert report["channels"]["google"]["written"] == N
    assert report["channels"]["google"]["rejected"] == 2
    found = report["deliveries"]
    assert len(found) == 2
    digest = expected(site, v1)
    for delivery in found:
        assert delivery["status"] == "published"
        assert (delivery["items"], delivery["rejected"], delivery["sha256"]) == (N, 2, digest)
        assert delivery["receipt"]["bytes"] == site.live_files()[0].stat().st_size
        assert delivery["receipt"]["method"] == "local-replace"
        assert delivery["last_good"] is None  # first publish
    # The CLI's --json is the same report (its own run: its own issue log).
    again = site.invoke("push", v1, "--json", "--force").json()
    assert again["exit_code"] == ExitCode.OK
    counts = ("written", "rejected", "warnings", "issues")
    assert [again["channels"]["google"][k] for k in counts] == [
        report["channels"]["google"][k] for k in counts]
    assert [d["sha256"] for d in again["deliveries"]] == [digest, digest]


def test_unchanged_feed_is_not_uploaded_again_unless_forced(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedsync")
    v1 = catalog(site, "v1.csv")
    assert site.push_library(v1)["exit_code"] == ExitCode.OK
    before = {p: p.stat().st_ino for p in site.live_files()}

    caplog.clear()
    again = site.push_library(v1)
    assert again["exit_code"] == ExitCode.OK
    assert set(statuses(again).values()) == {"unchanged"}
    assert {p: p.stat().st_ino for p in site.live_files()} == before  # not replaced
    logged = messages(caplog)
    assert sum("unchanged, not uploaded" in m for m in logged) == 2, logged
    assert not any(m.startswith("uploading") for m in logged)

    forced = site.push_library(v1, force=True)
    assert forced["exit_code"] == ExitCode.OK
    assert set(statuses(forced).values()) == {"published"}
    after = {p: p.stat().st_ino for p in site.live_files()}
    assert all(after[p] != before[p] for p in after), "--force must upload again"
    assert_published_everywhere(site, expected(site, v1))
    assert [r["status"] for r in site.runs()] == ["ok", "ok", "ok"]


def test_dry_run_touches_nothing_remote(site: Site) -> None:
    v1, v2 = catalog(site, "v1.csv"), catalog(site, "v2.csv", version="v2")
    assert site.push_library(v1)["exit_code"] == ExitCode.OK
    remote = [live.parent for live in site.live_files()]
    before = [snapshot(d) for d in remote]

    dry = site.invoke("push", v2, "--dry-run", "--log-format", "json")
    assert dry.exit is ExitCode.OK, str(dry)
    assert [snapshot(d) for d in remote] == before
    for live in site.live_files():
        destination = f"file://{live}"
        assert f"-> {destination}: dry-run" in dry.stdout
        assert any(e["message"] == f"dry run: would upload google.xml ({N} items) to "
                   f"{destination}" for e in dry.log_lines()), dry.stderr
    assert site.runs()[0]["command"] == "push --dry-run"

    # The dry run recorded no feed: the real push after it publishes v2.
    assert site.push_library(v2)["exit_code"] == ExitCode.OK
    assert_published_everywhere(site, expected(site, v2))


def test_dry_run_on_a_fresh_state_creates_no_remote_file(site: Site) -> None:
    report = site.push_library(catalog(site, "v1.csv"), dry_run=True)
    assert report["exit_code"] == ExitCode.OK
    assert set(statuses(report).values()) == {"dry-run"}
    assert site.live_shas() == [None, None]
    assert all(list(live.parent.iterdir()) == [] for live in site.live_files())


# --- A6: the shrink gate --------------------------------------------------------------------


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _header_only(path: Path) -> Path:
    return write_catalog(path, 0, "v2")


def _shrunk(path: Path) -> Path:
    return write_catalog(path, 9, "v2")  # 20 -> 9: 55% fewer


@pytest.mark.parametrize(("make", "new"), [(_empty, 0), (_header_only, 0), (_shrunk, 9)],
                         ids=["empty", "header-only", "55pct-smaller"])
def test_gate_refuses_an_empty_or_shrunken_feed(site: Site, make: Any, new: int,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedsync")
    v1 = catalog(site, "v1.csv")
    assert site.push_library(v1)["exit_code"] == ExitCode.OK
    live = site.live_shas()
    bad = make(site.root / "bad.csv")

    caplog.clear()
    refused = site.push_library(bad)
    assert refused["exit_code"] == ExitCode.GATE_REFUSED
    assert site.live_shas() == live  # sha256 of both live feeds unchanged
    for delivery in refused["deliveries"]:
        assert delivery["status"] == "refused"
        assert delivery["last_good"]["items"] == N
        shrink = [r for r in delivery["gate"]["reasons"] if r["code"] == "feed-shrunk"]
        assert len(shrink) == 1, delivery
        assert (shrink[0]["old"], shrink[0]["new"], shrink[0]["limit"]) == (N, new, "20%")
        # The message gives old count, new count and threshold.
        assert f"{new} items against {N} in the last good feed" in delivery["error"]
        assert "more than the 20% allowed" in delivery["error"]
    warnings = messages(caplog, logging.WARNING)
    assert sum("gate refused google" in w for w in warnings) == 2, warnings
    assert (site.runs()[0]["status"], site.runs()[0]["exit_code"]) == (
        "refused", ExitCode.GATE_REFUSED)

    text = site.invoke("push", bad)  # the human report says the same
    assert text.exit is ExitCode.GATE_REFUSED
    assert f"{new} items against {N} in the last good feed" in text.stdout
    assert site.live_shas() == live

    forced = site.invoke("push", bad, "--force")
    assert forced.exit is ExitCode.OK, str(forced)
    assert forced.stdout.count("published (gate overridden by --force)") == 2
    assert site.live_shas() != live
    if new:
        assert_published_everywhere(site, expected(site, bad))


def test_drop_within_the_limit_is_published(site: Site) -> None:
    assert site.push_library(catalog(site, "v1.csv"))["exit_code"] == ExitCode.OK
    smaller = catalog(site, "v2.csv", count=16, version="v2")  # exactly -20%: allowed
    assert site.push_library(smaller)["exit_code"] == ExitCode.OK
    assert_published_everywhere(site, expected(site, smaller))


def test_gate_limits_from_the_config_per_channel(site: Site) -> None:
    site.write_config(gate={"max_drop_ratio": 0.5},
                      channels={"google": {"destinations": site.destinations(),
                                           "gate": {"max_drop_ratio": 0.05}}})
    assert site.push_library(catalog(site, "v1.csv"))["exit_code"] == ExitCode.OK
    live = site.live_shas()
    report = site.push_library(catalog(site, "v2.csv", count=18, version="v2"))  # -10%
    assert report["exit_code"] == ExitCode.GATE_REFUSED
    assert all("more than the 5% allowed" in d["error"] for d in report["deliveries"])
    assert site.live_shas() == live


def test_too_many_rejected_products_are_refused(site: Site) -> None:
    site.write_config(gate={"max_rejected_ratio": 0.5})
    mostly_bad = catalog(site, "bad.csv", count=2, rejected=8)  # 80% rejected
    report = site.push_library(mostly_bad)
    assert report["exit_code"] == ExitCode.GATE_REFUSED
    for delivery in report["deliveries"]:
        assert delivery["status"] == "refused"
        reasons = {r["code"]: r for r in delivery["gate"]["reasons"]}
        assert set(reasons) == {"too-many-rejected"}
        assert "8 of 10 products rejected (80%), more than the 50% allowed" in (
            reasons["too-many-rejected"]["message"])
    # First publish, refused: nothing was created anywhere.
    assert site.live_shas() == [None, None]
    assert all(list(live.parent.iterdir()) == [] for live in site.live_files())
    assert state_rows(site.state, "SELECT count(*) FROM feeds") == [(0,)]


# --- B9: a damaged state is refused ---------------------------------------------------------


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _garbage(db: Path) -> None:
    db.write_bytes(b"\x00\xffthis is not sqlite\n" * 500)


def _zero(db: Path) -> None:
    db.write_bytes(b"")


def _torn_page(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # a b-tree page overwritten: the header is still fine
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _garbage, _zero, _torn_page],
                         ids=["truncated", "garbage", "zero-bytes", "torn-page"])
def test_damaged_state_is_refused_and_nothing_is_published(site: Site, damage: Any) -> None:
    assert site.push_library(catalog(site, "v1.csv"))["exit_code"] == ExitCode.OK
    live = site.live_shas()
    db = site.state / "state.sqlite"
    damage(db)
    damaged = db.read_bytes()

    # A shrunken catalog: read as "no last good feed" it would sail through the gate.
    for bad in (catalog(site, "v2.csv", count=5, version="v2"),
                catalog(site, "v3.csv", version="v3")):
        with pytest.raises(StateError) as caught:
            site.push_library(bad)
        assert caught.value.exit_code is ExitCode.USAGE
        assert caught.value.file == str(db)
        assert "damaged" in caught.value.message and caught.value.tip
        assert site.live_shas() == live, "a damaged state must never publish"
        assert db.read_bytes() == damaged, "the damaged file must be left as it was"
    assert not (site.state / "staging").exists() or list((site.state / "staging").iterdir()) \
        == []
    # The CLI says so in one Error: line naming the file, and a Tip:.
    result = site.invoke("push", catalog(site, "v4.csv", version="v4"))
    assert result.exit is ExitCode.USAGE, str(result)
    assert str(db) in result.stderr and "Tip:" in result.stderr


def test_missing_state_with_its_journal_left_is_refused(site: Site) -> None:
    assert site.push_library(catalog(site, "v1.csv"))["exit_code"] == ExitCode.OK
    live = site.live_shas()
    db = site.state / "state.sqlite"
    db.rename(site.state / "state.sqlite-journal")  # the database lost, a journal left
    with pytest.raises(StateError) as caught:
        site.push_library(catalog(site, "v2.csv", count=5, version="v2"))
    assert caught.value.exit_code is ExitCode.USAGE
    assert "state.sqlite-journal" in str(caught.value)
    assert site.live_shas() == live
    assert not db.exists()


# --- history and rollback -------------------------------------------------------------------


def test_rollback_republishes_the_previous_feed(site: Site) -> None:
    v1, v2, v3 = (catalog(site, f"v{i}.csv", version=f"v{i}") for i in (1, 2, 3))
    digests = {name: expected(site, path) for name, path in (("v1", v1), ("v2", v2),
                                                             ("v3", v3))}
    assert site.push_library(v1)["exit_code"] == ExitCode.OK
    assert site.push_library(v2)["exit_code"] == ExitCode.OK
    assert_published_everywhere(site, digests["v2"])
    run_v1, run_v2 = sorted(r["id"] for r in site.runs())

    back = site.invoke("rollback", "google")
    assert back.exit is ExitCode.OK, str(back)
    assert f"rolled back google to the feed of run {run_v1} ({N} items)" in back.stdout
    assert_published_everywhere(site, digests["v1"])
    newest = site.runs()[0]
    assert newest["command"] == f"rollback google to run {run_v1}"
    assert (newest["status"], newest["exit_code"]) == ("ok", 0)
    assert f"rollback google to run {run_v1}" in site.history().stdout

    # A chosen run.
    assert site.push_library(v3)["exit_code"] == ExitCode.OK
    assert_published_everywhere(site, digests["v3"])
    chosen = site.rollback_library("google", run_v2)
    assert chosen["exit_code"] == ExitCode.OK
    assert chosen["rollback"] == {"channel": "google", "from_run": run_v2,
                                  "sha256": digests["v2"], "items": N}
    assert_published_everywhere(site, digests["v2"])

    # After a rollback the gate compares with the rolled-back feed, and the next push of
    # the current catalog publishes it again.
    again = site.push_library(v3)
    assert again["exit_code"] == ExitCode.OK
    assert set(statuses(again).values()) == {"published"}
    assert_published_everywhere(site, digests["v3"])


def test_rollback_to_an_unknown_run_is_a_usage_error(site: Site) -> None:
    assert site.push_library(catalog(site, "v1.csv"))["exit_code"] == ExitCode.OK
    live = site.live_shas()
    with pytest.raises(ConfigError) as unknown:
        site.rollback_library("google", 999)
    assert unknown.value.exit_code is ExitCode.USAGE
    assert "no kept good feed of 'google' from run 999" in unknown.value.message
    with pytest.raises(ConfigError) as nothing_earlier:
        site.rollback_library("google")
    assert "no earlier good feed" in nothing_earlier.value.message
    assert site.live_shas() == live
    result = site.invoke("rollback", "google", "--run", "999")  # the CLI's exit code
    assert result.exit is ExitCode.USAGE, str(result)
    assert "no kept good feed of 'google' from run 999" in result.stderr


def test_history_without_runs_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("history", "--state", tmp_path / "nothing-here", cwd=tmp_path)
    assert result.exit is ExitCode.USAGE, str(result)
    assert "no runs recorded" in result.stderr


def test_history_json_lists_every_run_newest_first(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    assert site.push_library(v1)["exit_code"] == ExitCode.OK
    assert site.push_library(catalog(site, "e.csv", count=0))["exit_code"] == \
        ExitCode.GATE_REFUSED
    assert site.push_library(v1, dry_run=True)["exit_code"] == ExitCode.OK
    result = site.history("--json")
    assert result.exit is ExitCode.OK, str(result)
    data = result.json()
    assert data["version"] == 1
    assert [(r["command"], r["status"], r["exit_code"]) for r in data["runs"]] == [
        ("push --dry-run", "ok", 0), ("push", "refused", ExitCode.GATE_REFUSED),
        ("push", "ok", 0)]
    assert all(r["finished_at"] for r in data["runs"])
    limited = site.history("--json", "--limit", "1")
    assert len(limited.json()["runs"]) == 1


# --- the same push to SFTP against OpenSSH --------------------------------------------------


def test_push_to_sftp_matches_a_local_build(tmp_path: Path, sshd: Sshd, sftp_dir: Path) -> None:
    site = make_site(tmp_path, sshd, sftp_dir)
    site.write_config()
    v1 = catalog(site, "v1.csv")
    report = site.push_library(v1)
    assert report["exit_code"] == ExitCode.OK
    assert_published_everywhere(site, expected(site, v1))
    methods = {d["destination"].split(":")[0]: d["receipt"]["method"]
               for d in report["deliveries"]}
    assert methods == {"file": "local-replace", "sftp": "posix-rename"}
    again = site.push_library(v1)  # unchanged on both: state knows the SFTP copy too
    assert set(statuses(again).values()) == {"unchanged"}
