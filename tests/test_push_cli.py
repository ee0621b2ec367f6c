"""The ``feedsync push`` command line: --to, --log-format, refusals, and secrets (E6, E7).

Catalogue items (../shared/reliability.md): E6 (canary secrets never leak, with the push
failing at each stage: key decryption, authentication, connection, upload 4xx/5xx with the
server echoing the request), E7 (a secret written inline in the config), credentials in a
``--to`` URL, E9 through the CLI is in test_push_faults.py. The CLI runs in process
(Typer's CliRunner: nothing here depends on a separate process); every test asserts the
exit code by name and that no traceback was printed. Only the canary test, which also
logs in to OpenSSH, needs sshd.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

from feedsync.errors import ExitCode
from tests.fixtures.push.pushkit import (
    EXAMPLES,
    Result,
    all_text,
    build_feed,
    deliveries,
    grep,
    invoke,
    make_site,
    sha256,
    statuses,
    write_catalog,
)
from tests.servers.fixtures import TlsFiles
from tests.servers.http import Action, HttpServer
from tests.servers.sftp_faults import FaultySftpServer
from tests.servers.sshd import USER_KEY_PASSPHRASE, Sshd

pytestmark = pytest.mark.timeout(180)


# --- --to without a config ------------------------------------------------------------------


def test_push_with_to_and_no_config(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    result = invoke("push", EXAMPLES, "--channel", "google", "--to", f"file://{live}/",
                 cwd=tmp_path)
    assert result.exit is ExitCode.OK, str(result)
    expected = sha256(build_feed(EXAMPLES, tmp_path / "build"))
    assert sha256(live / "google.xml") == expected
    assert f"google xml -> file://{live}/google.xml: published" in result.stdout
    # The default state directory is ./.feedsync in the working directory.
    assert (tmp_path / ".feedsync" / "state.sqlite").is_file()
    history = invoke("history", "--json", cwd=tmp_path)
    assert history.exit is ExitCode.OK, str(history)
    [run_row] = history.json()["runs"]
    assert (run_row["command"], run_row["status"]) == ("push", "ok")
    assert run_row["summary"]["deliveries"] == [
        {"channel": "google", "destination": f"file://{live}/google.xml",
         "status": "published", "items": 28}]


def test_to_repeated_and_naming_the_file(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    result = invoke("push", EXAMPLES, "--channel", "google", "--to", f"file://{one}/",
                 "--to", f"file://{two}/products.xml", "--state", tmp_path / "st",
                 "--json", cwd=tmp_path)
    assert result.exit is ExitCode.OK, str(result)
    assert statuses(result) == {f"file://{one}/google.xml": "published",
                                f"file://{two}/products.xml": "published"}
    assert sha256(one / "google.xml") == sha256(two / "products.xml")
    assert sorted(p.name for p in two.iterdir()) == ["products.xml"]


def test_to_adds_to_the_configured_destinations(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.write_config()
    extra = tmp_path / "extra"
    extra.mkdir()
    result = site.invoke("push", EXAMPLES, "--to", f"file://{extra}/")
    assert result.exit is ExitCode.OK, str(result)
    assert sha256(extra / "google.xml") == sha256(site.file_dir / "google.xml")


@pytest.mark.parametrize("url", [
    "sftp://feeds:pw-CANARY-in-url@127.0.0.1:2222/incoming/",
    "https://feeds:pw-CANARY-in-url@127.0.0.1/upload/",
    "ftp://feeds:pw-CANARY-in-url@127.0.0.1/feeds/",
], ids=["sftp", "https", "ftp"])
def test_password_in_a_to_url_is_refused_without_echoing_it(tmp_path: Path, url: str) -> None:
    for extra in ([], ["--json"], ["--log-format", "json"]):
        result = invoke("push", EXAMPLES, "--channel", "google", "--to", url, *extra,
                     cwd=tmp_path)
        assert result.exit is ExitCode.USAGE, str(result)
        assert "credentials never in URLs" in result.output
        assert "password_env" in result.output
        assert "pw-CANARY-in-url" not in result.output
    assert not (tmp_path / ".feedsync").exists()  # refused before anything was started


@pytest.mark.parametrize(("url", "words"), [
    ("s3://bucket/feeds/", "unknown destination scheme 's3'"),
    ("file:///srv/../etc/", "must not contain '..'"),
    ("file://remote-host/srv/feeds/", "file URLs name a local path"),
    ("feeds/", "unknown destination scheme ''"),
], ids=["unknown-scheme", "dot-dot", "file-with-host", "no-scheme"])
def test_bad_to_urls_are_usage_errors(tmp_path: Path, url: str, words: str) -> None:
    result = invoke("push", EXAMPLES, "--channel", "google", "--to", url, cwd=tmp_path)
    assert result.exit is ExitCode.USAGE, str(result)
    assert words in result.stderr
    assert not (tmp_path / ".feedsync").exists()


def test_a_channel_with_nowhere_to_go_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("push", EXAMPLES, "--channel", "google", cwd=tmp_path)
    assert result.exit is ExitCode.USAGE, str(result)
    assert "channel 'google' has nowhere to go" in result.stderr
    assert "--to URL" in result.stderr
    assert not (tmp_path / ".feedsync").exists()


def test_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("push", EXAMPLES, "--channel", "google", "--to", f"file://{tmp_path}/",
                 "--log-format", "xml", cwd=tmp_path)
    assert result.exit is ExitCode.USAGE, str(result)
    assert "--log-format must be text or json" in result.stderr
    assert not (tmp_path / "google.xml").exists()


def test_log_format_json_is_one_object_per_line(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    result = invoke("push", EXAMPLES, "--channel", "google", "--to", f"file://{live}/",
                 "--log-format", "json", "--json", cwd=tmp_path)
    assert result.exit is ExitCode.OK, str(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every stderr line is JSON
    assert {tuple(sorted(e)) for e in events} == {("level", "logger", "message", "time")}
    messages = [e["message"] for e in events]
    assert messages[0] == "run 1 started: 1 channel(s)"
    assert any(m.startswith("published google.xml to file://") for m in messages)
    assert messages[-1] == "run 1 finished: ok (exit 0)"
    assert result.json()["exit_code"] == ExitCode.OK  # stdout is the one JSON report


# --- E7: a secret written in the config -----------------------------------------------------


@pytest.mark.parametrize("where", ["destination", "channel-options", "top-level-gate"])
def test_inline_password_in_config_is_refused(tmp_path: Path, where: str) -> None:
    site = make_site(tmp_path)
    destination: dict[str, Any] = {"url": site.file_url}
    channel: dict[str, Any] = {"destinations": [destination]}
    top: dict[str, Any] = {}
    if where == "destination":
        destination["password"] = "hunter2"
    elif where == "channel-options":
        channel["options"] = {"xml": {"password": "hunter2"}}
    else:
        top["gate"] = {"token": "hunter2"}
    site.write_config(channels={"google": channel}, **top)
    for extra in ([], ["--json"], ["--log-format", "json"]):
        result = site.invoke("push", EXAMPLES, *extra)
        assert result.exit is ExitCode.USAGE, str(result)
        assert "secrets must not be written in the config file" in result.output
        assert "_env" in result.output
        assert "hunter2" not in result.output
    assert list(site.file_dir.iterdir()) == []
    assert not site.state.exists()


# --- E6: canary secrets never leak ----------------------------------------------------------

SFTP_PASSWORD = "sftp-password-CANARY-91c2"
TOKEN = "token-CANARY-5b7d0e"
SIGNATURE = "CANARY-SIG-8e1f77aa"
WRONG_PASSPHRASE = "wrong-passphrase-CANARY-44d1"
CANARIES = [SFTP_PASSWORD, TOKEN, SIGNATURE, WRONG_PASSPHRASE, USER_KEY_PASSPHRASE,
            "CANARY"]


def assert_no_leak(result: Result, *folders: Path, more: str = "") -> None:
    texts: dict[str, str | bytes] = {"stdout": result.stdout, "stderr": result.stderr,
                                     "more": more}
    for folder in folders:
        if folder.exists():
            texts[str(folder)] = all_text(folder)
    assert grep(CANARIES, **texts) == []


@pytest.mark.slow
def test_canary_secrets_never_leak_when_push_fails_at_each_stage(
        tmp_path: Path, sshd: Sshd, sftp_dir: Path, faulty_sftp: FaultySftpServer,
        refused_port: int,
        https_server: HttpServer, tls_files: TlsFiles) -> None:
    site = make_site(tmp_path)
    env = {"FEED_SFTP_PASSWORD": SFTP_PASSWORD, "FEED_TOKEN": f"Bearer {TOKEN}",
           "FEED_KEY_PASSPHRASE": USER_KEY_PASSPHRASE}
    unreachable = refused_port
    known_unreachable = tmp_path / "known_hosts_unreachable"
    known_unreachable.write_text(sshd.known_hosts_line(unreachable))
    quick = {"timeout": 5, "deadline": 30, "retries": 1, "backoff": 0.05}
    https = {"ca_file": str(tls_files.ca_file), "headers_env": {"Authorization": "FEED_TOKEN"},
             **quick}
    site.write_config(channels={"google": {"destinations": [
        # auth refused: a wrong password (the canary) against the asyncssh server
        {"url": faulty_sftp.url("/feeds/"), "password_env": "FEED_SFTP_PASSWORD",
         "known_hosts": str(faulty_sftp.known_hosts), **quick},
        # auth refused: OpenSSH allows no passwords at all
        {"url": sshd.url(f"{sftp_dir}/"), "password_env": "FEED_SFTP_PASSWORD",
         "known_hosts": str(sshd.known_hosts), **quick},
        # connect refused, with a password and a key passphrase configured
        {"url": sshd.url("/feeds/", port=unreachable), "password_env": "FEED_SFTP_PASSWORD",
         "key_file": str(sshd.encrypted_user_key), "key_passphrase_env": "FEED_KEY_PASSPHRASE",
         "known_hosts": str(known_unreachable), **quick},
        # upload refused: 403, the server echoing the request line and headers
        {"url": https_server.url(f"/up?X-Amz-Signature={SIGNATURE}"), **https},
        # upload failing: 500 twice (a retry), echoing again
        {"url": https_server.url(f"/retry/feed.xml?X-Amz-Signature={SIGNATURE}&x=1"), **https},
        # and one that works: the encrypted key opened with its passphrase
        {"url": sshd.url(f"{sftp_dir}/"), "key_file": str(sshd.encrypted_user_key),
         "key_passphrase_env": "FEED_KEY_PASSPHRASE", "known_hosts": str(sshd.known_hosts),
         **quick},
    ]}})
    https_server.script = [Action(status=403, kind="echo"), Action(status=500, kind="echo"),
                           Action(status=500, kind="echo")]

    result = site.invoke("push", EXAMPLES, "--json", "--log-format", "json", env=env)
    assert result.exit is ExitCode.PUBLISH_FATAL, str(result)
    found = deliveries(result)
    assert [d["exit_code"] for d in found] == [
        ExitCode.PUBLISH_FATAL, ExitCode.PUBLISH_FATAL, ExitCode.PUBLISH_RETRYABLE,
        ExitCode.PUBLISH_FATAL, ExitCode.PUBLISH_RETRYABLE, 0]
    assert (sftp_dir / "google.xml").exists()
    # The secrets really were used: the servers saw them.
    assert faulty_sftp.auth_attempts and faulty_sftp.auth_attempts[0] == faulty_sftp.user
    first, *retried = https_server.requests
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert SIGNATURE in first.path and len(retried) == 2
    # URLs are shown without their query.
    assert "/up?…" in result.stdout
    assert "credentials rejected" in result.stdout
    history = site.history("--json")
    assert history.exit is ExitCode.OK
    assert_no_leak(result, site.state, site.file_dir, sftp_dir, more=history.stdout)

    # The same with the human report on stdout.
    https_server.script = [Action(status=403, kind="echo"), Action(status=500, kind="echo"),
                           Action(status=500, kind="echo")]
    text = site.invoke("push", EXAMPLES, "--force", env=env)
    assert text.exit is ExitCode.PUBLISH_FATAL, str(text)
    assert_no_leak(text, site.state)


# One bcrypt round keeps the test fast; bcrypt warns that one round is weak, which is the
# point of a throwaway key.
@pytest.mark.filterwarnings("ignore:.*bcrypt.kdf.*:UserWarning")
def test_a_wrong_key_passphrase_does_not_leak(tmp_path: Path, refused_port: int) -> None:
    key = tmp_path / "encrypted_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(
        str(key), passphrase=USER_KEY_PASSPHRASE, rounds=1)  # bcrypt's default is slow
    never_reached = tmp_path / "sftp-dest"
    never_reached.mkdir()
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        {"url": site.file_url},
        {"url": f"sftp://feed@127.0.0.1:{refused_port}{never_reached}/",
         "key_file": str(key), "key_passphrase_env": "FEED_KEY_PASSPHRASE",
         "known_hosts": str(tmp_path / "known_hosts"), "timeout": 5, "retries": 0}]}})
    result = site.invoke("push", EXAMPLES, "--json", "--log-format", "json",
                         env={"FEED_KEY_PASSPHRASE": WRONG_PASSPHRASE})
    assert result.exit is ExitCode.USAGE, str(result)
    assert "cannot load key_file" in result.output
    # Checked before anything starts: no destination was touched, not even the first.
    assert list(never_reached.iterdir()) == [] and list(site.file_dir.iterdir()) == []
    assert not site.state.exists()
    assert_no_leak(result)


def test_missing_secret_variable_is_named_not_guessed(tmp_path: Path,
                                                      refused_port: int) -> None:
    site = make_site(tmp_path)
    site.write_config(channels={"google": {"destinations": [
        {"url": f"sftp://feed@127.0.0.1:{refused_port}/feeds/", "password_env": "FEED_NOT_SET",
         "known_hosts": str(tmp_path / "known_hosts")}]}})
    result = site.invoke("push", EXAMPLES)
    assert result.exit is ExitCode.USAGE, str(result)
    assert "environment variable FEED_NOT_SET (from password_env) is not set" in result.stderr
    assert not site.state.exists()  # refused before the lock, the state or the build


def test_config_file_from_yaml_round_trip(tmp_path: Path) -> None:
    """The destinations mapping is plain YAML: url plus options, as docs/push.md shows."""
    site = make_site(tmp_path)
    site.config_path.write_text(
        "version: 1\n"
        "channels:\n"
        "  google:\n"
        "    destinations:\n"
        f"      - url: {site.file_url}\n"
        "        gzip: true\n"
        "gate:\n"
        "  max_drop_ratio: 0.3\n", encoding="utf-8")
    assert yaml.safe_load(site.config_path.read_text())["gate"] == {"max_drop_ratio": 0.3}
    cat = write_catalog(tmp_path / "v1.csv", 10)
    result = site.invoke("push", cat)
    assert result.exit is ExitCode.OK, str(result)
    assert (site.file_dir / "google.xml.gz").is_file()
