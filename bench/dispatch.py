"""Dispatcher benchmark: N publications due at the same instant, a no-op connector, 2 worker
processes, PostgreSQL + Redis. Reports time until all are published and duplicates (must be 0).

    .venv/bin/python -m bench.dispatch [N ...] [--naive]     (default: 10000)

With --naive, the same N also runs through one clocked django-celery-beat PeriodicTask per
publication (same workers, same per-row publish), and the ratio of throughputs is printed.

Needs PostgreSQL at 127.0.0.1:5432 (database `atelier_bench` is dropped and recreated) and Redis
(db 5). BENCH_DATABASE and BENCH_REDIS_DB choose others, to run beside someone else's benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DATABASE", "atelier_bench")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "5")
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
    "DEBUG": "0",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuv",
    "ALLOWED_HOSTS": "localhost",
    "ATELIER_ENCRYPTION_KEYS": "Zm9yLXRlc3RzLW9ubHktZm9yLXRlc3RzLW9ubHktMDA=",
    "SCHEDULING_CONNECTORS": "fanvue=scheduling.connectors.noop.NoopConnector",
    "ATELIER_VAR_DIR": str(ROOT / "var" / "bench"),
    "LOG_LEVEL": "WARNING",
}


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL)


def prepare() -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DB}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=True, stdout=subprocess.DEVNULL)
    sh(sys.executable, "manage.py", "migrate", "--noinput", "-v0")


def setup_django() -> None:
    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


ACCOUNTS = 20  # a burst across many accounts: each post goes to every account


def world() -> tuple[object, list]:
    from django.utils import timezone

    from accounts.models import Creator
    from compliance import services as compliance
    from content.models import Asset
    from scheduling.models import PlatformAccount

    creator = Creator.objects.create(stage_name="Bench", slug="bench")
    performer = compliance.create_performer(
        legal_name="Bench Performer", date_of_birth=date(1990, 1, 1), creators=[creator]
    )
    compliance.record_verification(
        performer=performer, document_kind="passport", result="approved", actor=None, front=b"\xff\xd8\xff" + b"0" * 64
    )
    compliance.record_consent(
        performer=performer,
        platforms=["fanvue"],
        max_rating="explicit",
        uses=["publication"],
        signed_at=timezone.now() - timedelta(days=1),
    )
    asset = Asset.objects.create(
        creator=creator,
        file="assets/b.jpg",
        kind="image",
        mime="image/jpeg",
        sha256="b" * 64,
        size_bytes=1,
        rating="explicit",
        status=Asset.Status.APPROVED,
        production_date=date(2026, 1, 1),
    )
    asset.performers.add(performer)
    accounts = [PlatformAccount.objects.create(state="connected",
                                               creator=creator, platform="fanvue", handle=f"bench{i}")
                for i in range(ACCOUNTS)]
    return asset, accounts


def posts_for(n: int, asset: object, creator_id: int) -> list:
    from django.utils import timezone

    from scheduling.models import Post, PostAsset

    posts = Post.objects.bulk_create([Post(creator_id=creator_id, caption=f"bench post {i} #new",
                                           approved_at=timezone.now()) for i in range(max(1, n // ACCOUNTS))])
    PostAsset.objects.bulk_create([PostAsset(post=p, asset=asset) for p in posts])
    return posts


def approve_as_is(posts: list) -> None:
    """Record each post's approval of its current version (targets included), as approve_post does."""
    from scheduling import approval
    from scheduling.models import Post

    versions = approval.current_versions(posts)
    for post in posts:
        post.approved_version = versions[post.pk]
    Post.objects.bulk_update(posts, ["approved_version"], batch_size=2000)


def run_naive(n: int, cap_seconds: float) -> dict[str, object]:
    """One clocked PeriodicTask per publication, a DatabaseScheduler beat, the same two workers."""
    import json

    from django.db import connection
    from django.utils import timezone
    from django_celery_beat.models import ClockedSchedule, PeriodicTask

    from scheduling.models import Publication

    Publication.objects.all().delete()
    PeriodicTask.objects.filter(name__startswith="naive ").delete()
    asset, accounts = _world or world()
    _world[:] = [asset, accounts]
    posts = posts_for(n, asset, accounts[0].creator_id)
    due = timezone.now() + timedelta(seconds=20)  # after workers and beat are up
    pubs = Publication.objects.bulk_create(
        [Publication(post=posts[i // ACCOUNTS % len(posts)], account=accounts[i % ACCOUNTS], status="approved",
                     scheduled_at=due) for i in range(n)], batch_size=5000)
    approve_as_is(posts)
    clock = ClockedSchedule.objects.create(clocked_time=due)
    t0 = time.monotonic()
    PeriodicTask.objects.bulk_create([
        PeriodicTask(name=f"naive {p.pk}", task="bench.naive.publish_one", clocked=clock, one_off=True,
                     args=json.dumps([p.pk])) for p in pubs], batch_size=2000)
    from django_celery_beat.models import PeriodicTasks

    PeriodicTasks.update_changed()
    setup_seconds = time.monotonic() - t0
    connection.close()
    env = {**os.environ, **ENV, "SCHEDULING_DISPATCH_EVERY_SECONDS": "3600"}
    procs = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1",
                               "-l", "WARNING", "-n", f"naive{i}@%h", "-I", "bench.naive", "--without-gossip",
                               "--without-mingle"], cwd=ROOT, env=env) for i in range(2)]
    procs.append(subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
                                   "-s", str(ROOT / "var" / "bench" / "naive-beat")], cwd=ROOT, env=env))
    try:
        while timezone.now() < due:
            time.sleep(0.2)
        start = time.monotonic()
        done = 0
        while time.monotonic() - start < cap_seconds:
            done = Publication.objects.filter(status="published").count()
            if done == n:
                break
            time.sleep(1)
        elapsed = time.monotonic() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
    return {"n": n, "design": "one clocked PeriodicTask per publication", "setup_seconds": round(setup_seconds, 1),
            "seconds": round(elapsed, 1), "published": done, "per_second": round(done / elapsed, 1),
            "finished": done == n}


def run(n: int) -> dict[str, float]:
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import AuditEvent
    from scheduling.models import Publication

    Publication.objects.all().delete()
    asset, accounts = _world or world()
    _world[:] = [asset, accounts]
    posts = posts_for(n, asset, accounts[0].creator_id)
    due = timezone.now() - timedelta(seconds=1)
    Publication.objects.bulk_create(
        # One live publication per account and instant (a constraint): due times a millisecond apart.
        [Publication(post=posts[i // ACCOUNTS % len(posts)], account=accounts[i % ACCOUNTS], status="scheduled",
                     scheduled_at=due - timedelta(milliseconds=i)) for i in range(n)],
        batch_size=5000,
    )
    approve_as_is(posts)
    connection.close()
    env = {**os.environ, **ENV}
    pool = os.environ.get("BENCH_POOL", "prefork")
    concurrency = os.environ.get("BENCH_CONCURRENCY", "8" if pool == "threads" else "1")
    # Both queues: the dispatcher runs on the control queue (its own worker in production).
    workers = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-P", pool, "-c",
                                 concurrency, "-l", "WARNING", "-n", f"bench{i}@%h", "--without-gossip",
                                 "--without-mingle", "-Q", "celery,control"], cwd=ROOT, env=env)
               for i in range(2)]
    try:
        time.sleep(4)  # workers up
        from scheduling.tasks import dispatch_due

        start = time.monotonic()
        dispatch_due.delay()
        while True:
            left = Publication.objects.exclude(status="published").count()
            if left == 0:
                break
            if time.monotonic() - start > 1800:
                raise TimeoutError(f"{left} publications not published after 30 minutes")
            if Publication.objects.filter(status="scheduled").exists():
                dispatch_due.delay()  # what the next beat tick would do
            time.sleep(0.5)
        elapsed = time.monotonic() - start
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
    dupes = (
        AuditEvent.objects.filter(action="publication.published")
        .values("object_id")
        .annotate(c=Count("id"))
        .filter(c__gt=1)
        .count()
    )
    return {"n": n, "workers": f"2 processes, {pool} pool of {concurrency}", "seconds": round(elapsed, 1),
            "per_second": round(n / elapsed), "duplicates": dupes}


_world: list = []


def main() -> None:
    args = sys.argv[1:]
    naive = "--naive" in args
    sizes = [int(a) for a in args if a.isdigit()] or [10_000]
    prepare()
    setup_django()
    for n in sizes:
        dispatcher = run(n)
        print(dispatcher, flush=True)
        if naive:
            result = run_naive(n, cap_seconds=float(os.environ.get("BENCH_NAIVE_CAP", "600")))
            print(result, flush=True)
            rate = result["per_second"] or 0.01
            print({"ratio_dispatcher_over_naive": round(dispatcher["per_second"] / rate, 1)}, flush=True)


if __name__ == "__main__":
    main()
