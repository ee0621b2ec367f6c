"""ISO 4217 currency codes in which goods can be priced.

Source: ISO 4217 "List one: currency, fund and precious metal codes", published by the
maintenance agency SIX (https://www.six-group.com/en/products-services/financial-information/data-standards.html),
read for December 2026. Kept here: every active currency code, including the regional
ones (XAF, XCD, XCG, XOF, XPF). Left out on purpose, because no product is priced in
them: the fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), the precious metals
(XAG, XAU, XPD, XPT), the units of account (XDR, XSU, XUA, XBA…XBD), the testing code
XTS and "no currency" XXX. Withdrawn codes are not ISO 4217 any more and are refused:
HRK (Croatia to EUR, 2023), ZWL (to ZWG, 2024), SLL (to SLE), (to XCG, 2025), BGN
(Bulgaria to EUR, 2026), CUC, VEF, MRO, STD.
"""

from __future__ import annotations

from typing import Final

ISO_4217_CURRENCIES: Final = frozenset("""
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
ZAR ZMW ZWG
""".split())
