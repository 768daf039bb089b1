from __future__ import annotations

import pytest

from tests.browser.conftest import admin_login

PASSWORD = "correct-horse-battery"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_logs_in_and_sees_dashboard(page, live_server, people, artifacts_dir):
    admin_login(page, live_server, "owner", PASSWORD)
    assert page.locator("[data-testid=creator-total]").inner_text().strip() == "2"
    table = page.locator("[data-testid=creator-table]").inner_text()
    assert "Alpha" in table and "Beta" in table
    assert page.get_by_text("Creators & team").first.is_visible()
    page.screenshot(path=str(artifacts_dir / "admin-dashboard.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_dashboard_shows_only_their_creators(page, live_server, people, artifacts_dir):
    admin_login(page, live_server, "charlie", PASSWORD)
    table = page.locator("[data-testid=creator-table]").inner_text()
    assert "Beta" in table and "Alpha" not in table
    page.goto(f"{live_server.url}/admin/accounts/creator/{people['a'].pk}/change/")
    assert "Alpha" not in page.content()
    page.screenshot(path=str(artifacts_dir / "admin-dashboard-charlie.png"), full_page=True)
