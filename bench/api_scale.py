"""API lists at scale: the first page and a deep cursor page of every `/api/v1/` list endpoint.

    .venv/bin/python -m bench.api_scale                  # builds atelier_bench_api on first use, then measures
    .venv/bin/python -m bench.api_scale --rebuild        # drop the database and build it again
    .venv/bin/python -m bench.api_scale --only publications,transactions --runs 9

Data (PostgreSQL at 127.0.0.1, built once with `INSERT … SELECT` and kept between runs):
`bench.admin_scale`'s 100 creators × 4 accounts and 1,000,000 publications over 2025–2027;
`bench.rollups`' fan, subscription and transaction generators at 1,000,000 fans, 1,000,000
subscriptions and 10,000,000 transactions; two metric snapshots per published publication
(1.26 M); and enough rows in every other listed table that an all-creators key has 20 pages to
walk (assets, notifications, generation jobs, rollups…).

Every list endpoint is discovered from the `/api/v1/` router. Each one is requested in-process
through Django's test client (full middleware, API-key authentication, tenancy, filters, JSON
rendering) with two read keys of the agency owner: one scoped to all 100 creators, one to 3.
For each: the first page, and the page 20 `next` links in (or the deepest there is). Reported:
median server time of `--runs` requests after one warm-up, SQL queries per request, and the
EXPLAIN ANALYZE of the slowest query of the slowest request. Then the admin changelists of
publications and metric snapshots (the two tables that carry a copied creator), as the owner and
as a manager of 3 creators.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import admin_scale, rollups  # noqa: E402  (bench modules run as scripts; ROOT first)

DB = "atelier_bench_api"
CREATORS = admin_scale.CREATORS
PUBLICATIONS = 1_000_000
FANS = 1_000_000
SUBSCRIPTIONS = 1_000_000
TRANSACTIONS = 10_000_000
DEEP_PAGES = 20
GOAL_MS = 40.0

# Rows for the smaller lists: per creator unless said otherwise. Enough for 20 pages of 50 with
# the all-creators key; the 3-creator key walks as deep as its share goes.
EXTRAS_SQL = {
    "performers": """
        INSERT INTO compliance_performer (legal_name, date_of_birth, country, email, phone, status, notes, created_at,
                                          erasure_reason)
          SELECT 'Performer ' || g, date '1990-01-01' + g, 'FR', '', '', 'active', '', now(), ''
          FROM generate_series(1, 10 * {creators}) g;
        INSERT INTO compliance_creatorperformer (creator_id, performer_id, relation)
          SELECT c.id, p.id, 'collaborator'
          FROM compliance_performer p
          JOIN accounts_creator c ON c.id = (SELECT min(id) FROM accounts_creator) + p.id % {creators}""",
    "takedowns": """
        INSERT INTO compliance_takedownrequest (kind, requester_name, requester_contact, signature,
            content_description, content_locations, non_consent_statement, received_at, due_at, status, closed_at,
            resolution, created_at, creator_id)
          SELECT 'take_it_down', 'Requester ' || g, 'r' || g || '@example.test', 'R.', 'a photo',
                 'https://x.test/' || g, 'I did not consent.', now() - g * interval '1 hour',
                 now() - g * interval '1 hour' + interval '48 hours',
                 CASE WHEN g > 50 THEN 'closed' ELSE 'open' END, NULL, '', now() - g * interval '1 hour',
                 (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 100 * {creators}) g""",
    "assets": """
        INSERT INTO content_asset (file, original_name, kind, mime, sha256, size_bytes, width, height, duration_s,
            codecs, rating, origin, ai_marker, disclosure_label, provenance_present, title, notes, production_date,
            no_real_person_attested, status, submitted_at, reviewed_at, review_reason, processing, processing_error,
            created_at, creator_id)
          SELECT 'assets/bench/' || g || '.jpg', 'photo' || g || '.jpg', 'image', 'image/jpeg',
                 md5(g::text) || md5((-g)::text), 2500000, 4000, 3000, NULL, '{{}}', 'sfw', 'upload', '', '', false,
                 'Photo ' || g, '', NULL, false, 'approved', now(), now(), '', 'ready', '',
                 now() - g * interval '1 minute', (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 1000 * {creators}) g""",
    "collections": """
        INSERT INTO content_collection (kind, title, description, price_minor, currency, created_at, creator_id)
          SELECT 'folder', 'Set ' || g, '', NULL, '', now(), (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 50 * {creators}) g""",
    "prompt templates": """
        INSERT INTO content_prompttemplate (name, rating, prompt, style, negative_prompt, voice_guide, width, height,
            steps, count, active, created_at, creator_id)
          SELECT 'Template ' || g, 'sfw', 'a portrait by the sea', '', '', '', 832, 1216, 30, 1, true, now(),
                 (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 20 * {creators}) g""",
    "generation jobs": """
        INSERT INTO content_generationjob (kind, prompt, variables, negative_prompt, params, rating, status,
            cancel_requested, attempts, path, texts, notes, error, tokens_in, tokens_out, currency, created_at,
            creator_id)
          SELECT 'image', 'a portrait by the sea ' || g, '{{}}', '', '{{}}', 'sfw', 'succeeded', false, 1, '', '[]',
                 '[]', '', 0, 0, '', now() - g * interval '1 minute',
                 (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 1000 * {creators}) g""",
    "generation usage": """
        INSERT INTO content_generationusage (backend_name, kind, images, tokens_in, tokens_out, seconds, cost_minor,
            currency, at, creator_id)
          SELECT 'comfy', 'image', 1, 0, 0, 12.5, 3, 'USD', now() - g * interval '1 minute',
                 (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 1000 * {creators}) g""",
    "queue slots": """
        INSERT INTO scheduling_queueslot (account_id, weekday, time)
          SELECT a.id, d, time '18:00' FROM scheduling_platformaccount a, generate_series(0, 6) d""",
    "webhook endpoints": """
        INSERT INTO notifications_webhookendpoint (name, url, secret_encrypted, events, active, created_at,
            last_error, creator_id)
          SELECT 'Endpoint ' || g, 'https://hooks.example.test/' || g, '', '[]', true, now(), '',
                 (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 5 * {creators}) g""",
    "notifications": """
        INSERT INTO notifications_notification (kind, level, title, body, link, subject, dedupe_key, payload,
            created_at, creator_id)
          SELECT 'publication.failed', 'warning', 'Publication ' || g || ' failed', '', '', '', '', '{{}}',
                 now() - g * interval '1 minute', (SELECT min(id) FROM accounts_creator) + g % {creators}
          FROM generate_series(1, 2000 * {creators}) g""",
    "webhook receivers": """
        INSERT INTO analytics_webhookreceiver (account_id, token, secret_encrypted, created_at)
          SELECT a.id, md5('receiver' || a.id), '', now() FROM scheduling_platformaccount a""",
    "metric snapshots": """
        INSERT INTO analytics_metricsnapshot (publication_id, creator_id, taken_at, views, likes, comments, shares,
            clicks, purchases)
          SELECT p.id, p.creator_id, p.scheduled_at + k * interval '8 hours', k * 100, k * 9, k * 2, k, k * 3, k / 3
          FROM scheduling_publication p CROSS JOIN generate_series(1, 2) k WHERE p.status = 'published'""",
    "daily rollups": """
        INSERT INTO analytics_dailyrollup (creator_id, platform, day, gross_minor, net_minor, by_kind, transactions,
            new_subscribers, churned_subscribers, active_subscribers, posts_published, views, likes, comments,
            shares, clicks, purchases, computed_at)
          SELECT c.id, p, d::date, 10000, 8000, '{{}}', 20, 1, 1, 300, 3, 1000, 90, 9, 3, 30, 2, now()
          FROM accounts_creator c, unnest(ARRAY['fanvue', 'onlyfans']) p,
               generate_series(date '2025-01-01', date '2027-12-31', interval '1 day') d""",
}
# Which table shows that a step has run (every step is skipped when its rows are there).
EXTRAS_TABLE = {
    "performers": "compliance_performer", "takedowns": "compliance_takedownrequest", "assets": "content_asset",
    "collections": "content_collection", "prompt templates": "content_prompttemplate",
    "generation jobs": "content_generationjob", "generation usage": "content_generationusage",
    "queue slots": "scheduling_queueslot", "webhook endpoints": "notifications_webhookendpoint",
    "notifications": "notifications_notification", "webhook receivers": "analytics_webhookreceiver",
    "daily rollups": "analytics_dailyrollup", "metric snapshots": "analytics_metricsnapshot",
}
# Admin changelists over the two tables that carry a copied creator, as the owner and as a
# manager of 3 creators (tenancy filters on that column).
ADMIN_PAGES = ["/admin/scheduling/publication/", "/admin/scheduling/publication/?p=50",
               "/admin/analytics/metricsnapshot/", "/admin/analytics/metricsnapshot/?p=50"]
# Lists that need query parameters to answer at all: a month of the calendar.
REQUIRED_PARAMS = {"calendar": "start=2026-11-01&end=2026-12-01"}
# A few filtered lists that integrations use, measured beside the plain ones.
FILTERED = [
    ("publications", "status=scheduled"),
    ("publications", "creator={first}"),
    ("transactions", "creator={first}"),
    ("fans", "creator={first}"),
    ("calendar", "start=2026-11-23&end=2026-11-30&creator={first}"),
]


def database_exists() -> bool:
    import subprocess

    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
                          f"SELECT 1 FROM pg_database WHERE datname = '{DB}'"],  # noqa: S608  (a constant)
                         capture_output=True, text=True,
                         check=True)
    return out.stdout.strip() == "1"


def setup_django() -> None:
    admin_scale.ENV["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
    admin_scale.setup_django()


def timed(label: str, sql: str, params: dict[str, Any] | None = None) -> None:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in (s for s in sql.split(";\n") if s.strip()):
            cursor.execute(statement, params)
    print(f"  {label}: {time.perf_counter() - t0:.1f} s", flush=True)


def rows_in(table: str) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608  (a table name from this module)
        return cursor.fetchone()[0]


def build() -> None:
    """Each step runs only if its table is still empty, so an interrupted build resumes."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    built = False
    if not rows_in("scheduling_publication"):
        timed("creators, accounts, posts", admin_scale.CREATORS_SQL.format(
            creators=CREATORS, accounts=admin_scale.ACCOUNTS_PER_CREATOR,
            posts=PUBLICATIONS // admin_scale.ACCOUNTS_PER_CREATOR - 1))
        timed(f"{PUBLICATIONS:,} publications", admin_scale.PUBLICATIONS_SQL)
        built = True
    params = {"first_creator": first_creator_id(), "creators": CREATORS, "fans": FANS, "last_fan": FANS - 1,
              "last_subscription": SUBSCRIPTIONS - 1, "transactions": TRANSACTIONS}
    timed("seed", "SELECT setseed(0.42)")
    for label, table, sql in (("fans", "analytics_fan", rollups.FANS_SQL),
                              ("subscriptions", "analytics_subscription", rollups.SUBSCRIPTIONS_SQL),
                              ("transactions", "analytics_transaction", rollups.TRANSACTIONS_SQL)):
        if not rows_in(table):
            timed(label, sql, params)
            built = True
    for label, sql in EXTRAS_SQL.items():
        if not rows_in(EXTRAS_TABLE[label]):
            timed(label, sql.format(creators=CREATORS))
            built = True
    if built:
        timed("vacuum analyze", "VACUUM ANALYZE")


def first_creator_id() -> int:
    from accounts.models import Creator

    return Creator.objects.order_by("pk").values_list("pk", flat=True).first()


@dataclass
class Measure:
    endpoint: str
    key: str
    page: str
    ms: float
    queries: int
    rows: int
    status: int
    slowest_sql: str
    slowest_ms: float


def keys() -> dict[str, str]:
    """Two read keys of the agency owner, issued afresh each run (their secrets are shown once)."""
    from accounts import services
    from accounts.models import ApiKey, Creator, User

    owner, _ = User.objects.get_or_create(username="bench-api-owner",
                                          defaults={"is_staff": True, "is_superuser": True})
    for key in ApiKey.objects.filter(owner=owner, revoked_at__isnull=True):
        services.revoke_api_key(key, actor=owner)
    creators = list(Creator.objects.order_by("pk"))
    return {
        f"all {len(creators)} creators": services.issue_api_key(owner=owner, name="bench: all creators",
                                                                creators=creators).raw,
        "3 creators": services.issue_api_key(owner=owner, name="bench: 3 creators", creators=creators[:3]).raw,
    }


def list_endpoints() -> list[tuple[str, str]]:
    """(name, path) of every viewset on the `/api/v1/` router that answers a list."""
    from django.urls import reverse

    from config.api_urls import router

    return [(prefix, reverse(f"{basename}-list")) for prefix, viewset, basename in router.registry
            if hasattr(viewset, "list")]


def get(client: Any, url: str, raw_key: str) -> Any:
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_key}", secure=True)


def measure(client: Any, name: str, key_name: str, page: str, url: str, raw_key: str, runs: int) -> Measure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get(client, url, raw_key)  # warm-up: planner statistics, caches, the key's last_used_at touch
    samples = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = get(client, url, raw_key)
            elapsed = (time.perf_counter() - start) * 1000
        samples.append((elapsed, captured.captured_queries, response))
    samples.sort(key=lambda s: s[0])
    _, queries, response = samples[len(samples) // 2]
    slowest = max(queries, key=lambda q: float(q["time"]), default={"sql": "", "time": "0"})
    body = response.json() if response.status_code == 200 else {}
    rows = len(body.get("results", body) if isinstance(body, dict) else body)
    return Measure(name, key_name, page, statistics.median(s[0] for s in samples), len(queries), rows,
                   response.status_code, slowest["sql"], float(slowest["time"]) * 1000)


def deep_url(client: Any, url: str, raw_key: str) -> tuple[str, int]:
    """Follow `next` up to DEEP_PAGES times; the URL of the deepest page reached and its number."""
    page = 1
    while page <= DEEP_PAGES:
        response = get(client, url, raw_key)
        body = response.json() if response.status_code == 200 else None
        following = body.get("next") if isinstance(body, dict) else None
        if not following:
            break
        parts = urlsplit(following)
        url = f"{parts.path}?{parts.query}"
        page += 1
    return url, page


def admin_pages() -> None:
    from django.test import Client

    from accounts import services
    from accounts.models import Creator, Role, User

    owner = User.objects.get(username="bench-api-owner")
    manager, created = User.objects.get_or_create(username="bench-api-manager", defaults={"is_staff": True})
    for creator in Creator.objects.order_by("pk")[:3] if created else []:
        services.add_membership(user=manager, creator=creator, role=Role.MANAGER, actor=owner)
    print("\n| admin page | as | median ms | queries | status |\n|---|---|---:|---:|---:|")
    for who, user in (("owner", owner), ("manager of 3 creators", manager)):
        client = Client()
        client.force_login(user)
        for url in ADMIN_PAGES:
            ms, queries, status = admin_scale.measure(client, url)
            print(f"| {url} | {who} | {ms:.0f} | {queries} | {status} |", flush=True)


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="Drop atelier_bench_api and build it again.")
    parser.add_argument("--runs", type=int, default=7, help="Timed requests per page (median reported).")
    parser.add_argument("--only", default="", help="Comma-separated endpoint names (router prefixes).")
    args = parser.parse_args()
    if args.rebuild or not database_exists():
        admin_scale.psql(f"DROP DATABASE IF EXISTS {DB}")
        admin_scale.psql(f"CREATE DATABASE {DB}")
    setup_django()
    t0 = time.monotonic()
    build()
    print(f"database ready in {time.monotonic() - t0:.0f} s", flush=True)

    from django.test import Client

    from analytics.models import Fan, Transaction
    from scheduling.models import Publication

    print(f"{Publication.objects.count():,} publications, {Transaction.objects.count():,} transactions, "
          f"{Fan.objects.count():,} fans", flush=True)
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    only = {name for name in args.only.split(",") if name}
    first = first_creator_id()
    targets = [(name, path, REQUIRED_PARAMS.get(name, "")) for name, path in list_endpoints()
               if not only or name in only]
    targets += [(name, path, query.format(first=first)) for name, query in FILTERED
                for n, path in list_endpoints() if n == name and (not only or name in only)]
    client = Client()
    results: list[Measure] = []
    print("| endpoint | key | page | median ms | queries | rows | status |")
    print("|---|---|---|---:|---:|---:|---:|")
    for key_name, raw_key in keys().items():
        for name, path, query in targets:
            label = f"{name}?{query}" if query else name
            url = f"{path}?{query}" if query else path
            deep, number = deep_url(client, url, raw_key)
            pages = [("first", url)] + ([(f"page {number}", deep)] if number > 1 else [])
            for page, page_url in pages:
                m = measure(client, label, key_name, page, page_url, raw_key, args.runs)
                results.append(m)
                flag = "" if m.ms <= GOAL_MS else " ⚠"
                print(f"| {m.endpoint} | {m.key} | {m.page} | {m.ms:.1f}{flag} | {m.queries} | {m.rows} "
                      f"| {m.status} |", flush=True)
    if not only:
        admin_pages()
    print("\nload average at end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    worst = max(results, key=lambda m: m.ms)
    over = [m for m in results if m.ms > GOAL_MS]
    print(f"\n{len(results)} pages measured, {len(over)} over {GOAL_MS:.0f} ms; slowest: {worst.endpoint}, "
          f"{worst.key}, {worst.page}: {worst.ms:.1f} ms (its slowest query {worst.slowest_ms:.1f} ms)")
    if worst.slowest_sql:
        print(f"\nEXPLAIN ANALYZE of that query:\n{worst.slowest_sql}\n\n{explain(worst.slowest_sql)}")


if __name__ == "__main__":
    main()
