"""Analytics admin forms write through analytics/services.py, which keeps its rules whoever calls it.

The attacks: an offer saved straight by the form ran on another creator's platform account; a live
offer's terms were rewritten after staff had switched it on by hand; a manager left the creator
empty and made an alert rule that watches every creator; a fan's notes changed with no trace.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent
from analytics import services
from analytics.models import AlertRule, Fan, Offer, ReportSubscription
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


def split(moment) -> tuple[str, str]:
    local = timezone.localtime(moment)
    return local.date().isoformat(), local.time().replace(microsecond=0).isoformat()


def offer_form(creator, account, name: str = "Summer") -> dict:
    (d0, t0), (d1, t1) = split(timezone.now() + timedelta(days=2)), split(timezone.now() + timedelta(days=5))
    return {"name": name, "creator": creator.pk, "account": account.pk, "kind": "discount", "discount_percent": "20",
            "audience": "new", "starts_at_0": d0, "starts_at_1": t0, "ends_at_0": d1, "ends_at_1": t1}


@pytest.fixture
def accounts(people):
    account_services.add_membership(user=people["alice"], creator=people["b"], role="manager")
    return {**people,
            "fa": PlatformAccountFactory(creator=people["a"], platform="fanvue", handle="alpha"),
            "fb": PlatformAccountFactory(creator=people["b"], platform="fanvue", handle="beta")}


def test_an_offer_cannot_run_on_another_creators_account(client, accounts):
    client.force_login(accounts["alice"])  # manages both: both accounts are choices on her form
    response = client.post(reverse("admin:analytics_offer_add"), offer_form(accounts["a"], accounts["fb"]))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["account"] == ["The offer runs on one of its creator's own accounts."]
    assert not Offer.objects.exists()


def test_a_started_offer_cannot_be_rewritten(client, accounts):
    client.force_login(accounts["alice"])
    response = client.post(reverse("admin:analytics_offer_add"), offer_form(accounts["a"], accounts["fa"]))
    assert response.status_code == 302
    offer = Offer.objects.get()
    assert AuditEvent.objects.filter(action="offer.created", object_id=str(offer.pk)).exists()
    Offer.objects.filter(pk=offer.pk).update(status=Offer.Status.ACTIVE)
    response = client.post(reverse("admin:analytics_offer_change", args=[offer.pk]),
                           offer_form(accounts["a"], accounts["fa"], name="90% off"))
    assert response.status_code == 403
    offer.refresh_from_db()
    assert offer.name == "Summer"
    with pytest.raises(Exception, match="only a scheduled offer"):
        offer.name = "90% off"
        services.save_offer(offer, actor=accounts["owner"])


def test_a_manager_cannot_make_an_agency_wide_alert_rule(client, people):
    client.force_login(people["alice"])
    response = client.post(reverse("admin:analytics_alertrule_add"),
                           {"kind": "revenue_drop", "creator": "", "threshold": "10", "window_days": "7",
                            "enabled": "on"})
    assert response.status_code == 200 and "creator" in response.context["adminform"].form.errors
    assert not AlertRule.objects.exists()
    with pytest.raises(PermissionDenied):
        services.save_alert_rule(AlertRule(kind="revenue_drop", creator=None), actor=people["alice"])


def test_only_the_owner_subscribes_someone_else(people):
    subscription = ReportSubscription(user=people["bob"], creator=people["a"], period="weekly")
    with pytest.raises(PermissionDenied):
        services.save_report_subscription(subscription, actor=people["alice"])
    services.save_report_subscription(subscription, actor=people["owner"])
    assert AuditEvent.objects.filter(action="report_subscription.created").exists()


def test_fan_notes_are_saved_and_audited_without_their_text(client, people):
    fan = Fan.objects.create(creator=people["a"], platform="fanvue", external_id="f-1", handle="sunny")
    client.force_login(people["alice"])
    response = client.post(reverse("admin:analytics_fan_change", args=[fan.pk]),
                           {"tags": '["vip"]', "notes": "Prefers evening messages."})
    assert response.status_code == 302
    fan.refresh_from_db()
    assert fan.notes == "Prefers evening messages." and fan.tags == ["vip"]
    event = AuditEvent.objects.get(action="fan.notes_changed", object_id=str(fan.pk))
    assert event.changes == {"fields": ["tags", "notes"]} and "evening" not in str(event.changes)
