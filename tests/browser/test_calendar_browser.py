"""A manager drags a scheduled publication to another day on the calendar; the row follows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduling import services
from tests.browser.conftest import admin_login
from tests.scheduling.factories import approved_publication

PASSWORD = "correct-horse-battery"
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_drags_a_chip_to_another_day(page, live_server, world, artifacts_dir):
    pub = approved_publication(world.post, world.fanvue)
    outcome = services.schedule(pub, at=datetime(2026, 12, 10, 20, 30, tzinfo=PARIS))
    assert outcome.verdict.passed, outcome.verdict.reasons

    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/admin/scheduling/publication/calendar/?date=2026-12-01&creator={world.creator.pk}")
    chip = page.locator(f"[data-testid=calendar-chip][data-publication='{pub.pk}']")
    target = page.locator("[data-testid=calendar-day][data-date='2026-12-17']")
    assert chip.get_attribute("draggable") == "true"
    chip.drag_to(target)
    page.wait_for_selector("#calendar-message.cal-message--ok")
    assert target.locator(f"[data-publication='{pub.pk}']").count() == 1
    page.screenshot(path=str(artifacts_dir / "calendar-drag.png"), full_page=True)

    pub.refresh_from_db()
    assert pub.scheduled_at == datetime(2026, 12, 17, 19, 30, tzinfo=UTC)  # 20:30 Paris, same time of day
