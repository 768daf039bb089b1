"""The inbox at scale: a chatter's conversation list and a thread over 10,000,000 messages.

    .venv/bin/python -m bench.inbox_scale [MESSAGES]        (default: 10000000)

Builds `atelier_bench_inbox` on PostgreSQL at 127.0.0.1 (dropped and recreated): 100 creators with a
Fanvue account each, MESSAGES / 10 fans with one conversation each, ten messages per conversation (fans
and chatters alternating, every fifth outgoing message priced, one in four of those bought). A chatter is
a member of 3 creators. Then renders the chatter's inbox pages in-process through Django's test client
and reports the median server time of 5 renders and the number of SQL queries
(target: ≤ 100 ms for the list and for a thread).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DATABASE", "atelier_bench_inbox")
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "DEBUG": "0",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
    "ALLOWED_HOSTS": "testserver,localhost",
    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
    "ATELIER_VAR_DIR": str(ROOT / "var" / "bench"),
    "ATELIER_REQUIRE_2FA": "0",
    "LOG_LEVEL": "WARNING",
}
CREATORS, PER_CONVERSATION = 100, 10


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", sql],
                   check=True, stdout=subprocess.DEVNULL)


DATA_SQL = """
INSERT INTO accounts_creator (stage_name, slug, kind, timezone, language, status, four_eyes_review, created_at,
                              voice_notes)
  SELECT 'Creator ' || i, 'creator-' || i, 'human', 'Europe/Paris', 'en', 'active', false, now(), ''
  FROM generate_series(1, {creators}) i;
INSERT INTO scheduling_platformaccount (creator_id, platform, target_platform, handle, external_id,
    credentials_encrypted, state, max_rating, options, last_error, scopes, refresh_failures, created_at)
  SELECT c.id, 'fanvue', '', 'acct' || c.id, '', '', 'connected', '', '{{}}', '', '', 0, now()
  FROM accounts_creator c;
INSERT INTO analytics_fan (creator_id, platform, external_id, handle, first_seen, last_seen, lifetime_spend_minor,
                           segment, tags, notes)
  SELECT 1 + i % {creators}, 'fanvue', 'fan-' || i, 'fan_' || i, now() - interval '400 days', now(),
         (i::bigint * 7919) % 50000, 'new', '[]', ''
  FROM generate_series(1, {conversations}) i;
INSERT INTO inbox_conversation (creator_id, account_id, fan_id, external_id, status, priority, mode, unread_count,
    held_reason, created_at, last_message_at, last_inbound_at, waiting_since, first_reply_at)
  SELECT f.creator_id, a.id, f.id, '', CASE WHEN f.id % 7 = 0 THEN 'closed' ELSE 'open' END, 1, 'human',
         CASE WHEN f.id % 3 = 0 THEN 1 ELSE 0 END, '', now() - interval '400 days',
         now() - ((f.id::bigint * 7919) % 525600) * interval '1 minute',
         now() - ((f.id::bigint * 7919) % 525600) * interval '1 minute',
         CASE WHEN f.id % 3 = 0 THEN now() - ((f.id::bigint * 7919) % 525600) * interval '1 minute' END,
         now() - interval '399 days'
  FROM analytics_fan f JOIN scheduling_platformaccount a ON a.creator_id = f.creator_id;
INSERT INTO inbox_message (creator_id, conversation_id, account_id, direction, external_id, text, price_minor,
    currency, purchased_at, origin, ai_generated, send_status, attempts, last_error, raw, created_at, sent_at)
  SELECT c.creator_id, c.id, c.account_id, CASE WHEN n % 2 = 0 THEN 'in' ELSE 'out' END, 'm-' || c.id || '-' || n,
         'Message ' || n || ' of conversation ' || c.id || ': thanks, see you tonight!',
         CASE WHEN n % 2 = 1 AND n % 5 = 0 THEN 900 END, CASE WHEN n % 2 = 1 AND n % 5 = 0 THEN 'USD' ELSE '' END,
         CASE WHEN n % 2 = 1 AND n % 5 = 0 AND c.id % 4 = 0 THEN c.last_message_at END,
         CASE WHEN n % 2 = 0 THEN 'fan' ELSE 'manual' END, false,
         CASE WHEN n % 2 = 0 THEN 'received' ELSE 'sent' END, 0, '', '{{}}',
         c.last_message_at - ({per} - n) * interval '3 minutes', c.last_message_at - ({per} - n) * interval '3 minutes'
  FROM inbox_conversation c, generate_series(0, {per} - 1) n;
"""


def prepare(messages: int) -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], check=True, cwd=ROOT,
                   env={**os.environ, **ENV})
    started = time.perf_counter()
    psql(DATA_SQL.format(creators=CREATORS, conversations=max(messages // PER_CONVERSATION, CREATORS),
                         per=PER_CONVERSATION), DB)
    psql("VACUUM ANALYZE", DB)
    print(f"built {messages:,} messages in {time.perf_counter() - started:.0f} s")


def setup_django() -> None:
    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def measure(label: str, render: Callable[[], int]) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    render()  # warm caches as a chatter's second page view would
    for _ in range(5):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            status = render()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(ctx.captured_queries)
        assert status == 200, f"{label}: HTTP {status}"
    print(f"{label:<48} median {statistics.median(times):7.1f} ms   {queries} queries")


def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    messages = int(numbers[0]) if numbers else 10_000_000
    if "--reuse" not in sys.argv:
        prepare(messages)
    setup_django()
    from bench.inbox_pages import pages

    for label, render in pages():
        measure(label, render)


if __name__ == "__main__":
    main()
