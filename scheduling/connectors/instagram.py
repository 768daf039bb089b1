"""Instagram: SFW feed posts, reels and carousels through the Instagram Graph API content
publishing flow (https://developers.facebook.com/docs/instagram-platform/content-publishing).

- Instagram downloads the media itself ("we cURL media used in publishing attempts"), so every
  file needs a URL at publishing time: `media_url(item)` makes one that expires. The default is
  `core.files.signed_url`: a presigned URL on S3, else a signed `/files/` link that Atelier serves
  under INSTAGRAM_MEDIA_URL_BASE (its public origin); INSTAGRAM_MEDIA_URL_FUNCTION names another
  callable. Without either, publishing fails with an explanation, not a guess.
- Flow: `POST /<IG_ID>/media` makes a container (`image_url`, or `media_type=REELS` +
  `video_url`; for carousels each item with `is_carousel_item=true`, then `media_type=CAROUSEL`
  with `children`), `GET /<CONTAINER_ID>?fields=status_code` until FINISHED, then
  `POST /<IG_ID>/media_publish` with `creation_id`. Only that last call makes the post.
- Publishing limit: a rolling 24-hour quota of API-published posts (carousels count once); the
  guide says 100, earlier versions 25, and the reference example shows a `quota_total` of 50.
  The live `GET /<IG_ID>/content_publishing_limit` answer is what is checked before each post.
- Errors: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`. Code 190 is an
  invalid or expired token; 4, 17, 32 and 613 are rate limits; code 9 / subcode 2207042 is the
  publishing limit. The HTTP status alone (mostly 400) does not tell these apart.
- The API cannot delete Instagram media: `unpublish` returns False so a person takes it down.
- Tokens from Instagram Login live 60 days and are extended with `GET /refresh_access_token`.

Account: `external_id` is the Instagram professional account id; credentials `access_token`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.files.storage import storages
from django.utils import timezone
from django.utils.module_loading import import_string

from core import files, platforms
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    ConnectorError,
    LookupUndecided,
    MediaItem,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
    common_validation,
    limits_for,
    lookup_window_start,
)
from scheduling.connectors.http import client, send
from scheduling.connectors.http import retry_after as header_wait

_ENTRY = platforms.get("instagram")
TEXT, MEDIA, _ = _ENTRY.publishing_limits()
MAX_CAPTION = TEXT.max_length
MAX_HASHTAGS = _ENTRY.hashtags.maximum if _ENTRY.hashtags else 0
MAX_IMAGE_BYTES = MEDIA.max_image_bytes or MEDIA.max_bytes
IMAGE_TYPES = MEDIA.image_types
VIDEO_TYPES = MEDIA.video_types
RATE_LIMIT_CODES = {4, 17, 32, 613}
PUBLISHING_LIMIT_SUBCODE = 2207042
INSIGHT_METRICS = ("reach", "likes", "comments", "saved", "shares", "views")


def signed_media_url(item: MediaItem) -> str:
    """An expiring link Instagram can fetch: the bucket's presigned URL on S3, else a signed /files/
    link under INSTAGRAM_MEDIA_URL_BASE (Atelier's public origin), valid INSTAGRAM_MEDIA_URL_TTL_SECONDS."""
    storage, name = item.storage, item.name
    if not name:  # an item made from a bare path: only files of the media storage can be linked
        root = storages["default"].location if not files.is_remote(storages["default"]) else None
        try:
            if root is None:
                raise ValueError("remote storage")
            name = Path(item.path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError as exc:
            raise PermanentError("This file is not in Atelier's storage, so no link can be made for Instagram; "
                                 "set INSTAGRAM_MEDIA_URL_FUNCTION to make public URLs for it.") from exc
        storage = "default"
    if not files.is_remote(storages[storage]) and not settings.INSTAGRAM_MEDIA_URL_BASE:
        raise PermanentError("Instagram downloads media from a public URL, and none is configured: set "
                             "INSTAGRAM_MEDIA_URL_BASE to Atelier's public origin (or INSTAGRAM_MEDIA_URL_FUNCTION).")
    return files.signed_url(storage, name, ttl=settings.INSTAGRAM_MEDIA_URL_TTL_SECONDS,
                            base=settings.INSTAGRAM_MEDIA_URL_BASE)


class InstagramConnector:
    platform = "instagram"
    # The account's own media list (`GET /{ig-user-id}/media`, newest first) by exact caption.
    lookup_settle_seconds = 60
    how_to_check = ("Open the account's Instagram profile and look for a post with exactly this caption around the "
                    "due time.")
    limits = limits_for("instagram")

    def __init__(self, media_url: Callable[[MediaItem], str] | None = None) -> None:
        self._media_url = media_url

    @property
    def media_url(self) -> Callable[[MediaItem], str]:
        if self._media_url is not None:
            return self._media_url
        if settings.INSTAGRAM_MEDIA_URL_FUNCTION:
            return import_string(settings.INSTAGRAM_MEDIA_URL_FUNCTION)
        return signed_media_url

    def validate(self, request: PublishRequest) -> list[str]:
        problems = common_validation(self.limits, request)
        if not request.media:
            problems.append("Instagram posts need at least one image or video.")
        for item in request.media:
            if item.mime in IMAGE_TYPES and item.size > MAX_IMAGE_BYTES:
                problems.append("Instagram accepts images up to 8 MB.")
        hashtags = sum(1 for word in request.text.split() if word.startswith("#"))
        if hashtags > MAX_HASHTAGS:
            problems.append(f"The caption has {hashtags} hashtags; Instagram allows {MAX_HASHTAGS}.")
        if not request.account.external_id:
            problems.append("The Instagram account id is missing: connect the account again.")
        return problems

    # --- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> PublishResult:
        if request.rating != "sfw":
            raise PermanentError("Instagram only takes SFW content.")
        if not request.media:
            raise PermanentError("Instagram posts need at least one image or video.")
        ig_id = request.account.external_id
        urls = [self.media_url(item) for item in request.media]
        with self._client(request.account) as http:
            self._check_quota(http, ig_id)
            if len(request.media) == 1:
                fields = self._item_fields(request.media[0], urls[0], carousel=False)
                container = self._create_container(http, ig_id, {**fields, "caption": request.text})
            else:
                children = [self._create_container(http, ig_id, self._item_fields(item, url, carousel=True))
                            for item, url in zip(request.media, urls, strict=True)]
                for child in children:
                    self._wait_until_ready(http, child)
                container = self._create_container(http, ig_id, {"media_type": "CAROUSEL",
                                                                 "children": ",".join(children),
                                                                 "caption": request.text})
            self._wait_until_ready(http, container)
            published = send(http, "POST", f"{ig_id}/media_publish", creates=True,
                             data={"creation_id": container}).json()
            media_id = str(published.get("id") or "")
            if not media_id:
                raise UnknownOutcome("Instagram answered media_publish without a media id.")
            return PublishResult(external_id=media_id, url=self._permalink(http, media_id))

    def _item_fields(self, item: MediaItem, url: str, *, carousel: bool) -> dict[str, str]:
        if item.mime in VIDEO_TYPES:
            # Single feed videos are published as reels (since July 2023).
            fields = {"media_type": "VIDEO" if carousel else "REELS", "video_url": url}
        else:
            fields = {"image_url": url}
            if item.alt and not carousel:
                fields["alt_text"] = item.alt
        if carousel:
            fields["is_carousel_item"] = "true"
        return fields

    def _create_container(self, http: httpx.Client, ig_id: str, fields: dict[str, str]) -> str:
        answer = send(http, "POST", f"{ig_id}/media", data=fields).json()
        if not answer.get("id"):
            raise TransientError("Instagram did not return a media container id.")
        return str(answer["id"])

    def _wait_until_ready(self, http: httpx.Client, container: str) -> None:
        """Poll the container until Instagram has fetched and processed the media."""
        for attempt in range(settings.INSTAGRAM_CONTAINER_POLL_ATTEMPTS):
            status = send(http, "GET", container, params={"fields": "status_code,status"}).json()
            code = status.get("status_code")
            if code in ("FINISHED", "PUBLISHED"):
                return
            if code == "ERROR":
                raise PermanentError(f"Instagram could not process the media: {status.get('status') or 'error'}.")
            if code == "EXPIRED":
                raise TransientError("The Instagram media container expired before it was published.")
            if attempt + 1 < settings.INSTAGRAM_CONTAINER_POLL_ATTEMPTS:
                time.sleep(settings.INSTAGRAM_CONTAINER_POLL_SECONDS)
        # Nothing was published; a later attempt starts over with a new container.
        raise TransientError("Instagram is still processing the media.",
                             retry_after=float(settings.INSTAGRAM_CONTAINER_POLL_SECONDS * 12))

    def _check_quota(self, http: httpx.Client, ig_id: str) -> None:
        answer = send(http, "GET", f"{ig_id}/content_publishing_limit",
                      params={"fields": "quota_usage,config"}).json()
        data = (answer.get("data") or [{}])[0]
        usage = int(data.get("quota_usage") or 0)
        config = data.get("config") or {}
        total = int(config.get("quota_total") or self.limits.requests_per_window)
        duration = int(config.get("quota_duration") or 24 * 3600)
        if usage < total:
            return
        raise TransientError(f"Instagram's publishing limit is reached ({usage} of {total} posts in 24 hours).",
                             retry_after=self._quota_frees_in(http, ig_id, total, duration))

    def _quota_frees_in(self, http: httpx.Client, ig_id: str, total: int, duration: int) -> float:
        """Seconds until the oldest post in the rolling window leaves it (an estimate: the list
        also holds posts made in the app, which do not count against the API quota)."""
        fallback = 3600.0
        try:
            media = send(http, "GET", f"{ig_id}/media", params={"fields": "timestamp", "limit": str(total)}).json()
        except ConnectorError:
            return fallback
        now = timezone.now()
        window = [_parse_time(m.get("timestamp")) for m in media.get("data") or []]
        inside = [t for t in window if t and now - t < timedelta(seconds=duration)]
        if not inside:
            return fallback
        return max(60.0, (min(inside) + timedelta(seconds=duration) - now).total_seconds())

    def _permalink(self, http: httpx.Client, media_id: str) -> str:
        try:
            return str(send(http, "GET", media_id, params={"fields": "permalink"}).json().get("permalink") or "")
        except ConnectorError:
            return ""  # the post is out; a missing link is not worth failing it for

    # --- reading back -------------------------------------------------------------------------

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        with self._client(request.account) as http:
            media = send(http, "GET", f"{request.account.external_id}/media",
                         params={"fields": "id,caption,timestamp,permalink", "limit": "25"}).json()
        wanted = request.text.strip()
        items = media.get("data") or []
        for item in items:
            if (item.get("caption") or "").strip() == wanted:
                return PublishResult(external_id=str(item["id"]), url=item.get("permalink", ""))
        # The media edge lists newest first; "not found" is proof only when this page reached back past
        # the due time or there is no next page.
        since = lookup_window_start(request)
        stamps = [s for s in (_ig_time(i.get("timestamp")) for i in items) if s]
        if not (media.get("paging") or {}).get("next") or (stamps and min(stamps) < since):
            return None
        raise LookupUndecided("More than 25 posts on the account since the due time; check the profile by hand.")

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        return False

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        with self._client(account) as http:
            answer = send(http, "GET", f"{external_id}/insights", params={"metric": ",".join(INSIGHT_METRICS)}).json()
        metrics = {}
        for entry in answer.get("data") or []:
            values = entry.get("values") or []
            value = values[-1].get("value") if values else (entry.get("total_value") or {}).get("value")
            if isinstance(value, (int, float)):
                metrics[entry["name"]] = int(value)
        return metrics

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Extend a long-lived token for another 60 days (it must be at least 24 hours old)."""
        token = account.credentials.get("access_token")
        if not token:
            return None
        with client(settings.INSTAGRAM_GRAPH_URL) as http:
            http.event_hooks["response"].append(_raise_graph_error)
            answer = send(http, "GET", "/refresh_access_token",
                          params={"grant_type": "ig_refresh_token", "access_token": token}).json()
        if not answer.get("access_token"):
            raise PermanentError("Instagram answered the token refresh without a token.")
        expires_in = int(answer.get("expires_in") or 60 * 24 * 3600)
        return {**account.credentials, "access_token": answer["access_token"],
                "expires_at": (timezone.now() + timedelta(seconds=expires_in)).isoformat()}

    # --- plumbing -----------------------------------------------------------------------------

    def _client(self, account: AccountRef) -> httpx.Client:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthError("The Instagram account has no access token: connect it again.")
        http = client(f"{settings.INSTAGRAM_GRAPH_URL}/{settings.INSTAGRAM_API_VERSION}/",
                      headers={"Authorization": f"Bearer {token}"})
        http.event_hooks["response"].append(_raise_graph_error)
        return http


def _raise_graph_error(response: httpx.Response) -> None:
    """Graph API errors are told apart by `error.code`, not by HTTP status (mostly 400)."""
    if response.status_code < 400:
        return
    response.read()
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return
    if not isinstance(error, dict):
        return
    code, subcode = error.get("code"), error.get("error_subcode")
    message = f"Instagram: {str(error.get('message') or 'error')[:300]}"
    if code == 190:
        raise AuthError(message, status=response.status_code)
    if code in RATE_LIMIT_CODES or (code == 9 and subcode == PUBLISHING_LIMIT_SUBCODE):
        raise TransientError(message, status=response.status_code, retry_after=header_wait(response, rate_reset=True))


def _parse_time(value: Any) -> datetime | None:
    """Graph timestamps look like 2026-01-02T10:00:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _ig_time(value: str | None) -> datetime | None:
    """Instagram's `timestamp` (ISO 8601 with a +0000 offset)."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
