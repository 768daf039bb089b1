"""The contract every generation backend keeps, and the HTTP plumbing they share.

The three errors steer retries in the job runner:

- `BackendUnavailable`: the backend never took the work (connection refused, connect timeout,
  429, 502/503/504). Retrying cannot produce a duplicate or a second bill.
- `BackendError`: the backend answered and refused (bad workflow, unknown model, content policy,
  out of memory). Retrying the same request will fail the same way.
- `BackendTimeout`: the request was sent but no answer came in time. The backend may still be
  working, and a paid API may still charge, so the caller decides rather than retrying blindly.

API keys live only in the config object (hidden from its repr) and in request headers; every
message built from a backend's answer is scrubbed of the key, because some APIs echo it back.
Every call goes through core.outbound's guarded client: a backend URL is entered by a person, so
it may not reach internal addresses unless OUTBOUND_ALLOWED_NETWORKS lists them, and the key is
only ever sent to the backend's own origin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from core import http as outbound_http
from core import outbound
from core.http import USER_AGENT, json_or_none, retry_after

logger = logging.getLogger("content.generation")

MAX_MESSAGE = 500


class GenerationFailure(Exception):
    """Base of every backend failure; `str()` is safe to show to staff and to log."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BackendUnavailable(GenerationFailure):
    """The backend did not accept the work; safe to retry, after `retry_after` seconds if given."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class BackendError(GenerationFailure):
    """The backend answered with a refusal; `message` carries its own words."""


class BackendTimeout(GenerationFailure):
    """Submitted but unfinished by the deadline; the outcome (and any charge) is unknown."""


class BackendCancelled(GenerationFailure):
    """The caller asked to stop while the backend was working; what it had queued was dropped."""


class BackendConfigError(ValueError):
    """The configuration cannot work (missing URL, unknown kind, workflow without placeholders)."""


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    negative_prompt: str = ""
    width: int = 1024
    height: int = 1024
    steps: int = 30
    seed: int | None = None
    count: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    # Asked between polls by backends that poll (ComfyUI): True stops the job and drops it from the queue.
    should_stop: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("An image request needs a prompt.")
        for name in ("width", "height", "steps", "count"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if self.seed is not None and self.seed < 0:
            raise ValueError("seed must be zero or positive; leave it empty for a random seed.")


@dataclass(frozen=True)
class TextRequest:
    system: str
    prompt: str
    max_tokens: int = 400
    temperature: float = 0.8
    n: int = 1

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("A text request needs a prompt.")
        if self.max_tokens < 1 or self.n < 1:
            raise ValueError("max_tokens and n must be at least 1.")


@dataclass
class ImageResult:
    images: list[bytes]
    seed: int | None
    seconds: float
    cost_minor: int | None = None
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextResult:
    texts: list[str]
    tokens_in: int
    tokens_out: int
    seconds: float


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class BackendConfig:
    """Settings shared by all backends; `options` holds the kind-specific ones (workflow, …)."""

    base_url: str
    api_key: str = field(default="", repr=False)
    model: str = ""
    timeout: float = 120.0
    connect_timeout: float = 5.0
    poll_interval: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> BackendConfig:
        """Build from admin/env settings; unknown keys go to `options` for the backend to read."""
        base_url = str(config.get("base_url") or "").strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendConfigError(f"base_url must be an http(s) URL, got {base_url!r}.")
        known = {"kind", "base_url", "api_key", "model", "timeout", "connect_timeout", "poll_interval"}
        try:
            timeout = float(config.get("timeout") or 120.0)
            connect = float(config.get("connect_timeout") or 5.0)
            poll = float(config.get("poll_interval") or 1.0)
        except (TypeError, ValueError) as exc:
            raise BackendConfigError("timeout, connect_timeout and poll_interval must be numbers.") from exc
        if timeout <= 0 or connect <= 0 or poll <= 0:
            raise BackendConfigError("timeout, connect_timeout and poll_interval must be positive.")
        return cls(base_url=base_url, api_key=str(config.get("api_key") or ""), model=str(config.get("model") or ""),
                   timeout=timeout, connect_timeout=connect, poll_interval=poll,
                   options={k: v for k, v in config.items() if k not in known})

    @property
    def host(self) -> str:
        """Where the backend lives, for messages: never includes credentials embedded in the URL."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


@runtime_checkable
class Backend(Protocol):
    kind: str

    def generate_images(self, req: ImageRequest) -> ImageResult: ...

    def complete(self, req: TextRequest) -> TextResult: ...

    def health(self) -> Health: ...


class Deadline:
    """One budget for a whole call (submit, poll, download), so polling cannot outlive it."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.ends = self.started + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class HttpBackend:
    """Shared transport: per-request timeouts cut to what is left of the call's deadline, and
    one mapping from transport outcomes and statuses to the three errors."""

    kind = "http"

    def __init__(self, config: BackendConfig | Mapping[str, Any]) -> None:
        self.config = config if isinstance(config, BackendConfig) else BackendConfig.from_mapping(config)
        # Guarded (core.outbound): the URL is a person's, so internal targets are refused at every
        # call, and the key and basic auth go to this origin only. Redirects are not followed.
        self.http = outbound_http.client(self.config.base_url, headers=self.auth_headers(), auth=self.auth())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.host} model={self.config.model!r}>"

    def auth_headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def auth(self) -> httpx.Auth | None:
        return None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def generate_images(self, req: ImageRequest) -> ImageResult:
        raise NotImplementedError(f"The {self.kind} backend does not generate images.")

    def complete(self, req: TextRequest) -> TextResult:
        raise NotImplementedError(f"The {self.kind} backend does not write text.")

    def scrub(self, text: str) -> str:
        """Remove the API key (and its longer fragments) from text that may come from the backend."""
        key = self.config.api_key
        if key:
            text = text.replace(key, "***")
            if len(key) >= 12:
                text = text.replace(key[:8], "***").replace(key[-8:], "***")
        return text[:MAX_MESSAGE]

    def request(self, method: str, path: str, deadline: Deadline, *, submitted: bool,
                anonymous: bool = False, **kwargs: Any) -> httpx.Response:
        """Send one request within the deadline and return a 2xx response, or raise.

        `submitted` says whether work may already be running on the backend when this request
        goes unanswered (true for the submit call itself and for everything after it).
        `anonymous` sends no credentials: for URLs the backend hands out that may live elsewhere.
        """
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self.timed_out(deadline, submitted)
        timeout = outbound_http.timeout(remaining, connect=self.config.connect_timeout)
        logger.debug("%s %s %s%s", self.kind, method, self.config.host, path if path.startswith("/") else "")
        try:
            if anonymous:
                with outbound_http.client(follow_redirects=True) as bare:
                    response = bare.request(method, path, timeout=timeout, **kwargs)
            else:
                response = self.http.request(method, path, timeout=timeout, **kwargs)
        except outbound.OutboundRefused as exc:
            # Not retried: the address is the problem, and the message is the refusal alone.
            if anonymous:
                raise BackendError(f"A file the {self.kind} backend pointed to was not fetched: {exc}") from exc
            raise BackendError(f"The {self.kind} backend at {self.config.host} was not called: {exc}") from exc
        except outbound_http.NOT_SENT as exc:
            raise BackendUnavailable(
                f"Could not reach the {self.kind} backend at {self.config.host} ({exc.__class__.__name__})."
            ) from exc
        except outbound_http.NO_ANSWER as exc:
            raise self.timed_out(deadline, submitted) from exc
        except outbound_http.DROPPED as exc:
            message = (f"The {self.kind} backend at {self.config.host} dropped the connection "
                       f"({exc.__class__.__name__}).")
            if submitted:
                raise BackendTimeout(message + " The work may still be running.") from exc
            raise BackendUnavailable(message) from exc
        except httpx.HTTPError as exc:
            # Bad URL scheme, redirect loops, undecodable bodies: retrying the same call won't help.
            raise BackendError(f"The {self.kind} backend at {self.config.host} could not be used "
                               f"({exc.__class__.__name__}).") from exc
        if response.status_code >= 400:
            raise self.failure(response)
        return response

    def timed_out(self, deadline: Deadline, submitted: bool) -> GenerationFailure:
        message = (f"The {self.kind} backend at {self.config.host} did not finish within "
                   f"{self.config.timeout:g} s (waited {deadline.elapsed():.1f} s).")
        return BackendTimeout(message) if submitted else BackendUnavailable(message)

    def failure(self, response: httpx.Response) -> GenerationFailure:
        """The error for a non-2xx answer: not-taken statuses are retryable, the rest are refusals."""
        status = response.status_code
        message = f"{self.kind} HTTP {status}: {self.scrub(self.error_message(response))}"
        if status == 429 or status in (502, 503, 504):
            return BackendUnavailable(message, status=status, retry_after=retry_after(response))
        return BackendError(message, status=status)

    def error_message(self, response: httpx.Response) -> str:
        """The backend's own words from an error body; backends override for their shapes."""
        body = json_or_none(response)
        if isinstance(body, dict):
            for key in ("message", "detail", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    return body[key]
        return response.text.strip() or response.reason_phrase

    def json(self, response: httpx.Response) -> Any:
        body = json_or_none(response)
        if body is None:
            raise BackendError(f"The {self.kind} backend answered HTTP {response.status_code} without JSON: "
                               f"{self.scrub(response.text.strip())[:200]!r}")
        return body

    def health(self) -> Health:
        deadline = Deadline(min(self.config.timeout, 10.0))
        try:
            detail = self.check(deadline)
        except GenerationFailure as exc:
            return Health(False, str(exc), deadline.elapsed())
        return Health(True, detail, deadline.elapsed())

    def check(self, deadline: Deadline) -> str:
        raise NotImplementedError
