"""Fanvue, through its official API (https://api.fanvue.com/docs).

Wire format, from the API reference (version header `X-Fanvue-API-Version: 2025-06-26`):
- media: `POST /media/uploads` {name, filename, mediaType} → {mediaUuid, uploadId};
  `GET /media/uploads/{uploadId}/parts/{n}/url` → a presigned S3 URL, to which the part is PUT
  (the ETag header comes back); `PATCH /media/uploads/{uploadId}` {parts: [{ETag, PartNumber}]}
  → {status: created|processing|ready|error}; `GET /media/{uuid}` until it is ready.
- posts: `POST /posts` {text, mediaUuids, price (cents), audience, publishAt} → 201 {uuid, …};
  `GET /posts?page&size` (newest first) and `GET /posts/{uuid}` (likesCount, commentsCount,
  tips {count, totalGross, totalNet}).
- an agency token acting for a creator uses the same paths under `/creators/{creatorUserUuid}`
  (the account's `options["creator_uuid"]`).

Choices and assumptions, where the reference is silent:
- The API takes no idempotency key. `lookup` (only used after an unknown outcome) lists the
  newest posts and matches one with the same text, the same number of media and a creation time
  no earlier than shortly before the publication was due. A caption reused within that window
  could match the wrong post; the dispatcher only asks after a timeout, so this is rare.
- `DELETE /posts/{uuid}` removes a post; a 404 there means it is already gone.
- Prices are in US cents; a post in another currency is refused in validation.
- The published limit is 200 requests per 60 s per token. 429 answers carry `Retry-After`; a
  response showing `X-RateLimit-Remaining: 0` stops the run before the post is created.
- `publishAt` is sent only when the due time is still ahead (Fanvue schedules it natively);
  a post being published late is published now.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import platforms
from scheduling.connectors import oauth2
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    LookupUndecided,
    MediaItem,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
    common_validation,
    limits_for,
)
from scheduling.connectors.http import client, retry_after, send

MB = 1024 * 1024
MEDIA = platforms.get("fanvue").publishing_limits()[1]
IMAGE_TYPES = MEDIA.image_types
VIDEO_TYPES = MEDIA.video_types
AUDIO_TYPES = MEDIA.audio_types
MAX_IMAGE_BYTES = MEDIA.max_image_bytes or MEDIA.max_bytes
AUDIENCES = {"subscribers": "subscribers", "followers": "followers-and-subscribers",
             "followers-and-subscribers": "followers-and-subscribers"}


class FanvueConnector:
    platform = "fanvue"
    # The account's newest posts, by exact text and time: a miss is proof after this long.
    lookup_settle_seconds = 60
    how_to_check = "Open the creator's Fanvue profile and look for a post with exactly this text around the due time."
    limits = limits_for("fanvue")

    def __init__(self) -> None:
        self.sleep = time.sleep

    # --- Protocol ------------------------------------------------------------------------------

    def validate(self, request: PublishRequest) -> list[str]:
        problems = common_validation(self.limits, request)
        for item in request.media:
            if item.mime in IMAGE_TYPES and item.size > MAX_IMAGE_BYTES:
                problems.append(f"An image of {item.size // MB} MB is over Fanvue's {MAX_IMAGE_BYTES // MB} MB "
                                f"image limit.")
        if request.price_minor:
            if not request.media:
                problems.append("A paid Fanvue post needs at least one media file.")
            if request.currency and request.currency.upper() != "USD":
                problems.append(f"Fanvue prices are in US dollars, not {request.currency}.")
        audience = _audience(request)
        if audience not in AUDIENCES:
            problems.append(f"Unknown Fanvue audience {audience!r}; use subscribers or followers.")
        if not request.text.strip() and not request.media:
            problems.append("A Fanvue post needs text or media.")
        return problems

    def publish(self, request: PublishRequest) -> PublishResult:
        account = request.account
        with self._http(account) as http:
            uuids = []
            for item in request.media:
                media_uuid, last = self._upload(http, account, item)
                uuids.append(media_uuid)
                _guard_budget(last)
            body: dict[str, Any] = {"text": request.text, "mediaUuids": uuids,
                                    "audience": AUDIENCES[_audience(request)]}
            if request.price_minor:
                body["price"] = request.price_minor
            publish_at = _future(request.publish_at)
            if publish_at:
                body["publishAt"] = publish_at
            response = send(http, "POST", f"{_prefix(account)}/posts", creates=True, json=body)
        post = response.json()
        return PublishResult(external_id=post["uuid"], url=self._url(account, post["uuid"]))

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        account = request.account
        since = _parse(request.publish_at) or timezone.now() - timedelta(days=1)
        since -= timedelta(minutes=10)
        with self._http(account) as http:
            response = send(http, "GET", f"{_prefix(account)}/posts", params={"page": 1, "size": 50})
        posts = response.json().get("data", [])
        for post in posts:
            created = _parse(post.get("createdAt"))
            if ((post.get("text") or "").strip() == request.text.strip() and created and created >= since
                    and len(post.get("mediaUuids") or []) == len(request.media)):
                return PublishResult(external_id=post["uuid"], url=self._url(account, post["uuid"]))
        # "Not found" is proof only when the page reached back past the window (or holds every post).
        dates = [d for d in (_parse(p.get("createdAt")) for p in posts) if d]
        if len(posts) < 50 or (dates and min(dates) < since):
            return None
        raise LookupUndecided("More than 50 posts on the account since the due time; check the profile by hand.")

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        with self._http(account) as http:
            try:
                send(http, "DELETE", f"{_prefix(account)}/posts/{external_id}")
            except PermanentError as exc:
                if exc.status == 404:
                    return True
                raise
        return True

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        with self._http(account) as http:
            post = send(http, "GET", f"{_prefix(account)}/posts/{external_id}").json()
        tips = post.get("tips") or {}
        return {"likes": int(post.get("likesCount") or 0), "comments": int(post.get("commentsCount") or 0),
                "tips": int(tips.get("count") or 0), "tips_gross_minor": int(tips.get("totalGross") or 0),
                "tips_net_minor": int(tips.get("totalNet") or 0)}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            return None
        token = oauth2.token_grant(oauth2.provider("fanvue"),
                                   {"grant_type": "refresh_token", "refresh_token": refresh_token})
        credentials, _, _ = oauth2.credentials_from(token, previous=account.credentials)
        return credentials

    # --- Wire details --------------------------------------------------------------------------

    def _http(self, account: AccountRef) -> httpx.Client:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthError(f"Fanvue @{account.handle} has no access token; connect the account.")
        return client(settings.FANVUE_API_URL, headers={
            "Authorization": f"Bearer {token}", "X-Fanvue-API-Version": settings.FANVUE_API_VERSION})

    def _url(self, account: AccountRef, uuid: str) -> str:
        return f"{settings.FANVUE_WEB_URL.rstrip('/')}/{account.handle}/post/{uuid}"

    def _upload(self, http: httpx.Client, account: AccountRef, item: MediaItem) -> tuple[str, httpx.Response]:
        """Upload one file through a multipart session; returns its media uuid once Fanvue has it,
        with the last API answer (its rate-limit headers decide whether the post can follow)."""
        prefix = _prefix(account)
        name = os.path.basename(item.path)
        session = send(http, "POST", f"{prefix}/media/uploads",
                       json={"name": name, "filename": name, "mediaType": _media_type(item.mime)}).json()
        media_uuid, upload_id = session["mediaUuid"], session["uploadId"]
        parts = []
        # Presigned part URLs point at object storage: no bearer token and no API headers go there.
        with client("") as storage:
            for number, chunk in _chunks(item.path, settings.FANVUE_UPLOAD_PART_BYTES):
                answer = send(http, "GET", f"{prefix}/media/uploads/{upload_id}/parts/{number}/url")
                put = send(storage, "PUT", _part_url(answer), content=chunk)
                parts.append({"ETag": put.headers.get("etag", ""), "PartNumber": number})
        done = send(http, "PATCH", f"{prefix}/media/uploads/{upload_id}", json={"parts": parts})
        last = self._wait_ready(http, prefix, media_uuid, str((done.json() or {}).get("status", "")), done)
        return media_uuid, last

    def _wait_ready(self, http: httpx.Client, prefix: str, media_uuid: str, status: str,
                    last: httpx.Response) -> httpx.Response:
        deadline = time.monotonic() + settings.FANVUE_MEDIA_WAIT_SECONDS
        while True:
            state = status.lower()
            if state in ("ready", "finalised", "finalized"):
                return last
            if state in ("error", "failed"):
                raise PermanentError(f"Fanvue could not process the media {media_uuid}.")
            if time.monotonic() >= deadline:
                raise TransientError(f"Fanvue is still processing the media {media_uuid}; trying again later.",
                                     retry_after=60)
            self.sleep(settings.FANVUE_MEDIA_POLL_SECONDS)
            last = send(http, "GET", f"{prefix}/media/{media_uuid}")
            status = str((last.json() or {}).get("status", ""))


def _audience(request: PublishRequest) -> str:
    """Per publication (`options`), else the account's default, else subscribers only."""
    return request.options.get("audience") or (request.account.options or {}).get("audience") or "subscribers"


def _prefix(account: AccountRef) -> str:
    creator = (account.options or {}).get("creator_uuid")
    return f"/creators/{creator}" if creator else ""


def _media_type(mime: str) -> str:
    if mime in VIDEO_TYPES:
        return "video"
    if mime in AUDIO_TYPES:
        return "audio"
    if mime in IMAGE_TYPES:
        return "image"
    raise PermanentError(f"{mime} cannot be uploaded to Fanvue.")


def _part_url(response: httpx.Response) -> str:
    """The reference leaves this body's schema open: a JSON string or an object with `url`."""
    try:
        body = response.json()
    except ValueError:
        body = response.text.strip()
    if isinstance(body, dict):
        body = body.get("url") or body.get("signedUrl") or body.get("uploadUrl")
    if not isinstance(body, str) or not body.startswith("http"):
        raise TransientError("Fanvue did not return an upload URL for a media part.")
    return body


def _chunks(path: str, size: int) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        number = 1
        while True:
            chunk = fh.read(size)
            if not chunk and number > 1:
                return
            yield number, chunk
            if len(chunk) < size:
                return
            number += 1


def _guard_budget(response: httpx.Response) -> None:
    """Stop before creating the post when the last answer said the window is spent: the create
    would be refused with 429 anyway, and stopping here is certain not to publish."""
    if response.headers.get("x-ratelimit-remaining") == "0":
        raise TransientError("Fanvue's request budget for this window is spent.", status=429,
                             retry_after=retry_after(response, rate_reset=True) or 60)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value.replace("Z", "+00:00"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _future(value: str | None) -> str | None:
    parsed = _parse(value)
    if parsed and parsed > timezone.now() + timedelta(minutes=1):
        return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return None
