"""Rate budgets and concurrency caps shared by every worker.

With REDIS_URL set (production, CI) both live in Redis; the embedded default falls back to the
Django cache (local memory), which keeps them per process — right for a single dev worker.

- **Budgets** are fixed windows per account (platform quotas are per token). A request is charged
  at the moment it is sent, one row at a time: a row sent back (no slot, a kill before its call)
  was never charged, so retries cannot drain a window.
- **Concurrency slots** per platform are `core.slots` leases: a killed worker's slot frees itself
  within one lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings
from django.core.cache import cache

from core.slots import concurrency_slot
from core.slots import redis_client as _redis
from scheduling.connectors.base import Limits

# --- Rate budgets ----------------------------------------------------------------------------------


def _window(limits: Limits, now: float) -> tuple[int, float]:
    return int(now) // limits.window_seconds, limits.window_seconds - (now % limits.window_seconds)


def budget_key(account_id: int, limits: Limits, now: float | None = None) -> str:
    return f"atelier:rate:{account_id}:{_window(limits, time.time() if now is None else now)[0]}"


def take_budget(account_id: int, wanted: int, limits: Limits) -> tuple[int, float]:
    """Charge up to `wanted` requests to the account's current window, at the moment they are sent.

    Returns (granted, seconds until the next window). What is not granted is not charged.
    """
    now = time.time()
    _, wait = _window(limits, now)
    key = budget_key(account_id, limits, now)
    ttl = limits.window_seconds * 2
    r = _redis()
    if r is not None:
        pipe = r.pipeline(transaction=True)
        pipe.incrby(key, wanted)
        pipe.expire(key, ttl, nx=True)
        used = int(pipe.execute()[0])
    else:
        cache.add(key, 0, timeout=ttl)
        try:
            used = cache.incr(key, wanted)
        except ValueError:  # expired between add and incr
            cache.set(key, wanted, timeout=ttl)
            used = wanted
    granted = max(0, wanted - max(0, used - limits.requests_per_window))
    if granted < wanted:
        _refund(key, wanted - granted)
    return granted, wait


def budget_used(account_id: int, limits: Limits) -> int:
    """Requests charged to the account's current window (tests, admin)."""
    key = budget_key(account_id, limits)
    r = _redis()
    value = r.get(key) if r is not None else cache.get(key)
    return int(value or 0)


def refund_budget(account_id: int, limits: Limits, amount: int = 1) -> None:
    """Give back requests charged for a call that was not made after all."""
    _refund(budget_key(account_id, limits), amount)


def _refund(key: str, amount: int) -> None:
    r = _redis()
    if r is not None:
        r.decrby(key, amount)
        return
    with suppress(ValueError):  # the window is gone: nothing to refund
        cache.decr(key, amount)


# --- Concurrency slots -----------------------------------------------------------------------------


def platform_concurrency(platform: str) -> int:
    return int(settings.SCHEDULING_PLATFORM_CONCURRENCY.get(platform, settings.SCHEDULING_DEFAULT_CONCURRENCY))


@contextmanager
def platform_slot(platform: str) -> Iterator[bool]:
    """Hold one of the platform's concurrent-publish slots; yields False when all are taken."""
    with concurrency_slot(platform, platform_concurrency(platform), settings.SCHEDULING_SLOT_LEASE_SECONDS) as held:
        yield held
