"""Cost of publishing N due rows in this process: CPU seconds, SQL statements and Redis round trips.

    .venv/bin/python -m bench.batch_cost [N]      (default 2000)

The burst benchmark (`bench.dispatch`) times wall-clock seconds across worker processes, which only a
quiet machine can measure. This one counts what the dispatcher and `publish_batch` do for N rows
(claims of 500, batches of 25, the no-op connector), in one process, after the hard-block lists are
compiled: CPU time of this process and the number of statements and round trips do not depend on
what else the machine is running, so before and after can be compared on a busy machine:

    git worktree add --detach /tmp/before <commit> && cd /tmp/before && \
        BENCH_DATABASE=atelier_bc_before /work/main/.venv/bin/python /work/main/bench/batch_cost.py

(the script runs against the checkout it is started from). Database `atelier_bench` (or
BENCH_DATABASE) is dropped and recreated; Redis db 5 (or BENCH_REDIS_DB) is flushed.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

sys.path.insert(0, os.getcwd())  # the checkout being measured, not necessarily this file's

from bench import dispatch


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    dispatch.prepare()
    dispatch.setup_django()
    import redis.client
    from django.db import connection
    from django.utils import timezone

    from compliance import hardblock
    from scheduling import services
    from scheduling.models import Publication

    asset, accounts = dispatch.world()
    posts = dispatch.posts_for(n, asset, accounts[0].creator_id)
    due = timezone.now() - timedelta(seconds=1)
    Publication.objects.bulk_create(
        [Publication(post=posts[i // dispatch.ACCOUNTS % len(posts)], account=accounts[i % dispatch.ACCOUNTS],
                     status="scheduled", scheduled_at=due - timedelta(milliseconds=i)) for i in range(n)],
        batch_size=5000)
    dispatch.approve_as_is(posts)
    statements: Counter[str] = Counter()
    round_trips: Counter[str] = Counter()

    def count_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[sql.split()[0].upper()] += 1
        return execute(sql, params, many, context)

    command, pipeline = redis.client.Redis.execute_command, redis.client.Pipeline.execute

    def count_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        round_trips[str(args[0]).upper()] += 1
        return command(self, *args, **kwargs)

    def count_pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        round_trips["pipeline"] += 1
        return pipeline(self, *args, **kwargs)

    redis.client.Redis.execute_command = count_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = count_pipeline  # type: ignore[method-assign]
    hardblock._builtin()  # compiled once per process, before the work (a worker does it at start)
    cpu, wall, published = time.process_time(), time.monotonic(), 0
    with connection.execute_wrapper(count_sql):
        while claimed := services.claim_due_publications():
            for i in range(0, len(claimed), 25):
                outcome = services.publish_batch(claimed[i:i + 25])
                published += sum(status == "published" for status in outcome.values())
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    print(f"published {published} of {n}: CPU {cpu:.2f} s (wall {wall:.1f} s); "
          f"SQL statements {sum(statements.values())} {dict(statements)}; "
          f"Redis round trips {sum(round_trips.values())} {dict(round_trips)}")


if __name__ == "__main__":
    main()
