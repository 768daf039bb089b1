"""Builders for the chatter screen's tests: vault media the send gate lets through (approved, of a verified
performer who consented to the creator's chat platforms), with a real stored file and a thumbnail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Creator
from content.models import Asset
from tests.compliance.factories import ConsentFactory, PerformerFactory, VerificationFactory
from tests.content.factories import AssetFactory, add_rendition


def vault_asset(creator: Creator, **fields: Any) -> Asset:
    performer = PerformerFactory(creators=[creator])
    VerificationFactory(performer=performer)
    ConsentFactory(performer=performer, platforms=("fanvue", "telegram"), max_rating="explicit",
                   signed_at=timezone.now() - timedelta(days=30))
    asset = AssetFactory(creator=creator, status=Asset.Status.APPROVED, production_date=date(2026, 1, 5),
                         **fields)
    asset.performers.add(performer)
    add_rendition(asset, "thumb")
    return asset
