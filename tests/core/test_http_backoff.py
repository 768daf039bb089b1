"""The shared outbound client's reading of an answer, and the one backoff rule."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from core import backoff, outbound
from core import http as outbound_http


def answer(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


def test_retry_after_reads_seconds_dates_and_milliseconds():
    assert outbound_http.retry_after(answer(**{"retry-after": "7"})) == 7
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < outbound_http.retry_after(answer(**{"retry-after": later})) <= 120
    assert outbound_http.retry_after(answer(**{"retry-after-ms": "1500"})) == 1.5
    assert outbound_http.retry_after(answer(**{"retry-after": "-3"})) == 0
    assert outbound_http.retry_after(answer()) is None


def test_a_bad_retry_after_date_is_no_wait_not_an_error():
    assert outbound_http.retry_after(answer(**{"retry-after": "soon, maybe"})) is None


def test_rate_window_headers_count_only_when_asked():
    reset = answer(**{"x-rate-limit-reset": str(int(time.time()) + 60)})
    assert outbound_http.retry_after(reset) is None
    assert 55 <= outbound_http.retry_after(reset, rate_reset=True) <= 60
    assert outbound_http.retry_after(answer(**{"ratelimit-reset": "30"}), rate_reset=True) == 30
    # An explicit Retry-After wins over the window.
    both = answer(**{"retry-after": "5", "x-ratelimit-reset": "90"})
    assert outbound_http.retry_after(both, rate_reset=True) == 5


def test_client_is_guarded_unless_told_otherwise():
    with outbound_http.client("https://example.com") as guarded:
        assert isinstance(guarded, outbound.GuardedClient)
        assert guarded.headers["User-Agent"] == outbound_http.USER_AGENT
    with outbound_http.client("https://example.com", headers={"X-Key": "k"}, guarded=False) as plain:
        assert not isinstance(plain, outbound.GuardedClient)
        assert plain.headers["X-Key"] == "k" and plain.follow_redirects is False


def test_timeout_never_connects_longer_than_the_whole_budget():
    assert outbound_http.timeout(30).connect == 5
    assert outbound_http.timeout(2).connect == 2
    assert outbound_http.timeout(10, connect=3).read == 10


@pytest.mark.parametrize("attempt", [0, 1, 4, 30])
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt):
    for _ in range(50):
        wait = backoff.backoff_seconds(attempt, base=10, cap=600)
        expected = min(600, 10 * 2 ** attempt)
        assert expected * 0.8 <= wait <= expected * 1.2


def test_backoff_never_comes_back_sooner_than_asked():
    assert backoff.backoff_seconds(0, base=10, cap=600, retry_after=300) == 300
    assert backoff.backoff_seconds(-1, base=10, cap=600) <= 12
