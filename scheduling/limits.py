"""Rate budgets and concurrency caps shared by every worker.

With REDIS_URL set (production, CI) both live in Redis; the embedded default falls back to the
Django cache (local memory), which keeps them per process — right for a single dev worker.

- **Budgets** are fixed windows per account (platform quotas are per token). A request is charged
  at the moment it is sent: a row sent back (no slot, a kill before its call) was never charged, so
  retries cannot drain a window. Rows sent back to back reserve their requests together
  (`Reservation`): one round trip charges the next few rows and gives back, in the same trip, what
  the previous group did not send; a killed worker leaves at most one small group charged.
- **Concurrency slots** per platform are `core.slots` leases: a killed worker's slot frees itself
  within one lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

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


class Reservation:
    """Requests reserved for a few rows about to be sent back to back, so that a burst pays one Redis
    round trip per group of rows instead of one per row.

    `reserve` charges the next group right before it is sent and, in the same round trip, gives back
    what the previous group reserved and did not send; `take` spends one reserved request as its row
    is sent; `release` gives back the rest. A row is charged only if it was sent, except that a worker
    killed mid-group leaves that group's unsent requests charged until their window ends.
    """

    def __init__(self) -> None:
        self._held: dict[int, list[Any]] = {}  # account id → [budget key, window ttl, requests left]
        self._wait: dict[int, float] = {}  # account id → seconds until its next window

    def reserve(self, wanted: dict[int, tuple[int, Limits]]) -> None:
        """Give back what is still held, then charge up to `wanted[account] = (requests, limits)`.
        On a Redis error nothing is held (the rows wait) and the error is raised."""
        now = time.time()
        refunds = self._unsent()
        self._held = {}
        charges, waits = [], {}
        for account_id, (count, lim) in wanted.items():
            window, waits[account_id] = _window(lim, now)
            charges.append((account_id, f"atelier:rate:{account_id}:{window}", count, lim))
        # The wait until the next window is known only once the window was read: a Redis error must
        # not make a row wait for the next window (up to an hour) instead of a few seconds.
        for account_id in wanted:
            self._wait.pop(account_id, None)
        totals = _charge_many(refunds, [(key, lim.window_seconds * 2, count) for _, key, count, lim in charges])
        self._wait.update(waits)
        over = []
        for (account_id, key, count, lim), used in zip(charges, totals, strict=True):
            granted = max(0, count - max(0, used - lim.requests_per_window))
            if granted < count:
                over.append((key, lim.window_seconds * 2, count - granted))
            self._held[account_id] = [key, lim.window_seconds * 2, granted]
        if over:  # the window is spent: give back at once what could not be granted
            _charge_many(over, [])

    def take(self, account_id: int) -> bool:
        """Spend one reserved request of the account (its row is being sent); False if none is left."""
        held = self._held.get(account_id)
        if not held or held[2] <= 0:
            return False
        held[2] -= 1
        return True

    def wait(self, account_id: int) -> float | None:
        """Seconds until the account's next window, as of its last reservation."""
        return self._wait.get(account_id)

    def release(self) -> None:
        """Give back every request reserved and not sent (one round trip, none if all were sent)."""
        refunds = self._unsent()
        self._held = {}
        if refunds:
            _charge_many(refunds, [])

    def _unsent(self) -> list[tuple[str, int, int]]:
        return [(key, ttl, left) for key, ttl, left in self._held.values() if left > 0]


def _charge_many(refunds: list[tuple[str, int, int]], charges: list[tuple[str, int, int]]) -> list[int]:
    """Give back `refunds` then charge `charges` ((key, ttl, amount) each) in one round trip; returns
    each charged key's total. A refund keeps its key expiring, even one whose window has passed."""
    r = _redis()
    if r is not None:
        pipe = r.pipeline(transaction=False)
        for key, ttl, amount in refunds:
            pipe.decrby(key, amount)
            pipe.expire(key, ttl, nx=True)
        for key, ttl, amount in charges:
            pipe.incrby(key, amount)
            pipe.expire(key, ttl, nx=True)
        return [int(v) for v in pipe.execute()[2 * len(refunds)::2]]
    for key, _, amount in refunds:
        with suppress(ValueError):  # the window is gone: nothing to refund
            cache.decr(key, amount)
    totals = []
    for key, ttl, amount in charges:
        cache.add(key, 0, timeout=ttl)
        try:
            totals.append(cache.incr(key, amount))
        except ValueError:  # expired between add and incr
            cache.set(key, amount, timeout=ttl)
            totals.append(amount)
    return totals


# --- Concurrency slots -----------------------------------------------------------------------------


def platform_concurrency(platform: str) -> int:
    return int(settings.SCHEDULING_PLATFORM_CONCURRENCY.get(platform, settings.SCHEDULING_DEFAULT_CONCURRENCY))


@contextmanager
def platform_slot(platform: str) -> Iterator[bool]:
    """Hold one of the platform's concurrent-publish slots; yields False when all are taken."""
    with concurrency_slot(platform, platform_concurrency(platform), settings.SCHEDULING_SLOT_LEASE_SECONDS) as held:
        yield held
