"""Money as people read it: integer minor units shown in currency units (ISO 4217 exponents).

Known by every app that shows a price (a post's price, a transaction, a generation's cost), so it
lives here, below them all.
"""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from the usual 2.
EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def in_units(minor: int | None, currency: str) -> str:
    """"12.50 EUR" for 1250 minor units of EUR; "" when there is no price."""
    if minor is None:
        return ""
    places = exponent(currency or "USD")
    amount = f"{Decimal(minor).scaleb(-places):,.{places}f}"
    return f"{amount} {currency.upper()}".strip()
