"""A manager finds a post from the sidebar search and works through a creator's onboarding from its hub,
in Chromium under the admin's Content-Security-Policy (no violation, no script error on the way)."""

from __future__ import annotations

import pytest

from accounts import services as accounts
from scheduling.models import Post
from tests.browser.conftest import admin_login
from tests.browser.test_csp_browser import Recorder
from tests.factories import CreatorFactory
from tests.scheduling.factories import PostFactory

PASSWORD = "correct-horse-battery"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_finds_a_post_by_a_caption_word(page, live_server, world, artifacts_dir):
    a, b = world.creator, world.creator_b
    mine = PostFactory(creator=a, caption="Lighthouse picnic at dawn, full set on Friday")
    PostFactory(creator=b, caption="Lighthouse rooftop, creator B")  # charlie's: never shown to alice
    seen = Recorder(page)
    admin_login(page, live_server, "alice", PASSWORD)

    page.focus("#nav-filter")
    page.keyboard.type("lighthouse")
    results = page.locator("#search-results a")
    page.wait_for_selector("#search-results a[href*='/admin/search/?q=']", state="visible")
    assert results.filter(has_text="Lighthouse picnic").count() == 1
    assert results.filter(has_text="rooftop").count() == 0
    page.keyboard.press("Enter")  # nothing highlighted: the page of every result
    page.wait_for_url("**/admin/search/?q=lighthouse")
    page.wait_for_selector("[data-testid=search-group-posts]")
    assert "rooftop" not in page.content()
    page.screenshot(path=str(artifacts_dir / "global-search.png"), full_page=True)
    seen.collect("search page")

    page.locator("[data-testid=search-group-posts] [data-testid=search-hit]", has_text="Lighthouse picnic").click()
    page.wait_for_url(f"**/admin/scheduling/post/{mine.pk}/change/")
    assert page.input_value("textarea[name=caption]").startswith("Lighthouse picnic")

    # From the sidebar straight to the record: hover the hit and follow it.
    page.focus("#nav-filter")
    page.keyboard.type("picnic")
    hit = page.locator("#search-results a", has_text="Lighthouse picnic")
    hit.wait_for(state="visible")
    hit.click()
    page.wait_for_url(f"**/admin/scheduling/post/{mine.pk}/change/")
    seen.collect("post")
    assert seen.problems == []
    assert Post.objects.filter(creator=b).count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_opens_a_hub_and_follows_a_missing_step(page, live_server, world, artifacts_dir):
    newcomer = CreatorFactory(stage_name="Newcomer", kind="human")
    accounts.add_membership(user=world.alice, creator=newcomer, role="manager")
    seen = Recorder(page)
    admin_login(page, live_server, "alice", PASSWORD)

    # From the creator list to the hub of a creator that is fully onboarded but for its first post.
    page.goto(f"{live_server.url}/admin/accounts/creator/")
    page.locator("tr", has_text="Alpha").locator("a", has_text="Open hub").click()
    page.wait_for_url(f"**/admin/creators/{world.creator.pk}/hub/")
    assert page.get_attribute("[data-testid=step-identity]", "data-done") == "yes"
    assert page.get_attribute("[data-testid=step-accounts]", "data-done") == "yes"
    assert page.get_attribute("[data-testid=step-first_post]", "data-done") == "no"

    # The newcomer: nothing yet. The missing account step links to the form that adds one.
    page.goto(f"{live_server.url}/admin/creators/{newcomer.pk}/hub/")
    checklist = page.locator("[data-testid=hub-checklist]")
    checklist.wait_for()
    assert page.get_attribute("[data-testid=step-accounts]", "data-done") == "no"
    assert "No platform account yet." in checklist.inner_text()
    page.screenshot(path=str(artifacts_dir / "creator-hub.png"), full_page=True)
    seen.collect("hub")

    page.click("[data-testid=fix-accounts]")
    page.wait_for_url(f"**/admin/scheduling/platformaccount/add/?creator={newcomer.pk}")
    assert page.locator("select[name=creator]").input_value() == str(newcomer.pk)
    seen.collect("account form")
    assert seen.problems == []
