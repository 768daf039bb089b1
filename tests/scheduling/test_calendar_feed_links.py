"""Calendar feed links: event UIDs reveal nothing a platform call uses, a user can revoke every
link of theirs at once (rotate), and a link stops working after an age limit until it is rotated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from accounts.models import AuditEvent
from scheduling import feeds
from scheduling.models import CalendarFeedKey, Publication
from tests.scheduling.factories import PublicationFactory

S = Publication.Status
CALENDAR = "admin:scheduling_calendar"
ROTATE = "admin:scheduling_calendar_feed_rotate"


def scheduled(world, days: int = 3) -> Publication:
    at = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=days)
    return PublicationFactory(post=world.post, account=world.fanvue, status=S.SCHEDULED,
                              scheduled_at=at)


def feed_path(user, creator_id: int) -> str:
    return reverse("scheduling_calendar_feed", args=[creator_id, feeds.feed_token(user, creator_id)])


def uids(response) -> list[str]:
    return [str(e["UID"]) for e in Calendar.from_ical(response.content).walk("VEVENT")]


@pytest.mark.django_db
def test_event_uids_do_not_expose_idempotency_keys(client, world):
    first, second = scheduled(world, 3), scheduled(world, 4)
    response = client.get(feed_path(world.alice, world.creator.pk))
    assert response.status_code == 200
    body = response.content.decode()
    for pub in (first, second):
        assert str(pub.idempotency_key) not in body
        assert str(pub.idempotency_key).replace("-", "") not in body
    found = uids(response)
    assert len(set(found)) == 2 and all(uid.endswith("@atelier") for uid in found)
    # Stable: the same publication keeps its UID across fetches, users and link rotations.
    feeds.rotate_feed_key(world.alice, actor=world.alice)
    assert uids(client.get(feed_path(world.alice, world.creator.pk))) == found
    assert uids(client.get(feed_path(world.owner, world.creator.pk))) == found


@pytest.mark.django_db
def test_rotating_revokes_every_old_link_of_that_user_only(client, world):
    alice, bob, a = world.alice, world.bob, world.creator
    old_alice, old_bob = feed_path(alice, a.pk), feed_path(bob, a.pk)
    assert client.get(old_alice).status_code == 200

    client.force_login(alice)
    assert client.get(reverse(ROTATE)).status_code == 405  # a state change: POST only
    response = client.post(reverse(ROTATE))
    assert response.status_code == 302 and response["Location"].startswith(reverse(CALENDAR))

    assert client.get(old_alice).status_code == 404
    assert client.get(feed_path(alice, a.pk)).status_code == 200
    assert client.get(old_bob).status_code == 200  # bob's links are his own
    event = AuditEvent.objects.get(action="calendar_feed.rotated")
    assert event.actor_id == alice.pk and event.object_id == str(CalendarFeedKey.objects.get(user=alice).pk)


@pytest.mark.django_db
def test_rotation_needs_a_signed_in_calendar_user(client, world):
    response = client.post(reverse(ROTATE))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AuditEvent.objects.filter(action="calendar_feed.rotated").exists()


@pytest.mark.django_db
def test_links_older_than_the_age_limit_answer_410_until_rotated(client, world, settings):
    settings.CALENDAR_FEED_MAX_AGE_DAYS = 180
    alice, a = world.alice, world.creator
    path = feed_path(alice, a.pk)
    CalendarFeedKey.objects.filter(user=alice).update(issued_at=timezone.now() - timedelta(days=179))
    assert client.get(path).status_code == 200
    CalendarFeedKey.objects.filter(user=alice).update(issued_at=timezone.now() - timedelta(days=181))
    expired = client.get(path)
    assert expired.status_code == 410
    assert b"rotate" in expired.content.lower() and b"BEGIN:VCALENDAR" not in expired.content
    # Making a fresh link without rotating does not get round the limit: the age is the key's.
    assert client.get(feed_path(alice, a.pk)).status_code == 410

    client.force_login(alice)
    page = client.get(reverse(CALENDAR), {"creator": a.pk})
    assert page.context["feed_expired"] is True
    assert b"data-testid=\"calendar-feed-rotate\"" in page.content
    client.post(reverse(ROTATE))
    assert client.get(feed_path(alice, a.pk)).status_code == 200


@pytest.mark.django_db
def test_links_made_before_rotation_existed_keep_working(client, world):
    """Keys the migration creates for existing users (empty secret) verify the links users already hold."""
    alice, a = world.alice, world.creator
    CalendarFeedKey.objects.create(user=alice, secret="", issued_at=timezone.now())
    legacy = feeds.feed_token(alice, a.pk)
    assert client.get(reverse("scheduling_calendar_feed", args=[a.pk, legacy])).status_code == 200
    feeds.rotate_feed_key(alice, actor=alice)
    assert client.get(reverse("scheduling_calendar_feed", args=[a.pk, legacy])).status_code == 404
