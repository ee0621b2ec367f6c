"""Source profiles: map shop-software exports onto feedsync's canonical product.

``apply(records, name)`` wraps a source's record stream. ``name`` is a key of
``PROFILES``, ``"auto"`` (detect from the first record's columns) or ``"none"``.
Profiles stream: they hold at most one product group (a Shopify handle, a Magento
configurable) in memory, never the catalog. The exceptions, each bounded and documented
in its module: WooCommerce remembers the shared fields of its last variable parents,
PrestaShop combinations read their products file, and the Saleor fixture is joined whole.

Every variant becomes its own product with ``item_group_id``; parents that are not
sellable on their own (a WooCommerce variable product, a Magento configurable) are not
products. Rows a profile cannot list are reported as row problems
(``profile-not-a-product``, ``profile-missing-key``), never dropped silently.
docs/profiles.md describes each profile.

>>> detect(["Handle", "Title", "Body (HTML)", "Variant Price"])
'shopify'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from feedsync.errors import ConfigError
from feedsync.model import Record, RowProblem
from feedsync.profiles import magento, medusa, prestashop, saleor, shopify, woocommerce

Stream = Iterator[Record | RowProblem]
Profile = Callable[[Stream], Stream]
Detector = Callable[[Iterable[str]], bool]

# name -> (detector over the header's column names, transform). Detection tries them in
# this order; no two detectors accept the same header.
PROFILES: dict[str, tuple[Detector, Profile]] = {
    "shopify": (shopify.detect, shopify.profile),
    "woocommerce": (woocommerce.detect, woocommerce.profile),
    "magento": (magento.detect, magento.profile),
    "prestashop": (prestashop.detect_products, prestashop.products_profile),
    "prestashop-combinations": (prestashop.detect_combinations, prestashop.combinations_profile),
    "medusa": (medusa.detect, medusa.profile),
    "saleor": (saleor.detect, saleor.profile),
}


def detect(columns: Iterable[str]) -> str | None:
    """The name of the profile whose detector accepts these column names, or None."""
    names = list(columns)
    for name, (detector, _) in PROFILES.items():
        if detector(names):
            return name
    return None


def apply(records: Iterable[Record | RowProblem], name: str = "auto") -> Stream:
    """The record stream seen through profile ``name`` (or the detected one)."""
    stream = iter(records)
    if name == "none":
        return stream
    if name != "auto":
        if name not in PROFILES:
            raise ConfigError(f"unknown profile {name!r}", key="catalog.profile",
                              tip="profiles: auto, none, " + ", ".join(sorted(PROFILES)))
        return PROFILES[name][1](stream)
    head: list[Record | RowProblem] = []
    for item in stream:
        head.append(item)
        if isinstance(item, Record):
            found = detect(item.data.keys())
            chained = _chain(head, stream)
            return PROFILES[found][1](chained) if found else chained
    return iter(head)


def _chain(head: list[Record | RowProblem], rest: Iterator[Record | RowProblem]) -> Stream:
    yield from head
    yield from rest
