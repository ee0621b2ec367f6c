"""A stand-in for Meta's catalog Batch API (Graph/Marketing API), on 127.0.0.1.

Follows ../shared/specs/apis/meta-catalog-batch.md and refuses malformed requests:
``POST /{version}/{catalog}/items_batch`` needs the access token (Bearer header or
``access_token``), a known version (an expired one is refused), ``item_type=PRODUCT_ITEM``,
``requests`` as a JSON array (JSON body or form field) of 1-5,000 ``{method, data}`` with
``method`` in CREATE/UPDATE/DELETE, ``data.id`` and never ``data.retailer_id``, and at most
28 MB (error code 1 "Please reduce the amount of data ...").

Like the service it answers HTTP 200 with per-item problems: malformed item values are
refused at once in ``validation_status``; the rest is applied when
``check_batch_request_status`` is polled (``polls_to_finish`` polls, and only while ``hold``
is set), with ``errors``/``warnings`` for ids in ``fail_ids``/``warn_ids`` and for a CREATE of
an id the catalog already holds (how the real API answers that is UNCONFIRMED).
``throttle`` answers the next N batch calls with error 80014 and a usage header.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs

from tests.servers.api_base import Reply, Request, StandIn, json_reply

VERSIONS = {"v25.0", "v26.0", "v27.0"}
EXPIRED = {"v21.0", "v22.0", "v23.0", "v24.0"}
AVAILABILITY = {"in stock", "out of stock", "available for order", "discontinued",
                "preorder"}
CONDITIONS = {"new", "refurbished", "used", "used_like_new", "used_good", "used_fair"}
PRICE = re.compile(r"^\d+(\.\d+)? [A-Z]{3}$")
MAX_BYTES = 28 * 1000 * 1000


def graph_error(code: int, message: str, status: int = 400,
                headers: dict[str, str] | None = None, kind: str = "OAuthException") -> Reply:
    return json_reply(status, {"error": {"message": message, "type": kind, "code": code,
                                         "fbtrace_id": "AbCdEfStandIn"}}, headers)


class MetaStandIn(StandIn):
    def __init__(self, token: str, catalog: str = "987654321") -> None:
        super().__init__()
        self.token = token
        self.catalog = catalog
        self.items: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.received: list[tuple[str, str]] = []    # (method, id) of every request item
        self.fail_ids: dict[str, str] = {}
        self.warn_ids: dict[str, str] = {}
        self.polls_to_finish = 2
        self.hold = threading.Event()
        self.hold.set()
        self.throttle = 0
        self.revoked = False

    def route(self, request: Request) -> Reply:
        match = re.fullmatch(r"/(v\d+\.\d+)/(\d+)/(items_batch|check_batch_request_status)",
                             request.path)
        if match is None:
            return self.refuse(graph_error(100, "Unsupported request"), f"path {request.path}")
        version, catalog, edge = match.groups()
        if version in EXPIRED:
            return self.refuse(graph_error(2635, f"({version}) is deprecated and cannot be "
                                           "used"), f"expired version {version}")
        if version not in VERSIONS:
            return self.refuse(graph_error(100, f"Unknown version {version}"), "bad version")
        form = self._form(request)
        header = request.header("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else form.get("access_token")
        if token is None:
            return self.refuse(graph_error(104, "An access token is required to request this "
                                           "resource."), "no token")
        if token != self.token or self.revoked:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token",
                               status=401)
        if catalog != self.catalog:
            return graph_error(100, f"Unsupported post request. Object with ID '{catalog}' "
                               "does not exist")
        if edge == "items_batch" and request.method == "POST":
            return self._batch(request, form)
        if edge == "check_batch_request_status" and request.method == "GET":
            return self._status(request)
        return self.refuse(graph_error(100, "Unsupported method"), f"{request.method} {edge}")

    @staticmethod
    def _form(request: Request) -> dict[str, Any]:
        values: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        content_type = request.header("Content-Type") or ""
        if request.body and content_type.startswith("application/json"):
            body = json.loads(request.body)
            if isinstance(body, dict):
                values.update(body)
        elif request.body and content_type.startswith("application/x-www-form-urlencoded"):
            values.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
        return values

    def _batch(self, request: Request, form: dict[str, Any]) -> Reply:
        if self.throttle:
            self.throttle -= 1
            usage = json.dumps({self.catalog: [{"type": "catalog_batch", "call_count": 100,
                                                "total_cputime": 10, "total_time": 10,
                                                "estimated_time_to_regain_access": 0}]})
            return graph_error(80014, "There have been too many calls for this catalog.",
                               headers={"X-Business-Use-Case-Usage": usage})
        if len(request.body) > MAX_BYTES:
            return self.refuse(graph_error(1, "Please reduce the amount of data you're asking "
                                           "for, then retry your request"), "batch too big")
        if form.get("item_type") != "PRODUCT_ITEM":
            return self.refuse(graph_error(100, "(#100) The parameter item_type is required"),
                               "no item_type")
        requests = form.get("requests")
        if isinstance(requests, str):
            requests = json.loads(requests)
        if not isinstance(requests, list) or not 1 <= len(requests) <= 5000:
            return self.refuse(graph_error(100, "(#100) requests must hold 1 to 5000 items"),
                               "bad requests")
        validation: list[dict[str, Any]] = []
        accepted: list[dict[str, Any]] = []
        for number, entry in enumerate(requests, start=1):
            why = self._malformed(entry)
            if why is not None and why.startswith("!"):
                return self.refuse(graph_error(100, why[1:]), why[1:])
            retailer = str(entry["data"]["id"])
            self.received.append((entry["method"], retailer))
            if why is not None:
                validation.append({"retailer_id": retailer, "errors": [{"message": why}],
                                   "warnings": []})
                continue
            accepted.append({**entry, "line": number})
        handle = secrets.token_urlsafe(12)
        with self.lock:
            self.batches[handle] = {"requests": accepted, "polls": 0, "status": "started",
                                    "errors": [], "warnings": []}
        return json_reply(200, {"handles": [handle], "validation_status": validation})

    @staticmethod
    def _malformed(entry: Any) -> str | None:
        """None when fine; "!why" for a malformed request, "why" for a bad item value."""
        if not isinstance(entry, dict) or set(entry) != {"method", "data"}:
            return "!each request is {method, data}"
        if entry["method"] not in ("CREATE", "UPDATE", "DELETE"):
            return f"!unknown method {entry['method']!r}"
        data = entry["data"]
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return "!data.id is required"
        if "retailer_id" in data:
            return "!retailer_id cannot be included in the data object"
        if entry["method"] == "DELETE":
            return None if set(data) == {"id"} else "!a DELETE carries only data.id"
        if not all(isinstance(v, str) for v in data.values()):
            return "!data values are strings"
        if "price" in data and not PRICE.match(data["price"]):
            return f"price {data['price']!r} is not '<amount> <ISO 4217 currency>'"
        if "availability" in data and data["availability"] not in AVAILABILITY:
            return f"availability {data['availability']!r} is not a valid value"
        if "condition" in data and data["condition"] not in CONDITIONS:
            return f"condition {data['condition']!r} is not a valid value"
        if entry["method"] == "CREATE":
            missing = [f for f in ("title", "description", "availability", "condition",
                                   "price", "link", "image_link") if not data.get(f)]
            if missing:
                return f"required fields missing: {', '.join(missing)}"
        return None

    def _status(self, request: Request) -> Reply:
        handle = request.param("handle")
        with self.lock:
            batch = self.batches.get(handle or "")
            if batch is None:
                return self.refuse(graph_error(100, "(#100) invalid handle"), "bad handle")
            if batch["status"] != "finished":
                batch["polls"] += 1
                batch["status"] = "in_progress"
                if batch["polls"] >= self.polls_to_finish and self.hold.is_set():
                    self._apply(batch)
            load_ids = request.param("load_ids_of_invalid_requests") == "true"
            element = {"handle": handle, "status": batch["status"],
                       "errors": batch["errors"], "errors_total_count": len(batch["errors"]),
                       "warnings": batch["warnings"],
                       "warnings_total_count": len(batch["warnings"]),
                       "ids_of_invalid_requests": [e["id"] for e in batch["errors"]]
                       if load_ids else []}
        return json_reply(200, {"data": [element]})

    def _apply(self, batch: dict[str, Any]) -> None:
        for entry in batch["requests"]:
            retailer, method = entry["data"]["id"], entry["method"]
            if retailer in self.fail_ids:
                batch["errors"].append({"line": entry["line"], "id": retailer,
                                        "message": self.fail_ids[retailer]})
                continue
            if method == "CREATE" and retailer in self.items:
                batch["errors"].append({"line": entry["line"], "id": retailer,
                                        "message": "An item with this id already exists"})
                continue
            if retailer in self.warn_ids:
                batch["warnings"].append({"line": entry["line"], "id": retailer,
                                          "message": self.warn_ids[retailer]})
            if method == "DELETE":
                self.items.pop(retailer, None)
            else:
                self.items[retailer] = {**self.items.get(retailer, {}), **entry["data"]}
        batch["status"] = "finished"
