"""Content fixtures: assets of two creators and API keys scoped to each, shared by the API, studio and
private-file tests. Assets are stored files with their rows (see `AssetFactory`), not ingested."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from accounts import services as accounts_services
from compliance.models import Performer
from content import services
from content.models import Asset
from tests.compliance.factories import PerformerFactory, use_private_storage
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
    """The owner's read-only key over A."""
    return accounts_services.issue_api_key(owner=people["owner"], name="reader-a", creators=[people["a"]]).raw


@pytest.fixture
def read_key_b(people) -> str:
    """charlie's read-only key over B."""
    return accounts_services.issue_api_key(owner=people["charlie"], name="b-only", creators=[people["b"]]).raw


@pytest.fixture
def asset_a2(people, media_dir) -> Asset:
    """A's second photo, uploaded by alice, no rendition yet."""
    return AssetFactory(creator=people["a"], uploaded_by=people["alice"], title="Alpha studio")


class AssetPerformers(NamedTuple):
    a: Performer
    b: Performer


@pytest.fixture
def asset_performers(people, asset_a, asset_b, settings, tmp_path) -> AssetPerformers:
    """Ana Alpha depicted in `asset_a`, Bea Beta in `asset_b`, each a performer of that asset's creator;
    both assets tagged "beach", so a filter by tag has something to find on each side."""
    use_private_storage(settings, tmp_path)
    services.tag([asset_a], ["beach"])
    services.tag([asset_b], ["beach"])
    pa = PerformerFactory(legal_name="Ana Alpha", creators=[people["a"]])
    pb = PerformerFactory(legal_name="Bea Beta", creators=[people["b"]])
    asset_a.performers.add(pa)
    asset_b.performers.add(pb)
    return AssetPerformers(pa, pb)


@pytest.fixture
def write_key_a(people) -> str:
    """The owner's write key over A."""
    return accounts_services.issue_api_key(owner=people["owner"], name="warehouse", creators=[people["a"]],
                                           scope="write").raw


@pytest.fixture
def write_key_b(people) -> str:
    """The owner's write key over B: refused on A for reach, not for scope."""
    return accounts_services.issue_api_key(owner=people["owner"], name="writer-b", creators=[people["b"]],
                                           scope="write").raw


@pytest.fixture
def principals(people, write_key_a, write_key_b, read_key_a) -> dict[str, Any]:
    """Who a table of API callers names (`tests.api.auth`): the people, "key_a" and "key_b" (write keys
    over A and over B) and "key_ro" (read-only over A)."""
    return {**people, "key_a": write_key_a, "key_b": write_key_b, "key_ro": read_key_a}
