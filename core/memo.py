"""Reads shared by the rows of one batch.

A burst of webhooks is recorded many messages at a time (`inbox.services.receive_many`); each message still
runs its own receivers (outbound events, round-robin), and each of those reads the same rows: the creator's
webhook endpoints, the chatters on shift. Inside `batch()` such a read is made once per batch; outside, every
call reads afresh, exactly as before. A batch is one transaction, so what it remembers is never older than the
batch itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
_memo: contextvars.ContextVar[dict[Hashable, Any] | None] = contextvars.ContextVar("batch_memo", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """Remember `shared` reads until the block ends (nested blocks share the outer one's memory)."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def shared(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, made once per `batch()` for this key; outside a batch, every time."""
    memo = _memo.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    remembered: T = memo[key]
    return remembered


def forget(key: Hashable) -> None:
    """Drop what the current batch remembers for this key (the rows it read have just changed)."""
    memo = _memo.get()
    if memo is not None:
        memo.pop(key, None)
