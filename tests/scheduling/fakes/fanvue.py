"""A local Fanvue that speaks the API reference's wire format: bearer token + version header on
every API call, the multipart media upload session with presigned part URLs, posts (own and agency
routes), the OAuth token endpoint with PKCE and rotating single-use refresh tokens, and
rate-limit headers on every answer."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.scheduling.fakes.base import FakePlatform, Received, Reply

API_VERSION = "2025-06-26"
CLIENT_ID, CLIENT_SECRET = "fv-client", "fv-secret"
CREATOR = r"(?:/creators/(?P<creator>[0-9a-f-]{36}))?"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeFanvue(FakePlatform):
    routes = [
        ("POST", CREATOR + r"/media/uploads", "create_upload"),
        ("GET", CREATOR + r"/media/uploads/(?P<upload>[^/]+)/parts/(?P<part>\d+)/url", "part_url"),
        ("PUT", r"/s3/(?P<upload>[^/]+)/(?P<part>\d+)", "put_part"),
        ("PATCH", CREATOR + r"/media/uploads/(?P<upload>[^/]+)", "complete_upload"),
        ("GET", CREATOR + r"/media/(?P<media>[0-9a-f-]{36})", "get_media"),
        ("POST", CREATOR + r"/posts", "create_post"),
        ("GET", CREATOR + r"/posts", "list_posts"),
        ("GET", CREATOR + r"/posts/(?P<post>[0-9a-f-]{36})", "get_post"),
        ("DELETE", CREATOR + r"/posts/(?P<post>[0-9a-f-]{36})", "delete_post"),
        ("POST", r"/oauth2/token", "token"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state.update(access={"fv-access-1"}, refresh={"fv-refresh-1"}, codes={}, uploads={}, media={},
                          posts={}, remaining=200, processing_polls=1)
        self.counter = itertools.count(2)

    # --- the gatekeeping every API call goes through ------------------------------------------

    def dispatch(self, received: Received) -> Reply:
        if not (received.path.startswith("/s3/") or received.path.startswith("/oauth2/")):
            auth = received.headers.get("authorization", "")
            if received.headers.get("x-fanvue-api-version") != API_VERSION:
                with self.lock:
                    self.requests.append(received)
                return Reply(400, {"error": "Bad Request", "message": "Missing or unsupported X-Fanvue-API-Version"})
            if not auth.startswith("Bearer ") or auth[7:] not in self.state["access"]:
                with self.lock:
                    self.requests.append(received)
                return Reply(401, {"error": "Unauthorized", "message": "Invalid or expired access token"})
        reply = super().dispatch(received)
        with self.lock:
            self.state["remaining"] = max(0, self.state["remaining"] - 1)
            remaining = self.state["remaining"]
        return replace(reply, headers={"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": str(remaining),
                                       "X-RateLimit-Reset": "60", **reply.headers})

    # --- media upload session -----------------------------------------------------------------

    def create_upload(self, r: Received, m: re.Match) -> Reply:
        body = r.json()
        if not {"name", "filename", "mediaType"} <= set(body) or body["mediaType"] not in (
                "image", "video", "audio", "document"):
            return Reply(400, {"error": "Bad Request", "message": "name, filename and mediaType are required"})
        media_uuid, upload_id = str(uuid.uuid4()), f"up-{next(self.counter)}"
        self.state["uploads"][upload_id] = {"media": media_uuid, "parts": {}, "creator": m["creator"], **body}
        self.state["media"][media_uuid] = {"status": "created", "polls": 0}
        return Reply(200, {"mediaUuid": media_uuid, "uploadId": upload_id})

    def part_url(self, r: Received, m: re.Match) -> Reply:
        if m["upload"] not in self.state["uploads"]:
            return Reply(404, {"error": "Not Found", "message": "Upload session not found"})
        return Reply(200, {"url": f"{self.url}/s3/{m['upload']}/{m['part']}?X-Amz-Signature=abc"})

    def put_part(self, r: Received, m: re.Match) -> Reply:
        upload = self.state["uploads"].get(m["upload"])
        if upload is None or "authorization" in r.headers:
            return Reply(403, "<Error><Code>AccessDenied</Code></Error>")
        etag = '"' + hashlib.md5(r.body).hexdigest() + '"'  # noqa: S324 — S3's ETag is an MD5
        upload["parts"][int(m["part"])] = (etag, r.body)
        return Reply(200, b"", headers={"ETag": etag})

    def complete_upload(self, r: Received, m: re.Match) -> Reply:
        upload = self.state["uploads"].get(m["upload"])
        if upload is None:
            return Reply(404, {"error": "Not Found", "message": "Upload session not found"})
        parts = r.json().get("parts") or []
        if [p["PartNumber"] for p in parts] != sorted(upload["parts"]) or any(
                upload["parts"][p["PartNumber"]][0] != p.get("ETag") for p in parts):
            return Reply(400, {"error": "Bad Request", "message": "Parts do not match the uploaded parts"})
        upload["data"] = b"".join(upload["parts"][n][1] for n in sorted(upload["parts"]))
        self.state["media"][upload["media"]]["status"] = "processing"
        return Reply(200, {"status": "processing"})

    def get_media(self, r: Received, m: re.Match) -> Reply:
        media = self.state["media"].get(m["media"])
        if media is None:
            return Reply(404, {"error": "Not Found", "message": "Media not found"})
        media["polls"] += 1
        if media["status"] == "processing" and media["polls"] >= self.state["processing_polls"]:
            media["status"] = "ready"
        return Reply(200, {"uuid": m["media"], "status": media["status"]})

    # --- posts --------------------------------------------------------------------------------

    def create_post(self, r: Received, m: re.Match) -> Reply:
        body = r.json()
        if body.get("audience") not in ("subscribers", "followers-and-subscribers"):
            return Reply(400, {"error": "Bad Request", "message": "audience must be one of subscribers, "
                                                                  "followers-and-subscribers"})
        for media_uuid in body.get("mediaUuids") or []:
            if self.state["media"].get(media_uuid, {}).get("status") != "ready":
                return Reply(400, {"error": "Bad Request", "message": f"Media {media_uuid} is not ready"})
        if body.get("price") and not body.get("mediaUuids"):
            return Reply(400, {"error": "Bad Request", "message": "price requires media"})
        post_uuid = str(uuid.uuid4())
        post = {"uuid": post_uuid, "createdAt": _now(), "text": body.get("text"), "price": body.get("price"),
                "audience": body["audience"], "publishAt": body.get("publishAt"), "publishedAt": _now(),
                "expiresAt": None, "mediaUuids": body.get("mediaUuids") or [], "isPinned": False,
                "likesCount": 0, "commentsCount": 0, "tips": {"count": 0, "totalGross": 0, "totalNet": 0},
                "creator": m["creator"]}
        self.state["posts"][post_uuid] = post
        return Reply(201, {k: v for k, v in post.items() if k not in ("mediaUuids", "isPinned", "likesCount",
                                                                       "commentsCount", "tips", "creator")})

    def list_posts(self, r: Received, m: re.Match) -> Reply:
        size = int(r.query.get("size", ["15"])[0])
        posts = sorted(self.state["posts"].values(), key=lambda p: p["createdAt"], reverse=True)[:size]
        return Reply(200, {"data": [{k: v for k, v in p.items() if k != "creator"} for p in posts],
                           "pagination": {"page": 1, "size": len(posts), "hasMore": False}})

    def get_post(self, r: Received, m: re.Match) -> Reply:
        post = self.state["posts"].get(m["post"])
        if post is None:
            return Reply(404, {"error": "Not Found", "message": "Post not found"})
        return Reply(200, {k: v for k, v in post.items() if k != "creator"})

    def delete_post(self, r: Received, m: re.Match) -> Reply:
        if self.state["posts"].pop(m["post"], None) is None:
            return Reply(404, {"error": "Not Found", "message": "Post not found"})
        return Reply(200, {})

    # --- OAuth --------------------------------------------------------------------------------

    def issue_code(self, code: str, challenge: str, redirect_uri: str) -> None:
        """What the consent page would do: bind a code to the PKCE challenge and redirect URI."""
        self.state["codes"][code] = (challenge, redirect_uri)

    def token(self, r: Received, m: re.Match) -> Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if r.headers.get("authorization") != expected:
            return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        form = {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        if form.get("grant_type") == "authorization_code":
            bound = self.state["codes"].pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if bound is None or bound != (challenge, form.get("redirect_uri")):
                return Reply(400, {"error": "invalid_grant", "error_description": "The authorization code is "
                                                                                  "invalid or the PKCE check failed"})
        elif form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.state["refresh"]:
                return Reply(400, {"error": "invalid_grant", "error_description": "The refresh token is invalid, "
                                                                                  "expired or already used"})
            self.state["refresh"].discard(form["refresh_token"])
        else:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant"})
        n = next(self.counter)
        access, refresh = f"fv-access-{n}", f"fv-refresh-{n}"
        self.state["access"].add(access)
        self.state["refresh"].add(refresh)
        return Reply(200, {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                           "expires_in": 3600, "scope": "openid offline_access read:self write:post write:media"})

    def posts(self) -> list[dict[str, Any]]:
        return list(self.state["posts"].values())
