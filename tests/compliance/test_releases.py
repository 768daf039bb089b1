"""Signed consent releases open for compliance officers and the owner only.

A release is a signed document with a real person's name, signature and often their ID: the account
manager needs to know that a release exists and what it covers, not to read it. Every opening is an
audit event; a refusal reads nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ApiKey, AuditEvent
from tests.compliance.factories import ConsentFactory, PerformerFactory, make_officer, pdf, use_private_storage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_location(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


@pytest.fixture
def signed(people):
    """A consent with its release for a performer of A; oscar is A's compliance officer, olga B's."""
    oscar = make_officer("oscar", people["a"])
    olga = make_officer("olga", people["b"])
    chloe = UserFactory(username="chloe")
    account_services.add_membership(user=chloe, creator=people["a"], role="chatter")
    performer = PerformerFactory(legal_name="Amelie Durand", creators=[people["a"]])
    consent = ConsentFactory(performer=performer)
    return SimpleNamespace(**people, oscar=oscar, olga=olga, chloe=chloe, performer=performer, consent=consent)


def reads(consent) -> int:
    return AuditEvent.objects.filter(action="document.read", object_type="compliance.consentrecord",
                                     object_id=str(consent.pk)).count()


@pytest.mark.parametrize("who", ["owner", "oscar"])
def test_compliance_officers_and_the_owner_open_the_release_and_each_opening_is_audited(client, signed, who):
    client.force_login(getattr(signed, who))
    page = client.get(reverse("admin:compliance_consentrecord_change", args=[signed.consent.pk]))
    url = reverse("admin:compliance_consentrecord_release", args=[signed.consent.pk])
    assert url.encode() in page.content
    response = client.get(url)
    assert response.status_code == 200 and response.content == pdf()
    assert reads(signed.consent) == 1
    event = AuditEvent.objects.get(action="document.read", object_id=str(signed.consent.pk))
    assert event.actor_id == getattr(signed, who).pk


def test_a_manager_sees_that_a_release_exists_and_its_scope_but_cannot_open_it(client, signed):
    client.force_login(signed.alice)
    page = client.get(reverse("admin:compliance_consentrecord_change", args=[signed.consent.pk]))
    assert page.status_code == 200
    url = reverse("admin:compliance_consentrecord_release", args=[signed.consent.pk])
    text = page.content.decode()
    assert url not in text
    assert "Signed release on file" in text and "fanvue, x" in text and "explicit" in text
    assert client.get(url).status_code == 403
    assert reads(signed.consent) == 0


@pytest.mark.parametrize("who", ["bob", "chloe", "charlie", "olga"])
def test_anyone_else_finds_no_release_at_all(client, signed, who):
    client.force_login(getattr(signed, who))
    assert client.get(reverse("admin:compliance_consentrecord_release", args=[signed.consent.pk])).status_code == 404
    assert reads(signed.consent) == 0


def test_a_managers_key_sees_that_a_release_exists_and_nothing_of_it(client, signed):
    issued = account_services.issue_api_key(owner=signed.alice, name="crm", creators=[signed.a],
                                            scope=ApiKey.Scope.READ)
    response = client.get(f"/api/v1/compliance/performers/{signed.performer.pk}/",
                          HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    assert response.status_code == 200
    (consent,) = response.json()["consents"]
    assert consent["has_release"] is True and consent["max_rating"] == "explicit"
    assert not any("release" in key and key != "has_release" for key in consent)
    assert reads(signed.consent) == 0


def test_the_roles_table_gives_the_release_to_compliance_alone():
    from accounts.roles import role_grants

    assert role_grants("compliance", "compliance", "open_release_consentrecord")
    assert not any(role_grants(role, "compliance", "open_release_consentrecord")
                   for role in ("manager", "editor", "chatter", "analyst"))
