"""Admin at scale: the publication changelist and the calendar over 1,000,000 publications.

    .venv/bin/python -m bench.admin_scale [N]        (default: 1000000)

Builds `atelier_bench_admin` on PostgreSQL at 127.0.0.1 (dropped and recreated): 100 creators
with 4 accounts each, N publications spread over three years (past ones published or failed,
future ones scheduled). Then renders each page in-process through Django's test client as the
agency owner (sees everything) and as an account manager of 3 creators, and reports the median
server time of 5 renders and the number of SQL queries.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/atelier_bench_admin",
    "DEBUG": "0",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
    "ALLOWED_HOSTS": "testserver,localhost",
    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
    "ATELIER_VAR_DIR": str(ROOT / "var" / "bench"),
    "ATELIER_REQUIRE_2FA": "0",
    "LOG_LEVEL": "WARNING",
}
CREATORS, ACCOUNTS_PER_CREATOR = 100, 4


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


CREATORS_SQL = """
INSERT INTO accounts_creator (stage_name, slug, kind, timezone, language, status, four_eyes_review, created_at,
                              voice_notes)
  SELECT 'Creator ' || i, 'creator-' || i, 'human',
         (ARRAY['Europe/Paris','America/New_York','Europe/London','Asia/Tokyo'])[1 + i % 4], 'en', 'active',
         false, now(), ''
  FROM generate_series(1, {creators}) i;
INSERT INTO scheduling_platformaccount (creator_id, platform, target_platform, handle, external_id,
    credentials_encrypted, state, max_rating, options, last_error, scopes, refresh_failures, created_at)
  SELECT c.id, (ARRAY['fanvue','x','reddit','bluesky'])[a], '', 'acct' || c.id || '_' || a, '', '',
         'connected', '', '{{}}', '', '', 0, now()
  FROM accounts_creator c, generate_series(1, {accounts}) a;
INSERT INTO scheduling_post (creator_id, caption, version, created_at, updated_at, approved_at, currency)
  SELECT 1 + (i % {creators}), 'Post ' || i || ' - new set, link in bio', 1, now(), now(), now(), ''
  FROM generate_series(0, {posts}) i;
"""
# Each post goes to its creator's 4 accounts; due times spread over 2025-01-01 ... 2027-12-31.
PUBLICATIONS_SQL = """
INSERT INTO scheduling_publication (post_id, creator_id, account_id, caption_override, scheduled_at, status,
    attempts, idempotency_key, external_id, external_url, last_error, block_reasons, created_at, export_file)
  SELECT p.id, p.creator_id, a.id, '',
         timestamptz '2025-01-01' + ((p.id * 7919) % (3 * 365 * 24 * 60)) * interval '1 minute',
         CASE WHEN timestamptz '2025-01-01' + ((p.id * 7919) % (3 * 365 * 24 * 60)) * interval '1 minute' > now()
              THEN 'scheduled' WHEN p.id % 50 = 0 THEN 'failed' ELSE 'published' END,
         1, md5(p.id || ':' || a.id)::uuid, '', '', '', '[]', now(), ''
  FROM scheduling_post p JOIN scheduling_platformaccount a ON a.creator_id = p.creator_id;
"""


def prepare(n: int) -> None:
    psql("DROP DATABASE IF EXISTS atelier_bench_admin")
    psql("CREATE DATABASE atelier_bench_admin")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], check=True, cwd=ROOT,
                   env={**os.environ, **ENV})
    db = "atelier_bench_admin"
    psql(CREATORS_SQL.format(creators=CREATORS, accounts=ACCOUNTS_PER_CREATOR,
                             posts=n // ACCOUNTS_PER_CREATOR - 1), db)
    psql(PUBLICATIONS_SQL, db)
    psql("VACUUM ANALYZE", db)


def setup_django() -> None:
    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def measure(client: object, url: str, runs: int = 5) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, status = [], 0, 0
    client.get(url, secure=True)  # warm caches (templates, statistics)
    for _ in range(runs):
        with CaptureQueriesContext(connection) as q:
            start = time.perf_counter()
            response = client.get(url, secure=True)
            times.append(time.perf_counter() - start)
        queries, status = len(q.captured_queries), response.status_code
    return statistics.median(times) * 1000, queries, status


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.monotonic()
    if os.environ.get("BENCH_REUSE") != "1":  # BENCH_REUSE=1: measure again on the existing database
        prepare(n)
    build = time.monotonic() - t0
    setup_django()
    from django.test import Client

    from accounts import services as accounts
    from accounts.models import Creator, Role, User
    from scheduling.models import PlatformAccount, Publication

    owner, _ = User.objects.get_or_create(username="owner", defaults={"is_staff": True, "is_superuser": True})
    manager, created = User.objects.get_or_create(username="manager", defaults={"is_staff": True})
    mine = list(Creator.objects.order_by("pk")[:3])
    for creator in mine if created else []:
        accounts.add_membership(user=manager, creator=creator, role=Role.MANAGER, actor=owner)
    account = PlatformAccount.objects.filter(creator=mine[0]).first()
    total = Publication.objects.count()
    print(f"{total:,} publications, {CREATORS} creators × {ACCOUNTS_PER_CREATOR} accounts, built in {build:.0f} s")
    month, week = "2026-11-01", "2026-11-23"
    pages = [
        ("changelist", "/admin/scheduling/publication/"),
        ("changelist, status=scheduled", "/admin/scheduling/publication/?status__exact=scheduled"),
        ("changelist, one creator", f"/admin/scheduling/publication/?creator={mine[0].pk}"),
        ("changelist, page 50", "/admin/scheduling/publication/?p=50"),
        # With more than 12 creators in reach the calendar opens on one creator (a redirect).
        ("calendar, no filter", f"/admin/scheduling/publication/calendar/?date={month}"),
        ("calendar month, one creator", f"/admin/scheduling/publication/calendar/?date={month}&creator={mine[0].pk}"),
        ("calendar week, one creator",
         f"/admin/scheduling/publication/calendar/?view=week&date={week}&creator={mine[0].pk}"),
        ("calendar month, one account", f"/admin/scheduling/publication/calendar/?date={month}&account={account.pk}"),
    ]
    print("| page | as | server time (median of 5) | queries | status |")
    print("|---|---|---:|---:|---:|")
    for who, user in (("owner", owner), ("manager", manager)):
        client = Client()
        client.force_login(user)
        for name, url in pages:
            ms, queries, status = measure(client, url)
            print(f"| {name} | {who} | {ms:.0f} ms | {queries} | {status} |", flush=True)


if __name__ == "__main__":
    main()
