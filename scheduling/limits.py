"""Rate budgets and concurrency caps shared by every worker.

With REDIS_URL set (production, CI) both live in Redis; the embedded default falls back to the
Django cache (local memory), which keeps them per process — right for a single dev worker.

- **Budgets** are fixed windows per account (platform quotas are per token). A request is charged
  at the moment it is sent: a row sent back (no slot, a kill before its call) was never charged, so
  retries cannot drain a window. Rows sent back to back reserve their requests together
  (`Reservation`): one round trip charges the next few rows and gives back, in the same trip, what
  the previous group did not send; a killed worker leaves at most one small group charged.
- **Concurrency slots** are leases: each holder's slot is a member of a sorted set scored by the
  end of its lease, renewed while held (by one thread per process, for every slot the process
  holds) and trimmed on every acquire. A worker killed with SIGKILL stops renewing, and its slot
  frees itself within one slot lease; the count is a set's size, so it can never go negative.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache

from scheduling.connectors.base import Limits

log = logging.getLogger(__name__)

# KEYS[1] the slot set; ARGV: holder, limit, lease (ms). Trims expired holders, then takes a slot
# if one is free. Scores are the Redis server's own clock, so workers' clocks never disagree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
"""
# Renew only a slot still held (a trimmed holder must acquire again, not resurrect itself).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


@lru_cache(maxsize=4)
def _redis_for(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def _redis() -> Any | None:
    url = getattr(settings, "REDIS_URL", "")
    return _redis_for(url) if url else None


@lru_cache(maxsize=4)
def _scripts_for(url: str) -> tuple[Any, Any]:
    """The slot scripts, called by their hash (EVALSHA) rather than sent whole on every acquire."""
    r = _redis_for(url)
    return r.register_script(_ACQUIRE), r.register_script(_RENEW)


def _scripts() -> tuple[Any, Any]:
    return _scripts_for(settings.REDIS_URL)


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
        charges = []
        for account_id, (count, lim) in wanted.items():
            window, self._wait[account_id] = _window(lim, now)
            charges.append((account_id, f"atelier:rate:{account_id}:{window}", count, lim))
        totals = _charge_many(refunds, [(key, lim.window_seconds * 2, count) for _, key, count, lim in charges])
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


def _slot_key(name: str) -> str:
    return f"atelier:slots:{name}"


def new_holder() -> str:
    """A holder id that names the process (for whoever inspects the set) and is unique per hold."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire_slot(name: str, limit: int, holder: str, lease: float) -> bool:
    """Take one of `limit` slots for `lease` seconds (renew with `renew_slot`)."""
    r = _redis()
    if r is not None:
        return bool(_scripts()[0](keys=[_slot_key(name)], args=[holder, limit, int(lease * 1000)]))
    with _local_lock:
        held = _local_slots.setdefault(name, {})
        now = time.monotonic()
        for other in [h for h, until in held.items() if until <= now]:
            del held[other]
        if holder in held or len(held) < limit:
            held[holder] = now + lease
            return True
        return False


def renew_slot(name: str, holder: str, lease: float) -> bool:
    r = _redis()
    if r is not None:
        return bool(_scripts()[1](keys=[_slot_key(name)], args=[holder, int(lease * 1000)]))
    with _local_lock:
        held = _local_slots.get(name, {})
        if holder in held:
            held[holder] = time.monotonic() + lease
            return True
        return False


def release_slot(name: str, holder: str) -> None:
    r = _redis()
    if r is not None:
        r.zrem(_slot_key(name), holder)
        return
    with _local_lock:
        _local_slots.get(name, {}).pop(holder, None)


def slots_held(name: str) -> int:
    """Holders whose lease has not ended (expired ones are not counted even before a trim)."""
    r = _redis()
    if r is not None:
        now_s, now_us = r.time()
        return int(r.zcount(_slot_key(name), f"({now_s * 1000 + now_us // 1000}", "+inf"))
    with _local_lock:
        now = time.monotonic()
        return sum(1 for until in _local_slots.get(name, {}).values() if until > now)


# Without Redis the slots are this process's own (a single dev worker).
_local_slots: dict[str, dict[str, float]] = {}
_local_lock = threading.Lock()


class _Renewer(threading.Thread):
    """Keeps the leases of every slot this process holds fresh: every third of the shortest lease it
    has seen, it renews all of them. One thread per process, started on first use, so taking a slot
    costs no thread start and no wake-up; it dies with the process, so a killed worker's slots lapse
    within one lease."""

    def __init__(self) -> None:
        super().__init__(name="slot-renewer", daemon=True)
        self.held: dict[str, tuple[str, float]] = {}  # holder → (slot, lease)
        self.period: float | None = None
        self.changed = threading.Condition()

    def add(self, name: str, holder: str, lease: float) -> None:
        with self.changed:
            self.held[holder] = (name, lease)
            if self.period is None or lease / 3 < self.period:
                self.period = lease / 3
                self.changed.notify()

    def remove(self, holder: str) -> None:
        with self.changed:
            self.held.pop(holder, None)

    def run(self) -> None:
        while True:
            with self.changed:
                self.changed.wait(self.period)
                held = list(self.held.items())
            for holder, (name, lease) in held:  # a slot released meanwhile is not revived (renew is XX)
                try:
                    renew_slot(name, holder, lease)
                except Exception:  # a Redis blip: the lease runs on; the next renewal may succeed
                    log.warning("Could not renew the %s slot", name, exc_info=True)


_renewer: _Renewer | None = None
_renewer_lock = threading.Lock()


def _renewals() -> _Renewer:
    """This process's renewer (a forked child starts its own: threads do not survive a fork)."""
    global _renewer
    with _renewer_lock:
        if _renewer is None or not _renewer.is_alive():
            _renewer = _Renewer()
            _renewer.start()
        return _renewer


@contextmanager
def concurrency_slot(name: str, limit: int, lease: float | None = None) -> Iterator[bool]:
    """Hold one of `limit` slots named `name`; yields False when all are taken (the caller waits and
    retries). The slot is renewed while held and released on exit; a release that fails (Redis gone)
    is logged, never raised: the lease frees the slot by itself."""
    if limit <= 0:
        yield True
        return
    lease = float(lease or settings.SCHEDULING_SLOT_LEASE_SECONDS)
    holder = new_holder()
    if not acquire_slot(name, limit, holder, lease):
        yield False
        return
    renewer = _renewals()
    renewer.add(name, holder, lease)
    try:
        yield True
    finally:
        renewer.remove(holder)
        try:
            release_slot(name, holder)
        except Exception:
            log.warning("Could not release the %s slot; its lease frees it", name, exc_info=True)


@contextmanager
def platform_slot(platform: str) -> Iterator[bool]:
    """Hold one of the platform's concurrent-publish slots; yields False when all are taken."""
    with concurrency_slot(platform, platform_concurrency(platform)) as held:
        yield held
