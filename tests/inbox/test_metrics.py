"""Chatter metrics: counted in the database, per chatter and per shift, over creators the reader reaches."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role
from analytics.extensions import panels
from analytics.models import ExchangeRate
from inbox import metrics
from inbox.models import Message, ReportingEvent, Shift
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import conversation
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


def out(conv, by, *, price=None, bought=False, at=None, status=Message.SendStatus.SENT, text="hello"):
    at = at or timezone.now()
    return Message.objects.create(creator_id=conv.creator_id, conversation=conv, account_id=conv.account_id,
                                  direction=Message.Direction.OUT, text=text, sent_by=by,
                                  origin=Message.Origin.MANUAL, send_status=status, price_minor=price,
                                  currency="USD" if price is not None else "",
                                  purchased_at=at if bought else None, created_at=at, sent_at=at)


def event(conv, chatter, kind, *, seconds=None, amount=None, currency="", shift=None, at=None, message=None):
    return ReportingEvent.objects.create(creator_id=conv.creator_id, conversation=conv, kind=kind, chatter=chatter,
                                         seconds=seconds, amount_minor=amount, currency=currency, shift=shift,
                                         message=message, at=at or timezone.now())


def window():
    now = timezone.now()
    return now - timedelta(days=1), now + timedelta(hours=1)


@pytest.fixture
def busy(desk):
    """Two chatters on Luna: chatty (on shift, fast, sells) and slow; a credited EUR purchase."""
    slow = UserFactory(username="slowpoke")
    Membership.objects.create(user=slow, creator=desk.creator, role=Role.CHATTER)
    conv = conversation(desk.fanvue, fan_id="f1")
    conv2 = conversation(desk.fanvue, fan_id="f2")
    for _ in range(3):
        out(conv, desk.chatter)
    sold = out(conv, desk.chatter, price=1000, bought=True)
    out(conv, desk.chatter, price=1000)
    out(conv, desk.chatter, status=Message.SendStatus.FAILED)  # never went: not counted
    out(conv2, slow)
    shift = Shift.objects.get(chatter=desk.chatter)
    for seconds in (10, 20, 30, 40, 100):
        event(conv, desk.chatter, ReportingEvent.Kind.FIRST_RESPONSE, seconds=seconds, shift=shift)
    event(conv2, slow, ReportingEvent.Kind.FIRST_RESPONSE, seconds=3600)
    event(conv, desk.chatter, ReportingEvent.Kind.REPLY, seconds=60, shift=shift)
    event(conv, desk.chatter, ReportingEvent.Kind.PURCHASE_CREDITED, amount=1000, currency="USD", shift=shift,
          message=sold)
    event(conv, desk.chatter, ReportingEvent.Kind.PURCHASE_CREDITED, amount=1000, currency="EUR", shift=shift)
    ExchangeRate.objects.create(currency="EUR", day=date(2000, 1, 1), rate=Decimal("1.1"))
    return desk, slow, shift


def test_per_chatter_counts_percentiles_ppv_and_converted_revenue(busy, settings):
    settings.ANALYTICS_CURRENCY = "USD"
    desk, slow, _ = busy
    rows = {r.key: r for r in metrics.by_chatter(*window(), [desk.creator.pk])}
    chatty = rows[desk.chatter.pk]
    assert chatty.messages_sent == 5
    assert (chatty.ppv_sent, chatty.ppv_bought) == (2, 1)
    assert chatty.first_responses == 5
    assert chatty.first_response_p50 == pytest.approx(30)
    assert chatty.first_response_p90 == pytest.approx(76)  # 40 + (100 - 40) * 0.6
    assert chatty.reply_p50 == pytest.approx(60)
    assert chatty.revenue_minor == 1000 + 1100 and chatty.purchases == 2
    assert chatty.revenue_per_message_minor == 420
    assert rows[slow.pk].messages_sent == 1 and rows[slow.pk].first_response_p50 == pytest.approx(3600)
    assert next(iter(rows)) == desk.chatter.pk  # most revenue first


def test_the_python_percentiles_agree_with_postgres(busy, monkeypatch):
    desk, slow, _ = busy
    in_db = {r.key: (r.first_response_p50, r.first_response_p90) for r in metrics.by_chatter(*window(), None)}
    monkeypatch.setattr(metrics, "has_percentile_cont", lambda: False)
    in_python = {r.key: (r.first_response_p50, r.first_response_p90) for r in metrics.by_chatter(*window(), None)}
    assert in_python == in_db == {desk.chatter.pk: (30.0, 76.0), slow.pk: (3600.0, 3600.0)}
    assert metrics.percentile([], 0.5) is None
    assert metrics.percentile([5.0], 0.9) == 5.0


def test_a_currency_without_a_rate_is_named_not_counted_one_to_one(busy):
    desk, *_ = busy
    ExchangeRate.objects.all().delete()
    chatty = next(r for r in metrics.by_chatter(*window(), None) if r.key == desk.chatter.pk)
    assert chatty.revenue_minor == 1000 and chatty.missing_rates == ["EUR"]


def test_per_shift_counts_only_what_was_written_during_it_for_its_creator(busy):
    desk, _, shift = busy
    other = CreatorFactory(stage_name="Nova")
    Membership.objects.create(user=desk.chatter, creator=other, role=Role.CHATTER)
    out(conversation(PlatformAccountFactory(creator=other, platform="fanvue"), fan_id="n1"), desk.chatter)
    out(conversation(desk.fanvue, fan_id="f3"), desk.chatter, at=shift.starts_at - timedelta(minutes=5))
    rows = {r.key: r for r in metrics.by_shift(*window(), None)}
    row = rows[shift.pk]
    assert row.messages_sent == 5
    assert row.first_responses == 5 and row.revenue_minor == 2100
    assert row.label == "chatty" and row.creator_label == "Luna"


def test_only_creators_in_reach_are_counted(busy):
    desk, *_ = busy
    assert metrics.creator_ids_for(desk.chatter) == []  # chatters see threads, not the team's numbers
    assert metrics.creator_ids_for(desk.manager) == [desk.creator.pk]
    assert metrics.creator_ids_for(desk.manager, [desk.creator.pk + 999]) == []
    owner = UserFactory(username="boss", is_superuser=True)
    assert metrics.creator_ids_for(owner) is None
    assert metrics.by_chatter(*window(), []) == []


def test_metrics_take_a_fixed_number_of_queries(busy, django_assert_max_num_queries):
    desk, *_ = busy
    for i in range(20):
        chatter = UserFactory(username=f"extra{i}")
        out(conversation(desk.fanvue, fan_id=f"x{i}"), chatter, price=500, bought=True)
    with django_assert_max_num_queries(6):
        rows = metrics.by_chatter(*window(), [desk.creator.pk])
    assert len(rows) == 22


def test_analytics_reads_the_inbox_panels_through_its_registry(busy):
    desk, *_ = busy
    registered = panels()
    revenue = registered["Revenue per chatter"]([desk.creator.pk], *window())
    assert revenue[0]["Chatter"] == "chatty" and revenue[0]["Revenue credited"] == "$21.00"
    times = registered["First-response times"](None, *window())
    assert {row["Chatter"] for row in times} == {"chatty", "slowpoke"}


def test_the_analytics_page_shows_the_inbox_panels(busy, client):
    desk, *_ = busy
    owner = UserFactory(username="boss", is_superuser=True)
    client.force_login(owner)
    ReportingEvent.objects.update(at=timezone.now() - timedelta(days=2))
    page = client.get(reverse("admin:analytics_creator_dashboard"), {"creator": desk.creator.pk})
    body = page.content.decode()
    assert page.status_code == 200 and "Revenue per chatter" in body and "$21.00" in body


def test_the_performance_page_shows_money_in_units_and_404s_out_of_reach(busy, client):
    desk, *_ = busy
    client.force_login(desk.manager)
    url = reverse("admin:inbox_chatter_performance")
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "chatty" in body and "$21.00" in body and "1 / 2" in body
    assert client.get(url, {"creator": CreatorFactory().pk}).status_code == 404
    assert client.get(url, {"start": "2026-13-01"}).status_code == 400
    assert client.get(url, {"start": "2026-12-10", "end": "2026-12-01"}).status_code == 400
    client.force_login(desk.chatter)
    assert client.get(url).status_code == 403
