"""Rows the dashboard, reports, alerts and API read, created directly (rollups are derived data)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone

from accounts.models import Creator
from analytics.models import DailyRollup, Fan, MetricSnapshot, PostingHour, Transaction
from scheduling.models import PlatformAccount, Post, Publication


def rollup(creator: Creator, day: date, *, platform: str = "fanvue", tips: int = 0, subs: int = 0,
           refunds: int = 0, new: int = 0, churned: int = 0, posts: int = 0, **fields: Any) -> DailyRollup:
    """A rollup whose totals agree with its `by_kind` (net = gross here: fees left out)."""
    by_kind = {kind: {"count": 1, "gross_minor": amount, "net_minor": amount}
               for kind, amount in (("tip", tips), ("subscription", subs), ("refund", refunds)) if amount}
    net = tips + subs + refunds
    return DailyRollup.objects.create(
        creator=creator, platform=platform, day=day, gross_minor=net, net_minor=net, by_kind=by_kind,
        transactions=len(by_kind), new_subscribers=new, churned_subscribers=churned, posts_published=posts, **fields)


def account(creator: Creator, platform: str = "fanvue", **fields: Any) -> PlatformAccount:
    handle = fields.pop("handle", f"{creator.slug}-{platform}")
    fields.setdefault("state", PlatformAccount.State.CONNECTED)
    return PlatformAccount.objects.create(creator=creator, platform=platform, handle=handle, **fields)


def publication(creator: Creator, acct: PlatformAccount, *, caption: str = "A post", status: str = "published",
                scheduled_at: datetime | None = None) -> Publication:
    post = Post.objects.create(creator=creator, caption=caption)
    return Publication.objects.create(post=post, account=acct, status=status,
                                      scheduled_at=scheduled_at or timezone.now())


def snapshot(pub: Publication, *, likes: int = 0, views: int = 0, taken_at: datetime | None = None) -> MetricSnapshot:
    return MetricSnapshot.objects.create(publication=pub, likes=likes, views=views,
                                         taken_at=taken_at or timezone.now())


def posting_hour(acct: PlatformAccount, weekday: int, hour: int, *, publications: int, engagement: int) -> PostingHour:
    return PostingHour.objects.create(account=acct, weekday=weekday, hour=hour, publications=publications,
                                      engagement=engagement)


def fan(creator: Creator, external_id: str, *, platform: str = "fanvue", **fields: Any) -> Fan:
    return Fan.objects.create(creator=creator, platform=platform, external_id=external_id, **fields)


def transaction(creator: Creator, *, kind: str = "tip", gross: int = 1000, fee: int = 0, platform: str = "fanvue",
                occurred_at: datetime | None = None, external_id: str = "", **fields: Any) -> Transaction:
    return Transaction.objects.create(
        creator=creator, platform=platform, kind=kind, gross_minor=gross, fee_minor=fee, net_minor=gross - fee,
        currency="USD", occurred_at=occurred_at or timezone.now(), external_id=external_id,
        source=Transaction.Source.MANUAL, **fields)
