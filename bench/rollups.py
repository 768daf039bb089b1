"""Rollup benchmark: 10,000,000 transactions and 1,000,000 metric snapshots over the last year,
100 creators in five timezones; times the nightly rollup of one day and a full rebuild.

    .venv/bin/python -m bench.rollups [--transactions N] [--snapshots N] [--keep]

Needs PostgreSQL at 127.0.0.1:5432: database `atelier_bench_rollups` is dropped and recreated
(with --keep, an existing generated database is reused and only the timings run again).
Rows are generated server-side with INSERT … SELECT generate_series, seeded, so two runs build
the same data.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DB = "atelier_bench_rollups"
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "DEBUG": "0",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
    "ALLOWED_HOSTS": "localhost",
    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
    "ATELIER_VAR_DIR": str(ROOT / "var" / "bench"),
    "ANALYTICS_CURRENCY": "USD",
    "LOG_LEVEL": "WARNING",
}
CREATORS = 100
FANS_PER_CREATOR = 2_000
SUBSCRIPTIONS = 300_000
PUBLICATIONS = 100_000
TIMEZONES = ["Europe/Paris", "America/New_York", "UTC", "Asia/Tokyo", "America/Los_Angeles"]


# Shared with bench.api_scale: fans, their subscriptions and their transactions, generated server-side.
FANS_SQL = """
            INSERT INTO analytics_fan (creator_id, platform, external_id, handle, first_seen, last_seen,
                                       lifetime_spend_minor, segment, tags, notes)
            SELECT %(first_creator)s + (g %% %(creators)s), CASE WHEN g %% 3 = 0 THEN 'onlyfans' ELSE 'fanvue' END,
                   'f' || g, 'fan' || g, now() - interval '400 days', now() - interval '400 days', 0, 'new',
                   '[]', ''
            FROM generate_series(0, %(last_fan)s) g"""
SUBSCRIPTIONS_SQL = """
            INSERT INTO analytics_subscription (creator_id, fan_id, account_id, platform, external_id, started_at,
                                                ends_at, price_minor, currency, auto_renew, trial, cancelled_at)
            SELECT f.creator_id, f.id, NULL, f.platform, 's' || g, s.started,
                   CASE WHEN random() < 0.4 THEN s.started + random() * interval '120 days' END,
                   999, 'USD', random() < 0.8, false, NULL
            FROM generate_series(0, %(last_subscription)s) g
            JOIN analytics_fan f ON f.external_id = 'f' || (g %% %(fans)s)
            CROSS JOIN LATERAL (SELECT now() - random() * interval '365 days' + g * interval '0 s'
                                AS started) s"""
TRANSACTIONS_SQL = """
            INSERT INTO analytics_transaction (creator_id, account_id, platform, fan_id, publication_id, kind,
                                               gross_minor, fee_minor, net_minor, currency, occurred_at,
                                               external_id, source, created_at)
            SELECT f.creator_id, NULL, f.platform, f.id, NULL, t.kind,
                   CASE WHEN t.kind IN ('refund', 'chargeback') THEN -t.gross ELSE t.gross END,
                   CASE WHEN t.kind IN ('refund', 'chargeback') THEN -t.gross / 5 ELSE t.gross / 5 END,
                   CASE WHEN t.kind IN ('refund', 'chargeback') THEN -t.gross + t.gross / 5
                        ELSE t.gross - t.gross / 5 END,
                   t.currency, t.at, 'b' || g, 'import', t.at + interval '5 minutes'
            FROM generate_series(1, %(transactions)s) g
            CROSS JOIN LATERAL (SELECT
                (ARRAY['subscription', 'renewal', 'tip', 'tip', 'paid_message', 'paid_message', 'paid_post',
                       'pack', 'referral', 'refund', 'chargeback'])[1 + floor(random() * 11)::int
                                                                   + 0 * g] AS kind,
                (100 + floor(random() * 5000))::bigint AS gross,
                CASE WHEN random() < 0.8 THEN 'USD' WHEN random() < 0.75 THEN 'EUR' ELSE 'GBP' END AS currency,
                now() - random() * interval '365 days' AS at,
                floor(random() * %(fans)s)::int + 1 AS fan_n) t
            JOIN analytics_fan f ON f.id = t.fan_n + (SELECT min(id) - 1 FROM analytics_fan)"""


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def prepare() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], check=True, cwd=ROOT,
                   env={**os.environ, **ENV})


def setup_django() -> None:
    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    print(f"  {label}: {elapsed:.2f} s  {result if result is not None else ''}", flush=True)
    return elapsed, result


def generate(transactions: int, snapshots: int) -> None:
    """Creators and accounts through the ORM (a few hundred rows), the rest in SQL."""
    from django.db import connection

    from accounts.models import Creator
    from scheduling.models import PlatformAccount

    creators = Creator.objects.bulk_create([
        Creator(stage_name=f"Bench {i}", slug=f"bench-{i}", status="active", timezone=TIMEZONES[i % len(TIMEZONES)])
        for i in range(CREATORS)])
    PlatformAccount.objects.bulk_create(
        [PlatformAccount(state="connected", creator=c, platform="fanvue", handle=f"fv{c.pk}") for c in creators]
        + [PlatformAccount(state="connected",
                           creator=c, platform="manual", target_platform="onlyfans", handle=f"of{c.pk}")
           for c in creators])
    first_creator = min(c.pk for c in creators)
    fans = CREATORS * FANS_PER_CREATOR
    per_snapshot = max(1, snapshots // PUBLICATIONS)
    steps = [
        ("seed", "SELECT setseed(0.42)"),
        ("exchange rates", """
            INSERT INTO analytics_exchangerate (currency, day, rate, source)
            SELECT c, d::date, CASE c WHEN 'EUR' THEN 1.05 + 0.1 * random() ELSE 1.2 + 0.1 * random() END, 'bench'
            FROM unnest(ARRAY['EUR', 'GBP']) c,
                 generate_series(current_date - 400, current_date, interval '1 day') d
            WHERE extract(isodow FROM d) < 6"""),  # no weekend rates: the lookup falls back to Friday
        ("fans", FANS_SQL),
        ("subscriptions", SUBSCRIPTIONS_SQL),
        ("transactions", TRANSACTIONS_SQL),
        ("posts", """
            INSERT INTO scheduling_post (creator_id, caption, collection_id, price_minor, currency, created_by_id,
                                         approved_by_id, approved_at, version, created_at, updated_at)
            SELECT %(first_creator)s + (g %% %(creators)s), 'bench post ' || g, NULL, NULL, '', NULL, NULL, now(), 1,
                   now(), now()
            FROM generate_series(0, %(last_post)s) g"""),
        ("publications", """
            INSERT INTO scheduling_publication (post_id, creator_id, account_id, caption_override, scheduled_at,
                                                status, attempts, next_attempt_at, idempotency_key, lease_expires_at,
                                                external_id, external_url, published_at, removed_at, export_file,
                                                last_error, block_reasons, created_at)
            SELECT p.id, p.creator_id, a.id, '', x.at, 'published', 1, NULL, gen_random_uuid(), NULL, 'e' || p.id, '',
                   x.at, NULL, '', '', '[]', x.at
            FROM scheduling_post p
            JOIN scheduling_platformaccount a ON a.creator_id = p.creator_id
                 AND a.platform = CASE WHEN p.id %% 2 = 0 THEN 'fanvue' ELSE 'manual' END
            CROSS JOIN LATERAL (SELECT now() - random() * interval '365 days' + p.id * interval '0 s'
                                AS at) x"""),
        ("metric snapshots", """
            INSERT INTO analytics_metricsnapshot (publication_id, creator_id, taken_at, views, likes, comments,
                                                  shares, clicks, purchases)
            SELECT p.id, p.creator_id, p.published_at + k * interval '8 hours', k * 100 + (p.id %% 50), k * 9,
                   k * 2, k, k * 3, k / 3
            FROM scheduling_publication p CROSS JOIN generate_series(1, %(per_snapshot)s) k
            WHERE p.published_at + k * interval '8 hours' < now()"""),
        ("analyze", None),
    ]
    params = {"first_creator": first_creator, "creators": CREATORS, "fans": fans, "last_fan": fans - 1,
              "last_subscription": SUBSCRIPTIONS - 1, "transactions": transactions, "last_post": PUBLICATIONS - 1,
              "per_snapshot": per_snapshot}
    with connection.cursor() as cursor:
        for label, sql in steps:
            if sql is None:
                timed(label, lambda: cursor.execute("VACUUM ANALYZE") and None)
            else:
                timed(label, lambda sql=sql: cursor.execute(sql, params) and None)


def counts() -> dict[str, int]:
    from analytics.models import Fan, MetricSnapshot, Subscription, Transaction
    from scheduling.models import Publication

    return {m.__name__: m.objects.count() for m in (Transaction, MetricSnapshot, Fan, Subscription, Publication)}


def run(transactions: int, snapshots: int, keep: bool) -> None:
    from django.db import connection, reset_queries
    from django.utils import timezone

    if not keep:
        print("preparing database", flush=True)
        prepare()
    setup_django()
    from analytics import rollups, segments
    from analytics.models import DailyRollup, Transaction

    if not Transaction.objects.exists():
        print("generating", flush=True)
        timed("all generation", lambda: generate(transactions, snapshots))
    print("rows:", counts(), flush=True)
    reset_queries()
    now = timezone.now()
    groups = rollups.creators_by_timezone()

    def one_day() -> int:
        written = 0
        for tz_name, ids in groups.items():
            yesterday = rollups.local_today(ZoneInfo(tz_name), now) - timedelta(days=1)
            written += rollups.replace_range(tz_name, ids, yesterday, yesterday)
        return written

    yesterday_rows = Transaction.objects.filter(occurred_at__gte=now - timedelta(days=2)).count()
    print(f"timings (transactions in the last 48 h: {yesterday_rows})", flush=True)
    results: dict[str, float] = {}
    for attempt in (1, 2, 3):
        results[f"day{attempt}"], _ = timed(f"rollup of yesterday, all {CREATORS} creators (run {attempt})", one_day)
    before = {pk: rollups.local_today(ZoneInfo(tz), now) - timedelta(days=1) for tz, ids in groups.items()
              for pk in ids}
    results["late"], _ = timed("late-data scan (transactions recorded in the last 48 h)", lambda: sum(
        len(days) for days in rollups.late_days(now - timedelta(hours=48), before).values()))
    results["fans_nightly"], _ = timed("fans touched in 48 h: spend + all segments",
                                       lambda: segments.refresh(now=now, since=now - timedelta(hours=48)))
    results["hours"], _ = timed("best hours (90 days)", lambda: rollups.refresh_posting_hours(now=now))
    results["nightly"], _ = timed("whole nightly() (rollup + late days + fans + best hours)",
                                  lambda: rollups.nightly(now=now))
    DailyRollup.objects.all().delete()
    results["rebuild"], _ = timed("full rebuild (all days, all fans, best hours)", rollups.rebuild)
    print(f"rollup rows: {DailyRollup.objects.count()}", flush=True)
    connection.close()
    print("summary:", {k: round(v, 2) for k, v in results.items()}, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Reuse the generated database.")
    args = parser.parse_args()
    run(args.transactions, args.snapshots, args.keep)


if __name__ == "__main__":
    main()
