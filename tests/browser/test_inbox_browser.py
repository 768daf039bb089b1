"""A chatter's shift on the inbox screen: a fan's message arrives while the page is open and shows up
without a reload; the chatter picks a script, its placeholders filled, and sends it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Role
from inbox import services
from inbox.models import Message, Script, Shift
from tests.browser.conftest import admin_login
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import fan_writes, incoming
from tests.inbox.screen_helpers import vault_asset
from tests.scheduling.factories import PlatformAccountFactory

PASSWORD = "correct-horse-battery"
LIVE_MS = 2000  # the promise: a new message on screen within 2 s, without a reload


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_fan_message_appears_live_and_the_chatter_answers_with_a_script(page, live_server, media_dir,
                                                                          artifacts_dir):
    luna = CreatorFactory(stage_name="Luna")
    chatter = UserFactory(username="chatty", first_name="Chloe")
    accounts_services.add_membership(user=chatter, creator=luna, role=Role.CHATTER)
    now = timezone.now()
    Shift.objects.create(creator=luna, chatter=chatter, starts_at=now - timedelta(hours=1),
                         ends_at=now + timedelta(hours=7))
    fanvue = PlatformAccountFactory(creator=luna, platform="fanvue", handle="luna")
    conversation = fan_writes(fanvue, "hi Luna!", fan_id="sam", fan_handle="@sam").conversation
    fan_writes(fanvue, "hello?", fan_id="kim", fan_handle="@kim")
    script = Script.objects.create(creator=luna, name="Welcome",
                                   text="Hi {fan_name}, {creator_name} here — thanks for writing!")
    vault_asset(luna, title="Sunset set")

    errors = []  # and nothing on it breaks the admin's own scripts
    page.on("pageerror", lambda e: errors.append(str(e)))
    refused = []  # the screen runs under the admin's Content-Security-Policy
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    admin_login(page, live_server, "chatty", PASSWORD)
    page.locator("a[href='/admin/inbox/']").first.click()  # the sidebar's first item after the dashboard
    page.wait_for_selector("[data-testid=inbox-screen]")
    page.locator("[data-testid=inbox-row]", has_text="@sam").locator("a").click()
    page.wait_for_url(re.compile(rf".*/admin/inbox/\?c={conversation.pk}$"))
    page.wait_for_selector("[data-testid=inbox-thread-fan]")
    assert page.locator("[data-testid=inbox-thread-fan]").inner_text() == "@sam"
    page.evaluate("window.__sameDocument = true")

    # The fan writes while the page is open: it arrives through the service every channel uses.
    services.receive(fanvue, incoming(fan_id="sam", text="are you there? 🌙", fan_handle="@sam"))
    page.wait_for_selector("[data-testid=inbox-message]:has-text('are you there? 🌙')", timeout=LIVE_MS)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert "are you there? 🌙" in page.locator("[data-testid=inbox-row]", has_text="@sam").inner_text()
    timings = page.evaluate("performance.getEntriesByType('resource')"
                            ".filter(e => e.name.includes('/admin/inbox/live/')).map(e => e.duration)")
    assert timings, "the page never polled"
    print(f"live polls: {len(timings)}, median {sorted(timings)[len(timings) // 2]:.0f} ms")

    # A script fills the compose box with the fan's and the creator's names; the chatter sends it.
    page.select_option("[data-testid=inbox-script]", str(script.pk))
    assert page.input_value("[data-testid=inbox-text]") == "Hi sam, Luna here — thanks for writing!"
    page.locator("[data-testid=inbox-vault] summary").click()
    page.locator("[data-testid=inbox-vault-asset]").first.wait_for()
    page.click("[data-testid=inbox-send]")
    page.wait_for_selector("[data-testid=inbox-message]:has-text('Hi sam, Luna here')")
    sent = Message.objects.get(conversation=conversation, direction=Message.Direction.OUT)
    assert (sent.origin, sent.script, sent.sent_by) == (Message.Origin.SCRIPT, script, chatter)
    author = page.locator("[data-testid=inbox-message]", has_text="Hi sam, Luna here") \
        .locator("[data-testid=inbox-author]").inner_text()
    assert author == "Chloe · script “Welcome”"
    assert not refused, refused
    assert not errors, errors
    page.screenshot(path=str(artifacts_dir / "inbox.png"), full_page=True)
