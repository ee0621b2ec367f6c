"""The issue-code catalogue: every finding feedsync can report, one entry per code.

A code is a stable kebab-case name, never renamed. Each entry says its default severity,
its message template (``{field}``-style placeholders), its source where the source is
fixed (a rule's source in a channel file wins: ``source=`` on ``Code.issue``), which part
of feedsync reports it, and what it means. ``Issue`` objects for codes feedsync sets
itself are built here (``CODES["duplicate-id"].issue(...)``), so a message is rendered
from its template in one place; rules in channel files give their own message and
source, and take the code's default severity when they do not name one.

docs/issue-codes.md is generated from this table (``markdown``), and
``tests/test_issue_codes.py`` fails when either drifts: a code a part of feedsync can
emit (a check, a shipped channel folder, a writer, a source, a profile, the gate) that is
missing here, or a page that no longer matches the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from feedsync.model import Issue, Severity

Area = Literal["row", "check", "template", "writer", "api", "feedsync", "gate"]

AREA_TITLES: Final[dict[Area, str]] = {
    "row": "Rows the reader could not use (catalog level, in `catalog.issues.jsonl`)",
    "check": "Field checks (named in a channel's `channel.yaml`)",
    "template": "Codes given by the shipped channel folders (`code:` on a rule or a check)",
    "writer": "Set by the Amazon writer (`amazon_listings`)",
    "api": "Set by the channel APIs (`feedsync push` with `api:`, `feedsync status`; "
           "docs/apis.md). Written to `<state>/logs/<run>/<target>.api.issues.jsonl`; a "
           "product the channel refused is not marked accepted, so the next push sends it "
           "again",
    "feedsync": "Set by feedsync itself",
    "gate": "Publish gate reasons (`feedsync push`, in the report's deliveries)",
}


@dataclass(frozen=True)
class Code:
    """One issue code: what it means and how its findings are written."""

    code: str
    severity: Severity       # default: a channel file's rule may name another
    area: Area
    meaning: str             # one line for docs/issue-codes.md
    message: str = ""        # template; ``{field}``, ``{reason}`` ... filled by ``render``
    source: str | None = None  # where the rule is written down, when it is always the same
    check: str | None = None   # the field check that reports it (area "check")

    def render(self, **params: Any) -> str:
        return self.message.format(**params) if self.message else self.meaning

    def issue(self, *, channel: str = "", product_id: str | None = None,
              file: str | None = None, line: int | None = None, field: str | None = None,
              value: str | None = None, source: str | None = None,
              severity: Severity | None = None, message: str | None = None,
              **params: Any) -> Issue:
        """A finding of this code; the message from the template unless one is given."""
        return Issue(code=self.code, severity=severity or self.severity,
                     message=message if message is not None else self.render(
                         field=field, value=value, channel=channel, product_id=product_id,
                         **params),
                     channel=channel, product_id=product_id, file=file, line=line,
                     field=field, value=value, source=source or self.source)


_SCHEMA: Final = ("https://github.com/amzn/selling-partner-api-models/blob/main/schemas/"
                  "feeds/listings-feed-message-schema-v2.json")
_PRODUCT_TYPE: Final = "https://developer-docs.amazon.com/sp-api/docs/product-type-api-use-case-guide"


def _row(code: str, meaning: str) -> Code:
    return Code(code, "error", "row", meaning)


def _check(code: str, check: str, meaning: str) -> Code:
    return Code(code, "error", "check", meaning, "{field} {reason}", check=check)


def _template(code: str, meaning: str, severity: Severity = "error") -> Code:
    return Code(code, severity, "template", meaning, "{field} {reason}")


def _gate(code: str, meaning: str) -> Code:
    return Code(code, "error", "gate", meaning)


_ALL: Final[tuple[Code, ...]] = (
    # --- sources and profiles: rows that are reported and skipped ---------------------------
    _row("row-ragged", "a CSV/TSV row has more or fewer cells than the header"),
    _row("row-unterminated-quote", "a quoted cell is never closed before the end of the file"),
    _row("row-undecodable", "the row holds bytes that are not valid in the file's encoding "
                            "(the byte offset is given)"),
    _row("row-malformed", "the row could not be parsed as a CSV record"),
    _row("row-field-too-large", "a cell is larger than the reader's safety limit"),
    _row("row-bad-json", "a JSON Lines line is not valid JSON"),
    _row("row-not-object", "a JSON record is not an object"),
    _row("profile-not-a-product", "a shop-export row that is not a sellable product (a "
                                  "variable parent, a grouped product, a store-view row); "
                                  "see docs/profiles.md"),
    _row("profile-missing-key", "a shop-export row without the key its profile groups by "
                                "(a handle, a parent reference)"),
    _row("group-key-empty", "the row's `catalog.group_by` cell is empty: it belongs to no "
                            "product group (docs/mapping.md)"),
    _row("group-not-adjacent", "the row's group key was seen before, with other groups "
                               "between: the rows of a group must be adjacent "
                               "(docs/mapping.md)"),
    # --- the field checks of feedsync/rules/checks.py -----------------------------------------
    _check("missing-required", "required", "the field is empty but the channel requires it"),
    _check("too-long", "max_length", "more characters than the channel allows"),
    _check("too-short", "min_length", "fewer characters than the channel needs"),
    _check("not-in-enum", "enum", "not one of the values the channel accepts"),
    _check("bad-url", "url", "not an http(s) URL (or not ASCII where the channel asks)"),
    _check("bad-money", "money", "not an amount with an ISO 4217 currency, not finite, or "
                                 "not above zero"),
    _check("bad-gtin", "gtin", "not 8/12/13/14 digits, or the GS1 check digit fails"),
    _check("gtin-coupon-range", "gtin_coupon", "a GTIN in a coupon range"),
    _check("gtin-restricted-range", "gtin_restricted",
           "a restricted-circulation GTIN (store-internal numbers)"),
    _check("bad-date", "date", "not an ISO 8601 date or date-time"),
    _check("bad-date-range", "date_range", "not two ISO 8601 date-times joined by `/`"),
    _check("pattern-mismatch", "pattern", "does not match the channel's pattern (channel "
                                          "folders often give such rules a code of their "
                                          "own, listed below)"),
    _check("too-many-values", "max_count", "more values than the channel allows"),
    _check("private-use-char", "no_private_use",
           "holds a Unicode private-use character (U+E000–U+F8FF)"),
    _check("promotional-text", "promo_text", "promotional phrases such as \"free shipping\""),
    _check("all-caps", "all_caps", "written in capitals only"),
    # --- codes the shipped channel folders give their rules and item checks -------------------
    _template("placeholder-text", "title holds placeholder text (lorem ipsum, TBD, N/A)",
              "warning"),
    _template("color-not-a-name", "colour is a code, `multi` or `N/A` rather than colour "
                                  "names", "warning"),
    _check("bad-shipping", "shipping", "not Google's `country:region:service:price[:min_handling:"
           "max_handling:min_transit:max_transit]`, or a bad price or day count"),
    _template("image-format", "an image link not ending in .jpeg, .jpg or .png, as TikTok's "
              "diagnostics ask", "hint"),
    _template("inconsistent-currency", "sale_price and price in different currencies"),
    _template("missing-condition", "no condition (Pinterest publishes the item, with less "
              "visibility)", "warning"),
    _template("promotional-text-possible", "\"sale\" or \"% off\" in the title (TikTok's own "
              "three phrases are `promotional-text`)", "warning"),
    _template("tax-category-outside-us", "commerce_tax_category on a target outside the US "
              "(Meta's tax categories are US-only)", "warning"),
    _template("too-many-shipping-groups", "more than one shipping group (Pinterest takes one)",
              "warning"),
    _template("unknown-currency", "the price names a currency that is not ISO 4217"),
    _template("zero-price", "a price of 0, which the channel does not say it accepts",
              "warning"),
    _check("bad-business-days", "business_days", "not week days separated by `;` or a `-` "
           "range, in one spelling (M, Mon or Monday)"),
    _check("date-too-far-ahead", "date_ahead", "a date more than `days` days after now "
           "(`FEEDSYNC_NOW` fixes \"now\")"),
    _template("apparel-color-missing", "Apparel & Accessories (166 and its subtree) without "
              "color, for a BR, FR, DE, JP, UK or US target"),
    _template("apparel-gender-missing", "Apparel & Accessories (166 and its subtree) without "
              "gender, for a BR, FR, DE, JP, UK or US target"),
    _template("apparel-age-group-missing", "Apparel & Accessories (166 and its subtree) "
              "without age_group, for a BR, FR, DE, JP, UK or US target"),
    _template("apparel-size-missing", "Clothing (1604) or Shoes (187) without size, for a BR, "
              "FR, DE, JP, UK or US target"),
    _template("bad-certification", "certification is not `authority:name:code`"),
    _template("bad-product-detail", "product_detail is not "
              "`section_name:attribute_name:attribute_value`"),
    _template("bad-structured-title", "structured_title is not `digital_source_type:content` "
              "(default or trained_algorithmic_media) within the length"),
    _template("bad-structured-description", "structured_description is not "
              "`digital_source_type:content` within the length"),
    _template("bad-unit-pricing-measure", "unit_pricing_measure is not a number and a "
              "supported unit (`1.5kg`, `100 ml`)"),
    _template("bad-unit-pricing-base-measure", "unit_pricing_base_measure is not a number and "
              "a supported unit (`100 ml`)"),
    _template("bad-variant-option", "variant_option is not `name:value`"),
    _template("color-too-long", "one colour (between `/`) over 40 characters"),
    _template("energy-efficiency-class-replaced", "energy_efficiency_class without "
              "certification (the EPREL code replaced it)", "warning"),
    _template("item-group-title-without-id", "item_group_title without item_group_id",
              "warning"),
    _template("product-highlight-too-few", "a single product highlight (Google asks for at "
              "least 2)", "warning"),
    _template("bad-tax", "tax is not `US:region:rate:tax_ship`"),
    _template("availability-date-required", "preorder/backorder without availability_date"),
    _template("sale-price-not-below-price", "sale_price is not lower than price"),
    _template("sale-price-currency-differs", "sale_price and price use different currencies"),
    _template("missing-identifier", "branded product without gtin or mpn, and "
                                    "identifier_exists not `no`", "warning"),
    _template("identifier-exists-contradicts-gtin", "identifier_exists is `no` but a gtin "
                                                    "is given", "warning"),
    _template("too-many-images", "more additional images than the channel takes (the first "
                                 "ones are kept)", "warning"),
    _template("apparel-attributes-missing", "apparel without color, gender and age_group",
              "warning"),
    _template("condition-missing-for-used", "a used or refurbished product without "
                                            "condition", "warning"),
    _template("html-in-description", "the description still holds HTML tags or entities"),
    _template("bad-date-range-format", "a sale date offset not written `±hh:mm`", "warning"),
    _template("bad-quantity", "a stock quantity that is not a whole number of 0 or more"),
    _template("commerce-identifiers", "Shops need a brand plus a gtin or mpn", "hint"),
    _template("variant-attribute-missing", "item_group_id without colour, size, pattern or "
                                           "material", "warning"),
    _template("category-too-shallow", "a text category with fewer than 2 levels", "warning"),
    _template("additional-images-too-long", "additional image links over 2,000 characters "
                                            "in all", "warning"),
    _template("emoji-in-title", "the title contains an emoji"),
    _template("format-char", "an invisible formatting character in sku_id or title"),
    _template("price-without-currency", "a price without currency (Pinterest reads it as "
                                        "USD)", "warning"),
    _template("comma-in-image-link", "Pinterest cannot process a comma in an image URL", "warning"),
    _template("placeholder-image", "an image URL named placeholder or dummy", "warning"),
    _template("bad-category-separator", "`>` without spaces in product_type"),
    _template("shipping-required", "an AT or DE target without shipping"),
    _template("missing-quantity", "no stock quantity: the listing is sent without "
                                  "fulfillment availability", "warning"),
    _template("pickup-method-without-sla", "pickup_method without pickup_sla (unless \"not "
                                           "supported\")", "warning"),
    _template("product-type-single-value", "a comma in product_type, which Microsoft reads "
                                           "as one value", "hint"),
    # --- the Amazon listings writer ------------------------------------------------------------
    Code("amazon-no-product-type", "error", "writer", "neither product_type nor "
         "google_product_category maps to an Amazon product type", source=_PRODUCT_TYPE),
    Code("amazon-schema", "error", "writer", "the listing message fails Amazon's JSON schema "
         "(the JSON path is named)", source=_SCHEMA),
    Code("amazon-bad-value", "error", "writer", "a value Amazon cannot take (e.g. a price "
         "without a currency, a GTIN of the wrong length)", source=_SCHEMA),
    Code("amazon-currency-mismatch", "error", "writer", "the offer's currency is not the "
         "marketplace's (`channel_templates/amazon/marketplaces.csv`)",
         source="https://developer-docs.amazon.com/sp-api/docs/marketplace-ids"),
    Code("amazon-duplicate-sku", "error", "writer", "the same SKU twice in one feed",
         source=_SCHEMA),
    # --- feedsync's own findings ------------------------------------------------------------
    Code("duplicate-id", "error", "feedsync", "the same id (as the channel writes it) "
         "appeared earlier in the catalog; the first occurrence is kept (both lines are "
         "named)", "id {value!r} already appeared on line {first_line}; the first "
         "occurrence is kept"),
    Code("expression-failed", "error", "feedsync", "a field, check or filter expression "
         "raised an error on this product (the message names the expression's config key); "
         "the product is rejected, the build goes on", "{key}: {error}"),
    Code("invalid-xml-char", "warning", "feedsync", "a character no feed can carry (C0 "
         "control, lone surrogate, U+FFFE/U+FFFF) was removed",
         "{field} held a character feeds cannot carry ({code_point}); it was removed",
         source="https://www.w3.org/TR/xml/#charsets"),
    Code("formula-like-value", "warning", "feedsync", "a value in a CSV/TSV feed starts with "
         "`=`, `+`, `-`, `@`, tab or CR; kept byte for byte, but a spreadsheet would run it",
         "{field} starts with {first!r}; a spreadsheet opening this feed would run it as a "
         "formula (kept as is for the channel)",
         source="https://owasp.org/www-community/attacks/CSV_Injection"),
    Code("line-break-removed", "warning", "feedsync", "a tab or line break in a value of an "
         "unquoted text feed (`quoting: none`, Microsoft) was replaced by a space",
         "{field} held a tab or line break, which this unquoted text feed cannot carry; "
         "each run was replaced by a space"),
    Code("include-filter", "hint", "feedsync", "the product was left out of this channel by "
         "the config's include filter", "left out of {channel} by its include filter"),
    Code("exclude-filter", "hint", "feedsync", "the product was left out of this channel by "
         "the config's exclude filter", "left out of {channel} by its exclude filter"),
    Code("no-price-in-target-currency", "error", "feedsync", "the target's currency has no "
         "price column for this product; feedsync never converts",
         "no {currency} price for target {channel} (catalog currency {own}; add a {column} "
         "column, feedsync never converts)"),
    # --- the channel APIs (feedsync/apis/) -----------------------------------------------
    Code("google-api-value", "error", "api", "build time: a value cannot become its Merchant "
         "API field (a price that is not `amount CURRENCY` or has more than six decimals, an "
         "enum the API does not know, a date that is not ISO 8601); the product is left out"),
    Code("google-api-rejected", "error", "api", "the Merchant API refused the product input "
         "(its `google.rpc.Status` message; the field from its `[field]` prefix or "
         "`FIELD_LOCATION`)"),
    Code("google-item-issue", "error", "api", "`feedsync status`: an item-level issue Google "
         "found after accepting the product (`DISAPPROVED` error, `DEMOTED` warning, "
         "`NOT_IMPACTED` hint), with its reporting context, countries and documentation link"),
    Code("amazon-report-error", "error", "api", "Amazon's processing report refused the "
         "message of this SKU (Amazon's code, message and attribute are named); feed-level "
         "errors have no product"),
    Code("amazon-report-warning", "warning", "api", "a WARNING (or INFO, as a hint) of the "
         "processing report; the listing was accepted"),
    Code("meta-batch-error", "error", "api", "Meta refused the item (`validation_status` of "
         "items_batch, or `errors` of check_batch_request_status)"),
    Code("meta-batch-warning", "warning", "api", "a warning Meta returned for the item; it "
         "was accepted"),
    Code("api-held-back", "warning", "api", "not sent: the channel refused this exact version "
         "`hold_after` times in a row; it is sent again once it changes, or with `--full`"),
    Code("api-delete-failed", "error", "api", "the channel refused to delete the product; the "
         "delete is tried again next run"),
    # --- the publish gate (feedsync/gate.py) ----------------------------------------------
    _gate("feed-empty", "no items written"),
    _gate("too-few-items", "fewer items than `min_items` (but more than none)"),
    _gate("feed-shrunk", "items fell by more than `max_drop_ratio` against the last good "
                         "feed"),
    _gate("feed-shrunk-count", "items fell by more than `max_drop_count`"),
    _gate("too-many-deletes", "an API channel would delete more than `max_delete_ratio` "
          "(default 20%) or `max_delete_count` of the products it holds"),
    _gate("too-many-rejected", "rejected / (written + rejected) is above "
                               "`max_rejected_ratio`"),
)

CODES: Final[dict[str, Code]] = {c.code: c for c in _ALL}


def default_severity(code: str | None) -> Severity:
    """The severity a channel file's rule gets when it names none: the code's default,
    ``error`` for a code of the channel folder's own (a rule the channel enforces)."""
    known = CODES.get(code or "")
    return known.severity if known is not None else "error"


def markdown(channel_codes: Mapping[str, Iterable[str]] | None = None) -> str:
    """docs/issue-codes.md, generated from the catalogue.

    ``channel_codes`` maps a code to the shipped channel folders that use it (the
    template codes' "channels" column); the test builds it from channel_templates/.
    """
    lines = [
        "# Issue codes",
        "",
        "Every finding feedsync reports carries a stable kebab-case `code` (never renamed),",
        "a severity, the product id (as the channel writes it), file, line and field where",
        "they apply, and the rule's source URL. Tests assert codes, not message text.",
        "",
        "This page is generated from the catalogue in `feedsync/codes.py`",
        "(`FEEDSYNC_UPDATE_DOCS=1 python -m pytest tests/test_issue_codes.py` rewrites it);",
        "`tests/test_issue_codes.py` fails when a code any part of feedsync can report is",
        "missing from the catalogue, or when this page no longer matches it.",
        "",
        "Severities: **error** drops the product from that channel's feed; **warning** keeps",
        "it and reports it; **hint** only advises. The severity shown is the code's default:",
        "a rule in a channel file may name another (`severity:`), and `explain` shows the",
        "one that applies.",
    ]
    for area, title in AREA_TITLES.items():
        lines += ["", f"## {title}", ""]
        codes = [c for c in _ALL if c.area == area]
        if area == "check":
            lines += ["| code | check | severity | meaning |", "|---|---|---|---|"]
            lines += [f"| `{c.code}` | `{c.check}` | {c.severity} | {c.meaning} |"
                      for c in codes]
        elif area == "template":
            lines += ["| code | channels | default severity | meaning |", "|---|---|---|---|"]
            for c in codes:
                used = ", ".join(sorted((channel_codes or {}).get(c.code, ())))
                lines.append(f"| `{c.code}` | {used} | {c.severity} | {c.meaning} |")
        else:
            lines += ["| code | severity | meaning |", "|---|---|---|"]
            lines += [f"| `{c.code}` | {c.severity} | {c.meaning} |" for c in codes]
    lines += ["", "A channel folder that gives a rule a code of its own should add it to the",
              "catalogue and to this page (the test holds this for the shipped folders);",
              "`feedsync explain` shows each rule with its code and source.", ""]
    return "\n".join(lines)


def shipped_channel_codes(templates: Path) -> dict[str, set[str]]:
    """Code -> the shipped channel folders whose rules or checks name it."""
    import yaml

    found: dict[str, set[str]] = {}
    for path in sorted(templates.glob("*/channel.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        codes = {c["code"] for c in raw.get("checks", []) or []}
        for spec in (raw.get("fields") or {}).values():
            if isinstance(spec, dict):
                codes.update(r["code"] for r in spec.get("rules", []) or [] if "code" in r)
        for code in codes:
            found.setdefault(code, set()).add(path.parent.name)
    return found

