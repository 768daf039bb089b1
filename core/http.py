"""The outbound HTTP client every integration builds on: platform connectors, generation backends and
outgoing webhooks, and what an answer says about trying again.

`client()` gives the one client shape (our User-Agent, a short connect timeout, no redirects unless
asked). A URL a person typed in (a webhook receiver, a generation backend) goes through the guarded
client of `core.outbound`; a platform's API, whose address comes from settings, does not need the
guard (tests and benchmarks point it at loopback servers).

What a failed call means for a retry is decided by where it failed, so the transport errors are named
here in three groups: the request never left (`NOT_SENT`: safe to retry), it left and no answer came
in time (`NO_ANSWER`), or the connection broke mid-exchange (`DROPPED`). Whether the last two mean
"maybe done" is the caller's to say: a platform post may exist, an upload is simply retried.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from core import outbound

USER_AGENT = "Atelier/1.0 (+https://atelier.local)"
CONNECT_SECONDS = 5.0

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
NO_ANSWER = (httpx.ReadTimeout, httpx.WriteTimeout)
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# Headers that say when a rate window reopens: epoch seconds (X) or seconds to go (Reddit, IETF draft).
RATE_RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")


def timeout(total: float, *, connect: float = CONNECT_SECONDS) -> httpx.Timeout:
    """A read budget of `total` seconds with a connect timeout no longer than it: a connection that
    cannot be opened fails fast, and that failure is always safe to retry."""
    return httpx.Timeout(total, connect=min(connect, total))


def client(base_url: str = "", *, headers: Mapping[str, str] | None = None, auth: httpx.Auth | None = None,
           timeout: httpx.Timeout | float = 10.0, follow_redirects: bool = False,
           guarded: bool = True) -> httpx.Client:
    """The client for one integration. `guarded=False` only for addresses from settings, never for a
    URL a person entered."""
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    if guarded:
        return outbound.GuardedClient(base_url=base_url, headers=sent, auth=auth, timeout=timeout,
                                      follow_redirects=follow_redirects)
    return httpx.Client(base_url=base_url, headers=sent, auth=auth, timeout=timeout,
                        follow_redirects=follow_redirects)


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def retry_after(response: httpx.Response, *, rate_reset: bool = False) -> float | None:
    """Seconds the other side asks us to wait: `Retry-After` (seconds or an HTTP date), `retry-after-ms`,
    and with `rate_reset` the end of the rate window (the wait for a 429; not for a 503, where X still
    sends those headers). None when the answer names no wait."""
    value: str | None = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    value = response.headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    for header in RATE_RESET_HEADERS if rate_reset else ():
        value = response.headers.get(header)
        if value:
            try:
                number = float(value)
            except ValueError:
                continue
            return max(0.0, number - time.time()) if number > 1_000_000_000 else number
    return None
