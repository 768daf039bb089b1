"""Settings that decide legal deadlines are checked before anything starts.

A deadline setting outside what the law allows is an error (`manage.py` commands, the web server
through config.checks.require_serving_settings, and Celery workers refuse to start), never silently
clamped: an operator who wrote 72 hours, or 0, learns it at once instead of from a missed deadline.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.checks import Error, register

from compliance.deadlines import COMPLAINT_MAX_BUSINESS_DAYS, TAKEDOWN_MAX_HOURS, holiday_calendar

TAG = "compliance"


def _out_of_range(name: str, maximum: int) -> bool:
    value = getattr(settings, name, None)
    return isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum


def deadline_setting_errors() -> list[Error]:
    errors = []
    if _out_of_range("TAKEDOWN_DEADLINE_HOURS", TAKEDOWN_MAX_HOURS):
        errors.append(Error(
            f"TAKEDOWN_DEADLINE_HOURS={getattr(settings, 'TAKEDOWN_DEADLINE_HOURS', None)!r} is outside "
            f"(0, {TAKEDOWN_MAX_HOURS}]: the TAKE IT DOWN Act requires removal within 48 hours.",
            hint="Set a whole number of hours from 1 to 48, or leave it unset for 48.", id="compliance.E001"))
    if _out_of_range("COMPLAINT_DEADLINE_BUSINESS_DAYS", COMPLAINT_MAX_BUSINESS_DAYS):
        errors.append(Error(
            f"COMPLAINT_DEADLINE_BUSINESS_DAYS={getattr(settings, 'COMPLAINT_DEADLINE_BUSINESS_DAYS', None)!r} "
            f"is outside (0, {COMPLAINT_MAX_BUSINESS_DAYS}]: card-network rules allow 7 business days.",
            hint="Set a whole number of business days from 1 to 7, or leave it unset for 7.", id="compliance.E002"))
    try:
        ZoneInfo(str(settings.AGENCY_TIMEZONE))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(Error(f"AGENCY_TIMEZONE={settings.AGENCY_TIMEZONE!r} is not a known time zone.",
                            hint="Use an IANA name such as Europe/Paris or America/New_York.",
                            id="compliance.E003"))
    country, subdivision = settings.AGENCY_HOLIDAYS_COUNTRY, settings.AGENCY_HOLIDAYS_SUBDIVISION
    if country:
        try:
            holiday_calendar(country, subdivision)
        except NotImplementedError:
            errors.append(Error(
                f"AGENCY_HOLIDAYS_COUNTRY={country!r} / AGENCY_HOLIDAYS_SUBDIVISION={subdivision!r} has no "
                f"public holiday calendar.",
                hint="Use an ISO 3166-1 alpha-2 country code (US, FR, DE…) and, if any, one of its subdivision "
                     "codes (CA, BY…) as the `holidays` library names them.", id="compliance.E004"))
    elif subdivision:
        errors.append(Error("AGENCY_HOLIDAYS_SUBDIVISION is set without AGENCY_HOLIDAYS_COUNTRY.",
                            id="compliance.E004"))
    return errors


@register(TAG)
def check_deadline_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return deadline_setting_errors()
