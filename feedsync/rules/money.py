"""Money values as channels read them: ``<amount> <ISO 4217 code>`` (``12.50 USD``).

``parse_money`` splits a mapped value into its parts or says, in a short reason, why it is
not one; the ``money`` check (checks.py) then applies the channel's own rules on zero,
comma decimals and accepted currencies. Kept apart from checks.py so the code list and
the parsing can be read, and tested, on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from feedsync.rules.currencies import ISO_4217_CURRENCIES

ISO_4217 = ISO_4217_CURRENCIES  # one list for the whole package


_MONEY = re.compile(r"^([+-]?)(\d+)(?:([.,])(\d+))? ([A-Za-z]{3})$")
_BARE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
# float() reads these (any case, with a sign): never a price, whatever a channel allows.
NON_FINITE = re.compile(r"^\s*[+-]?(nan|inf|infinity)\b", re.I)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str
    comma: bool  # the decimal separator was a comma (``12,50 EUR``)


def parse_money(value: str) -> Money | str:
    """The parts of ``12.50 USD``, or a reason why ``value`` is not a money value."""
    if NON_FINITE.match(value):
        return f"{value!r} is not a finite number"
    match = _MONEY.match(value)
    if match is None:
        if _BARE.match(value):
            return f"{value!r} has no currency (ISO 4217 code such as 'USD')"
        return f"{value!r} is not an amount with an ISO 4217 currency ('12.50 USD')"
    sign, whole, separator, fraction, currency = match.groups()
    if currency not in ISO_4217:
        hint = " (write it in capitals)" if currency.upper() in ISO_4217 else ""
        return f"{currency!r} is not an ISO 4217 currency code{hint}"
    amount = Decimal(f"{sign}{whole}.{fraction or '0'}")
    return Money(amount=amount, currency=currency, comma=separator == ",")
