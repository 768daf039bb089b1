"""Webhook endpoints cannot make the server call what only the server can reach: a receiver URL
pointing at this machine, the private network or the cloud metadata service is refused when it
is entered (admin, API) and again when a delivery is made (DNS can change after entry), and what
is stored about the refusal says why without a word from the target."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import ApiKey
from notifications import services
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import LISTENER_BODY

pytestmark = pytest.mark.django_db

HINT = "set OUTBOUND_ALLOWED_NETWORKS to allow internal targets"
ENDPOINTS = "/api/v1/webhook-endpoints/"


def internal_urls(listener) -> list[str]:
    port = listener.port
    return [f"http://127.0.0.1:{port}/hook", f"http://[::1]:{listener.port6}/hook", f"http://localhost:{port}/hook",
            f"http://hooks.example.test:{port}/hook", f"http://[::ffff:127.0.0.1]:{port}/hook",
            f"http://2130706433:{port}/hook", f"http://0x7f.1:{port}/hook", f"http://0.0.0.0:{port}/hook",
            "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/hook",
            "http://[fe80::1]/hook"]


def deliver_to(people, url: str) -> WebhookDelivery:
    """A delivery to `url`, made as the worker makes it. The endpoint row is written directly: it
    stands for one whose name resolved to a public address when it was entered."""
    endpoint = WebhookEndpoint.objects.create(creator=people["a"], name=url[:100], url=url, secret_encrypted=
                                              services.crypto.encrypt_text("whsec_test"))
    delivery = services.send_test_event(endpoint)
    services.deliver(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_deliveries_to_internal_targets_never_leave_the_server(people, listener, outbound_hosts,
                                                                connection_attempts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    outbound_hosts["hooks.example.test"] = ["127.0.0.1"]
    for url in internal_urls(listener):
        delivery = deliver_to(people, url)
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
        assert delivery.response_status is None and delivery.response_excerpt == ""
        assert "refused: " in endpoint.last_error and HINT in endpoint.last_error, endpoint.last_error
    assert not listener.reached
    assert connection_attempts == []


def test_stored_errors_do_not_tell_open_ports_from_closed_ones(people, listener, settings):
    """The port-scanner attack: before, "ConnectError" for a closed port and the listener's own body
    in the excerpt for an open one. Now both are the same refusal, and the listener hears nothing."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    open_port = deliver_to(people, f"http://127.0.0.1:{listener.port}/")
    closed_port = deliver_to(people, "http://127.0.0.1:9/")
    errors = [WebhookEndpoint.objects.get(pk=d.endpoint_id).last_error.split(": ", 1)[1] for d in
              (open_port, closed_port)]
    assert errors[0] == errors[1]
    assert (open_port.response_excerpt, open_port.response_status) == ("", None)
    assert LISTENER_BODY.decode() not in " ".join(errors)
    assert not listener.reached


def test_a_receiver_that_redirects_inward_is_not_followed(people, listener, redirector, outbound_hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    outbound_hosts["receiver.example.test"] = ["127.0.0.2"]
    for status in (301, 302, 307, 308):
        redirector.status, redirector.location = status, f"http://127.0.0.1:{listener.port}/hook"
        delivery = deliver_to(people, f"http://receiver.example.test:{redirector.port}/hook")
        assert delivery.status == WebhookDelivery.Status.PENDING and delivery.response_status == status
    assert len(redirector.requests) == 4
    assert not listener.reached


def test_the_allow_list_admits_an_internal_receiver(people, listener, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    delivery = deliver_to(people, f"{listener.url}/hook")
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [r["path"] for r in listener.requests] == ["/hook"]


def test_the_api_refuses_internal_receivers_when_entered(client, people, listener, outbound_hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    outbound_hosts["hooks.example.test"] = ["127.0.0.1"]
    key = accounts_services.issue_api_key(owner=people["alice"], name="rw", creators=[people["a"]],
                                          scope=ApiKey.Scope.WRITE).raw
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    for url in internal_urls(listener):
        response = client.post(ENDPOINTS, {"creator": people["a"].pk, "name": "Scan", "url": url},
                               content_type="application/json", **headers)
        assert response.status_code == 400, (url, response.content)
        message = " ".join(response.json()["error"]["details"]["url"])
        if "2130706433" in url or "0x7f" in url:  # Django's URL validator rejects these spellings first
            assert message == "Enter a valid URL."
            continue
        assert "This URL is refused:" in message and HINT in message
    assert not WebhookEndpoint.objects.exists()
    created = client.post(ENDPOINTS, {"creator": people["a"].pk, "name": "Ops", "url": "https://ops.example.test/h"},
                          content_type="application/json", **headers)
    assert created.status_code == 201, created.content
    moved = client.patch(f"{ENDPOINTS}{created.json()['id']}/", {"url": "http://169.254.169.254/latest/"},
                         content_type="application/json", **headers)
    assert moved.status_code == 400 and "link-local" in " ".join(moved.json()["error"]["details"]["url"])
    assert WebhookEndpoint.objects.get().url == "https://ops.example.test/h"
    assert not listener.reached


def test_the_admin_refuses_internal_receivers_when_entered(client, people, listener, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    client.force_login(people["alice"])
    response = client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "name": "Scan", "creator": people["a"].pk, "url": f"http://localhost:{listener.port}/",
        "events_text": "", "active": "on"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "This URL is refused:" in page and "loopback" in page
    assert not WebhookEndpoint.objects.exists()
    endpoint, _ = services.create_endpoint(people["a"], "Ops", "https://ops.example.test/h", [])
    response = client.post(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]), {
        "name": "Ops", "creator": people["a"].pk, "url": "http://10.0.0.1/", "events_text": "", "active": "on"})
    assert response.status_code == 200 and "10.0.0.1 is a private address" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://ops.example.test/h"
    assert not listener.reached
