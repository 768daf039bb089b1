"""Accounts fixtures: alice's read-only key on creator A, the key most API-key tests start from."""

from __future__ import annotations

import pytest

from tests.accounts.factories import ApiKeyFactory


@pytest.fixture
def alice_key(people):
    """Issued through the service: `.raw` is the secret as shown once, `.key` the stored row."""
    return ApiKeyFactory(owner=people["alice"], name="crm", creators=[people["a"]])

