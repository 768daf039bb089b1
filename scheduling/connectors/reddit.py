"""Reddit: self, link and image submissions to a subreddit through the OAuth API.

Wire format (https://www.reddit.com/dev/api, "POST /api/submit"; OAuth2 wiki for tokens):
- every call goes to oauth.reddit.com with `Authorization: bearer <token>` and a descriptive
  User-Agent — Reddit's API rules throttle or ban generic agents;
- `/api/submit` takes a form: `sr`, `kind` (self | link | image), `title`, `text` or `url`,
  `nsfw`, `spoiler`, `flair_id`/`flair_text`, `resubmit`, `api_type=json`. Refusals come back as
  HTTP 200 with `{"json": {"errors": [[CODE, message, field], ...]}}`; `RATELIMIT` carries the
  wait in `json.ratelimit` (seconds) and means the post was not taken;
- images go through the media asset lease: `POST /api/media/asset.json` returns an S3 POST
  policy (`args.action` + `args.fields`) that the file is uploaded to as multipart, then the
  submission points at the uploaded file's URL. That lease is not in the reference docs; the
  shape here is the one PRAW and the official apps use;
- an image submission answers with a websocket URL instead of the post id (the post is made
  once Reddit has processed the image). Rather than hold a websocket open, the connector finds
  the new post in the account's own submissions by title, which is also how `lookup` works;
- `x-ratelimit-remaining`/`-used`/`-reset` are tracked per account: once the window is spent the
  connector waits for the reset rather than spend a request it knows Reddit will refuse.

Account options: `subreddit` (required), `flair_id`, `flair_text`, `spoiler`, `title` (else the
caption's first line), `link_url` (a link post instead of a self post).
"""

from __future__ import annotations

import base64
import html
import os
import re
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from core import platforms
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    LookupUndecided,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
    common_validation,
    limits_for,
    lookup_window_start,
)
from scheduling.connectors.http import client, error_message, send

TEXT, MEDIA, _ = platforms.get("reddit").publishing_limits()
MAX_TITLE = TEXT.caption_length or TEXT.max_length
IMAGE_TYPES = MEDIA.image_types
# Reddit retries the processing of an image post for a short while before it shows in listings.
FIND_ATTEMPTS = 3
FIND_PAUSE_SECONDS = 1.0

# account id → (requests remaining, epoch when the window resets), from Reddit's headers.
_windows: dict[int, tuple[float, float]] = {}
_windows_lock = threading.Lock()


def submission_title(request: PublishRequest) -> tuple[str, str]:
    """(title, body): an explicit title keeps the whole caption as body; otherwise the caption's
    first line becomes the title (cut to Reddit's 300 characters) and the rest the body."""
    explicit = str(request.options.get("title") or "").strip()
    if explicit:
        return explicit, request.text
    lines = request.text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    title = first if len(first) <= MAX_TITLE else first[: MAX_TITLE - 1].rstrip() + "…"
    return title, "\n".join(lines[1:]).strip()


def subreddit_of(options: dict[str, Any]) -> str:
    return re.sub(r"^/?r/", "", str(options.get("subreddit") or "").strip()).strip("/")


# Pages of 100 submissions a lookup reads back before it gives the row to a person.
LOOKUP_PAGES = 5


class RedditConnector:
    platform = "reddit"
    # The submitted listing may trail a just-created post by a little: a miss is proof after this long.
    lookup_settle_seconds = 60
    how_to_check = ("Open the account's profile on Reddit (Posts) and look for a submission with exactly this title "
                    "in the subreddit, around the due time; also check the subreddit's mod queue.")
    limits = limits_for("reddit")

    def validate(self, request: PublishRequest) -> list[str]:
        problems = common_validation(self.limits, request)
        if not subreddit_of(request.options):
            problems.append("Set the subreddit to post to in the account's options.")
        title, _ = submission_title(request)
        if not title:
            problems.append("A Reddit post needs a title: set one, or start the caption with it.")
        elif len(title) > MAX_TITLE:
            problems.append(f"The title has {len(title)} characters; Reddit allows {MAX_TITLE}.")
        return problems

    # --- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> PublishResult:
        account = request.account
        sr = subreddit_of(request.options)
        title, body = submission_title(request)
        form: dict[str, str] = {
            "api_type": "json", "sr": sr, "title": title, "resubmit": "true", "sendreplies": "true",
            "nsfw": "true" if request.rating in ("suggestive", "explicit") else "false",
            "spoiler": "true" if request.options.get("spoiler") else "false",
        }
        if request.options.get("flair_id"):
            form["flair_id"] = str(request.options["flair_id"])
        if request.options.get("flair_text"):
            form["flair_text"] = str(request.options["flair_text"])[:64]
        with self._client(account) as http:
            if request.media:
                form.update(kind="image", url=self._upload_image(http, account, request.media[0].path,
                                                                 request.media[0].mime))
            elif request.options.get("link_url"):
                form.update(kind="link", url=str(request.options["link_url"]))
            else:
                form.update(kind="self", text=body)
            self._wait_for_window(account)
            response = self._send(http, account, "POST", "/api/submit", creates=True, data=form)
            data = self._submit_data(response)
            if data.get("name"):
                return PublishResult(external_id=data["name"], url=data.get("url", ""))
            # Image posts: the id arrives over a websocket once processed; find it in the listing.
            for attempt in range(FIND_ATTEMPTS):
                found = self._find(http, account, title, sr)
                if found:
                    return found
                if attempt + 1 < FIND_ATTEMPTS:
                    time.sleep(FIND_PAUSE_SECONDS)
        raise UnknownOutcome("Reddit accepted the image post but it has not appeared in the account's "
                             "submissions yet.")

    def _upload_image(self, http: httpx.Client, account: AccountRef, path: str, mime: str) -> str:
        """Lease an upload slot, deposit the file in Reddit's bucket, return the file's URL."""
        lease = self._send(http, account, "POST", "/api/media/asset.json",
                           data={"filepath": os.path.basename(path), "mimetype": mime}).json()
        try:
            action = lease["args"]["action"]
            fields = {f["name"]: f["value"] for f in lease["args"]["fields"]}
        except (KeyError, TypeError) as exc:
            raise TransientError("Reddit's upload lease was not understood.") from exc
        action = f"https:{action}" if action.startswith("//") else action
        # S3 refuses a POST policy upload that also carries an Authorization header.
        with client("", timeout=getattr(settings, "CONNECTOR_TIMEOUT_SECONDS", 30)) as bucket, \
                open(path, "rb") as fh:
            uploaded = send(bucket, "POST", action, data=fields,
                            files={"file": (os.path.basename(path), fh, mime)})
        location = _s3_location(uploaded.text)
        return location or f"{action.rstrip('/')}/{fields.get('key', '')}"

    def _submit_data(self, response: httpx.Response) -> dict[str, Any]:
        """Reddit's 200-with-errors: a refusal (or a rate limit) reported inside the JSON body."""
        try:
            payload = response.json()["json"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UnknownOutcome("Reddit answered the submission with something other than its JSON.") from exc
        errors = payload.get("errors") or []
        if errors:
            code, message = _first_error(errors)
            if code == "RATELIMIT":
                raise TransientError(f"Reddit: {message}", retry_after=_ratelimit_wait(payload, message))
            raise PermanentError(f"Reddit refused the post ({code}): {message}")
        return payload.get("data") or {}

    # --- reading back -------------------------------------------------------------------------

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        """The account's own submissions, newest first (`GET /user/{name}/submitted?sort=new`, 100 per
        page, following `after`), matched by exact title and subreddit. Having read back past the due
        time (or to the end of the listing), "not found" means never created; a window longer than
        LOOKUP_PAGES pages cannot decide."""
        title, _ = submission_title(request)
        sr = subreddit_of(request.options)
        since = lookup_window_start(request).timestamp()
        user = re.sub(r"^/?u(ser)?/", "", request.account.handle.strip()).strip("/")
        params = {"sort": "new", "limit": "100", "raw_json": "1"}
        with self._client(request.account) as http:
            for _ in range(LOOKUP_PAGES):
                listing = (self._send(http, request.account, "GET", f"/user/{user}/submitted",
                                      params=params).json().get("data") or {})
                children = [c.get("data") or {} for c in listing.get("children") or []]
                for post in children:
                    if post.get("title") == title and str(post.get("subreddit", "")).lower() == sr.lower():
                        return PublishResult(external_id=post["name"],
                                             url=f"https://www.reddit.com{post.get('permalink', '')}")
                oldest = min((float(p.get("created_utc") or 0) for p in children), default=0.0)
                if not listing.get("after") or oldest < since:
                    return None
                params["after"] = listing["after"]
        raise LookupUndecided(f"More than {LOOKUP_PAGES * 100} submissions by u/{user} since the due time; "
                              f"check the profile by hand.")

    def _find(self, http: httpx.Client, account: AccountRef, title: str, sr: str) -> PublishResult | None:
        """The account's newest submission with this title in this subreddit."""
        user = re.sub(r"^/?u(ser)?/", "", account.handle.strip()).strip("/")
        listing = self._send(http, account, "GET", f"/user/{user}/submitted",
                             params={"sort": "new", "limit": "25", "raw_json": "1"}).json()
        for child in (listing.get("data") or {}).get("children") or []:
            post = child.get("data") or {}
            if post.get("title") == title and str(post.get("subreddit", "")).lower() == sr.lower():
                return PublishResult(external_id=post["name"],
                                     url=f"https://www.reddit.com{post.get('permalink', '')}")
        return None

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        with self._client(account) as http:
            self._send(http, account, "POST", "/api/del", data={"id": _fullname(external_id)})
        return True

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        with self._client(account) as http:
            listing = self._send(http, account, "GET", "/api/info",
                                 params={"id": _fullname(external_id), "raw_json": "1"}).json()
        children = (listing.get("data") or {}).get("children") or []
        if not children:
            return {}
        post = children[0].get("data") or {}
        return {"score": int(post.get("score") or 0), "num_comments": int(post.get("num_comments") or 0),
                # Metrics are integers: the ratio is kept as a percentage.
                "upvote_ratio_pct": round(float(post.get("upvote_ratio") or 0) * 100)}

    # --- tokens -------------------------------------------------------------------------------

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Exchange the stored refresh token for a new access token (they live 24 h).

        Reddit answers a revoked refresh token with `{"error": "invalid_grant"}`, sometimes with
        HTTP 200, so the body decides, not only the status.
        """
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            return None
        if not settings.REDDIT_CLIENT_ID:
            raise PermanentError("REDDIT_CLIENT_ID is not configured; Reddit tokens cannot be refreshed.")
        pair = f"{settings.REDDIT_CLIENT_ID}:{settings.REDDIT_CLIENT_SECRET}".encode()
        headers = {"User-Agent": settings.REDDIT_USER_AGENT,
                   "Authorization": "Basic " + base64.b64encode(pair).decode()}
        with client(settings.REDDIT_AUTH_URL, headers=headers) as http:
            try:
                response = http.post("/api/v1/access_token",
                                     data={"grant_type": "refresh_token", "refresh_token": refresh_token})
            except httpx.TransportError as exc:
                raise TransientError(f"Could not reach Reddit's token endpoint ({exc.__class__.__name__}).") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if isinstance(body, dict) and body.get("error") in ("invalid_grant", "invalid_token"):
            raise AuthError("Reddit refused the refresh token: the account must be reconnected.",
                            status=response.status_code)
        if response.status_code == 401:
            raise PermanentError("Reddit refused the app's client id/secret.", status=401)
        if response.status_code >= 400 or not isinstance(body, dict) or not body.get("access_token"):
            if response.status_code == 429 or response.status_code >= 500:
                raise TransientError(error_message(response), status=response.status_code)
            raise PermanentError(error_message(response), status=response.status_code)
        expires_in = int(body.get("expires_in") or 3600)
        return {**account.credentials, "access_token": body["access_token"],
                "refresh_token": body.get("refresh_token") or refresh_token,
                "scope": body.get("scope", account.credentials.get("scope", "")),
                "expires_at": (timezone.now() + timedelta(seconds=expires_in)).isoformat()}

    # --- plumbing -----------------------------------------------------------------------------

    def _client(self, account: AccountRef) -> httpx.Client:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthError("The Reddit account has no access token: connect it again.")
        return client(settings.REDDIT_API_URL,
                      headers={"Authorization": f"bearer {token}", "User-Agent": settings.REDDIT_USER_AGENT})

    def _send(self, http: httpx.Client, account: AccountRef, method: str, url: str, *, creates: bool = False,
              **kwargs: Any) -> httpx.Response:
        response = send(http, method, url, creates=creates, **kwargs)
        _remember_window(account, response)
        return response

    def _wait_for_window(self, account: AccountRef) -> None:
        """Refuse locally, before the create call, when Reddit said the window is spent."""
        with _windows_lock:
            remaining, reset_at = _windows.get(account.id, (1.0, 0.0))
        wait = reset_at - time.time()
        if remaining < 1 and wait > 0:
            raise TransientError("Reddit's request allowance for this account is spent until the window resets.",
                                 retry_after=wait)


def _remember_window(account: AccountRef, response: httpx.Response) -> None:
    remaining, reset = response.headers.get("x-ratelimit-remaining"), response.headers.get("x-ratelimit-reset")
    if remaining is None or reset is None:
        return
    try:
        window = (float(remaining), time.time() + float(reset))
    except ValueError:
        return
    with _windows_lock:
        _windows[account.id] = window


def _fullname(external_id: str) -> str:
    return external_id if external_id.startswith("t3_") else f"t3_{external_id}"


def _first_error(errors: list[Any]) -> tuple[str, str]:
    first = errors[0]
    if isinstance(first, (list, tuple)) and first:
        return str(first[0]), str(first[1] if len(first) > 1 else first[0])[:300]
    return "ERROR", str(first)[:300]


def _ratelimit_wait(payload: dict[str, Any], message: str) -> float | None:
    if isinstance(payload.get("ratelimit"), (int, float)):
        return float(payload["ratelimit"])
    match = re.search(r"(\d+)\s*(second|minute)", message)
    if match:
        return float(match.group(1)) * (60 if match.group(2) == "minute" else 1)
    return None


def _s3_location(text: str) -> str:
    """The uploaded file's URL from S3's `<PostResponse><Location>` answer, if it sent one."""
    match = re.search(r"<Location>([^<]+)</Location>", text)
    return html.unescape(match.group(1)).strip() if match else ""
