"""Amazon SP-API Feeds 2021-06-30: ``JSON_LISTINGS_FEED`` documents of changed SKUs.

The flow of one feed (Amazon's model, ``../shared/specs/amazon/feeds-api-2021-06-30.openapi.json``,
and ../shared/specs/apis/amazon-sp-api-feeds.md):

1. the feed's messages (``UPDATE`` records from the sink, ``DELETE`` for SKUs that left)
   are written to a staging file and, with their ``messageId`` -> SKU, into the state as
   a *submission*, before anything is sent;
2. ``createFeedDocument`` (201) gives a presigned URL that expires after 5 minutes; the
   document is PUT there with exactly the ``Content-Type`` named in step 2. A URL older
   than 4 minutes, or one the store refuses (403), is replaced by a new document (C11);
3. ``createFeed`` (202) is non-idempotent and rate-limited: it is paced to
   ``submissions_per_window`` per ``window_seconds`` (Amazon: 5 per 5 minutes per region
   for this feed type) and never retried blindly. When its answer is lost, ``getFeeds``
   is asked for a feed created since the submission before anything is sent again (C10);
4. ``getFeed`` is polled with back-off until ``DONE``, ``FATAL`` or ``CANCELLED``;
5. ``DONE``: ``getFeedDocument`` and the processing report (GZIP or not), validated against
   Amazon's ``listings-feed-processing-report-schema-v2.json``. Each ERROR on a message is
   the issue ``amazon-report-error`` on its SKU (the SKU is not marked accepted), each
   WARNING ``amazon-report-warning``; the others are accepted. ``FATAL`` (exit 8) and
   ``CANCELLED`` (exit 6) accept nothing: "some, none, or all of the operations ... may
   have completed", so the next push sends them again (UPDATE and DELETE are idempotent).

A run killed anywhere leaves the submission in the state; the next run finishes it first
(polls the feed, or looks for it with getFeeds) and records its outcome exactly once.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from jsonschema.exceptions import best_match

from feedsync.apis.auth import LWA_TOKEN_URL, LwaRefreshToken
from feedsync.apis.base import POLL_KEYS, Context, Failures, Poller
from feedsync.apis.http import Ambiguous, ApiClient, Reply, fatal_reply, shown
from feedsync.apis.settings import Settings
from feedsync.apis.sink import ApiSink
from feedsync.config import ChannelConfig
from feedsync.deltas import Op, Outcome, Plan, Submission
from feedsync.errors import ConfigError, FeedsyncError, PublishFatal, PublishRetryable
from feedsync.secrets import register_secret
from feedsync.writers.amazon import AmazonListingsWriter, report_validator
from feedsync.writers.base import Layout

log = logging.getLogger("feedsync.api")

BASE_URL: Final = "https://sellingpartnerapi-na.amazon.com"
FEEDS: Final = "/feeds/2021-06-30"
FEED_TYPE: Final = "JSON_LISTINGS_FEED"
KIND: Final = "amazon-feed"
SOURCE: Final = "https://developer-docs.amazon.com/sp-api/docs/listings-feed-type-values"
REPORT_SOURCE: Final = ("https://github.com/amzn/selling-partner-api-models/blob/main/schemas/"
                        "feeds/listings-feed-processing-report-schema-v2.json")
URL_LIFETIME: Final = 240.0     # Amazon: the upload URL expires after 5 minutes
TERMINAL: Final = frozenset({"DONE", "FATAL", "CANCELLED"})
KEYS: Final = frozenset({
    "client_id", "client_secret_env", "client_secret_file", "refresh_token_env",
    "refresh_token_file", "token_url", "content_type", "max_messages", "max_bytes",
    "submissions_per_window", "window_seconds"}) | POLL_KEYS


class AmazonFeeds:
    """The ``amazon_feeds`` API channel (see the module docstring)."""

    kind = "amazon_feeds"

    def __init__(self, raw: Mapping[str, Any], key: str, target: ChannelConfig) -> None:
        settings = Settings(raw, key, KEYS)
        self.settings = settings
        listings = dict(target.options.get("listings", {}))
        self.seller_id = str(listings.get("seller_id") or "")
        self.marketplace_id = str(listings.get("marketplace_id") or "")
        if not self.seller_id or not self.marketplace_id:
            raise ConfigError("the SP-API push needs the listings feed's seller_id and "
                              "marketplace_id", key=f"channels.{target.name}.options.listings",
                              tip="see docs/amazon.md, Setting it up")
        self.base_url = settings.url("base_url", BASE_URL)
        self.content_type = settings.text("content_type", "application/json")
        self.max_messages = settings.whole("max_messages", 25_000, 1, 25_000)
        self.max_bytes = settings.whole("max_bytes", 10 * 1024 * 1024, 4096, 10 * 1024 * 1024)
        self.per_window = settings.whole("submissions_per_window", 5, 1, 1000)
        self.window = settings.number("window_seconds", 300, 0, 3600)
        self.poller = Poller.from_settings(settings, 30, 300, 3600)
        self.keepalive = settings.keepalive(0)
        self.hold_after = settings.hold_after()
        self.base_output: str | None = "listings"
        self.target_id = f"{target.name}|amazon_feeds|{self.seller_id}|{self.marketplace_id}"
        self.describe = f"SP-API {FEED_TYPE} ({self.marketplace_id})"
        self.client = ApiClient(settings.limits, is_auth_failure=_expired_token)
        self.client.auth = LwaRefreshToken(
            self.client, client_id=settings.text("client_id", what="the LWA client id"),
            client_secret=settings.secret("client_secret", "the LWA client secret"),
            refresh_token=settings.secret("refresh_token", "the LWA refresh token"),
            token_url=settings.url("token_url", LWA_TOKEN_URL))
        self.writer: AmazonListingsWriter | None = None
        self._sent: deque[float] = deque()
        self._failures = Failures()

    # --- build time -------------------------------------------------------------------------

    def make_sink(self, layout: Layout) -> ApiSink:
        self.writer = AmazonListingsWriter(layout)
        return ApiSink(layout, self.convert, by_header=False)

    def convert(self, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        assert self.writer is not None
        message = self.writer.update_message(item)
        del message["messageId"]   # numbered per feed when it is sent
        return str(message["sku"]), message

    # --- push time --------------------------------------------------------------------------

    def resolve(self, ctx: Context) -> None:
        """Finish what an earlier run submitted; raise if a feed is still processing."""
        for submission in ctx.store.submissions(KIND):
            ctx.counts.resolved += 1
            self._settle(ctx, submission, earlier=True)
        self._failures.raise_worst()

    def send(self, ctx: Context, plan: Plan) -> None:
        for path, items in self._documents(ctx, plan):
            number = ctx.store.add_submission(
                ctx.run_id, KIND, {"messages": len(items), "file": path.name}, items)
            ctx.counts.submissions += 1
            ctx.counts.sent += sum(1 for item in items if item[2] == "upsert")
            self._submit(ctx, number, path, len(items))
        for submission in ctx.store.submissions(KIND):
            self._settle(ctx, submission, earlier=False)
        self._failures.raise_worst()

    # --- documents ------------------------------------------------------------------------

    def _documents(self, ctx: Context, plan: Plan
                   ) -> Iterator[tuple[Path, list[tuple[int, str, Op, bytes | None]]]]:
        """Feed documents of at most ``max_messages`` messages and ``max_bytes`` bytes."""
        assert self.writer is not None
        head = b'{"header":' + json.dumps(self.writer.header, ensure_ascii=False).encode(
            "utf-8") + b',"messages":[\n'
        tail = b"\n]}\n"
        number = 0
        path = ctx.staging / "amazon-feed.json"
        items: list[tuple[int, str, Op, bytes | None]] = []
        out = None
        size = 0
        messages = self._messages(plan)
        try:
            for key, op, digest, body in messages:
                line_length = len(body) + 24
                if out is not None and (len(items) >= self.max_messages or
                                        size + line_length + len(tail) > self.max_bytes):
                    out.write(tail)
                    out.close()
                    out = None
                    yield path, items
                    items = []
                if out is None:
                    number += 1
                    path = ctx.staging / f"amazon-feed-{ctx.run_id}-{number}.json"
                    out = path.open("wb")
                    out.write(head)
                    size = len(head)
                seq = len(items) + 1
                line = (b"" if seq == 1 else b",\n") + b'{"messageId":%d,%s' % (seq, body[1:])
                out.write(line)
                size += len(line)
                items.append((seq, key, op, digest))
            if out is not None:
                out.write(tail)
                out.close()
                out = None
                yield path, items
        finally:
            if out is not None:
                out.close()

    def _messages(self, plan: Plan) -> Iterator[tuple[str, Op, bytes | None, bytes]]:
        for send in plan.sends():
            yield send.key, "upsert", send.hash, send.record
        for key in plan.delete_keys():
            body = json.dumps({"sku": key, "operationType": "DELETE"},
                              ensure_ascii=False).encode("utf-8")
            yield key, "delete", None, body

    # --- submission -----------------------------------------------------------------------

    def _submit(self, ctx: Context, submission: int, path: Path, count: int) -> None:
        data = path.read_bytes()
        document = self._upload(ctx, data)
        submitted = _iso(time.time())
        detail = {"document": document, "submitted_at": submitted, "messages": count}
        ctx.store.update_submission(submission, detail=detail)
        self._pace()
        url = f"{self.base_url}{FEEDS}/feeds"
        body = {"feedType": FEED_TYPE, "marketplaceIds": [self.marketplace_id],
                "inputFeedDocumentId": document}
        try:
            reply = self.client.request("POST", url, json_body=body, idempotent=False)
        except Ambiguous as exc:
            log.warning("createFeed: %s; looking for the feed with getFeeds", exc.message)
            found = self._find_feed(submitted)
            if found is None:
                log.info("no feed was created; submitting the document again")
                reply = self.client.request("POST", url, json_body=body, idempotent=False)
            else:
                ctx.store.update_submission(submission, handle=found)
                return
        if reply.status != 202:
            raise fatal_reply(reply, "creating the feed (createFeed)")
        feed_id = (reply.json() or {}).get("feedId")
        if not isinstance(feed_id, str) or not feed_id:
            raise PublishRetryable(f"createFeed at {shown(url)} answered without a feedId")
        ctx.store.update_submission(submission, handle=feed_id)
        log.info("submitted feed %s (%s messages)", feed_id, detail["messages"])

    def _upload(self, ctx: Context, data: bytes) -> str:
        """createFeedDocument + PUT; a new document when the URL expired (C11)."""
        for attempt in range(1, 4):
            url = f"{self.base_url}{FEEDS}/documents"
            reply = self.client.request("POST", url, json_body={"contentType": self.content_type})
            if reply.status != 201:
                raise fatal_reply(reply, "creating a feed document (createFeedDocument)")
            answer = reply.json() or {}
            document, target = answer.get("feedDocumentId"), answer.get("url")
            if not isinstance(document, str) or not isinstance(target, str):
                raise PublishRetryable(f"createFeedDocument at {shown(url)} answered without "
                                       "a document id and URL")
            _register_url(target)
            created = ctx.clock()
            put = self.client.request("PUT", target, data=data, authenticated=False,
                                      headers={"Content-Type": self.content_type})
            if put.ok:
                return document
            if put.status == 403 or ctx.clock() - created > URL_LIFETIME:
                log.warning("upload to %s refused (HTTP %d, attempt %d): %s; asking for a new "
                            "document", shown(target), put.status, attempt, put.snippet())
                continue
            raise fatal_reply(put, "uploading the feed document")
        raise PublishRetryable("the feed document could not be uploaded: the store refused "
                               "three fresh upload URLs")

    def _pace(self) -> None:
        """At most ``per_window`` createFeed calls in any ``window`` seconds (this run)."""
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) >= self.per_window:
            wait = self.window - (now - self._sent[0])
            if wait >= self.client.deadline.remaining():
                raise PublishRetryable(f"the next feed may be submitted in {wait:.0f} s "
                                       "(Amazon's rate limit), after the run's deadline")
            log.info("pacing: waiting %.0f s before the next createFeed", wait)
            time.sleep(max(wait, 0))
            self._sent.popleft()
        self._sent.append(time.monotonic())

    def _find_feed(self, since: str) -> str | None:
        """The feed a lost createFeed answer may have created: the earliest of this feed
        type and marketplace created since the submission (minus 5 minutes of clock skew)."""
        start = datetime.fromisoformat(since) - timedelta(minutes=5)
        params = {"feedTypes": FEED_TYPE, "marketplaceIds": self.marketplace_id,
                  "createdSince": _iso(start.timestamp()), "pageSize": 100}
        reply = self.client.request("GET", f"{self.base_url}{FEEDS}/feeds", params=params)
        if not reply.ok:
            raise fatal_reply(reply, "looking for the feed (getFeeds)")
        feeds = [f for f in (reply.json() or {}).get("feeds") or []
                 if isinstance(f, dict) and f.get("feedId")]
        feeds.sort(key=lambda f: str(f.get("createdTime", "")))
        return str(feeds[0]["feedId"]) if feeds else None

    # --- waiting and the report --------------------------------------------------------------

    def _settle(self, ctx: Context, submission: Submission, earlier: bool) -> None:
        handle = submission.handle
        if handle is None:
            since = submission.detail.get("submitted_at")
            handle = self._find_feed(since) if since else None
            if handle is None:   # never reached Amazon: its items go in this run's plan
                ctx.store.drop_submission(submission.id)
                return
            ctx.store.update_submission(submission.id, handle=handle)
        feed = self._wait(handle)
        if feed is None:
            self._failures.add(PublishRetryable(
                f"Amazon is still processing feed {handle} after {self.poller.timeout:g} s; "
                "the next push checks it again before sending anything new"))
            return
        try:
            self._finish(ctx, submission, feed)
        except FeedsyncError as exc:
            self._failures.add(exc)
        if earlier:
            log.info("resolved feed %s of run %d: %s", handle, submission.run_id,
                     feed.get("processingStatus"))

    def _wait(self, feed_id: str) -> dict[str, Any] | None:
        url = f"{self.base_url}{FEEDS}/feeds/{feed_id}"

        def check() -> dict[str, Any] | None:
            reply = self.client.request("GET", url)
            if not reply.ok:
                raise fatal_reply(reply, f"reading feed {feed_id} (getFeed)")
            feed = reply.json() or {}
            return dict(feed) if feed.get("processingStatus") in TERMINAL else None

        return self.poller.wait(check)

    def _finish(self, ctx: Context, submission: Submission, feed: Mapping[str, Any]) -> None:
        status, feed_id = feed.get("processingStatus"), str(feed.get("feedId"))
        items = ctx.store.submission_items(submission.id)
        if status != "DONE":
            ctx.store.resolve(submission.id, [])
            ctx.counts.rejected += sum(1 for item in items if item[2] == "upsert")
            if status == "CANCELLED":
                raise PublishRetryable(f"Amazon cancelled feed {feed_id} before processing "
                                       "it; the next push sends its messages again")
            raise PublishFatal(
                f"Amazon ended feed {feed_id} FATAL: some, none or all of its "
                f"{len(items)} messages may have been applied; the next push sends them again",
                tip="check the feed in Seller Central; a FATAL feed is often a malformed "
                    "document or an account problem")
        document = feed.get("resultFeedDocumentId")
        if not isinstance(document, str):
            raise PublishRetryable(f"feed {feed_id} is DONE without a processing report yet; "
                                   "the next push reads it")
        report = self._report(document)
        ctx.store.resolve(submission.id, self._outcomes(ctx, items, report))

    def _report(self, document: str) -> dict[str, Any]:
        reply = self.client.request("GET", f"{self.base_url}{FEEDS}/documents/{document}")
        if not reply.ok:
            raise fatal_reply(reply, "reading the processing report (getFeedDocument)")
        answer = reply.json() or {}
        url = answer.get("url")
        if not isinstance(url, str):
            raise PublishRetryable("getFeedDocument answered without a URL")
        _register_url(url)
        download = self.client.request("GET", url, authenticated=False,
                                       max_body=512 * 1024 * 1024)
        if not download.ok:
            raise fatal_reply(download, "downloading the processing report")
        data = download.body
        # GZIP as announced; the magic bytes guard against a client or proxy that already
        # decompressed it (Content-Encoding), which made other clients unzip twice.
        if answer.get("compressionAlgorithm") == "GZIP" and data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            report = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PublishFatal(f"the processing report of document {document} is not JSON: "
                               f"{exc}") from None
        error = best_match(report_validator().iter_errors(report))
        if error is not None:
            raise PublishFatal(f"the processing report of document {document} does not follow"
                               f" Amazon's schema: {error.json_path}: {error.message[:200]}")
        return dict(report)

    def _outcomes(self, ctx: Context, items: list[tuple[int, str, Op, bytes | None]],
                  report: Mapping[str, Any]) -> list[Outcome]:
        by_message: dict[int, list[Mapping[str, Any]]] = {}
        feed_errors = []
        for issue in report.get("issues") or []:
            if "messageId" in issue:
                by_message.setdefault(int(issue["messageId"]), []).append(issue)
            else:
                feed_errors.append(issue)
                ctx.issues.add("amazon-report-error" if issue["severity"] == "ERROR" else
                               "amazon-report-warning",
                               "error" if issue["severity"] == "ERROR" else "warning",
                               f"feed-level: {issue['message']}", None, source=REPORT_SOURCE)
        none_accepted = report["summary"]["messagesAccepted"] == 0 and any(
            i["severity"] == "ERROR" for i in feed_errors)
        outcomes = []
        for seq, key, op, digest in items:
            issues = by_message.get(seq, [])
            errors = [i for i in issues if i["severity"] == "ERROR"]
            for issue in issues:
                self._issue(ctx, key, issue)
            refused = bool(errors) or none_accepted
            reason = "; ".join(f"{i.get('code', '')} {i['message']}".strip()
                               for i in errors) or "the feed was refused as a whole"
            outcomes.append(Outcome(key, op, digest, accepted=not refused,
                                    reason=reason if refused else None))
            ctx.counts.tally(op, not refused)
        return outcomes

    @staticmethod
    def _issue(ctx: Context, sku: str, issue: Mapping[str, Any]) -> None:
        severity = issue["severity"]
        code = f" {issue['code']}" if issue.get("code") else ""
        attribute = issue.get("attributeName")
        where = f" ({attribute})" if attribute else ""
        if severity == "ERROR":
            ctx.issues.add("amazon-report-error", "error",
                           f"Amazon refused the listing: {issue['message']}{where} "
                           f"[Amazon{code}]", sku, field=attribute, source=REPORT_SOURCE)
        else:
            ctx.issues.add("amazon-report-warning",
                           "warning" if severity == "WARNING" else "hint",
                           f"Amazon: {issue['message']}{where} [Amazon{code}]", sku,
                           field=attribute, source=REPORT_SOURCE)
            ctx.counts.warnings += 1


def _expired_token(reply: Reply) -> bool:
    """SP-API answers a revoked or expired token with 403 ``Unauthorized`` (or 401)."""
    if reply.status == 401:
        return True
    if reply.status != 403:
        return False
    body = reply.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") in ("Unauthorized", "InvalidToken") for e in errors)


def _register_url(url: str) -> None:
    """A presigned URL is a credential: register its signature as a secret."""
    for name, values in parse_qs(urlsplit(url).query).items():
        if any(part in name.lower() for part in ("signature", "credential", "token")):
            for value in values:
                register_secret(value)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
