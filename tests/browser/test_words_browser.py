"""Words, not codes, in headless Chromium: a manager reads why a publication is blocked and what it
costs; the manager's dashboard has no raw app index; the owner finds the system models under System."""

from __future__ import annotations

import pytest

from tests.browser.conftest import admin_login
from tests.compliance.factories import use_private_storage
from tests.scheduling.test_words_admin import blocked_publication

PASSWORD = "correct-horse-battery"
RAW = ("consent_revoked", "approval_stale")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_reads_sentences_and_money(page, live_server, people, artifacts_dir, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    pub = blocked_publication(people)
    admin_login(page, live_server, "alice", PASSWORD)

    page.goto(f"{live_server.url}/admin/scheduling/publication/")
    row = page.locator("#result_list tbody tr").first
    text = row.inner_text()
    assert "Blocked: consent revoked on 3 Dec by Cora" in text
    assert "Held: the post changed after it was approved" in text
    assert "€19.99" in text and "1999" not in text
    # The codes are there for support, in small print, never as the words themselves.
    small = row.locator("code")
    assert {small.nth(i).inner_text() for i in range(small.count())} >= set(RAW)
    assert float(small.first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) < float(
        row.locator("[data-code=consent_revoked]").evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    page.screenshot(path=str(artifacts_dir / "words-publications.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/scheduling/publication/{pub.pk}/change/")
    reasons = page.locator("[data-testid=block-reasons]").inner_text()
    assert "Blocked: consent revoked on 3 Dec by Cora" in reasons
    assert "Blocked by compliance: see why below" in page.content()

    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("[data-testid=creator-table]")
    html = page.content()
    for raw in ("Otp_Static", "Otp_Totp", "Celery Results", "Periodic Tasks", "Axes", "app-django_celery_beat"):
        assert raw not in html, raw
    assert page.locator("[data-testid=system-section]").count() == 0
    page.screenshot(path=str(artifacts_dir / "dashboard-manager.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_finds_system_models_under_system(page, live_server, people, artifacts_dir):
    admin_login(page, live_server, "owner", PASSWORD)
    section = page.locator("[data-testid=system-section]")
    section.locator("summary").click()
    text = section.inner_text()
    for name in ("Periodic tasks", "Task results", "Access attempts", "Static devices"):
        assert name.lower() in text.lower(), name
    assert page.get_by_role("link", name="Periodic tasks").first.is_visible()
    page.screenshot(path=str(artifacts_dir / "dashboard-owner-system.png"), full_page=True)
