"""The analytics dashboard in headless Chromium: charts draw, and the screenshot goes in the closing note."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.analytics import factories as f
from tests.browser.conftest import admin_login

PASSWORD = "correct-horse-battery"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_renders_charts_for_alice(page, live_server, people, artifacts_dir):
    a, b = people["a"], people["b"]
    yesterday = timezone.localdate() - timedelta(days=1)
    for i in range(30):
        wave = 1 + 0.4 * math.sin(i / 4)
        f.rollup(a, yesterday - timedelta(days=i), tips=int(8000 * wave), subs=int(15000 * wave),
                 refunds=-500 if i % 9 == 0 else 0, new=3 + i % 4, churned=i % 3, posts=1 + i % 2)
        f.rollup(a, yesterday - timedelta(days=i), platform="onlyfans", subs=int(12000 / wave), new=2)
        f.rollup(b, yesterday - timedelta(days=i), tips=990000)
    fanvue, x = f.account(a), f.account(a, "x", state="needs_reauth")
    for n, caption in enumerate(["Beach set teaser", "Q&A night", "New lingerie drop", "Behind the scenes"]):
        f.snapshot(f.publication(fanvue, caption=caption), likes=400 - n * 80, views=5000 - n * 900)
    f.publication(x, caption="Thread about the launch", status="failed")
    for day in range(1, 6):
        f.publication(fanvue, caption=f"Scheduled drop #{day}", status="scheduled",
                      scheduled_at=timezone.now() + timedelta(days=day, hours=2))
    for weekday in range(7):
        for hour in range(24):
            score = max(0.0, math.sin((hour - 8) / 24 * math.pi * 2)) * (1.3 if weekday >= 4 else 1)
            if score:
                f.posting_hour(fanvue, weekday, hour, publications=3, engagement=int(300 * score))

    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/admin/analytics/dailyrollup/dashboard/?creator={a.pk}&days=30")
    page.wait_for_selector("[data-testid=analytics-board]")
    page.wait_for_function("() => [...document.querySelectorAll('canvas.chart')].every(c => c.width > 0)")
    assert page.locator("canvas.chart").count() == 3
    assert "Alpha" in page.locator("[data-testid=creator-picker]").inner_text()
    assert "Beta" not in page.content()
    assert "9,900.00" not in page.content()
    assert page.locator("[data-testid=top-posts]").inner_text().count("Beach set teaser") == 1
    page.screenshot(path=str(artifacts_dir / "analytics-dashboard.png"), full_page=True)
