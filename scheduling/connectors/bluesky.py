"""Bluesky: posts as `app.bsky.feed.post` records written to the account's PDS over XRPC.

From the AT Protocol and Bluesky docs (https://docs.bsky.app, lexicons in bluesky-social/atproto):
- Session: `com.atproto.server.createSession` {identifier, password (an app password)} returns
  `accessJwt`, `refreshJwt`, `did`, `handle`. createSession is rate-limited hard (per account,
  per 5 minutes and per day), so a session is reused for the life of the process and renewed with
  `com.atproto.server.refreshSession` (bearer = refreshJwt) when a call answers `ExpiredToken`;
  the password is only used again when the refresh token is refused too.
- Media: `com.atproto.repo.uploadBlob` takes the raw bytes with their Content-Type and returns a
  blob ref; `app.bsky.embed.images` holds up to 4 images of at most 1,000,000 bytes, each with alt
  text and, when known, an aspect ratio.
- Text: at most 300 graphemes (and 3000 bytes). Links and hashtags become facets addressed by
  UTF-8 byte offsets.
- Ratings become self-labels on the record (`com.atproto.label.defs#selfLabels`): explicit →
  `porn`, suggestive → `sexual` (or `nudity` via options["suggestive_label"]), sfw → none.
- Idempotency: the record key is derived from the publication's idempotency key (TID-shaped:
  13 base32-sortable characters, top bit clear), so a retried createRecord addresses the same
  record instead of making a second post, and `lookup` is a plain `com.atproto.repo.getRecord`.
  The key's embedded time is therefore not the posting time; `createdAt` carries that.
- Errors: `{"error": "<Name>", "message": "..."}`; 429 comes with `ratelimit-reset` (epoch).

Credentials: `identifier` (handle or DID) and `app_password`; optional stored `accessJwt` /
`refreshJwt` (what `refresh` returns). Options: `langs`, `suggestive_label`. The PDS is always
BLUESKY_PDS_URL, an operator's setting: an account's options (which its managers write) never
choose where its app password is sent.
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings
from PIL import Image

from core import platforms
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    ConnectorError,
    PermanentError,
    PublishRequest,
    PublishResult,
    common_validation,
    limits_for,
)
from scheduling.connectors.http import client, send

COLLECTION = "app.bsky.feed.post"
TEXT, MEDIA, _ = platforms.get("bluesky").publishing_limits()
MAX_GRAPHEMES = TEXT.max_length
MAX_TEXT_BYTES = TEXT.max_bytes or TEXT.max_length
MAX_IMAGE_BYTES = MEDIA.max_bytes
IMAGE_TYPES = MEDIA.image_types
SUGGESTIVE_LABELS = ("sexual", "nudity")
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TAG = re.compile(r"(?:^|(?<=\s))#([^\s#.,;:!?()\[\]{}<>\"']+)")

# (pds, identifier) → session (accessJwt, refreshJwt, did, handle): createSession is rate-limited.
_sessions: dict[tuple[str, str], dict[str, str]] = {}
_sessions_lock = threading.Lock()


def record_key(idempotency_key: str) -> str:
    """A TID-shaped record key that is the same every time for the same publication."""
    number = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big") & ((1 << 63) - 1)
    chars = []
    for _ in range(13):
        chars.append(_B32_SORTABLE[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def self_label(rating: str, options: dict[str, Any]) -> str | None:
    if rating == "explicit":
        return "porn"
    if rating == "suggestive":
        label = str(options.get("suggestive_label") or "sexual")
        return label if label in SUGGESTIVE_LABELS else "sexual"
    return None


def facets_for(text: str) -> list[dict[str, Any]]:
    """Link and hashtag facets; Bluesky addresses them by UTF-8 byte offsets, not characters."""
    def span(start: int, end: int) -> dict[str, int]:
        return {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())}

    facets = []
    for match in _LINK.finditer(text):
        uri = match.group(0).rstrip(".,;:!?)")
        facets.append({"index": span(match.start(), match.start() + len(uri)),
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]})
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if tag.isdigit() or len(tag) > 64:
            continue
        facets.append({"index": span(match.start(), match.end()),
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]})
    return facets


class BlueskyConnector:
    platform = "bluesky"
    limits = limits_for("bluesky")
    # The record key comes from the idempotency key: "no record under that key" is proof the post
    # was never created, so the reconciler may put an unknown outcome back on the calendar.
    lookup_is_authoritative = True
    # createRecord at a taken key is refused and `publish` answers with the existing record.
    idempotent_publish = True
    lookup_settle_seconds = 0
    how_to_check = "Open the account's Bluesky profile and look for a post with exactly this text around the due time."

    def validate(self, request: PublishRequest) -> list[str]:
        problems = [p for p in common_validation(self.limits, request) if not p.startswith("A file of")]
        graphemes = TEXT.measure(request.text)
        if graphemes > MAX_GRAPHEMES:
            problems.append(f"The text has {graphemes} characters; Bluesky allows {MAX_GRAPHEMES}.")
        elif len(request.text.encode()) > MAX_TEXT_BYTES:
            problems.append(f"The text is over Bluesky's {MAX_TEXT_BYTES}-byte limit.")
        for item in request.media:
            if item.size > MAX_IMAGE_BYTES:
                problems.append(f"An image of {item.size:,} bytes is over Bluesky's 1,000,000-byte limit.")
        if not request.account.credentials.get("identifier"):
            problems.append("The Bluesky account has no identifier (handle or DID) stored.")
        return problems

    def publish(self, request: PublishRequest) -> PublishResult:
        rkey = record_key(request.idempotency_key)
        with _Xrpc(request.account) as xrpc:
            images = []
            for item in request.media:
                with open(item.path, "rb") as fh:
                    data = fh.read()
                blob = xrpc.call("POST", "com.atproto.repo.uploadBlob", content=data,
                                 headers={"Content-Type": item.mime}).json()["blob"]
                image: dict[str, Any] = {"alt": item.alt, "image": blob}
                ratio = _aspect_ratio(item.path)
                if ratio:
                    image["aspectRatio"] = ratio
                images.append(image)
            record: dict[str, Any] = {"$type": COLLECTION, "text": request.text,
                                      "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds")
                                      .replace("+00:00", "Z")}
            facets = facets_for(request.text)
            if facets:
                record["facets"] = facets
            langs = request.options.get("langs")
            if langs:
                record["langs"] = [langs] if isinstance(langs, str) else list(langs)[:3]
            if images:
                record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
            label = self_label(request.rating, request.options)
            if label:
                record["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": label}]}
            body = {"repo": xrpc.did, "collection": COLLECTION, "rkey": rkey, "record": record}
            try:
                created = xrpc.call("POST", "com.atproto.repo.createRecord", creates=True, json=body).json()
            except AuthError:
                raise
            except PermanentError:
                # A retry of a post that went through: the record key is taken, by this very post.
                existing = self._get(xrpc, rkey)
                if existing is None:
                    raise
                return existing
            return PublishResult(external_id=created["uri"], url=_web_url(xrpc.handle or xrpc.did, rkey))

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        with _Xrpc(request.account) as xrpc:
            return self._get(xrpc, record_key(request.idempotency_key))

    def _get(self, xrpc: _Xrpc, rkey: str) -> PublishResult | None:
        try:
            found = xrpc.call("GET", "com.atproto.repo.getRecord",
                              params={"repo": xrpc.did, "collection": COLLECTION, "rkey": rkey}).json()
        except PermanentError:
            if xrpc.last_error == "RecordNotFound":
                return None
            raise
        return PublishResult(external_id=found["uri"], url=_web_url(xrpc.handle or xrpc.did, rkey))

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        repo, collection, rkey = _parse_uri(external_id)
        with _Xrpc(account) as xrpc:
            xrpc.call("POST", "com.atproto.repo.deleteRecord",
                      json={"repo": repo or xrpc.did, "collection": collection, "rkey": rkey})
        return True

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        with _Xrpc(account) as xrpc:
            posts = xrpc.call("GET", "app.bsky.feed.getPosts", params={"uris": external_id}).json().get("posts") or []
        if not posts:
            return {}
        post = posts[0]
        return {name: int(post.get(name) or 0) for name in ("likeCount", "repostCount", "replyCount", "quoteCount")}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        """Renew the session and hand back its tokens, so other processes reuse it instead of
        spending createSession calls."""
        with _Xrpc(account) as xrpc:
            xrpc.renew()
            session = xrpc.session
        return {**account.credentials, "accessJwt": session["accessJwt"], "refreshJwt": session["refreshJwt"],
                "did": session["did"], "handle": session.get("handle", "")}


class _Xrpc:
    """One account's XRPC calls on its PDS, with the session kept fresh."""

    def __init__(self, account: AccountRef) -> None:
        self.account = account
        self.pds = settings.BLUESKY_PDS_URL.rstrip("/")
        self.identifier = str(account.credentials.get("identifier") or "")
        self.last_error = ""
        self.http = client(self.pds)
        self.http.event_hooks["response"].append(self._remember_error)
        try:
            self.session = self._initial_session()
        except BaseException:
            self.http.close()
            raise

    def __enter__(self) -> _Xrpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    @property
    def did(self) -> str:
        return self.session["did"]

    @property
    def handle(self) -> str:
        return self.session.get("handle", "")

    def call(self, method: str, nsid: str, *, creates: bool = False, headers: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        """One XRPC call; an `ExpiredToken` answer renews the session and tries once more (the
        PDS refused the call before doing anything, so repeating it is safe)."""
        for attempt in (1, 2):
            auth = {"Authorization": f"Bearer {self.session['accessJwt']}", **(headers or {})}
            self.last_error = ""
            try:
                return send(self.http, method, f"/xrpc/{nsid}", creates=creates, headers=auth, **kwargs)
            except ConnectorError:
                if attempt == 1 and self.last_error in ("ExpiredToken", "InvalidToken"):
                    self.renew()
                    continue
                raise
        raise AssertionError("unreachable")

    def renew(self) -> None:
        """refreshSession with the refresh token; a new session from the app password if refused."""
        refresh_jwt = self.session.get("refreshJwt")
        if refresh_jwt:
            self.last_error = ""
            try:
                response = send(self.http, "POST", "/xrpc/com.atproto.server.refreshSession",
                                headers={"Authorization": f"Bearer {refresh_jwt}"})
                self._store(response.json())
                return
            except PermanentError:
                if self.last_error not in ("ExpiredToken", "InvalidToken", "AuthenticationRequired"):
                    raise
        self._store(self._create_session())

    def _initial_session(self) -> dict[str, str]:
        with _sessions_lock:
            cached = _sessions.get((self.pds, self.identifier))
        if cached:
            return cached
        creds = self.account.credentials
        if creds.get("accessJwt") and creds.get("did"):
            return {"accessJwt": creds["accessJwt"], "refreshJwt": creds.get("refreshJwt", ""),
                    "did": creds["did"], "handle": creds.get("handle", "")}
        session = self._create_session()
        self._store(session)
        return self.session

    def _create_session(self) -> dict[str, Any]:
        password = self.account.credentials.get("app_password")
        if not self.identifier or not password:
            raise AuthError("The Bluesky account has no identifier or app password stored: connect it again.")
        response = send(self.http, "POST", "/xrpc/com.atproto.server.createSession",
                        json={"identifier": self.identifier, "password": password})
        return response.json()

    def _store(self, payload: dict[str, Any]) -> None:
        session = {"accessJwt": payload["accessJwt"], "refreshJwt": payload.get("refreshJwt", ""),
                   "did": payload["did"], "handle": payload.get("handle", "")}
        self.session = session
        with _sessions_lock:
            _sessions[(self.pds, self.identifier)] = session

    def _remember_error(self, response: httpx.Response) -> None:
        """Keep the XRPC error name (`ExpiredToken`, `RecordNotFound`…): the status alone is 400."""
        if response.status_code < 400:
            return
        response.read()
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            self.last_error = body["error"]


def _aspect_ratio(path: str) -> dict[str, int] | None:
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError):
        return None
    return {"width": width, "height": height} if width and height else None


def _parse_uri(uri: str) -> tuple[str, str, str]:
    """at://<did>/<collection>/<rkey> → its three parts (a bare rkey is taken as a post of ours)."""
    if uri.startswith("at://"):
        parts = uri[len("at://"):].split("/")
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
    return "", COLLECTION, uri


def _web_url(actor: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{rkey}"
