"""Amounts kept in minor units (cents) shown as people read them: 1999 EUR is "€19.99".

Why here: posts, collections, generation costs and every analytics page store money as an integer
count of the currency's minor unit, and each app showed it its own way (`19.99 EUR`, `1999`). The
number of decimals is the currency's ISO 4217 exponent (JPY has none, KWD three), never a fixed 2.
"""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from the usual 2.
EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
    # Telegram Stars are whole: a paid message's price is a count of stars.
    "XTR": 0,
}

# Symbols read without ambiguity in an English admin; any other currency is written with its code.
SYMBOLS: dict[str, str] = {
    "EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪", "NGN": "₦",
    "UAH": "₴", "VND": "₫", "PHP": "₱", "TRY": "₺", "PLN": "zł ",
}


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def to_units(minor: int, currency: str) -> Decimal:
    """Minor units as a Decimal amount of the currency (1999, EUR → 19.99)."""
    return Decimal(int(minor)).scaleb(-exponent(currency))


def format_money(minor: int | None, currency: str | None, *, empty: str = "—") -> str:
    """"€19.99", "-€5.00", "¥1,200", "CHF 12.50"; `empty` when there is no amount."""
    if minor is None:
        return empty
    code = (currency or "").upper().strip()
    places = exponent(code) if code else 2
    number = f"{abs(Decimal(int(minor)).scaleb(-places)):,.{places}f}"
    sign = "-" if minor < 0 else ""
    if not code:
        return f"{sign}{number}"
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


# The largest amount a price column holds (a PostgreSQL integer of minor units).
MAX_MINOR = 2_147_483_647


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact minor units of an amount (19.99, EUR → 1999); a ValueError, never a rounding, when the
    amount is finer than the currency's smallest unit, negative or beyond what a price column holds."""
    places = exponent(currency)
    if not amount.is_finite():
        raise ValueError("Enter a number.")
    if amount < 0:
        raise ValueError("A price cannot be negative.")
    if amount > Decimal(MAX_MINOR).scaleb(-places):
        raise ValueError(f"That is too large for a price (at most {format_money(MAX_MINOR, currency)}).")
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        code = currency.upper() or "this currency"
        allowed = "no decimals" if places == 0 else f"at most {places} decimal{'s' if places > 1 else ''}"
        raise ValueError(f"{code} takes {allowed}: {amount} is finer than its smallest unit.")
    return int(scaled)
