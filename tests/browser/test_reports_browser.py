"""Reports in headless Chromium: the owner subscribes a manager in the admin; the manager previews a
creator's report for a period and downloads the CSV the email would carry."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from analytics.models import ReportSubscription
from tests.analytics import factories as f
from tests.browser.conftest import admin_login

PASSWORD = "correct-horse-battery"


def _pick(page, field: str, text: str) -> None:
    page.locator(f".field-{field} .select2-selection").first.click()
    page.locator(".select2-search__field").fill(text)
    page.locator(".select2-results__option", has_text=text).first.click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_subscribes_and_manager_previews_and_downloads(page, live_server, people, artifacts_dir, browser):
    a, b = people["a"], people["b"]
    f.rollup(a, date(2026, 11, 9), tips=1000, new=3, churned=1, posts=2)
    f.rollup(a, date(2026, 11, 15), tips=250, subs=999, refunds=-100, new=1)
    f.rollup(a, date(2026, 11, 12), platform="x", subs=500, new=2)
    f.rollup(b, date(2026, 11, 10), tips=424242, new=9)

    # The owner subscribes alice to Alpha's weekly CSV.
    admin_login(page, live_server, "owner", PASSWORD)
    page.goto(f"{live_server.url}/admin/analytics/reportsubscription/add/")
    assert "Leave empty for an agency-wide report" in page.content()
    _pick(page, "user", "alice")
    _pick(page, "creator", "Alpha")
    page.select_option("select[name=period]", "weekly")
    page.select_option("select[name=format]", "csv")
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/analytics/reportsubscription/")
    sub = ReportSubscription.objects.get()
    assert (sub.user, sub.creator, sub.period, sub.format) == (people["alice"], a, "weekly", "csv")

    # alice, a manager of Alpha only, previews Alpha's report for a week and downloads the CSV.
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    manager = context.new_page()
    manager.set_default_timeout(15000)
    admin_login(manager, live_server, "alice", PASSWORD)
    manager.goto(f"{live_server.url}/admin/analytics/reportsubscription/")
    manager.get_by_text("Reports on demand").first.click()
    manager.wait_for_selector("[data-testid=report-form]")
    options = manager.locator("select[name=creator] option").all_inner_texts()
    assert "Alpha" in options and "Beta" not in options
    manager.select_option("select[name=creator]", str(a.pk))
    manager.select_option("select[name=preset]", "")
    manager.fill("input[name=start]", "2026-11-09")
    manager.fill("input[name=end]", "2026-11-15")
    manager.click("[data-testid=report-show]")
    manager.wait_for_selector("[data-testid=report-preview]")
    table = manager.locator("[data-testid=report-table]").inner_text()
    assert "Fanvue" in table and "26.49" in table and "Beta" not in table
    manager.screenshot(path=str(artifacts_dir / "report-preview.png"), full_page=True)

    with manager.expect_download() as info:
        manager.click("[data-testid=download-csv]")
    download = info.value
    assert download.suggested_filename == "atelier-report-alpha-2026-11-09-2026-11-15.csv"
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["creator", "platform", "currency"] and rows[-1][0] == "Total"
    assert dict(zip(rows[0], rows[-1], strict=True))["net"] == "26.49"

    # Beta is out of alice's reach: not found, like a creator that does not exist.
    response = manager.goto(f"{live_server.url}/admin/analytics/reportsubscription/on-demand/"
                            f"?creator={b.pk}&start=2026-11-09&end=2026-11-15")
    assert response is not None and response.status == 404
    context.close()
