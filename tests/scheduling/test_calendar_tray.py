"""The calendar a scheduler works in: platform colours and a legend, caption previews, a "+" per day,
the tray of approved posts dropped onto a day through the gate (all targets or none, twice is once),
and account warnings on the chips; only for creators the user reaches and may schedule."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from content.models import Asset
from core import platforms
from scheduling import calendar as cal
from scheduling import services
from scheduling.models import PlatformAccount, Post, Publication, QueueSlot
from tests.content.factories import add_rendition
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, PublicationFactory

S = Publication.Status
PARIS = ZoneInfo("Europe/Paris")
CALENDAR = "admin:scheduling_calendar"
SCHEDULE = "admin:scheduling_calendar_schedule"
JSON = {"HTTP_ACCEPT": "application/json"}


def in_ten_days() -> date:
    return timezone.now().astimezone(PARIS).date() + timedelta(days=10)


def waiting_post(world, caption: str = "Golden hour set", *, x_caption: str = "") -> Post:
    """A post of A with Fanvue and X targets, submitted and approved by a person: it waits for a day."""
    post = PostFactory(creator=world.creator, caption=caption, asset_ids=[world.asset.pk],
                       targets=[(world.fanvue, ""), (world.x, x_caption)])
    services.submit_post(post)
    verdicts = services.approve_post(post, actor=world.owner)
    assert all(v.passed for v in verdicts.values()), verdicts
    return post


def statuses(post: Post) -> list[str]:
    return list(Publication.objects.filter(post=post).order_by("pk").values_list("status", flat=True))


def drop(client, post: Post, day: date | str, **extra):
    return client.post(reverse(SCHEDULE), {"post": post.pk, "date": str(day), **extra}, **JSON)


# --- Pure parts -----------------------------------------------------------------------------------


def test_every_platform_has_a_colour_and_a_short_glyph():
    for entry in platforms.PLATFORMS.values():
        assert re.fullmatch(r"#[0-9a-f]{6}", entry.colour), entry.key
        assert 1 <= len(entry.glyph) <= 2, entry.key
    colours = [p.colour for p in platforms.publishing_platforms()]
    assert len(set(colours)) == len(colours)  # publishing platforms tell apart at a glance


def test_drop_time_takes_the_hour_then_the_weekdays_first_slot_then_noon():
    thursday = date(2026, 12, 17)
    slots = [(3, time(21, 0)), (3, time(9, 30)), (4, time(8, 0))]
    assert cal.drop_time(thursday, slots, hour=7) == time(7, 0)
    assert cal.drop_time(thursday, slots) == time(9, 30)
    assert cal.drop_time(thursday + timedelta(days=2), slots) == time(12, 0)
    assert cal.planned_from("2026-12-17T12:00") == datetime(2026, 12, 17, 12, 0)
    assert cal.planned_from("tomorrow") is None


@pytest.mark.django_db
def test_a_manual_account_looks_like_the_platform_it_exports_to(world):
    manual = PlatformAccount(creator=world.creator, platform="manual", target_platform="onlyfans", handle="luna_of")
    assert cal.platform_of(manual).key == "onlyfans"
    assert cal.platform_of(world.x).glyph == "X"


# --- The page -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chips_carry_platform_colour_preview_and_account_warning(client, world):
    day = in_ten_days()
    offline = PlatformAccountFactory(creator=world.creator, platform="fanvue", handle="luna_backup",
                                     state=PlatformAccount.State.NOT_CONNECTED)
    PublicationFactory(post=world.post, account=offline, status=S.SCHEDULED,
                       scheduled_at=datetime.combine(day, time(20, 0), tzinfo=PARIS).astimezone(UTC),
                       caption_override="Only on the backup account tonight")
    PublicationFactory(post=world.post, account=world.x, status=S.SCHEDULED,
                       scheduled_at=datetime.combine(day, time(21, 0), tzinfo=PARIS).astimezone(UTC))
    client.force_login(world.alice)
    html = client.get(reverse(CALENDAR), {"date": day.isoformat(), "creator": world.creator.pk}).content.decode()

    assert 'data-testid="calendar-legend"' in html
    assert f'style="background: {platforms.get("fanvue").colour}"' in html and ">X</span>" in html
    assert html.count('data-testid="chip-warning"') == 1  # the not-connected account only
    assert 'data-testid="account-warning"' in html and "is not connected: nothing goes out" in html
    assert "Only on the backup account tonight" in html  # the target's own caption in its preview
    assert 'data-testid="chip-status">Scheduled<' in html


@pytest.mark.django_db
def test_preview_shows_the_first_assets_image_when_it_has_one(client, world, media_dir):
    day = in_ten_days()
    pub = PublicationFactory(post=world.post, account=world.x, status=S.SCHEDULED,
                             scheduled_at=datetime.combine(day, time(9, 0), tzinfo=PARIS).astimezone(UTC))
    client.force_login(world.alice)
    params = {"date": day.isoformat(), "creator": world.creator.pk}
    assert 'data-testid="chip-thumb"' not in client.get(reverse(CALENDAR), params).content.decode()
    add_rendition(world.asset, "poster")
    add_rendition(world.asset, "thumb")
    html = client.get(reverse(CALENDAR), params).content.decode()
    url = reverse("admin:content_asset_rendition_file", args=[world.asset.pk, "thumb"])
    assert f'src="{url}"' in html and f"cal-pop-{pub.pk}" in html
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_plus_on_a_day_opens_the_post_form_for_the_creator_and_day(client, world):
    client.force_login(world.alice)
    day = in_ten_days()
    response = client.get(reverse(CALENDAR), {"date": day.isoformat(), "creator": world.creator.pk})
    add = next(c["add_url"] for week in response.context["grid"] for c in week if c["day"] == day)
    assert f"creator={world.creator.pk}" in add and f"planned={day:%Y-%m-%d}T12%3A00" in add
    form = client.get(add)
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["creator"] == str(world.creator.pk)
    assert f"Planned for {day:%a %d %b %Y}, 12:00" in form.content.decode()
    # Someone who may not add posts gets no "+".
    client.force_login(world.bob)
    html = client.get(reverse(CALENDAR), {"date": day.isoformat()}).content.decode()
    assert ('data-testid="calendar-add"' in html) == world.bob.has_perm("scheduling.add_post")


@pytest.mark.django_db
def test_tray_lists_waiting_posts_only_in_reach_and_drag_only_where_allowed(client, world):
    post = waiting_post(world)
    client.force_login(world.alice)
    tray = client.get(reverse(CALENDAR)).context["tray"]
    assert [(t.post.pk, t.schedulable, len(t.targets)) for t in tray] == [(post.pk, True, 2)]
    client.force_login(world.bob)  # editor: sees it waiting, cannot place it
    assert [(t.post.pk, t.schedulable) for t in client.get(reverse(CALENDAR)).context["tray"]] == [(post.pk, False)]
    client.force_login(world.charlie)  # manager of B only
    html = client.get(reverse(CALENDAR)).content.decode()
    assert "Golden hour set" not in html and 'data-testid="calendar-tray"' not in html


# --- Dropping -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_drop_schedules_every_waiting_target_at_the_first_slot_or_noon(client, world):
    post = waiting_post(world)
    day = in_ten_days()
    client.force_login(world.alice)
    response = drop(client, post, day)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and not body["already"] and len(body["chips"]) == 2
    assert 'data-testid="calendar-chip"' in body["chips"][0]
    noon = datetime.combine(day, time(12, 0), tzinfo=PARIS)
    assert set(Publication.objects.filter(post=post).values_list("status", "scheduled_at")) == {(S.SCHEDULED, noon)}

    other = waiting_post(world, "Second set")
    QueueSlot.objects.create(account=world.x, weekday=day.weekday(), time=time(18, 45))
    assert drop(client, other, day).json()["label"].endswith("18:45 CET")

    in_week_view = waiting_post(world, "Third set")  # dropped on a week view's hour cell
    assert drop(client, in_week_view, day, hour="7").json()["hour"] == 7
    assert set(Publication.objects.filter(post=in_week_view).values_list("scheduled_at", flat=True)) == {
        datetime.combine(day, time(7, 0), tzinfo=PARIS)}


@pytest.mark.django_db
def test_dropping_twice_is_once_and_elsewhere_is_refused(client, world):
    post = waiting_post(world)
    day = in_ten_days()
    client.force_login(world.alice)
    assert drop(client, post, day, time="20:15").json()["already"] is False
    again = drop(client, post, day, time="20:15")
    assert again.status_code == 200 and again.json()["already"] is True and again.json()["chips"] == []
    elsewhere = drop(client, post, day + timedelta(days=1))
    assert elsewhere.status_code == 409 and "already scheduled" in elsewhere.json()["error"]
    at = datetime.combine(day, time(20, 15), tzinfo=PARIS)
    assert set(Publication.objects.filter(post=post).values_list("scheduled_at", flat=True)) == {at}


@pytest.mark.django_db
def test_gate_refusal_schedules_nothing_and_says_why(client, world):
    post = waiting_post(world)
    Asset.objects.filter(pk=world.asset.pk).update(status=Asset.Status.IN_REVIEW)
    client.force_login(world.alice)
    response = drop(client, post, in_ten_days())
    assert response.status_code == 409
    body = response.json()
    assert "nothing was scheduled" in body["error"]
    assert "approval_missing" in {r["code"] for r in body["reasons"]}
    assert all(r["message"] for r in body["reasons"])
    assert statuses(post) == [S.APPROVED, S.APPROVED]


@pytest.mark.django_db
def test_one_refused_target_keeps_every_target_waiting(client, world):
    post = waiting_post(world)
    PlatformAccount.objects.filter(pk=world.x.pk).update(max_rating="sfw")  # X account: SFW only
    client.force_login(world.alice)
    response = drop(client, post, in_ten_days())
    assert response.status_code == 409
    assert {r["code"] for r in response.json()["reasons"]} == {"rating_not_accepted"}
    assert statuses(post) == [S.APPROVED, S.APPROVED]  # Fanvue was fine, and still waits


@pytest.mark.django_db
def test_drop_needs_reach_and_schedule_permission(client, world):
    post = waiting_post(world)
    day = in_ten_days()
    client.force_login(world.charlie)
    assert drop(client, post, day).status_code == 404
    client.force_login(world.bob)
    assert drop(client, post, day).status_code == 403
    client.logout()
    assert drop(client, post, day).status_code == 302  # to the login page
    assert statuses(post) == [S.APPROVED, S.APPROVED]


@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"date": "someday"}, {"date": ""}, {"time": "25:99"}, {"time": "noon"}, {"hour": "30"}, {"hour": "x"},
    {"date": "2027-03-28", "time": "02:30"},  # the clocks skip it in Paris
])
def test_bad_input_is_400_and_writes_nothing(client, world, params):
    post = waiting_post(world)
    client.force_login(world.alice)
    response = client.post(reverse(SCHEDULE), {"post": post.pk, "date": in_ten_days().isoformat(), **params}, **JSON)
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    assert statuses(post) == [S.APPROVED, S.APPROVED]


@pytest.mark.django_db
def test_unknown_or_missing_post_is_400_or_404(client, world):
    client.force_login(world.alice)
    assert client.post(reverse(SCHEDULE), {"post": "abc", "date": "2027-01-05"}, **JSON).status_code == 400
    assert client.post(reverse(SCHEDULE), {"date": "2027-01-05"}, **JSON).status_code == 400
    assert client.post(reverse(SCHEDULE), {"post": 999999, "date": "2027-01-05"}, **JSON).status_code == 404


@pytest.mark.django_db
def test_without_script_the_schedule_link_opens_a_form_that_schedules(client, world):
    post = waiting_post(world)
    day = in_ten_days()
    client.force_login(world.alice)
    link = client.get(reverse(CALENDAR)).context["tray"][0].schedule_url
    form = client.get(link)
    assert form.status_code == 200 and 'data-testid="schedule-submit"' in form.content.decode()

    Asset.objects.filter(pk=world.asset.pk).update(status=Asset.Status.IN_REVIEW)
    refused = client.post(reverse(SCHEDULE), {"post": post.pk, "date": day.isoformat(), "time": "19:00"})
    assert refused.status_code == 409 and 'data-testid="schedule-refusal"' in refused.content.decode()
    Asset.objects.filter(pk=world.asset.pk).update(status=Asset.Status.APPROVED)

    done = client.post(reverse(SCHEDULE), {"post": post.pk, "date": day.isoformat(), "time": "19:00"})
    assert done.status_code == 302 and done["Location"].startswith(reverse(CALENDAR))
    assert statuses(post) == [S.SCHEDULED, S.SCHEDULED]
    assert client.get(link).status_code == 200  # nothing left waiting: the form says so
