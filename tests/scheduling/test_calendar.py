"""The calendar shows each publication on its creator's local day and hour (DST included), never
another creator's rows; a drag reschedules through the gate; the ICS feed speaks only for a user
who still reaches the creator."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from icalendar import Calendar

from accounts import services as accounts_services
from accounts.models import Membership
from content.models import Asset
from scheduling import calendar as cal
from scheduling import feeds, services, views_calendar
from scheduling.models import PlatformAccount, Post, Publication, QueueSlot
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory, approved_publication

S = Publication.Status
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
CALENDAR = "admin:scheduling_calendar"
MOVE = "admin:scheduling_calendar_move"
CHANGELIST = "admin:scheduling_publication_changelist"


def scheduled(post: Post, account: PlatformAccount, at: datetime, status: str = S.SCHEDULED) -> Publication:
    """A row already on the calendar (display tests do not need the gate)."""
    return PublicationFactory(post=post, account=account, status=status, scheduled_at=at.astimezone(UTC))


@pytest.fixture
def new_york(world):
    b = world.creator_b
    b.timezone = "America/New_York"
    b.save(update_fields=["timezone"])
    post = Post.objects.create(creator=b, caption="Beta's morning post")
    account = PlatformAccountFactory(creator=b, platform="x", handle="beta_x")
    return {"post": post, "account": account}


def page_rows(client, **params) -> str:
    response = client.get(reverse(CALENDAR), params)
    assert response.status_code == 200
    return response.content.decode()


# --- Ranges and grouping --------------------------------------------------------------------------


def test_month_grid_is_whole_weeks():
    days = cal.month_days(date(2026, 10, 15))
    assert days[0] == date(2026, 9, 28) and days[-1] == date(2026, 11, 1) and len(days) % 7 == 0
    assert cal.step(cal.MONTH, date(2026, 1, 31), 1) == date(2026, 2, 1)
    assert cal.step(cal.MONTH, date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert cal.week_days(date(2026, 10, 25))[0] == date(2026, 10, 19)


def test_utc_bounds_follow_dst_in_each_zone():
    # Paris leaves summer time on 25 Oct 2026: that local day lasts 25 hours.
    start, end = cal.utc_bounds(date(2026, 10, 25), date(2026, 10, 25), ["Europe/Paris"])
    assert (start, end) == (datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    # Two zones shown together: the span covers both local days.
    start, end = cal.utc_bounds(date(2026, 11, 1), date(2026, 11, 1), ["Europe/Paris", "America/New_York"])
    assert start == datetime(2026, 10, 31, 23, tzinfo=UTC) and end == datetime(2026, 11, 2, 5, tzinfo=UTC)


def test_resolve_local_refuses_a_skipped_time():
    with pytest.raises(ValueError, match="does not exist"):
        cal.resolve_local("Europe/Paris", date(2026, 3, 29), time(2, 30))
    assert cal.resolve_local("Europe/Paris", date(2026, 3, 29), time(3, 30)).utcoffset() == timedelta(hours=2)


@pytest.mark.django_db
def test_nine_am_lands_on_its_local_day_and_hour_across_dst(world, new_york):
    paris_pub = scheduled(world.post, world.fanvue, datetime(2026, 10, 25, 9, 0, tzinfo=PARIS))
    ny_pub = scheduled(new_york["post"], new_york["account"], datetime(2026, 11, 1, 9, 0, tzinfo=NEW_YORK))
    assert paris_pub.scheduled_at == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # CET, after the change
    assert ny_pub.scheduled_at == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # EST, after the change

    for pub, day, zones in [(paris_pub, date(2026, 10, 25), ["Europe/Paris"]),
                            (ny_pub, date(2026, 11, 1), ["America/New_York"])]:
        days = cal.week_days(day)
        start, end = cal.utc_bounds(days[0], days[-1], zones)
        rows = list(cal.calendar_range(Publication.objects.filter(pk=pub.pk), start, end,
                                       per_cell=3, cell=cal.HOUR_CELL))
        cells = cal.group_cells(rows, days, cell=cal.HOUR_CELL, per_cell=3)
        assert list(cells) == [(day, 9)]
        assert cells[(day, 9)].items[0].local.hour == 9

    # The following week (starting the Monday after) does not show it.
    days = cal.week_days(date(2026, 10, 26))
    start, end = cal.utc_bounds(days[0], days[-1], ["Europe/Paris"])
    assert not cal.calendar_range(Publication.objects.filter(pk=paris_pub.pk), start, end).exists()


@pytest.mark.django_db
def test_page_shows_each_creator_in_its_own_zone_labelled(client, world, new_york):
    scheduled(world.post, world.fanvue, datetime(2026, 10, 25, 9, 0, tzinfo=PARIS))
    scheduled(new_york["post"], new_york["account"], datetime(2026, 11, 1, 9, 0, tzinfo=NEW_YORK))
    client.force_login(world.owner)
    html = page_rows(client, view="week", date="2026-10-25")
    assert "09:00 CET" in html and "Alpha" in html
    html = page_rows(client, view="week", date="2026-11-01")
    assert "09:00 EST" in html and "Beta" in html
    # One creator shown: its times, without the zone label clutter.
    html = page_rows(client, view="month", date="2026-10-01", creator=world.creator.pk)
    assert "New set tonight" in html and "Beta&#x27;s" not in html
    assert 'data-role="time">09:00</span>' in html


@pytest.mark.django_db
def test_busy_day_is_capped_with_a_link_to_the_changelist(client, world):
    for minute in range(6):
        scheduled(world.post, world.fanvue, datetime(2026, 12, 3, 10, minute, tzinfo=PARIS))
    client.force_login(world.alice)
    response = client.get(reverse(CALENDAR), {"date": "2026-12-01", "creator": world.creator.pk})
    html = response.content.decode()
    assert html.count('data-testid="calendar-chip"') == views_calendar.CHIPS_PER_DAY
    assert "+2 more" in html
    more = response.context["grid"][0][3]["more_url"]
    listed = client.get(more)
    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 6


# --- Tenancy --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_other_creators_publications_never_shown(client, world, new_york):
    scheduled(world.post, world.fanvue, datetime(2026, 12, 3, 10, 0, tzinfo=PARIS))
    scheduled(new_york["post"], new_york["account"], datetime(2026, 12, 3, 10, 0, tzinfo=NEW_YORK))
    client.force_login(world.charlie)
    html = page_rows(client, date="2026-12-01")
    assert "Beta&#x27;s morning post" in html and "New set tonight" not in html and "luna" not in html
    assert client.get(reverse(CALENDAR), {"creator": world.creator.pk}).status_code == 404
    assert client.get(reverse(CALENDAR), {"account": world.fanvue.pk}).status_code == 404
    client.force_login(world.bob)  # editor of A: sees A, cannot drag
    html = page_rows(client, date="2026-12-01")
    assert "New set tonight" in html and "Beta&#x27;s" not in html and 'draggable="true"' not in html


# --- Moving ---------------------------------------------------------------------------------------


def schedule_for_real(world, at: datetime) -> Publication:
    pub = approved_publication(world.post, world.fanvue)
    outcome = services.schedule(pub, at=at)
    assert outcome.verdict.passed, outcome.verdict.reasons
    return outcome.publication


@pytest.mark.django_db
def test_move_keeps_local_time_in_month_and_takes_hour_in_week(client, world):
    pub = schedule_for_real(world, datetime(2026, 12, 10, 20, 30, tzinfo=PARIS))
    client.force_login(world.alice)
    response = client.post(reverse(MOVE), {"publication": pub.pk, "date": "2026-12-12"})
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "20:30 CET"
    pub.refresh_from_db()
    assert pub.scheduled_at == datetime(2026, 12, 12, 19, 30, tzinfo=UTC)
    response = client.post(reverse(MOVE), {"publication": pub.pk, "date": "2026-12-14", "hour": "8"})
    assert response.json()["ok"]
    pub.refresh_from_db()
    assert pub.scheduled_at == datetime(2026, 12, 14, 7, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_move_refused_by_gate_returns_reasons_and_leaves_row(client, world):
    pub = schedule_for_real(world, datetime(2026, 12, 10, 20, 0, tzinfo=PARIS))
    Asset.objects.filter(pk=world.asset.pk).update(status=Asset.Status.IN_REVIEW)
    client.force_login(world.alice)
    response = client.post(reverse(MOVE), {"publication": pub.pk, "date": "2026-12-12"})
    assert response.status_code == 409
    assert "approval_missing" in {r["code"] for r in response.json()["reasons"]}
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED and pub.scheduled_at == datetime(2026, 12, 10, 19, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_move_outside_reach_is_404_and_needs_change_permission(client, world):
    pub = schedule_for_real(world, datetime(2026, 12, 10, 20, 0, tzinfo=PARIS))
    client.force_login(world.charlie)
    assert client.post(reverse(MOVE), {"publication": pub.pk, "date": "2026-12-12"}).status_code == 404
    client.force_login(world.bob)
    assert client.post(reverse(MOVE), {"publication": pub.pk, "date": "2026-12-12"}).status_code == 403
    client.force_login(world.alice)
    assert client.get(reverse(MOVE)).status_code == 405
    assert client.post(reverse(MOVE), {"publication": pub.pk, "date": "someday"}).status_code == 400
    pub.refresh_from_db()
    assert pub.scheduled_at == datetime(2026, 12, 10, 19, 0, tzinfo=UTC)


# --- Admin actions --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reschedule_action_reads_the_creators_time(client, world):
    pub = approved_publication(world.post, world.fanvue)
    client.force_login(world.alice)
    form = client.post(reverse(CHANGELIST), {"action": "reschedule_selected", "_selected_action": [pub.pk]})
    assert form.status_code == 200 and 'data-testid="action-form"' in form.content.decode()
    response = client.post(reverse(CHANGELIST), {"action": "reschedule_selected", "_selected_action": [pub.pk],
                                                 "apply": "1", "day": "2026-12-24", "at": "21:15"})
    assert response.status_code == 302
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED and pub.scheduled_at == datetime(2026, 12, 24, 20, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_add_to_queue_action_reports_each_row(client, world):
    QueueSlot.objects.create(account=world.fanvue, weekday=2, time=time(18, 0))
    queued = approved_publication(world.post, world.fanvue)
    no_slots = approved_publication(world.post, world.x)
    client.force_login(world.alice)
    response = client.post(reverse(CHANGELIST), {"action": "add_selected_to_queue",
                                                 "_selected_action": [queued.pk, no_slots.pk]}, follow=True)
    texts = [str(m) for m in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]]
    assert any("1 publication added" in t for t in texts), texts
    assert any(f"#{no_slots.pk}" in t and "no free queue slot" in t for t in texts), texts
    queued.refresh_from_db()
    no_slots.refresh_from_db()
    local = queued.scheduled_at.astimezone(PARIS)
    assert queued.status == S.SCHEDULED and local.weekday() == 2 and local.time() == time(18, 0)
    assert no_slots.status == S.APPROVED


@pytest.mark.django_db
def test_changelist_shows_local_time_and_block_codes(client, world):
    pub = scheduled(world.post, world.fanvue, datetime(2026, 12, 3, 10, 0, tzinfo=PARIS), status=S.BLOCKED)
    Publication.objects.filter(pk=pub.pk).update(block_reasons=[{"code": "consent_revoked", "message": "Gone"}])
    client.force_login(world.alice)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "2026-12-03 10:00" in html and "CET" in html and "consent_revoked" in html


@pytest.mark.django_db
def test_free_slots_preview_for_the_selected_account(client, world):
    QueueSlot.objects.create(account=world.fanvue, weekday=0, time=time(9, 0))
    QueueSlot.objects.create(account=world.fanvue, weekday=3, time=time(21, 0))
    client.force_login(world.alice)
    response = client.get(reverse(CALENDAR), {"account": world.fanvue.pk})
    slots = response.context["free_slots"]
    assert len(slots) == 5 and slots == sorted(slots)
    assert {(s.weekday(), s.hour) for s in slots} <= {(0, 9), (3, 21)}
    assert 'data-testid="calendar-free-slots"' in response.content.decode()


# --- Speed ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_calendar_page_query_count_is_bounded(client, world, new_york, django_assert_max_num_queries):
    """Bounded whatever the rows: the grid, the chips, the accounts, the free slots, the feed key, the
    tray, the chips' preview images and the unread count on the bell."""
    for day in range(1, 29):
        for hour in (9, 18):
            scheduled(world.post, world.fanvue, datetime(2026, 12, day, hour, tzinfo=PARIS))
            scheduled(new_york["post"], new_york["account"], datetime(2026, 12, day, hour, tzinfo=NEW_YORK))
    QueueSlot.objects.create(account=world.fanvue, weekday=0, time=time(9, 0))
    client.force_login(world.alice)
    client.get(reverse(CALENDAR))  # warm the session and the sidebar caches a real user has
    with django_assert_max_num_queries(15):
        assert client.get(reverse(CALENDAR), {"date": "2026-12-01"}).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse(CALENDAR), {"date": "2026-12-01", "view": "week"}).status_code == 200
    client.force_login(world.owner)
    with django_assert_max_num_queries(15):
        assert client.get(reverse(CALENDAR), {"date": "2026-12-01"}).status_code == 200


# --- ICS feed -------------------------------------------------------------------------------------


def feed_path(user, creator_id: int, token: str | None = None) -> str:
    return reverse("scheduling_calendar_feed", args=[creator_id, token or feeds.feed_token(user, creator_id)])


@pytest.mark.django_db
def test_ics_feed_parses_with_stable_uids_in_utc(client, world, settings):
    soon = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=3)
    pub = scheduled(world.post, world.fanvue, soon)
    scheduled(world.post, world.fanvue, soon + timedelta(days=400))  # outside the window
    response = client.get(feed_path(world.alice, world.creator.pk))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    parsed = Calendar.from_ical(response.content)
    events = parsed.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["UID"]) == feeds.event_uid(pub.pk)
    assert event.decoded("DTSTART") == soon and event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert str(event["SUMMARY"]) == "[fanvue] New set tonight (Scheduled)"
    assert str(event["URL"]).endswith(reverse("admin:scheduling_publication_change", args=[pub.pk]))
    assert "Jeanne" not in response.content.decode()  # no performer data leaves


@pytest.mark.django_db
def test_ics_feed_refuses_forged_and_revoked_tokens(client, world):
    alice, a = world.alice, world.creator
    token = feeds.feed_token(alice, a.pk)
    assert client.get(feed_path(alice, a.pk, token)).status_code == 200
    assert client.get(feed_path(alice, a.pk, token[:-2] + "xx")).status_code == 404
    assert client.get(feed_path(alice, world.creator_b.pk, token)).status_code == 404  # another creator
    assert client.get(feed_path(world.charlie, a.pk)).status_code == 404  # never reached A
    accounts_services.remove_membership(Membership.objects.get(user=alice, creator=a))
    assert client.get(feed_path(alice, a.pk, token)).status_code == 404
    bob_token = feeds.feed_token(world.bob, a.pk)
    world.bob.set_password("another-horse-battery")
    world.bob.save()
    assert client.get(feed_path(world.bob, a.pk, bob_token)).status_code == 404


@pytest.mark.django_db
def test_subscribe_links_only_for_creators_in_reach(client, world):
    client.force_login(world.alice)
    response = client.get(reverse(CALENDAR))
    links = response.context["subscriptions"]
    assert [s["creator"].pk for s in links] == [world.creator.pk]
    assert client.get(links[0]["url"]).status_code == 200
