"""Google Merchant API v1: ``productInputs`` insert and delete into an API data source.

Wire shapes (../shared/specs/apis/google-merchant-api.md, Google's protos and discovery
document): ``POST /products/v1/accounts/{id}/productInputs:insert?dataSource=...`` with a
``ProductInput`` (``offerId``, ``contentLanguage``, ``feedLabel``, ``productAttributes``
in camelCase, prices as ``{"amountMicros": "<string>", "currencyCode"}``, enums in upper
case), and ``DELETE /products/v1/accounts/{id}/productInputs/{name}?dataSource=...`` where
the name is always the unpadded base64url of ``contentLanguage~feedLabel~offerId``
(Google recommends always encoding). Insert is an upsert, delete of a missing input is
404: both are safe to repeat, so a run killed mid-way loses nothing by sending again.

There is no custombatch in the Merchant API; requests run with bounded concurrency
(``concurrency``, default 8). 429 ``quota/request_rate_too_high`` and 5xx are retried with
back-off (``Retry-After`` honoured); ``quota/daily_limit_exceeded`` stops at once (exit 8),
with what was answered so far recorded. A per-product ``google.rpc.Status`` (400) becomes
the issue ``google-api-rejected`` on that product, naming the field from the message's
``[field]`` prefix or the ``FIELD_LOCATION`` of its ``ErrorInfo``.

``item_issues`` reads ``products.list`` back (``feedsync status``): the item-level issues
Google found after accepting an input, translated per product (``google-item-issue``).
"""

from __future__ import annotations

import base64
import re
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from itertools import chain
from typing import Any, Final

from feedsync.apis.auth import GOOGLE_TOKEN_URL, GoogleServiceAccount
from feedsync.apis.base import Context, IssueSink
from feedsync.apis.http import ApiClient, Reply, fatal_reply, shown
from feedsync.apis.settings import Settings
from feedsync.apis.sink import ApiSink
from feedsync.config import ChannelConfig
from feedsync.deltas import Outcome, Plan, Send
from feedsync.errors import ConfigError, PublishFatal
from feedsync.model import Severity
from feedsync.secrets import quote_reply
from feedsync.writers.base import ItemRejected, Layout

BASE_URL: Final = "https://merchantapi.googleapis.com"
SOURCE: Final = "https://developers.google.com/merchant/api/reference/rest/products_v1/accounts.productInputs/insert"
ISSUES_SOURCE: Final = "https://developers.google.com/merchant/api/reference/rest/products_v1/accounts.products#ItemLevelIssue"
QUOTA_SOURCE: Final = "https://developers.google.com/merchant/api/guides/quotas-limits"
KEYS: Final = frozenset({"merchant_id", "data_source", "content_language", "feed_label",
                         "credentials_env", "credentials_file", "token_url", "concurrency"})
RECORD_EVERY: Final = 500     # outcomes per state transaction

# Feed attribute -> ProductAttributes field (products_common.proto, camelCase in JSON).
_TEXT: Final = {
    "title": "title", "description": "description", "link": "link",
    "mobile_link": "mobileLink", "image_link": "imageLink", "brand": "brand", "mpn": "mpn",
    "color": "color", "size": "size", "material": "material", "pattern": "pattern",
    "item_group_id": "itemGroupId", "google_product_category": "googleProductCategory",
    "size_system": "sizeSystem", "shipping_label": "shippingLabel",
    "return_policy_label": "returnPolicyLabel", "external_seller_id": "externalSellerId",
    **{f"custom_label_{n}": f"customLabel{n}" for n in range(5)},
}
_LISTS: Final = {"additional_image_link": "additionalImageLinks", "gtin": "gtins",
                 "product_type": "productTypes", "excluded_destination": "excludedDestinations",
                 "included_destination": "includedDestinations", "size_type": "sizeTypes"}
_ENUMS: Final = {
    "availability": ("availability", {"in_stock", "out_of_stock", "preorder", "backorder",
                                      "limited_availability"}),
    "condition": ("condition", {"new", "used", "refurbished"}),
    "age_group": ("ageGroup", {"adult", "kids", "toddler", "infant", "newborn"}),
    "gender": ("gender", {"male", "female", "unisex"}),
}
_FLAGS: Final = {"identifier_exists": "identifierExists", "adult": "adult",
                 "is_bundle": "isBundle"}
_PRICES: Final = {"price": "price", "sale_price": "salePrice"}
_DATES: Final = {"availability_date": "availabilityDate", "expiration_date": "expirationDate"}
_MONEY = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
_FIELD_PREFIX = re.compile(r"^\[([A-Za-z0-9_.]+)\]")
_CAMEL: Final = {v: k for k, v in {**_TEXT, **_LISTS, **_FLAGS, **_PRICES, **_DATES,
                                   "shipping": "shipping", "multipack": "multipack",
                                   "sale_price_effective_date": "salePriceEffectiveDate",
                                   **{k: v[0] for k, v in _ENUMS.items()}}.items()}
_GLOBAL_FIELDS: Final = frozenset({"dataSource", "parent", "name"})
_SEVERITY: Final[dict[str, Severity]] = {"DISAPPROVED": "error", "DEMOTED": "warning",
                                         "NOT_IMPACTED": "hint"}


def input_name(language: str, label: str, offer_id: str) -> str:
    """The ``productInputs/{name}`` segment: unpadded base64url of ``lang~label~offerId``."""
    raw = f"{language}~{label}~{offer_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def micros(value: str, field: str) -> dict[str, str]:
    """``"24.00 USD"`` -> ``{"amountMicros": "24000000", "currencyCode": "USD"}``."""
    match = _MONEY.match(value)
    if match is None:
        raise ItemRejected("google-api-value", f"{field} {value!r} is not an amount with a "
                           "currency, e.g. '24.00 USD'", field=field, source=SOURCE)
    try:
        amount = Decimal(match.group(1)) * 1_000_000
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise ItemRejected("google-api-value", f"{field} {value!r} is not a number",
                           field=field, source=SOURCE) from None
    if amount != amount.to_integral_value():
        raise ItemRejected("google-api-value", f"{field} {value!r} has more than six "
                           "decimals (1 unit = 1,000,000 micros)", field=field, source=SOURCE)
    return {"amountMicros": str(int(amount)), "currencyCode": match.group(2)}


def _timestamp(value: str, field: str) -> str:
    """An RFC 3339 timestamp (``google.protobuf.Timestamp`` in JSON)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"{value}T00:00:00Z"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})",
                    value):
        return value
    raise ItemRejected("google-api-value", f"{field} {value!r} is not an ISO 8601 date or "
                       "date-time", field=field, source=SOURCE)


def _shipping(value: str) -> dict[str, Any]:
    """Feed ``country:region:service:price`` -> a ``Shipping`` object."""
    parts = value.split(":", 3)
    if len(parts) != 4 or not parts[3]:
        raise ItemRejected("google-api-value", f"shipping {value!r} is not "
                           "country:region:service:price", field="shipping", source=SOURCE)
    country, region, service, price = parts
    shipping: dict[str, Any] = {"price": micros(price, "shipping")}
    if country:
        shipping["country"] = country
    if region:
        shipping["region"] = region
    if service:
        shipping["service"] = service
    return shipping


def product_attributes(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Feed attributes (as the channel maps them) -> ``productAttributes`` and
    ``customAttributes`` (attributes this table does not know go there by name)."""
    attributes: dict[str, Any] = {}
    custom: list[dict[str, str]] = []
    for name, value in values.items():
        if name == "id":
            continue
        if name in _TEXT:
            attributes[_TEXT[name]] = value
        elif name in _LISTS:
            attributes[_LISTS[name]] = list(value) if isinstance(value, list) else [value]
        elif name in _ENUMS:
            target, allowed = _ENUMS[name]
            if value not in allowed:
                raise ItemRejected("google-api-value", f"{name} {value!r} is not one of "
                                   f"{', '.join(sorted(allowed))}", field=name, source=SOURCE)
            attributes[target] = value.upper()
        elif name in _FLAGS:
            if value not in ("yes", "no"):
                raise ItemRejected("google-api-value", f"{name} {value!r} is not yes or no",
                                   field=name, source=SOURCE)
            attributes[_FLAGS[name]] = value == "yes"
        elif name in _PRICES:
            attributes[_PRICES[name]] = micros(value, name)
        elif name in _DATES:
            attributes[_DATES[name]] = _timestamp(value, name)
        elif name == "sale_price_effective_date":
            start, _, end = value.partition("/")
            attributes["salePriceEffectiveDate"] = {"startTime": _timestamp(start, name),
                                                    "endTime": _timestamp(end, name)}
        elif name == "multipack":
            attributes["multipack"] = str(int(value))   # int64 is a JSON string
        elif name == "shipping":
            attributes["shipping"] = [_shipping(v) for v in
                                      (value if isinstance(value, list) else [value])]
        else:
            for one in value if isinstance(value, list) else [value]:
                custom.append({"name": name, "value": str(one)})
    return attributes, custom


class GoogleMerchant:
    """The ``google_merchant`` API channel (see the module docstring)."""

    kind = "google_merchant"

    def __init__(self, raw: Mapping[str, Any], key: str, target: ChannelConfig) -> None:
        settings = Settings(raw, key, KEYS)
        self.settings = settings
        self.merchant_id = settings.text("merchant_id", pattern=r"\d+",
                                         what="the Merchant Center account id (digits)")
        source = settings.text("data_source", what="the API data source id or name")
        if source.isdigit():
            source = f"accounts/{self.merchant_id}/dataSources/{source}"
        if not re.fullmatch(rf"accounts/{self.merchant_id}/dataSources/\d+", source):
            raise ConfigError(f"{source!r} is not a data source of account {self.merchant_id}"
                              " (accounts/ID/dataSources/ID)", key=settings.path("data_source"))
        self.data_source = source
        self.language = settings.text("content_language", target.market.get("language"),
                                      r"[a-z]{2}", "an ISO 639-1 language such as en")
        self.feed_label = settings.text("feed_label", target.market.get("country"),
                                        r"[A-Z0-9_-]{1,20}", "a feed label of up to 20 of "
                                        "A-Z, 0-9, - and _ (e.g. US)")
        self.base_url = settings.url("base_url", BASE_URL)
        self.concurrency = settings.whole("concurrency", 8, 1, 64)
        self.keepalive = settings.keepalive(25, 29)   # Google expires products after 30 days
        self.hold_after = settings.hold_after()
        self.base_output: str | None = None
        self.target_id = (f"{target.name}|google_merchant|{self.data_source}|{self.language}|"
                          f"{self.feed_label}")
        self.describe = f"Merchant API {self.data_source} ({self.language}/{self.feed_label})"
        self.client = ApiClient(settings.limits)
        key_json = settings.secret("credentials", "a service-account key (JSON)")
        token_url = settings.url("token_url", GOOGLE_TOKEN_URL) if "token_url" in raw else None
        self.client.auth = GoogleServiceAccount(key_json, self.client, token_url=token_url,
                                                key=settings.path("credentials_file"))

    # --- build time -------------------------------------------------------------------------

    def make_sink(self, layout: Layout) -> ApiSink:
        return ApiSink(layout, self.convert)

    def convert(self, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        offer_id = str(item.get("id") or "")
        attributes, custom = product_attributes(item)
        record: dict[str, Any] = {"offerId": offer_id, "contentLanguage": self.language,
                                  "feedLabel": self.feed_label,
                                  "productAttributes": attributes}
        if custom:
            record["customAttributes"] = custom
        return offer_id, record

    # --- push time --------------------------------------------------------------------------

    def resolve(self, ctx: Context) -> None:
        """Nothing waits: every insert and delete is answered synchronously."""

    def send(self, ctx: Context, plan: Plan) -> None:
        jobs: Iterator[Send | str] = chain(plan.sends(), plan.delete_keys())
        done: list[Outcome] = []
        failure: BaseException | None = None
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="merchant") as pool:
            window: deque[tuple[Send | str, Future[Reply]]] = deque()
            try:
                for job in jobs:
                    window.append((job, pool.submit(self._request, job)))
                    if len(window) >= 2 * self.concurrency:
                        self._collect(ctx, *window.popleft(), done)
                    if len(done) >= RECORD_EVERY:
                        ctx.store.record(done)
                        done.clear()
            except BaseException as exc:   # noqa: BLE001 - recorded below, then re-raised
                failure = exc
            # Whatever was answered is recorded, even when the run stops early.
            while window:
                job, future = window.popleft()
                if failure is not None:
                    future.cancel()
                try:
                    self._collect(ctx, job, future, done)
                except BaseException as exc:  # noqa: BLE001
                    failure = failure or exc
            ctx.store.record(done)
        if failure is not None:
            raise failure

    def _request(self, job: Send | str) -> Reply:
        if isinstance(job, Send):
            url = f"{self.base_url}/products/v1/accounts/{self.merchant_id}/productInputs:insert"
            return self.client.request("POST", url, params={"dataSource": self.data_source},
                                       data=job.record, classify=_quota,
                                       headers={"Content-Type": "application/json"})
        name = input_name(self.language, self.feed_label, job)
        url = f"{self.base_url}/products/v1/accounts/{self.merchant_id}/productInputs/{name}"
        return self.client.request("DELETE", url, params={"dataSource": self.data_source},
                                   classify=_quota)

    def _collect(self, ctx: Context, job: Send | str, future: Future[Reply],
                 done: list[Outcome]) -> None:
        if future.cancelled():
            return
        reply = future.result()
        if isinstance(job, Send):
            ctx.counts.sent += 1
            if reply.ok:
                ctx.counts.accepted += 1
                done.append(Outcome(job.key, "upsert", job.hash, accepted=True))
                return
            message, field = self._refusal(reply, "inserting a product")
            ctx.counts.rejected += 1
            ctx.issues.add("google-api-rejected", "error",
                           f"the Merchant API refused the product: {message}", job.key,
                           field=field, source=SOURCE)
            done.append(Outcome(job.key, "upsert", job.hash, accepted=False, reason=message))
            return
        if reply.ok or reply.status == 404:   # 404: already gone, which is what we wanted
            ctx.counts.deleted += 1
            done.append(Outcome(job, "delete", None, accepted=True))
            return
        message, field = self._refusal(reply, "deleting a product")
        ctx.counts.delete_failed += 1
        ctx.issues.add("api-delete-failed", "error",
                       f"the Merchant API refused to delete the product: {message}", job,
                       source=SOURCE)
        done.append(Outcome(job, "delete", None, accepted=False, reason=message))

    def _refusal(self, reply: Reply, what: str) -> tuple[str, str | None]:
        """(message, feed field) of a per-product refusal; raise for a refusal of the run."""
        status = _status(reply)
        said = quote_reply(str(status["message"])) if status.get("message") else reply.snippet()
        if reply.status == 429:
            raise PublishFatal(
                f"the Merchant API's daily quota is used up ({shown(reply.url)}): {said}",
                tip=f"the quota resets at 12:00 UTC; the next run sends what is left "
                    f"({QUOTA_SOURCE})")
        message = said
        field = _field_of(message, status)
        if reply.status in (401, 403, 404) or reply.status >= 500 or (
                field is not None and field.split(".")[0] in _GLOBAL_FIELDS):
            raise fatal_reply(reply, what)
        return message, _feed_field(field)

    # --- read-back (feedsync status) ------------------------------------------------------------

    def products(self, page_size: int = 1000) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(offerId, itemLevelIssues) of every listed product of this source, page by page.

        Products inserted a moment ago may not be listed yet (Google: "it may take several
        minutes"); ``feedsync status`` counts them as not yet visible."""
        url = f"{self.base_url}/products/v1/accounts/{self.merchant_id}/products"
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if token:
                params["pageToken"] = token
            reply = self.client.request("GET", url, params=params)
            if not reply.ok:
                raise fatal_reply(reply, "listing products")
            body = reply.json() or {}
            for product in body.get("products") or []:
                if product.get("dataSource") not in (None, self.data_source) or (
                        product.get("feedLabel") not in (None, self.feed_label)):
                    continue
                status = product.get("productStatus") or {}
                yield str(product.get("offerId", "")), list(status.get("itemLevelIssues") or [])
            token = body.get("nextPageToken")
            if not token:
                return

    @staticmethod
    def report_issue(sink: IssueSink, offer_id: str, issue: Mapping[str, Any]) -> None:
        """One item-level issue as a feedsync issue on its product."""
        severity = _SEVERITY.get(str(issue.get("severity")), "warning")
        where = ", ".join(issue.get("applicableCountries") or [])
        context = str(issue.get("reportingContext") or "")
        text = str(issue.get("description") or issue.get("code") or "item issue")
        detail = str(issue.get("detail") or "")
        message = f"{text}{': ' + detail if detail else ''}" + (
            f" ({context}{' in ' + where if where else ''})" if context or where else "")
        field = _feed_field(str(issue.get("attribute") or "") or None)
        sink.add("google-item-issue", severity, message, offer_id, field=field,
                       source=str(issue.get("documentation") or ISSUES_SOURCE))


def _quota(reply: Reply) -> bool | None:
    """429 per minute: retry with back-off; 429 per day: stop (no retry storm, C12)."""
    if reply.status != 429:
        return None
    return b"daily_limit_exceeded" not in reply.body


def _status(reply: Reply) -> dict[str, Any]:
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _field_of(message: str, status: Mapping[str, Any]) -> str | None:
    for detail in status.get("details") or []:
        metadata = detail.get("metadata") if isinstance(detail, dict) else None
        if isinstance(metadata, dict) and isinstance(metadata.get("FIELD_LOCATION"), str):
            return str(metadata["FIELD_LOCATION"])
    match = _FIELD_PREFIX.match(message)
    return match.group(1) if match else None


def _feed_field(field: str | None) -> str | None:
    """``productAttributes.price.amountMicros`` -> ``price`` (the channel's field name)."""
    if not field:
        return None
    parts = field.split(".")
    if parts[0] == "productAttributes" and len(parts) > 1:
        name = re.sub(r"\[\d+\]$", "", parts[1])
        return _CAMEL.get(name, name)
    if parts[0] == "offerId":
        return "id"
    return _CAMEL.get(parts[0], field)
