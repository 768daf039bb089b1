"""It must show: a signed Fanvue tip webhook appears in the creator's revenue for that day after
the rollup, and a replay of it does not count twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from analytics import rollups
from analytics.models import DailyRollup, Transaction
from tests.analytics.factories import body_of, receiver_for, sign, tip_payload
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


def test_signed_tip_is_in_that_days_revenue_after_the_nightly_rollup_and_a_replay_is_not(
        client, people, settings, eager_celery, django_capture_on_commit_callbacks):
    settings.ANALYTICS_CURRENCY = "USD"
    creator = people["a"]
    creator.timezone = "Europe/Paris"
    creator.save(update_fields=["timezone"])
    url = reverse("analytics_fanvue_webhook",
                  kwargs={"token": receiver_for(PlatformAccountFactory(creator=creator, handle="luna")).token})
    tip_at = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 23:30 in Paris, 20 November
    with time_machine.travel(tip_at, tick=False):
        body = body_of(tip_payload(price=1250))
        signature = sign(body)
        for _ in range(2):  # the second delivery is a replay of the same signed request
            with django_capture_on_commit_callbacks(execute=True):
                answer = client.post(url, data=body, content_type="application/json",
                                     HTTP_X_FANVUE_SIGNATURE=signature)
            assert answer.status_code == 200
    assert Transaction.objects.filter(kind="tip").count() == 1
    with time_machine.travel(tip_at + timedelta(hours=4), tick=False):  # 02:15 UTC beat run
        rollups.nightly()
    day = DailyRollup.objects.get(creator=creator, platform="fanvue", day="2026-11-20")
    assert day.by_kind["tip"]["count"] == 1
    assert day.by_kind["tip"]["gross_minor"] == 1250 and day.net_minor == 1250
    assert not DailyRollup.objects.filter(creator=creator, day="2026-11-21", net_minor__gt=0).exists()
