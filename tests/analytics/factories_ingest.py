"""Factories and helpers for the ingestion tests: platform accounts, published publications,
receivers and signed Fanvue deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from analytics import ingest
from analytics.models import WebhookReceiver
from scheduling.models import PlatformAccount, Post, Publication

SECRET = "whsec-test-0123456789abcdef"
CREATOR_UUID = "f4b2a184-2b4a-4a04-9b70-3c0e0a1caa12"
FAN_UUID = "5939ae62-3eb5-4433-954f-f78c7b4282f3"


class PlatformAccountFactory(DjangoModelFactory):
    class Meta:
        model = PlatformAccount

    platform = "fanvue"
    handle = factory.Sequence(lambda n: f"handle{n}")
    state = PlatformAccount.State.CONNECTED  # an account that publishes; the model's default is not connected


class PostFactory(DjangoModelFactory):
    class Meta:
        model = Post

    caption = "New set tonight"


class PublishedPublicationFactory(DjangoModelFactory):
    class Meta:
        model = Publication

    post = factory.LazyAttribute(lambda p: PostFactory(creator=p.account.creator))
    status = Publication.Status.PUBLISHED
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


def receiver_for(account: PlatformAccount, secret: str = SECRET) -> WebhookReceiver:
    receiver, _ = ingest.create_receiver(account, secret=secret)
    return receiver


def sign(body: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v0={mac}"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def tip_payload(**overrides: Any) -> dict[str, Any]:
    """Fanvue's documented Tip Received shape (flat, no event id)."""
    return {"context": "post", "postUuid": "0d6c2f5e-1111-4c1b-9a55-3f2e1d0c9b8a", "price": 500,
            "recipientUuid": CREATOR_UUID, "senderUuid": FAN_UUID,
            "sender": {"uuid": FAN_UUID, "handle": "test-user",
                       "displayName": "Test User", "avatarUrl": "https://via.placeholder.com/150"},
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"), **overrides}


def subscriber_payload(**overrides: Any) -> dict[str, Any]:
    """Fanvue's documented New Subscriber example."""
    return {"price": 1299, "recipientUuid": CREATOR_UUID,
            "sender": {"avatarUrl": "https://via.placeholder.com/150", "displayName": "Sub Scriber",
                       "handle": "sub-scriber", "uuid": "7a1b2c3d-3eb5-4433-954f-f78c7b4282f3"},
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"), **overrides}
