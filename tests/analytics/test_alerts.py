"""Alerts: a condition is announced once while it lasts, and resolved when it clears."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics import alerts
from analytics.models import AlertRule, DailyRollup
from notifications.models import Notification
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
# 10:00 UTC is 11:00 in Paris (the creators' timezone): "yesterday" is 19 Nov there.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
YESTERDAY = date(2026, 11, 19)


def _open(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=f"analytics.{kind}", resolved_at__isnull=True))


@pytest.fixture
def steady(people):
    """A week of 100.00 a day for A, then 20.00 yesterday: an 80 % drop."""
    for i in range(1, 8):
        f.rollup(people["a"], YESTERDAY - timedelta(days=i), tips=10000)
    f.rollup(people["a"], YESTERDAY, tips=2000)
    return people


def test_revenue_drop_fires_once_then_resolves_when_it_clears(steady):
    AlertRule.objects.create(kind="revenue_drop", threshold=50, window_days=7)
    assert alerts.evaluate(now=NOW) == 1
    note, = _open("revenue_drop")
    assert note.creator_id == steady["a"].pk
    assert "80.0%" in note.title and note.payload["net_minor"] == 2000
    assert alerts.evaluate(now=NOW) == 0  # the condition persists: no second notice
    assert alerts.evaluate(now=NOW + timedelta(minutes=60)) == 0
    assert Notification.objects.filter(kind="analytics.revenue_drop").count() == 1

    # Late data arrives and the rollup of yesterday is recomputed: the drop is gone.
    DailyRollup.objects.filter(creator=steady["a"], day=YESTERDAY).update(net_minor=9500, gross_minor=9500)
    assert alerts.evaluate(now=NOW) == 0
    assert _open("revenue_drop") == []
    note.refresh_from_db()
    assert note.resolved_at is not None

    # It comes back: a new notice, because the old one is resolved.
    DailyRollup.objects.filter(creator=steady["a"], day=YESTERDAY).update(net_minor=0, gross_minor=0)
    assert alerts.evaluate(now=NOW) == 1


def test_a_small_dip_or_a_rule_for_another_creator_does_not_fire(steady):
    AlertRule.objects.create(kind="revenue_drop", threshold=90, window_days=7)
    AlertRule.objects.create(kind="revenue_drop", threshold=10, window_days=7, creator=steady["b"])
    assert alerts.evaluate(now=NOW) == 0


def test_disabling_a_rule_resolves_its_open_notice(steady):
    rule = AlertRule.objects.create(kind="revenue_drop", threshold=50)
    alerts.evaluate(now=NOW)
    rule.enabled = False
    rule.save()
    alerts.evaluate(now=NOW)
    assert _open("revenue_drop") == []
    rule.delete()
    assert alerts.evaluate(now=NOW) == 0


def test_publish_failure_rate(people):
    acct = f.account(people["a"])
    for status in ("published", "published", "failed", "unknown"):
        f.publication(acct, status=status, scheduled_at=NOW - timedelta(days=1))
    f.publication(acct, status="scheduled", scheduled_at=NOW + timedelta(days=1))  # not attempted
    AlertRule.objects.create(kind="publish_failure_rate", threshold=50, window_days=7)
    assert alerts.evaluate(now=NOW) == 1
    note, = _open("publish_failure_rate")
    assert note.payload["failed"] == 2 and note.payload["attempted"] == 4
    assert alerts.evaluate(now=NOW) == 0
    assert alerts.evaluate(now=NOW + timedelta(days=10)) == 0  # out of the window: cleared
    assert _open("publish_failure_rate") == []


def test_account_reauth_and_its_resolution(people):
    acct = f.account(people["b"], state="needs_reauth")
    AlertRule.objects.create(kind="account_reauth")
    assert alerts.evaluate(now=NOW) == 1
    note, = _open("account_reauth")
    assert note.creator_id == people["b"].pk and note.payload["accounts"] == [acct.pk]
    assert alerts.evaluate(now=NOW) == 0
    acct.state = "connected"
    acct.save()
    alerts.evaluate(now=NOW)
    assert _open("account_reauth") == []


def test_consent_expiring_one_notice_per_consent(people):
    from compliance import services as compliance

    performer = compliance.create_performer(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12),
                                            creators=[people["a"]])
    soon = compliance.record_consent(performer=performer, platforms=["fanvue"], max_rating="explicit",
                                     uses=["publication"], signed_at=NOW - timedelta(days=300),
                                     valid_until=NOW + timedelta(days=5))
    compliance.record_consent(performer=performer, platforms=["x"], max_rating="suggestive", uses=["publication"],
                              signed_at=NOW - timedelta(days=300), valid_until=NOW + timedelta(days=200))
    AlertRule.objects.create(kind="consent_expiring", threshold=14)
    assert alerts.evaluate(now=NOW) == 1
    note, = _open("consent_expiring")
    assert note.creator_id == people["a"].pk and note.payload["consent"] == soon.pk
    assert "Jeanne" not in note.title + note.body  # legal names stay in compliance
    assert alerts.evaluate(now=NOW) == 0
