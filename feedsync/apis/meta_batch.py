"""Meta catalog Batch API: ``POST /{catalog_id}/items_batch`` and its status handles.

Wire shapes (../shared/specs/apis/meta-catalog-batch.md): a JSON body
``{"item_type": "PRODUCT_ITEM", "allow_upsert": true, "requests": [{"method": "CREATE" |
"UPDATE" | "DELETE", "data": {"id": <retailer id>, ...feed fields...}}]}`` with
``Authorization: Bearer <token>``; at most 5,000 requests and 28 MB per call (Meta advises
under 3,000: ``chunk_size`` defaults to 3,000). A new product is a ``CREATE``, a changed
or kept-alive one an ``UPDATE``, a product that left a ``DELETE`` (only ``data.id``).

The reply is HTTP 200 even when items fail: ``validation_status[].errors`` (refused at
once) and later ``check_batch_request_status`` (``errors`` / ``warnings`` per item, polled
until ``status`` is ``finished``). Each becomes ``meta-batch-error`` / ``meta-batch-warning``
on that product; only the others are marked accepted. The batch and its items are written
down before it is sent and its handle as soon as Meta answers, so a run killed while
waiting resolves the handle next time. A lost answer to the POST itself cannot be looked
up (Meta has no list of handles): its items are simply sent again next run, which is safe
for UPDATE and DELETE (``allow_upsert``); a CREATE that finds the item exists fails and is
sent as an UPDATE the run after.

Graph errors (``{"error": {"code", "message", ...}}``): 190 is a refused token (final);
4, 17, 32, 613, 80001, 80004, 80009 and 80014 (Catalog Batch) are rate limits and are
retried after ``estimated_time_to_regain_access`` (minutes) or with back-off; 1 and 2 are
transient. The Graph API version is a setting (``graph_version``, default ``v27.0``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

from feedsync.apis.auth import StaticToken
from feedsync.apis.base import POLL_KEYS, Context, Failures, Poller
from feedsync.apis.http import Ambiguous, ApiClient, Reply, fatal_reply
from feedsync.apis.settings import Settings
from feedsync.apis.sink import ApiSink, dumps
from feedsync.config import ChannelConfig
from feedsync.deltas import Op, Outcome, Plan, Submission
from feedsync.errors import FeedsyncError, PublishFatal, PublishRetryable
from feedsync.secrets import quote_reply
from feedsync.writers.base import Layout

log = logging.getLogger("feedsync.api")

BASE_URL: Final = "https://graph.facebook.com"
# The current version (released 2026-11-04 for the Graph and Marketing APIs). Marketing API
# versions expire about a year after release (v25.0 on 2027-02-23): set graph_version to
# move on without a new feedsync.
GRAPH_VERSION: Final = "v27.0"
KIND: Final = "meta-batch"
SOURCE: Final = ("https://developers.facebook.com/docs/marketing-api/reference/product-catalog/"
                 "items_batch/")
STATUS_SOURCE: Final = ("https://developers.facebook.com/docs/marketing-api/reference/"
                        "product-catalog/check_batch_request_status/")
RATE_CODES: Final = frozenset({4, 17, 32, 613, 80001, 80004, 80009, 80014})
TRANSIENT_CODES: Final = frozenset({1, 2})
KEYS: Final = frozenset({"catalog_id", "access_token_env", "access_token_file", "graph_version",
                         "chunk_size", "max_bytes"}) | POLL_KEYS


class MetaBatch:
    """The ``meta_batch`` API channel (see the module docstring)."""

    kind = "meta_batch"

    def __init__(self, raw: Mapping[str, Any], key: str, target: ChannelConfig) -> None:
        settings = Settings(raw, key, KEYS)
        self.catalog_id = settings.text("catalog_id", pattern=r"\d+",
                                        what="the catalog id (digits)")
        self.version = settings.text("graph_version", GRAPH_VERSION, r"v\d+\.\d+",
                                     "a Graph API version such as v27.0")
        self.base_url = settings.url("base_url", BASE_URL)
        self.chunk_size = settings.whole("chunk_size", 3000, 1, 5000)
        self.max_bytes = settings.whole("max_bytes", 20 * 1024 * 1024, 4096, 28 * 1000 * 1000)
        self.poller = Poller.from_settings(settings, 5, 60, 1800)
        self.keepalive = settings.keepalive(0)
        self.hold_after = settings.hold_after()
        self.base_output: str | None = None
        self.target_id = f"{target.name}|meta_batch|{self.catalog_id}"
        self.describe = f"Meta catalog {self.catalog_id} (Graph {self.version})"
        token = settings.secret("access_token", "a Meta access token")
        self.client = ApiClient(settings.limits, auth=StaticToken(token, "Meta access token"),
                                is_auth_failure=_token_refused)
        self._failures = Failures()

    def _url(self, edge: str) -> str:
        return f"{self.base_url}/{self.version}/{self.catalog_id}/{edge}"

    # --- build time -------------------------------------------------------------------------

    def make_sink(self, layout: Layout) -> ApiSink:
        return ApiSink(layout, self.convert)

    @staticmethod
    def convert(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Feed field names and value formats ("24.00 USD", "in stock"); a repeated field
        # is written as in Meta's CSV feed, comma-separated.
        data = {k: ",".join(v) if isinstance(v, list) else v for k, v in item.items()}
        return str(item.get("id") or ""), data

    # --- push time --------------------------------------------------------------------------

    def resolve(self, ctx: Context) -> None:
        for submission in ctx.store.submissions(KIND):
            ctx.counts.resolved += 1
            self._settle(ctx, submission)
        self._failures.raise_worst()

    def send(self, ctx: Context, plan: Plan) -> None:
        for requests, items in self._chunks(plan):
            number = ctx.store.add_submission(ctx.run_id, KIND, {"requests": len(items)}, items)
            ctx.counts.submissions += 1
            ctx.counts.sent += sum(1 for item in items if item[2] == "upsert")
            self._post(ctx, number, requests, items)
        for submission in ctx.store.submissions(KIND):
            self._settle(ctx, submission)
        self._failures.raise_worst()

    def _chunks(self, plan: Plan
                ) -> Iterator[tuple[list[bytes], list[tuple[int, str, Op, bytes | None]]]]:
        requests: list[bytes] = []
        items: list[tuple[int, str, Op, bytes | None]] = []
        size = 0
        for key, op, digest, body in self._requests(plan):
            if requests and (len(requests) >= self.chunk_size or
                             size + len(body) > self.max_bytes - 1024):
                yield requests, items
                requests, items, size = [], [], 0
            requests.append(body)
            items.append((len(items) + 1, key, op, digest))
            size += len(body) + 1
        if requests:
            yield requests, items

    @staticmethod
    def _requests(plan: Plan) -> Iterator[tuple[str, Op, bytes | None, bytes]]:
        for send in plan.sends():
            method = b"CREATE" if send.reason == "new" else b"UPDATE"
            yield send.key, "upsert", send.hash, b'{"method":"%s","data":%s}' % (method,
                                                                                 send.record)
        for key in plan.delete_keys():
            yield key, "delete", None, dumps({"method": "DELETE", "data": {"id": key}})

    def _post(self, ctx: Context, submission: int, requests: list[bytes],
              items: list[tuple[int, str, Op, bytes | None]]) -> None:
        body = (b'{"item_type":"PRODUCT_ITEM","allow_upsert":true,"requests":['
                + b",".join(requests) + b"]}")
        try:
            reply = self.client.request("POST", self._url("items_batch"), data=body,
                                        headers={"Content-Type": "application/json"},
                                        idempotent=False, classify=_graph_retry)
        except Ambiguous as exc:
            # No way to look the batch up: its items are sent again next run (see above).
            log.warning("items_batch: %s; its %d items are sent again next run", exc.message,
                        len(items))
            ctx.store.drop_submission(submission)
            self._failures.add(exc)
            return
        if not reply.ok:
            ctx.store.drop_submission(submission)
            raise _graph_error(reply, "sending a batch (items_batch)")
        answer = reply.json() or {}
        by_key = {item[1]: item for item in items}
        refused: dict[str, str] = {}
        for status in answer.get("validation_status") or []:
            retailer = str(status.get("retailer_id", ""))
            for error in status.get("errors") or []:
                refused[retailer] = quote_reply(str(error.get("message", "refused")))
                ctx.issues.add("meta-batch-error", "error",
                               f"Meta refused the item: {refused[retailer]}", retailer,
                               source=SOURCE)
            for warning in status.get("warnings") or []:
                ctx.counts.warnings += 1
                ctx.issues.add("meta-batch-warning", "warning",
                               f"Meta: {quote_reply(str(warning.get('message', '')))}", retailer,
                               source=SOURCE)
        handles = answer.get("handles") or []
        if refused:
            # Refused at once: recorded now; the rest waits for the handle.
            ctx.store.record(self._refusals(ctx, by_key, refused))
        if not handles:
            ctx.store.resolve(submission, [])
            if len(refused) < len(items):
                self._failures.add(PublishRetryable(
                    "Meta answered items_batch without a handle: nothing was ingested; the "
                    "items are sent again next run"))
            return
        ctx.store.update_submission(submission, handle=str(handles[0]),
                                    detail={"requests": len(items), "refused": sorted(refused)})

    def _refusals(self, ctx: Context, by_key: Mapping[str, tuple[int, str, Op, bytes | None]],
                  refused: Mapping[str, str]) -> list[Outcome]:
        outcomes = []
        for key, reason in refused.items():
            item = by_key.get(key)
            if item is None:
                continue
            outcomes.append(Outcome(key, item[2], item[3], accepted=False, reason=reason))
            ctx.counts.tally(item[2], False)
        return outcomes

    # --- handles ---------------------------------------------------------------------------

    def _settle(self, ctx: Context, submission: Submission) -> None:
        if submission.handle is None:   # the POST's answer never came back
            ctx.store.drop_submission(submission.id)
            return
        try:
            status = self._wait(submission.handle)
        except FeedsyncError as exc:
            self._failures.add(exc)
            return
        if status is None:
            self._failures.add(PublishRetryable(
                f"Meta is still processing batch {submission.handle} after "
                f"{self.poller.timeout:g} s; the next push checks it again"))
            return
        items = ctx.store.submission_items(submission.id)
        refused = set(submission.detail.get("refused") or [])
        errors = self._per_item(status.get("errors"))
        warnings = self._per_item(status.get("warnings"))
        outcomes = []
        for _seq, key, op, digest in items:
            if key in refused:
                continue    # recorded when Meta answered the POST
            for message in warnings.get(key, []):
                ctx.counts.warnings += 1
                ctx.issues.add("meta-batch-warning", "warning", f"Meta: {message}", key,
                               source=STATUS_SOURCE)
            if key in errors:
                for message in errors[key]:
                    ctx.issues.add("meta-batch-error", "error",
                                   f"Meta refused the item: {message}", key,
                                   source=STATUS_SOURCE)
                outcomes.append(Outcome(key, op, digest, accepted=False,
                                        reason="; ".join(errors[key])))
            else:
                outcomes.append(Outcome(key, op, digest, accepted=True))
            ctx.counts.tally(op, key not in errors)
        ctx.store.resolve(submission.id, outcomes)

    @staticmethod
    def _per_item(entries: Any) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for entry in entries or []:
            if isinstance(entry, dict) and entry.get("id") is not None:
                found.setdefault(str(entry["id"]), []).append(
                    quote_reply(str(entry.get("message", ""))))
        return found

    def _wait(self, handle: str) -> dict[str, Any] | None:
        def check() -> dict[str, Any] | None:
            reply = self.client.request(
                "GET", self._url("check_batch_request_status"), classify=_graph_retry,
                params={"handle": handle, "load_ids_of_invalid_requests": "true"})
            if not reply.ok:
                raise _graph_error(reply, f"checking batch {handle}")
            data = (reply.json() or {}).get("data") or [{}]
            status = data[0] if isinstance(data[0], dict) else {}
            if status.get("status") == "error":
                raise PublishRetryable(f"Meta reports batch {handle} failed as a whole: "
                                       f"{json.dumps(status.get('errors'))[:300]}")
            return dict(status) if status.get("status") == "finished" else None

        return self.poller.wait(check)


def _graph_code(reply: Reply) -> int | None:
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _token_refused(reply: Reply) -> bool:
    return _graph_code(reply) == 190 or reply.status == 401


def _graph_retry(reply: Reply) -> float | bool | None:
    """Rate-limit and transient Graph errors arrive as 4xx with a code: retry those."""
    code = _graph_code(reply)
    if code in RATE_CODES:
        return _regain_seconds(reply) or True
    if code in TRANSIENT_CODES:
        return True
    if code is not None:
        return False
    return None


def _regain_seconds(reply: Reply) -> float | None:
    """``estimated_time_to_regain_access`` (minutes) from the usage headers, as seconds."""
    for header in ("X-Business-Use-Case-Usage", "X-App-Usage"):
        raw = reply.headers.get(header)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries = [usage] if isinstance(usage, dict) and "call_count" in usage else [
            e for v in (usage.values() if isinstance(usage, dict) else [])
            for e in (v if isinstance(v, list) else [v]) if isinstance(e, dict)]
        minutes = [e.get("estimated_time_to_regain_access") for e in entries]
        found = [float(m) for m in minutes if isinstance(m, int | float) and m > 0]
        if found:
            return max(found) * 60
    return None


def _graph_error(reply: Reply, what: str) -> FeedsyncError:
    code = _graph_code(reply)
    if code == 1:
        return PublishFatal(f"Meta refused the batch as too large while {what}: "
                            f"{reply.snippet()}", tip="lower chunk_size or max_bytes in api:")
    return fatal_reply(reply, what)
