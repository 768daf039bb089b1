"""A fake Instagram Graph API: media containers that need polling, media_publish against a rolling
publishing quota, the media list, insights, token refresh, and Graph's `{"error": {...}}` bodies
(code 190 for bad tokens, 4/17/32/613 for rate limits) on HTTP 400."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.scheduling.fakes.base import FakePlatform, Received, Reply

V = r"/v23\.0"


def graph_error(code: int, message: str, *, status: int = 400, subcode: int | None = None,
                headers: dict[str, str] | None = None) -> Reply:
    error: dict[str, Any] = {"message": message, "type": "OAuthException" if code == 190 else "IGApiException",
                             "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status, {"error": error}, headers=headers or {})


class FakeInstagram(FakePlatform):
    routes = [
        ("GET", r"/refresh_access_token", "refresh_token"),
        ("POST", V + r"/(\d+)/media", "create_container"),
        ("POST", V + r"/(\d+)/media_publish", "media_publish"),
        ("GET", V + r"/(\d+)/content_publishing_limit", "publishing_limit"),
        ("GET", V + r"/(\d+)/media", "list_media"),
        ("GET", V + r"/(\d+)/insights", "insights"),
        ("GET", V + r"/(\d+)", "node"),
    ]
    IG_ID, TOKEN = "17841400000000001", "IGAAT-long-lived-token"

    def __init__(self, media_base: str = "https://media.atelier.test") -> None:
        super().__init__()
        self.media_base = media_base
        self.tokens = {self.TOKEN}
        self.ids = itertools.count(1)
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.quota_usage, self.quota_total = 0, 50
        self.video_polls_needed = 2
        self.metrics: dict[str, dict[str, int]] = {}

    def _denied(self, received: Received) -> Reply | None:
        auth = received.headers.get("authorization", "")
        if "access_token" in received.query:
            return graph_error(100, "Tokens belong in the Authorization header in this fake")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.tokens:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        return None

    def _user(self, match: re.Match) -> Reply | None:
        if match.group(1) != self.IG_ID:
            return graph_error(100, "Unsupported request - object does not exist")
        return None

    def _check_url(self, url: str) -> bool:
        """Instagram fetches the URL itself: it must be public (our base) and a signed link."""
        return url.startswith(self.media_base + "/files/") or url.startswith(self.media_base + "/cdn/")

    # --- routes ---
    def refresh_token(self, received: Received, match: re.Match) -> Reply:
        q = {k: v[0] for k, v in received.query.items()}
        if q.get("grant_type") != "ig_refresh_token" or q.get("access_token") not in self.tokens:
            return graph_error(190, "Error validating access token: Session has expired")
        self.tokens.add("IGAAT-refreshed")
        return Reply(200, {"access_token": "IGAAT-refreshed", "token_type": "bearer", "expires_in": 5183944})

    def create_container(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received) or self._user(match):
            return denied
        form = received.form()
        kind = form.get("media_type", "IMAGE")
        if kind == "CAROUSEL":
            children = form.get("children", "").split(",")
            if not 2 <= len(children) <= 10 or any(c not in self.containers for c in children):
                return graph_error(100, "Invalid parameter: children")
            if any(self.containers[c]["form"].get("is_carousel_item") != "true" for c in children):
                return graph_error(100, "Carousel children must be created with is_carousel_item")
        elif kind in ("REELS", "VIDEO"):
            if not self._check_url(form.get("video_url", "")):
                return graph_error(9004, "Only photo or video can be accepted as media type.", subcode=2207052)
        elif not self._check_url(form.get("image_url", "")):
            return graph_error(9004, "Only photo or video can be accepted as media type.", subcode=2207052)
        container_id = f"1790000000{next(self.ids):07d}"
        polls = self.video_polls_needed if kind in ("REELS", "VIDEO") else 0
        self.containers[container_id] = {"form": form, "kind": kind, "polls_left": polls, "status": "IN_PROGRESS"}
        return Reply(200, {"id": container_id})

    def media_publish(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received) or self._user(match):
            return denied
        container = self.containers.get(received.form().get("creation_id", ""))
        if container is None:
            return graph_error(100, "Invalid parameter: creation_id")
        if container["status"] != "FINISHED":
            return graph_error(9007, "Media ID is not available", subcode=2207027)
        if self.quota_usage >= self.quota_total:
            return graph_error(9, "Application request limit reached", status=400, subcode=2207042)
        container["status"] = "PUBLISHED"
        self.quota_usage += 1
        media_id = f"1800000000{next(self.ids):07d}"
        self.media[media_id] = {"id": media_id, "caption": container["form"].get("caption", ""),
                                "media_type": container["kind"],
                                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                                "permalink": f"https://www.instagram.com/p/C{media_id[-6:]}/"}
        return Reply(200, {"id": media_id})

    def publishing_limit(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received) or self._user(match):
            return denied
        return Reply(200, {"data": [{"quota_usage": self.quota_usage,
                                     "config": {"quota_total": self.quota_total, "quota_duration": 86400}}]})

    def list_media(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received) or self._user(match):
            return denied
        fields = received.query.get("fields", ["id"])[0].split(",")
        items = [{k: m[k] for k in ("id", *fields) if k in m} for m in reversed(self.media.values())]
        return Reply(200, {"data": items, "paging": {"cursors": {"before": "a", "after": "b"}}})

    def insights(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        if match.group(1) not in self.media:
            return graph_error(100, "Unsupported get request.")
        values = self.metrics.get(match.group(1), {})
        metrics = received.query.get("metric", [""])[0].split(",")
        return Reply(200, {"data": [{"name": name, "period": "lifetime", "values": [{"value": values.get(name, 0)}],
                                     "title": name.title(), "id": f"{match.group(1)}/insights/{name}/lifetime"}
                                    for name in metrics]})

    def node(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        node_id = match.group(1)
        if node_id in self.containers:
            container = self.containers[node_id]
            if container["status"] == "IN_PROGRESS":
                if container["polls_left"] > 0:
                    container["polls_left"] -= 1
                else:
                    container["status"] = "FINISHED"
            return Reply(200, {"status_code": container["status"], "id": node_id})
        if node_id in self.media:
            return Reply(200, {"permalink": self.media[node_id]["permalink"], "id": node_id})
        return graph_error(100, "Unsupported get request.")
