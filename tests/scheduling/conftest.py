"""Scheduling fixtures several test modules share, built from the factories.

`world` itself (A's approved post, Fanvue and X accounts) is in tests/scheduling/fixtures.py, loaded for
the whole suite; the fixtures here extend it for one concern each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import ApiKey
from compliance.models import ConsentRecord, Performer
from content.models import Asset, Collection, CollectionItem
from scheduling import approval, services
from scheduling.connectors import _load
from scheduling.models import PlatformAccount, Post, PostAsset, Publication
from tests.accounts.factories import ApiKeyFactory
from tests.scheduling.cluster import Cluster
from tests.scheduling.connectors import CountingConnector, DeletingConnector
from tests.scheduling.factories import PlatformAccountFactory, PublicationFactory
from tests.scheduling.fakes.base import serve
from tests.scheduling.fakes.x import CLIENT_ID, CLIENT_SECRET, UPLOAD_CHUNK, FakeX
from tests.scheduling.fixtures import People, World, approved_asset, keep_private_files_in, publishable_asset

S = Publication.Status
JPEG = b"\xff\xd8\xff" + b"0" * 64


@dataclass(frozen=True)
class ApiRows(People):
    """What the API tests read and write: A's verified, consenting performer and approved explicit asset,
    A's Fanvue and X accounts, B's asset, account and draft publication, and two API keys on A (alice's
    read-only `key_ro`, the owner's write `key_a`)."""

    performer: Performer
    consent: ConsentRecord
    asset: Asset
    asset_b: Asset
    fanvue: PlatformAccount
    x: PlatformAccount
    fanvue_b: PlatformAccount
    post_b: Post
    pub_b: Publication
    key_ro: str
    key_a: str

    @property
    def callers(self) -> dict[str, Any]:
        """Who a table of API callers names (`tests.api.auth`): the people and the two keys."""
        return {**self.users, "key_ro": self.key_ro, "key_a": self.key_a}

    def account(self, platform: str) -> PlatformAccount:
        """A's account on `platform` ("fanvue" or "x")."""
        return {"fanvue": self.fanvue, "x": self.x}[platform]


@pytest.fixture
def api_world(people, settings, tmp_path) -> ApiRows:
    keep_private_files_in(settings, tmp_path / "private")
    a, b = people["a"], people["b"]
    performer, consent, asset = publishable_asset(a, actor=people["owner"])
    asset_b = Asset.objects.create(creator=b, file="assets/b.jpg", kind="image", mime="image/jpeg",
                                   sha256="b" * 64, size_bytes=10, rating="sfw", status=Asset.Status.APPROVED)
    fanvue = PlatformAccountFactory(creator=a, platform="fanvue", handle="luna")
    x = PlatformAccountFactory(creator=a, platform="x", handle="luna_x")
    fanvue_b = PlatformAccountFactory(creator=b, platform="fanvue", handle="bea")
    post_b = Post.objects.create(creator=b, caption="Beta only")
    pub_b = PublicationFactory(post=post_b, account=fanvue_b, status=S.DRAFT)
    key_ro = ApiKeyFactory(owner=people["alice"], name="ro", creators=[a]).raw
    key_a = ApiKeyFactory(owner=people["owner"], name="rw", creators=[a], scope=ApiKey.Scope.WRITE).raw
    return ApiRows.of(people, performer=performer, consent=consent, asset=asset, asset_b=asset_b, fanvue=fanvue, x=x,
                      fanvue_b=fanvue_b, post_b=post_b, pub_b=pub_b, key_ro=key_ro, key_a=key_a)


@dataclass(frozen=True)
class LiveWorld(World):
    """The world's post published on Fanvue, Instagram and a manual OnlyFans account."""

    on_fanvue: Publication
    on_insta: Publication
    on_manual: Publication


@pytest.fixture
def out(world, settings, eager_celery) -> LiveWorld:
    """The world's post live on Fanvue (deletes), Instagram (cannot delete) and a manual OnlyFans
    account, for takedowns; X answers every delete with a 503."""
    settings.SCHEDULING_CONNECTORS = {"fanvue": "tests.scheduling.connectors.DeletingConnector",
                                      "instagram": "tests.scheduling.connectors.CannotDelete",
                                      "x": "tests.scheduling.connectors.Unavailable"}
    DeletingConnector.calls = []
    a = world.creator
    insta = PlatformAccountFactory(creator=a, platform="instagram", handle="luna_ig")
    manual = PlatformAccountFactory(creator=a, platform="manual", target_platform="onlyfans", handle="luna_of")

    def published(account, n):
        return PublicationFactory(post=world.post, account=account, status=S.PUBLISHED,
                                  external_id=f"ext-{n}", external_url=f"https://example.test/p/{n}",
                                  published_at=timezone.now() - timedelta(days=2))

    return world.extended(LiveWorld, on_fanvue=published(world.fanvue, 1), on_insta=published(insta, 2),
                          on_manual=published(manual, 3))


@pytest.fixture
def counted(world, settings) -> World:
    """X publishes through `CountingConnector`, from an empty count and an empty cache (rate budgets)."""
    settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS,
                                      "x": "tests.scheduling.connectors.CountingConnector"}
    _load.cache_clear()
    CountingConnector.calls = {}
    cache.clear()
    return world


@dataclass(frozen=True)
class ScheduledWorld(World):
    """The world's post, with a second asset, scheduled on X and Fanvue at `due`; a collection and a Reddit
    account beside it."""

    second: Asset
    on_x: Publication
    on_fanvue: Publication
    due: datetime
    collection: Collection
    reddit: PlatformAccount


@pytest.fixture
def scheduled(world) -> ScheduledWorld:
    """A post with two assets and a price, approved by a person through the service, scheduled on X
    (whose connector records every call) and on Fanvue in five minutes."""
    post = world.post
    second = approved_asset(world, "d")
    PostAsset.objects.create(post=post, asset=second, position=1)
    Post.objects.filter(pk=post.pk).update(price_minor=999, currency="USD", approved_at=None, approved_version="")
    on_x = PublicationFactory(post=post, account=world.x, status=S.PENDING_APPROVAL)
    on_fanvue = PublicationFactory(post=post, account=world.fanvue, status=S.PENDING_APPROVAL)
    verdicts = services.approve_post(post, actor=world.alice)
    assert all(v.passed for v in verdicts.values()), verdicts
    post.refresh_from_db()
    assert post.approved_version == approval.current_version(post)
    due = timezone.now() + timedelta(minutes=5)
    for pub in (on_x, on_fanvue):
        assert services.schedule(pub, at=due, actor=world.alice).verdict.passed
    collection = Collection.objects.create(creator=world.creator, title="Lace", kind="folder")
    CollectionItem.objects.create(collection=collection, asset=approved_asset(world, "e"), position=1)
    reddit = PlatformAccountFactory(creator=world.creator, platform="reddit", handle="luna_r")
    return world.extended(ScheduledWorld, post=post, second=second, on_x=on_x, on_fanvue=on_fanvue, due=due,
                          collection=collection, reddit=reddit)


@pytest.fixture
def fake(settings):
    """The X API on loopback, with the connector pointed at it (modules of other platforms override)."""
    with serve(FakeX()) as platform:
        settings.X_API_URL = platform.url
        settings.X_TOKEN_URL = f"{platform.url}/2/oauth2/token"
        settings.X_CLIENT_ID, settings.X_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
        settings.X_UPLOAD_CHUNK_BYTES = UPLOAD_CHUNK
        settings.CONNECTOR_TIMEOUT_SECONDS = 5
        yield platform


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    c.start_redis()
    try:
        yield c
    finally:
        c.close()
        os.environ.pop("ATELIER_FAULT_LOG", None)
