"""A stand-in for Login with Amazon and the SP-API Feeds API 2021-06-30, on 127.0.0.1.

Requests are validated against Amazon's own files in ../shared/specs/amazon/ (copied into
channel_templates/amazon/ where feedsync ships them): request bodies against the
OpenAPI model's definitions (``CreateFeedDocumentSpecification``, ``CreateFeedSpecification``),
every reply of its own against the model's response definitions, the uploaded document
against ``listings-feed-schema-v2.json`` (an invalid document ends FATAL, as on Amazon), and
the processing report it writes against ``listings-feed-processing-report-schema-v2.json``.

It behaves like the service: LWA tokens that expire (``expire_tokens``), 403
``Unauthorized`` for a bad token, presigned upload URLs signed with the content type that
expire after 300 s of its clock (403 XML ``SignatureDoesNotMatch`` / ``AccessDenied``),
createFeed paced to ``per_window`` per ``window`` seconds (429 ``QuotaExceeded``), feeds
``IN_QUEUE`` -> ``IN_PROGRESS`` -> ``DONE``/``FATAL`` over ``polls_to_done`` getFeed calls
(``hold`` keeps them in progress), SKUs in ``error_skus`` refused in the report, GZIP
reports, and ``stall_create_feed`` (records the feed, then answers too late: C10).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jsonschema import Draft4Validator, Draft7Validator

from tests.servers.api_base import Reply, Request, StandIn, json_reply

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "channel_templates" / "amazon"    # Amazon's feed and report schemas
MODEL_FILE = REPO / "tests" / "fixtures" / "amazon" / "feeds-api-2021-06-30.openapi.json"


def _load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


# Amazon's Feeds API model, byte for byte ../shared/specs/amazon/ (tests/test_api_amazon.py).
MODEL = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
FEED_SCHEMA = Draft7Validator(_load("listings-feed-schema-v2.json"))
REPORT_SCHEMA = Draft7Validator(_load("listings-feed-processing-report-schema-v2.json"))
FEEDS = "/feeds/2021-06-30"


def _definition(name: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": MODEL["definitions"]})


def errors(status: int, code: str, message: str, details: str = "") -> Reply:
    return json_reply(status, {"errors": [{"code": code, "message": message,
                                           "details": details}]})


def s3_error(code: str, message: str) -> Reply:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
    return Reply(403, body, {"Content-Type": "application/xml"})


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


class AmazonStandIn(StandIn):
    def __init__(self, client_id: str, client_secret: str, refresh_token: str,
                 seller_id: str = "A1EXAMPLE0SELLER", marketplace: str = "ATVPDKIKX0DER"
                 ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.refresh_token = (client_id, client_secret,
                                                                  refresh_token)
        self.seller_id, self.marketplace = seller_id, marketplace
        self.signing_key = secrets.token_bytes(16)
        self.tokens: dict[str, float] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.listings: dict[str, dict[str, Any]] = {}
        self.messages: list[tuple[str, str, str]] = []   # (feedId, sku, operationType)
        self.error_skus: dict[str, tuple[str, str, str]] = {}
        self.warn_skus: dict[str, str] = {}
        self.fatal_next = False
        self.cancel_next = False
        self.polls_to_done = 2
        self.hold = threading.Event()
        self.hold.set()
        self.gzip_reports = True
        self.per_window = 5
        self.window = 300.0
        self.submitted: list[float] = []
        self.stall_create_feed = 0.0
        self.expire_next_upload = False

    # --- helpers for tests ----------------------------------------------------------------

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def operations(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(sku, op) for _, sku, op in self.messages]

    def create_feed_calls(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST" and r.path == f"{FEEDS}/feeds")

    # --- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.path == "/auth/o2/token":
            return self._token(request)
        if request.path.startswith("/upload/"):
            return self._upload(request)
        if request.path.startswith("/download/"):
            return self._download(request)
        if not request.path.startswith(FEEDS):
            return self.refuse(errors(404, "NotFound", "Resource not found"),
                               f"unknown path {request.path}")
        denied = self._auth(request)
        if denied is not None:
            return denied
        tail = request.path[len(FEEDS):]
        if tail == "/documents" and request.method == "POST":
            return self._create_document(request)
        if tail == "/feeds" and request.method == "POST":
            return self._create_feed(request)
        if tail == "/feeds" and request.method == "GET":
            return self._get_feeds(request)
        if tail.startswith("/feeds/") and request.method == "GET":
            return self._get_feed(tail[len("/feeds/"):])
        if tail.startswith("/documents/") and request.method == "GET":
            return self._get_document(tail[len("/documents/"):])
        return self.refuse(errors(400, "InvalidInput", "unsupported operation"),
                           f"unsupported {request.method} {request.path}")

    def _checked(self, reply: Reply, definition: str) -> Reply:
        for error in _definition(definition).iter_errors(json.loads(reply.body)):
            self.problems.append(f"stand-in reply fails {definition}: {error.message}")
        return reply

    def _token(self, request: Request) -> Reply:
        content_type = request.header("Content-Type") or ""
        if request.method != "POST" or not content_type.startswith(
                "application/x-www-form-urlencoded"):
            return self.refuse(json_reply(400, {"error": "invalid_request"}), "LWA not a form")
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "refresh_token" or "scope" in form:
            return self.refuse(json_reply(400, {"error": "unsupported_grant_type"}),
                               f"LWA form {sorted(form)}")
        if form.get("client_id") != self.client_id or form.get(
                "client_secret") != self.client_secret:
            return json_reply(401, {"error": "invalid_client",
                                    "error_description": "Client authentication failed"})
        if form.get("refresh_token") != self.refresh_token:
            return json_reply(400, {"error": "invalid_grant",
                                    "error_description": "The request has an invalid grant "
                                    "parameter : refresh_token"})
        token = "Atza|" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = self.now() + 3600
        return json_reply(200, {"access_token": token, "token_type": "bearer",
                                "expires_in": 3600, "refresh_token": self.refresh_token})

    def _auth(self, request: Request) -> Reply | None:
        token = request.header("x-amz-access-token")
        with self.lock:
            expiry = self.tokens.get(token or "")
        if token is None:
            return self.refuse(errors(403, "Unauthorized", "Access to requested resource is "
                                      "denied.", "Missing x-amz-access-token"),
                               "no x-amz-access-token")
        if expiry is None or expiry < self.now():
            return errors(403, "Unauthorized", "Access to requested resource is denied.",
                          "The access token you provided is revoked, malformed or invalid.")
        return None

    def _body(self, request: Request, definition: str) -> tuple[Any, Reply | None]:
        if not (request.header("Content-Type") or "").startswith("application/json"):
            return None, self.refuse(errors(415, "InvalidInput", "Unsupported media type"),
                                     f"{definition}: content type")
        try:
            body = request.json()
        except ValueError:
            return None, self.refuse(errors(400, "InvalidInput", "Malformed JSON"),
                                     f"{definition}: not JSON")
        problem = next(iter(_definition(definition).iter_errors(body)), None)
        if problem is not None:
            return None, self.refuse(errors(400, "InvalidInput", problem.message),
                                     f"{definition}: {problem.message}")
        return body, None

    def _signature(self, document: str, content_type: str) -> str:
        return hmac.new(self.signing_key, f"{document}\n{content_type}".encode(),
                        hashlib.sha256).hexdigest()

    def _presigned(self, kind: str, document: str, content_type: str) -> str:
        return (self.url(f"/{kind}/{document}") + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                "&X-Amz-Expires=300&X-Amz-SignedHeaders=content-type%3Bhost"
                f"&X-Amz-Signature={self._signature(document, content_type)}")

    def _create_document(self, request: Request) -> Reply:
        body, problem = self._body(request, "CreateFeedDocumentSpecification")
        if problem is not None:
            return problem
        document = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        with self.lock:
            self.documents[document] = {"content_type": body["contentType"],
                                        "created": self.now(), "data": None}
        return self._checked(json_reply(201, {
            "feedDocumentId": document,
            "url": self._presigned("upload", document, body["contentType"])}),
            "CreateFeedDocumentResponse")

    def _upload(self, request: Request) -> Reply:
        document = request.path[len("/upload/"):]
        with self.lock:
            stored = self.documents.get(document)
        if request.method != "PUT":
            return self.refuse(s3_error("MethodNotAllowed", "use PUT"), "upload not PUT")
        if stored is None:
            return s3_error("NoSuchKey", "The specified key does not exist.")
        content_type = request.header("Content-Type") or ""
        expected = self._signature(document, content_type)
        if request.param("X-Amz-Signature") != expected or content_type != stored[
                "content_type"]:
            return self.refuse(s3_error("SignatureDoesNotMatch", "The request signature we "
                                        "calculated does not match the signature you "
                                        "provided."), f"upload content type {content_type!r}")
        if self.expire_next_upload or self.now() - stored["created"] > 300:
            self.expire_next_upload = False
            return s3_error("AccessDenied", "Request has expired")
        with self.lock:
            stored["data"] = request.body
        return Reply(200)

    def _create_feed(self, request: Request) -> Reply:
        body, problem = self._body(request, "CreateFeedSpecification")
        if problem is not None:
            return problem
        with self.lock:
            stored = self.documents.get(body["inputFeedDocumentId"])
            if stored is None or stored["data"] is None:
                return self.refuse(errors(400, "InvalidInput", "inputFeedDocumentId has no "
                                          "uploaded document"), "createFeed before upload")
            if body["feedType"] != "JSON_LISTINGS_FEED" or body["marketplaceIds"] != [
                    self.marketplace]:
                return self.refuse(errors(400, "InvalidInput", "bad feed type or marketplace"),
                                   f"createFeed {body}")
            now = self.now()
            self.submitted = [t for t in self.submitted if now - t < self.window]
            if len(self.submitted) >= self.per_window:
                return errors(429, "QuotaExceeded", "You exceeded your quota for the requested "
                              "resource.")
            self.submitted.append(now)
            feed_id = str(50000 + len(self.feeds))
            self.feeds[feed_id] = {"feedId": feed_id, "feedType": body["feedType"],
                                   "marketplaceIds": body["marketplaceIds"],
                                   "createdTime": _iso(now), "processingStatus": "IN_QUEUE",
                                   "document": body["inputFeedDocumentId"], "polls": 0}
        reply = self._checked(json_reply(202, {"feedId": feed_id}), "CreateFeedResponse")
        reply.delay = self.stall_create_feed
        return reply

    def _public(self, feed: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in feed.items() if k not in ("document", "polls")}

    def _get_feeds(self, request: Request) -> Reply:
        types = (request.param("feedTypes") or "").split(",")
        if types == [""] and request.param("nextToken") is None:
            return self.refuse(errors(400, "InvalidInput", "feedTypes or nextToken required"),
                               "getFeeds without feedTypes")
        since = request.param("createdSince")
        with self.lock:
            found = [self._public(f) for f in self.feeds.values() if f["feedType"] in types
                     and (since is None or f["createdTime"] >= since)]
        return self._checked(json_reply(200, {"feeds": found}), "GetFeedsResponse")

    def _get_feed(self, feed_id: str) -> Reply:
        with self.lock:
            feed = self.feeds.get(feed_id)
            if feed is None:
                return errors(404, "NotFound", f"feed {feed_id} not found")
            if feed["processingStatus"] not in ("DONE", "FATAL", "CANCELLED"):
                feed["polls"] += 1
                feed["processingStatus"] = "IN_PROGRESS"
                if feed["polls"] >= self.polls_to_done and self.hold.is_set():
                    self._process(feed)
            return self._checked(json_reply(200, self._public(feed)), "Feed")

    def _process(self, feed: dict[str, Any]) -> None:
        feed["processingStartTime"] = feed["createdTime"]
        feed["processingEndTime"] = _iso(self.now())
        if self.cancel_next:
            self.cancel_next = False
            feed["processingStatus"] = "CANCELLED"
            return
        document = json.loads(self.documents[feed["document"]]["data"])
        invalid = next(iter(FEED_SCHEMA.iter_errors(document)), None)
        if self.fatal_next or invalid is not None:
            self.fatal_next = False
            if invalid is not None:
                self.problems.append(f"feed document fails the feed schema: {invalid.message}")
            feed["processingStatus"] = "FATAL"
            return
        issues: list[dict[str, Any]] = []
        accepted = 0
        for message in document["messages"]:
            sku, op = message["sku"], message["operationType"]
            self.messages.append((feed["feedId"], sku, op))
            if sku in self.error_skus:
                code, text, attribute = self.error_skus[sku]
                issues.append({"messageId": message["messageId"], "sku": sku, "code": code,
                               "severity": "ERROR", "message": text,
                               "attributeName": attribute})
                continue
            if sku in self.warn_skus:
                issues.append({"messageId": message["messageId"], "sku": sku,
                               "code": "18027", "severity": "WARNING",
                               "message": self.warn_skus[sku]})
            accepted += 1
            if op == "DELETE":
                self.listings.pop(sku, None)
            else:
                self.listings[sku] = message["attributes"]
        report = {"header": {"sellerId": document["header"]["sellerId"], "version": "2.0",
                             "feedId": feed["feedId"]},
                  "issues": issues,
                  "summary": {"errors": sum(i["severity"] == "ERROR" for i in issues),
                              "warnings": sum(i["severity"] == "WARNING" for i in issues),
                              "messagesProcessed": len(document["messages"]),
                              "messagesAccepted": accepted,
                              "messagesInvalid": len(document["messages"]) - accepted}}
        for error in REPORT_SCHEMA.iter_errors(report):
            self.problems.append(f"stand-in report fails its schema: {error.message}")
        data = json.dumps(report).encode()
        result = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self.documents[result] = {"content_type": "application/json", "created": self.now(),
                                  "data": gzip.compress(data) if self.gzip_reports else data,
                                  "gzip": self.gzip_reports}
        feed["resultFeedDocumentId"] = result
        feed["processingStatus"] = "DONE"

    def _get_document(self, document: str) -> Reply:
        with self.lock:
            stored = self.documents.get(document)
        if stored is None or stored["data"] is None:
            return errors(404, "NotFound", "document not found")
        answer: dict[str, Any] = {"feedDocumentId": document,
                                  "url": self._presigned("download", quote(document), "")}
        if stored.get("gzip"):
            answer["compressionAlgorithm"] = "GZIP"
        return self._checked(json_reply(200, answer), "FeedDocument")

    def _download(self, request: Request) -> Reply:
        document = request.path[len("/download/"):]
        with self.lock:
            stored = self.documents.get(document)
        if stored is None or request.param("X-Amz-Signature") != self._signature(document, ""):
            return s3_error("AccessDenied", "Access Denied")
        return Reply(200, stored["data"], {"Content-Type": "application/octet-stream"})
