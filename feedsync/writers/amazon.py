"""Amazon SP-API ``JSON_LISTINGS_FEED`` (Feeds API 2021-06-30), streamed and schema-checked.

The document is ``{"header": {...}, "messages": [...]}`` (Amazon's
``listings-feed-schema-v2.json``). It is streamed: the header first, then one message per
product as it arrives, then the closing brackets, so no list of messages is ever held.

Why jsonschema and Amazon's own schema files: Amazon publishes the feed and message schemas
(copied, byte for byte, into ``channel_templates/amazon/``); a hand-written validator would
drift from them. The validators are built once per process. Each message is checked before
a byte of it is written, first by jsonschema-rs (a compiled validator, several hundred
times faster than jsonschema on these messages, whose checks were most of an Amazon build's
CPU); a message it refuses is checked again by jsonschema, whose ``best_match`` gives the
complaint we print. A message Amazon's schema refuses becomes ``ItemRejected``
(``amazon-schema``) naming the JSON path and the schema's complaint. The header is checked
when the writer is created, before the catalog is read.

Field values come from the channel's expressions (``channel_templates/amazon/channel.yaml``);
this module only wraps them into Amazon's attribute shapes (docs/amazon.md has the table).

Deltas are not this writer's business: it writes every product it is given as an
``UPDATE`` (a full replace). ``feedsync push`` with an ``api:`` section sends only what
changed, and deletes what left, from the per-product state (``feedsync/deltas.py``,
docs/apis.md); the share of deletes it may send is the publish gate's ``too-many-deletes``.
Two catalog ids that become one SKU are the pipeline's ``duplicate-id`` (it checks the id
as the channel writes it: the SKU). A writer used on its own, with nothing upstream
keeping SKUs unique, catches them itself (``amazon-duplicate-sku``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import jsonschema_rs
import orjson
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from feedsync.channels.loader import builtin_templates_dir, load_table
from feedsync.errors import ConfigError, GateRefused, OutputError, TemplateError
from feedsync.rules.duplicates import SeenIds
from feedsync.writers.base import ItemRejected, Layout

__all__ = ["AmazonListingsWriter", "feed_validator", "message_validator", "report_validator"]

FEED_SCHEMA: Final = "listings-feed-schema-v2.json"
MESSAGE_SCHEMA: Final = "listings-feed-message-schema-v2.json"
REPORT_SCHEMA: Final = "listings-feed-processing-report-schema-v2.json"
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
Operation = Literal["UPDATE", "DELETE"]
_CONTROL_FIELDS: Final = frozenset({"sku", "product_type", "product_type_keys"})
_REQUIREMENTS: Final = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
_OPTION_KEYS: Final = frozenset({
    "seller_id", "marketplace_id", "language_tag", "issue_locale", "requirements",
    "product_types_file", "fulfillment_channel_code", "report_included_data",
    "plain_attributes", "max_bytes", "max_messages", "_output_dir", "_target", "_output",
    "_unique_field"})
# Options of the sidecar era (before issue 12): refused with a pointer to what replaced them.
_MOVED: Final = {
    "mode": "every build writes every SKU as UPDATE; `feedsync push` sends only changes "
            "(and `--full` everything) through the api: section (docs/apis.md)",
    "deletes": "deletes are sent by `feedsync push` through the api: section; the gate's "
               "max_delete_ratio / max_delete_count limit them (docs/state.md)",
    "max_delete_fraction": "use gate: {max_delete_ratio: ...} (code too-many-deletes)"}
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}_[A-Z]{2}$")
_MONEY = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
_IDENTIFIER_TYPES: Final = {8: "ean", 12: "upc", 13: "ean", 14: "gtin"}
_MAX_OTHER_IMAGES: Final = 8
_TAIL: Final = b"\n]}\n"
_ID_PREFIX: Final = b'{"messageId":'


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
def fast_message_validator() -> Any:
    """jsonschema-rs's compiled validator of the same message schema (the fast path)."""
    return jsonschema_rs.validator_for(_schema(MESSAGE_SCHEMA))


@cache
def report_validator() -> Validator:
    """Validator for a processing report (``listings-feed-processing-report-schema-v2.json``)."""
    return _compile(_schema(REPORT_SCHEMA))


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


class AmazonListingsWriter:
    """``amazon_listings``: one JSON_LISTINGS_FEED document per build (several when the
    channel's limits split it, ``feedsync/writers/split.py``).

    Stateless, so a parallel build encodes messages in its workers: ``encode`` depends on
    the item alone, and what depends on the messages before it is done by
    ``write_encoded`` in the process that writes, in catalog order: the message id (its
    place in the document, written over the placeholder ``encode`` gave) and the SKU
    table. The serial and the parallel build write the same bytes.
    """

    stateless = True
    concatenable = False
    # ``encode`` numbers a message after those this process wrote: ``feedsync explain``
    # writes the products before the one it shows (into nothing), so its id is the build's.
    numbered = True

    def __init__(self, layout: Layout) -> None:
        options = dict(layout.options)
        self._target = str(options.get("_target") or "amazon")
        self._key = f"channels.{self._target}.options.{options.get('_output') or 'listings'}"
        for name in options:
            if name in _MOVED:
                raise ConfigError(f"option {name!r} is gone: {_MOVED[name]}",
                                  key=f"{self._key}.{name}")
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
        self.requirements = self._choice(options, "requirements", _REQUIREMENTS, "LISTING")
        self.fulfillment_channel_code = self._text(options, "fulfillment_channel_code",
                                                   "DEFAULT")
        self.max_bytes = self._positive(options, "max_bytes", MAX_BYTES)
        self.max_messages = self._positive(options, "max_messages", MAX_MESSAGES)
        self.plain_attributes = frozenset(self._names(options, "plain_attributes"))
        self.product_types = self._product_types_file(options)

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
        self._validator = message_validator()
        self._fast = fast_message_validator()
        self._count = 0        # messages of this build: message ids run on across documents
        self._in_document = 0  # messages of the current document (a split starts another)
        self._bytes = 0        # bytes of the current document
        # A backstop where nothing upstream keeps SKUs unique (the writer used on its own).
        # The pipeline passes the field it rejects duplicates of (``duplicate-id``, on the
        # value as written); when that is the SKU, a second table of every SKU (~17 MB at
        # 1M products) would only repeat that check.
        checked = options.get("_unique_field") == "sku"
        self._skus: SeenIds | None = None if checked else SeenIds(1 << 10)

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
        """Start a document; called again for each part of a split feed
        (``feedsync/writers/split.py``), where message ids continue."""
        self._handle = handle
        self._in_document = 0
        self._bytes = 0
        head = ('{"header":' + _dumps(self.header) + ',"messages":[\n').encode("utf-8")
        self._put(head)

    def encode(self, item: Mapping[str, Any]) -> bytes:
        """The message for ``item``; ``write_encoded`` gives it its id."""
        message = self.update_message(item)
        data = self._encode(message)
        if self._skus is not None and self._skus.line_of(message["sku"]):
            # Nothing upstream keeps SKUs unique: this process wrote the SKU before.
            raise ItemRejected(
                "amazon-duplicate-sku",
                f"SKU {message['sku']!r} was already written by this build; Amazon SKUs are "
                "unique per seller", field="sku", source=SCHEMA_SOURCE)
        return data

    def write_encoded(self, data: bytes) -> None:
        if self._skus is None:
            self._emit(data)
            return
        sku = _sku_of(data)
        if self._skus.line_of(sku):
            # Encoded elsewhere (another process) with no upstream check: a feed
            # with a SKU twice is never written.
            raise OutputError(
                f"SKU {sku!r} would be written twice in the Amazon listings feed; Amazon "
                "SKUs are unique per seller", tip="run with --jobs 1 to have the second "
                "product rejected (amazon-duplicate-sku) instead")
        self._emit(data)
        self._skus.add(sku, self._count)

    def write(self, item: Mapping[str, Any]) -> None:
        self.write_encoded(self.encode(item))

    def reserve(self, expected: int) -> None:
        """Size the SKU table for about ``expected`` messages (the pipeline's estimate)."""
        if self._skus is not None:
            self._skus.reserve(expected)

    def update_message(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The product's ``UPDATE`` message, checked against Amazon's message schema.

        Raises ``ItemRejected`` (nothing written) when the product cannot be a message.
        ``messageId`` is a placeholder; the feed (or the SP-API publisher) numbers them.
        """
        sku = item.get("sku") or ""
        product_type = self._product_type(item)
        try:
            attributes = self._attributes(item)
        except _BadValue as exc:
            raise ItemRejected(exc.code, str(exc), field=exc.field, source=exc.source) from exc
        message = self._message("UPDATE", sku, product_type, attributes)
        self._check(message)
        return message

    def finish(self) -> None:
        assert self._handle is not None
        if self._count == 0:
            raise GateRefused(
                "the Amazon listings feed would hold no message: every product was "
                "rejected (Amazon's schema needs at least one)",
                tip="`feedsync validate --out DIR` writes the rules' findings to "
                    f"{self._target}.issues.jsonl; a product type missing from "
                    "product_types.csv is only found by build")
        self._put(_TAIL, tail=True)

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

    def _message(self, operation: Operation, sku: str, product_type: str,
                 attributes: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"messageId": self._in_document + 1, "sku": sku,
                                   "operationType": operation}
        if operation == "DELETE":
            return message
        message["productType"] = product_type
        if operation == "UPDATE":
            message["requirements"] = self.requirements
        message["attributes"] = dict(attributes)
        return message

    def _check(self, message: dict[str, Any]) -> None:
        """Raise ``ItemRejected`` unless Amazon's message schema accepts ``message``."""
        message["messageId"] = self._in_document + 1
        if self._fast.is_valid(message):
            return
        error = best_match(self._validator.iter_errors(message))
        if error is None:  # jsonschema accepts what jsonschema-rs refused: both must refuse
            return
        path = list(error.absolute_path)
        field = (str(path[1]) if len(path) > 1 and path[0] == "attributes"
                 else {"productType": "product_type"}.get(str(path[0]), str(path[0]))
                 if path else None)
        raise ItemRejected(
            "amazon-schema", f"Amazon's listings message schema refuses {_complaint(error)}",
            field=field, source=SCHEMA_SOURCE)

    def _encode(self, message: dict[str, Any]) -> bytes:
        message["messageId"] = self._in_document + 1
        if _orjson_exact(message):
            try:
                return orjson.dumps(message)
            except TypeError:  # an integer past 64 bits, lone surrogates: json decides
                pass
        try:
            return _dumps(message).encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates; the channel cleans them first
            raise ItemRejected("amazon-schema", f"text cannot be written as UTF-8: {exc}",
                               source=SCHEMA_SOURCE) from exc

    # --- bytes ------------------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        if self._in_document + 1 > self.max_messages:
            raise OutputError(
                f"the Amazon listings feed would hold more than {self.max_messages:,} messages, "
                "the most Amazon takes in one JSON_LISTINGS_FEED",
                tip="push through the SP-API with an api: section, which sends only changes "
                    "and splits them into feeds of 25,000 (docs/apis.md), or split the catalog "
                    f"into several files built into separate output directories ({COUNT_SOURCE})")
        data = self._numbered(data)
        self._put(data if self._in_document == 0 else b",\n" + data)
        self._count += 1
        self._in_document += 1

    def _numbered(self, data: bytes) -> bytes:
        """The message with the id it takes in its document (ids start at 1 in each
        document of a split feed). ``_encode`` writes ``messageId`` first."""
        number = str(self._in_document + 1).encode("ascii")
        end = data.index(b",", len(_ID_PREFIX))
        if data[len(_ID_PREFIX):end] == number:
            return data
        return _ID_PREFIX + number + data[end:]

    def _put(self, data: bytes, tail: bool = False) -> None:
        assert self._handle is not None
        reserve = 0 if tail else len(_TAIL)
        if self._bytes + len(data) + reserve > self.max_bytes:
            raise OutputError(
                f"the Amazon listings feed would be over {_size(self.max_bytes)} after "
                f"{self._in_document:,} messages; Amazon asks for feeds under 10 MiB",
                tip="push through the SP-API with an api: section, which sends only changes "
                    "and splits them by size (docs/apis.md), or split the catalog into several "
                    f"files built into separate output directories ({SIZE_SOURCE})")
        self._handle.write(data)
        self._bytes += len(data)


# --- helpers ---------------------------------------------------------------------------

def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _orjson_exact(message: Mapping[str, Any]) -> bool:
    """Whether orjson writes ``message`` byte for byte as ``_dumps`` does (and ~5× faster).

    Both write the shortest text that reads back as the same float, and escape text
    alike, but not always in the same form: ``1.5e-05`` / ``0.000015``, ``5e-06`` /
    ``5e-6``. The one float of a message is the price (``_number``); between 1e-4 and
    1e16 both write it without an exponent (checked on 300,000 random prices), so only
    prices in that range take orjson.
    """
    offer = message.get("attributes", {}).get("purchasable_offer")
    if not offer:
        return True
    amount = offer[0]["our_price"][0]["schedule"][0]["value_with_tax"]
    return type(amount) is int or amount == 0 or 1e-4 <= abs(amount) < 1e16


_DECODER: Final = json.JSONDecoder()


def _sku_of(data: bytes) -> str:
    """The SKU of an encoded message (``_encode`` writes messageId, then sku)."""
    text = data.decode("utf-8")
    start = text.index(',"sku":') + len(',"sku":')
    sku, _ = _DECODER.raw_decode(text, start)
    return str(sku)


def _number(text: str) -> int | float:
    """A JSON number for a decimal amount: ``24.00`` -> 24.0, ``24`` -> 24."""
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(text) from exc
    return float(amount) if "." in text else int(amount)


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB" if count >= 1024 * 1024 else f"{count:,} bytes"
