"""One retrying HTTP client for the channel APIs (Merchant API, SP-API, Graph API).

What every API call needs, in one place:

- a ``(connect, read)`` timeout on every request and an overall ``Deadline`` per delivery;
- retries with exponential back-off and jitter on 408, 429 and 5xx and on connection
  errors, honouring ``Retry-After`` (seconds or an HTTP date) up to ``retry_after_max``.
  Beyond that cap the call stops at once with "rate limited, retry after N s": a cron
  job must not sleep for hours (reliability C8);
- non-idempotent calls (``idempotent=False``: SP-API ``createFeed``, Meta ``items_batch``)
  are retried only when the server said it did not process them (429, 503) or the
  request surely never left (connection refused). Any other failure after sending raises
  ``Ambiguous``: the caller must find out what happened instead of sending again (C10);
- a token source: its token is sent on every call, and the first 401 (or what the API
  calls an expired token) makes it fetch a new one and try once more;
- capped reads of every reply body (a hostile or broken server cannot fill memory), and
  redaction of every message: tokens are registered secrets, URLs are shown without
  their query (``?…``), quoted reply bodies are cut and scrubbed (reliability E6, C13).

Sessions are per thread (``requests.Session`` is not thread-safe), so a pool of threads
(the Merchant API's bounded concurrency) can share one client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from feedsync.errors import ConfigError, PublishFatal, PublishRetryable
from feedsync.publishers.common import Deadline, backoff_delay, describe

# The HTTP publisher's reading of Retry-After and of "the request never left" (one place).
from feedsync.publishers.http import _never_sent, _retry_after, read_head
from feedsync.secrets import quote_reply, redact, scrub_exception

log = logging.getLogger("feedsync.api")

RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
NOT_PROCESSED: frozenset[int] = frozenset({429, 503})  # safe to repeat even a POST
MAX_BODY = 4 * 1024 * 1024         # API replies are small JSON documents
MAX_DOWNLOAD = 512 * 1024 * 1024   # a processing report of a 25,000-message feed
SNIPPET = 300
# An error reply is only quoted (and its JSON error read): its first 64 KiB are kept and the
# rest is never read, so a 2 GiB 500 page costs 64 KiB (issue 15, item 14).
MAX_ERROR_BODY = 64 * 1024


class Ambiguous(PublishRetryable):
    """A non-idempotent request was sent and no answer came back: it may have been applied."""


class TokenSource(Protocol):
    """Supplies the access token; ``invalidate`` is called when the API refused it."""

    def headers(self) -> dict[str, str]: ...

    def invalidate(self, refused: Mapping[str, str]) -> None:
        """Forget the token sent in ``refused`` (another thread may have renewed it)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON (an S3 XML error, HTML)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def snippet(self) -> str:
        """The body for a message: one line, cut at 300 characters, secrets masked."""
        return quote_reply(self.body.decode("utf-8", "replace"), SNIPPET)


@dataclass(frozen=True)
class Limits:
    """Timeouts and retry policy of one API channel (``api:`` settings, all optional)."""

    timeout: float = 30.0
    deadline: float = 3600.0
    retries: int = 5
    retry_after_max: float = 300.0
    backoff: float = 1.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], key: str) -> Limits:
        values: dict[str, Any] = {}
        for name, default in (("timeout", 30.0), ("deadline", 3600.0), ("retries", 5),
                              ("retry_after_max", 300.0), ("backoff", 1.0)):
            value = settings.get(name, default)
            whole = name == "retries"
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
                    whole and not isinstance(value, int)):
                kind = "a whole number, 0 or more" if whole else "a number of seconds, 0 or more"
                raise ConfigError(f"must be {kind}", key=f"{key}.{name}")
            values[name] = value
        return cls(**values)


def shown(url: str) -> str:
    """A URL for messages: scheme://host/path, the query replaced by ``?…``."""
    parts = urlsplit(url)
    return redact(f"{parts.scheme}://{parts.netloc}{parts.path}") + ("?…" if parts.query else "")


# Decides, for a reply that is not 2xx, whether to retry: ``True`` (with back-off), a number
# (retry after that many seconds), ``False`` (no retry: hand the reply back) or ``None``
# (the default rules). Lets an API say "this 400 is a rate limit" (Meta) or "this 429 is
# the daily quota, stop now" (Merchant API).
Classifier = Callable[[Reply], float | bool | None]


class ApiClient:
    """Requests with retries, a deadline, a token and redaction; see the module docstring."""

    def __init__(self, limits: Limits, *, auth: TokenSource | None = None,
                 is_auth_failure: Callable[[Reply], bool] | None = None,
                 user_agent: str = "feedsync/0.1 (Language=Python)") -> None:
        self.limits = limits
        self.auth = auth
        self.is_auth_failure = is_auth_failure or (lambda reply: reply.status == 401)
        self.user_agent = user_agent
        self.deadline = Deadline(limits.deadline)
        self._local = threading.local()
        self.calls = 0
        self._count = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False   # no .netrc credentials, no proxy from the environment
            self._local.session = session
        return session

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: bytes | Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, idempotent: bool = True,
                authenticated: bool = True, classify: Classifier | None = None,
                max_body: int = MAX_BODY) -> Reply:
        """Send until a reply that is not retried; return it, whatever its status.

        Raises ``PublishRetryable`` when retries or the deadline run out, ``Ambiguous``
        for a non-idempotent request whose fate is unknown, ``PublishFatal`` when the
        token is refused twice.
        """
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            self.deadline.check(f"before {method} {shown(url)}")
            sent_headers = {"User-Agent": self.user_agent, **(headers or {})}
            auth_headers: dict[str, str] = {}
            if authenticated and self.auth is not None:
                auth_headers = self.auth.headers()
                sent_headers.update(auth_headers)
            reply = self._send(method, url, params, json_body, data, sent_headers,
                               idempotent, attempt, max_body)
            if reply is None:   # a connection failure that may be retried
                self._pause(backoff_delay(self.limits.backoff, attempt), attempt, url,
                            "connection error")
                continue
            if reply.ok:
                return reply
            if authenticated and self.auth is not None and self.is_auth_failure(reply):
                if refreshed:
                    raise PublishFatal(
                        f"credentials rejected by {shown(url)} (HTTP {reply.status}) even "
                        f"with a new token: {reply.snippet()}",
                        tip="check the account's access and the credentials in the api: "
                            "settings")
                log.info("%s %s: token refused (HTTP %d); fetching a new one", method,
                         shown(url), reply.status)
                self.auth.invalidate(auth_headers)
                refreshed = True
                attempt -= 1
                continue
            wait = self._retry_wait(reply, idempotent, classify)
            if wait is None:
                return reply
            if attempt > self.limits.retries:
                raise PublishRetryable(redact(
                    f"HTTP {reply.status} from {shown(url)} after {attempt} attempt(s): "
                    f"{reply.snippet()}"))
            self._pause(wait, attempt, url, f"HTTP {reply.status}")

    def _retry_wait(self, reply: Reply, idempotent: bool,
                    classify: Classifier | None) -> float | None:
        """Seconds to wait before the next try, or ``None``: hand the reply back."""
        verdict = classify(reply) if classify is not None else None
        if verdict is False:
            return None
        retry = verdict is not None or reply.status in (
            RETRY_STATUSES if idempotent else NOT_PROCESSED)
        if not retry:
            if not idempotent and reply.status in RETRY_STATUSES:
                raise Ambiguous(redact(
                    f"HTTP {reply.status} from {shown(reply.url)}: {reply.snippet()}; the "
                    "request may have been applied, so it is not sent again blindly"))
            return None
        after = _retry_after(reply.headers.get("Retry-After"))
        if not isinstance(verdict, bool) and isinstance(verdict, int | float):
            after = float(verdict)
        if after is not None and after > self.limits.retry_after_max:
            busy = "rate limited" if reply.status in (429, 400) else f"HTTP {reply.status}"
            raise PublishRetryable(
                f"{busy}, retry after {after:.0f} s ({shown(reply.url)}; more than "
                f"retry_after_max {self.limits.retry_after_max:g} s)")
        return after if after is not None else -1.0   # -1: the caller's back-off

    def _pause(self, wait: float, attempt: int, url: str, what: str) -> None:
        delay = wait if wait >= 0 else backoff_delay(self.limits.backoff, attempt)
        if attempt > self.limits.retries:
            raise PublishRetryable(f"{what} from {shown(url)} after {attempt} attempt(s)")
        if delay >= self.deadline.remaining():
            raise PublishRetryable(
                f"no time left within the deadline of {self.deadline.seconds:g} s to retry "
                f"{shown(url)} (next try in {delay:.0f} s)")
        log.warning("%s: %s (attempt %d of %d); retrying in %.1f s", shown(url), what, attempt,
                    self.limits.retries + 1, delay)
        time.sleep(delay)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, json_body: Any,
              data: bytes | Mapping[str, str] | None, headers: dict[str, str],
              idempotent: bool, attempt: int, max_body: int) -> Reply | None:
        with self._count:
            self.calls += 1
        timeout = min(self.limits.timeout, max(self.deadline.remaining(), 0.001))
        try:
            response = self._session().request(
                method, url, params=params, json=json_body, data=data, headers=headers,
                timeout=(timeout, timeout), allow_redirects=False, stream=True)
            try:
                if 200 <= response.status_code < 300:
                    body = _read_capped(response, max_body, url)
                else:
                    body = read_head(response, min(max_body, MAX_ERROR_BODY))
            finally:
                response.close()
        except requests.RequestException as exc:
            sent = not _never_sent(exc)
            if not idempotent and sent:
                raise Ambiguous(
                    f"{method} {shown(url)} failed after the request was sent "
                    f"({describe(exc)}); it may have been applied, so it is not sent again "
                    "blindly") from scrub_exception(exc)
            if attempt > self.limits.retries:
                raise PublishRetryable(
                    f"{method} {shown(url)} failed: {describe(exc)}") from scrub_exception(exc)
            log.debug("%s %s failed: %s", method, shown(url), describe(exc))
            return None
        return Reply(response.status_code, response.headers, body, url)


def _read_capped(response: requests.Response, limit: int, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PublishRetryable(f"the reply from {shown(url)} is over {limit:,} bytes; "
                                   "not read further")
        chunks.append(chunk)
    return b"".join(chunks)


def fatal_reply(reply: Reply, what: str) -> PublishFatal:
    """A ``PublishFatal`` for a refused call, quoting the (redacted, cut) reply."""
    if reply.status in (401, 403):
        return PublishFatal(f"credentials rejected by {shown(reply.url)} (HTTP {reply.status}) "
                            f"while {what}: {reply.snippet()}")
    return PublishFatal(f"HTTP {reply.status} from {shown(reply.url)} while {what}: "
                        f"{reply.snippet()}")
