"""When a takedown is due: 48 hours for a TAKE IT DOWN request, business days for a card-network complaint.

The TAKE IT DOWN Act gives 48 hours from a valid request; a setting may shorten that, never lengthen
it, and a setting outside (0, 48] stops the application at start-up (compliance.checks) instead of
being clamped here. Card-network complaints count business days, and those are the agency's: a
weekend or one of its country's public holidays (the maintained `holidays` calendars, for
`AGENCY_HOLIDAYS_COUNTRY` / `AGENCY_HOLIDAYS_SUBDIVISION`) does not count, and the day a complaint
arrived on is read on the agency's clock (`AGENCY_TIMEZONE`): one received at 23:00 on a Friday in
New York is a Friday complaint although it is Saturday in UTC. The deadline keeps the wall-clock
time of receipt on the last business day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from compliance.models import TakedownRequest

# Legal maxima: a setting may shorten a deadline, never lengthen it.
TAKEDOWN_MAX_HOURS = 48
COMPLAINT_MAX_BUSINESS_DAYS = 7


@lru_cache(maxsize=16)
def holiday_calendar(country: str, subdivision: str = "") -> holidays.HolidayBase:
    """The public holidays of a country (and subdivision); years fill in as dates are asked about.

    Raises NotImplementedError for a country or subdivision the library does not know.
    """
    return holidays.country_holidays(country, subdiv=subdivision or None)


def agency_timezone() -> ZoneInfo:
    return ZoneInfo(settings.AGENCY_TIMEZONE)


def is_business_day(day: date) -> bool:
    """Monday to Friday, and not a public holiday where the agency works (none if no country is set)."""
    if day.weekday() >= 5:
        return False
    country = settings.AGENCY_HOLIDAYS_COUNTRY
    return not country or day not in holiday_calendar(country, settings.AGENCY_HOLIDAYS_SUBDIVISION)


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` business days after `start`, counted on the agency's calendar and clock; returned in UTC."""
    tz = agency_timezone()
    local = start.astimezone(tz)
    day, added = local.date(), 0
    while added < days:
        day += timedelta(days=1)
        if is_business_day(day):
            added += 1
    return datetime.combine(day, local.time(), tzinfo=tz).astimezone(UTC)


def _setting_in_range(name: str, maximum: int) -> int:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        # The system check stops start-up on this; reaching here means the setting changed at run time.
        raise ImproperlyConfigured(f"{name}={value!r} is outside (0, {maximum}].")
    return value


def takedown_due(kind: str, received_at: datetime) -> datetime:
    """The instant a request must be acted on, from the instant it was received."""
    if kind == TakedownRequest.Kind.CARD_NETWORK:
        return add_business_days(received_at, _setting_in_range("COMPLAINT_DEADLINE_BUSINESS_DAYS",
                                                                 COMPLAINT_MAX_BUSINESS_DAYS))
    return received_at + timedelta(hours=_setting_in_range("TAKEDOWN_DEADLINE_HOURS", TAKEDOWN_MAX_HOURS))
