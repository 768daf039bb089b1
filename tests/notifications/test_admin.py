"""The notification, endpoint and delivery lists in the admin: tenant-scoped, changed through
the services, and a webhook secret shown once."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from compliance import crypto
from notifications import services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint


@pytest.fixture
def notices(people):
    a = services.notify("publication.failed", creator_id=people["a"].pk, title="Alpha post failed")
    b = services.notify("account.needs_reauth", creator_id=people["b"].pk, title="Beta account needs reauth")
    agency = services.notify("system.disk", creator_id=None, title="Agency disk almost full")
    return {"a": a, "b": b, "agency": agency}


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "sees", "hidden"), [
    ("owner", {"a", "b", "agency"}, set()),
    ("alice", {"a"}, {"b", "agency"}),
    ("bob", set(), {"a", "b", "agency"}),  # an editor has no notification permission
    ("charlie", {"b"}, {"a", "agency"}),
])
def test_notification_list_is_tenant_scoped(client, people, notices, who, sees, hidden):
    client.force_login(people[who])
    response = client.get(reverse("admin:notifications_notification_changelist"))
    if not sees:
        assert response.status_code == 403
        return
    page = response.content.decode()
    for key in sees:
        assert notices[key].title in page
    for key in hidden:
        assert notices[key].title not in page
    if "b" in hidden:
        url = reverse("admin:notifications_notification_change", args=[notices["b"].pk])
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_filters_and_mark_resolved(client, people, notices):
    client.force_login(people["alice"])
    url = reverse("admin:notifications_notification_changelist")
    assert "Alpha post failed" in client.get(url, {"open": "yes", "kind": "publication.failed"}).content.decode()
    client.post(url, {"action": "mark_resolved",
                      "_selected_action": [notices["a"].pk, notices["b"].pk]})  # b is not alice's
    assert Notification.objects.get(pk=notices["a"].pk).resolved_at is not None
    assert Notification.objects.get(pk=notices["b"].pk).resolved_at is None
    assert "Alpha post failed" not in client.get(url, {"open": "yes"}).content.decode()


@pytest.mark.django_db
def test_creating_an_endpoint_shows_the_secret_once(client, people):
    client.force_login(people["alice"])
    response = client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "name": "Alpha ops", "creator": people["a"].pk, "url": "https://ops.example.test/hook",
        "events_text": "publication.failed\npublication.unknown", "active": "on"}, follow=True)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["publication.failed", "publication.unknown"]
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [response.content.decode()]
    secret = crypto.decrypt_text(endpoint.secret_encrypted)
    assert any(secret in m for m in shown) or secret in response.content.decode()
    assert secret not in client.get(reverse("admin:notifications_webhookendpoint_change",
                                            args=[endpoint.pk])).content.decode()


@pytest.mark.django_db
def test_a_manager_cannot_create_an_agency_wide_endpoint(client, people):
    client.force_login(people["alice"])
    client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "name": "Everything", "url": "https://ops.example.test/hook", "events_text": "", "active": "on"})
    assert not WebhookEndpoint.objects.exists()
    client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "name": "Beta's", "creator": people["b"].pk, "url": "https://ops.example.test/hook", "active": "on"})
    assert not WebhookEndpoint.objects.exists()  # not alice's creator


@pytest.mark.django_db
def test_endpoint_actions_and_delivery_list_tenancy(client, people, eager_celery, django_capture_on_commit_callbacks,
                                                     monkeypatch):
    sent = []
    monkeypatch.setattr(services, "deliver", lambda pk, **kw: sent.append(pk) or "delivered")
    alpha, secret = services.create_endpoint(people["a"], "Alpha ops", "https://a.example.test/h", [])
    beta, _ = services.create_endpoint(people["b"], "Beta ops", "https://b.example.test/h", [])
    client.force_login(people["alice"])
    endpoints = reverse("admin:notifications_webhookendpoint_changelist")
    assert "Beta ops" not in client.get(endpoints).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(endpoints, {"action": "send_test_events", "_selected_action": [alpha.pk, beta.pk]})
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [alpha.pk]
    assert len(sent) == 1

    response = client.post(endpoints, {"action": "rotate_secrets", "_selected_action": [alpha.pk]}, follow=True)
    alpha.refresh_from_db()
    new = crypto.decrypt_text(alpha.secret_encrypted)
    assert new != secret and new in response.content.decode()

    services.send_test_event(beta)
    deliveries = reverse("admin:notifications_webhookdelivery_changelist")
    page = client.get(deliveries).content.decode()
    assert "Alpha ops" in page and "Beta ops" not in page
    failed = WebhookDelivery.objects.get(endpoint=alpha)
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed", attempts=8)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(deliveries, {"action": "retry_now", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "pending" and failed.attempts == 0 and sent[-1] == failed.pk


@pytest.mark.django_db
def test_dashboard_counts_open_notifications_per_creator(client, people, notices):
    from config.dashboard import _domain_counts

    services.resolve(services.notify("publication.missed", creator_id=people["a"].pk, title="Old one"))
    counts = _domain_counts([people["a"].pk, people["b"].pk], people["owner"])["Open notifications"]
    assert counts == {people["a"].pk: 1, people["b"].pk: 1}
    client.force_login(people["alice"])
    assert "Open notifications" in client.get(reverse("admin:index")).content.decode()
