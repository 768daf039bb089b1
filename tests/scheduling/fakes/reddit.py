"""A fake Reddit: OAuth API (submit, media asset lease, listings, delete), the S3 bucket the lease
points at, and the token endpoint — answering with Reddit's shapes, including its habit of
reporting refusals inside an HTTP 200 body."""

from __future__ import annotations

import base64
import itertools
import re
import time
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from tests.scheduling.fakes.base import FakePlatform, Received, Reply


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(received: Received) -> list[Part]:
    """The parts of a multipart/form-data body, in the order they were sent."""
    content_type = received.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise AssertionError(f"expected multipart/form-data, got {content_type!r}")
    message = BytesParser(policy=default_policy).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + received.body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts.append(Part(str(name), part.get_filename(), part.get_content_type(), part.get_payload(decode=True)))
    return parts


def rate_headers(remaining: float = 595.0, used: int = 5, reset: int = 240) -> dict[str, str]:
    return {"x-ratelimit-remaining": str(remaining), "x-ratelimit-used": str(used), "x-ratelimit-reset": str(reset)}


class FakeReddit(FakePlatform):
    routes = [
        ("POST", r"/api/v1/access_token", "access_token"),
        ("POST", r"/api/media/asset\.json", "asset_lease"),
        ("POST", r"/bucket", "bucket_upload"),
        ("POST", r"/api/submit", "submit"),
        ("GET", r"/user/([^/]+)/submitted", "submitted"),
        ("POST", r"/api/del", "delete"),
        ("GET", r"/api/info", "info"),
    ]
    CLIENT_ID, CLIENT_SECRET = "reddit-client", "reddit-secret"

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {"good-token"}
        self.refresh_tokens = {"refresh-1"}
        self.subreddits = {"atelier_test"}
        self.user = "atelier_creator"
        self.posts: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Part] = {}
        self.ids = (f"p{n:04d}" for n in itertools.count(1))
        self.rate = rate_headers()

    # --- helpers ---
    def _authorised(self, received: Received) -> Reply | None:
        auth = received.headers.get("authorization", "")
        agent = received.headers.get("user-agent", "")
        if not re.search(r"\(by /u/[\w-]+\)", agent):
            return Reply(429, {"message": "Too Many Requests", "error": 429})  # Reddit throttles generic agents
        if not auth.lower().startswith("bearer ") or auth.split(" ", 1)[1] not in self.tokens:
            return Reply(401, {"message": "Unauthorized", "error": 401})
        return None

    def _listing(self, posts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"kind": "Listing", "data": {"after": None, "before": None,
                                            "children": [{"kind": "t3", "data": p} for p in posts]}}

    # --- routes ---
    def access_token(self, received: Received, match: re.Match) -> Reply:
        expected = base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
        if received.headers.get("authorization") != f"Basic {expected}":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        form = received.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return Reply(200, {"error": "invalid_grant"})  # Reddit's 200-with-error
        self.tokens.add("fresh-token")
        return Reply(200, {"access_token": "fresh-token", "token_type": "bearer", "expires_in": 86400,
                           "scope": "submit read identity edit history"})

    def asset_lease(self, received: Received, match: re.Match) -> Reply:
        if denied := self._authorised(received):
            return denied
        form = received.form()
        key = f"rte_images/{next(self.ids)}/{form['filepath']}"
        fields = [{"name": "acl", "value": "private"}, {"name": "key", "value": key},
                  {"name": "Content-Type", "value": form["mimetype"]},
                  {"name": "policy", "value": "eyJleHBpcmF0aW9uIjoi"},
                  {"name": "x-amz-signature", "value": "0123abcd"}]
        return Reply(200, {"args": {"action": f"{self.url}/bucket", "fields": fields},
                           "asset": {"asset_id": key.split("/")[1], "processing_state": "incomplete",
                                     "payload": {"filepath": form["filepath"]},
                                     "websocket_url": "wss://ws.example/rte_images/x"}}, headers=self.rate)

    def bucket_upload(self, received: Received, match: re.Match) -> Reply:
        if "authorization" in received.headers:
            return Reply(400, "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                              "</Message></Error>")
        parts = parse_multipart(received)
        if parts[-1].name != "file":  # S3 ignores every field after the file
            return Reply(400, "<Error><Code>InvalidArgument</Code><Message>file must be last</Message></Error>")
        fields = {p.name: p.data.decode() for p in parts[:-1]}
        for needed in ("key", "policy", "x-amz-signature", "Content-Type"):
            if needed not in fields:
                return Reply(403, "<Error><Code>AccessDenied</Code></Error>")
        location = f"https://reddit-uploaded-media.s3-accelerate.amazonaws.com/{fields['key']}"
        self.uploads[location] = parts[-1]
        return Reply(201, f"<PostResponse><Location>{location}</Location><Key>{fields['key']}</Key></PostResponse>",
                     headers={"Content-Type": "application/xml"})

    def submit(self, received: Received, match: re.Match) -> Reply:
        if denied := self._authorised(received):
            return denied
        form = received.form()
        if form.get("api_type") != "json":
            return Reply(200, "<html>old-style response</html>")
        if form.get("sr") not in self.subreddits:
            return Reply(200, {"json": {"errors": [["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]]}},
                         headers=self.rate)
        if form.get("kind") == "image" and form.get("url") not in self.uploads:
            return Reply(200, {"json": {"errors": [["BAD_IMAGE", "image not uploaded", "url"]]}})
        post_id = next(self.ids)
        post = {"id": post_id, "name": f"t3_{post_id}", "title": form["title"], "subreddit": form["sr"],
                "permalink": f"/r/{form['sr']}/comments/{post_id}/x/", "over_18": form.get("nsfw") == "true",
                "score": 1, "num_comments": 0, "upvote_ratio": 1.0, "form": form, "created_utc": time.time()}
        self.posts[post["name"]] = post
        if form.get("kind") == "image":
            return Reply(200, {"json": {"errors": [], "data": {
                "user_submitted_page": f"https://www.reddit.com/user/{self.user}/submitted/",
                "websocket_url": "wss://ws.example/rte_images/x"}}}, headers=self.rate)
        return Reply(200, {"json": {"errors": [], "data": {
            "url": f"https://www.reddit.com{post['permalink']}", "drafts_count": 0, "id": post_id,
            "name": post["name"]}}}, headers=self.rate)

    def submitted(self, received: Received, match: re.Match) -> Reply:
        if denied := self._authorised(received):
            return denied
        if match.group(1) != self.user:
            return Reply(404, {"message": "Not Found", "error": 404})
        return Reply(200, self._listing(list(reversed(self.posts.values()))), headers=self.rate)

    def delete(self, received: Received, match: re.Match) -> Reply:
        if denied := self._authorised(received):
            return denied
        self.posts.pop(received.form().get("id", ""), None)
        return Reply(200, {}, headers=self.rate)

    def info(self, received: Received, match: re.Match) -> Reply:
        if denied := self._authorised(received):
            return denied
        wanted = received.query.get("id", [""])[0].split(",")
        return Reply(200, self._listing([self.posts[w] for w in wanted if w in self.posts]), headers=self.rate)
