"""ISO 4217 currency codes in which goods can be priced.

Source: ISO 4217 "List one: currency, fund and precious metal codes", published by the
maintenance agency SIX (https://www.six-group.com/en/products-services/financial-information/data-standards.html),
as amended up to amendment 179 (2025). Kept here: every active currency code, including
the regional ones (XAF, XCD, XCG, XOF, XPF). Left out on purpose, because no product is
priced in them: the fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), the
precious metals (XAG, XAU, XPD, XPT), the units of account (XDR, XSU, XUA, XBA…XBD), the
testing code XTS and "no currency" XXX. ANG stays while the Caribbean guilder (XCG, in
circulation since 2025-03-31) replaces it, so a feed still priced in ANG is not refused
for the changeover alone.
"""

from __future__ import annotations

from typing import Final

ISO_4217_CURRENCIES: Final = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
ZAR ZMW ZWG
""".split())
