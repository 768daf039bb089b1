"""Concurrency slots shared by every worker: at most N holders of a named slot at once.

With REDIS_URL set (production, CI) slots live in Redis; without it they are this process's own,
which is right for a single dev worker. A slot is a lease: each holder is a member of a sorted set
scored by the end of its lease, renewed by the holder while it works and trimmed on every acquire.
A worker killed with SIGKILL stops renewing, and its slot frees itself within one lease; the count
is a set's size, so it can never go negative. Platforms' publish slots and the generation backends'
job slots both use them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

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
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def redis_client() -> Any | None:
    """The shared Redis, or None when REDIS_URL is unset (a single dev process)."""
    url = getattr(settings, "REDIS_URL", "")
    return _redis_for(url) if url else None


@lru_cache(maxsize=4)
def _scripts_for(url: str) -> tuple[Any, Any]:
    """The slot scripts, called by their hash (EVALSHA) rather than sent whole on every acquire."""
    r = _redis_for(url)
    return r.register_script(_ACQUIRE), r.register_script(_RENEW)


def _scripts() -> tuple[Any, Any]:
    return _scripts_for(settings.REDIS_URL)


def _slot_key(name: str) -> str:
    return f"atelier:slots:{name}"


def new_holder() -> str:
    """A holder id that names the process (for whoever inspects the set) and is unique per hold."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire_slot(name: str, limit: int, holder: str, lease: float) -> bool:
    """Take one of `limit` slots for `lease` seconds (renew with `renew_slot`)."""
    r = redis_client()
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
    r = redis_client()
    if r is not None:
        return bool(_scripts()[1](keys=[_slot_key(name)], args=[holder, int(lease * 1000)]))
    with _local_lock:
        held = _local_slots.get(name, {})
        if holder in held:
            held[holder] = time.monotonic() + lease
            return True
        return False


def release_slot(name: str, holder: str) -> None:
    r = redis_client()
    if r is not None:
        r.zrem(_slot_key(name), holder)
        return
    with _local_lock:
        _local_slots.get(name, {}).pop(holder, None)


def slots_held(name: str) -> int:
    """Holders whose lease has not ended (expired ones are not counted even before a trim)."""
    r = redis_client()
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
def concurrency_slot(name: str, limit: int, lease: float) -> Iterator[bool]:
    """Hold one of `limit` slots named `name`; yields False when all are taken (the caller waits and
    retries). The slot is renewed while held and released on exit; a release that fails (Redis gone)
    is logged, never raised: the lease frees the slot by itself."""
    if limit <= 0:
        yield True
        return
    lease = float(lease)
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
