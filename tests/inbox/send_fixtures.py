"""Fixtures of the send pipeline's tests (loaded by tests/inbox/conftest.py): the fake chat platform and a
small vault for Luna: an approved explicit image of a verified performer consenting to Fanvue, and the
same kind of image of a performer nobody asked."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership, Role, User
from compliance.models import Performer
from content.models import Asset
from tests.compliance.factories import ConsentFactory, PerformerFactory, VerificationFactory
from tests.factories import UserFactory
from tests.inbox.fake_channel import fake_chat  # noqa: F401 — re-exported as a fixture

JPEG = b"\xff\xd8\xff" + b"0" * 64
_seq = itertools.count(1)


@dataclass(frozen=True)
class Vault:
    consented: Asset  # approved, the performer verified and consenting to Fanvue
    unconsented: Asset  # approved, but its performer never consented
    performer: Performer
    officer: User  # Luna's compliance officer


def vault_asset(creator, *, performer: Performer | None = None, **fields) -> Asset:
    """A row the content pipeline would have probed and approved; its file is never read."""
    n = next(_seq)
    values = {"file": f"assets/x{n}.jpg", "kind": "image", "mime": "image/jpeg", "sha256": f"{n:064x}",
              "size_bytes": 10,
              "rating": "explicit", "status": Asset.Status.APPROVED, "production_date": date(2026, 1, 5),
              "title": "Golden hour", **fields}
    asset = Asset.objects.create(creator=creator, **values)
    if performer is not None:
        asset.performers.add(performer)
    return asset


@pytest.fixture
def vault(desk, settings, tmp_path) -> Vault:
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    performer = PerformerFactory(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12),
                                 creators=[desk.creator])
    VerificationFactory(performer=performer, front=JPEG)
    ConsentFactory(performer=performer, platforms=("fanvue", "telegram"), max_rating="explicit",
                   uses=("publication", "promotion_on_social"), signed_at=timezone.now() - timedelta(days=30))
    stranger = PerformerFactory(legal_name="Nobody Asked", date_of_birth=date(1990, 1, 1), creators=[desk.creator])
    VerificationFactory(performer=stranger, front=JPEG)
    officer = UserFactory(username="cora")
    Membership.objects.create(user=officer, creator=desk.creator, role=Role.COMPLIANCE)
    return Vault(consented=vault_asset(desk.creator, performer=performer),
                 unconsented=vault_asset(desk.creator, performer=stranger, title="Unsigned"),
                 performer=performer, officer=officer)
