"""A stand-in for Google's OAuth token endpoint and Merchant API v1 products, on 127.0.0.1.

It follows ../shared/specs/apis/google-merchant-api.md and refuses malformed requests:

- ``POST /token``: form-encoded ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
  with an RS256 JWT whose signature is checked with the service account's public key, and
  whose ``iss``, ``aud`` (this endpoint), ``scope`` and ``exp - iat <= 3600`` are checked;
- ``productInputs:insert``: Bearer token known and not expired (401 ``UNAUTHENTICATED``
  otherwise), ``dataSource`` naming the configured API data source, a JSON body with only
  ProductInput's fields, ``offerId``/``contentLanguage``/``feedLabel`` as the API wants,
  prices as ``{"amountMicros": "<digits as a string>", "currencyCode": "XXX"}``, enum
  values in upper case, booleans as booleans;
- ``productInputs/{name}`` DELETE: the name base64url (or ``lang~label~offerId``);
- ``products`` list: paged, and *eventually consistent*: a product is listed only
  ``list_lag`` seconds (stand-in clock) after its insert, with its item-level issues.

Failures a test injects: ``reject`` (offerId -> (field, message): a 400 google.rpc.Status
with an ErrorInfo naming the field), ``quota`` (a script of "rate" / "daily" 429s for the
next write calls), ``expire_tokens()`` (tokens issued so far stop working mid-run),
``write_delay`` (seconds each write stalls, to kill a client mid-run).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.servers.api_base import Reply, Request, StandIn, json_reply

TOP = {"offerId", "contentLanguage", "feedLabel", "productAttributes", "customAttributes",
       "versionNumber", "legacyLocal", "name", "product"}
TEXT = {"title", "description", "link", "mobileLink", "canonicalLink", "imageLink", "brand",
        "color", "size", "material", "pattern", "itemGroupId", "mpn", "googleProductCategory",
        "sizeSystem", "shippingLabel", "returnPolicyLabel", "externalSellerId",
        "customLabel0", "customLabel1", "customLabel2", "customLabel3", "customLabel4",
        "multipack", "availabilityDate", "expirationDate"}
LISTS = {"additionalImageLinks", "gtins", "productTypes", "excludedDestinations",
         "includedDestinations", "sizeTypes", "lifestyleImageLinks"}
ENUMS = {"availability": {"IN_STOCK", "OUT_OF_STOCK", "PREORDER", "LIMITED_AVAILABILITY",
                          "BACKORDER"},
         "condition": {"NEW", "USED", "REFURBISHED"},
         "ageGroup": {"ADULT", "KIDS", "TODDLER", "INFANT", "NEWBORN"},
         "gender": {"MALE", "FEMALE", "UNISEX"}}
FLAGS = {"identifierExists", "adult", "isBundle"}
PRICES = {"price", "salePrice"}
OTHER = {"shipping", "salePriceEffectiveDate"}


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def status(code: int, name: str, message: str, field: str | None = None,
           reason: str = "invalid") -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": name}
    metadata = {"REASON": reason.upper()}
    if field:
        metadata["FIELD_LOCATION"] = field
    error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                         "reason": reason, "domain": "merchantapi.googleapis.com",
                         "metadata": metadata}]
    return json_reply(code, {"error": error})


class MerchantStandIn(StandIn):
    def __init__(self, public_key: rsa.RSAPublicKey, client_email: str, account: str = "123",
                 data_source: str = "456", token_lifetime: int = 3600,
                 list_lag: float = 0.0) -> None:
        super().__init__()
        self.public_key = public_key
        self.client_email = client_email
        self.account = account
        self.data_source = f"accounts/{account}/dataSources/{data_source}"
        self.token_lifetime = token_lifetime
        self.list_lag = list_lag
        self.tokens: dict[str, float] = {}
        self.inputs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.inserted_at: dict[tuple[str, str, str], float] = {}
        self.writes: list[tuple[str, str]] = []       # (insert|delete, offerId) answered 2xx
        self.reject: dict[str, tuple[str, str]] = {}
        self.quota: list[str] = []
        self.item_issues: dict[str, list[dict[str, Any]]] = {}
        self.write_delay = 0.0
        self.tokens_issued = 0
        self.light = False          # benchmarks: remember offer ids only, not the inputs

    # --- helpers for tests ----------------------------------------------------------------

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def offer_ids(self) -> set[str]:
        with self.lock:
            return {key[2] for key in self.inputs}

    def sent(self, kind: str = "insert") -> list[str]:
        with self.lock:
            return [offer for op, offer in self.writes if op == kind]

    # --- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.path == "/token":
            return self._token(request)
        match = re.fullmatch(r"/products/v1/accounts/([^/]+)/(productInputs:insert|"
                             r"productInputs/([^/]+)|products)", request.path)
        if match is None:
            return self.refuse(status(404, "NOT_FOUND", f"no such path {request.path}"),
                               f"unknown path {request.method} {request.path}")
        denied = self._auth(request)
        if denied is not None:
            return denied
        if match.group(1) != self.account:
            return status(403, "PERMISSION_DENIED", "The caller does not have access to "
                          f"account {match.group(1)}")
        if match.group(2) == "products" and request.method == "GET":
            return self._list(request)
        if match.group(2) == "productInputs:insert" and request.method == "POST":
            return self._insert(request)
        if match.group(3) and request.method == "DELETE":
            return self._delete(request, match.group(3))
        return self.refuse(status(405, "INVALID_ARGUMENT", "method not allowed"),
                           f"wrong method {request.method} {request.path}")

    def _token(self, request: Request) -> Reply:
        def bad(why: str) -> Reply:
            return self.refuse(json_reply(400, {"error": "invalid_grant",
                                                "error_description": why}), f"token: {why}")

        if request.method != "POST" or not (request.header("Content-Type") or "").startswith(
                "application/x-www-form-urlencoded"):
            return bad("expected a form POST")
        form = parse_qs(request.body.decode("ascii"))
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return bad("wrong grant_type")
        parts = (form.get("assertion") or [""])[0].split(".")
        if len(parts) != 3:
            return bad("assertion is not a JWT")
        header, claims = (json.loads(_b64decode(p)) for p in parts[:2])
        if header.get("alg") != "RS256":
            return bad("alg must be RS256")
        try:
            self.public_key.verify(_b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return bad("Invalid JWT Signature.")
        now = self.now()
        if (claims.get("iss") != self.client_email or claims.get("aud") != self.url("/token")
                or "https://www.googleapis.com/auth/content" not in str(claims.get("scope"))
                or claims["exp"] - claims["iat"] > 3600 or claims["exp"] < now - 60):
            return bad(f"bad claims {sorted(claims)}")
        token = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = now + self.token_lifetime
            self.tokens_issued += 1
        return json_reply(200, {"access_token": token, "expires_in": self.token_lifetime,
                                "token_type": "Bearer"})

    def _auth(self, request: Request) -> Reply | None:
        header = request.header("Authorization") or ""
        if not header.startswith("Bearer "):
            return self.refuse(status(401, "UNAUTHENTICATED", "Request is missing required "
                                      "authentication credential."), "no Bearer token")
        with self.lock:
            expiry = self.tokens.get(header[7:])
        if expiry is None or expiry < self.now():
            return status(401, "UNAUTHENTICATED", "Request had invalid authentication "
                          "credentials. Expected OAuth 2 access token.")
        return None

    def _source(self, request: Request) -> Reply | None:
        source = request.param("dataSource")
        if source is None:
            return self.refuse(status(400, "INVALID_ARGUMENT", "[dataSource] is required",
                                      "dataSource"), "insert without dataSource")
        if source != self.data_source:
            return status(400, "INVALID_ARGUMENT", f"[dataSource] Data source with id "
                          f"{source} was not found.", "dataSource")
        return None

    def _write_gate(self) -> Reply | None:
        with self.lock:
            kind = self.quota.pop(0) if self.quota else None
        if kind == "rate":
            return status(429, "RESOURCE_EXHAUSTED", "Quota exceeded: quota/request_rate_too_high",
                          reason="quota/request_rate_too_high")
        if kind == "daily":
            return status(429, "RESOURCE_EXHAUSTED", "Quota exceeded: quota/daily_limit_exceeded",
                          reason="quota/daily_limit_exceeded")
        return None

    def _insert(self, request: Request) -> Reply:
        problem = self._source(request)
        if problem is not None:
            return problem
        if request.header("Content-Type") != "application/json":
            return self.refuse(status(400, "INVALID_ARGUMENT", "expected application/json"),
                               f"content type {request.header('Content-Type')}")
        try:
            body = request.json()
        except ValueError:
            return self.refuse(status(400, "INVALID_ARGUMENT", "Invalid JSON payload"),
                               "body is not JSON")
        why = self._malformed(body)
        if why is not None:
            return self.refuse(status(400, "INVALID_ARGUMENT", why[1], why[0]), why[1])
        gate = self._write_gate()
        if gate is not None:
            return gate
        if self.write_delay:
            self.stopping.wait(self.write_delay)
        offer = body["offerId"]
        if offer in self.reject:
            field, message = self.reject[offer]
            return status(400, "INVALID_ARGUMENT", f"[{field}] {message}", field)
        key = (body["contentLanguage"], body["feedLabel"], offer)
        name_part = f"{key[0]}~{key[1]}~{offer}"
        stored = {**body, "name": f"accounts/{self.account}/productInputs/{name_part}",
                  "product": f"accounts/{self.account}/products/{name_part}"}
        with self.lock:
            self.inputs[key] = {"product": stored["product"]} if self.light else stored
            self.inserted_at[key] = self.now()
            self.writes.append(("insert", offer))
        return json_reply(200, stored)

    def _malformed(self, body: Any) -> tuple[str, str] | None:
        if not isinstance(body, dict):
            return "", "the body is not a ProductInput object"
        unknown = set(body) - TOP
        if unknown:
            return "", f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"'
        offer = body.get("offerId")
        if not isinstance(offer, str) or not offer.strip() or len(offer) > 50:
            return "offerId", "[offerId] is required (1-50 characters)"
        if not re.fullmatch(r"[a-z]{2}", str(body.get("contentLanguage"))):
            return "contentLanguage", "[contentLanguage] must be ISO 639-1"
        if not re.fullmatch(r"[A-Z0-9_-]{1,20}", str(body.get("feedLabel"))):
            return "feedLabel", "[feedLabel] must be up to 20 of A-Z, 0-9, - and _"
        attributes = body.get("productAttributes", {})
        if not isinstance(attributes, dict):
            return "productAttributes", "productAttributes must be an object"
        for name, value in attributes.items():
            why = _attribute(name, value)
            if why is not None:
                return f"productAttributes.{name}", why
        for custom in body.get("customAttributes", []):
            if not isinstance(custom, dict) or set(custom) != {"name", "value"} or not all(
                    isinstance(v, str) for v in custom.values()):
                return "customAttributes", "a custom attribute is {name, value}"
        return None

    def _delete(self, request: Request, name: str) -> Reply:
        problem = self._source(request)
        if problem is not None:
            return problem
        try:
            plain = name if "~" in name else _b64decode(name).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return self.refuse(status(400, "INVALID_ARGUMENT", "[name] is not valid"),
                               f"bad name {name}")
        parts = plain.split("~")
        if len(parts) != 3:
            return self.refuse(status(400, "INVALID_ARGUMENT", "[name] must be "
                                      "contentLanguage~feedLabel~offerId"), f"bad name {plain}")
        gate = self._write_gate()
        if gate is not None:
            return gate
        key = (parts[0], parts[1], parts[2])
        with self.lock:
            if key not in self.inputs:
                return status(404, "NOT_FOUND", f"ProductInput {plain} not found.")
            del self.inputs[key]
            self.writes.append(("delete", parts[2]))
        return json_reply(200, {})

    def _list(self, request: Request) -> Reply:
        size = min(int(request.param("pageSize") or 25), 1000)
        start = int(request.param("pageToken") or 0)
        now = self.now()
        with self.lock:
            visible = sorted((k for k in self.inputs
                              if self.inserted_at[k] + self.list_lag <= now), key=lambda k: k[2])
            page = visible[start:start + size]
            products = [{"name": self.inputs[k]["product"], "offerId": k[2],
                         "contentLanguage": k[0], "feedLabel": k[1],
                         "dataSource": self.data_source,
                         "productAttributes": self.inputs[k].get("productAttributes", {}),
                         "productStatus": {"itemLevelIssues": self.item_issues.get(k[2], [])}}
                        for k in page]
        body: dict[str, Any] = {"products": products}
        if start + size < len(visible):
            body["nextPageToken"] = str(start + size)
        return json_reply(200, body)


def _attribute(name: str, value: Any) -> str | None:
    if name in TEXT:
        return None if isinstance(value, str) else f"{name} must be a string"
    if name in LISTS:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"{name} must be a list of strings"
    if name in ENUMS:
        return None if value in ENUMS[name] else f'Invalid value at "{name}" ({value!r})'
    if name in FLAGS:
        return None if isinstance(value, bool) else f"{name} must be a boolean"
    if name in PRICES:
        return _price(value)
    if name == "shipping":
        if not isinstance(value, list):
            return "shipping must be a list"
        for one in value:
            problem = _price(one.get("price")) if isinstance(one, dict) else "bad shipping"
            if problem:
                return problem
        return None
    if name == "salePriceEffectiveDate":
        return None if isinstance(value, dict) and set(value) <= {"startTime", "endTime"} \
            else "salePriceEffectiveDate must be an Interval"
    return f'Invalid JSON payload received. Unknown name "{name}" at productAttributes'


def _price(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"amountMicros", "currencyCode"}:
        return "a Price is {amountMicros, currencyCode}"
    if not isinstance(value["amountMicros"], str) or not value["amountMicros"].isdigit():
        return "amountMicros is an int64 written as a JSON string"
    if not re.fullmatch(r"[A-Z]{3}", str(value["currencyCode"])):
        return "currencyCode must be ISO 4217"
    return None
