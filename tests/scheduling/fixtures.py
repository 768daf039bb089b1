"""Scheduling fixtures, built from the factories; loaded for the whole suite by tests/conftest.py
because compliance and browser tests publish the same rows.

`world`: creator A's approved explicit post of a verified, consenting performer, and A's Fanvue and
X accounts; Fanvue publishes through the no-op connector, X through `FlakyConnector`, which a test
steers (`FlakyConnector.mode`).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from compliance.models import ConsentRecord, Performer
from content.models import Asset
from scheduling.connectors import _load
from scheduling.models import Publication
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


@pytest.fixture
def world(people, settings, tmp_path):
    settings.SCHEDULING_CONNECTORS = {"fanvue": "scheduling.connectors.noop.NoopConnector",
                                      "x": "tests.scheduling.connectors.FlakyConnector"}
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    _load.cache_clear()
    FlakyConnector.calls, FlakyConnector.mode = [], "ok"
    a = people["a"]
    performer, consent, asset = publishable_asset(a, actor=people["owner"])
    post = approve_as_is(PostFactory(creator=a, caption="New set tonight", asset_ids=[asset.pk]))
    fanvue = PlatformAccountFactory(creator=a, platform="fanvue", handle="luna")
    x = PlatformAccountFactory(creator=a, platform="x", handle="luna_x")
    return {"performer": performer, "consent": consent, "asset": asset, "post": post, "fanvue": fanvue, "x": x,
            **people}


def approved_target(world: dict, account: str = "fanvue") -> Publication:
    """One more approved target of the world's post, on its `account` ("fanvue" or "x")."""
    return approved_publication(world["post"], world[account])


@pytest.fixture
def manual_world(world, media_dir, originals_dir):
    """The world's post priced, with OnlyFans consent and a manual OnlyFans account: a bundle to export
    (compliance tests read its depictions too)."""
    (originals_dir / "assets").mkdir(parents=True)
    (originals_dir / "assets" / "x.jpg").write_bytes(IMAGE)  # no rendition: the original goes in the bundle
    ConsentFactory(performer=world["performer"], platforms=("onlyfans",), max_rating="explicit", uses=("publication",),
                   signed_at=timezone.now() - timedelta(days=30))
    post = world["post"]
    post.price_minor, post.currency = 1299, "EUR"
    post.save(update_fields=["price_minor", "currency"])
    account = PlatformAccountFactory(creator=world["a"], platform="manual", target_platform="onlyfans",
                                     handle="luna_of")
    return {**world, "manual": account, "media_dir": media_dir, "originals_dir": originals_dir}
