"""The shared transaction write path, metric sync through connectors within rate budgets, and the
Fanvue earnings backfill against a local server speaking Fanvue's wire format."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics import ingest
from analytics.models import Fan, MetricSnapshot, Transaction
from scheduling import limits
from scheduling import services as scheduling
from scheduling.connectors import _load
from scheduling.connectors.base import AuthError, Limits
from scheduling.models import PlatformAccount
from tests.analytics.conftest import reset_budget
from tests.analytics.connectors import MetricsConnector
from tests.analytics.factories import FAN_UUID, PublishedPublicationFactory
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fakes.base import Received, Reply, serve
from tests.scheduling.fakes.fanvue import CREATOR, FakeFanvue

pytestmark = pytest.mark.django_db


def sale(creator, **overrides):
    fields = {"creator": creator, "platform": "fanvue", "kind": "tip", "gross_minor": 1000, "fee_minor": 200,
              "currency": "USD", "occurred_at": timezone.now(), "external_id": "tip-1", "source": "api"}
    return ingest.record_transaction(**{**fields, **overrides})


# --- record_transaction ---------------------------------------------------------------------------


def test_same_external_id_is_stored_once(people, settings):
    settings.ANALYTICS_CURRENCY = "USD"
    fan, _ = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1", handle="f")
    tx, created = sale(people["a"], fan=fan)
    again, created_again = sale(people["a"], fan=fan, gross_minor=9999, source="import")
    assert created and not created_again and again.pk == tx.pk
    assert (tx.gross_minor, tx.fee_minor, tx.net_minor) == (1000, 200, 800)
    assert Transaction.objects.count() == 1
    fan.refresh_from_db()
    assert fan.lifetime_spend_minor == 800
    # Another platform may reuse the same id.
    assert sale(people["a"], platform="onlyfans")[1] is True


def test_refunds_are_stored_negative_and_reduce_lifetime_spend(people, settings):
    settings.ANALYTICS_CURRENCY = "USD"
    fan, _ = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1")
    sale(people["a"], fan=fan)
    refund, _ = sale(people["a"], fan=fan, kind="refund", gross_minor=1000, fee_minor=200, external_id="r-1")
    assert (refund.gross_minor, refund.fee_minor, refund.net_minor) == (-1000, -200, -800)
    fan.refresh_from_db()
    assert fan.lifetime_spend_minor == 0


def test_other_currencies_leave_lifetime_to_the_rollup(people, settings):
    settings.ANALYTICS_CURRENCY = "USD"
    fan, _ = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1")
    tx, _ = sale(people["a"], fan=fan, currency="EUR")
    fan.refresh_from_db()
    assert fan.lifetime_spend_minor == 0 and tx.currency == "EUR"
    assert fan.last_seen == tx.occurred_at


@pytest.mark.parametrize(("overrides", "message"), [
    ({"currency": "usd"}, "ISO 4217"),
    ({"currency": "US"}, "ISO 4217"),
    ({"kind": "gift"}, "Unknown transaction kind"),
    ({"source": "scraper"}, "Unknown source"),
    ({"platform": "myspace"}, "Unknown platform"),
    ({"occurred_at": datetime(2026, 1, 1, 12)}, "no timezone"),
    ({"gross_minor": 10.5}, "integers"),
    ({"gross_minor": -100}, "negative"),
    ({"fee_minor": 2000}, "fee is larger"),
    ({"external_id": "x" * 201}, "longer than 200"),
])
def test_bad_input_is_refused_and_nothing_is_written(people, overrides, message):
    with pytest.raises(ValidationError, match=message):
        sale(people["a"], **overrides)
    assert Transaction.objects.count() == 0


def test_a_fan_of_another_creator_is_refused(people):
    fan, _ = ingest.upsert_fan(creator=people["b"], platform="fanvue", external_id="fan-b")
    with pytest.raises(ValidationError, match="another creator"):
        sale(people["a"], fan=fan)
    assert Transaction.objects.count() == 0


def test_late_data_recomputes_its_local_day_after_commit(people, monkeypatch, django_capture_on_commit_callbacks):
    from analytics import tasks

    queued = []
    monkeypatch.setattr(tasks.rollup_days, "delay", lambda creator_id, days: queued.append((creator_id, days)))
    creator = people["a"]  # Europe/Paris
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Paris
    with django_capture_on_commit_callbacks(execute=True):
        sale(creator, occurred_at=late, external_id="late")
        sale(creator, occurred_at=timezone.now(), external_id="today")
        sale(creator, occurred_at=late, external_id="late")  # a duplicate queues nothing
    assert queued == [(creator.pk, ["2026-03-02"])]


def test_manual_entries_are_audited(people):
    from accounts.models import AuditEvent

    tx, _ = sale(people["a"], source="manual", external_id="", actor=people["alice"])
    event = AuditEvent.objects.get(action="analytics.transaction_recorded")
    assert event.object_id == str(tx.pk) and event.actor_id == people["alice"].pk


# --- Metric sync ----------------------------------------------------------------------------------


class TightConnector(MetricsConnector):
    limits = Limits(max_text=280, max_media=4, max_media_bytes=1, media_types=frozenset(),
                    ratings=frozenset({"sfw"}), requests_per_window=4, window_seconds=3600)


def test_sync_stores_mapped_snapshots_once_per_interval(metrics_account):
    account = metrics_account
    pubs = [PublishedPublicationFactory(account=account) for _ in range(2)]
    old = PublishedPublicationFactory(account=account, published_at=timezone.now() - timedelta(days=40))
    now = timezone.now()

    stats = ingest.sync_metrics(now=now)
    assert stats["snapshots"] == stats["fetched"] == 2 and stats["errors"] == 0
    snap = MetricSnapshot.objects.get(publication=pubs[0])
    assert (snap.views, snap.likes, snap.comments, snap.shares, snap.clicks, snap.purchases) == (120, 5, 2, 4, 0, 0)
    assert not MetricSnapshot.objects.filter(publication=old).exists()

    assert ingest.sync_metrics(now=now + timedelta(minutes=10))["fetched"] == 0  # measured recently
    assert ingest.sync_metrics(now=now + timedelta(minutes=30))["snapshots"] == 2
    assert MetricSnapshot.objects.count() == 4


def test_one_failing_publication_does_not_stop_the_run(metrics_account):
    account = metrics_account
    PublishedPublicationFactory(account=account, external_id="broken-1")
    PublishedPublicationFactory(account=account)
    stats = ingest.sync_metrics()
    assert (stats["errors"], stats["snapshots"]) == (1, 1)


def test_refused_credentials_mark_the_account_for_reauth(metrics_account):
    account = metrics_account
    PublishedPublicationFactory(account=account, external_id="revoked-1")
    stats = ingest.sync_metrics()
    assert stats["reauth"] == 1 and MetricSnapshot.objects.count() == 0
    account.refresh_from_db()
    assert account.state == PlatformAccount.State.NEEDS_REAUTH
    assert ingest.sync_metrics()["accounts"] == 0  # a disconnected account is not called again


def test_sync_spends_no_more_than_the_account_budget(metrics_account, settings):
    settings.SCHEDULING_CONNECTORS = {"x": "tests.analytics.test_ingest.TightConnector"}
    _load.cache_clear()
    account = metrics_account
    for _ in range(5):
        PublishedPublicationFactory(account=account)
    stats = ingest.sync_metrics()
    # Half of the window at most: publishing keeps the other half.
    assert (stats["fetched"], stats["deferred"]) == (2, 3)
    assert len(MetricsConnector.calls) == 2
    assert limits.take_budget(account.pk, 2, TightConnector.limits)[0] == 2  # a publish spends the rest
    stats = ingest.sync_metrics(now=timezone.now() + timedelta(minutes=1))
    assert stats["fetched"] == 0 and stats["deferred"] == 3  # the window is spent
    assert len(MetricsConnector.calls) == 2


# --- Fanvue earnings backfill ---------------------------------------------------------------------


class FakeFanvueEarnings(FakeFanvue):
    """The shared fake plus `GET /insights/earnings`, cursor-paginated like the reference."""

    routes = [*FakeFanvue.routes, ("GET", CREATOR + r"/insights/earnings", "earnings")]

    def earnings(self, r: Received, m: re.Match) -> Reply:
        items = self.state.get("earnings", [])
        size = int(r.query.get("size", ["20"])[0])
        start = int(r.query.get("cursor", ["0"])[0])
        page = items[start:start + size]
        more = start + size < len(items)
        return Reply(200, {"data": page, "nextCursor": str(start + size) if more else None})


def earning(n: int, **overrides):
    return {"uuid": f"inv-{n}", "date": "2026-02-10T12:00:00Z", "gross": 1000, "net": 800, "currency": "USD",
            "source": "tip", "user": {"uuid": f"fan-{n % 2}", "handle": f"fan{n % 2}"}, **overrides}


@pytest.fixture
def fanvue(people, settings):
    with serve(FakeFanvueEarnings()) as fake:
        settings.FANVUE_API_URL = fake.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 5
        account = PlatformAccountFactory(creator=people["a"], platform="fanvue",
                                         options={"creator_uuid": "5b1f0a3e-8c2d-4e6f-9a7b-0c1d2e3f4a5b"})
        scheduling.store_credentials(account, {"access_token": "fv-access-1"})
        reset_budget(account.pk)
        yield {"fake": fake, "account": account, **people}
        reset_budget(account.pk)


def test_backfill_records_every_page_once_when_run_twice(fanvue, monkeypatch):
    from analytics import tasks

    monkeypatch.setattr(tasks.rollup_days, "delay", lambda *a: None)
    fake, account = fanvue["fake"], fanvue["account"]
    fake.state["earnings"] = [earning(n) for n in range(55)] + [
        earning(99, source="subscription", uuid=None, id=None), earning(98, source="messages")]
    since = datetime(2026, 2, 1, tzinfo=UTC)

    first = ingest.backfill_fanvue(account, since)
    assert first["created"] == 57 and first["pages"] == 2 and first["complete"]
    calls = fake.calls("GET", r"/creators/[0-9a-f-]{36}/insights/earnings")
    assert calls[0].query["startDate"] == ["2026-02-01T00:00:00Z"] and calls[1].query["cursor"] == ["50"]
    assert Transaction.objects.filter(source="api").count() == 57
    tip = Transaction.objects.get(external_id="inv-0")
    assert (tip.kind, tip.gross_minor, tip.fee_minor, tip.net_minor, tip.fan.external_id) == ("tip", 1000, 200,
                                                                                               800, "fan-0")
    assert Transaction.objects.get(kind="paid_message").external_id == "inv-98"
    assert Fan.objects.count() == 2

    second = ingest.backfill_fanvue(account, since)
    assert second["created"] == 0 and second["existing"] == 57
    assert Transaction.objects.count() == 57


def test_backfill_completes_a_sale_first_seen_by_webhook(fanvue, settings, monkeypatch):
    from analytics import tasks

    monkeypatch.setattr(tasks.rollup_days, "delay", lambda *a: None)
    settings.ANALYTICS_CURRENCY = "USD"
    account, creator = fanvue["account"], fanvue["a"]
    at = datetime(2026, 2, 10, 12, 0, 30, tzinfo=UTC)
    fan, _ = ingest.upsert_fan(creator=creator, platform="fanvue", external_id=FAN_UUID)
    ingest.record_transaction(creator=creator, platform="fanvue", kind="tip", gross_minor=1000, currency="USD",
                              occurred_at=at, external_id="webhook:sha256:abc", source="webhook", fan=fan,
                              account=account)
    fanvue["fake"].state["earnings"] = [earning(1, user={"uuid": FAN_UUID, "handle": "test-user"})]

    stats = ingest.backfill_fanvue(account, datetime(2026, 2, 1, tzinfo=UTC))
    assert stats["completed_webhook_rows"] == 1 and stats["created"] == 0
    tx = Transaction.objects.get()
    assert (tx.external_id, tx.source, tx.fee_minor, tx.net_minor) == ("inv-1", "webhook", 200, 800)
    fan.refresh_from_db()
    assert fan.lifetime_spend_minor == 800
    assert ingest.backfill_fanvue(account, datetime(2026, 2, 1, tzinfo=UTC))["existing"] == 1


def test_backfill_stops_when_the_budget_is_out(fanvue, monkeypatch):
    from analytics import tasks

    monkeypatch.setattr(tasks.rollup_days, "delay", lambda *a: None)
    monkeypatch.setattr(limits, "take_budget", lambda *a: (0, 30.0))
    fanvue["fake"].state["earnings"] = [earning(1)]
    stats = ingest.backfill_fanvue(fanvue["account"], datetime(2026, 2, 1, tzinfo=UTC))
    assert stats == {"pages": 0, "created": 0, "existing": 0, "completed_webhook_rows": 0, "complete": False}
    assert not fanvue["fake"].calls("GET", r".*/insights/earnings")


def test_backfill_with_a_refused_token_marks_the_account(fanvue):
    account = fanvue["account"]
    scheduling.store_credentials(account, {"access_token": "revoked"})
    with pytest.raises(AuthError):
        ingest.backfill_fanvue(account, datetime(2026, 2, 1, tzinfo=UTC))
    account.refresh_from_db()
    assert account.state == PlatformAccount.State.NEEDS_REAUTH
    assert Transaction.objects.count() == 0


def test_backfill_refuses_an_empty_period(fanvue):
    with pytest.raises(ValidationError, match="empty"):
        ingest.backfill_fanvue(fanvue["account"], timezone.now() + timedelta(days=1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_the_same_sale_store_one_row(people):
    import threading

    from django.db import connection

    creator = people["a"]
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def write() -> None:
        try:
            barrier.wait()
            results.append(sale(creator, external_id="race-1")[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert Transaction.objects.filter(external_id="race-1").count() == 1


def test_a_fan_seen_again_keeps_the_earliest_first_and_latest_last_sighting_in_one_update(
        people, django_assert_num_queries):
    t0 = timezone.now().replace(microsecond=0)
    fan, created = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1", handle="luna",
                                     seen_at=t0)
    assert created
    with django_assert_num_queries(2):  # every webhook pays this: one SELECT, one UPDATE
        again, created = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1",
                                           handle="luna2", seen_at=t0 + timedelta(hours=1))
    assert not created and again.pk == fan.pk and again.handle == "luna2"
    with django_assert_num_queries(2):  # late data: only first_seen may move, and the handle stays
        again, _ = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1",
                                     seen_at=t0 - timedelta(days=1))
    with django_assert_num_queries(1):  # nothing new: nothing written
        again, _ = ingest.upsert_fan(creator=people["a"], platform="fanvue", external_id="fan-1",
                                     seen_at=t0)
    stored = Fan.objects.get(pk=fan.pk)
    assert (stored.first_seen, stored.last_seen, stored.handle) == (
        t0 - timedelta(days=1), t0 + timedelta(hours=1), "luna2")
    assert (again.first_seen, again.last_seen, again.handle) == (stored.first_seen, stored.last_seen, "luna2")
