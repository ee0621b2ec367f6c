"""Shared plumbing of the channel-API stand-ins: an HTTP server on 127.0.0.1 with a router.

Each stand-in subclasses ``StandIn`` and implements ``route``. Every request is recorded
(method, path, query, headers, body). ``now()`` is the stand-in's clock: real time plus
``clock_offset``, which a test moves forward to expire tokens and presigned URLs.
``problems`` collects every malformed request the stand-in refused (so a test can assert
that feedsync sent none) and any reply of its own that failed its schema.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None
    delay: float = 0.0        # seconds to stall before answering (after the request is done)


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode("utf-8"),
                 {"Content-Type": "application/json", **(headers or {})})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body are separate writes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          dict(self.headers), body)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(request if owner.keep_requests else
                                  Request(request.method, request.path, {}, {}, b""))
            if owner.expire_after is not None and len(owner.requests) >= owner.expire_after:
                owner.expire_after = None
                owner.expire_tokens()   # tokens expire mid-run, as after an hour
        try:
            reply = owner.route(request)
        except Exception as exc:  # a stand-in bug: answer 500 and remember it
            owner.problems.append(f"stand-in error on {request.method} {request.path}: {exc!r}")
            reply = json_reply(500, {"error": "stand-in error"})
        if reply.delay:
            owner.stopping.wait(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: StandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass   # clients that time out and hang up are part of the tests


class StandIn:
    """Base of the stand-ins; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self.clock_offset = 0.0
        self.expire_after: int | None = None   # expire every token at this request number
        self.keep_requests = True              # benchmarks: keep only method and path
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (a subclass with tokens overrides it)."""

    def refuse(self, reply: Reply, why: str) -> Reply:
        """Answer a malformed request, remembering why (tests assert feedsync sent none)."""
        with self.lock:
            self.problems.append(why)
        return reply

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
