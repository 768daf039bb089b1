"""A compliance officer revokes a consent and opens a takedown request in the admin; the creator's
manager signs in, sees the count on the bell, opens the notice and follows it to the held posts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from notifications.models import Notification
from scheduling import services
from scheduling.models import Publication
from tests.browser.conftest import admin_login
from tests.factories import UserFactory
from tests.scheduling.factories import approved_publication

PASSWORD = "correct-horse-battery"
S = Publication.Status


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_is_told_and_follows_the_notice_to_the_held_posts(page, live_server, world, artifacts_dir):
    a = world.creator
    dora = UserFactory(username="dora", first_name="Dora")
    cora = UserFactory(username="cora", first_name="Cora")
    accounts_services.add_membership(user=dora, creator=a, role="editor")
    accounts_services.add_membership(user=cora, creator=a, role="compliance")
    pubs = []
    for account, hours in (("fanvue", 20), ("x", 21)):
        pub = approved_publication(world.post, world.account(account))
        outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=hours), actor=dora)
        assert outcome.verdict.passed, outcome.verdict.reasons
        pubs.append(pub)

    # The compliance officer revokes the performer's consent through its reason page…
    admin_login(page, live_server, "cora", PASSWORD)
    page.goto(f"{live_server.url}/admin/compliance/consentrecord/{world.consent.pk}/revoke/")
    page.fill("[name=reason]", "The performer withdrew consent by email.")
    page.click("[data-testid=confirm-action]")
    page.wait_for_url(re.compile(r".*/admin/compliance/consentrecord/.*"))
    assert all(Publication.objects.get(pk=p.pk).status == S.BLOCKED for p in pubs)

    # …and opens a takedown request naming the photo.
    page.goto(f"{live_server.url}/admin/compliance/takedownrequest/add/")
    page.select_option("select[name=kind]", "take_it_down")
    page.select_option("select[name=creator]", str(a.pk))
    now = timezone.localtime()
    page.fill("[name=received_at_0]", now.strftime("%Y-%m-%d"))
    page.fill("[name=received_at_1]", now.strftime("%H:%M:%S"))
    page.fill("[name=asset_ids]", str(world.asset.pk))
    for name, value in (("requester_name", "R. Person"), ("requester_contact", "r@mail.test"),
                        ("signature", "/R. Person/"), ("content_description", "A photo of me"),
                        ("content_locations", "On the creator's pages"),
                        ("non_consent_statement", "I did not consent to this photo.")):
        page.fill(f"[name={name}]", value)
    page.click("button[name=_save]")
    page.wait_for_url(re.compile(r".*/admin/compliance/takedownrequest/$"))
    assert Notification.objects.filter(kind="takedown.opened", creator=a).count() == 1
    consent_notice = Notification.objects.get(kind="consent.revoked", creator=a)
    assert consent_notice.title.endswith("by Cora — 2 scheduled posts held")

    # The manager signs in: the bell counts both notices on every page.
    page.context.clear_cookies()
    admin_login(page, live_server, "alice", PASSWORD)
    assert page.locator("[data-testid=notification-count]").inner_text() == "2"
    page.goto(f"{live_server.url}/admin/scheduling/publication/")
    assert page.locator("[data-testid=notification-count]").inner_text() == "2"
    page.click("[data-testid=notification-bell]")
    page.wait_for_selector("[data-testid=notification-inbox]")
    titles = page.locator("[data-testid=inbox-title]").all_inner_texts()
    assert consent_notice.title in titles and any("takedown request" in t for t in titles)
    page.screenshot(path=str(artifacts_dir / "notification.png"), full_page=True)

    # Opening the notice marks it read and lands on exactly the held posts.
    page.locator("[data-testid=inbox-title]", has_text="consent of performer").click()
    page.wait_for_url(re.compile(r".*/admin/scheduling/publication/\?id__in=.*"))
    for pub in pubs:
        assert page.locator(f"a[href*='/admin/scheduling/publication/{pub.pk}/change/']").count() >= 1
    assert page.locator("[data-testid=notification-count]").inner_text() == "1"
    page.screenshot(path=str(artifacts_dir / "notification-held-posts.png"), full_page=True)
