"""Scheduling fixtures, built from the factories; loaded for the whole suite by tests/conftest.py
because compliance and browser tests publish the same rows.

`world`: creator A's approved explicit post of a verified, consenting performer, and A's Fanvue and
X accounts; Fanvue publishes through the no-op connector, X through `FlakyConnector`, which a test
steers (`FlakyConnector.mode`). It is a `World`, read by attribute: a misspelt name fails where it is
written, and a fixture that adds rows to it is a `World` subclass naming them (`ManualWorld`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
from django.utils import timezone

from accounts.models import Creator, User
from compliance.models import ConsentRecord, Performer
from content.models import Asset
from scheduling.connectors import _load
from scheduling.models import PlatformAccount, Post, Publication
from tests.compliance.factories import ConsentFactory, PerformerFactory, VerificationFactory
from tests.scheduling.connectors import FlakyConnector
from tests.scheduling.factories import PlatformAccountFactory, PostFactory, approve_as_is, approved_publication

JPEG = b"\xff\xd8\xff" + b"0" * 64
IMAGE = b"\xff\xd8\xff\xe0" + b"rendition" * 100  # an original with no rendition, exported as is


def publishable_asset(creator, *, actor) -> tuple[Performer, ConsentRecord, Asset]:
    """An approved explicit image of `creator` showing a verified performer who consents to publication
    on Fanvue and X: what the gate asks of a post before it goes out."""
    performer = PerformerFactory(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12), creators=[creator])
    VerificationFactory(performer=performer, actor=actor, front=JPEG)
    consent = ConsentFactory(performer=performer, platforms=("fanvue", "x"), max_rating="explicit",
                             uses=("publication", "promotion_on_social"), signed_at=timezone.now() - timedelta(days=30))
    # A row the content pipeline would have probed and approved; its file is never read here.
    asset = Asset.objects.create(creator=creator, file="assets/x.jpg", kind="image", mime="image/jpeg",
                                 sha256="a" * 64, size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                 production_date=date(2026, 1, 5))
    asset.performers.add(performer)
    return performer, consent, asset


def keep_private_files_in(settings: Any, root: Path) -> None:
    """The private storage (documents, bundles) in this test's own folder."""
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "base_url": None}}}


W = TypeVar("W", bound="World")


@dataclass(frozen=True)
class People:
    """The `people` fixture by attribute: the owner, alice (manager of A), bob (editor of A), charlie
    (manager of B), creator A and creator B."""

    owner: User
    alice: User
    bob: User
    charlie: User
    creator: Creator
    creator_b: Creator

    @classmethod
    def of(cls, people: dict[str, Any], **rows: Any) -> Self:
        """`cls` from the `people` fixture and the rows `cls` adds."""
        return cls(owner=people["owner"], alice=people["alice"], bob=people["bob"], charlie=people["charlie"],
                   creator=people["a"], creator_b=people["b"], **rows)

    @property
    def users(self) -> dict[str, User]:
        """The four people by name, for tests parametrized over who acts."""
        return {"owner": self.owner, "alice": self.alice, "bob": self.bob, "charlie": self.charlie}


@dataclass(frozen=True)
class World(People):
    """Creator A's approved explicit post of a verified, consenting performer, and A's Fanvue and X accounts."""

    performer: Performer
    consent: ConsentRecord
    asset: Asset
    post: Post
    fanvue: PlatformAccount
    x: PlatformAccount

    def account(self, platform: str) -> PlatformAccount:
        """A's account on `platform` ("fanvue" or "x")."""
        return {"fanvue": self.fanvue, "x": self.x}[platform]

    def extended(self, cls: type[W], **rows: Any) -> W:
        """This world as `cls`, a subclass of its class naming more rows (`rows` may also replace one of ours)."""
        return cls(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **rows})


@pytest.fixture
def world(people, settings, tmp_path) -> World:
    settings.SCHEDULING_CONNECTORS = {"fanvue": "scheduling.connectors.noop.NoopConnector",
                                      "x": "tests.scheduling.connectors.FlakyConnector"}
    keep_private_files_in(settings, tmp_path / "private")
    _load.cache_clear()
    FlakyConnector.calls, FlakyConnector.mode = [], "ok"
    a = people["a"]
    performer, consent, asset = publishable_asset(a, actor=people["owner"])
    post = approve_as_is(PostFactory(creator=a, caption="New set tonight", asset_ids=[asset.pk]))
    fanvue = PlatformAccountFactory(creator=a, platform="fanvue", handle="luna")
    x = PlatformAccountFactory(creator=a, platform="x", handle="luna_x")
    return World.of(people, performer=performer, consent=consent, asset=asset, post=post, fanvue=fanvue, x=x)


def approved_target(world: World, account: str = "fanvue") -> Publication:
    """One more approved target of the world's post, on its `account` ("fanvue" or "x")."""
    return approved_publication(world.post, world.account(account))


def approved_asset(world: World, sha: str) -> Asset:
    """One more approved explicit image of creator A showing the world's performer (`sha`: one hex digit)."""
    asset = Asset.objects.create(creator=world.creator, file=f"assets/{sha[:4]}.jpg", kind="image", mime="image/jpeg",
                                 sha256=sha * 64, size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                 production_date=world.asset.production_date)
    asset.performers.add(world.performer)
    return asset


@dataclass(frozen=True)
class ManualWorld(World):
    manual: PlatformAccount
    media_dir: Path
    originals_dir: Path


@pytest.fixture
def manual_world(world, media_dir, originals_dir) -> ManualWorld:
    """The world's post priced, with OnlyFans consent and a manual OnlyFans account: a bundle to export
    (compliance tests read its depictions too)."""
    (originals_dir / "assets").mkdir(parents=True)
    (originals_dir / "assets" / "x.jpg").write_bytes(IMAGE)  # no rendition: the original goes in the bundle
    ConsentFactory(performer=world.performer, platforms=("onlyfans",), max_rating="explicit", uses=("publication",),
                   signed_at=timezone.now() - timedelta(days=30))
    post = world.post
    post.price_minor, post.currency = 1299, "EUR"
    post.save(update_fields=["price_minor", "currency"])
    account = PlatformAccountFactory(creator=world.creator, platform="manual", target_platform="onlyfans",
                                     handle="luna_of")
    return world.extended(ManualWorld, manual=account, media_dir=media_dir, originals_dir=originals_dir)
