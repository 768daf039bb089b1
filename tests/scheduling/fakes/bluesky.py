"""A fake Bluesky PDS: sessions (create/refresh, expiring access tokens), raw-body blob uploads,
post records under caller-chosen record keys, and the AT Protocol's `{"error", "message"}` bodies
with `ratelimit-*` headers."""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from typing import Any

import regex

from tests.scheduling.fakes.base import FakePlatform, Received, Reply

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def xrpc_error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": name, "message": message}, headers=headers or {})


class FakeBluesky(FakePlatform):
    routes = [
        ("POST", r"/xrpc/com\.atproto\.server\.createSession", "create_session"),
        ("POST", r"/xrpc/com\.atproto\.server\.refreshSession", "refresh_session"),
        ("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob", "upload_blob"),
        ("POST", r"/xrpc/com\.atproto\.repo\.createRecord", "create_record"),
        ("GET", r"/xrpc/com\.atproto\.repo\.getRecord", "get_record"),
        ("POST", r"/xrpc/com\.atproto\.repo\.deleteRecord", "delete_record"),
        ("GET", r"/xrpc/app\.bsky\.feed\.getPosts", "get_posts"),
    ]
    HANDLE, DID, PASSWORD = "creator.bsky.social", "did:plc:creator0000000000000000", "abcd-efgh-ijkl-mnop"

    def __init__(self) -> None:
        super().__init__()
        self.access: set[str] = set()
        self.expired: set[str] = set()
        self.refresh: set[str] = set()
        self.counter = itertools.count(1)
        self.blobs: dict[str, bytes] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, dict[str, int]] = {}

    def rate(self) -> dict[str, str]:
        return {"ratelimit-limit": "5000", "ratelimit-remaining": "4990", "ratelimit-policy": "5000;w=3600",
                "ratelimit-reset": str(int(time.time()) + 3600)}

    def expire_access_tokens(self) -> None:
        self.expired |= self.access
        self.access.clear()

    def _new_session(self) -> Reply:
        n = next(self.counter)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.access.add(access)
        self.refresh.add(refresh)
        return Reply(200, {"accessJwt": access, "refreshJwt": refresh, "handle": self.HANDLE, "did": self.DID,
                           "active": True}, headers=self.rate())

    def _bearer(self, received: Received) -> str:
        auth = received.headers.get("authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else ""

    def _denied(self, received: Received) -> Reply | None:
        token = self._bearer(received)
        if token in self.access:
            return None
        if token in self.expired:
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        return xrpc_error(401, "AuthenticationRequired", "Authentication Required")

    # --- routes ---
    def create_session(self, received: Received, match: re.Match) -> Reply:
        body = received.json()
        if body.get("identifier") not in (self.HANDLE, self.DID) or body.get("password") != self.PASSWORD:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._new_session()

    def refresh_session(self, received: Received, match: re.Match) -> Reply:
        token = self._bearer(received)
        if token not in self.refresh:
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        self.refresh.discard(token)
        return self._new_session()

    def upload_blob(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        if len(received.body) > 1_000_000:
            return xrpc_error(400, "BlobTooLarge", "This file is too large.")
        cid = "bafkrei" + hashlib.sha256(received.body).hexdigest()[:52]
        self.blobs[cid] = received.body
        return Reply(200, {"blob": {"$type": "blob", "ref": {"$link": cid},
                                    "mimeType": received.headers.get("content-type", ""),
                                    "size": len(received.body)}}, headers=self.rate())

    def create_record(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        body = received.json()
        if body.get("repo") not in (self.DID, self.HANDLE):
            return xrpc_error(400, "InvalidRequest", "Invalid repo")
        rkey, record = body.get("rkey", ""), body.get("record") or {}
        if body.get("collection") != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            return xrpc_error(400, "InvalidRequest", "Invalid collection")
        if not TID.match(rkey):
            return xrpc_error(400, "InvalidRequest", "Invalid record key")
        if len(regex.findall(r"\X", record.get("text", ""))) > 300 or "createdAt" not in record:
            return xrpc_error(400, "InvalidRecord", "Record/text must not be longer than 300 graphemes")
        for image in (record.get("embed") or {}).get("images", []):
            if image["image"]["ref"]["$link"] not in self.blobs:
                return xrpc_error(400, "InvalidRequest", "Could not find blob")
        labels = record.get("labels")
        if labels is not None and labels.get("$type") != "com.atproto.label.defs#selfLabels":
            return xrpc_error(400, "InvalidRecord", "Record/labels has an invalid type")
        uri = f"at://{self.DID}/app.bsky.feed.post/{rkey}"
        if uri in self.records:
            # Assumption: the PDS refuses a second create at a taken key (the exact wording varies).
            return xrpc_error(400, "InvalidRequest", "Record already exists")
        cid = "bafyrei" + hashlib.sha256(rkey.encode()).hexdigest()[:52]
        self.records[uri] = {"uri": uri, "cid": cid, "value": record}
        return Reply(200, {"uri": uri, "cid": cid, "commit": {"cid": "bafyreicommit", "rev": "3lxyz"},
                           "validationStatus": "valid"}, headers=self.rate())

    def get_record(self, received: Received, match: re.Match) -> Reply:
        q = {k: v[0] for k, v in received.query.items()}
        uri = f"at://{self.DID}/{q.get('collection')}/{q.get('rkey')}"
        if uri not in self.records:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Reply(200, self.records[uri])

    def delete_record(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        body = received.json()
        self.records.pop(f"at://{body.get('repo')}/{body.get('collection')}/{body.get('rkey')}", None)
        return Reply(200, {"commit": {"cid": "bafyreicommit", "rev": "3lxz0"}}, headers=self.rate())

    def get_posts(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        posts = []
        for uri in received.query.get("uris", []):
            if uri in self.records:
                counts = self.counts.get(uri, {})
                posts.append({"uri": uri, "cid": self.records[uri]["cid"], "record": self.records[uri]["value"],
                              "author": {"did": self.DID, "handle": self.HANDLE},
                              "likeCount": counts.get("likeCount", 0), "repostCount": counts.get("repostCount", 0),
                              "replyCount": counts.get("replyCount", 0), "quoteCount": counts.get("quoteCount", 0),
                              "indexedAt": "2026-01-01T00:00:00.000Z", "labels": []})
        return Reply(200, {"posts": posts}, headers=self.rate())
