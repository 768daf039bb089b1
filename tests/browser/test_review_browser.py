"""Review in the admin: a manager works the review inbox, and a newcomer takes a post from nothing to
two scheduled publications without leaving the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from content.models import Asset
from scheduling import services
from scheduling.models import Publication
from tests.browser import newcomer
from tests.browser.conftest import admin_login
from tests.content.factories import AssetFactory, add_rendition
from tests.scheduling.factories import PostFactory

PASSWORD = "correct-horse-battery"
S = Publication.Status
SLOW_MACHINE_MS = 60000  # each page runs the gate per target; a loaded CI box needs more than the default


def logout(page, live_server) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_approves_a_post_and_rejects_an_asset_from_the_inbox(page, live_server, world, media_dir,
                                                                      artifacts_dir):
    page.set_default_timeout(SLOW_MACHINE_MS)
    a, bob = world.creator, world.bob
    asset = AssetFactory(creator=a, uploaded_by=bob, title="Beach set", status=Asset.Status.IN_REVIEW)
    add_rendition(asset, "thumb")
    add_rendition(world.asset, "thumb")
    post = PostFactory(creator=a, caption="New set tonight at nine", asset_ids=[world.asset.pk], actor=bob,
                       targets=[(world.fanvue, ""), (world.x, "Link in bio 🔗")], price_minor=1250,
                       currency="EUR")
    services.submit_post(post, actor=bob)

    refused = []  # the inbox and its previews load under the admin's Content-Security-Policy
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    admin_login(page, live_server, "alice", PASSWORD)
    page.get_by_role("link", name="Review inbox").first.click()
    page.wait_for_selector("[data-testid=review-inbox]")
    asset_row = page.locator(f"[data-testid=inbox-asset][data-key='asset:{asset.pk}']")
    post_row = page.locator(f"[data-testid=inbox-post][data-key='post:{post.pk}']")
    # Previews: the thumbnail really loads, the captions per target, the price in euros, the gate per target.
    thumb = asset_row.locator("[data-testid=asset-thumb]")
    thumb.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert post_row.locator("[data-testid=target-caption]").all_inner_texts() == [
        "New set tonight at nine", "Link in bio 🔗 (own caption)"]
    assert "€12.50" in post_row.locator("[data-testid=post-price]").inner_text()
    assert post_row.locator("[data-testid=gate-verdict][data-passed=yes]").count() == 2
    page.screenshot(path=str(artifacts_dir / "review-inbox.png"), full_page=True)

    post_row.locator("[data-testid=approve-one]").click()
    page.wait_for_selector("text=the gate passes on all 2 targets")
    assert set(post.publications.values_list("status", flat=True)) == {S.APPROVED}

    asset_row = page.locator(f"[data-testid=inbox-asset][data-key='asset:{asset.pk}']")
    asset_row.locator("[data-testid=reason-one]").fill("Horizon is tilted, please reshoot")
    asset_row.locator("[data-testid=reject-one]").click()
    page.wait_for_selector("text=Asset “Beach set”: rejected.")
    asset.refresh_from_db()
    assert (asset.status, asset.review_reason) == (Asset.Status.REJECTED, "Horizon is tilted, please reshoot")
    assert page.locator("[data-testid=no-assets]").is_visible() and page.locator("[data-testid=no-posts]").is_visible()
    assert not refused, refused


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_newcomer_composes_gets_approval_and_schedules_two_platforms_in_the_admin(page, live_server, world,
                                                                                   media_dir, artifacts_dir):
    """Setup only makes people and accounts (and the approved photo the vault already holds); everything
    else is clicked: compose, submit, approve as the second person, schedule, see both scheduled."""
    page.set_default_timeout(SLOW_MACHINE_MS)
    a = world.creator
    Asset.objects.filter(pk=world.asset.pk).update(title="Jeanne rooftop")
    add_rendition(world.asset, "thumb")
    base = live_server.url

    # alice, manager of A, composes a post for Fanvue and X.
    admin_login(page, live_server, "alice", PASSWORD)
    post_id = newcomer.compose(page, base, creator={"value": str(a.pk)}, caption="Rooftop set, tonight at nine",
                               asset="Jeanne rooftop",
                               accounts=[{"value": str(world.fanvue.pk)}, {"value": str(world.x.pk)}])
    post = a.posts.get(pk=post_id)
    assert post.caption == "Rooftop set, tonight at nine"
    assert post.publications.count() == 2 and post.created_by == world.alice

    # She submits it; approving it herself is refused, and the refusal says who may.
    newcomer.submit_and_be_refused_by_four_eyes(
        page, 2, "You submitted this post; bob (editor) or owner (owner) may approve it (four-eyes review).")
    assert post.publications.filter(status=S.PENDING_APPROVAL).count() == 2

    # bob, the second person, approves it from his inbox, after reading what he approves.
    logout(page, live_server)
    admin_login(page, live_server, "bob", PASSWORD)
    newcomer.approve_from_review_inbox(page, post.pk, 2)
    assert post.publications.filter(status=S.APPROVED).count() == 2

    # alice schedules both targets for tomorrow evening from the publications list.
    logout(page, live_server)
    admin_login(page, live_server, "alice", PASSWORD)
    day = (timezone.now().astimezone(a.tzinfo) + timedelta(days=1)).date()
    newcomer.schedule_from_publications(page, base, search="Rooftop", day=day, at="21:00", targets=2)
    assert sorted(post.publications.values_list("account__platform", "status")) == [
        ("fanvue", S.SCHEDULED), ("x", S.SCHEDULED)]
    page.goto(f"{base}/admin/scheduling/post/{post.pk}/change/")
    assert page.locator("[data-testid=gate-verdict][data-passed=yes]").count() == 2
    page.goto(f"{base}/admin/scheduling/publication/?q=Rooftop&status=scheduled")
    assert page.locator("#result_list tbody tr").count() == 2
    page.screenshot(path=str(artifacts_dir / "newcomer-scheduled.png"), full_page=True)
