"""Webhook receivers through the API: the URL per platform account, the secret shown once."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from analytics.models import WebhookReceiver
from compliance import crypto
from tests.scheduling.factories import PlatformAccountFactory


@pytest.fixture
def accounts(people):
    return {
        "a": PlatformAccountFactory(creator=people["a"], platform="fanvue", handle="luna_fv"),
        "b": PlatformAccountFactory(creator=people["b"], platform="fanvue", handle="nova_fv"),
    }


@pytest.mark.django_db
def test_manager_opens_a_receiver_and_sees_the_secret_once(people, accounts):
    api = APIClient()
    api.force_authenticate(people["alice"])
    made = api.post("/api/v1/webhook-receivers/", {"account_id": accounts["a"].pk, "secret": "whsec-" + "x" * 30},
                    format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["secret"] == "whsec-" + "x" * 30 and "/hooks/fanvue/" in body["url"]
    stored = WebhookReceiver.objects.get(pk=body["id"])
    assert "whsec" not in stored.secret_encrypted
    assert crypto.decrypt_text(stored.secret_encrypted) == body["secret"]
    listed = api.get("/api/v1/webhook-receivers/").json()
    rows = listed.get("results", listed)
    assert [r["id"] for r in rows] == [body["id"]] and "secret" not in rows[0]
    rotated = api.post(f"/api/v1/webhook-receivers/{body['id']}/rotate-secret/", {}, format="json").json()
    assert rotated["secret"] and rotated["secret"] != body["secret"]


@pytest.mark.django_db
def test_other_creators_accounts_and_receivers_are_out_of_reach(people, accounts):
    from analytics import ingest

    theirs, _ = ingest.create_receiver(accounts["b"])
    api = APIClient()
    api.force_authenticate(people["alice"])
    assert api.post("/api/v1/webhook-receivers/", {"account_id": accounts["b"].pk}, format="json").status_code == 400
    assert api.get(f"/api/v1/webhook-receivers/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/v1/webhook-receivers/{theirs.pk}/rotate-secret/", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_any_changelist_exports_to_csv_within_reach(client, people, accounts):
    client.force_login(people["alice"])
    response = client.post("/admin/scheduling/platformaccount/",
                           {"action": "export_as_csv", "_selected_action": [accounts["a"].pk, accounts["b"].pk]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    assert "luna_fv" in body and "nova_fv" not in body


@pytest.mark.django_db
def test_a_manager_subscribes_only_themselves_and_only_to_a_creator(client, people):
    from analytics.models import ReportSubscription

    client.force_login(people["alice"])
    url = "/admin/analytics/reportsubscription/add/"
    agency = client.post(url, {"period": "daily", "format": "csv", "active": "on"})
    assert agency.status_code == 200 and not ReportSubscription.objects.exists()  # creator required
    client.post(url, {"creator": people["a"].pk, "period": "daily", "format": "csv", "active": "on",
                      "user": people["owner"].pk})
    sub = ReportSubscription.objects.get()
    assert sub.user == people["alice"] and sub.creator == people["a"]
