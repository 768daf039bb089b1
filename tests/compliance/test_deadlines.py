"""Legal deadlines: a deadline setting outside what the law allows stops start-up, and business days
are the agency's — its public holidays skipped, counted on its clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from compliance.deadlines import add_business_days, is_business_day, takedown_due
from compliance.models import TakedownRequest
from config.checks import require_settings

CARD = TakedownRequest.Kind.CARD_NETWORK
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def compliance_errors() -> set[str]:
    return {m.id for m in run_checks(tags=["compliance"]) if m.is_serious()}


# --- Start-up refuses deadlines outside the law --------------------------------------------------


@pytest.mark.parametrize("hours", [0, -1, 49, 72])
def test_takedown_hours_outside_the_law_stop_start_up(settings, hours):
    settings.TAKEDOWN_DEADLINE_HOURS = hours
    assert "compliance.E001" in compliance_errors()
    with pytest.raises(SystemCheckError, match="TAKEDOWN_DEADLINE_HOURS"):
        call_command("check")
    with pytest.raises(ImproperlyConfigured, match=r"compliance\.E001"):
        require_settings()  # what the web server and the Celery workers run at start


@pytest.mark.parametrize("hours", [48, 1, 24])
def test_takedown_hours_within_the_law_start(settings, hours):
    settings.TAKEDOWN_DEADLINE_HOURS = hours
    assert compliance_errors() == set()
    require_settings()


@pytest.mark.parametrize("value", ["48", 24.5, True, None])
def test_takedown_hours_must_be_a_whole_number(settings, value):
    settings.TAKEDOWN_DEADLINE_HOURS = value
    assert "compliance.E001" in compliance_errors()


@pytest.mark.parametrize(("days", "fails"), [(0, True), (-2, True), (8, True), (7, False), (1, False)])
def test_complaint_days_outside_the_rules_stop_start_up(settings, days, fails):
    settings.COMPLAINT_DEADLINE_BUSINESS_DAYS = days
    assert ("compliance.E002" in compliance_errors()) is fails


@pytest.mark.parametrize(("setting", "value", "error"), [
    ("AGENCY_TIMEZONE", "Mars/Olympus", "compliance.E003"),
    ("AGENCY_TIMEZONE", "", "compliance.E003"),
    ("AGENCY_HOLIDAYS_COUNTRY", "XX", "compliance.E004"),
    ("AGENCY_HOLIDAYS_SUBDIVISION", "ZZ", "compliance.E004"),
])
def test_an_unknown_agency_clock_or_calendar_stops_start_up(settings, setting, value, error):
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Paris", "FR"
    setattr(settings, setting, value)
    assert error in compliance_errors()


def test_a_subdivision_without_a_country_is_refused(settings):
    settings.AGENCY_HOLIDAYS_COUNTRY, settings.AGENCY_HOLIDAYS_SUBDIVISION = "", "BY"
    assert "compliance.E004" in compliance_errors()


def test_no_country_means_weekends_only(settings):
    settings.AGENCY_HOLIDAYS_COUNTRY, settings.AGENCY_HOLIDAYS_SUBDIVISION = "", ""
    assert compliance_errors() == set()
    assert is_business_day(datetime(2025, 12, 25).date())


# --- Business days are the agency's --------------------------------------------------------------


def test_a_complaint_over_christmas_skips_the_public_holidays(settings):
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Paris", "FR"
    received = datetime(2025, 12, 22, 10, 0, tzinfo=PARIS)  # a Monday
    # 23, 24, (25 Christmas), 26, 29, 30, 31, (1 January) → the 7th business day is Friday 2 January.
    assert takedown_due(CARD, received) == datetime(2026, 1, 2, 10, 0, tzinfo=PARIS)
    settings.AGENCY_HOLIDAYS_COUNTRY = ""
    assert takedown_due(CARD, received) == datetime(2025, 12, 31, 10, 0, tzinfo=PARIS)  # weekends only


def test_a_national_holiday_of_the_configured_country(settings):
    settings.AGENCY_TIMEZONE = "America/New_York"
    received = datetime(2025, 11, 24, 9, 0, tzinfo=NEW_YORK)  # Monday of Thanksgiving week
    settings.AGENCY_HOLIDAYS_COUNTRY = "US"
    # 25, 26, (27 Thanksgiving), 28, 1, 2, 3, 4 → Thursday 4 December.
    assert takedown_due(CARD, received) == datetime(2025, 12, 4, 9, 0, tzinfo=NEW_YORK)
    settings.AGENCY_HOLIDAYS_COUNTRY = "FR"  # Thanksgiving is a working day in France
    assert takedown_due(CARD, received) == datetime(2025, 12, 3, 9, 0, tzinfo=NEW_YORK)


def test_a_regional_holiday_counts_only_in_its_subdivision(settings):
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Berlin", "DE"
    settings.COMPLAINT_DEADLINE_BUSINESS_DAYS = 1
    received = datetime(2026, 1, 5, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday
    assert takedown_due(CARD, received).astimezone(UTC).day == 6  # Epiphany is worked in Berlin…
    settings.AGENCY_HOLIDAYS_SUBDIVISION = "BY"
    assert takedown_due(CARD, received).astimezone(UTC).day == 7  # …not in Bavaria


def test_a_complaint_received_late_friday_evening_is_a_friday_complaint(settings):
    """23:30 on Friday in New York is 03:30 on Saturday in UTC: counted on the agency's clock, the
    complaint is due on the Tuesday after next at 23:30 New York time, not a day earlier."""
    settings.AGENCY_HOLIDAYS_COUNTRY = "US"
    received = datetime(2025, 6, 6, 23, 30, tzinfo=NEW_YORK)
    assert received.astimezone(UTC).weekday() == 5
    settings.AGENCY_TIMEZONE = "America/New_York"
    due = takedown_due(CARD, received)
    assert due == datetime(2025, 6, 17, 23, 30, tzinfo=NEW_YORK)
    assert due.tzinfo is UTC  # stored in UTC like every time
    settings.AGENCY_TIMEZONE = "UTC"  # counted in UTC it would have been a Saturday complaint
    assert takedown_due(CARD, received) == datetime(2025, 6, 17, 3, 30, tzinfo=UTC)


def test_a_complaint_received_just_after_midnight_agency_time(settings):
    """00:30 Monday in Paris is still Sunday in UTC: Monday is the day of receipt and is not counted."""
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Paris", "FR"
    settings.COMPLAINT_DEADLINE_BUSINESS_DAYS = 1
    received = datetime(2025, 6, 2, 0, 30, tzinfo=PARIS)
    assert takedown_due(CARD, received) == datetime(2025, 6, 3, 0, 30, tzinfo=PARIS)


def test_the_deadline_keeps_the_agency_wall_clock_across_a_clock_change(settings):
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Paris", "FR"
    received = datetime(2026, 3, 20, 10, 0, tzinfo=PARIS)  # CET; summer time starts on 29 March
    due = add_business_days(received, 7)
    assert due == datetime(2026, 3, 31, 10, 0, tzinfo=PARIS)
    assert due == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)


def test_the_48_hours_do_not_depend_on_the_calendar(settings):
    settings.AGENCY_TIMEZONE, settings.AGENCY_HOLIDAYS_COUNTRY = "Europe/Paris", "FR"
    received = datetime(2025, 12, 24, 22, 0, tzinfo=UTC)
    assert (takedown_due(TakedownRequest.Kind.TAKE_IT_DOWN, received) - received).total_seconds() == 48 * 3600
