"""``feedsync push`` end to end: real CLI subprocess, a local folder and a real OpenSSH sshd.

Catalogue items (../shared/reliability.md): A6 (empty, header-only and shrunken catalogs
against a last good feed), the rejected-products gate, B9 (damaged state refused, never
read as a first publish), unchanged feeds not re-uploaded, --dry-run, --force, history and
rollback. Every test asserts the exit code by name and that no traceback was printed
(``pushkit.run`` checks stdout and stderr of every command).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedsync.errors import ExitCode
from feedsync.state import StateError
from tests.fixtures.push.pushkit import (
    Result,
    Site,
    build_feed,
    deliveries,
    feedsync_temps,
    make_site,
    sha256,
    snapshot,
    state_rows,
    statuses,
    write_catalog,
)
from tests.fixtures.push.pushkit import run as run_cli
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.timeout(240)

N = 20  # items in the last good feed


@pytest.fixture()
def site(tmp_path: Path, sshd: Sshd, sftp_dir: Path) -> Site:
    """channel google -> a local folder and an SFTP folder on the real sshd."""
    site = make_site(tmp_path, sshd, sftp_dir)
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


# --- happy path -----------------------------------------------------------------------------


def test_push_to_file_and_sftp_matches_a_local_build(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    result = site.push(v1)
    assert result.exit is ExitCode.OK, str(result)
    assert_published_everywhere(site, expected(site, v1))
    assert f"-> {site.file_url}google.xml: published" in result.stdout
    assert site.sftp_dir is not None
    assert f"{site.sftp_dir}/google.xml: published" in result.stdout
    # The staging folder of the run is gone; the kept copy for rollback is there.
    assert list((site.state / "staging").iterdir()) == []
    kept = list((site.state / "feeds" / "google").iterdir())
    assert [sha256(k) for k in kept] == [expected(site, v1)]

    text = site.history()
    assert text.exit is ExitCode.OK, str(text)
    assert " push " in text.stdout and " ok " in text.stdout
    runs = site.runs()
    assert len(runs) == 1
    run = runs[0]
    assert (run["command"], run["status"], run["exit_code"]) == ("push", "ok", 0)
    assert run["summary"]["products"] == N
    assert sorted(d["status"] for d in run["summary"]["deliveries"]) == ["published"] * 2


def test_json_report_of_a_push(site: Site) -> None:
    v1 = catalog(site, "v1.csv", rejected=2)
    result = site.push(v1, "--json")
    assert result.exit is ExitCode.OK, str(result)
    report = result.json()
    assert report["exit_code"] == ExitCode.OK
    assert report["catalog"]["read"] == N + 2
    assert report["channels"]["google"]["written"] == N
    assert report["channels"]["google"]["rejected"] == 2
    found = deliveries(result)
    assert len(found) == 2
    digest = expected(site, v1)
    for delivery in found:
        assert delivery["status"] == "published"
        assert (delivery["items"], delivery["rejected"], delivery["sha256"]) == (N, 2, digest)
        assert delivery["receipt"]["bytes"] == site.live_files()[0].stat().st_size
        assert delivery["last_good"] is None  # first publish
    methods = {d["destination"].split(":")[0]: d["receipt"]["method"] for d in found}
    assert methods == {"file": "local-replace", "sftp": "posix-rename"}


def test_unchanged_feed_is_not_uploaded_again_unless_forced(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    assert site.push(v1).exit is ExitCode.OK
    before = {p: p.stat().st_ino for p in site.live_files()}

    again = site.push(v1, "--json", "--log-format", "json")
    assert again.exit is ExitCode.OK, str(again)
    assert set(statuses(again).values()) == {"unchanged"}
    assert {p: p.stat().st_ino for p in site.live_files()} == before  # not replaced
    messages = [e["message"] for e in again.log_lines()]
    assert sum("unchanged, not uploaded" in m for m in messages) == 2
    assert not any(m.startswith("uploading") for m in messages)

    forced = site.push(v1, "--force", "--json")
    assert forced.exit is ExitCode.OK, str(forced)
    assert set(statuses(forced).values()) == {"published"}
    after = {p: p.stat().st_ino for p in site.live_files()}
    assert all(after[p] != before[p] for p in after), "--force must upload again"
    assert_published_everywhere(site, expected(site, v1))
    assert [r["status"] for r in site.runs()] == ["ok", "ok", "ok"]


def test_dry_run_touches_nothing_remote(site: Site) -> None:
    v1, v2 = catalog(site, "v1.csv"), catalog(site, "v2.csv", version="v2")
    assert site.push(v1).exit is ExitCode.OK
    assert site.sftp_dir is not None
    remote = [site.file_dir, site.sftp_dir]
    before = [snapshot(d) for d in remote]

    dry = site.push(v2, "--dry-run", "--log-format", "json")
    assert dry.exit is ExitCode.OK, str(dry)
    assert [snapshot(d) for d in remote] == before
    for destination in (f"{site.file_url}google.xml", f"{site.sftp_url}google.xml"):
        assert f"-> {destination}: dry-run" in dry.stdout
        assert any(e["message"] == f"dry run: would upload google.xml ({N} items) to "
                   f"{destination}" for e in dry.log_lines()), dry.stderr
    assert site.runs()[0]["command"] == "push --dry-run"

    # The dry run recorded no feed: the real push after it publishes v2.
    real = site.push(v2)
    assert real.exit is ExitCode.OK, str(real)
    assert_published_everywhere(site, expected(site, v2))


def test_dry_run_on_a_fresh_state_creates_no_remote_file(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    dry = site.push(v1, "--dry-run", "--json")
    assert dry.exit is ExitCode.OK, str(dry)
    assert set(statuses(dry).values()) == {"dry-run"}
    assert site.live_shas() == [None, None]
    assert site.sftp_dir is not None
    assert list(site.file_dir.iterdir()) == [] and list(site.sftp_dir.iterdir()) == []


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
def test_gate_refuses_an_empty_or_shrunken_feed(site: Site, make: object, new: int) -> None:
    v1 = catalog(site, "v1.csv")
    assert site.push(v1).exit is ExitCode.OK
    live = site.live_shas()
    bad = make(site.root / "bad.csv")  # type: ignore[operator]

    refused = site.push(bad, "--json", "--log-format", "json")
    assert refused.exit is ExitCode.GATE_REFUSED, str(refused)
    assert site.live_shas() == live  # sha256 of both live feeds unchanged
    for delivery in deliveries(refused):
        assert delivery["status"] == "refused"
        assert delivery["last_good"]["items"] == N
        shrink = [r for r in delivery["gate"]["reasons"] if r["code"] == "feed-shrunk"]
        assert len(shrink) == 1, delivery
        assert (shrink[0]["old"], shrink[0]["new"], shrink[0]["limit"]) == (N, new, "20%")
        # The message gives old count, new count and threshold.
        assert f"{new} items against {N} in the last good feed" in delivery["error"]
        assert "more than the 20% allowed" in delivery["error"]
    warnings = [e["message"] for e in refused.log_lines() if e["level"] == "warning"]
    assert sum("gate refused google" in w for w in warnings) == 2, refused.stderr
    assert site.runs()[0]["status"] == "refused"
    assert site.runs()[0]["exit_code"] == ExitCode.GATE_REFUSED

    text = site.push(bad)  # the human report says the same
    assert text.exit is ExitCode.GATE_REFUSED
    assert f"{new} items against {N} in the last good feed" in text.stdout
    assert site.live_shas() == live

    forced = site.push(bad, "--force", "--log-format", "json")
    assert forced.exit is ExitCode.OK, str(forced)
    assert forced.stdout.count("published (gate overridden by --force)") == 2
    overridden = [e for e in forced.log_lines() if "gate overridden by --force" in e["message"]]
    assert len(overridden) == 2 and {e["level"] for e in overridden} == {"warning"}
    assert site.live_shas() != live
    if new:
        assert_published_everywhere(site, expected(site, bad))


def test_drop_within_the_limit_is_published(site: Site) -> None:
    assert site.push(catalog(site, "v1.csv")).exit is ExitCode.OK
    smaller = catalog(site, "v2.csv", count=16, version="v2")  # exactly -20%: allowed
    result = site.push(smaller)
    assert result.exit is ExitCode.OK, str(result)
    assert_published_everywhere(site, expected(site, smaller))


def test_gate_limits_from_the_config_per_channel(site: Site) -> None:
    site.write_config(gate={"max_drop_ratio": 0.5},
                      channels={"google": {"destinations": site.destinations(),
                                           "gate": {"max_drop_ratio": 0.05}}})
    assert site.push(catalog(site, "v1.csv")).exit is ExitCode.OK
    live = site.live_shas()
    result = site.push(catalog(site, "v2.csv", count=18, version="v2"))  # -10%
    assert result.exit is ExitCode.GATE_REFUSED, str(result)
    assert "more than the 5% allowed" in result.stdout
    assert site.live_shas() == live


def test_too_many_rejected_products_are_refused(site: Site) -> None:
    site.write_config(gate={"max_rejected_ratio": 0.5})
    mostly_bad = catalog(site, "bad.csv", count=2, rejected=8)  # 80% rejected
    result = site.push(mostly_bad, "--json")
    assert result.exit is ExitCode.GATE_REFUSED, str(result)
    for delivery in deliveries(result):
        assert delivery["status"] == "refused"
        reasons = {r["code"]: r for r in delivery["gate"]["reasons"]}
        assert set(reasons) == {"too-many-rejected"}
        assert "8 of 10 products rejected (80%), more than the 50% allowed" in (
            reasons["too-many-rejected"]["message"])
    # First publish, refused: nothing was created anywhere.
    assert site.live_shas() == [None, None]
    assert site.sftp_dir is not None
    assert list(site.sftp_dir.iterdir()) == [] and list(site.file_dir.iterdir()) == []
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
def test_damaged_state_is_refused_and_nothing_is_published(site: Site, damage: object) -> None:
    assert site.push(catalog(site, "v1.csv")).exit is ExitCode.OK
    live = site.live_shas()
    db = site.state / "state.sqlite"
    damage(db)  # type: ignore[operator]
    damaged = db.read_bytes()

    # A shrunken catalog: read as "no last good feed" it would sail through the gate.
    for bad in (catalog(site, "v2.csv", count=5, version="v2"),
                catalog(site, "v3.csv", version="v3")):
        result = site.push(bad, "--json")
        assert result.exit is StateError.exit_code, str(result)
        assert result.exit is ExitCode.USAGE
        error = result.json()["error"]
        assert error["file"] == str(db)
        assert "damaged" in error["message"]
        assert str(db) in result.stderr
        assert "Tip:" in result.stderr
        assert site.live_shas() == live, "a damaged state must never publish"
        assert db.read_bytes() == damaged, "the damaged file must be left as it was"
    assert not (site.state / "staging").exists() or list((site.state / "staging").iterdir()) \
        == []


def test_missing_state_with_its_journal_left_is_refused(site: Site) -> None:
    assert site.push(catalog(site, "v1.csv")).exit is ExitCode.OK
    live = site.live_shas()
    db = site.state / "state.sqlite"
    db.rename(site.state / "state.sqlite-journal")  # the database lost, a journal left
    result = site.push(catalog(site, "v2.csv", count=5, version="v2"))
    assert result.exit is ExitCode.USAGE, str(result)
    assert "state.sqlite-journal" in result.stderr
    assert site.live_shas() == live
    assert not db.exists()


# --- history and rollback -------------------------------------------------------------------


def test_rollback_republishes_the_previous_feed(site: Site) -> None:
    v1, v2, v3 = (catalog(site, f"v{i}.csv", version=f"v{i}") for i in (1, 2, 3))
    digests = {name: expected(site, path) for name, path in (("v1", v1), ("v2", v2),
                                                             ("v3", v3))}
    assert site.push(v1).exit is ExitCode.OK
    assert site.push(v2).exit is ExitCode.OK
    assert_published_everywhere(site, digests["v2"])
    run_v1, run_v2 = sorted(r["id"] for r in site.runs())

    back = run("rollback", site, "google")
    assert back.exit is ExitCode.OK, str(back)
    assert f"rolled back google to the feed of run {run_v1} ({N} items)" in back.stdout
    assert_published_everywhere(site, digests["v1"])
    newest = site.runs()[0]
    assert newest["command"] == f"rollback google to run {run_v1}"
    assert (newest["status"], newest["exit_code"]) == ("ok", 0)
    assert f"rollback google to run {run_v1}" in site.history().stdout

    # --run picks a specific run.
    assert site.push(v3).exit is ExitCode.OK
    assert_published_everywhere(site, digests["v3"])
    chosen = run("rollback", site, "google", "--run", str(run_v2), "--json")
    assert chosen.exit is ExitCode.OK, str(chosen)
    assert chosen.json()["rollback"] == {"channel": "google", "from_run": run_v2,
                                         "sha256": digests["v2"], "items": N}
    assert_published_everywhere(site, digests["v2"])

    # After a rollback the gate compares with the rolled-back feed, and the next push of
    # the current catalog publishes it again.
    again = site.push(v3, "--json")
    assert again.exit is ExitCode.OK, str(again)
    assert set(statuses(again).values()) == {"published"}
    assert_published_everywhere(site, digests["v3"])


def test_rollback_to_an_unknown_run_is_a_usage_error(site: Site) -> None:
    assert site.push(catalog(site, "v1.csv")).exit is ExitCode.OK
    live = site.live_shas()
    result = run("rollback", site, "google", "--run", "999")
    assert result.exit is ExitCode.USAGE, str(result)
    assert "no kept good feed of 'google' from run 999" in result.stderr
    nothing_earlier = run("rollback", site, "google")
    assert nothing_earlier.exit is ExitCode.USAGE, str(nothing_earlier)
    assert "no earlier good feed" in nothing_earlier.stderr
    assert site.live_shas() == live


def test_history_without_runs_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("history", "--state", tmp_path / "nothing-here", cwd=tmp_path)
    assert result.exit is ExitCode.USAGE, str(result)
    assert "no runs recorded" in result.stderr


# --- local helpers --------------------------------------------------------------------------


def run(command: str, site: Site, *args: str) -> Result:
    """``feedsync COMMAND ARGS --config ... --state ...`` for the site."""
    return run_cli(command, *args, "--config", site.config_path, "--state", site.state,
                   cwd=site.root)


def test_history_json_lists_every_run_newest_first(site: Site) -> None:
    v1 = catalog(site, "v1.csv")
    assert site.push(v1).exit is ExitCode.OK
    assert site.push(catalog(site, "e.csv", count=0)).exit is ExitCode.GATE_REFUSED
    assert site.push(v1, "--dry-run").exit is ExitCode.OK
    result = site.history("--json")
    assert result.exit is ExitCode.OK, str(result)
    data = json.loads(result.stdout)
    assert data["version"] == 1
    assert [(r["command"], r["status"], r["exit_code"]) for r in data["runs"]] == [
        ("push --dry-run", "ok", 0), ("push", "refused", ExitCode.GATE_REFUSED),
        ("push", "ok", 0)]
    assert all(r["finished_at"] for r in data["runs"])
    limited = site.history("--json", "--limit", "1")
    assert len(limited.json()["runs"]) == 1
