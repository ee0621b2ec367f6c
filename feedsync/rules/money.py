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

# ISO 4217 alphabetic codes of the currencies in use (the ISO 4217 maintenance agency's
# list one, https://www.six-group.com/en/products-services/financial-information/
# data-standards.html), read for December 2026. Left out on purpose: precious metals,
# bond units and test codes (XAU, XAG, XPD, XPT, XBA-XBD, XTS, XXX), which no product is
# priced in, and codes withdrawn from the list: HRK (Croatia to EUR, 2023), ZWL (replaced
# by ZWG, 2024), SLL (replaced by SLE), ANG (replaced by XCG, 2025), BGN (Bulgaria to EUR,
# 2026), CUC, VEF, MRO, STD.
ISO_4217 = frozenset("""
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV
WST XAF XCD XCG XDR XOF XPF XSU XUA YER ZAR ZMW ZWG
""".split())

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
