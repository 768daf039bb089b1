"""X, through the X API v2 with an OAuth 2.0 user token (https://docs.x.com/x-api).

Wire format, from the API reference:
- media (docs.x.com/x-api/media/quickstart/media-upload-chunked): `POST /2/media/upload` as
  multipart/form-data with `command=INIT` (media_type, total_bytes, media_category) → data.id;
  `command=APPEND` (media_id, segment_index, the `media` part, ≤ 5 MB each); `command=FINALIZE`
  → data.processing_info when X still has work to do; then `GET /2/media/upload?command=STATUS`
  until processing_info.state is `succeeded` (waiting `check_after_secs` between polls).
- sensitive media: v2 has no `possibly_sensitive` on `POST /2/tweets`; a warning is set per media
  through `POST /2/media/metadata` {id, metadata: {sensitive_media_warning: {adult_content: …}}},
  which also carries the alt text. Suggestive and explicit posts get `adult_content: true`. A
  text-only post cannot carry the flag: the account's own "sensitive media" setting covers it.
- posts: `POST /2/tweets` {text, media: {media_ids}, made_with_ai} → 201 data.id;
  `DELETE /2/tweets/:id` → data.deleted; `GET /2/tweets/:id?tweet.fields=public_metrics`;
  `GET /2/users/:id/tweets` (recent posts) for lookup; `GET /2/users/me` for the user id.
- rate limits: `x-rate-limit-limit/-remaining/-reset` (epoch seconds) per endpoint; a 429 is
  retried after `x-rate-limit-reset`. Creating posts is limited per user per 15 minutes (100 on
  the self-serve tiers); the media endpoints count separately, so their headers say nothing
  about whether the post itself will be accepted.

Text length follows X's weighted count (twitter-text v3): most Latin text counts 1 per character,
CJK and emoji count 2, and every URL counts 23.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import platforms
from core.platforms import weighted_length
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
    lookup_window_start,
)
from scheduling.connectors.http import client, send

MB = 1024 * 1024
TEXT, MEDIA, _ = platforms.get("x").publishing_limits()
# X's upload sorts files into media categories, each with its own size ceiling.
GIF_TYPES = frozenset({"image/gif"})
IMAGE_TYPES = MEDIA.image_types - GIF_TYPES
VIDEO_TYPES = MEDIA.video_types
SIZE_LIMITS = {"tweet_image": MEDIA.max_image_bytes or MEDIA.max_bytes, "tweet_gif": 15 * MB,
               "tweet_video": MEDIA.max_bytes}
MAX_TEXT = TEXT.max_length
LOOKUP_PAGES = 10  # 1,000 posts since the due time: more than that, a person looks
URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
TCO_RE = re.compile(r"https://t\.co/\S+")


class XConnector:
    platform = "x"
    how_to_check = ("Open the account's profile on X and look for a post with exactly this text around the due "
                    "time (replies and reposts aside).")
    limits = limits_for("x")

    def __init__(self) -> None:
        self.sleep = time.sleep

    @property
    def lookup_settle_seconds(self) -> float:
        """The user timeline may trail a just-created post: a miss is proof after this long (plus the
        client timeout). X documents no figure for it; users of the v2 timeline report a lag of about
        nine seconds, so the default waits three times that (X_LOOKUP_SETTLE_SECONDS)."""
        return float(settings.X_LOOKUP_SETTLE_SECONDS)

    # --- Protocol ------------------------------------------------------------------------------

    def validate(self, request: PublishRequest) -> list[str]:
        problems = common_validation(self.limits, replace(request, text=""))
        length = weighted_length(request.text)
        if length > MAX_TEXT:
            problems.append(f"The caption counts {length} characters on X (links count 23, emoji 2); "
                            f"X allows {MAX_TEXT}.")
        if not request.text.strip() and not request.media:
            problems.append("An X post needs text or media.")
        categories = [_category(item.mime) for item in request.media if item.mime in self.limits.media_types]
        if len(categories) > 1 and any(c != "tweet_image" for c in categories):
            problems.append("X takes up to four images, or a single video or GIF, per post.")
        for item in request.media:
            if item.mime in self.limits.media_types:
                limit = SIZE_LIMITS[_category(item.mime)]
                if item.size > limit:
                    problems.append(f"A {item.mime} file of {item.size // MB} MB is over X's {limit // MB} MB limit.")
        return problems

    def publish(self, request: PublishRequest) -> PublishResult:
        account = request.account
        sensitive = request.rating in ("suggestive", "explicit")
        with self._http(account) as http:
            media_ids = []
            for item in request.media:
                media_id = self._upload(http, item)
                if sensitive or item.alt:
                    self._describe(http, media_id, item, sensitive=sensitive)
                media_ids.append(media_id)
            body: dict[str, Any] = {"text": request.text}
            if media_ids:
                body["media"] = {"media_ids": media_ids}
            if request.ai_generated:
                body["made_with_ai"] = True
            response = send(http, "POST", "/2/tweets", creates=True, json=body)
        tweet_id = str(_data(response)["id"])
        return PublishResult(external_id=tweet_id, url=self._url(account, tweet_id))

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        """The account's own posts since just before the due time (`GET /2/users/:id/tweets` with
        `start_time`, up to 100 per page, following `meta.next_token`), matched by exact text. X has no
        idempotency key: having read every page of the window, "not found" means never created.
        More pages than LOOKUP_PAGES (an account posting hundreds of times since) cannot decide."""
        account = request.account
        since = lookup_window_start(request)
        wanted = _normalise(request.text)
        params: dict[str, Any] = {"max_results": 100, "exclude": "replies,retweets",
                                  "tweet.fields": "created_at,text",
                                  "start_time": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        with self._http(account) as http:
            user_id = account.external_id or str(_data(send(http, "GET", "/2/users/me"))["id"])
            for _ in range(LOOKUP_PAGES):
                body = send(http, "GET", f"/2/users/{user_id}/tweets", params=params).json()
                for tweet in body.get("data") or []:
                    if _normalise(tweet.get("text", "")) == wanted:
                        return PublishResult(external_id=str(tweet["id"]), url=self._url(account, str(tweet["id"])))
                token = (body.get("meta") or {}).get("next_token")
                if not token:
                    return None
                params["pagination_token"] = token
        raise LookupUndecided(f"More than {LOOKUP_PAGES * 100} posts on @{account.handle} since the due time; "
                              f"check the account's profile by hand.")

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        with self._http(account) as http:
            try:
                response = send(http, "DELETE", f"/2/tweets/{external_id}")
            except PermanentError as exc:
                if exc.status == 404:
                    return True
                raise
        return bool(_data(response).get("deleted", True))

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        with self._http(account) as http:
            response = send(http, "GET", f"/2/tweets/{external_id}", params={"tweet.fields": "public_metrics"})
        metrics = _data(response).get("public_metrics") or {}
        names = {"like_count": "likes", "reply_count": "comments", "retweet_count": "reposts",
                 "quote_count": "quotes", "bookmark_count": "bookmarks", "impression_count": "impressions"}
        return {ours: int(metrics[theirs]) for theirs, ours in names.items() if theirs in metrics}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            return None
        prov = oauth2.provider("x")
        token = oauth2.token_grant(prov, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                          "client_id": prov.client_id})
        credentials, _, _ = oauth2.credentials_from(token, previous=account.credentials)
        return credentials

    # --- Wire details --------------------------------------------------------------------------

    def _http(self, account: AccountRef) -> httpx.Client:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthError(f"X @{account.handle} has no access token; connect the account.")
        return client(settings.X_API_URL, headers={"Authorization": f"Bearer {token}"})

    def _url(self, account: AccountRef, tweet_id: str) -> str:
        return f"{settings.X_WEB_URL.rstrip('/')}/{account.handle}/status/{tweet_id}"

    def _upload(self, http: httpx.Client, item: MediaItem) -> str:
        """INIT → APPEND… → FINALIZE → STATUS until processed; returns the media id."""
        category = _category(item.mime)
        total = os.path.getsize(item.path)
        init = send(http, "POST", "/2/media/upload", files=_form(
            command="INIT", media_type=item.mime, total_bytes=str(total), media_category=category))
        media_id = str(_data(init)["id"])
        chunk_size = min(settings.X_UPLOAD_CHUNK_BYTES, 5 * MB)
        with open(item.path, "rb") as fh:
            index = 0
            while chunk := fh.read(chunk_size):
                send(http, "POST", "/2/media/upload", files=[
                    *_form(command="APPEND", media_id=media_id, segment_index=str(index)),
                    ("media", (os.path.basename(item.path), chunk, "application/octet-stream"))])
                index += 1
        last = send(http, "POST", "/2/media/upload", files=_form(command="FINALIZE", media_id=media_id))
        info = _data(last).get("processing_info")
        deadline = time.monotonic() + settings.X_MEDIA_WAIT_SECONDS
        while info and info.get("state") != "succeeded":
            if info.get("state") == "failed":
                error = info.get("error") or {}
                raise PermanentError(f"X could not process the media: {error.get('message') or error.get('name')}.")
            if time.monotonic() >= deadline:
                raise TransientError("X is still processing the media; trying again later.", retry_after=60)
            self.sleep(min(float(info.get("check_after_secs") or 1), 30.0))
            last = send(http, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id})
            info = _data(last).get("processing_info")
        return media_id

    def _describe(self, http: httpx.Client, media_id: str, item: MediaItem, *, sensitive: bool) -> httpx.Response:
        metadata: dict[str, Any] = {}
        if item.alt:
            metadata["alt_text"] = {"text": item.alt[:1000]}
        if sensitive:
            metadata["sensitive_media_warning"] = {"adult_content": True, "graphic_violence": False, "other": False}
        return send(http, "POST", "/2/media/metadata", json={"id": media_id, "metadata": metadata})


def _form(**fields: str) -> list[tuple[str, tuple[None, str]]]:
    """Plain fields sent as multipart/form-data parts, as the upload endpoint expects."""
    return [(name, (None, value)) for name, value in fields.items()]


def _category(mime: str) -> str:
    if mime in VIDEO_TYPES:
        return "tweet_video"
    if mime in GIF_TYPES:
        return "tweet_gif"
    return "tweet_image"


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def _normalise(text: str) -> str:
    """X appends t.co links for attached media and rewrites URLs: compare what is left."""
    return " ".join(URL_RE.sub("", TCO_RE.sub("", text)).split())


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value.replace("Z", "+00:00"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed
