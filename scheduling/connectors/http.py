"""One HTTP client for every connector, and one mapping from transport outcomes to the errors
that steer the dispatcher.

The rule that keeps posts from going out twice: a failure *before* the request reached the
platform (connection refused, DNS, connect timeout) or a response that says "not taken"
(429, 5xx, 408) is `TransientError`; a failure *after* the request was sent (read timeout,
connection dropped mid-response) is `UnknownOutcome`. 401/403 mean re-authorisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from django.conf import settings

from core import http as outbound_http
from core.http import retry_after
from scheduling.connectors.base import AuthError, PermanentError, TransientError, UnknownOutcome

__all__ = ["client", "error_message", "raise_for", "retry_after", "send"]


def client(base_url: str, *, headers: Mapping[str, str] | None = None, timeout: float | None = None) -> httpx.Client:
    """The shared outbound client with a short connect timeout (safe to retry) and a longer read
    timeout. Not guarded: platform addresses come from settings, never from a form."""
    configured: float = getattr(settings, "CONNECTOR_TIMEOUT_SECONDS", 30)
    read = timeout or configured
    return outbound_http.client(base_url, headers=headers, timeout=outbound_http.timeout(read), guarded=False)


def error_message(response: httpx.Response) -> str:
    """The platform's own words, trimmed: shown to staff as the publication's last error."""
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if isinstance(body, dict):
        for key in ("message", "detail", "description", "error_description", "title"):
            if isinstance(body.get(key), str):
                return f"HTTP {response.status_code}: {body[key][:300]}"
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return f"HTTP {response.status_code}: {error['message'][:300]}"
        if isinstance(error, str):
            return f"HTTP {response.status_code}: {error[:300]}"
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return f"HTTP {response.status_code}: {str(first.get('message') or first.get('detail') or first)[:300]}"
    return f"HTTP {response.status_code}: {str(body)[:300]}"


def raise_for(response: httpx.Response, *, accepted_on_5xx: bool = False) -> None:
    """Turn a non-2xx response into the right connector error.

    `accepted_on_5xx` is for the final "create" call of platforms where a 5xx may still have
    created the post (then the outcome is unknown, not transient).
    """
    status = response.status_code
    if status < 400:
        return
    message = error_message(response)
    if status in (401,):
        raise AuthError(message, status=status)
    if status == 429 or status == 408:
        raise TransientError(message, status=status, retry_after=retry_after(response, rate_reset=True))
    if status >= 500:
        if accepted_on_5xx and status not in (502, 503):
            raise UnknownOutcome(message, status=status)
        # A 5xx says nothing about the rate window: only an explicit Retry-After delays the retry.
        raise TransientError(message, status=status, retry_after=retry_after(response))
    if status == 403:
        raise PermanentError(message, status=status)
    raise PermanentError(message, status=status)


def send(http: httpx.Client, method: str, url: str, *, creates: bool = False, **kwargs: Any) -> httpx.Response:
    """Send one request; map transport failures and error statuses.

    `creates=True` marks the request that makes the post: a failure after it was written to the
    wire is `UnknownOutcome`. Uploads and lookups pass `creates=False`: a lost upload is just retried.
    """
    try:
        response = http.request(method, url, **kwargs)
    except outbound_http.NOT_SENT as exc:
        raise TransientError(f"Could not reach the platform: {exc.__class__.__name__}") from exc
    except (*outbound_http.NO_ANSWER, *outbound_http.DROPPED) as exc:
        if creates:
            raise UnknownOutcome(f"No answer after the post was sent ({exc.__class__.__name__}).") from exc
        raise TransientError(f"The platform stopped answering ({exc.__class__.__name__}).") from exc
    raise_for(response, accepted_on_5xx=creates)
    return response
