"""A local X API v2: bearer-token checks, the chunked media upload (INIT / APPEND / FINALIZE as
multipart/form-data, STATUS polling for video), media metadata, posts, the user timeline, the
OAuth 2.0 token endpoint, `x-rate-limit-*` headers and X's problem-JSON error bodies."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from tests.scheduling.fakes.base import FakePlatform, Received, Reply

CLIENT_ID, CLIENT_SECRET = "x-client", "x-secret"
USER_ID = "2244994945"
UPLOAD_CHUNK = 2048  # the connector's chunk size in tests: a small photo takes several APPENDs


def problem(status: int, title: str, detail: str) -> Reply:
    return Reply(status, {"title": title, "detail": detail, "type": "about:blank", "status": status})


def multipart(received: Received) -> dict[str, bytes]:
    """Fields of a multipart/form-data body (refuses anything else, as X does for uploads)."""
    content_type = received.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"expected multipart/form-data, got {content_type!r}")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + received.body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True) or b""
    return fields


class FakeX(FakePlatform):
    routes = [
        ("POST", r"/2/media/upload", "media_upload"),
        ("GET", r"/2/media/upload", "media_status"),
        ("POST", r"/2/media/metadata", "media_metadata"),
        ("POST", r"/2/tweets", "create_tweet"),
        ("GET", r"/2/tweets/(?P<id>\d+)", "get_tweet"),
        ("DELETE", r"/2/tweets/(?P<id>\d+)", "delete_tweet"),
        ("GET", r"/2/users/me", "me"),
        ("GET", r"/2/users/(?P<user>\d+)/tweets", "timeline"),
        ("POST", r"/2/oauth2/token", "token"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state.update(access={"x-access-1"}, refresh={"x-refresh-1"}, media={}, metadata={}, tweets={},
                          remaining=100, status_polls=2)
        self.ids = itertools.count(1_900_000_000_000_000_001)

    def dispatch(self, received: Received) -> Reply:
        if received.path != "/2/oauth2/token":
            auth = received.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.state["access"]:
                with self.lock:
                    self.requests.append(received)
                return problem(401, "Unauthorized", "Unauthorized")
        reply = super().dispatch(received)
        with self.lock:
            self.state["remaining"] = max(0, self.state["remaining"] - 1)
            remaining = self.state["remaining"]
        return replace(reply, headers={"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(remaining),
                                       "x-rate-limit-reset": str(int(time.time()) + 900), **reply.headers})

    # --- chunked media upload -----------------------------------------------------------------

    def media_upload(self, r: Received, m: re.Match) -> Reply:
        try:
            form = multipart(r)
        except ValueError as exc:
            return problem(400, "Invalid Request", str(exc))
        command = form.get("command", b"").decode()
        if command == "INIT":
            media_id = str(next(self.ids))
            self.state["media"][media_id] = {
                "type": form["media_type"].decode(), "total": int(form["total_bytes"]),
                "category": form.get("media_category", b"").decode(), "segments": {}, "state": "uploading",
                "polls": 0}
            return Reply(202, {"data": {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}})
        media = self.state["media"].get(form.get("media_id", b"").decode())
        if media is None:
            return problem(400, "Invalid Request", "media_id is not a known upload")
        if command == "APPEND":
            index = int(form["segment_index"])
            if len(form.get("media", b"")) > 5 * 1024 * 1024 or index != len(media["segments"]):
                return problem(400, "Invalid Request", "segment out of order or over 5 MB")
            media["segments"][index] = form["media"]
            return Reply(204, b"")
        if command == "FINALIZE":
            data = b"".join(media["segments"][i] for i in sorted(media["segments"]))
            if len(data) != media["total"]:
                return problem(400, "Invalid Request", "File size mismatch")
            media["data"] = data
            answer: dict[str, Any] = {"id": form["media_id"].decode(), "size": len(data), "expires_after_secs": 86400}
            if media["category"] == "tweet_video":
                media["state"] = "pending"
                answer["processing_info"] = {"state": "pending", "check_after_secs": 1}
            else:
                media["state"] = "succeeded"
            return Reply(200, {"data": answer})
        return problem(400, "Invalid Request", f"Unknown command {command!r}")

    def media_status(self, r: Received, m: re.Match) -> Reply:
        media_id = r.query.get("media_id", [""])[0]
        media = self.state["media"].get(media_id)
        if r.query.get("command") != ["STATUS"] or media is None:
            return problem(400, "Invalid Request", "command=STATUS and a known media_id are required")
        media["polls"] += 1
        media["state"] = "succeeded" if media["polls"] >= self.state["status_polls"] else "in_progress"
        info = {"state": media["state"], "check_after_secs": 1, "progress_percent": 100 if
                media["state"] == "succeeded" else 50}
        return Reply(200, {"data": {"id": media_id, "processing_info": info}})

    def media_metadata(self, r: Received, m: re.Match) -> Reply:
        body = r.json()
        if body.get("id") not in self.state["media"]:
            return problem(400, "Invalid Request", "Unknown media id")
        self.state["metadata"][body["id"]] = body.get("metadata") or {}
        return Reply(200, {"data": {"id": body["id"], "associated_metadata": body.get("metadata") or {}}})

    # --- posts --------------------------------------------------------------------------------

    def create_tweet(self, r: Received, m: re.Match) -> Reply:
        body = r.json()
        for media_id in (body.get("media") or {}).get("media_ids", []):
            if self.state["media"].get(media_id, {}).get("state") != "succeeded":
                return Reply(400, {"errors": [{"message": f"Your media IDs are invalid: {media_id}"}],
                                   "title": "Invalid Request", "type": "about:blank",
                                   "detail": "One or more parameters to your request was invalid."})
        if len(body.get("text", "")) > 280:
            return Reply(400, {"errors": [{"message": "Tweet text is too long"}], "title": "Invalid Request",
                               "detail": "One or more parameters to your request was invalid.", "type": "about:blank"})
        tweet_id = str(next(self.ids))
        media_ids = (body.get("media") or {}).get("media_ids", [])
        text = body.get("text", "") + (f" https://t.co/{tweet_id[-8:]}" if media_ids else "")
        self.state["tweets"][tweet_id] = {
            "id": tweet_id, "text": text, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "body": body, "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                             "quote_count": 0, "bookmark_count": 0, "impression_count": 0}}
        return Reply(201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}})

    def get_tweet(self, r: Received, m: re.Match) -> Reply:
        tweet = self.state["tweets"].get(m["id"])
        if tweet is None:
            return Reply(200, {"errors": [{"value": m["id"], "detail": f"Could not find tweet with id: [{m['id']}].",
                                           "title": "Not Found Error", "type": "about:blank"}]})
        fields = (r.query.get("tweet.fields") or [""])[0].split(",")
        data = {"id": tweet["id"], "text": tweet["text"]}
        if "public_metrics" in fields:
            data["public_metrics"] = tweet["public_metrics"]
        return Reply(200, {"data": data})

    def delete_tweet(self, r: Received, m: re.Match) -> Reply:
        deleted = self.state["tweets"].pop(m["id"], None) is not None
        return Reply(200, {"data": {"deleted": deleted}})

    def me(self, r: Received, m: re.Match) -> Reply:
        return Reply(200, {"data": {"id": USER_ID, "name": "Luna", "username": "luna_x"}})

    def timeline(self, r: Received, m: re.Match) -> Reply:
        """Newest first, `max_results` (5–100, default 10) per page, `meta.next_token` while more
        remain, `pagination_token` to go on (docs.x.com: GET /2/users/:id/tweets)."""
        since = (r.query.get("start_time") or [""])[0]
        size = int((r.query.get("max_results") or ["10"])[0])
        if not 5 <= size <= 100:
            return problem(400, "Invalid Request", "max_results must be between 5 and 100")
        start = int((r.query.get("pagination_token") or ["0"])[0] or 0)
        tweets = [{"id": t["id"], "text": t["text"], "created_at": t["created_at"]}
                  for t in sorted(self.state["tweets"].values(), key=lambda t: (t["created_at"], t["id"]),
                                  reverse=True)
                  if not since or t["created_at"] >= since.replace("Z", ".000Z")]
        page = tweets[start:start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(tweets):
            meta["next_token"] = str(start + size)
        return Reply(200, {"data": page, "meta": meta} if page else {"meta": meta})

    # --- OAuth 2.0 ----------------------------------------------------------------------------

    def token(self, r: Received, m: re.Match) -> Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if r.headers.get("authorization") != expected:
            return Reply(401, {"error": "unauthorized_client",
                               "error_description": "Missing valid authorization header"})
        form = {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.state["refresh"]:
            # X answers a spent or unknown refresh token with invalid_request.
            return Reply(400, {"error": "invalid_request", "error_description": "Value passed for the token was "
                                                                                "invalid."})
        self.state["refresh"].discard(form["refresh_token"])
        n = next(self.ids)
        access, refresh = f"x-access-{n}", f"x-refresh-{n}"
        self.state["access"].add(access)
        self.state["refresh"].add(refresh)
        return Reply(200, {"token_type": "bearer", "expires_in": 7200, "access_token": access,
                           "refresh_token": refresh, "scope": "tweet.read tweet.write users.read media.write "
                                                              "offline.access"})


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
