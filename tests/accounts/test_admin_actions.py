"""Changelist actions under one rule (accounts.admin_base.ActionGuardMixin).

The attacks: an action that declares no permission ran for anyone who could see the list (an editor,
who only views publications, cancelled them); an action ran on every selected row, including rows of
a creator where the person only views; and posting an action one may not run was quietly ignored
instead of refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent
from content.models import Asset
from scheduling.models import Post, Publication
from tests.content.factories import AssetFactory
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory

pytestmark = pytest.mark.django_db
S = Publication.Status


def scheduled(creator, handle: str) -> Publication:
    account = PlatformAccountFactory(creator=creator, platform="fanvue", handle=handle)
    post = Post.objects.create(creator=creator, caption="Sunday set")
    return PublicationFactory(post=post, account=account, status=S.SCHEDULED,
                              scheduled_at=timezone.now() + timedelta(days=1))


def post_action(client, model: str, action: str, rows) -> object:
    return client.post(reverse(f"admin:{model}_changelist"),
                       {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in rows], "index": "0"})


def test_a_view_only_role_cannot_cancel_a_publication(client, people):
    pub = scheduled(people["a"], "alpha")
    client.force_login(people["bob"])  # editor of A: scheduling.view_* only
    response = post_action(client, "scheduling_publication", "cancel_selected", [pub])
    assert response.status_code in (403, 404)
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED
    assert not AuditEvent.objects.filter(object_type="scheduling.publication", object_id=str(pub.pk)).exists()


def test_an_action_acts_only_on_rows_where_the_person_holds_its_permission(client, people):
    """alice manages A and is only an editor (view) of B: her cancel reaches A's row, never B's."""
    account_services.add_membership(user=people["alice"], creator=people["b"], role="editor")
    mine, viewed = scheduled(people["a"], "alpha"), scheduled(people["b"], "beta")
    client.force_login(people["alice"])
    response = post_action(client, "scheduling_publication", "cancel_selected", [mine, viewed])
    assert response.status_code == 302
    mine.refresh_from_db()
    viewed.refresh_from_db()
    assert mine.status == S.CANCELLED and viewed.status == S.SCHEDULED
    page = client.get(response["Location"])
    assert any("1 of the selected rows are not yours" in str(m) for m in page.context["messages"])


def test_an_action_the_person_may_not_run_is_refused(client, team, media_dir):
    asset = AssetFactory(creator=team["a"], uploaded_by=team["bob"], status=Asset.Status.IN_REVIEW)
    client.force_login(team["chloe"])  # chatter of A: views assets, approves nothing
    response = post_action(client, "content_asset", "approve_selected", [asset])
    assert response.status_code == 403
    asset.refresh_from_db()
    assert asset.status == Asset.Status.IN_REVIEW


def test_selecting_only_rows_out_of_reach_is_404(client, people, media_dir):
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"], status=Asset.Status.IN_REVIEW)
    client.force_login(people["charlie"])  # manages B: may approve B's assets, not A's
    response = post_action(client, "content_asset", "approve_selected", [asset])
    assert response.status_code == 404
    asset.refresh_from_db()
    assert asset.status == Asset.Status.IN_REVIEW


# --- Forms: a permission counts for the creators it is held for ------------------------------------------


def test_a_manager_of_b_who_edits_a_cannot_change_a_as_a_manager(client, people, dana):
    a = people["a"]
    client.force_login(dana)
    response = client.post(reverse("admin:accounts_creator_change", args=[a.pk]),
                           {"stage_name": "Renamed", "slug": a.slug, "timezone": a.timezone, "language": a.language,
                            "status": a.status, "voice_notes": "", "memberships-TOTAL_FORMS": "0",
                            "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 403
    a.refresh_from_db()
    assert a.stage_name == "Alpha"


def test_nor_delete_as_a_manager_what_she_only_edits(client, people, dana, media_dir):
    from tests.content.factories import CollectionFactory

    folder = CollectionFactory(creator=people["a"], title="Folder")
    client.force_login(dana)
    response = client.post(reverse("admin:content_collection_delete", args=[folder.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert type(folder).objects.filter(pk=folder.pk).exists()


def test_nor_add_rows_for_a_that_only_a_manager_may_add(client, people, dana):
    from notifications.models import WebhookEndpoint

    client.force_login(dana)
    response = client.post(reverse("admin:notifications_webhookendpoint_add"),
                           {"name": "Exfil", "creator": people["a"].pk, "url": "https://hooks.example.test/x",
                            "active": "on", "events_text": ""})
    assert response.status_code == 200 and "creator" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()
