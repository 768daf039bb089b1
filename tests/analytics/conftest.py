"""Analytics fixtures: a private storage of the test's own, and an X account whose metrics sync
answers through `MetricsConnector`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.storage import storages

from scheduling import limits
from scheduling.connectors import _load
from scheduling.models import PlatformAccount
from tests.analytics.connectors import MetricsConnector
from tests.scheduling.factories import PlatformAccountFactory


def reset_budget(account_id: int) -> None:
    cache.clear()
    r = limits._redis()
    if r is not None:
        for key in r.scan_iter(f"atelier:rate:{account_id}:*"):
            r.delete(key)


@pytest.fixture
def private_dir(settings, tmp_path) -> Iterator[Path]:
    """Private storage in this test's own folder: staged statements can be listed and are cleaned."""
    root = tmp_path / "private"
    settings.STORAGES = {**settings.STORAGES, "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(root), "base_url": None}}}
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    yield root
    storages._storages = {}
    storages.__dict__.pop("backends", None)


@pytest.fixture
def metrics_account(people, settings) -> Iterator[PlatformAccount]:
    """A's X account, whose metrics sync answers through `MetricsConnector`, with an empty rate budget."""
    settings.SCHEDULING_CONNECTORS = {"x": "tests.analytics.connectors.MetricsConnector"}
    settings.ANALYTICS_METRICS_WINDOW_DAYS = 30
    settings.ANALYTICS_METRICS_INTERVAL_MINUTES = 25
    _load.cache_clear()
    MetricsConnector.calls = []
    account = PlatformAccountFactory(creator=people["a"], platform="x")
    reset_budget(account.pk)
    yield account
    _load.cache_clear()
    reset_budget(account.pk)
