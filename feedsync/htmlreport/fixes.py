"""One line per issue code: what a merchandiser does about it.

Keyed by the stable issue code (docs/issue-codes.md) so the table can move into the
issue-code catalogue as it grows; a code without a line here is shown with its message.
The lines say what to change in the catalog (or the config), never how feedsync works.
"""

from __future__ import annotations

from collections.abc import Mapping

FIXES: Mapping[str, str] = {
    # Rows the reader could not use.
    "row-ragged": "Give the row exactly as many cells as the header; look for an unquoted "
                  "delimiter inside a value.",
    "row-unterminated-quote": "Close the quote that opens on this line, or double any quote "
                              "character inside the value (\"\").",
    "row-undecodable": "Save the catalog as UTF-8, or set catalog.encoding to the encoding "
                       "it was exported in.",
    "row-malformed": "Re-export the row from the shop; it is not a CSV record.",
    "row-field-too-large": "Shorten the cell: a value this large is almost always a broken "
                           "export (a missing closing quote).",
    "row-bad-json": "Fix the JSON on this line (one object per line).",
    "row-not-object": "Make every record a JSON object of attribute names to values.",
    "profile-not-a-product": "Nothing to fix: this export row is not a sellable product "
                             "(its variants are sent instead).",
    "profile-missing-key": "Fill the handle or parent reference the shop export groups "
                           "variants by.",
    # Field checks.
    "missing-required": "Fill this attribute in the catalog, or map it from another column "
                        "in the channel's overrides.",
    "too-long": "Shorten the value to the channel's limit; put the most important words first.",
    "too-short": "Write a longer value; the channel needs at least its minimum length.",
    "not-in-enum": "Use one of the values the channel accepts (see the rule's source).",
    "bad-url": "Use a full http(s):// URL that opens the product page or image.",
    "bad-money": "Write the amount with a dot and the currency code, e.g. 12.50 USD.",
    "bad-gtin": "Copy the GTIN from the packaging or the manufacturer; leave it empty when "
                "the product has none.",
    "gtin-coupon-range": "Use the product's real GTIN; coupon-range numbers are not products.",
    "gtin-restricted-range": "Use the manufacturer's GTIN, not a store-internal number.",
    "bad-date": "Write the date as ISO 8601, e.g. 2025-03-01T00:00+01:00.",
    "bad-date-range": "Write start and end as ISO 8601 date-times joined by /.",
    "pattern-mismatch": "Change the value to the format the rule's source describes.",
    "too-many-values": "Keep only as many values as the channel allows.",
    "private-use-char": "Remove the private-use (icon font) characters from the text.",
    "promotional-text": "Remove shipping, sale and price claims from the title; use the "
                        "channel's promotion attributes instead.",
    "all-caps": "Write the title in normal sentence or title case.",
    # Codes of the shipped templates.
    "placeholder-text": "Replace the placeholder with the real product title.",
    "color-not-a-name": "Write the colour as names (Navy Blue), up to three joined by /.",
    "bad-shipping": "Write shipping as country:region:service:price, e.g. US::Standard:4.95 USD.",
    "bad-tax": "Write tax as country:region:rate:tax_ship, e.g. US:CA:8.25:yes.",
    "availability-date-required": "Add availability_date for preorder and backorder products.",
    "sale-price-not-below-price": "Set sale_price below price, or leave sale_price empty.",
    "sale-price-currency-differs": "Give sale_price the same currency as price.",
    "missing-identifier": "Add the GTIN or the MPN; for products that have neither, set "
                          "identifier_exists to no.",
    "identifier-exists-contradicts-gtin": "Remove identifier_exists: no from products that "
                                          "have a GTIN.",
    "too-many-images": "Keep the 10 best additional images; the rest are dropped.",
    "apparel-attributes-missing": "Fill color, gender and age_group for apparel products.",
    "condition-missing-for-used": "Set condition to used or refurbished.",
    "html-in-description": "Remove HTML tags and entities from the description (plain text "
                           "only).",
    "bad-date-range-format": "Write the time-zone offset as ±hh:mm in the sale dates.",
    "bad-quantity": "Write the quantity as a whole number.",
    "commerce-identifiers": "Add brand plus GTIN or MPN to sell through Shops.",
    "variant-attribute-missing": "Give each variant the colour, size, pattern or material "
                                 "that tells it apart.",
    "category-too-shallow": "Use a category path of at least two levels (Home > Kitchen).",
    "additional-images-too-long": "Send fewer additional image links (2,000 characters in all).",
    "emoji-in-title": "Remove emoji from the title.",
    "format-char": "Remove the invisible formatting characters (copy-paste residue).",
    "price-without-currency": "Add the currency code to the price, e.g. 12.50 EUR.",
    "comma-in-image-link": "Use an image URL without commas (encode it as %2C).",
    "placeholder-image": "Replace the placeholder image with a real product photo.",
    "bad-category-separator": "Separate category levels with ' > ' (spaces around >).",
    "shipping-required": "Add shipping for products sold in Austria and Germany.",
    "missing-quantity": "Add the stock quantity so the listing can be bought.",
    "pickup-method-without-sla": "Add pickup_sla for products with a pickup method.",
    "product-type-single-value": "Use ' > ' between levels; Microsoft reads a comma as part "
                                 "of one value.",
    # Set by the Amazon writer.
    "amazon-no-product-type": "Map the product's category to an Amazon product type "
                              "(product_type or google_product_category).",
    "amazon-schema": "Fix the attribute named in the message to the shape Amazon's schema "
                     "needs.",
    "amazon-bad-value": "Use a value Amazon accepts for this attribute.",
    "amazon-duplicate-sku": "Give every product its own SKU.",
    # Set by feedsync itself.
    "duplicate-id": "Give each product its own id; the first row with this id is kept.",
    "invalid-xml-char": "Remove the control character from the text in the shop; it was "
                        "dropped from the feed.",
    "formula-like-value": "Nothing is broken; don't open this feed in a spreadsheet and "
                          "save it again.",
    "no-price-in-target-currency": "Add a price column in the target's currency "
                                   "(price_EUR); feedsync never converts.",
}


def fix_for(code: str, message: str) -> str:
    """The fix line for ``code``, else the issue's own message."""
    return FIXES.get(code, message)
