"""Rate budgets and concurrency caps shared by every worker.

With REDIS_URL set (production, CI) both live in Redis, one pipelined round trip per check; the
embedded default falls back to the Django cache (local memory), which keeps them per process —
right for a single dev worker. Budgets are fixed windows per account (platform quotas are per
token); concurrency is a counter per platform with an expiry, so a killed worker cannot hold a
slot for longer than the lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache

from scheduling.connectors.base import Limits


@lru_cache(maxsize=4)
def _redis_for(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def _redis() -> Any | None:
    url = getattr(settings, "REDIS_URL", "")
    return _redis_for(url) if url else None


def _incr(key: str, amount: int, ttl: int) -> int:
    """Atomically add `amount` and make sure the key expires (it never outlives `ttl`)."""
    r = _redis()
    if r is not None:
        pipe = r.pipeline(transaction=True)
        pipe.incrby(key, amount)
        pipe.expire(key, ttl, nx=True)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr
        cache.set(key, amount, timeout=ttl)
        return amount


def _decr(key: str, amount: int) -> None:
    r = _redis()
    if r is not None:
        r.decrby(key, amount)
        return
    with suppress(ValueError):
        cache.decr(key, amount)


def take_budget(account_id: int, wanted: int, limits: Limits) -> tuple[int, float]:
    """Reserve up to `wanted` requests in the account's current window.

    Returns (granted, seconds until the next window). Requests not granted wait for that window.
    """
    now = time.time()
    window = int(now) // limits.window_seconds
    key = f"atelier:rate:{account_id}:{window}"
    used = _incr(key, wanted, limits.window_seconds * 2)
    granted = max(0, wanted - max(0, used - limits.requests_per_window))
    if granted < wanted:
        _decr(key, wanted - granted)
    return granted, limits.window_seconds - (now % limits.window_seconds)


def take_budgets(wanted: dict[int, tuple[int, Limits]]) -> dict[int, tuple[int, float]]:
    """`take_budget` for several accounts in one Redis round trip (a dispatcher batch spans many)."""
    r = _redis()
    if r is None or len(wanted) < 2:
        return {pk: take_budget(pk, n, lim) for pk, (n, lim) in wanted.items()}
    now = time.time()
    pipe = r.pipeline(transaction=False)
    keys = {}
    for pk, (n, lim) in wanted.items():
        keys[pk] = f"atelier:rate:{pk}:{int(now) // lim.window_seconds}"
        pipe.incrby(keys[pk], n)
        pipe.expire(keys[pk], lim.window_seconds * 2, nx=True)
    used = pipe.execute()[0::2]
    out, refunds = {}, []
    for (pk, (n, lim)), total in zip(wanted.items(), used, strict=True):
        granted = max(0, n - max(0, int(total) - lim.requests_per_window))
        if granted < n:
            refunds.append((keys[pk], n - granted))
        out[pk] = (granted, lim.window_seconds - (now % lim.window_seconds))
    for key, amount in refunds:
        r.decrby(key, amount)
    return out


def platform_concurrency(platform: str) -> int:
    return int(settings.SCHEDULING_PLATFORM_CONCURRENCY.get(platform, settings.SCHEDULING_DEFAULT_CONCURRENCY))


@contextmanager
def concurrency_slot(name: str, limit: int, ttl: int) -> Iterator[bool]:
    """Hold one of `limit` slots named `name`; yields False when all are taken (the caller waits and
    retries). The counter expires after `ttl` seconds, so a killed worker frees its slot eventually."""
    if limit <= 0:
        yield True
        return
    key = f"atelier:concurrency:{name}"
    held = _incr(key, 1, ttl)
    try:
        yield held <= limit
    finally:
        _decr(key, 1)


@contextmanager
def platform_slot(platform: str) -> Iterator[bool]:
    """Hold one of the platform's concurrent-publish slots; yields False when all are taken."""
    with concurrency_slot(platform, platform_concurrency(platform), settings.SCHEDULING_LEASE_SECONDS) as held:
        yield held
