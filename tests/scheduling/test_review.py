"""The review inbox: who sees what waits, and approving or refusing through the services.

alice manages A, bob edits A, charlie manages B only, chloe chats on A and ana analyses A; the owner
reaches everything. A keeps four eyes, so nobody approves what they made.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import AuditEvent, User
from content.models import Asset
from scheduling import review, services
from scheduling.models import Post, Publication
from tests.content.factories import AssetFactory, add_rendition
from tests.scheduling.factories import PostFactory
from tests.scheduling.fixtures import World

S = Publication.Status
PASSWORD = "correct-horse-battery"
MAY = " may approve it (four-eyes review)."


@dataclass(frozen=True)
class Inbox(World):
    """The world and A's other roles (`team`), with bob's asset and post waiting for review."""

    chloe: User
    ana: User
    oscar_a: User
    new_asset: Asset
    new_post: Post

    @property
    def users(self) -> dict[str, User]:
        return {**super().users, "chloe": self.chloe, "ana": self.ana, "oscar_a": self.oscar_a}


@pytest.fixture
def inbox(world, team, media_dir) -> Inbox:
    """bob's asset in review (with a thumbnail) and bob's post for Fanvue and X, submitted."""
    a, bob = world.creator, world.bob
    asset = AssetFactory(creator=a, uploaded_by=bob, title="Beach set", status=Asset.Status.IN_REVIEW)
    add_rendition(asset, "thumb")
    post = PostFactory(creator=a, caption="Tonight at nine", asset_ids=[world.asset.pk], actor=bob,
                       targets=[(world.fanvue, ""), (world.x, "Link in bio")], price_minor=1250,
                       currency="EUR")
    services.submit_post(post, actor=bob)
    return world.extended(Inbox, chloe=team["chloe"], ana=team["ana"], oscar_a=team["oscar_a"], new_asset=asset,
                          new_post=post)


def keys(user) -> set[str]:
    return {f"asset:{a.pk}" for a in review.waiting_assets(user)} | {f"post:{p.pk}" for p in review.waiting_posts(user)}


def test_manager_sees_what_waits_and_approves_a_post(inbox):
    alice, post = inbox.alice, inbox.new_post
    assert keys(alice) == {f"asset:{inbox.new_asset.pk}", f"post:{post.pk}"}
    assert review.waiting_count(alice) == 2

    [outcome] = review.approve_items(alice, [f"post:{post.pk}"])

    assert outcome.level == "success", outcome.message
    assert set(post.publications.values_list("status", flat=True)) == {S.APPROVED}
    assert keys(alice) == {f"asset:{inbox.new_asset.pk}"}


def test_preview_shows_captions_per_target_price_and_the_gate_once_approved(inbox):
    [preview] = review.post_previews(review.waiting_posts(inbox.alice))
    assert preview.price == "€12.50"
    assert [t.caption for t in preview.targets] == ["Tonight at nine", "Link in bio"]
    assert [t.overridden for t in preview.targets] == [False, True]
    assert preview.all_pass, [t.verdict.reasons for t in preview.targets]
    [asset] = review.asset_previews(review.waiting_assets(inbox.alice))
    assert asset.preview_url and "thumb" in asset.preview_url


def test_editor_cannot_approve_own_and_the_refusal_names_who_may(inbox):
    bob, post = inbox.bob, inbox.new_post
    assert keys(bob) == set()  # both are bob's: nothing waits for him

    outcomes = review.approve_items(bob, [f"post:{post.pk}", f"asset:{inbox.new_asset.pk}"])

    assert [o.level for o in outcomes] == ["error", "error"]
    assert outcomes[0].message == f"You submitted this post; alice (manager) or owner (owner){MAY}"
    assert outcomes[1].message == f"You uploaded this asset; alice (manager) or owner (owner){MAY}"
    assert set(post.publications.values_list("status", flat=True)) == {S.PENDING_APPROVAL}
    assert Asset.objects.get(pk=inbox.new_asset.pk).status == Asset.Status.IN_REVIEW


@pytest.mark.parametrize("name", ["chloe", "ana", "oscar_a", "charlie"])
def test_chatter_analyst_compliance_and_another_creators_manager_see_nothing(inbox, name):
    user = inbox.users[name]
    assert not keys(user) and review.waiting_count(user) == 0
    outcomes = review.approve_items(user, [f"post:{inbox.new_post.pk}", f"asset:{inbox.new_asset.pk}"])
    assert [o.level for o in outcomes] == ["error", "error"]
    assert all("not found" in o.message for o in outcomes)
    assert set(inbox.new_post.publications.values_list("status", flat=True)) == {S.PENDING_APPROVAL}
    assert review.may_review(user) is (name == "charlie")


def test_bulk_approve_reports_a_partial_refusal_per_item(inbox):
    alice = inbox.alice
    own = PostFactory(creator=inbox.creator, caption="Mine", asset_ids=[inbox.asset.pk], actor=alice,
                      targets=[(inbox.fanvue, "")])
    services.submit_post(own, actor=alice)
    wanted = [f"post:{own.pk}", f"post:{inbox.new_post.pk}", f"asset:{inbox.new_asset.pk}", "post:999999",
              "junk", "asset:x"]

    outcomes = review.approve_items(alice, wanted)

    assert [(o.key, o.level) for o in outcomes] == [
        (f"post:{own.pk}", "error"), (f"post:{inbox.new_post.pk}", "success"),
        (f"asset:{inbox.new_asset.pk}", "success"), ("post:999999", "error")]
    assert outcomes[0].message == f"You submitted this post; bob (editor) or owner (owner){MAY}"
    assert own.publications.get().status == S.PENDING_APPROVAL


def test_reject_asset_needs_a_reason_and_keeps_it(inbox):
    alice, asset = inbox.alice, inbox.new_asset
    [refused] = review.reject_items(alice, [f"asset:{asset.pk}"], "  ")
    assert refused.level == "error"
    [done] = review.reject_items(alice, [f"asset:{asset.pk}"], "Blurry, reshoot")
    assert done.level == "success"
    asset.refresh_from_db()
    assert (asset.status, asset.review_reason, asset.reviewed_by) == (Asset.Status.REJECTED, "Blurry, reshoot", alice)


def test_sending_a_post_back_returns_it_to_draft_with_the_reason_audited(inbox):
    alice, post = inbox.alice, inbox.new_post
    [done] = review.reject_items(alice, [f"post:{post.pk}"], "Caption too long for X")
    assert done.level == "success"
    assert set(post.publications.values_list("status", flat=True)) == {S.DRAFT}
    event = AuditEvent.objects.get(action="post.sent_back", object_id=str(post.pk))
    assert event.changes["reason"] == "Caption too long for X" and event.actor == alice
    [again] = review.reject_items(alice, [f"post:{post.pk}"], "Again")
    assert again.level == "error"


# --- The admin pages ----------------------------------------------------------------------------------


def login(client, user):
    client.force_login(user)
    return client


def test_inbox_page_lists_and_acts_one_click_and_in_bulk(client, inbox):
    login(client, inbox.alice)
    url = reverse("admin:scheduling_review_inbox")
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Beach set" in body and "Tonight at nine" in body and "Link in bio" in body and "€12.50" in body

    asset_key, post_key = f"asset:{inbox.new_asset.pk}", f"post:{inbox.new_post.pk}"
    response = client.post(url, {"one": f"reject:{asset_key}", f"reason:{asset_key}": "Too dark"}, follow=True)
    assert Asset.objects.get(pk=inbox.new_asset.pk).review_reason == "Too dark"
    assert "rejected" in response.content.decode()
    client.post(url, {"operation": "approve", "items": [post_key]})
    assert set(inbox.new_post.publications.values_list("status", flat=True)) == {S.APPROVED}


def test_bulk_reject_without_a_reason_changes_nothing(client, inbox):
    login(client, inbox.alice)
    response = client.post(reverse("admin:scheduling_review_inbox"),
                           {"operation": "reject", "items": [f"asset:{inbox.new_asset.pk}"], "reason": ""},
                           follow=True)
    assert "nothing was rejected" in response.content.decode()
    assert Asset.objects.get(pk=inbox.new_asset.pk).status == Asset.Status.IN_REVIEW


@pytest.mark.parametrize("name", ["chloe", "ana"])
def test_inbox_is_closed_to_roles_that_approve_nothing(client, inbox, name):
    login(client, inbox.users[name])
    assert client.get(reverse("admin:scheduling_review_inbox")).status_code == 403


def test_inbox_filtered_by_an_unreachable_creator_shows_only_mine(client, inbox):
    login(client, inbox.charlie)
    page = client.get(reverse("admin:scheduling_review_inbox") + f"?creator={inbox.creator.pk}&kind=post")
    assert page.status_code == 200 and "Tonight at nine" not in page.content.decode()


def test_approve_page_shows_what_is_approved_then_the_post_page_shows_the_verdicts(client, inbox):
    post = inbox.new_post
    login(client, inbox.alice)
    url = reverse("admin:scheduling_post_approve_detail", args=[post.pk])
    page = client.get(url).content.decode()
    assert "Tonight at nine" in page and "Link in bio" in page and "€12.50" in page
    assert page.count('data-testid="gate-verdict" data-passed="yes"') == 2
    assert post.publications.filter(status=S.PENDING_APPROVAL).count() == 2  # a GET changes nothing

    response = client.post(url, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("admin:scheduling_post_change", args=[post.pk])
    assert "the gate passes on all 2 targets" in body
    assert body.count('data-testid="gate-verdict" data-passed="yes"') == 2


def test_approving_own_post_in_the_admin_names_who_may(client, inbox):
    login(client, inbox.bob)
    response = client.post(reverse("admin:scheduling_post_approve_detail", args=[inbox.new_post.pk]), follow=True)
    assert f"You submitted this post; alice (manager) or owner (owner){MAY}" in response.content.decode()


def test_submit_button_sends_drafts_for_approval(client, inbox):
    post = PostFactory(creator=inbox.creator, caption="Draft", asset_ids=[inbox.asset.pk], actor=inbox.bob,
                       targets=[(inbox.fanvue, "")])
    login(client, inbox.bob)
    url = reverse("admin:scheduling_post_submit_detail", args=[post.pk])
    assert client.get(url).status_code == 200
    client.post(url)
    assert post.publications.get().status == S.PENDING_APPROVAL


def test_out_of_reach_post_pages_answer_404(client, inbox):
    login(client, inbox.charlie)
    for name in ("admin:scheduling_post_approve_detail", "admin:scheduling_post_submit_detail"):
        assert client.get(reverse(name, args=[inbox.new_post.pk])).status_code in (403, 404)


def test_dashboard_review_counts_link_to_the_inbox_and_the_sidebar_counts(client, inbox):
    login(client, inbox.alice)
    body = client.get(reverse("admin:index")).content.decode()
    inbox_url = reverse("admin:scheduling_review_inbox")
    assert f'href="{inbox_url}?kind=asset&amp;creator={inbox.creator.pk}"' in body
    assert f'href="{inbox_url}?kind=post&amp;creator={inbox.creator.pk}"' in body
    assert "Review inbox" in body


def test_sidebar_badge_is_counted_once_then_read_from_the_cache(client, inbox):
    cache.delete(f"review:waiting:{inbox.alice.pk}")
    login(client, inbox.alice).get(reverse("admin:index"))
    assert cache.get(f"review:waiting:{inbox.alice.pk}") == 2
    client.post(reverse("admin:scheduling_review_inbox"), {"one": f"approve:post:{inbox.new_post.pk}"})
    assert cache.get(f"review:waiting:{inbox.alice.pk}") is None  # what she did shows at once
    login(client, inbox.chloe).get(reverse("admin:index"))
    assert cache.get(f"review:waiting:{inbox.chloe.pk}") is None  # a chatter is never counted


def test_the_post_page_shows_why_it_was_sent_back(client, inbox):
    review.reject_items(inbox.alice, [f"post:{inbox.new_post.pk}"], "Caption too long for X")
    page = login(client, inbox.bob).get(reverse("admin:scheduling_post_change", args=[inbox.new_post.pk]))
    assert "Sent back by alice: Caption too long for X" in page.content.decode()
