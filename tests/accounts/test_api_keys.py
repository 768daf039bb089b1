from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import ApiKey, AuditEvent
from tests.accounts.factories import ApiKeyFactory


def auth(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.django_db
def test_key_is_shown_once_and_stored_hashed(people, alice_key):
    key = ApiKey.objects.get(pk=alice_key.key.pk)
    assert alice_key.raw.startswith(f"atl_{key.prefix}_")
    assert alice_key.raw not in (key.hashed_key, key.prefix)
    assert key.hashed_key == services.hash_api_key(alice_key.raw)
    assert AuditEvent.objects.filter(action="api_key.issued", object_id=str(key.pk)).exists()


@pytest.mark.django_db
def test_key_scoped_to_its_creators(client, people):
    issued = ApiKeyFactory(owner=people["owner"], name="sync", creators=[people["b"]])
    response = client.get("/api/v1/creators/", **auth(issued.raw))
    assert response.status_code == 200
    assert [c["stage_name"] for c in response.json()["results"]] == ["Beta"]
    assert client.get(f"/api/v1/creators/{people['a'].pk}/", **auth(issued.raw)).status_code == 404


@pytest.mark.django_db
def test_key_cannot_reach_beyond_owner(people):
    with pytest.raises(ValidationError):
        services.issue_api_key(owner=people["alice"], name="x", creators=[people["b"]])


@pytest.mark.django_db
def test_key_loses_reach_when_owner_loses_membership(client, people, alice_key):
    services.remove_membership(people["alice"].memberships.get(), actor=people["owner"])
    response = client.get("/api/v1/creators/", **auth(alice_key.raw))
    assert response.json()["results"] == []


@pytest.mark.django_db
def test_read_only_key_cannot_write(client, people):
    issued = ApiKeyFactory(owner=people["alice"], name="ro", creators=[people["a"]])
    response = client.patch(f"/api/v1/creators/{people['a'].pk}/", {"voice_notes": "x"},
                            content_type="application/json", **auth(issued.raw))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key is read-only."


@pytest.mark.django_db
def test_write_key_writes_and_is_audited_as_key(client, people):
    issued = ApiKeyFactory(owner=people["alice"], name="rw", creators=[people["a"]], scope=ApiKey.Scope.WRITE)
    response = client.patch(f"/api/v1/creators/{people['a'].pk}/", {"voice_notes": "warm"},
                            content_type="application/json", **auth(issued.raw))
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="creator.updated").latest("id")
    assert event.api_key_id == issued.key.pk
    assert event.actor_id == people["alice"].pk
    assert event.request_id


@pytest.mark.django_db
def test_revoked_and_unknown_keys_are_401(client, people, alice_key):
    services.revoke_api_key(alice_key.key)
    response = client.get("/api/v1/creators/", **auth(alice_key.raw))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert client.get("/api/v1/creators/", **auth("atl_deadbeef_nope")).status_code == 401


@pytest.mark.django_db
def test_last_used_is_recorded(client, people, alice_key):
    client.get("/api/v1/creators/", **auth(alice_key.raw))
    alice_key.key.refresh_from_db()
    assert alice_key.key.last_used_at is not None


@pytest.mark.django_db
def test_admin_issues_key_and_shows_it_once(client, people):
    client.force_login(people["owner"])
    response = client.post("/admin/accounts/apikey/add/", {
        "name": "warehouse", "owner": people["alice"].pk, "scope": "read", "creators": [people["a"].pk],
    }, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "will not be shown again" in text
    key = ApiKey.objects.get(name="warehouse")
    assert list(key.creators.all()) == [people["a"]]
