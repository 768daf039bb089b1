"""Rows for the analytics tests, in one module.

Accounts, posts and publications come from the scheduling factories (accounts through
`save_account`). Ledger rows the tests collide with go through `analytics.ingest` where the test is
about the ledger (`stored_transaction`); rollups, snapshots, fans, transactions, offers and rates
the dashboard, reports, alerts and rollup tests read are written straight through the ORM: they are
derived or imported data that no service makes one row at a time, and the tests pin what is read
from them.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Creator
from analytics import ingest
from analytics.models import (
    DailyRollup,
    ExchangeRate,
    Fan,
    MetricSnapshot,
    Offer,
    PostingHour,
    Subscription,
    Transaction,
    WebhookReceiver,
)
from scheduling.models import PlatformAccount, Publication
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, PublicationFactory

_seq = itertools.count(1)

# --- Accounts and publications ----------------------------------------------------------------------


def account(creator: Creator, platform: str = "fanvue", **fields: Any) -> PlatformAccount:
    fields.setdefault("handle", f"{creator.slug}-{platform}-{next(_seq)}")
    return PlatformAccountFactory(creator=creator, platform=platform, **fields)


def publication(acct: PlatformAccount, published_at: datetime | None = None, *, caption: str | None = None,
                status: str = Publication.Status.PUBLISHED, scheduled_at: datetime | None = None) -> Publication:
    """A row already at `status` on `acct` (the platform has it when published)."""
    post = PostFactory(creator=acct.creator, caption=caption if caption is not None else f"post {next(_seq)}")
    return PublicationFactory(post=post, account=acct, status=status, published_at=published_at,
                              scheduled_at=scheduled_at or published_at or timezone.now())


class PublishedPublicationFactory(PublicationFactory):
    """A publication the platform already has (no service publishes without a connector call)."""

    post = factory.LazyAttribute(lambda p: PostFactory(creator=p.account.creator, caption="New set tonight"))
    status = Publication.Status.PUBLISHED
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


def snapshot(pub: Publication, taken_at: datetime | None = None, **metrics: int) -> MetricSnapshot:
    return MetricSnapshot.objects.create(publication=pub, taken_at=taken_at or timezone.now(), **metrics)


def posting_hour(acct: PlatformAccount, weekday: int, hour: int, *, publications: int, engagement: int) -> PostingHour:
    return PostingHour.objects.create(account=acct, weekday=weekday, hour=hour, publications=publications,
                                      engagement=engagement)


# --- Fans and money ---------------------------------------------------------------------------------


def fan(creator: Creator, external_id: str | None = None, *, platform: str = "fanvue", **fields: Any) -> Fan:
    if external_id is None:
        n = next(_seq)
        external_id = f"fan-{n}"
        fields.setdefault("handle", f"fan{n}")
    return Fan.objects.create(creator=creator, platform=platform, external_id=external_id, **fields)


def transaction(creator: Creator, *, kind: str = "tip", gross: int = 1000, fee: int = 0, platform: str = "fanvue",
                currency: str = "USD", occurred_at: datetime | None = None, external_id: str = "",
                **fields: Any) -> Transaction:
    return Transaction.objects.create(
        creator=creator, platform=platform, kind=kind, gross_minor=gross, fee_minor=fee, net_minor=gross - fee,
        currency=currency, occurred_at=occurred_at or timezone.now(), external_id=external_id,
        source=Transaction.Source.MANUAL, **fields)


def tx(creator: Creator, occurred_at: datetime, gross: int, **fields: Any) -> Transaction:
    """A transaction with an external id of its own (rollup and currency tests)."""
    fields.setdefault("external_id", f"tx-{next(_seq)}")
    fields.setdefault("kind", Transaction.Kind.TIP)
    return transaction(creator, occurred_at=occurred_at, gross=gross, **fields)


def stored_transaction(creator: Creator, *, platform: str = "fanvue", external_id: str = "tx-stored",
                       kind: str = "tip", gross_minor: int = 1000, fee_minor: int = 200, currency: str = "USD",
                       occurred_at: datetime | None = None) -> Transaction:
    """A ledger row recorded by `ingest.record_transaction`, as an API delivery records it."""
    row, _ = ingest.record_transaction(creator=creator, platform=platform, kind=kind, gross_minor=gross_minor,
                                       fee_minor=fee_minor, currency=currency,
                                       occurred_at=occurred_at or datetime.fromisoformat("2026-10-01T12:00:00+00:00"),
                                       external_id=external_id, source=Transaction.Source.API)
    return row


def subscription(creator: Creator, fan: Fan, started_at: datetime, ends_at: datetime | None = None,
                 **extra: Any) -> Subscription:
    return Subscription.objects.create(creator=creator, fan=fan, platform=fan.platform, started_at=started_at,
                                       ends_at=ends_at, currency="USD", external_id=f"sub-{next(_seq)}", **extra)


def rate(currency: str, day: date, value: str) -> ExchangeRate:
    return ExchangeRate.objects.create(currency=currency, day=day, rate=Decimal(value))


def offer(acc: PlatformAccount, starts_at: datetime, ends_at: datetime, **extra: Any) -> Offer:
    extra.setdefault("kind", Offer.Kind.DISCOUNT)
    extra.setdefault("discount_percent", 30)
    return Offer.objects.create(creator=acc.creator, account=acc, name=f"Offer {next(_seq)}",
                                starts_at=starts_at, ends_at=ends_at, **extra)


def rollup(creator: Creator, day: date, *, platform: str = "fanvue", tips: int = 0, subs: int = 0,
           refunds: int = 0, new: int = 0, churned: int = 0, posts: int = 0, **fields: Any) -> DailyRollup:
    """A rollup whose totals agree with its `by_kind` (net = gross here: fees left out)."""
    by_kind = {kind: {"count": 1, "gross_minor": amount, "net_minor": amount}
               for kind, amount in (("tip", tips), ("subscription", subs), ("refund", refunds)) if amount}
    net = tips + subs + refunds
    return DailyRollup.objects.create(
        creator=creator, platform=platform, day=day, gross_minor=net, net_minor=net, by_kind=by_kind,
        transactions=len(by_kind), new_subscribers=new, churned_subscribers=churned, posts_published=posts, **fields)


# --- Statements to import ---------------------------------------------------------------------------

GENERIC_HEADERS = ["date", "type", "gross", "fee", "net", "currency", "external_id", "fan"]


def statement_csv(rows: Iterable[Iterable[object]], headers: Iterable[str] = GENERIC_HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(headers))
    writer.writerows([list(r) for r in rows])
    return buffer.getvalue().encode()


def upload(content: bytes, name: str = "statement.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


# --- Webhook deliveries -----------------------------------------------------------------------------

SECRET = "whsec-test-0123456789abcdef"
CREATOR_UUID = "f4b2a184-2b4a-4a04-9b70-3c0e0a1caa12"
FAN_UUID = "5939ae62-3eb5-4433-954f-f78c7b4282f3"


def receiver_for(account: PlatformAccount, secret: str = SECRET) -> WebhookReceiver:
    receiver, _ = ingest.create_receiver(account, secret=secret)
    return receiver


def sign(body: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v0={mac}"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def tip_payload(**overrides: Any) -> dict[str, Any]:
    """Fanvue's documented Tip Received shape (flat, no event id)."""
    return {"context": "post", "postUuid": "0d6c2f5e-1111-4c1b-9a55-3f2e1d0c9b8a", "price": 500,
            "recipientUuid": CREATOR_UUID, "senderUuid": FAN_UUID,
            "sender": {"uuid": FAN_UUID, "handle": "test-user",
                       "displayName": "Test User", "avatarUrl": "https://via.placeholder.com/150"},
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"), **overrides}


def subscriber_payload(**overrides: Any) -> dict[str, Any]:
    """Fanvue's documented New Subscriber example."""
    return {"price": 1299, "recipientUuid": CREATOR_UUID,
            "sender": {"avatarUrl": "https://via.placeholder.com/150", "displayName": "Sub Scriber",
                       "handle": "sub-scriber", "uuid": "7a1b2c3d-3eb5-4433-954f-f78c7b4282f3"},
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"), **overrides}
