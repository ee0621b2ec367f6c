"""HTTP(S) publisher against scriptable servers on 127.0.0.1 (C7 C8 C9 C13 C14 E6)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from feedsync.errors import (
    ConfigError,
    ExitCode,
    PublishFatal,
    PublishRetryable,
    SecurityRefusal,
)
from feedsync.publishers.base import Destination, Receipt, publisher_for
from feedsync.publishers.http import HttpPublisher
from tests.servers.checks import (
    RecordingClock,
    assert_exit,
    assert_no_canary,
    exception_text,
    log_text,
    sha,
)
from tests.servers.fixtures import TlsFiles
from tests.servers.http import Action, HttpServer

pytestmark = pytest.mark.timeout(60)

BODY = os.urandom(200_000)
TOKEN_CANARY = "bearer-token-CANARY-3d9e"
SIGNATURE_CANARY = "X-Amz-Signature=CANARY0123456789abcdef"


def opts(**extra: Any) -> dict[str, Any]:
    return {"timeout": 5, "deadline": 30, "retries": 3, "backoff": 0.05, **extra}


def publish(url: str, options: dict[str, Any], tmp_path: Path, data: bytes = BODY,
            name: str = "feed.xml", clock: RecordingClock | None = None) -> Receipt:
    local = tmp_path / "feed.xml"
    local.write_bytes(data)
    dest = Destination(url, options)
    publisher = HttpPublisher(dest, clock=clock) if clock else publisher_for(dest)
    return publisher.publish(local, name)


def test_put_sends_the_file(http_server: HttpServer, tmp_path: Path) -> None:
    receipt = publish(http_server.url("/feeds/"), opts(), tmp_path)
    [request] = http_server.requests
    assert (request.method, request.path) == ("PUT", "/feeds/feed.xml")
    assert request.body_sha256 == sha(BODY) == receipt.sha256
    assert request.headers["Content-Type"] == "application/xml"
    assert (receipt.method, receipt.attempts, receipt.remote_path) == ("put", 1, "/feeds/feed.xml")


def test_post_with_headers_from_env(
    http_server: HttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN_CANARY}")
    receipt = publish(http_server.url("/upload"),
                      opts(method="POST", headers_env={"Authorization": "FEED_TOKEN"}),
                      tmp_path)
    [request] = http_server.requests
    assert request.method == "POST" and request.path == "/upload"
    assert request.headers["Authorization"] == f"Bearer {TOKEN_CANARY}"
    assert receipt.method == "post"
    assert_no_canary([TOKEN_CANARY], repr(receipt))


def test_c9_500_then_200_resends_whole_body(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(500, body=b"oops"), Action(200)]
    receipt = publish(http_server.url("/feeds/"), opts(), tmp_path)
    assert receipt.attempts == 2
    assert [r.body_sha256 for r in http_server.requests] == [sha(BODY)] * 2


def test_c9_reset_after_half_the_body(http_server: HttpServer, tmp_path: Path) -> None:
    big = os.urandom(3_000_000)  # larger than socket buffers: the client is still sending
    http_server.script = [Action(kind="half_reset"), Action(200)]
    receipt = publish(http_server.url("/feeds/"), opts(), tmp_path, data=big)
    first, second = http_server.requests
    assert not first.complete and first.body_length == len(big) // 2
    assert second.complete and second.body_sha256 == sha(big) == receipt.sha256
    assert receipt.attempts == 2


def test_c8_429_retry_after_is_honoured(
    http_server: HttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="feedsync.publish")
    http_server.script = [Action(429, {"Retry-After": "2"}), Action(200)]
    clock = RecordingClock()
    receipt = publish(http_server.url("/feeds/"), opts(), tmp_path, clock=clock)
    assert clock.sleeps == [2.0]  # the server's wait, not the back-off
    assert receipt.attempts == 2
    assert "HTTP 429" in caplog.text and "retrying in 2.0 s" in caplog.text


def test_c8_retry_after_http_date(http_server: HttpServer, tmp_path: Path) -> None:
    import email.utils

    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    http_server.script = [Action(503, {"Retry-After": when}), Action(200)]
    clock = RecordingClock()
    receipt = publish(http_server.url("/feeds/"), opts(deadline=600), tmp_path, clock=clock)
    assert receipt.attempts == 2
    [waited] = clock.sleeps
    assert 115 <= waited <= 120  # two minutes from the date, less the second it is cut to


def test_c8_retry_after_beyond_cap_stops_without_sleeping(
    http_server: HttpServer, tmp_path: Path
) -> None:
    http_server.script = [Action(429, {"Retry-After": "86400"})]
    clock = RecordingClock()
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/feeds/"), opts(retry_after_max=60), tmp_path, clock=clock)
    assert clock.sleeps == []
    assert_exit(err.value, ExitCode.PUBLISH_RETRYABLE)
    assert "rate limited, retry after 86400 s" in str(err.value)
    assert len(http_server.requests) == 1


def test_backoff_grows_and_keeps_within_its_jitter(http_server: HttpServer,
                                                   tmp_path: Path) -> None:
    http_server.script = [Action(503), Action(503), Action(503), Action(200)]
    clock = RecordingClock()
    receipt = publish(http_server.url("/feeds/"), opts(backoff=1.0), tmp_path, clock=clock)
    assert receipt.attempts == 4
    # backoff * 2**(n-1), times a jitter of 0.5-1.0: 1 s, 2 s, 4 s at most.
    assert len(clock.sleeps) == 3
    for number, waited in enumerate(clock.sleeps, start=1):
        assert 0.5 * 2 ** (number - 1) <= waited <= 2 ** (number - 1), clock.sleeps


def test_retries_are_bounded(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(503) for _ in range(10)]
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/feeds/"), opts(retries=2), tmp_path)
    assert "HTTP 503" in str(err.value)
    assert len(http_server.requests) == 3


def test_post_is_not_retried_after_a_500(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(500), Action(200)]
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/upload"), opts(method="POST"), tmp_path)
    assert "POST not retried" in str(err.value)
    assert len(http_server.requests) == 1


def test_post_is_retried_on_429_and_refused_connections(refused_port: int,
    http_server: HttpServer, tmp_path: Path
) -> None:
    http_server.script = [Action(429, {"Retry-After": "0"}), Action(200)]
    assert publish(http_server.url("/upload"), opts(method="POST"), tmp_path).attempts == 2
    with pytest.raises(PublishRetryable) as err:
        publish(f"http://127.0.0.1:{refused_port}/upload", opts(method="POST", retries=2),
                tmp_path)
    assert "failed" in str(err.value)


def test_post_not_retried_after_reset_mid_body(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(kind="half_reset"), Action(200)]
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/upload"), opts(method="POST"), tmp_path,
                data=os.urandom(3_000_000))
    assert "may have processed it" in str(err.value)
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_c13_client_errors_are_fatal_not_retried(
    http_server: HttpServer, tmp_path: Path, status: int
) -> None:
    http_server.script = [Action(status, body=b'{"error": "bad feed", "code": "E42"}')]
    with pytest.raises(PublishFatal) as err:
        publish(http_server.url("/feeds/"), opts(), tmp_path)
    assert_exit(err.value, ExitCode.PUBLISH_FATAL)
    assert f"HTTP {status}" in str(err.value) and "E42" in str(err.value)
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_c13_credentials_rejected_never_echoed(
    http_server: HttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture, status: int,
) -> None:
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN_CANARY}")
    http_server.script = [Action(status, kind="echo")]
    with pytest.raises(PublishFatal) as err:
        publish(http_server.url(f"/up?{SIGNATURE_CANARY}"),
                opts(headers_env={"Authorization": "FEED_TOKEN"}), tmp_path)
    assert "credentials rejected" in str(err.value)
    assert len(http_server.requests) == 1
    assert_no_canary([TOKEN_CANARY, "CANARY0123456789abcdef"], exception_text(err.value),
                     log_text(debug_logs.records))


def test_c7_hung_server_stopped_by_deadline(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(kind="hang")] * 3
    clock = RecordingClock()
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/feeds/"), opts(timeout=30, deadline=2), tmp_path,
                clock=clock)
    # The 30 s read timeout never came into it: the deadline's watchdog cut the socket.
    assert "deadline of 2 s exceeded" in str(err.value)
    assert len(http_server.requests) == 1 and clock.sleeps == []


def test_c7_read_timeout(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(kind="hang")] * 3
    clock = RecordingClock()
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/feeds/"), opts(timeout=1, deadline=20, retries=1), tmp_path,
                clock=clock)
    assert "deadline" not in str(err.value)  # each read timed out, well within the deadline
    assert len(http_server.requests) == 2 and len(clock.sleeps) == 1


def test_c7_trickling_server_stopped_by_deadline(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.script = [Action(kind="trickle", interval=0.5)] * 3
    with pytest.raises(PublishRetryable) as err:
        publish(http_server.url("/feeds/"), opts(timeout=5, deadline=2), tmp_path)
    # Each byte came within the 5 s read timeout; only the deadline could stop it.
    assert "deadline of 2 s exceeded" in str(err.value)
    assert len(http_server.requests) == 1


def test_c14_unknown_ca_is_refused_before_sending(
    https_server: HttpServer, tmp_path: Path
) -> None:
    with pytest.raises(SecurityRefusal) as err:
        publish(https_server.url("/feeds/"), opts(), tmp_path)
    assert_exit(err.value, ExitCode.SECURITY)
    assert "not trusted" in str(err.value)
    assert https_server.requests == []


def test_c14_private_ca_accepted(
    https_server: HttpServer, tls_files: TlsFiles, tmp_path: Path
) -> None:
    receipt = publish(https_server.url("/feeds/"), opts(ca_file=str(tls_files.ca_file)),
                      tmp_path)
    assert https_server.requests[0].body_sha256 == receipt.sha256 == sha(BODY)


def test_c14_cross_host_redirect_refused(
    http_server: HttpServer, other_http_server: HttpServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN_CANARY}")
    elsewhere = other_http_server.url("/steal", host="localhost")
    for status in (302, 307):
        http_server.script = [Action(status, {"Location": elsewhere})]
        with pytest.raises(PublishFatal) as err:
            publish(http_server.url("/feeds/"),
                    opts(headers_env={"Authorization": "FEED_TOKEN"}), tmp_path)
        assert "cross-host redirect" in str(err.value)
    assert other_http_server.requests == []  # no Authorization, no body, nothing


def test_same_host_307_is_followed_with_the_whole_body(
    http_server: HttpServer, tmp_path: Path
) -> None:
    http_server.script = [Action(307, {"Location": "/moved/feed.xml"}), Action(201)]
    receipt = publish(http_server.url("/feeds/"), opts(), tmp_path)
    assert [r.path for r in http_server.requests] == ["/feeds/feed.xml", "/moved/feed.xml"]
    assert http_server.requests[1].body_sha256 == sha(BODY)
    assert receipt.attempts == 1


def test_e6_presigned_url_canary_at_every_stage(refused_port: int,
    http_server: HttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN_CANARY}")
    query = f"X-Amz-Credential=AKIA%2F20260101&{SIGNATURE_CANARY}"
    options = opts(retries=1, headers_env={"Authorization": "FEED_TOKEN"})
    texts = []
    ok = publish(http_server.url(f"/bucket/feed.xml?{query}"), options, tmp_path)
    texts.append(repr(ok))
    assert http_server.requests[0].path.endswith(SIGNATURE_CANARY)  # it was really used
    http_server.script = [Action(500), Action(400, kind="echo")]
    with pytest.raises(PublishFatal) as err:
        publish(http_server.url(f"/bucket/feed.xml?{query}"), options, tmp_path)
    texts.append(exception_text(err.value))
    with pytest.raises(PublishRetryable) as err2:  # connection refused, MaxRetryError text
        publish(f"http://127.0.0.1:{refused_port}/bucket/feed.xml?{query}", options, tmp_path)
    texts.append(exception_text(err2.value))
    http_server.script = [Action(kind="trickle")]
    with pytest.raises(PublishRetryable) as err3:
        publish(http_server.url(f"/bucket/feed.xml?{query}"), dict(options, deadline=1),
                tmp_path)
    texts.append(exception_text(err3.value))
    logs = log_text(debug_logs.records)
    assert "urllib3" in logs  # the DEBUG request lines were captured, and scrubbed
    assert_no_canary(["CANARY0123456789abcdef", TOKEN_CANARY], *texts, logs, debug_logs.text)


def test_config_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError):
        publisher_for(Destination("https://h.example/x/", {"method": "PATCH"}))
    with pytest.raises(ConfigError) as err:
        publisher_for(Destination("https://h.example/x/",
                                  {"headers_env": {"Authorization": "NOT_SET_ANYWHERE"}}))
    assert "NOT_SET_ANYWHERE" in str(err.value)
    with pytest.raises(ConfigError):
        publisher_for(Destination("https://u:secret-pw@h.example/x/", {}))
