"""How long to wait before trying again: one rule for every retry the app schedules itself.

The wait doubles with each attempt up to a cap, and each wait is spread ±20 % so that many callers
failing together (a receiver or a platform that was down) do not all come back in the same second.
An explicit wait from the other side (`Retry-After`) is a floor: never call sooner than asked.
"""

from __future__ import annotations

import random

JITTER = 0.2


def backoff_seconds(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """`base`·2^`attempt` seconds (attempt 0 waits `base`), at most `cap`, ±20 %, and at least `retry_after`."""
    growth: int = 2 ** max(0, attempt)  # typeshed types int ** int as Any (a negative power is a float)
    delay = min(cap, base * growth) * (1 - JITTER + random.random() * 2 * JITTER)
    return max(delay, retry_after or 0)
