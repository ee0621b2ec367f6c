"""A scriptable HTTP(S) server on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread).

Each request takes the next ``Action`` from ``server.script`` (the default answers 201) and
is recorded with its method, path, headers and the SHA-256 of the body as received.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Action:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    kind: str = "reply"  # reply | hang | trickle | half_reset | echo
    interval: float = 0.5  # trickle: seconds between bytes


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body_sha256: str
    body_length: int
    complete: bool


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        action = owner.next_action()
        length = int(self.headers.get("Content-Length") or 0)
        if action.kind == "half_reset":
            body = self.rfile.read(length // 2)
            owner.record(self, body, complete=False)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        body = self.rfile.read(length)
        owner.record(self, body, complete=len(body) == length)
        if action.kind == "hang":
            owner.stopping.wait(60)
            self.close_connection = True
            return
        if action.kind == "trickle":
            self._trickle(action)
            return
        payload = action.body
        if action.kind == "echo":  # the server echoes what it got, secrets included
            payload = f"{self.requestline} {dict(self.headers)}".encode()
        self.send_response(action.status)
        for name, value in action.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _trickle(self, action: Action) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                if self.server.owner.stopping.wait(action.interval):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    do_PUT = do_POST = do_GET = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HttpServer
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS handshake refusals and resets are part of the tests


class HttpServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.script: list[Action] = []
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._server.tls = tls
        self.port = int(self._server.server_address[1])
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def next_action(self) -> Action:
        with self._lock:
            return self.script.pop(0) if self.script else Action()

    def record(self, handler: _Handler, body: bytes, complete: bool) -> None:
        with self._lock:
            self.requests.append(Recorded(
                handler.command, handler.path, dict(handler.headers),
                hashlib.sha256(body).hexdigest(), len(body), complete))

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
