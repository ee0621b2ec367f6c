"""Hostile servers (issue 15, items 1 and 14): a reply that echoes the credentials, and an
error page of hundreds of megabytes.

A real ``http.server`` on 127.0.0.1 answers every upload with 401 (or 500) and quotes the
request's ``Authorization`` header in the body, in every encoding a server might use: the
header as sent, the base64 ``user:password`` alone, the password percent-encoded and the
bearer token. The real CLI runs as a subprocess; its stdout, stderr and every file under
the state directory must hold none of them. The big-body server counts the bytes it got to
send before feedsync hung up: the reply must be read with a cap, never whole.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from feedsync.apis.auth import StaticToken
from feedsync.apis.http import ApiClient, Limits, fatal_reply
from feedsync.errors import ExitCode, PublishFatal, PublishRetryable
from tests.helpers import EXAMPLES, run_cli

USER = "feeds"
PASSWORD = "pw:CANARY/s3cr=t+1"   # characters that percent-encoding changes
TOKEN = "tok-CANARY-0123456789abcdef"
BIG = 256 * 1024 * 1024            # the 500 page the big server tries to send


class _Echo(BaseHTTPRequestHandler):
    """Reads the upload, then answers ``server.status`` quoting the credentials."""

    server: _EchoServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        sent = self.headers.get("Authorization", "")
        kind, _, credential = sent.partition(" ")
        decoded = base64.b64decode(credential).decode() if kind == "Basic" else credential
        secret = decoded.partition(":")[2] or decoded
        # The secret straddles the 300th character of the body, where a quote is cut.
        body = ("x" * 290 + f" {sent} ").encode()
        body += (f"header={sent} b64={credential} raw={secret} "
                 f"urlenc={quote(secret, safe='')} json=\"{secret}\" "
                 f"b64secret={base64.b64encode(secret.encode()).decode()}\n").encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body) + self.server.padding))
        self.end_headers()
        self.wfile.write(body)
        self._pad()

    def _pad(self) -> None:
        block = b"y" * (1024 * 1024)
        left = self.server.padding
        try:
            while left > 0:
                self.wfile.write(block[:left])
                self.server.sent += min(left, len(block))
                left -= len(block)
        except OSError:
            pass   # the client hung up: what the cap is for

    do_PUT = do_POST = _answer


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, padding: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.status, self.padding, self.sent = status, padding, 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def echo() -> Iterator[_EchoServer]:
    server = _EchoServer(401)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def big_500() -> Iterator[_EchoServer]:
    server = _EchoServer(500, padding=BIG)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def _config(tmp_path: Path, destination: dict[str, Any]) -> Path:
    config = tmp_path / "feedsync.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "channels": {"google": {
        "destinations": [{"retries": 0, "timeout": 10, "deadline": 60, **destination}]}}}))
    return config


def _everything(tmp_path: Path, *streams: str) -> str:
    files = [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*")
             if p.is_file() and p.name != "feedsync.yaml"]
    return "\n".join([*streams, *files])


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_a_server_echoing_the_credentials_in_its_401_shows_none_of_them(
        tmp_path: Path, echo: _EchoServer, auth: str) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if auth == "basic":
        destination = {"url": echo.url(f"/{USER}/").replace("://", f"://{USER}@"),
                       "password_env": "FEED_PASSWORD"}
        secrets = [basic, *_forms(PASSWORD)]
    else:
        destination = {"url": echo.url("/up/"), "headers_env": {"Authorization": "FEED_AUTH"}}
        secrets = [*_forms(TOKEN), f"Bearer {TOKEN}"]
    config = _config(tmp_path, destination)
    env = {"FEED_PASSWORD": PASSWORD, "FEED_AUTH": f"Bearer {TOKEN}"}
    code, out, err = run_cli("push", EXAMPLES, "--config", config, "--state",
                             tmp_path / "state", "--log-format", "json", cwd=tmp_path, env=env)
    assert code == ExitCode.PUBLISH_FATAL, err
    assert "credentials rejected" in out + err
    assert "***" in out + err          # the echo was quoted, masked
    text = _everything(tmp_path, out, err)
    for secret in secrets:
        assert secret not in text, f"{secret!r} leaked"
    # Quoted bodies stay short: no line quotes more than the 300-character cut.
    assert "x" * 290 in text and "y" * 400 not in text


def test_a_2_gib_style_500_page_is_read_with_a_cap_by_the_http_publisher(
        tmp_path: Path, big_500: _EchoServer) -> None:
    config = _config(tmp_path, {"url": big_500.url("/up/")})
    code, out, err = run_cli("push", EXAMPLES, "--config", config, "--state",
                             tmp_path / "state", cwd=tmp_path)
    assert code in (ExitCode.PUBLISH_RETRYABLE, ExitCode.PUBLISH_FATAL), err
    assert "HTTP 500" in out + err
    # Socket buffers hold a few MiB at most; a whole read would have taken all 256 MiB.
    assert big_500.sent < 32 * 1024 * 1024, f"{big_500.sent:,} bytes were read"


def test_the_api_client_reads_an_error_page_with_a_cap(big_500: _EchoServer) -> None:
    client = ApiClient(Limits(timeout=10, deadline=60, retries=0))
    with pytest.raises((PublishRetryable, PublishFatal)) as raised:
        client.request("POST", big_500.url("/v1/feeds"), json_body={}, max_body=BIG * 2)
    assert "500" in str(raised.value)
    assert big_500.sent < 32 * 1024 * 1024, f"{big_500.sent:,} bytes were read"


@pytest.mark.parametrize("status", [403, 400, 500])
def test_the_api_client_quotes_a_refusal_echoing_its_token_masked(echo: _EchoServer,
                                                                  status: int) -> None:
    echo.status = status   # a 401 renews the token instead of quoting the reply
    token = "EAAB-CANARY-api-token-0123456789"
    client = ApiClient(Limits(timeout=10, deadline=60, retries=0),
                       auth=StaticToken(token, "Meta access token"))
    try:
        reply = client.request("POST", echo.url("/v19.0/123/items_batch"), json_body={})
        text = str(fatal_reply(reply, "sending a batch"))   # how the APIs quote a refusal
    except (PublishRetryable, PublishFatal) as exc:         # 500: out of retries
        text = str(exc)
    assert echo.status in (403, 400, 500) and str(echo.status) in text
    assert "**" in text and "x" * 200 in text   # the echo was quoted, masked
    for secret in _forms(token):
        assert secret not in text, f"{secret!r} leaked"
    assert len(text) < 1000
