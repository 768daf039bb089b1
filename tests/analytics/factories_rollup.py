"""Rows for the rollup, currency, segment and offer tests, written straight through the ORM."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from accounts.models import Creator
from analytics.models import ExchangeRate, Fan, MetricSnapshot, Offer, Subscription, Transaction
from scheduling.models import PlatformAccount, Post, Publication

_seq = itertools.count(1)


def account(creator: Creator, platform: str = "fanvue", **extra: Any) -> PlatformAccount:
    extra.setdefault("state", PlatformAccount.State.CONNECTED)
    return PlatformAccount.objects.create(creator=creator, platform=platform, handle=f"{platform}{next(_seq)}",
                                          **extra)


def fan(creator: Creator, platform: str = "fanvue", **extra: Any) -> Fan:
    n = next(_seq)
    return Fan.objects.create(creator=creator, platform=platform, external_id=f"fan-{n}", handle=f"fan{n}", **extra)


def tx(creator: Creator, occurred_at: datetime, gross: int, *, fee: int = 0, currency: str = "USD",
       kind: str = Transaction.Kind.TIP, platform: str = "fanvue", fan: Fan | None = None,
       **extra: Any) -> Transaction:
    return Transaction.objects.create(
        creator=creator, platform=platform, kind=kind, gross_minor=gross, fee_minor=fee, net_minor=gross - fee,
        currency=currency, occurred_at=occurred_at, external_id=f"tx-{next(_seq)}",
        source=Transaction.Source.MANUAL, fan=fan, **extra)


def subscription(creator: Creator, fan: Fan, started_at: datetime, ends_at: datetime | None = None,
                 **extra: Any) -> Subscription:
    return Subscription.objects.create(creator=creator, fan=fan, platform=fan.platform, started_at=started_at,
                                       ends_at=ends_at, currency="USD", external_id=f"sub-{next(_seq)}", **extra)


def publication(acc: PlatformAccount, published_at: datetime) -> Publication:
    post = Post.objects.create(creator=acc.creator, caption=f"post {next(_seq)}")
    return Publication.objects.create(post=post, account=acc, scheduled_at=published_at,
                                      status=Publication.Status.PUBLISHED, published_at=published_at)


def snapshot(pub: Publication, taken_at: datetime, **metrics: int) -> MetricSnapshot:
    return MetricSnapshot.objects.create(publication=pub, taken_at=taken_at, **metrics)


def rate(currency: str, day: date, value: str) -> ExchangeRate:
    return ExchangeRate.objects.create(currency=currency, day=day, rate=Decimal(value))


def offer(acc: PlatformAccount, starts_at: datetime, ends_at: datetime, **extra: Any) -> Offer:
    extra.setdefault("kind", Offer.Kind.DISCOUNT)
    extra.setdefault("discount_percent", 30)
    return Offer.objects.create(creator=acc.creator, account=acc, name=f"Offer {next(_seq)}",
                                starts_at=starts_at, ends_at=ends_at, **extra)
