"""The notifications API: webhook endpoints whose secret is shown once (on create and rotation) and
stored encrypted, agency-wide endpoints for owners only, notices within reach, and resolving them."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from compliance import crypto
from notifications import services
from notifications.models import Notification, WebhookEndpoint
from tests.api import post_json
from tests.notifications.factories import HOOK, NotificationFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhook-endpoints/"
NOTICES = "/api/v1/notifications/"


@pytest.mark.parametrize("who", ["alice", "key_a"])
def test_secret_is_returned_once_and_stored_encrypted(client, people, sign_in, who):
    headers = sign_in(who)
    created = post_json(client, ENDPOINTS, {"creator": people["a"].pk, "name": "Alpha CRM", "url": HOOK,
                                            "events": ["publication.failed", "account.needs_reauth"]}, headers)
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret and body["events"] == ["account.needs_reauth", "publication.failed"]
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert secret not in endpoint.secret_encrypted
    assert crypto.decrypt_text(endpoint.secret_encrypted) == secret
    for response in (client.get(ENDPOINTS, **headers), client.get(f"{ENDPOINTS}{endpoint.pk}/", **headers)):
        assert response.status_code == 200
        assert secret.encode() not in response.content and b'"secret"' not in response.content

    rotated = post_json(client, f"{ENDPOINTS}{endpoint.pk}/rotate-secret/", headers=headers)
    assert rotated.status_code == 200, rotated.content
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    endpoint.refresh_from_db()
    assert crypto.decrypt_text(endpoint.secret_encrypted) == new_secret and new_secret not in endpoint.secret_encrypted
    assert AuditEvent.objects.filter(action="webhook_endpoint.secret_rotated", object_id=str(endpoint.pk)).exists()
    assert new_secret.encode() not in client.get(f"{ENDPOINTS}{endpoint.pk}/", **headers).content


def test_update_and_delete(client, people, sign_in):
    headers = sign_in("alice")
    endpoint = post_json(client, ENDPOINTS, {"creator": people["a"].pk, "name": "Alpha", "url": HOOK},
                         headers).json()
    url = f"{ENDPOINTS}{endpoint['id']}/"
    updated = client.patch(url, {"events": ["publication.missed"], "active": False, "url": f"{HOOK}/v2"},
                           content_type="application/json", **headers)
    assert updated.status_code == 200, updated.content
    assert (updated.json()["events"], updated.json()["active"], updated.json()["url"]) == (
        ["publication.missed"], False, f"{HOOK}/v2")
    assert "secret" not in updated.json()
    bad = client.patch(url, {"events": ["has space"]}, content_type="application/json", **headers)
    assert bad.status_code == 400 and "events" in bad.json()["error"]["details"]
    bad = client.patch(url, {"url": "not a url"}, content_type="application/json", **headers)
    assert bad.status_code == 400 and "url" in bad.json()["error"]["details"]
    moved = client.patch(url, {"creator": people["b"].pk}, content_type="application/json", **headers)
    assert moved.status_code == 400 and "creator" in moved.json()["error"]["details"]
    assert client.delete(url, **headers).status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint["id"]).exists()


def test_agency_wide_endpoints_are_for_owners_only(client, people, sign_in):
    alice = sign_in("alice")
    refused = post_json(client, ENDPOINTS, {"creator": None, "name": "All", "url": HOOK}, alice)
    assert refused.status_code == 400 and "creator" in refused.json()["error"]["details"]
    assert post_json(client, ENDPOINTS, {"name": "All", "url": HOOK}, alice).status_code == 400
    owner = sign_in("owner")
    created = post_json(client, ENDPOINTS, {"creator": None, "name": "All", "url": HOOK}, owner)
    assert created.status_code == 201 and created.json()["creator"] is None and created.json()["secret"]


@pytest.mark.parametrize("who", ["alice", "charlie", "key_a"])
def test_endpoints_of_others_are_invisible(client, people, sign_in, endpoint_b, agency_endpoint, who):
    headers = sign_in(who)
    visible = {e["id"] for e in client.get(ENDPOINTS, **headers).json()["results"]}
    assert agency_endpoint.pk not in visible
    assert client.get(f"{ENDPOINTS}{agency_endpoint.pk}/", **headers).status_code == 404
    assert post_json(client, f"{ENDPOINTS}{agency_endpoint.pk}/rotate-secret/", headers=headers).status_code == 404
    if who == "charlie":
        assert visible == {endpoint_b.pk}
        return
    assert endpoint_b.pk not in visible
    for response in (client.get(f"{ENDPOINTS}{endpoint_b.pk}/", **headers),
                     post_json(client, f"{ENDPOINTS}{endpoint_b.pk}/rotate-secret/", headers=headers),
                     client.delete(f"{ENDPOINTS}{endpoint_b.pk}/", **headers)):
        assert response.status_code == 404
    foreign = post_json(client, ENDPOINTS, {"creator": people["b"].pk, "name": "x", "url": HOOK}, headers)
    assert foreign.status_code == 400 and "creator" in foreign.json()["error"]["details"]
    assert WebhookEndpoint.objects.count() == 2


def test_read_only_key_cannot_write(client, people, sign_in):
    headers = sign_in("key_ro")
    mine, _ = services.create_endpoint(people["a"], "Alpha", HOOK)
    assert client.get(f"{ENDPOINTS}{mine.pk}/", **headers).status_code == 200
    for response in (
        post_json(client, ENDPOINTS, {"creator": people["a"].pk, "name": "x", "url": HOOK}, headers),
        post_json(client, f"{ENDPOINTS}{mine.pk}/rotate-secret/", headers=headers),
        client.patch(f"{ENDPOINTS}{mine.pk}/", {"active": False}, content_type="application/json", **headers),
        client.delete(f"{ENDPOINTS}{mine.pk}/", **headers),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "This API key is read-only."
    before = mine.secret_encrypted
    mine.refresh_from_db()
    assert mine.secret_encrypted == before and mine.active


def test_notices_within_reach_and_resolve(client, people, sign_in):
    note_a = NotificationFactory(creator_id=people["a"].pk, title="Alpha failed")
    note_b = NotificationFactory(creator_id=people["b"].pk, title="Beta failed")
    agency = NotificationFactory(kind="alert.disk", title="Agency-wide")
    sees = {"owner": {note_a.pk, note_b.pk, agency.pk}, "alice": {note_a.pk}, "charlie": {note_b.pk}}
    for who, expected in sees.items():
        headers = sign_in(who)
        assert {n["id"] for n in client.get(NOTICES, **headers).json()["results"]} == expected
    headers = sign_in("alice")
    assert client.get(f"{NOTICES}{note_b.pk}/", **headers).status_code == 404
    assert post_json(client, f"{NOTICES}{note_b.pk}/resolve/", headers=headers).status_code == 404
    resolved = post_json(client, f"{NOTICES}{note_a.pk}/resolve/", headers=headers)
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert Notification.objects.get(pk=note_b.pk).resolved_at is None
    assert {n["id"] for n in client.get(NOTICES, {"open": "true"}, **headers).json()["results"]} == set()
    assert {n["id"] for n in client.get(NOTICES, {"open": "false"}, **headers).json()["results"]} == {note_a.pk}
    ro = sign_in("key_ro")
    assert post_json(client, f"{NOTICES}{note_a.pk}/resolve/", headers=ro).status_code == 403
