"""Conversion to the agency currency: dated rates, fallback to the latest earlier rate, ISO
exponents, half-even rounding, and a clear error when no rate exists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from analytics import currency
from tests.analytics.factories import rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _usd(settings) -> None:
    settings.ANALYTICS_CURRENCY = "USD"


def test_agency_currency_is_one_without_any_rate() -> None:
    assert currency.rate("USD", date(2026, 1, 1)) == Decimal(1)
    assert currency.to_agency(1234, "usd", date(2026, 1, 1)) == 1234


def test_rate_of_the_day_else_latest_earlier() -> None:
    rate("EUR", date(2026, 3, 1), "1.10")
    rate("EUR", date(2026, 3, 3), "1.20")
    assert currency.rate("EUR", date(2026, 3, 1)) == Decimal("1.10")
    assert currency.rate("EUR", date(2026, 3, 2)) == Decimal("1.10")  # a weekend: Friday's rate
    assert currency.rate("EUR", date(2026, 3, 9)) == Decimal("1.20")


def test_missing_rate_names_currency_and_day() -> None:
    rate("EUR", date(2026, 3, 5), "1.10")
    with pytest.raises(currency.MissingRate, match=r"EUR on or before 2026-03-04"):
        currency.to_agency(100, "EUR", date(2026, 3, 4))
    with pytest.raises(currency.MissingRate, match="GBP"):
        currency.RateBook.load(["GBP"]).rate("GBP", date(2026, 3, 5))


def test_exponents_and_half_even_rounding() -> None:
    day = date(2026, 3, 1)
    rate("JPY", day, "0.0065")
    rate("KWD", day, "3.25")
    rate("EUR", day, "1.125")
    assert currency.to_agency(10_000, "JPY", day) == 6500  # ¥10,000 = $65.00
    assert currency.to_agency(1_000, "KWD", day) == 325  # 1.000 KWD = $3.25
    assert currency.to_agency(2, "EUR", day) == 2  # 2.25 cents → 2 (half to even)
    assert currency.to_agency(6, "EUR", day) == 7  # 6.75 → 7
    assert currency.to_agency(-6, "EUR", day) == -7  # refunds round symmetrically


def test_rate_book_matches_single_lookups() -> None:
    for d, v in [(date(2026, 3, 1), "1.1"), (date(2026, 3, 4), "1.3"), (date(2026, 3, 8), "1.05")]:
        rate("EUR", d, v)
    book = currency.RateBook.load(["EUR", "USD"])
    for day in (date(2026, 3, 1), date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 20)):
        assert book.rate("EUR", day) == currency.rate("EUR", day)
        assert book.to_agency(9999, "EUR", day) == currency.to_agency(9999, "EUR", day)
    assert book.to_agency(50, "USD", date(2020, 1, 1)) == 50


def test_agency_currency_from_settings(settings) -> None:
    settings.ANALYTICS_CURRENCY = "EUR"
    rate("USD", date(2026, 3, 1), "0.9")
    assert currency.to_agency(1000, "EUR", date(2026, 3, 1)) == 1000
    assert currency.to_agency(1000, "USD", date(2026, 3, 1)) == 900
