"""A manager plans a month in Chromium: platform colours and the legend, a caption on hover, an approved
post dragged from the tray onto a day, the warning on a chip whose account is not connected; the same
on a 390 px phone, where nothing scrolls sideways and the tray's Schedule… link works from the keyboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core import platforms
from scheduling import services
from scheduling.models import PlatformAccount, Post, Publication
from tests.browser.conftest import admin_login
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, PublicationFactory

PASSWORD = "correct-horse-battery"
PARIS = ZoneInfo("Europe/Paris")
S = Publication.Status
PHONE = {"width": 390, "height": 844}


def hex_to_rgb(colour: str) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def plan(world) -> dict:
    """A month of A with a scheduled X post, a post on a not-connected account, and one approved post
    waiting in the tray; all on days of one future month."""
    first = (timezone.now().astimezone(PARIS).date() + timedelta(days=40)).replace(day=1)
    chip_day, drop_day = first + timedelta(days=9), first + timedelta(days=11)
    at = datetime.combine(chip_day, time(21, 0), tzinfo=PARIS).astimezone(UTC)
    on_x = PublicationFactory(post=world.post, account=world.x, status=S.SCHEDULED, scheduled_at=at,
                              caption_override="Tonight at nine: the full golden-hour set, only on Fanvue")
    offline = PlatformAccountFactory(creator=world.creator, platform="fanvue", handle="luna_backup",
                                     state=PlatformAccount.State.NOT_CONNECTED)
    warned = PublicationFactory(post=world.post, account=offline, status=S.SCHEDULED,
                                scheduled_at=at - timedelta(hours=2))
    waiting = PostFactory(creator=world.creator, caption="Rooftop set, drop me on a day", asset_ids=[world.asset.pk],
                          targets=[(world.fanvue, ""), (world.x, "")])
    services.submit_post(waiting)
    assert all(v.passed for v in services.approve_post(waiting, actor=world.owner).values())
    # A second one stays in the tray for the screenshot.
    later = PostFactory(creator=world.creator, caption="Studio set, for later", asset_ids=[world.asset.pk],
                        targets=[(world.fanvue, "")])
    services.submit_post(later)
    services.approve_post(later, actor=world.owner)
    return {"first": first, "chip_day": chip_day, "drop_day": drop_day, "on_x": on_x, "warned": warned,
            "waiting": waiting}


def open_calendar(page, live_server, world, first: date) -> None:
    admin_login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/admin/scheduling/publication/calendar/?date={first:%Y-%m-%d}&creator={world.creator.pk}")


def check_colours_preview_and_warning(page, facts: dict) -> None:
    legend = page.locator("[data-testid=calendar-legend]")
    assert legend.is_visible()
    assert "Fanvue" in legend.inner_text() and "X" in legend.inner_text()
    chip = page.locator(f"[data-testid=calendar-chip][data-publication='{facts['on_x'].pk}']")
    glyph = chip.locator("[data-testid=chip-glyph]")
    assert glyph.inner_text() == "X"
    assert glyph.evaluate("e => getComputedStyle(e).backgroundColor") == hex_to_rgb(platforms.get("x").colour)

    preview = page.locator(f"#cal-pop-{facts['on_x'].pk}")
    assert not preview.is_visible()
    chip.hover()
    preview.wait_for(state="visible")
    assert "the full golden-hour set" in preview.inner_text() and "Scheduled" in preview.inner_text()

    warned = page.locator(f"[data-testid=calendar-chip][data-publication='{facts['warned'].pk}']")
    assert warned.locator("[data-testid=chip-warning]").is_visible()
    warned.hover()
    assert "not connected" in page.locator(f"#cal-pop-{facts['warned'].pk}").inner_text()
    page.mouse.move(0, 0)


def drag_from_tray(page, facts: dict) -> None:
    post: Post = facts["waiting"]
    item = page.locator(f"[data-testid=tray-item][data-post='{post.pk}']")
    target = page.locator(f"[data-testid=calendar-day][data-date='{facts['drop_day']:%Y-%m-%d}']")
    target.scroll_into_view_if_needed()  # on a phone the tray stays in sight (sticky) while the day scrolls up
    item.drag_to(target)
    page.wait_for_selector("#calendar-message.cal-message--ok")
    assert target.locator("[data-testid=calendar-chip]").count() == 2
    assert item.count() == 0
    assert page.locator("[data-role=tray-count]").inner_text() == "1"
    noon = datetime.combine(facts["drop_day"], time(12, 0), tzinfo=PARIS)
    assert set(Publication.objects.filter(post=post).values_list("status", "scheduled_at")) == {(S.SCHEDULED, noon)}


def no_sideways_scroll(page) -> int:
    width = page.evaluate("document.documentElement.scrollWidth")
    # On failure, name what sticks out.
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .slice(0, 8).map(e => e.tagName + '.' + String(e.className).slice(0, 60))""")
    assert width <= PHONE["width"], (width, wide)
    return width


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_plans_the_month_on_a_desktop(page, live_server, world, artifacts_dir):
    facts = plan(world)
    open_calendar(page, live_server, world, facts["first"])
    check_colours_preview_and_warning(page, facts)
    drag_from_tray(page, facts)
    page.locator(f"[data-testid=calendar-chip][data-publication='{facts['on_x'].pk}']").hover()
    page.screenshot(path=str(artifacts_dir / "calendar.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_plans_the_month_on_a_phone(browser, live_server, world, artifacts_dir):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        facts = plan(world)
        open_calendar(page, live_server, world, facts["first"])
        no_sideways_scroll(page)
        check_colours_preview_and_warning(page, facts)
        no_sideways_scroll(page)
        drag_from_tray(page, facts)
        no_sideways_scroll(page)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts_dir / "calendar-390.png"), full_page=True)

        # Without dragging: the tray's Schedule… link, from the keyboard, for another waiting post.
        other = PostFactory(creator=world.creator, caption="Beach set, by keyboard", asset_ids=[world.asset.pk],
                            targets=[(world.fanvue, "")])
        services.submit_post(other)
        services.approve_post(other, actor=world.owner)
        page.reload()
        link = page.locator(f"[data-testid=tray-item][data-post='{other.pk}'] [data-testid=tray-schedule]")
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=calendar-schedule]")
        no_sideways_scroll(page)
        page.fill("input[name=date]", f"{facts['drop_day']:%Y-%m-%d}")
        page.fill("input[name=time]", "18:30")
        page.locator("[data-testid=schedule-submit]").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=calendar-month]")
        pub = Publication.objects.get(post=other)
        assert pub.status == S.SCHEDULED
        assert pub.scheduled_at == datetime.combine(facts["drop_day"], time(18, 30), tzinfo=PARIS)

        # The week view stacks too: only hours with something in them, each labelled with its day.
        page.goto(f"{live_server.url}/admin/scheduling/publication/calendar/?view=week"
                  f"&date={facts['chip_day']:%Y-%m-%d}&creator={world.creator.pk}")
        no_sideways_scroll(page)
        assert page.locator("[data-testid=calendar-slot]:visible").count() == 2  # 19:00 and 21:00
    finally:
        context.close()
