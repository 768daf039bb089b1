"""Daily rollups: determinism, late data, local days across DST, currency conversion,
subscribers, posts and engagement, fan segments, best hours, the nightly run and a rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import rollups, segments
from analytics.models import DailyRollup, Fan, PostingHour
from notifications.models import Notification
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def snapshot_rows(creator_id: int | None = None) -> list[dict]:
    rows = DailyRollup.objects.order_by("creator_id", "platform", "day")
    if creator_id is not None:
        rows = rows.filter(creator_id=creator_id)
    return [{k: v for k, v in r.items() if k not in ("id", "computed_at")} for r in rows.values()]


@pytest.fixture(autouse=True)
def _usd(settings) -> None:
    settings.ANALYTICS_CURRENCY = "USD"
    settings.ANALYTICS_WHALE_MIN_SPEND_MINOR = 0


@pytest.fixture
def alpha(creators):
    return creators[0]


def test_recomputing_a_day_gives_identical_rows(alpha) -> None:
    fan = f.fan(alpha)
    f.rate("EUR", date(2026, 5, 1), "1.0837")
    for hour in range(0, 24, 3):
        f.tx(alpha, paris(2026, 5, 10, hour, 5), 1999, fee=400, fan=fan)
        f.tx(alpha, paris(2026, 5, 10, hour, 7), 1001, fee=201, currency="EUR", kind="paid_message")
    f.tx(alpha, paris(2026, 5, 10, 12), -500, kind="refund", platform="onlyfans")
    f.subscription(alpha, fan, paris(2026, 5, 10, 9))
    pub = f.publication(f.account(alpha), paris(2026, 5, 10, 20))
    f.snapshot(pub, paris(2026, 5, 10, 21), views=100, likes=7)

    assert rollups.rollup_day(alpha.pk, date(2026, 5, 10)) == 2
    first = snapshot_rows()
    assert rollups.rollup_day(alpha.pk, date(2026, 5, 10)) == 2
    assert snapshot_rows() == first
    fanvue = next(r for r in first if r["platform"] == "fanvue")
    assert fanvue["transactions"] == 16 and fanvue["new_subscribers"] == 1 and fanvue["posts_published"] == 1
    assert fanvue["by_kind"]["tip"] == {"count": 8, "gross_minor": 8 * 1999, "net_minor": 8 * 1599}
    # Converted once per (day, currency, kind) subtotal: 8 × 1001 × 1.0837 = 8678.27 → 8678.
    assert fanvue["by_kind"]["paid_message"]["gross_minor"] == 8678
    assert fanvue["views"] == 100 and fanvue["likes"] == 7
    onlyfans = next(r for r in first if r["platform"] == "onlyfans")
    assert onlyfans["net_minor"] == -500 and onlyfans["by_kind"] == {
        "refund": {"count": 1, "gross_minor": -500, "net_minor": -500}}


def test_late_transaction_recomputes_exactly_its_day(alpha) -> None:
    for day in (10, 11, 12):
        f.tx(alpha, paris(2026, 5, day, 15), 1000)
    rollups.recompute(alpha.pk, [date(2026, 5, d) for d in (10, 11, 12)])
    before = {r["day"]: r for r in snapshot_rows()}
    stamps = dict(DailyRollup.objects.values_list("day", "computed_at"))

    f.tx(alpha, paris(2026, 5, 11, 23, 50), 250)
    rollups.recompute(alpha.pk, [date(2026, 5, 11)])
    after = {r["day"]: r for r in snapshot_rows()}
    assert after[date(2026, 5, 10)] == before[date(2026, 5, 10)]
    assert after[date(2026, 5, 12)] == before[date(2026, 5, 12)]
    assert after[date(2026, 5, 11)] == {**before[date(2026, 5, 11)], "gross_minor": 1250, "net_minor": 1250,
                                        "transactions": 2,
                                        "by_kind": {"tip": {"count": 2, "gross_minor": 1250, "net_minor": 1250}}}
    now_stamps = dict(DailyRollup.objects.values_list("day", "computed_at"))
    assert now_stamps[date(2026, 5, 10)] == stamps[date(2026, 5, 10)]
    assert now_stamps[date(2026, 5, 12)] == stamps[date(2026, 5, 12)]
    assert now_stamps[date(2026, 5, 11)] > stamps[date(2026, 5, 11)]


def test_nightly_picks_up_late_data_recorded_after_the_rollup(alpha) -> None:
    f.tx(alpha, paris(2026, 5, 11, 15), 1000)
    rollups.nightly(now=paris(2026, 5, 12, 2, 15))
    assert DailyRollup.objects.get(creator=alpha, day=date(2026, 5, 11)).gross_minor == 1000
    f.tx(alpha, paris(2026, 5, 11, 16), 500)
    again = rollups.nightly(now=paris(2026, 5, 13, 2, 15))
    assert again["late_days"] == 1
    assert DailyRollup.objects.get(creator=alpha, day=date(2026, 5, 11)).gross_minor == 1500
    assert rollups.nightly(now=paris(2026, 5, 13, 2, 20))["late_days"] == 0


def test_local_day_is_25_hours_when_clocks_go_back(alpha) -> None:
    start, end = rollups.day_bounds(PARIS, date(2026, 10, 25))
    assert end - start == timedelta(hours=25)
    assert rollups.day_bounds(PARIS, date(2026, 3, 29))[1] - rollups.day_bounds(PARIS, date(2026, 3, 29))[0] \
        == timedelta(hours=23)
    f.tx(alpha, datetime(2026, 10, 24, 21, 59, tzinfo=UTC), 1)  # 23:59 on the 24th (CEST)
    f.tx(alpha, datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 10)  # 00:00 on the 25th
    f.tx(alpha, paris(2026, 10, 25, 23, 30), 100)  # 22:30 UTC, after the extra hour
    f.tx(alpha, datetime(2026, 10, 25, 23, 0, tzinfo=UTC), 1000)  # 00:00 on the 26th (CET)
    rollups.recompute(alpha.pk, [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)])
    gross = dict(DailyRollup.objects.filter(creator=alpha).values_list("day", "gross_minor"))
    assert gross == {date(2026, 10, 24): 1, date(2026, 10, 25): 110, date(2026, 10, 26): 1000}


def test_foreign_currency_uses_that_days_rate_and_keeps_the_original(alpha) -> None:
    f.rate("EUR", date(2026, 6, 1), "1.10")
    f.rate("EUR", date(2026, 6, 2), "1.20")
    # 00:30 on 2 June in Paris is still 1 June in UTC: the creator's day decides the rate.
    t = f.tx(alpha, paris(2026, 6, 2, 0, 30), 1000, fee=200, currency="EUR")
    rollups.rollup_day(alpha.pk, date(2026, 6, 2))
    row = DailyRollup.objects.get(creator=alpha, day=date(2026, 6, 2))
    assert (row.gross_minor, row.net_minor) == (1200, 960)
    t.refresh_from_db()
    assert (t.gross_minor, t.net_minor, t.currency) == (1000, 800, "EUR")


def test_missing_rate_skips_and_notifies_once(alpha, creators) -> None:
    beta = creators[1]
    beta.timezone = "America/New_York"
    beta.save()
    f.tx(alpha, paris(2026, 6, 1, 12), 1000, currency="GBP")
    f.tx(beta, datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("America/New_York")), 700)
    now = datetime(2026, 6, 2, 12, tzinfo=UTC)
    result = rollups.nightly(now=now)
    assert "GBP on or before 2026-06-01" in result["errors"][0]
    assert DailyRollup.objects.get(creator=beta).gross_minor == 700
    rollups.nightly(now=now)
    assert Notification.objects.filter(kind="analytics.missing_rate").count() == 1


def test_subscribers_new_churned_and_active(alpha) -> None:
    fans = [f.fan(alpha) for _ in range(4)]
    f.subscription(alpha, fans[0], paris(2026, 4, 1))  # running before the range
    f.subscription(alpha, fans[1], paris(2026, 4, 1), ends_at=paris(2026, 5, 11, 10))  # churns on the 11th
    f.subscription(alpha, fans[2], paris(2026, 5, 10, 23, 59))  # new on the 10th
    f.subscription(alpha, fans[3], paris(2026, 5, 11, 1), ends_at=paris(2026, 5, 11, 20))  # in and out
    rollups.recompute(alpha.pk, [date(2026, 5, 9), date(2026, 5, 10), date(2026, 5, 11), date(2026, 5, 12)])
    got = {r["day"]: (r["new_subscribers"], r["churned_subscribers"], r["active_subscribers"])
           for r in snapshot_rows()}
    assert got == {date(2026, 5, 9): (0, 0, 2), date(2026, 5, 10): (1, 0, 3),
                   date(2026, 5, 11): (1, 2, 2), date(2026, 5, 12): (0, 0, 2)}
    # One day alone agrees with the range.
    rollups.rollup_day(alpha.pk, date(2026, 5, 11))
    row = DailyRollup.objects.get(day=date(2026, 5, 11))
    assert (row.new_subscribers, row.churned_subscribers, row.active_subscribers) == (1, 2, 2)


def test_engagement_is_the_days_delta_and_never_negative(alpha) -> None:
    acc = f.account(alpha, platform="manual", target_platform="onlyfans")
    pub = f.publication(acc, paris(2026, 5, 9, 18))
    f.snapshot(pub, paris(2026, 5, 9, 20), views=100, likes=10)
    f.snapshot(pub, paris(2026, 5, 10, 8), views=150, likes=12)
    f.snapshot(pub, paris(2026, 5, 10, 22), views=400, likes=9)  # the platform recounted likes
    f.snapshot(pub, paris(2026, 5, 11, 9), views=450, likes=11)
    rollups.rollup_day(alpha.pk, date(2026, 5, 10))
    row = DailyRollup.objects.get(day=date(2026, 5, 10))
    assert (row.platform, row.views, row.likes, row.posts_published) == ("onlyfans", 300, 0, 0)
    rollups.recompute(alpha.pk, [date(2026, 5, 9), date(2026, 5, 10), date(2026, 5, 11)])
    got = {r["day"]: (r["views"], r["likes"], r["posts_published"]) for r in snapshot_rows()}
    assert got == {date(2026, 5, 9): (100, 10, 1), date(2026, 5, 10): (300, 0, 0), date(2026, 5, 11): (50, 2, 0)}


def test_day_rollup_query_count_does_not_grow_with_rows(alpha) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            rollups.rollup_day(alpha.pk, date(2026, 5, 10))
        return len(ctx.captured_queries)

    f.tx(alpha, paris(2026, 5, 10, 9), 100, currency="USD")
    small = queries()
    fan = f.fan(alpha)
    acc = f.account(alpha)
    for i in range(30):
        f.tx(alpha, paris(2026, 5, 10, 10, i), 100, kind=["tip", "pack", "renewal"][i % 3], fan=fan)
        f.subscription(alpha, f.fan(alpha), paris(2026, 5, 10, 11, i))
        f.snapshot(f.publication(acc, paris(2026, 5, 10, 12, i)), paris(2026, 5, 10, 13, i), likes=i)
    assert queries() == small


def test_segments(alpha, creators) -> None:
    now = paris(2026, 6, 1, 3)
    old = now - timedelta(days=200)
    whale, regular, new, at_risk_renew, at_risk_silent, churned = (f.fan(alpha, first_seen=old, last_seen=old)
                                                                   for _ in range(6))
    for fan in (whale, regular, at_risk_renew, at_risk_silent):
        fan.last_seen = now - timedelta(days=2)
        fan.save()
    at_risk_silent.last_seen = now - timedelta(days=45)
    at_risk_silent.save()
    new.first_seen = new.last_seen = now - timedelta(days=3)
    new.save()
    f.subscription(alpha, whale, old)
    f.subscription(alpha, regular, old)
    f.subscription(alpha, at_risk_renew, old, auto_renew=False)
    f.subscription(alpha, at_risk_silent, old)
    f.subscription(alpha, churned, old, ends_at=now - timedelta(days=5))
    f.rate("EUR", old.date(), "1.5")
    f.tx(alpha, now - timedelta(days=10), 90_000, fee=18_000, fan=whale)
    f.tx(alpha, now - timedelta(days=9), 10_000, currency="EUR", fan=whale)  # 15,000 in USD
    f.tx(alpha, now - timedelta(days=8), -2_000, kind="refund", fan=whale)
    f.tx(alpha, now - timedelta(days=10), 500, fan=regular)
    others = [f.fan(alpha, first_seen=old, last_seen=old) for _ in range(18)]
    for i, fan in enumerate(others):
        f.tx(alpha, now - timedelta(days=20), 100 + i, fan=fan)

    result = segments.refresh(creator_ids=[alpha.pk], now=now)
    assert result["spend_changed"] == 20
    whale.refresh_from_db()
    assert whale.lifetime_spend_minor == 72_000 + 15_000 - 2_000
    assert whale.last_seen == now - timedelta(days=2)
    got = dict(Fan.objects.filter(pk__in=[whale.pk, regular.pk, new.pk, at_risk_renew.pk, at_risk_silent.pk,
                                          churned.pk]).values_list("pk", "segment"))
    assert got == {whale.pk: "whale", regular.pk: "regular", new.pk: "new", at_risk_renew.pk: "at_risk",
                   at_risk_silent.pk: "at_risk", churned.pk: "churned"}
    # Twenty paying fans: the top 5 % is exactly one.
    assert Fan.objects.filter(creator=alpha, segment="whale").count() == 1
    assert segments.refresh(creator_ids=[alpha.pk], now=now) == {"spend_changed": 0, "segment_changed": 0}


def test_whale_from_setting(alpha, settings) -> None:
    settings.ANALYTICS_WHALE_MIN_SPEND_MINOR = 5_000
    now = paris(2026, 6, 1, 3)
    fans = [f.fan(alpha, first_seen=now - timedelta(days=100)) for _ in range(3)]
    for fan, amount in zip(fans, (50_000, 6_000, 4_000), strict=True):
        f.tx(alpha, now - timedelta(days=1), amount, fan=fan)
    segments.refresh(creator_ids=[alpha.pk], now=now)
    assert [Fan.objects.get(pk=fan.pk).segment for fan in fans] == ["whale", "whale", "regular"]


def test_best_hours_use_local_time_and_latest_reading(alpha, creators) -> None:
    now = paris(2026, 6, 1, 3)
    acc = f.account(alpha)
    monday_9 = f.publication(acc, paris(2026, 5, 25, 9, 15))  # a Monday, 07:15 UTC
    f.snapshot(monday_9, paris(2026, 5, 25, 12), likes=5)
    f.snapshot(monday_9, paris(2026, 5, 27, 12), likes=20, comments=3, shares=1, purchases=1, views=999)
    other_monday_9 = f.publication(acc, paris(2026, 5, 18, 9, 45))
    f.snapshot(other_monday_9, paris(2026, 5, 19, 12), likes=4)
    f.publication(acc, paris(2026, 5, 30, 21))  # Saturday, no reading yet
    f.publication(acc, now - timedelta(days=120))  # outside the window
    assert rollups.refresh_posting_hours(now=now) == 2
    cells = {(p.weekday, p.hour): (p.publications, p.engagement) for p in PostingHour.objects.filter(account=acc)}
    assert cells == {(0, 9): (2, 29), (5, 21): (1, 0)}
    rollups.refresh_posting_hours(now=now)
    assert PostingHour.objects.filter(account=acc).count() == 2


def test_rebuild_equals_day_by_day(alpha, creators) -> None:
    beta = creators[1]
    beta.timezone = "Asia/Tokyo"
    beta.save()
    f.rate("EUR", date(2026, 1, 1), "1.1")
    f.rate("EUR", date(2026, 2, 15), "1.2")
    fan = f.fan(alpha)
    f.subscription(alpha, fan, paris(2026, 1, 20), ends_at=paris(2026, 3, 2))
    acc = f.account(beta)
    for i in range(60):
        day = paris(2026, 1, 15, 12) + timedelta(days=i, hours=i % 13)
        f.tx(alpha, day, 100 + i, currency="EUR" if i % 2 else "USD", fan=fan)
        f.tx(beta, day, 200 + i, kind="pack")
        if i % 5 == 0:
            pub = f.publication(acc, day)
            f.snapshot(pub, day + timedelta(hours=3), likes=i)
    result = rollups.rebuild(start=date(2026, 1, 10), end=date(2026, 3, 20))
    assert result["chunks"] == 6
    rebuilt = snapshot_rows()
    DailyRollup.objects.all().delete()
    for creator in (alpha, beta):
        for n in range(70):
            rollups.rollup_day(creator.pk, date(2026, 1, 10) + timedelta(days=n))
    assert snapshot_rows() == rebuilt
    call_command("analytics_rebuild", "--creator", str(alpha.pk), verbosity=0)
    assert snapshot_rows(alpha.pk) == [r for r in rebuilt if r["creator_id"] == alpha.pk]


def test_late_days_use_each_creators_own_day(alpha, creators) -> None:
    beta = creators[1]
    beta.timezone = "America/New_York"
    beta.save()
    instant = datetime(2026, 5, 11, 23, 30, tzinfo=UTC)  # 01:30 on the 12th in Paris, 19:30 on the 11th in New York
    f.tx(alpha, instant, 100)
    f.tx(beta, instant, 100)
    since = instant - timedelta(days=1)
    before = {alpha.pk: date(2026, 5, 20), beta.pk: date(2026, 5, 20)}
    assert rollups.late_days(since, before) == {alpha.pk: [date(2026, 5, 12)], beta.pk: [date(2026, 5, 11)]}
    assert rollups.late_days(since, {alpha.pk: date(2026, 5, 12), beta.pk: date(2026, 5, 12)}) == {
        beta.pk: [date(2026, 5, 11)]}
