"""``feedsync push`` under faults: locks, signals, kill -9, remote failures.

Catalogue items (../shared/reliability.md): D1 (overlapping runs), D2 (lock holder killed),
D3 (lock scope: one lock per state directory), B2 for push (SIGTERM / SIGINT during the
upload), C-level kill -9 of push at random points against file:// and sftp://, C remote
faults through push (unreachable SFTP, HTTP 500, HTTP 401, host key problems (E9), one
destination failing while the others are published, exit code = most serious outcome).

The CLI runs as a real subprocess where the process is the point (locks held by another
process, signals, kill -9) and in process (``Site.invoke``) where it is not; the servers are
real, on 127.0.0.1. Only the SFTP tests against OpenSSH need sshd (skipped without it).
Every test asserts the exit code by name and that no traceback was printed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from feedsync.errors import ExitCode
from tests.fixtures.push.pushkit import (
    Site,
    backdate,
    build_feed,
    deliveries,
    feedsync_temps,
    finish,
    lock_holder_pid,
    make_site,
    sha256,
    snapshot,
    statuses,
    wait_until,
    write_catalog,
)
from tests.servers.fault_proxy import FaultProxy, Faults
from tests.servers.http import Action, HttpServer
from tests.servers.sftp_faults import FaultySftpServer
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.timeout(240)

N = 20
# What the CLI prints when clean-up after a signal overran its grace time (cli.py).
GAVE_UP = "clean-up after the signal took over"


def http_destination(server: HttpServer, **options: Any) -> dict[str, Any]:
    return {"url": server.url("/feeds/"), "timeout": 20, "deadline": 120, "retries": 0,
            "backoff": 0.05, **options}


def slow(seconds: float) -> Action:
    """A reply that takes about ``seconds``: 200 OK, then 1000 body bytes trickled out."""
    return Action(kind="trickle", interval=seconds / 1000)


def versions(site: Site, *names: str, count: int = N) -> dict[str, tuple[Path, str]]:
    """name -> (catalog, sha256 of its local ``feedsync build``)."""
    found = {}
    for name in names:
        path = write_catalog(site.root / f"{name}.csv", count, name)
        found[name] = (path, sha256(build_feed(path, site.root / f"build-{name}")))
    return found


def staging_runs(site: Site) -> list[str]:
    folder = site.state / "staging"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- D1 D2 D3: the run lock -----------------------------------------------------------------


def test_overlapping_push_exits_at_once_with_locked(tmp_path: Path,
                                                     http_server: HttpServer) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server), {"url": site.file_url}]}})
    cat = write_catalog(tmp_path / "v1.csv", N)
    http_server.script = [slow(4)]

    first = site.spawn_push(cat)
    wait_until(lambda: lock_holder_pid(site.state) == first.pid and http_server.requests,
               what="the first push to hold the lock and be uploading", proc=first)
    before = snapshot(site.file_dir)

    second = site.invoke("push", cat, "--json")
    assert first.poll() is None, "the second push must not wait for the first"
    assert second.exit is ExitCode.LOCKED, str(second)
    assert f"(pid {first.pid} since" in second.stderr
    assert second.json()["error"]["error"] == "LockHeld"
    assert f"ps -p {first.pid}" in second.stderr
    assert snapshot(site.file_dir) == before  # it touched nothing
    assert len(http_server.requests) == 1

    done = finish(first)
    assert done.exit is ExitCode.OK, str(done)
    assert len(http_server.requests) == 1
    runs = site.runs()
    assert [(r["command"], r["status"]) for r in runs] == [("push", "ok")]  # exactly one ran
    assert (site.file_dir / "google.xml").exists()


def test_kill_9_of_the_lock_holder_frees_the_lock(tmp_path: Path,
                                                   http_server: HttpServer) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server), {"url": site.file_url}]}})
    cat = write_catalog(tmp_path / "v1.csv", N)
    http_server.script = [slow(100)]  # the first upload hangs; later ones answer at once

    first = site.spawn_push(cat, quiet=True)
    wait_until(lambda: lock_holder_pid(site.state) == first.pid and staging_runs(site)
               and http_server.requests, what="the first push to be uploading", proc=first)
    first.kill()
    first.wait(30)
    assert first.returncode == -signal.SIGKILL
    assert staging_runs(site) == ["1"]  # what kill -9 leaves behind

    second = site.invoke("push", cat, "--json")
    assert second.exit is ExitCode.OK, str(second)
    assert set(statuses(second).values()) == {"published"}
    assert (site.file_dir / "google.xml").exists()
    runs = site.runs()
    assert [(r["id"], r["status"]) for r in runs] == [(2, "ok"), (1, "interrupted")]
    assert staging_runs(site) == [], "the killed run's staging folder must be cleaned up"


def test_pushes_with_different_state_dirs_run_concurrently(tmp_path: Path,
                                                           http_server: HttpServer) -> None:
    sites = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        site = make_site(tmp_path / name)
        site.write_config(channels={"google": {"destinations": [
            http_destination(http_server), {"url": site.file_url}]}})
        sites.append(site)
    http_server.script = [slow(3), slow(3)]
    cat = write_catalog(tmp_path / "v1.csv", N)

    procs = [site.spawn_push(cat) for site in sites]
    # Both are inside their upload at the same time: neither waits for the other's lock.
    wait_until(lambda: len(http_server.requests) == 2, what="both uploads to start")
    assert all(p.poll() is None for p in procs)
    results = [finish(p) for p in procs]
    for site, result in zip(sites, results, strict=True):
        assert result.exit is ExitCode.OK, str(result)
        assert (site.file_dir / "google.xml").exists()
        assert [r["status"] for r in site.runs()] == ["ok"]


def test_two_channels_in_one_state_share_one_lock(tmp_path: Path,
                                                  http_server: HttpServer) -> None:
    """The lock is per state directory, not per channel: a push of another channel that
    uses the same state directory waits for nothing and is refused (docs/push.md)."""
    site = make_site(tmp_path)
    other = tmp_path / "other-live"
    other.mkdir()
    site.write_config(channels={
        "google": {"destinations": [http_destination(http_server)]},
        "google-b": {"template": "google", "destinations": [{"url": f"file://{other}/"}]}})
    cat = write_catalog(tmp_path / "v1.csv", N)
    http_server.script = [slow(4)]
    first = site.spawn_push(cat, "--channel", "google")
    wait_until(lambda: lock_holder_pid(site.state) == first.pid and http_server.requests,
               what="the first push to be uploading", proc=first)
    second = site.invoke("push", cat, "--channel", "google-b")
    assert second.exit is ExitCode.LOCKED, str(second)
    assert list(other.iterdir()) == []
    assert finish(first).exit is ExitCode.OK


# --- B2: SIGTERM / SIGINT during the upload --------------------------------------------------


@pytest.mark.parametrize(("sig", "code", "words"),
                         [(signal.SIGTERM, ExitCode.TERMINATED, "terminated (SIGTERM)"),
                          (signal.SIGINT, ExitCode.INTERRUPTED, "Interrupted")],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_during_upload(tmp_path: Path, http_server: HttpServer, sig: signal.Signals,
                              code: ExitCode, words: str) -> None:
    site = make_site(tmp_path, mirror=True)
    # The slow HTTP upload comes first; the two live feeds after it must stay v1.
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server), *site.destinations()]}})
    found = versions(site, "v1", "v2")
    assert site.invoke("push", found["v1"][0]).exit is ExitCode.OK
    assert site.live_shas() == [found["v1"][1]] * 2
    http_server.script = [slow(100)]
    requests_before = len(http_server.requests)

    proc = site.spawn_push(found["v2"][0])
    wait_until(lambda: len(http_server.requests) > requests_before,
               what="the upload to start", proc=proc)
    proc.send_signal(sig)
    result = finish(proc)
    assert result.exit is code, str(result)
    assert words in result.stderr
    assert GAVE_UP not in result.stderr  # the clean-up finished, the watchdog did not fire
    assert site.live_shas() == [found["v1"][1]] * 2  # live feeds unchanged
    for live in site.live_files():
        assert feedsync_temps(live.parent) == []
    assert staging_runs(site) == []
    newest = site.runs()[0]
    assert (newest["status"], newest["exit_code"]) == ("interrupted", code)

    # The lock was released: the next push gets it and publishes v2 everywhere.
    after = site.invoke("push", found["v2"][0])
    assert after.exit is ExitCode.OK, str(after)
    assert site.live_shas() == [found["v2"][1]] * 2


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, ExitCode.TERMINATED),
                                           (signal.SIGINT, ExitCode.INTERRUPTED)],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_during_a_stalled_sftp_upload(tmp_path: Path, sshd: Sshd, sftp_dir: Path,
                                             sig: signal.Signals, code: ExitCode) -> None:
    """A signal ends a push stuck on a hung SFTP peer promptly (not after the timeouts);
    the remote temp it leaves is feedsync's own and a later publish removes it."""
    proxy = FaultProxy(sshd.port, Faults(stall_after=150_000, faulty=1))
    try:
        known = tmp_path / "known_hosts_proxy"
        known.write_text(sshd.known_hosts_line(proxy.port))
        site = make_site(tmp_path)
        site.sftp_dir = sftp_dir
        site.sftp_url = sshd.url(f"{sftp_dir}/", port=proxy.port)
        # Timeouts of an hour: only the signal can end this push before pytest's timeout.
        site.sftp_options = {"key_file": str(sshd.user_key), "known_hosts": str(known),
                             "timeout": 3600, "deadline": 3600, "retries": 0}
        # SFTP first, then the local folder.
        site.write_config(channels={"google": {"destinations": [
            {"url": site.sftp_url, **site.sftp_options}, {"url": site.file_url}]}})
        live = sftp_dir / "google.xml"
        live.write_bytes(b"<rss>previous feed</rss>\n")
        old = sha256(live)
        big = write_catalog(tmp_path / "big.csv", 600, "big")  # a feed of ~400 KB

        proc = site.spawn_push(big)
        wait_until(lambda: proxy.client_bytes and proxy.client_bytes[0] >= 150_000,
                   what="the upload to stall", proc=proc)
        proc.send_signal(sig)
        result = finish(proc)
        assert result.exit is code, str(result)
        assert GAVE_UP not in result.stderr  # the stalled peer was dropped at once
        assert sha256(live) == old
        assert not (site.file_dir / "google.xml").exists()
        leftovers = feedsync_temps(sftp_dir)
        assert all(n.startswith(".feedsync-google.xml.") and n.endswith(".partial")
                   for n in leftovers), leftovers

        # The next push (the proxy now passes everything) publishes; the leftover is
        # younger than an hour, so it may belong to a live run elsewhere and stays.
        after = site.invoke("push", big)
        assert after.exit is ExitCode.OK, str(after)
        expected = sha256(build_feed(big, tmp_path / "build-big"))
        assert site.live_shas() == [expected, expected]
        assert feedsync_temps(sftp_dir) == leftovers
        # Once older than an hour, the next publish of that file removes it.
        for name in leftovers:
            backdate(sftp_dir / name, 2 * 3600)
        again = site.invoke("push", big, "--force")
        assert again.exit is ExitCode.OK, str(again)
        assert feedsync_temps(sftp_dir) == []
    finally:
        proxy.close()


# --- kill -9 at random points --------------------------------------------------------------


def _wait_for_temp(proc: subprocess.Popen[str], folder: Path) -> None:
    """Return as soon as a feedsync temp file exists in ``folder`` (or the run ended)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if feedsync_temps(folder):
            return
        time.sleep(0.0005)


def _check_complete(site: Site, allowed: set[str], where: str) -> None:
    for live in site.live_files():
        assert live.exists(), f"{live} missing {where}"
        assert sha256(live) in allowed, f"{live} is partial or foreign {where}"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_at_random_points_never_leaves_a_partial_feed(tmp_path: Path, sshd: Sshd,
                                                             sftp_dir: Path) -> None:
    site = make_site(tmp_path, sshd, sftp_dir)
    site.write_config()
    found = versions(site, "v1", "v2", "v3", count=1500)  # feeds of ~650 KB
    allowed = {found["v1"][1], found["v2"][1]}
    assert site.invoke("push", found["v1"][0]).exit is ExitCode.OK
    seed = int(os.environ.get("FEEDSYNC_KILL_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    where = f"(seed {seed}; rerun with FEEDSYNC_KILL_SEED={seed})"

    assert site.sftp_dir is not None
    for round_number in range(12):
        name = ("v2", "v1")[round_number % 2]
        proc = site.spawn_push(found[name][0], quiet=True)
        if round_number % 3 == 0:
            time.sleep(rng.uniform(0.0, 1.5))  # anywhere: start-up, build, upload, record
        else:  # right inside an upload: as soon as its temp file shows up
            _wait_for_temp(proc, (site.file_dir, site.sftp_dir)[round_number % 3 - 1])
            time.sleep(rng.uniform(0.0, 0.005))
        proc.kill()
        proc.wait(30)
        _check_complete(site, allowed, f"after kill round {round_number} {where}")

    # Everything a killed run left behind is feedsync's own temp pattern; make it look
    # old, so the next publish may remove it (a young one might be a live run's).
    for live in site.live_files():
        for name in feedsync_temps(live.parent):
            assert name.startswith(".feedsync-google.xml."), (name, where)
            backdate(live.parent / name, 2 * 3600)

    final = site.invoke("push", found["v3"][0], "--json")
    assert final.exit is ExitCode.OK, f"{final} {where}"
    assert set(statuses(final).values()) == {"published"}, where
    assert site.live_shas() == [found["v3"][1]] * 2, where
    for live in site.live_files():
        assert feedsync_temps(live.parent) == [], f"leftovers beside {live} {where}"
    assert staging_runs(site) == [], where
    assert "running" not in {r["status"] for r in site.runs()}, where


@pytest.mark.slow
def test_killed_between_upload_and_record_the_next_push_does_not_trust_state(
        tmp_path: Path, http_server: HttpServer) -> None:
    """kill -9 after the live file was replaced but before state recorded it.

    The run is made to stop in that window deterministically: another process holds the
    state database's write lock, so recording the feed waits. The next push of the *old*
    catalog must upload it again, not call it "unchanged" against a state that no longer
    describes the live file.
    """
    site = make_site(tmp_path)
    # First an HTTP destination that fails slowly (recording nothing), then the folder.
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server, timeout=3), {"url": site.file_url}]}})
    found = versions(site, "v1", "v2")
    assert site.invoke("push", found["v1"][0]).exit is ExitCode.OK
    live = site.file_dir / "google.xml"
    assert sha256(live) == found["v1"][1]

    http_server.script = [Action(kind="hang")]  # read timeout: fails, records nothing
    holder = None
    proc = site.spawn_push(found["v2"][0], quiet=True)
    try:
        wait_until(lambda: len(http_server.requests) >= 2, what="the HTTP upload", proc=proc)
        holder = sqlite3.connect(site.state / "state.sqlite", isolation_level=None,
                                 timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        wait_until(lambda: live.exists() and sha256(live) == found["v2"][1],
                   what="the local feed to be replaced", proc=proc)
        proc.kill()
        proc.wait(30)
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
    assert sha256(live) == found["v2"][1]

    result = site.invoke("push", found["v1"][0], "--json")
    assert result.exit is ExitCode.OK, str(result)
    assert statuses(result)[f"{site.file_url}google.xml"] == "published", result.stdout
    assert sha256(live) == found["v1"][1]


# --- remote faults through push -------------------------------------------------------------


def test_unreachable_sftp_port_is_retryable(tmp_path: Path, faulty_sftp: FaultySftpServer,
                                            refused_port: int) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        {"url": f"sftp://feed@127.0.0.1:{refused_port}/srv/feeds/",
         **faulty_sftp.options(timeout=5, retries=1, backoff=0.05)}]}})
    result = site.invoke("push", write_catalog(tmp_path / "v1.csv", N), "--json",
                         "--log-format", "json")
    assert result.exit is ExitCode.PUBLISH_RETRYABLE, str(result)
    [delivery] = deliveries(result)
    assert delivery["status"] == "failed"
    assert delivery["exit_code"] == ExitCode.PUBLISH_RETRYABLE
    assert f"cannot connect to 127.0.0.1:{refused_port}" in delivery["error"]
    retries = [e for e in result.log_lines() if "(attempt 1 of 2)" in e["message"]]
    assert len(retries) == 1 and retries[0]["level"] == "warning"
    assert site.runs()[0]["status"] == "failed"


def test_http_500_always_is_retryable_after_the_retries(tmp_path: Path,
                                                        http_server: HttpServer) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server, retries=2)]}})
    http_server.script = [Action(status=500, body=b"upstream broke")] * 3
    cat = write_catalog(tmp_path / "v1.csv", N)
    result = site.invoke("push", cat, "--json")
    assert result.exit is ExitCode.PUBLISH_RETRYABLE, str(result)
    assert len(http_server.requests) == 3
    [delivery] = deliveries(result)
    assert "HTTP 500" in delivery["error"] and "after 3 attempt(s)" in delivery["error"]
    # Every attempt sent the whole feed again, from byte 0.
    assert {r.body_sha256 for r in http_server.requests} == {delivery["sha256"]}
    assert all(r.complete for r in http_server.requests)


def test_http_401_is_fatal_at_once(tmp_path: Path, http_server: HttpServer) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server, retries=3)]}})
    http_server.script = [Action(status=401, body=b"bad token")] * 4
    result = site.invoke("push", write_catalog(tmp_path / "v1.csv", N), "--json")
    assert result.exit is ExitCode.PUBLISH_FATAL, str(result)
    assert len(http_server.requests) == 1  # never retried
    [delivery] = deliveries(result)
    assert "credentials rejected" in delivery["error"] and "HTTP 401" in delivery["error"]


def _wrong_known_hosts(tmp_path: Path, port: int) -> Path:
    """known_hosts naming another key for [127.0.0.1]:port (a changed host key)."""
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh")
    algo, blob = other.decode().split()[:2]
    known = tmp_path / "known_hosts_wrong"
    known.write_text(f"[127.0.0.1]:{port} {algo} {blob}\n")
    return known


@pytest.mark.parametrize("case", ["changed", "unknown"])
def test_host_key_problems_are_a_security_refusal(tmp_path: Path, sshd: Sshd,
                                                  sftp_dir: Path, case: str) -> None:
    if case == "changed":
        known = _wrong_known_hosts(tmp_path, sshd.port)
    else:
        known = tmp_path / "known_hosts_empty"
        known.write_text("")
    known_before = known.read_bytes()
    site = make_site(tmp_path, sshd, sftp_dir, known_hosts=str(known))
    site.write_config()
    live = sftp_dir / "google.xml"
    live.write_bytes(b"<rss>the live feed</rss>\n")
    before = snapshot(sftp_dir)

    result = site.invoke("push", write_catalog(tmp_path / "v1.csv", N), "--json")
    assert result.exit is ExitCode.SECURITY, str(result)
    assert snapshot(sftp_dir) == before  # nothing uploaded
    assert known.read_bytes() == known_before  # known_hosts not modified
    failed = [d for d in deliveries(result) if d["destination"].startswith("sftp:")]
    [delivery] = failed
    assert delivery["exit_code"] == ExitCode.SECURITY
    assert f"[127.0.0.1]:{sshd.port}" in delivery["error"]
    assert "SHA256:" in delivery["error"]
    assert ("CHANGED" in delivery["error"]) is (case == "changed")
    # The local destination of the same channel was still published.
    assert statuses(result)[f"{site.file_url}google.xml"] == "published"


def test_one_failing_destination_does_not_stop_the_others(
        tmp_path: Path, faulty_sftp: FaultySftpServer, http_server: HttpServer,
        refused_port: int) -> None:
    site = make_site(tmp_path)
    other = tmp_path / "live-b"
    other.mkdir()
    sftp_dir = faulty_sftp.root / "feeds"
    sftp_ok = {"url": faulty_sftp.url("/feeds/"), **faulty_sftp.options(timeout=10)}
    unreachable = {"url": f"sftp://feed@127.0.0.1:{refused_port}/nowhere/",
                   **faulty_sftp.options(timeout=5)}
    wrong_key = {**sftp_ok,
                 "known_hosts": str(_wrong_known_hosts(tmp_path, faulty_sftp.port))}
    site.write_config(channels={
        "google": {"destinations": [
            http_destination(http_server),      # 401: fatal
            unreachable,                        # retryable
            {"url": site.file_url},
        ]},
        "google-b": {"template": "google", "destinations": [
            wrong_key,                          # security
            {"url": f"file://{other}/"},
            sftp_ok,
        ]},
    })
    http_server.script = [Action(status=401)]
    cat = write_catalog(tmp_path / "v1.csv", N)
    result = site.invoke("push", cat, "--json")
    assert result.exit is ExitCode.SECURITY, str(result)  # the most serious one
    codes = sorted(d["exit_code"] for d in deliveries(result))
    assert codes == sorted([ExitCode.PUBLISH_FATAL, ExitCode.PUBLISH_RETRYABLE, 0,
                            ExitCode.SECURITY, 0, 0])
    assert (site.file_dir / "google.xml").exists()
    assert (other / "google-b.xml").exists()
    assert (sftp_dir / "google-b.xml").exists()
    assert sha256(other / "google-b.xml") == sha256(sftp_dir / "google-b.xml")
    assert site.runs()[0]["exit_code"] == ExitCode.SECURITY

    # Without the security problem the worst is the fatal 401.
    site.write_config(channels={"google": {"destinations": [
        http_destination(http_server), unreachable, {"url": site.file_url}]}})
    http_server.script = [Action(status=401)]
    second = site.invoke("push", write_catalog(tmp_path / "v2.csv", N, "v2"))
    assert second.exit is ExitCode.PUBLISH_FATAL, str(second)
    assert sha256(site.file_dir / "google.xml") == sha256(
        build_feed(tmp_path / "v2.csv", tmp_path / "build-v2"))


def test_a_gate_refusal_in_one_channel_and_a_retryable_failure_in_another(
        tmp_path: Path, http_server: HttpServer) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={
        "google": {"destinations": [{"url": site.file_url}],
                   "gate": {"max_rejected_ratio": 0.1}},
        "google-b": {"template": "google", "destinations": [
            http_destination(http_server)]}},
    )
    http_server.script = [Action(status=503)]
    cat = write_catalog(tmp_path / "v1.csv", 8, rejected=2)  # 20% rejected
    result = site.invoke("push", cat, "--json")
    # Retryable (6) outranks a gate refusal (5): a person must look either way, but a
    # retry of the upload may fix the run.
    assert result.exit is ExitCode.PUBLISH_RETRYABLE, str(result)
    found = {d["channel"]: d for d in deliveries(result)}
    assert found["google"]["status"] == "refused"
    assert found["google-b"]["status"] == "failed"
    assert not (site.file_dir / "google.xml").exists()

