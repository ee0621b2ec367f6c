"""Publish with an HTTP PUT (default) or POST: ``https://host/path/`` or a presigned URL.

The body is the file itself, opened fresh for every attempt (a seekable file object, never
a generator), so a retry re-sends from byte 0. Every request has a ``(connect, read)``
timeout, and a watchdog enforces the overall ``deadline``: when it expires it shuts the
socket down, which stops a server that answers one byte every few seconds (requests'
timeouts are per read, not per request).

Retries use exponential back-off with jitter on 408, 429, 500, 502, 503, 504 and connection
errors. ``Retry-After`` (seconds or an HTTP date) is honoured up to ``retry_after_max``;
beyond that the publisher stops at once with "rate limited, retry after N s". A POST is not
idempotent, so it is retried only when the request never left (connection refused) or the
server said it was not processed (429, 503). Other 4xx answers are fatal; 401 and 403 say
"credentials rejected". An unverifiable TLS certificate is a ``SecurityRefusal`` before
anything is sent. Redirects are followed only to the same scheme, host and port (307/308);
a redirect elsewhere is refused, so credentials never reach another host.
"""

from __future__ import annotations

import email.utils
import mimetypes
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from feedsync.errors import ConfigError
from feedsync.publishers.base import Destination, Receipt
from feedsync.publishers.common import (
    SYSTEM_CLOCK,
    Clock,
    Deadline,
    Limits,
    Payload,
    backoff_delay,
    describe,
    fatal,
    final_name,
    log,
    opt_bool,
    opt_path,
    parse_location,
    prepared,
    refuse,
    retryable,
)
from feedsync.secrets import (
    quote_reply,
    redact,
    register_basic_auth,
    register_secret,
    secret_from,
)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
POST_RETRY_STATUSES = frozenset({429, 503})  # the server says: not processed
MAX_REDIRECTS = 5
SNIPPET = 300
# An error reply is read up to this many bytes and the rest left unread: a 2 GiB 500 page
# must not be held in memory to quote 300 characters of it (issue 15, item 14).
MAX_ERROR_BODY = 64 * 1024


class _Watchdog:
    """Shuts down every socket of an adapter when the deadline passes."""

    def __init__(self, adapter: _AbortableAdapter, seconds: float) -> None:
        self.fired = False
        self._adapter = adapter
        self._timer = threading.Timer(max(seconds, 0.001), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._adapter.abort()

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class _AbortableAdapter(HTTPAdapter):
    """An HTTPAdapter that remembers its connections so a watchdog can cut them."""

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        registry = self._connections

        class Pool(HTTPConnectionPool):
            def _new_conn(self) -> Any:
                conn = super()._new_conn()
                registry.add(conn)
                return conn

        class TlsPool(HTTPSConnectionPool):
            def _new_conn(self) -> Any:
                conn = super()._new_conn()
                registry.add(conn)
                return conn

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    def abort(self) -> None:
        for conn in list(self._connections):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    # socket.socket's own shutdown: SSLSocket.shutdown would race the reader.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: str
    url: str


def _is_tls_verification(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        stack += [item.__cause__, item.__context__]
        stack += [a for a in item.args if isinstance(a, BaseException)]
        stack.append(getattr(item, "reason", None))
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely never reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class HttpPublisher:
    """PUT or POST a feed file to an HTTP(S) endpoint, with bounded retries."""

    def __init__(self, dest: Destination, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.dest = dest
        self.clock = clock
        self.target = parse_location(dest)
        if not self.target.host:
            raise ConfigError(f"http URL needs a host: {dest.display()}", key="url")
        options = dest.options
        self.method = str(options.get("method", "PUT")).upper()
        if self.method not in {"PUT", "POST"}:
            raise ConfigError("option method must be PUT or POST", key="method")
        self.limits = Limits.from_options(options)
        self.use_gzip = opt_bool(options, "gzip")
        self.ca_file = opt_path(options, "ca_file")
        self.headers = self._secret_headers(options.get("headers_env"))
        password = secret_from(options, "password")
        self.auth = (self.target.user or "", password) if password is not None else None
        register_basic_auth(self.target.user or "", password)
        register_secret(self.target.query)
        for pair in self.target.query.split("&"):
            register_secret(pair.partition("=")[2])

    @staticmethod
    def _secret_headers(mapping: object) -> dict[str, str]:
        if mapping is None:
            return {}
        if not isinstance(mapping, Mapping):
            raise ConfigError("headers_env must map header names to variable names",
                              key="headers_env")
        headers: dict[str, str] = {}
        for header, env_var in mapping.items():
            value = secret_from({f"{header}_env": env_var}, str(header))
            assert value is not None
            register_secret(value.partition(" ")[2])  # the token of "Bearer <token>"
            headers[str(header)] = value
        return headers

    # --- public -----------------------------------------------------------------------------

    def publish(self, local_file: Path, remote_name: str) -> Receipt:
        """Send ``local_file`` as the request body; the URL's file name wins if it has one."""
        started = self.clock.monotonic()
        name = final_name(self.target, remote_name, self.use_gzip)
        url = self._url_for(name)
        deadline = Deadline(self.limits.deadline, self.clock)
        with prepared(local_file, self.use_gzip) as payload, requests.Session() as session:
            session.trust_env = False  # no .netrc credentials, no CA bundle from env
            adapter = _AbortableAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            headers = {**self._content_type(name), **self.headers}
            attempts, warnings = self._send_with_retries(session, adapter, url, payload,
                                                         deadline, headers)
        return Receipt(
            destination=self.dest.display(), remote_path=urlsplit(url).path,
            bytes=payload.size, sha256=payload.sha256, method=self.method.lower(),
            attempts=attempts, seconds=self.clock.monotonic() - started, warnings=tuple(warnings),
        )

    def _url_for(self, name: str) -> str:
        parts = urlsplit(self.dest.url)
        path = parts.path if self.target.file_name else f"{parts.path or '/'}{quote(name)}"
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, path, parts.query, ""))

    def _shown(self, url: str) -> str:
        parts = urlsplit(url)
        return redact(f"{parts.scheme}://{parts.netloc}{parts.path}") + (
            "?…" if parts.query else ""
        )

    # --- the loop ---------------------------------------------------------------------------

    def _send_with_retries(
        self, session: requests.Session, adapter: _AbortableAdapter, url: str,
        payload: Payload, deadline: Deadline, headers: dict[str, str],
    ) -> tuple[int, list[str]]:
        warnings: list[str] = []
        attempt = redirects = 0
        while True:
            attempt += 1
            reply = self._send_once(session, adapter, url, payload, deadline, attempt, headers)
            if reply is not None and 200 <= reply.status < 300:
                return attempt, warnings
            if reply is not None and reply.status in {307, 308}:
                url = self._same_origin_redirect(url, reply)
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    fatal(f"too many redirects publishing to {self._shown(url)}")
                attempt -= 1
                continue
            if reply is not None:
                self._check_status(reply, url)
            delay = self._retry_delay(reply, attempt, deadline, url)
            what = f"HTTP {reply.status}" if reply is not None else "connection error"
            warnings.append(f"attempt {attempt}: {what}")
            log.warning("%s %s: %s (attempt %d of %d); retrying in %.1f s", self.method,
                        self._shown(url), what, attempt, self.limits.retries + 1, delay)
            self.clock.sleep(delay)

    def _send_once(
        self, session: requests.Session, adapter: _AbortableAdapter, url: str,
        payload: Payload, deadline: Deadline, attempt: int, headers: dict[str, str],
    ) -> _Reply | None:
        """One request. ``None`` means a retryable connection failure (already logged)."""
        deadline.check(f"before sending to {self._shown(url)}")
        with payload.path.open("rb") as body, _Watchdog(adapter, deadline.remaining()) as dog:
            try:
                response = session.request(
                    self.method, url, data=body, headers=headers,
                    auth=self.auth, timeout=(self.limits.timeout, self.limits.timeout),
                    allow_redirects=False, verify=str(self.ca_file) if self.ca_file else True,
                    proxies=requests.utils.get_environ_proxies(url), stream=True,
                )
                try:
                    return _Reply(response.status_code, response.headers,
                                  read_head(response, MAX_ERROR_BODY).decode(
                                      response.encoding or "utf-8", "replace"), url)
                finally:
                    response.close()
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                self._classify_failure(exc, dog.fired, url, attempt, deadline)
                return None

    @staticmethod
    def _content_type(name: str) -> dict[str, str]:
        kind, encoding = mimetypes.guess_type(name)
        if encoding == "gzip":
            kind = "application/gzip"
        return {"Content-Type": kind or "application/octet-stream"}

    def _classify_failure(
        self, exc: BaseException, fired: bool, url: str, attempt: int, deadline: Deadline
    ) -> None:
        shown = self._shown(url)
        if fired:
            retryable(f"deadline of {deadline.seconds:g} s exceeded sending to {shown}", exc)
        if isinstance(exc, requests.exceptions.SSLError) and _is_tls_verification(exc):
            refuse(f"TLS certificate of {self.target.host} not trusted ({shown}); "
                   "nothing was sent", exc,
                   tip="set ca_file to the server's CA certificate if it uses a private CA")
        if not isinstance(exc, requests.RequestException | OSError):
            raise exc
        if self.method == "POST" and not (
            isinstance(exc, requests.RequestException) and _never_sent(exc)
        ):
            retryable(f"POST to {shown} failed after the request was sent ({describe(exc)}); "
                      "not retried because the server may have processed it", exc)
        if attempt > self.limits.retries:
            retryable(f"{self.method} to {shown} failed: {describe(exc)}", exc)
        log.debug("%s to %s failed: %s", self.method, shown, describe(exc))

    def _retry_delay(self, reply: _Reply | None, attempt: int, deadline: Deadline,
                     url: str) -> float:
        shown = self._shown(url)
        delay = backoff_delay(self.limits.backoff, attempt)
        if reply is not None:
            after = _retry_after(reply.headers.get("Retry-After"))
            if after is not None and after > self.limits.retry_after_max:
                busy = "rate limited" if reply.status == 429 else f"HTTP {reply.status}"
                retryable(f"{busy}, retry after {after:.0f} s ({shown}; more than "
                          f"retry_after_max {self.limits.retry_after_max:g} s)")
            delay = after if after is not None else delay
            if attempt > self.limits.retries:
                retryable(f"HTTP {reply.status} from {shown} after {attempt} attempt(s): "
                          f"{self._snippet(reply)}")
        if delay >= deadline.remaining():
            retryable(f"no time left within the deadline of {deadline.seconds:g} s to retry "
                      f"{shown} (next try in {delay:.0f} s)")
        return delay

    def _check_status(self, reply: _Reply, url: str) -> None:
        shown = self._shown(url)
        if 300 <= reply.status < 400:
            self._refuse_redirect(reply, url)
        if reply.status in {401, 403}:
            fatal(f"credentials rejected by {shown} (HTTP {reply.status}): "
                  f"{self._snippet(reply)}")
        if reply.status not in RETRY_STATUSES:
            fatal(f"HTTP {reply.status} from {shown}: {self._snippet(reply)}")
        if self.method == "POST" and reply.status not in POST_RETRY_STATUSES:
            retryable(f"HTTP {reply.status} from {shown}: {self._snippet(reply)}; POST not "
                      "retried because the server may have processed it")

    def _same_origin_redirect(self, url: str, reply: _Reply) -> str:
        location = urljoin(url, reply.headers.get("Location", ""))
        if _origin(location) != _origin(url):
            self._refuse_redirect(reply, url)
        return location

    def _refuse_redirect(self, reply: _Reply, url: str) -> NoReturn:
        location = urljoin(url, reply.headers.get("Location", ""))
        if _origin(location) != _origin(url):
            fatal(f"refusing cross-host redirect (HTTP {reply.status}) from {self._shown(url)}"
                  f" to {self._shown(location)}: credentials are never sent to another host")
        fatal(f"HTTP {reply.status} redirect from {self._shown(url)} would change the method; "
              "configure the final URL")

    @staticmethod
    def _snippet(reply: _Reply) -> str:
        return quote_reply(reply.body, SNIPPET)


def read_head(response: requests.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a streamed reply; the rest is never read (the caller
    closes the response, which drops the connection instead of draining it). The API
    client reads its error replies with it too."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(16 * 1024):
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)
