"""Content fixtures: assets of two creators and API keys scoped to each, shared by the API, studio and
private-file tests. Assets are stored files with their rows (see `AssetFactory`), not ingested."""

from __future__ import annotations

import pytest

from accounts import services as accounts_services
from content.models import Asset
from tests.content.factories import AssetFactory, add_rendition, jpeg_bytes


@pytest.fixture
def asset_a(people, media_dir) -> Asset:
    """A's beach photo, uploaded by bob, with a thumbnail."""
    asset = AssetFactory(creator=people["a"], uploaded_by=people["bob"], title="Alpha beach", rating="suggestive",
                         original_name="beach.jpg", data=jpeg_bytes("private-a1"))
    add_rendition(asset)
    return asset


@pytest.fixture
def asset_b(people, media_dir) -> Asset:
    """B's photo, uploaded by charlie; never within A's reach."""
    return AssetFactory(creator=people["b"], uploaded_by=people["charlie"], title="Beta secret",
                        data=jpeg_bytes("private-b1"))


@pytest.fixture
def read_key_a(people) -> str:
    """alice's read-only key over A."""
    return accounts_services.issue_api_key(owner=people["alice"], name="warehouse", creators=[people["a"]]).raw


@pytest.fixture
def read_key_b(people) -> str:
    """charlie's read-only key over B."""
    return accounts_services.issue_api_key(owner=people["charlie"], name="b-only", creators=[people["b"]]).raw
