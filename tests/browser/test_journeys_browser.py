"""Journeys that work end to end, each in headless Chromium as the role that does it, and tried as a
role that should not: accounts that tell the truth, captions that fit the creator, statement imports
in the stated local time, and the API docs without internet. (AI personas publishing their own media
is `test_ai_upload_browser.py`.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Creator
from analytics.models import Transaction
from content import captions
from scheduling import services as scheduling_services
from scheduling.models import PlatformAccount, Publication
from tests.analytics.factories import statement_csv
from tests.browser.conftest import admin_login
from tests.factories import UserFactory
from tests.scheduling.factories import approved_publication

PASSWORD = "correct-horse-battery"


def _forbidden(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 403, (url, response and response.status)


def _fresh_login(browser, live_server, username: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = context.new_page()
    other.set_default_timeout(15000)
    admin_login(other, live_server, username, PASSWORD)
    return context, other


@pytest.fixture
def analyst(people):
    """ana, analyst of A: reads numbers and lists, changes nothing."""
    people["ana"] = UserFactory(username="ana")
    accounts_services.add_membership(user=people["ana"], creator=people["a"], role="analyst")
    return people["ana"]


@pytest.fixture
def private_storage(settings, tmp_path) -> Iterator[Path]:
    root = tmp_path / "private"
    settings.STORAGES = {**settings.STORAGES, "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(root), "base_url": None}}}
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    yield root
    storages._storages = {}
    storages.__dict__.pop("backends", None)


# --- Accounts that tell the truth ----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_new_account_is_not_connected_and_its_publications_say_so(page, live_server, world, browser,
                                                                     artifacts_dir):
    base = live_server.url
    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(f"{base}/admin/scheduling/platformaccount/add/")
    state = page.locator(".field-line", has=page.locator("label:text-is('State')")).locator(".readonly")
    # Said as a sentence, with the code in small print: "Not connected: connect it before …"
    assert state.inner_text().strip().startswith("Not connected")
    assert "Connected" not in state.inner_text().replace("Not connected", "")
    page.select_option("select[name=creator]", str(world.creator.pk))
    page.select_option("select[name=platform]", "fanvue")
    page.fill("input[name=handle]", "luna_second")
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_url(f"{base}/admin/scheduling/platformaccount/")
    row = page.locator("#result_list tr", has_text="luna_second")
    assert "Not connected" in row.inner_text()
    account = PlatformAccount.objects.get(handle="luna_second")
    assert account.state == PlatformAccount.State.NOT_CONNECTED

    publication = approved_publication(world.post, account)
    outcome = scheduling_services.schedule(publication, at=timezone.now() + timedelta(days=3), actor=world.alice)
    assert outcome.warning and "not connected" in outcome.warning
    assert Publication.objects.get(pk=publication.pk).status == Publication.Status.SCHEDULED

    page.goto(f"{base}/admin/scheduling/publication/")
    listed = page.locator("#result_list tr", has_text="luna_second")
    assert "not connected" in listed.locator("[data-testid=account-warning]").get_attribute("title")
    page.goto(f"{base}/admin/scheduling/post/{world.post.pk}/change/")
    warnings = page.locator("[data-testid=account-warning]")
    assert warnings.count() >= 1 and any("not connected" in (w.get_attribute("title") or "")
                                         for w in warnings.all())
    page.screenshot(path=str(artifacts_dir / "journey-accounts.png"), full_page=True)

    # An editor writes posts but does not add accounts.
    context, editor = _fresh_login(browser, live_server, "bob")
    _forbidden(editor, f"{base}/admin/scheduling/platformaccount/add/")
    context.close()


# --- Captions fit the creator --------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_caption_suggestions_carry_the_ai_label_for_a_persona_only(page, live_server, people, analyst, browser,
                                                                    artifacts_dir):
    persona, human = people["a"], people["b"]
    Creator.objects.filter(pk=persona.pk).update(kind=Creator.Kind.AI_PERSONA)
    accounts_services.add_membership(user=people["bob"], creator=human, role="editor")
    label = captions.disclosure_for("x", "en")
    base = live_server.url

    admin_login(page, live_server, "bob", PASSWORD)
    page.goto(f"{base}/admin/scheduling/post/add/")
    page.wait_for_selector("[data-testid=caption-suggest]")

    def suggestions(creator: Creator) -> list[str]:
        page.select_option("select[name=creator]", str(creator.pk))
        page.select_option("[data-testid=suggest-platform]", "x")
        page.fill("[data-testid=suggest-topic]", "sunset at the beach")
        page.click("[data-testid=suggest-go]")  # clears the previous list before it asks
        page.wait_for_selector("[data-testid=suggestion]")
        return [t.strip() for t in page.locator("[data-testid=suggestion] div.grow").all_text_contents()]

    for_persona = suggestions(persona)
    assert for_persona and all(label in text for text in for_persona), for_persona
    page.screenshot(path=str(artifacts_dir / "journey-captions.png"), full_page=True)
    for_human = suggestions(human)
    assert for_human and not any(label in text for text in for_human), for_human

    # An analyst reads posts but writes none: no post form, so no suggestions.
    context, reader = _fresh_login(browser, live_server, "ana")
    _forbidden(reader, f"{base}/admin/scheduling/post/add/")
    context.close()


# --- Imports show local time honestly ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_statement_import_preview_shows_the_stated_wall_time(page, live_server, people, analyst, private_storage,
                                                             browser, artifacts_dir):
    Creator.objects.filter(pk=people["a"].pk).update(timezone="Europe/Paris")
    headers = ["Date (America/New_York)", "type", "gross", "fee", "net", "currency", "external_id", "fan"]
    content = statement_csv([["2026-03-10 20:15", "tip", "10.00", "2.00", "8.00", "USD", "tz-1", "fan1"]], headers)
    url = f"{live_server.url}/admin/analytics/transaction/import-statement/"

    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(url)
    page.select_option("select[name=creator]", str(people["a"].pk))
    page.select_option("select[name=statement_format]", "generic")
    page.select_option("select[name=platform]", "fanvue")
    page.set_input_files("input[name=file]", {"name": "statement.csv", "mimeType": "text/csv", "buffer": content})
    page.click("[data-testid=preview-import]")
    row = page.locator("[data-testid=import-rows] tr[data-line='2']")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text().strip().startswith("2026-03-10 20:15")
    assert "America/New_York" in page.locator("[data-testid=import-date-header]").inner_text()
    page.screenshot(path=str(artifacts_dir / "journey-import.png"), full_page=True)
    page.click("[data-testid=confirm-import]")
    page.wait_for_load_state()
    assert Transaction.objects.get(external_id="tz-1").occurred_at == datetime(2026, 3, 11, 0, 15, tzinfo=UTC)

    # An analyst reads transactions but imports none.
    context, reader = _fresh_login(browser, live_server, "ana")
    _forbidden(reader, url)
    context.close()


# --- Swagger works offline -----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_api_docs_render_with_the_internet_blocked(page, live_server, people, artifacts_dir):
    local = urlsplit(live_server.url).hostname
    blocked: list[str] = []

    def only_local(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in (local, "localhost", "127.0.0.1"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_local)
    # Signed out, the docs are not shown: the login page is.
    page.goto(f"{live_server.url}/api/docs/")
    assert "/admin/login/" in page.url

    admin_login(page, live_server, "owner", PASSWORD)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30000)
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30000)
    assert "Atelier API" in page.locator(".swagger-ui .info .title").inner_text()
    page.screenshot(path=str(artifacts_dir / "journey-swagger.png"), full_page=False)
    assert blocked == [], blocked
