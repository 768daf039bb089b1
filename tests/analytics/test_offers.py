"""Offers start and end with their window: once each, audited, with one notice to the managers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEvent
from analytics import offers
from analytics.models import Offer
from notifications.models import Notification
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_tick_starts_then_ends_once(people) -> None:
    acc = f.account(people["a"])
    offer = f.offer(acc, T0, T0 + timedelta(days=3))
    later = f.offer(acc, T0 + timedelta(days=1), T0 + timedelta(days=2))

    assert offers.tick(now=T0 - timedelta(seconds=1)) == {"started": 0, "ended": 0}
    assert offers.tick(now=T0) == {"started": 1, "ended": 0}
    assert offers.tick(now=T0 + timedelta(minutes=5)) == {"started": 0, "ended": 0}
    offer.refresh_from_db()
    assert offer.status == Offer.Status.ACTIVE
    later.refresh_from_db()
    assert later.status == Offer.Status.SCHEDULED
    start = Notification.objects.get(kind="offer.started", payload__offer_id=offer.pk)
    assert start.creator_id == people["a"].pk and "by hand" in start.body and start.resolved_at is None

    assert offers.tick(now=T0 + timedelta(days=3)) == {"started": 0, "ended": 2}
    assert offers.tick(now=T0 + timedelta(days=3, minutes=5)) == {"started": 0, "ended": 0}
    assert set(Offer.objects.values_list("status", flat=True)) == {Offer.Status.EXPIRED}
    start.refresh_from_db()
    assert start.resolved_at is not None  # nothing left to switch on
    ended = Notification.objects.get(kind="offer.ended", payload__offer_id=later.pk)
    assert "before it was started" in ended.body
    assert Notification.objects.filter(kind="offer.ended").count() == 2
    assert list(AuditEvent.objects.filter(object_id=str(offer.pk), object_type="analytics.offer")
                .order_by("pk").values_list("action", flat=True)) == ["offer.activated", "offer.expired"]
    assert AuditEvent.objects.filter(action__startswith="offer.", creator_id=people["a"].pk).count() == 3


def test_a_cancelled_offer_is_left_alone(people) -> None:
    offer = f.offer(f.account(people["a"]), T0, T0 + timedelta(days=1), status=Offer.Status.CANCELLED)
    assert offers.tick(now=T0 + timedelta(hours=1)) == {"started": 0, "ended": 0}
    assert offers.tick(now=T0 + timedelta(days=2)) == {"started": 0, "ended": 0}
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
    assert not Notification.objects.filter(kind__startswith="offer.").exists()


def test_a_row_changed_under_the_tick_is_not_acted_on(people, monkeypatch) -> None:
    """Another tick (or a person cancelling) wins between the read and the UPDATE: no notice."""
    offer = f.offer(f.account(people["a"]), T0, T0 + timedelta(days=1))
    real_move = offers._move

    def cancelled_first(o: Offer, source: str, target: str, **extra: str) -> bool:
        Offer.objects.filter(pk=o.pk).update(status=Offer.Status.CANCELLED)
        return real_move(o, source, target, **extra)

    monkeypatch.setattr(offers, "_move", cancelled_first)
    assert offers.tick(now=T0) == {"started": 0, "ended": 0}
    assert not Notification.objects.filter(kind__startswith="offer.").exists()
    assert not AuditEvent.objects.filter(action__startswith="offer.").exists()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.CANCELLED
