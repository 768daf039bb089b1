"""The one interface every platform connector implements, and the errors that steer retries.

The dispatcher's safety rests on the error a connector raises: `TransientError` only when the
platform certainly did not accept the post (connection refused, 429, 5xx before acceptance);
`UnknownOutcome` whenever it may have (a timeout after the request was sent) — those are never
retried blindly.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core import platforms


@dataclass(frozen=True)
class Limits:
    max_text: int
    max_media: int
    max_media_bytes: int
    media_types: frozenset[str]
    ratings: frozenset[str]
    requests_per_window: int = 100
    window_seconds: int = 60


def limits_for(key: str) -> Limits:
    """A connector's limits, from its platform's entry in the registry (`core.platforms`)."""
    entry = platforms.get(key)
    text, media, rate = entry.publishing_limits()
    return Limits(max_text=text.max_code_points, max_media=media.max_items, max_media_bytes=media.max_bytes,
                  media_types=media.types, ratings=entry.ratings, requests_per_window=rate.requests,
                  window_seconds=rate.window_seconds)


@dataclass(frozen=True)
class MediaItem:
    path: str  # a local file (a rendition copied out of storage)
    mime: str
    size: int
    alt: str = ""
    # Where the file is stored (a STORAGES alias and a name), for platforms that fetch media by URL.
    storage: str = ""
    name: str = ""


@dataclass(frozen=True)
class AccountRef:
    id: int
    platform: str
    handle: str
    external_id: str
    options: dict[str, Any]
    credentials: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class PublishRequest:
    idempotency_key: str
    account: AccountRef
    text: str
    media: tuple[MediaItem, ...]
    rating: str
    ai_generated: bool = False
    price_minor: int | None = None
    currency: str = ""
    publish_at: str | None = None
    # The account's options (subreddit, channel, flair, spoiler…) plus post/publication ids.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishResult:
    external_id: str = ""
    url: str = ""
    # Manual connector: a bundle was written for a person to upload; the row waits as `exported`.
    exported: bool = False
    export_file: str = ""


class ConnectorError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientError(ConnectorError):
    """The platform did not take the post; trying again later is safe."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """The platform refused the post for a reason retrying will not fix."""


class UnknownOutcome(ConnectorError):
    """The request may have been accepted; only a lookup or a person can tell."""


class LookupUndecided(ConnectorError):
    """A lookup could not see the whole window it had to search (too many posts since, a listing that
    stops short): "not found" would not be proof, so a person checks."""


class AuthError(PermanentError):
    """Credentials were refused: the account needs re-authorisation."""


class Connector(Protocol):
    """What every connector implements (`conformance.py` checks each one).

    Tuning attributes a connector may add, read by the dispatcher with these defaults:
    - `lookup_settle_seconds: float | None = None` — seconds after which `lookup` returning None proves
      the platform never received the post (None: it never proves it, a person checks);
    - `lookup_is_authoritative: bool = False` — `lookup` sees every post at once (settles in 0 s);
    - `idempotent_publish: bool = False` — sending the same request twice yields one post (a key the
      platform dedupes by);
    - `how_to_check: str` — what the person resolving an unknown outcome should look at;
    - `batch_size: int` — how many due rows one publish task takes for this platform.
    """

    @property
    def platform(self) -> str: ...

    @property
    def limits(self) -> Limits: ...

    def validate(self, request: PublishRequest) -> list[str]: ...

    def publish(self, request: PublishRequest) -> PublishResult: ...

    def lookup(self, request: PublishRequest) -> PublishResult | None: ...

    def unpublish(self, account: AccountRef, external_id: str) -> bool: ...

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]: ...

    def refresh(self, account: AccountRef) -> dict[str, Any] | None: ...


def lookup_window_start(request: PublishRequest) -> datetime:
    """Where a lookup by text starts searching: a little before the due time (clocks differ), never
    more than six days back (the platforms' recent listings reach that far)."""
    due = None
    if request.publish_at:
        with suppress(ValueError):
            due = datetime.fromisoformat(request.publish_at.replace("Z", "+00:00"))
    now = datetime.now(UTC)
    start = (due or now - timedelta(days=1)) - timedelta(minutes=10)
    return max(start, now - timedelta(days=6))


def common_validation(limits: Limits, request: PublishRequest) -> list[str]:
    """Problems any platform would refuse, phrased for the person fixing the post."""
    problems = []
    if len(request.text) > limits.max_text:
        problems.append(f"The caption has {len(request.text)} characters; this platform allows {limits.max_text}.")
    if len(request.media) > limits.max_media:
        problems.append(f"{len(request.media)} media attached; this platform allows {limits.max_media}.")
    for item in request.media:
        if item.mime not in limits.media_types:
            problems.append(f"{item.mime} is not accepted here.")
        if item.size > limits.max_media_bytes:
            problems.append(f"A file of {item.size // (1024 * 1024)} MB is over this platform's "
                            f"{limits.max_media_bytes // (1024 * 1024)} MB limit.")
    if request.rating not in limits.ratings:
        problems.append(f"This platform does not accept {request.rating} content.")
    return problems
