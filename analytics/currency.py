"""Converting money to the agency currency through the dated `ExchangeRate` table.

Amounts stay integers in minor units end to end; the only arithmetic is Decimal, rounded half to
even once per converted amount, so a sum of many conversions does not drift in one direction.
A day without its own rate uses the latest earlier one (rates are not published on weekends);
a currency with no rate on or before the day is an error, never a silent 1:1.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings

from analytics.models import ExchangeRate
from core.money import EXPONENTS, exponent

__all__ = ["EXPONENTS", "MissingRate", "RateBook", "agency_currency", "convert", "exponent", "rate", "to_agency"]


class MissingRate(LookupError):
    """No exchange rate for a currency on or before a day: someone has to load the rates."""

    def __init__(self, currency: str, day: date) -> None:
        self.currency, self.day = currency, day
        super().__init__(f"No exchange rate for {currency} on or before {day.isoformat()} "
                         f"(into {agency_currency()}): add one in ExchangeRate.")


def agency_currency() -> str:
    return settings.ANALYTICS_CURRENCY.upper()


def rate(currency: str, day: date) -> Decimal:
    """Units of the agency currency per unit of `currency` on `day`."""
    currency = currency.upper()
    if currency == agency_currency():
        return Decimal(1)
    found = (ExchangeRate.objects.filter(currency=currency, day__lte=day)
             .order_by("-day").values_list("rate", flat=True).first())
    if found is None:
        raise MissingRate(currency, day)
    return Decimal(found)


def convert(amount_minor: int, currency: str, unit_rate: Decimal) -> int:
    """`amount_minor` of `currency` in agency minor units at `unit_rate`, rounded half to even."""
    scale = Decimal(10) ** (exponent(agency_currency()) - exponent(currency))
    return int((Decimal(amount_minor) * unit_rate * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_agency(amount_minor: int, currency: str, day: date) -> int:
    if currency.upper() == agency_currency():
        return int(amount_minor)
    return convert(amount_minor, currency, rate(currency, day))


@dataclass
class RateBook:
    """Every rate of some currencies, loaded in one query, for a run that converts many subtotals
    (rollups, fan lifetime spend) without one query per conversion."""

    days: dict[str, list[date]] = field(default_factory=dict)
    rates: dict[str, list[Decimal]] = field(default_factory=dict)

    @classmethod
    def load(cls, currencies: Iterable[str], until: date | None = None) -> RateBook:
        wanted = {c.upper() for c in currencies} - {agency_currency()}
        book = cls()
        if not wanted:
            return book
        rows = ExchangeRate.objects.filter(currency__in=wanted).order_by("currency", "day")
        if until is not None:
            rows = rows.filter(day__lte=until)
        for currency, day, value in rows.values_list("currency", "day", "rate").iterator(chunk_size=5000):
            book.days.setdefault(currency, []).append(day)
            book.rates.setdefault(currency, []).append(Decimal(value))
        return book

    def rate(self, currency: str, day: date) -> Decimal:
        currency = currency.upper()
        if currency == agency_currency():
            return Decimal(1)
        days = self.days.get(currency, [])
        i = bisect.bisect_right(days, day)
        if i == 0:
            raise MissingRate(currency, day)
        return self.rates[currency][i - 1]

    def to_agency(self, amount_minor: int, currency: str, day: date) -> int:
        if currency.upper() == agency_currency():
            return int(amount_minor)
        return convert(amount_minor, currency, self.rate(currency, day))
