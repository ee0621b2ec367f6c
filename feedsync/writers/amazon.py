"""Amazon SP-API ``JSON_LISTINGS_FEED`` (Feeds API 2021-06-30), streamed and schema-checked.

The document is ``{"header": {...}, "messages": [...]}`` (Amazon's
``listings-feed-schema-v2.json``). It is streamed: the header first, then one message per
product as it arrives, then the closing brackets, so no list of messages is ever held.

Why jsonschema and Amazon's own schema files: Amazon publishes the feed and message schemas
(copied, byte for byte, into ``channel_templates/amazon/``); a hand-written validator would
drift from them. The validators are built once per process. Each message is checked before
a byte of it is written; a message Amazon's schema refuses becomes ``ItemRejected``
(``amazon-schema``) naming the JSON path and the schema's complaint. The header is checked
when the writer is created, before the catalog is read.

Field values come from the channel's expressions (``channel_templates/amazon/channel.yaml``);
this module only wraps them into Amazon's attribute shapes (docs/amazon.md has the table).

Deltas: with an output directory, a small SQLite sidecar
(``<out>/.feedsync-amazon-<target>.sqlite``) keeps, per SKU, a hash of the listing and a
hash of its offer (price, quantity) as of the last successful build. A SKU whose offer alone
changed gets a ``PARTIAL_UPDATE`` carrying only the offer attributes, an unchanged SKU is left
out, a new or otherwise changed SKU gets a full ``UPDATE``, and a SKU of the last build that
this build did not write gets a ``DELETE``. Previous hashes are looked up per SKU (primary
key), never loaded whole. The new sidecar is built in a temporary file beside it and renamed
into place in ``finish()``, after the feed's last byte is written and flushed to disk; a
build that fails before that leaves the previous sidecar as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, NoReturn

from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from feedsync.channels.loader import builtin_templates_dir, load_table
from feedsync.errors import (
    ConfigError,
    FeedsyncError,
    GateRefused,
    OutputError,
    TemplateError,
)
from feedsync.fileio import AtomicFile, sha256_of
from feedsync.writers.base import ItemRejected, Layout

__all__ = ["AmazonListingsWriter", "feed_validator", "message_validator"]

FEED_SCHEMA: Final = "listings-feed-schema-v2.json"
MESSAGE_SCHEMA: Final = "listings-feed-message-schema-v2.json"
SCHEMA_SOURCE: Final = ("https://github.com/amzn/selling-partner-api-models/blob/main/schemas/"
                        "feeds/listings-feed-message-schema-v2.json")
PRODUCT_TYPE_SOURCE: Final = "https://developer-docs.amazon.com/sp-api/docs/product-type-api-use-case-guide"
SIZE_SOURCE: Final = "https://developer-docs.amazon.com/sp-api/docs/feeds-api-best-practices"
MARKETPLACE_SOURCE: Final = "https://developer-docs.amazon.com/sp-api/docs/marketplace-ids"
MARKETPLACES: Final = "marketplaces.csv"
COUNT_SOURCE: Final = ("https://developer-docs.amazon.com/sp-api/changelog/"
                       "update-feed-size-and-rate-limit-changes-for-the-json_listings_feed")
MAX_BYTES: Final = 10 * 1024 * 1024   # 10 MiB: Feeds API best practices (specs/amazon.md 2.2)
MAX_MESSAGES: Final = 25_000          # messages.maxItems of listings-feed-schema-v2.json
SIDECAR_FORMAT: Final = "1"

Operation = Literal["UPDATE", "PARTIAL_UPDATE", "DELETE"]
_CONTROL_FIELDS: Final = frozenset({"sku", "product_type", "product_type_keys"})
# Amazon attributes that are the offer (sales terms): a change to these alone is sent as a
# PARTIAL_UPDATE. Bit values for the sidecar's offer_mask column.
_OFFER_BITS: Final = {"purchasable_offer": 1, "fulfillment_availability": 2}
_REQUIREMENTS: Final = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
_MODES: Final = ("delta", "full")
_OPTION_KEYS: Final = frozenset({
    "seller_id", "marketplace_id", "language_tag", "issue_locale", "mode", "requirements",
    "product_types_file", "fulfillment_channel_code", "report_included_data",
    "plain_attributes", "deletes", "max_delete_fraction", "max_bytes", "max_messages",
    "_output_dir", "_target", "_output"})
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}_[A-Z]{2}$")
_MONEY = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
_IDENTIFIER_TYPES: Final = {8: "ean", 12: "upc", 13: "ean", 14: "gtin"}
_MAX_OTHER_IMAGES: Final = 8
_TAIL: Final = b"\n]}\n"


# --- Amazon's schemas, loaded and compiled once --------------------------------------------

@cache
def _schema(name: str) -> dict[str, Any]:
    path = builtin_templates_dir() / "amazon" / name
    with path.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def _compile(schema: Mapping[str, Any]) -> Validator:
    """A validator of the draft the schema names in ``$schema`` (draft-07 for these)."""
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema)
    return validator


@cache
def feed_validator() -> Validator:
    """Validator for a whole document (``listings-feed-schema-v2.json``)."""
    return _compile(_schema(FEED_SCHEMA))


@cache
def message_validator() -> Validator:
    """Validator for one message (``listings-feed-message-schema-v2.json``)."""
    return _compile(_schema(MESSAGE_SCHEMA))


@cache
def _header_validator() -> Validator:
    # The header's subschema, under the feed schema's own draft. It holds no $ref, so it
    # needs no registry of the other file.
    feed = _schema(FEED_SCHEMA)
    return _compile({"$schema": feed["$schema"], **feed["properties"]["header"]})


@cache
def marketplace_currencies() -> dict[str, str]:
    """Marketplace id -> the ISO 4217 currency its offers are priced in.

    ``channel_templates/amazon/marketplaces.csv``: Amazon's marketplace-ids page gives each
    id's country; the currency is that country's own (ISO 4217).
    """
    return load_table(builtin_templates_dir() / "amazon" / MARKETPLACES, TemplateError)


def _complaint(error: ValidationError) -> str:
    message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
    return f"{error.json_path}: {message}"


# --- the writer ------------------------------------------------------------------------------

class _BadValue(Exception):
    def __init__(self, field: str, message: str, code: str = "amazon-bad-value",
                 source: str = SCHEMA_SOURCE) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.source = source


@dataclass(frozen=True, slots=True)
class _Pending:
    """What ``encode`` decided for one SKU, for the ``write_encoded`` that follows it."""

    sku: str
    content: bytes
    offer: bytes
    offer_mask: int
    unchanged: tuple[str, dict[str, Any], dict[str, Any]] | None  # type, attributes, offer


class AmazonListingsWriter:
    """``amazon_listings``: one JSON_LISTINGS_FEED document per build.

    Not stateless: a message's id is its position in the document and its operation
    depends on the SKUs of the last build and of this one, so ``encode`` runs in the
    process that writes, just before its ``write_encoded`` (a build with Amazon stays
    serial). Not concatenable: a comma goes between messages.
    """

    stateless = False
    concatenable = False

    def __init__(self, layout: Layout) -> None:
        options = dict(layout.options)
        self._target = str(options.get("_target") or "amazon")
        self._key = f"channels.{self._target}.options.{options.get('_output') or 'listings'}"
        for name in options:
            if name not in _OPTION_KEYS:
                raise ConfigError(
                    f"unknown option {name!r} for the Amazon listings feed",
                    key=f"{self._key}.{name}",
                    tip="options: " + ", ".join(sorted(k for k in _OPTION_KEYS
                                                      if not k.startswith("_"))))
        self.seller_id = self._required_text(options, "seller_id",
                                             "your seller id (Seller Central: Merchant Token)")
        self.marketplace_id = self._required_text(options, "marketplace_id",
                                                  "the marketplace id, e.g. ATVPDKIKX0DER")
        self.language_tag = self._required_text(options, "language_tag",
                                                "the listing language, e.g. en_US")
        # None for a marketplace id missing from marketplaces.csv: no currency check then.
        self.currency = marketplace_currencies().get(self.marketplace_id)
        if not _LANGUAGE_TAG.match(self.language_tag):
            raise ConfigError(f"{self.language_tag!r} is not a language tag such as en_US",
                              key=f"{self._key}.language_tag")
        issue_locale = self._text(options, "issue_locale", self.language_tag)
        self.mode = self._choice(options, "mode", _MODES, "delta")
        self.requirements = self._choice(options, "requirements", _REQUIREMENTS, "LISTING")
        self.fulfillment_channel_code = self._text(options, "fulfillment_channel_code",
                                                   "DEFAULT")
        self.deletes = self._flag(options, "deletes", True)
        self.max_delete_fraction = self._fraction(options, "max_delete_fraction", 0.5)
        self.max_bytes = self._positive(options, "max_bytes", MAX_BYTES)
        self.max_messages = self._positive(options, "max_messages", MAX_MESSAGES)
        self.plain_attributes = frozenset(self._names(options, "plain_attributes"))
        self.product_types = self._product_types_file(options)
        out = options.get("_output_dir")
        self.output_dir = Path(out) if isinstance(out, str) else None

        self.header: dict[str, Any] = {"sellerId": self.seller_id, "version": "2.0",
                                       "issueLocale": issue_locale}
        included = self._names(options, "report_included_data")
        if included:
            self.header["report"] = {"includedData": included, "apiVersion": "2021-08-01"}
        self._check_header()

        # name in the item, Amazon attribute name, multi-valued
        self._fields = [(c.name, c.header, c.multi) for c in layout.columns
                        if c.name not in _CONTROL_FIELDS]
        self._handle: BinaryIO | None = None
        self._sidecar: _Sidecar | None = None
        self._validator = message_validator()
        self._count = 0
        self._bytes = 0
        self._fallback: dict[str, Any] | None = None
        self._pending: _Pending | None = None

    # --- option checks (ConfigError naming the key path, before the catalog is read) -------
    def _required_text(self, options: Mapping[str, Any], name: str, what: str) -> str:
        value = options.get(name)
        if value is None or value == "":
            raise ConfigError(
                f"the Amazon listings feed needs {what}; feedsync never guesses it",
                key=f"{self._key}.{name}",
                tip=f"set {self._key}.{name} in feedsync.yaml (docs/amazon.md)")
        return self._text(options, name, "")

    def _text(self, options: Mapping[str, Any], name: str, default: str) -> str:
        value = options.get(name, default)
        if not isinstance(value, str) or (value != value.strip()) or not value:
            raise ConfigError("expected text without surrounding spaces",
                              key=f"{self._key}.{name}",
                              tip="quote the value: YAML reads NO, off and 012 as other types")
        return value

    def _choice(self, options: Mapping[str, Any], name: str, allowed: Sequence[str],
                default: str) -> str:
        value = options.get(name, default)
        if value not in allowed:
            raise ConfigError(f"{value!r} is not one of {', '.join(allowed)}",
                              key=f"{self._key}.{name}")
        return str(value)

    def _flag(self, options: Mapping[str, Any], name: str, default: bool) -> bool:
        value = options.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError("expected true or false", key=f"{self._key}.{name}")
        return value

    def _fraction(self, options: Mapping[str, Any], name: str, default: float) -> float:
        value = options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError("expected a number from 0 to 1", key=f"{self._key}.{name}")
        return float(value)

    def _positive(self, options: Mapping[str, Any], name: str, default: int) -> int:
        value = options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError("expected a whole number of 1 or more", key=f"{self._key}.{name}")
        return value

    def _names(self, options: Mapping[str, Any], name: str) -> list[str]:
        value = options.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError("expected a list of names", key=f"{self._key}.{name}")
        return list(value)

    def _product_types_file(self, options: Mapping[str, Any]) -> dict[str, str]:
        name = options.get("product_types_file")
        if name is None:
            return {}
        if not isinstance(name, str) or not name:
            raise ConfigError("expected the path of a CSV file",
                              key=f"{self._key}.product_types_file")
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"product types file {str(path)!r} does not exist",
                              key=f"{self._key}.product_types_file",
                              tip="a relative path is read from the directory feedsync runs in")
        return load_table(path, ConfigError)

    def _check_header(self) -> None:
        error = best_match(_header_validator().iter_errors(self.header))
        if error is None:
            return
        option = {"sellerId": "seller_id", "issueLocale": "issue_locale",
                  "report": "report_included_data"}.get(
            str(error.absolute_path[0]) if error.absolute_path else "", "seller_id")
        raise ConfigError(f"Amazon's feed schema refuses the header: {_complaint(error)}",
                          key=f"{self._key}.{option}")

    # --- the Writer protocol ------------------------------------------------------------
    def start(self, handle: BinaryIO) -> None:
        self._handle = handle
        if self.output_dir is not None:
            self._sidecar = _Sidecar(self.output_dir, self._target,
                                     {"seller_id": self.seller_id,
                                      "marketplace_id": self.marketplace_id})
        head = ('{"header":' + _dumps(self.header) + ',"messages":[\n').encode("utf-8")
        self._put(head)

    def encode(self, item: Mapping[str, Any]) -> bytes:
        """The next message for ``item`` (b"" when its SKU is unchanged since the last
        build). Depends on this writer's state, which ``write_encoded`` then advances."""
        sku = item.get("sku") or ""
        product_type = self._product_type(item)
        try:
            attributes = self._attributes(item)
        except _BadValue as exc:
            raise ItemRejected(exc.code, str(exc), field=exc.field, source=exc.source) from exc
        offer = {k: v for k, v in attributes.items() if k in _OFFER_BITS}
        offer_mask = sum(_OFFER_BITS[k] for k in offer)
        listing = {k: v for k, v in attributes.items() if k not in _OFFER_BITS}
        content = _digest({"productType": product_type, "requirements": self.requirements,
                           "attributes": listing})
        offer_digest = _digest(offer)
        operation = self._operation(sku, content, offer_digest, offer_mask)
        if operation is None:   # unchanged since the last build: nothing to send
            self._check_unique(sku)
            self._pending = _Pending(sku, content, offer_digest, offer_mask,
                                     (product_type, attributes, offer))
            return b""
        message = self._message(operation, sku, product_type,
                                offer if operation == "PARTIAL_UPDATE" else attributes)
        data = self._encode(message)
        self._check_unique(sku)
        self._pending = _Pending(sku, content, offer_digest, offer_mask, None)
        return data

    def write_encoded(self, data: bytes) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("AmazonListingsWriter.write_encoded needs the encode() "
                               "of the same item just before it")
        if self._sidecar is not None:
            self._sidecar.record(pending.sku, pending.content, pending.offer,
                                 pending.offer_mask)
        if data:
            self._emit(data)
        elif self._fallback is None and pending.unchanged is not None:
            self._keep_fallback(pending.sku, *pending.unchanged)

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def finish(self) -> None:
        assert self._handle is not None
        sidecar = self._sidecar
        if sidecar is not None and sidecar.has_previous and self.deletes:
            self._check_deletes(sidecar)
            for sku in sidecar.removed():
                self._emit(self._encode(self._message("DELETE", sku, "", {}), deleting=True))
        if self._count == 0:
            if self._fallback is None:
                self._fail(GateRefused(
                    "the Amazon listings feed would hold no message: every product was "
                    "rejected and no SKU needs deleting (Amazon's schema needs at least one)",
                    tip="`feedsync validate --out DIR` writes the rules' findings to "
                        f"{self._target}.issues.jsonl; a product type missing from "
                        "product_types.csv is only found by build"))
            # Nothing changed: resend one SKU's current offer, which changes nothing on
            # Amazon, so the document stays valid (messages needs 1 item or more).
            self._emit(self._encode(self._fallback))
        self._put(_TAIL, tail=True)
        if sidecar is not None:
            # The feed's bytes are on disk before the sidecar says they were sent.
            self._handle.flush()
            os.fsync(self._handle.fileno())
            sidecar.commit()
            self._sidecar = None

    # --- per item --------------------------------------------------------------------------
    def _product_type(self, item: Mapping[str, Any]) -> str:
        keys = [k for k in item.get("product_type_keys") or [] if k]
        if self.product_types:
            for key in keys:
                found = self.product_types.get(key)
                if found:
                    return found
        found = item.get("product_type") or self.product_types.get("*", "")
        if found:
            return str(found)
        shown = (" or ".join(repr(k) for k in keys) + " (its product_type / "
                 "google_product_category)") if keys else "a product without product_type " \
            "or google_product_category"
        raise ItemRejected(
            "amazon-no-product-type",
            f"no Amazon product type maps from {shown}; add a row to the channel's "
            "product_types.csv or to the file named by the product_types_file option",
            field="product_type", source=PRODUCT_TYPE_SOURCE)

    def _attributes(self, item: Mapping[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for name, attribute, multi in self._fields:
            value = item.get(name)
            if not value:
                continue
            values = [v for v in value if v] if multi else [value]
            if values:
                self._shape(name, attribute, values, attributes)
        return attributes

    def _shape(self, field: str, attribute: str, values: list[str],
               out: dict[str, Any]) -> None:
        market = self.marketplace_id
        if attribute == "purchasable_offer":
            match = _MONEY.match(values[0])
            if match is None:
                raise _BadValue(field, f"{field} {values[0]!r} is not an amount with a "
                                       "currency, e.g. '12.50 USD'")
            if self.currency is not None and match.group(2) != self.currency:
                raise _BadValue(
                    field, f"{field} is in {match.group(2)}, but marketplace "
                           f"{market} sells in {self.currency}; set the target's currency "
                           "or a price in the marketplace's currency",
                    code="amazon-currency-mismatch", source=MARKETPLACE_SOURCE)
            out[attribute] = [{"currency": match.group(2), "our_price": [{"schedule": [
                {"value_with_tax": _number(match.group(1))}]}], "marketplace_id": market}]
        elif attribute == "fulfillment_availability":
            if not values[0].isascii() or not values[0].isdigit():
                raise _BadValue(field, f"{field} {values[0]!r} is not a whole number")
            out[attribute] = [{"fulfillment_channel_code": self.fulfillment_channel_code,
                               "quantity": int(values[0])}]
        elif attribute == "externally_assigned_product_identifier":
            code = values[0]
            kind = _IDENTIFIER_TYPES.get(len(code)) if code.isascii() and code.isdigit() else None
            if kind is None:
                raise _BadValue(field, f"{field} {code!r} is not a GTIN of 8, 12, 13 or 14 digits")
            out[attribute] = [{"type": kind, "value": code, "marketplace_id": market}]
        elif attribute == "main_product_image_locator":
            out[attribute] = [{"media_location": values[0], "marketplace_id": market}]
        elif attribute == "other_product_image_locator":
            for number, url in enumerate(values[:_MAX_OTHER_IMAGES], start=1):
                out[f"{attribute}_{number}"] = [{"media_location": url,
                                                  "marketplace_id": market}]
        elif attribute == "condition_type" or attribute in self.plain_attributes:
            out[attribute] = [{"value": v, "marketplace_id": market} for v in values]
        else:
            out[attribute] = [{"value": v, "language_tag": self.language_tag,
                               "marketplace_id": market} for v in values]

    def _operation(self, sku: str, content: bytes, offer: bytes,
                   offer_mask: int) -> Operation | None:
        if self._sidecar is None or not self._sidecar.has_previous or self.mode == "full":
            return "UPDATE"
        previous = self._sidecar.previous(sku)
        if previous is None or previous[0] != content:
            return "UPDATE"
        if previous[1] == offer:
            return None
        # PARTIAL_UPDATE replaces only what it carries: it cannot remove an offer attribute
        # the last build sent, so losing one (e.g. quantity left empty) needs a full UPDATE.
        if offer_mask and not previous[2] & ~offer_mask:
            return "PARTIAL_UPDATE"
        return "UPDATE"

    def _message(self, operation: Operation, sku: str, product_type: str,
                 attributes: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"messageId": self._count + 1, "sku": sku,
                                   "operationType": operation}
        if operation == "DELETE":
            return message
        message["productType"] = product_type
        if operation == "UPDATE":
            message["requirements"] = self.requirements
        message["attributes"] = dict(attributes)
        return message

    def _encode(self, message: dict[str, Any], deleting: bool = False) -> bytes:
        """The message's bytes, once Amazon's message schema accepts it."""
        message["messageId"] = self._count + 1
        error = best_match(self._validator.iter_errors(message))
        if error is not None:
            if deleting:  # a SKU the last build accepted: the sidecar is not ours
                self._fail(OutputError(f"a DELETE for SKU {message['sku']!r} fails Amazon's "
                                       f"message schema: {_complaint(error)}"))
            path = list(error.absolute_path)
            field = (str(path[1]) if len(path) > 1 and path[0] == "attributes"
                     else {"productType": "product_type"}.get(str(path[0]), str(path[0]))
                     if path else None)
            raise ItemRejected(
                "amazon-schema",
                f"Amazon's listings message schema refuses {_complaint(error)}",
                field=field, source=SCHEMA_SOURCE)
        try:
            return _dumps(message).encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates; the channel cleans them first
            raise ItemRejected("amazon-schema", f"text cannot be written as UTF-8: {exc}",
                               source=SCHEMA_SOURCE) from exc

    def _check_unique(self, sku: str) -> None:
        if self._sidecar is not None and self._sidecar.has(sku):
            raise ItemRejected(
                "amazon-duplicate-sku",
                f"SKU {sku!r} was already written by this build; Amazon SKUs are unique per "
                "seller", field="sku", source=SCHEMA_SOURCE)

    def _keep_fallback(self, sku: str, product_type: str, attributes: Mapping[str, Any],
                       offer: Mapping[str, Any]) -> None:
        operation: Operation = "PARTIAL_UPDATE" if offer else "UPDATE"
        message = self._message(operation, sku, product_type, offer or attributes)
        if self._validator.is_valid(message):
            self._fallback = message

    def _check_deletes(self, sidecar: _Sidecar) -> None:
        removed, previous = sidecar.removed_count(), sidecar.previous_count
        if previous and removed > self.max_delete_fraction * previous:
            self._fail(GateRefused(
                f"the Amazon listings feed would delete {removed} of the {previous} SKUs of "
                f"the last build, more than max_delete_fraction ({self.max_delete_fraction:g})",
                key=f"{self._key}.max_delete_fraction",
                tip="check the catalog and the rejected products; if the deletes are meant, "
                    "raise max_delete_fraction for one build, or set deletes: false"))

    def _fail(self, error: FeedsyncError) -> NoReturn:
        """Stop the build. The run then drops the feed; this writer drops its new sidecar
        at once rather than when it is garbage-collected."""
        if self._sidecar is not None:
            self._sidecar.discard()
            self._sidecar = None
        raise error

    # --- bytes ------------------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        if self._count + 1 > self.max_messages:
            self._fail(OutputError(
                f"the Amazon listings feed would hold more than {self.max_messages:,} messages, "
                "the most Amazon takes in one JSON_LISTINGS_FEED",
                tip="keep mode: delta (only changed SKUs are sent), or split the catalog into "
                    f"several files built into separate output directories ({COUNT_SOURCE})"))
        self._put(data if self._count == 0 else b",\n" + data)
        self._count += 1

    def _put(self, data: bytes, tail: bool = False) -> None:
        assert self._handle is not None
        reserve = 0 if tail else len(_TAIL)
        if self._bytes + len(data) + reserve > self.max_bytes:
            self._fail(OutputError(
                f"the Amazon listings feed would be over {_size(self.max_bytes)} after "
                f"{self._count:,} messages; Amazon asks for feeds under 10 MiB",
                tip="keep mode: delta (only changed SKUs are sent), or split the catalog into "
                    f"several files built into separate output directories ({SIZE_SOURCE})"))
        self._handle.write(data)
        self._bytes += len(data)


# --- the sidecar -------------------------------------------------------------------------

_SCHEMA_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE skus (sku TEXT PRIMARY KEY, content BLOB NOT NULL, offer BLOB NOT NULL,
                   offer_mask INTEGER NOT NULL) WITHOUT ROWID;
"""


def _discard(db: sqlite3.Connection, staged: AtomicFile) -> None:
    with contextlib.suppress(sqlite3.Error):
        db.close()
    staged.abort()


class _Sidecar:
    """Per-SKU hashes of the last successful build (read) and of this one (written)."""

    def __init__(self, directory: Path, target: str, identity: Mapping[str, str]) -> None:
        self.path = directory / f".feedsync-amazon-{target}.sqlite"
        # Built in an AtomicFile temp: a run killed mid-build leaves a file the next run's
        # stale-temp cleaner removes, and commit() renames it into place.
        self._staged = AtomicFile(self.path)
        self.temp = self._staged.reserve()
        self.db = sqlite3.connect(self.temp.as_uri(), uri=True, isolation_level=None)
        # This build's data goes away with the run if it fails before commit().
        self._finalizer = weakref.finalize(self, _discard, self.db, self._staged)
        self.db.execute("PRAGMA journal_mode=OFF")   # a temp file: the rename is the commit
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA_SQL)
        self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                            [("format", SIDECAR_FORMAT), *identity.items()])
        self.previous_count = 0
        self.has_previous = self._attach(identity)   # before BEGIN: DETACH needs no transaction
        self.db.execute("BEGIN")

    def _attach(self, identity: Mapping[str, str]) -> bool:
        if not self.path.exists():
            return False
        try:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self.db.execute("ATTACH DATABASE ? AS old", (uri,))
            check = self.db.execute("PRAGMA old.quick_check").fetchone()
            meta = dict(self.db.execute("SELECT key, value FROM old.meta").fetchall())
            if check != ("ok",) or meta.get("format") != SIDECAR_FORMAT:
                raise sqlite3.DatabaseError(f"quick_check {check!r}, format {meta.get('format')!r}")
            count = self.db.execute("SELECT count(*) FROM old.skus").fetchone()
        except sqlite3.Error as exc:
            self._finalizer()
            raise OutputError(
                f"{self.path} is damaged or not a feedsync Amazon sidecar ({exc})",
                file=str(self.path),
                tip="move it aside: the next build then sends every SKU as UPDATE and cannot "
                    "DELETE SKUs removed from the catalog since the last build") from exc
        if any(meta.get(k) != v for k, v in identity.items()):
            # Another seller or marketplace: its SKUs are not this feed's to update or delete.
            self.db.execute("DETACH DATABASE old")
            return False
        self.previous_count = int(count[0])
        return True

    def previous(self, sku: str) -> tuple[bytes, bytes, int] | None:
        row = self.db.execute("SELECT content, offer, offer_mask FROM old.skus WHERE sku = ?",
                              (sku,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def has(self, sku: str) -> bool:
        """True when this build already recorded ``sku``."""
        return self.db.execute("SELECT 1 FROM main.skus WHERE sku = ?",
                               (sku,)).fetchone() is not None

    def record(self, sku: str, content: bytes, offer: bytes, offer_mask: int) -> None:
        self.db.execute("INSERT INTO skus VALUES (?, ?, ?, ?)",
                        (sku, content, offer, offer_mask))

    _REMOVED = ("FROM old.skus AS o WHERE NOT EXISTS "
                "(SELECT 1 FROM main.skus AS m WHERE m.sku = o.sku)")

    def removed_count(self) -> int:
        return int(self.db.execute("SELECT count(*) " + self._REMOVED).fetchone()[0])

    def removed(self) -> Iterator[str]:
        """SKUs of the last build that this build did not write, in SKU order (streamed)."""
        for (sku,) in self.db.execute("SELECT o.sku " + self._REMOVED + " ORDER BY o.sku"):
            yield sku

    def commit(self) -> None:
        try:
            self.db.execute("COMMIT")
            if self.has_previous:
                self.db.execute("DETACH DATABASE old")
            self.db.close()
            self._staged.commit()
        except (OSError, sqlite3.Error) as exc:
            self._finalizer()
            raise OutputError(f"cannot write {self.path}: {exc}", file=str(self.path)) from exc
        except OutputError:
            self._finalizer()
            raise
        self._finalizer.detach()

    def discard(self) -> None:
        """Drop this build's data now (the previous sidecar is untouched)."""
        self._finalizer()


# --- helpers ---------------------------------------------------------------------------

def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _digest(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return sha256_of([text.encode("utf-8", "surrogatepass")]).raw[:16]


def _number(text: str) -> int | float:
    """A JSON number for a decimal amount: ``24.00`` -> 24.0, ``24`` -> 24."""
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(text) from exc
    return float(amount) if "." in text else int(amount)


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB" if count >= 1024 * 1024 else f"{count:,} bytes"
