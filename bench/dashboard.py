"""The analytics dashboard on the rollup benchmark's data (10,000,000 transactions, 1,000,000
metric snapshots, 100 creators): admin home and the per-creator page, server time in-process.

    .venv/bin/python -m bench.rollups          # first: builds and rolls up atelier_bench_rollups
    .venv/bin/python -m bench.dashboard        # then: renders the pages, median of 5
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from bench import admin_scale

    admin_scale.ENV["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/atelier_bench_rollups"
    os.environ["BENCH_REUSE"] = "1"
    admin_scale.setup_django()
    from django.core.management import call_command
    from django.test import Client

    from accounts import services as accounts
    from accounts.models import Creator, Role, User

    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"is_staff": True, "is_superuser": True})
    manager, created = User.objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
    mine = list(Creator.objects.order_by("pk")[:3])
    for creator in mine if created else []:
        accounts.add_membership(user=manager, creator=creator, role=Role.MANAGER, actor=owner)
    pages = [
        ("admin home (dashboard)", "/admin/"),
        ("creator analytics, 30 days", f"/admin/analytics/dailyrollup/dashboard/?creator={mine[0].pk}"),
        ("creator analytics, 90 days", f"/admin/analytics/dailyrollup/dashboard/?creator={mine[0].pk}&days=90"),
    ]
    print("| page | as | server time (median of 5) | queries | status |")
    print("|---|---|---:|---:|---:|")
    for who, user in (("owner (100 creators)", owner), ("manager (3 creators)", manager)):
        client = Client()
        client.force_login(user)
        for name, url in pages:
            ms, queries, status = admin_scale.measure(client, url)
            print(f"| {name} | {who} | {ms:.0f} ms | {queries} | {status} |", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
