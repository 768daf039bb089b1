"""A creator's agency policies (four-eyes review, what kind of creator it is) are the owner's alone.

The attack: a manager switched four-eyes off on her creator, then approved her own upload. Kind is
a policy too: an "AI persona" needs no performer's AI-likeness consent to generate images, so a
manager who relabels a human creator skips the likeness check.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey, AuditEvent, Creator
from content.models import Asset
from tests.content.factories import AssetFactory

pytestmark = pytest.mark.django_db


def auth(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def creator_form(creator: Creator, **changes) -> dict:
    data = {"stage_name": creator.stage_name, "slug": creator.slug, "kind": creator.kind, "status": creator.status,
            "timezone": creator.timezone, "language": creator.language, "voice_notes": creator.voice_notes,
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    if creator.four_eyes_review:
        data["four_eyes_review"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_manager_cannot_switch_four_eyes_off_and_approve_her_own_upload(client, people, media_dir):
    alice, a = people["alice"], people["a"]
    client.force_login(alice)
    response = client.post(reverse("admin:accounts_creator_change", args=[a.pk]),
                           creator_form(a, four_eyes_review=None, kind=Creator.Kind.AI_PERSONA, voice_notes="warm"))
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.four_eyes_review is True and a.kind == Creator.Kind.HUMAN
    assert a.voice_notes == "warm"  # what a manager runs is still hers to edit

    upload = AssetFactory(creator=a, uploaded_by=alice, status=Asset.Status.IN_REVIEW)
    response = client.post(reverse("admin:content_asset_changelist"),
                           {"action": "approve_selected", ACTION_CHECKBOX_NAME: [upload.pk]}, follow=True)
    assert response.status_code == 200
    upload.refresh_from_db()
    assert upload.status == Asset.Status.IN_REVIEW
    assert not AuditEvent.objects.filter(action="asset.approved", object_id=str(upload.pk)).exists()


def test_the_policy_fields_are_read_only_on_a_managers_form(client, people):
    client.force_login(people["alice"])
    response = client.get(reverse("admin:accounts_creator_change", args=[people["a"].pk]))
    form = response.context["adminform"].form
    assert "four_eyes_review" not in form.fields and "kind" not in form.fields
    assert "voice_notes" in form.fields


def test_a_managers_write_key_cannot_switch_four_eyes_off(client, people):
    issued = services.issue_api_key(owner=people["alice"], name="rw", creators=[people["a"]],
                                    scope=ApiKey.Scope.WRITE)
    for change in ({"four_eyes_review": False}, {"kind": "ai_persona"}):
        response = client.patch(f"/api/v1/creators/{people['a'].pk}/", change, content_type="application/json",
                                **auth(issued.raw))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    people["a"].refresh_from_db()
    assert people["a"].four_eyes_review is True and people["a"].kind == "human"
    assert not AuditEvent.objects.filter(action__startswith="creator.", api_key=issued.key).exists()


def test_the_service_refuses_a_policy_change_by_anyone_but_the_owner(people):
    a = people["a"]
    for actor in (people["alice"], services.issue_api_key(owner=people["owner"], name="k", creators=[a],
                                                          scope=ApiKey.Scope.WRITE).key):
        a.four_eyes_review = False
        with pytest.raises(PermissionDenied, match="agency owner"):
            services.save_creator(a, actor=actor, changed=["four_eyes_review"])
        a.refresh_from_db()
        assert a.four_eyes_review is True


def test_the_owner_switches_four_eyes_off_and_the_change_is_audited(client, people):
    a = people["a"]
    client.force_login(people["owner"])
    response = client.post(reverse("admin:accounts_creator_change", args=[a.pk]),
                           creator_form(a, four_eyes_review=None))
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.four_eyes_review is False
    event = AuditEvent.objects.filter(action="creator.policy_changed", object_id=str(a.pk)).get()
    assert event.actor_id == people["owner"].pk
    assert event.changes["four_eyes_review"] == [True, False]
