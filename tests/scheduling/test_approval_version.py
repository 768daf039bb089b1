"""Approval is of a version: whatever reaches a fan changes after approval, the post goes back for
approval, its scheduled publications carry `approval_stale`, and the platform receives nothing — through
the API, and through the publish-time gate when the change slipped in after the dispatcher claimed the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, Creator
from content import services as content
from content.models import Asset, Collection
from scheduling import approval, services
from scheduling.models import Post, Publication
from tests.scheduling.connectors import FlakyConnector
from tests.scheduling.factories import PlatformAccountFactory, approve_as_is
from tests.scheduling.fixtures import approved_asset

S = Publication.Status
POSTS = "/api/v1/posts/"
PUBS = "/api/v1/publications/"


def nothing_goes_out(w) -> None:
    """Run the real dispatcher and publish path after the due time: the platform receives nothing."""
    with time_machine.travel(w.due + timedelta(minutes=1), tick=False):
        claimed = services.claim_due_publications()
        services.publish_batch(claimed)
    assert claimed == []
    assert FlakyConnector.calls == []


def assert_sent_back(w, client, pub: Publication) -> None:
    pub.refresh_from_db()
    assert pub.status == S.PENDING_APPROVAL
    assert [r["code"] for r in pub.block_reasons] == ["approval_stale"]
    post = Post.objects.get(pk=w.post.pk)
    assert post.approved_at is None and post.approved_version == ""
    detail = client.get(f"{PUBS}{pub.pk}/").json()  # visible in the API
    assert detail["status"] == "pending_approval" and detail["block_reasons"][0]["code"] == "approval_stale"
    assert AuditEvent.objects.filter(action="publication.approval_stale", object_id=str(pub.pk)).exists()
    assert AuditEvent.objects.filter(action="post.approval_withdrawn", object_id=str(post.pk)).exists()


EDITS = {
    "caption": lambda w: {"caption": "New set tonight — now with a typo fixed"},
    "price": lambda w: {"price_minor": 1499},
    "currency": lambda w: {"currency": "EUR"},
    "asset added": lambda w: {"asset_ids": [w.asset.pk, w.second.pk, approved_asset(w, "f").pk]},
    "asset removed": lambda w: {"asset_ids": [w.asset.pk]},
    "assets reordered": lambda w: {"asset_ids": [w.second.pk, w.asset.pk]},
    "collection": lambda w: {"collection_id": w.collection.pk},
    "target added": lambda w: {"targets": [{"account_id": w.x.pk}, {"account_id": w.fanvue.pk},
                                           {"account_id": w.reddit.pk}]},
    "target removed": lambda w: {"targets": [{"account_id": w.x.pk}]},
    "per-target caption": lambda w: {"targets": [{"account_id": w.x.pk, "caption_override": "Only on X"},
                                                 {"account_id": w.fanvue.pk}]},
}


@pytest.mark.django_db
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_through_the_api_sends_the_post_back_and_nothing_is_published(client, scheduled, edit):
    client.force_login(scheduled.alice)
    response = client.patch(f"{POSTS}{scheduled.post.pk}/", EDITS[edit](scheduled), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["approved_at"] is None
    assert_sent_back(scheduled, client, scheduled.on_x)
    nothing_goes_out(scheduled)


@pytest.mark.django_db
def test_a_per_account_caption_through_the_publication_endpoint_sends_the_post_back(client, scheduled):
    client.force_login(scheduled.alice)
    response = client.patch(f"{PUBS}{scheduled.on_fanvue.pk}/", {"caption_override": "Fanvue exclusive"},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    assert_sent_back(scheduled, client, scheduled.on_x)
    assert_sent_back(scheduled, client, scheduled.on_fanvue)
    nothing_goes_out(scheduled)


@pytest.mark.django_db
def test_an_edit_that_changes_nothing_keeps_the_approval(client, scheduled):
    client.force_login(scheduled.alice)
    same = {"caption": scheduled.post.caption, "asset_ids": [scheduled.asset.pk, scheduled.second.pk],
            "price_minor": 999, "currency": "usd"}
    assert client.patch(f"{POSTS}{scheduled.post.pk}/", same, content_type="application/json").status_code == 200
    scheduled.on_x.refresh_from_db()
    assert scheduled.on_x.status == S.SCHEDULED
    assert Post.objects.get(pk=scheduled.post.pk).approved_at is not None


@pytest.mark.django_db
def test_approving_again_records_the_new_version_and_it_can_be_scheduled(client, scheduled):
    services.update_post(scheduled.post, caption="Second take", actor=scheduled.bob)
    client.force_login(scheduled.alice)
    approved = client.post(f"{POSTS}{scheduled.post.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["all_passed"] is True, approved.content
    post = Post.objects.get(pk=scheduled.post.pk)
    assert post.approved_version == approval.current_version(post) == approved.json()["post"]["approved_version"]
    on_x = Publication.objects.get(pk=scheduled.on_x.pk)
    assert on_x.status == S.APPROVED and on_x.block_reasons == []
    assert services.schedule(on_x, at=scheduled.due).verdict.passed
    with time_machine.travel(scheduled.due + timedelta(minutes=1), tick=False):
        services.publish_batch(services.claim_due_publications())
    assert len(FlakyConnector.calls) == 1


@pytest.mark.django_db
def test_removing_a_published_target_is_refused_and_changes_nothing(client, scheduled):
    Publication.objects.filter(pk=scheduled.on_fanvue.pk).update(status=S.PUBLISHED)
    client.force_login(scheduled.alice)
    response = client.patch(f"{POSTS}{scheduled.post.pk}/", {"targets": [{"account_id": scheduled.x.pk}]},
                            content_type="application/json")
    assert response.status_code == 409 and "stays a target" in response.json()["error"]["message"]
    assert Publication.objects.filter(pk=scheduled.on_fanvue.pk, status=S.PUBLISHED).exists()
    scheduled.on_x.refresh_from_db()
    assert scheduled.on_x.status == S.SCHEDULED


@pytest.mark.django_db
def test_targets_and_collections_of_another_creator_are_refused(client, scheduled):
    other = Collection.objects.create(creator=scheduled.creator_b, title="Beta's")
    b_account = PlatformAccountFactory(creator=scheduled.creator_b, platform="fanvue", handle="bea")
    client.force_login(scheduled.owner)  # reaches both creators
    url = f"{POSTS}{scheduled.post.pk}/"
    assert client.patch(url, {"collection_id": other.pk}, content_type="application/json").status_code == 400
    assert client.patch(url, {"targets": [{"account_id": b_account.pk}]},
                        content_type="application/json").status_code == 400
    with pytest.raises(ValidationError):  # the service keeps the rule whoever calls it
        services.update_post(scheduled.post, targets=[(b_account, "")], actor=scheduled.owner)
    assert not Publication.objects.filter(account=b_account).exists()


# --- The publish-time gate: the race between scheduling and publishing ----------------------------


def reviewed_again(w) -> None:
    asset = w.second
    content.reopen(asset, actor=w.alice)
    content.submit_for_review(asset, actor=w.bob)
    content.approve(asset, actor=w.alice)


CHANGES_AFTER_THE_CLAIM = {
    "asset re-reviewed": reviewed_again,
    "asset re-rated": lambda w: Asset.objects.filter(pk=w.second.pk).update(rating="suggestive"),
    "asset file replaced": lambda w: Asset.objects.filter(pk=w.second.pk).update(
        file="assets/other.jpg", sha256="9" * 64),
    "collection grew": lambda w: (Post.objects.filter(pk=w.post.pk).update(collection=w.collection),
                                  content.add_to_collection(w.collection, [w.asset], actor=w.alice)),
    "caption written around the service": lambda w: Post.objects.filter(pk=w.post.pk).update(caption="Changed"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", sorted(CHANGES_AFTER_THE_CLAIM))
def test_a_change_after_the_claim_is_refused_at_publish_time(scheduled, change):
    with time_machine.travel(scheduled.due + timedelta(seconds=30), tick=False):
        claimed = services.claim_due_publications()
        assert set(claimed) == {scheduled.on_x.pk, scheduled.on_fanvue.pk}
        CHANGES_AFTER_THE_CLAIM[change](scheduled)
        outcome = services.publish_batch(claimed)
    assert set(outcome.values()) == {S.BLOCKED}
    assert FlakyConnector.calls == []
    on_x = Publication.objects.get(pk=scheduled.on_x.pk)
    assert "approval_stale" in {r["code"] for r in on_x.block_reasons}


@pytest.mark.django_db
def test_the_schedule_time_gate_refuses_a_stale_approval(scheduled):
    Asset.objects.filter(pk=scheduled.second.pk).update(rating="suggestive")
    outcome = services.reschedule(scheduled.on_x, at=scheduled.due + timedelta(hours=1))
    assert "approval_stale" in outcome.verdict.codes
    scheduled.on_x.refresh_from_db()
    assert scheduled.on_x.scheduled_at == scheduled.due


@pytest.mark.django_db
def test_an_approval_recorded_before_versions_existed_is_stale(scheduled):
    Post.objects.filter(pk=scheduled.post.pk).update(approved_version="")
    with time_machine.travel(scheduled.due + timedelta(seconds=30), tick=False):
        outcome = services.publish_batch(services.claim_due_publications())
    assert set(outcome.values()) == {S.BLOCKED}
    assert FlakyConnector.calls == []


@pytest.mark.django_db
def test_four_eyes_holds_for_the_new_version(client, scheduled):
    """The editor's edit sends the post back; on a four-eyes creator she cannot approve it herself."""
    Creator.objects.filter(pk=scheduled.creator.pk).update(four_eyes_review=True)
    post = scheduled.post
    Post.objects.filter(pk=post.pk).update(created_by=scheduled.bob)
    client.force_login(scheduled.bob)
    assert client.patch(f"{POSTS}{post.pk}/", {"caption": "Bob's take"},
                        content_type="application/json").status_code == 200
    assert client.post(f"{POSTS}{post.pk}/approve/").status_code in (403, 409)
    assert Post.objects.get(pk=post.pk).approved_at is None


# --- Changes made in content, before the dispatcher claims anything ---------------------------------

CONTENT_CHANGES = {
    "asset re-reviewed": reviewed_again,
    "asset rejected": lambda w: (content.reopen(w.second, actor=w.alice),
                                 content.submit_for_review(w.second, actor=w.bob),
                                 content.reject(w.second, actor=w.alice, reason="Blurry")),
    "asset re-rated": lambda w: content.update_asset(w.second, rating="suggestive", actor=w.alice),
    "asset retitled": lambda w: content.update_asset(w.second, title="Another title", actor=w.alice),
    "collection grew": lambda w: content.add_to_collection(w.collection, [w.asset], actor=w.alice),
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", sorted(CONTENT_CHANGES))
def test_a_change_in_content_sends_the_post_back_at_once(client, scheduled, change,
                                                          django_capture_on_commit_callbacks):
    if change == "collection grew":  # the post sells the collection, approved as such
        Post.objects.filter(pk=scheduled.post.pk).update(collection=scheduled.collection)
        approve_as_is(Post.objects.get(pk=scheduled.post.pk))
    with django_capture_on_commit_callbacks(execute=True):
        CONTENT_CHANGES[change](scheduled)
    client.force_login(scheduled.alice)
    for pub in (scheduled.on_x, scheduled.on_fanvue):
        assert_sent_back(scheduled, client, pub)
    withdrawn = AuditEvent.objects.get(action="post.approval_withdrawn", object_id=str(scheduled.post.pk))
    assert withdrawn.changes["fields"] == ["media"]
    nothing_goes_out(scheduled)


@pytest.mark.django_db
def test_a_change_to_what_fans_do_not_get_keeps_the_approval(scheduled, django_capture_on_commit_callbacks):
    other = approved_asset(scheduled, "7")  # in no post
    with django_capture_on_commit_callbacks(execute=True):
        content.update_asset(other, rating="suggestive", actor=scheduled.alice)
        content.update_asset(scheduled.second, notes="Shot on the balcony", actor=scheduled.alice)
    for pub in (scheduled.on_x, scheduled.on_fanvue):
        pub.refresh_from_db()
        assert pub.status == S.SCHEDULED and pub.block_reasons == []
    assert Post.objects.get(pk=scheduled.post.pk).approved_at is not None
