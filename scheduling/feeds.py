"""Calendar feed links: who a link speaks for, how a user revokes theirs, and how old one may be.

A calendar app cannot sign in, so the link itself is the credential: a signed token naming the
user and the creator, bound to the user's feed key and password hash. Rotating the key (a button
on the calendar page) or changing the password revokes every link of that user at once. A key
older than CALENDAR_FEED_MAX_AGE_DAYS stops every link made from it (410) until it is rotated,
so a link copied into some shared calendar years ago does not keep publishing the schedule.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import audit, tenancy
from accounts.models import User
from scheduling.models import CalendarFeedKey, Publication

ICS_SALT = "scheduling.calendar.ics"
UID_SALT = "scheduling.calendar.uid"


class FeedExpired(Exception):
    """The link is genuine but its key is past the age limit: rotate to get a working one."""


def feed_key(user: User) -> CalendarFeedKey:
    """The user's key, made on first use."""
    key, _ = CalendarFeedKey.objects.get_or_create(user=user, defaults={"secret": secrets.token_urlsafe(32)})
    return key


def expires_at(key: CalendarFeedKey) -> datetime:
    return key.issued_at + timedelta(days=settings.CALENDAR_FEED_MAX_AGE_DAYS)


def is_expired(key: CalendarFeedKey) -> bool:
    return timezone.now() >= expires_at(key)


def _binding(user: User, key: CalendarFeedKey) -> str:
    # An empty secret is a key the migration made for a user who already held links: those links
    # were bound to the password hash alone, and keep working until the user rotates.
    material = f"{user.pk}:{user.password}" if not key.secret else f"{user.pk}:{key.secret}:{user.password}"
    return salted_hmac(ICS_SALT, material).hexdigest()[:20]


def feed_token(user: User, creator_id: int, key: CalendarFeedKey | None = None) -> str:
    return signing.dumps({"u": user.pk, "c": creator_id, "k": _binding(user, key or feed_key(user))}, salt=ICS_SALT)


def feed_user(token: str, creator_id: int) -> User:
    """The user a feed link speaks for, if it is genuine and they still reach the creator (else 404);
    FeedExpired when the link is genuine but its key is too old."""
    try:
        data = signing.loads(token, salt=ICS_SALT)
    except signing.BadSignature:
        raise Http404("No such calendar.") from None
    if not isinstance(data, dict) or data.get("c") != creator_id:
        raise Http404("No such calendar.")
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    key = CalendarFeedKey.objects.filter(user=user).first() if user is not None else None
    if key is None or not constant_time_compare(str(data.get("k", "")), _binding(user, key)):
        raise Http404("No such calendar.")
    if not tenancy.can_reach_creator(user, creator_id, Publication, "view"):
        raise Http404("No such calendar.")
    if is_expired(key):
        raise FeedExpired
    return user


@transaction.atomic
def rotate_feed_key(user: User, *, actor: User | None = None) -> CalendarFeedKey:
    """A new secret for the user's links, valid from now: every link they handed out stops at once.
    Audits `calendar_feed.rotated`."""
    key, created = CalendarFeedKey.objects.select_for_update().get_or_create(
        user=user, defaults={"secret": secrets.token_urlsafe(32)})
    previous = None if created else key.issued_at
    if not created:
        key.secret, key.issued_at = secrets.token_urlsafe(32), timezone.now()
        key.save(update_fields=["secret", "issued_at"])
    audit.record("calendar_feed.rotated", key, actor=actor,
                 changes={"previous_issued_at": previous.isoformat() if previous else None})
    return key


def event_uid(publication_id: int) -> str:
    """A stable UID that says nothing: the idempotency key is what a platform deduplicates on, so it
    never leaves in a feed someone may forward. Derived from SECRET_KEY, it is stable across fetches,
    users and rotations."""
    return f"{salted_hmac(UID_SALT, str(publication_id)).hexdigest()[:32]}@atelier"
