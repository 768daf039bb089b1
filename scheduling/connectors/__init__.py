"""Connector registry: one module per platform behind `base.Connector`.

`SCHEDULING_CONNECTORS` (settings) may map a platform to another dotted path, which is how tests,
benchmarks and staging point the dispatcher at local fakes.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from scheduling.connectors.base import Connector

DEFAULT_CONNECTORS = {
    "noop": "scheduling.connectors.noop.NoopConnector",
    "fanvue": "scheduling.connectors.fanvue.FanvueConnector",
    "x": "scheduling.connectors.x.XConnector",
    "manual": "scheduling.connectors.manual.ManualConnector",
    "reddit": "scheduling.connectors.reddit.RedditConnector",
    "telegram": "scheduling.connectors.telegram.TelegramConnector",
    "bluesky": "scheduling.connectors.bluesky.BlueskyConnector",
    "instagram": "scheduling.connectors.instagram.InstagramConnector",
}


@lru_cache(maxsize=32)
def _load(path: str) -> Connector:
    return import_string(path)()


def connector_for(platform: str) -> Connector:
    paths = {**DEFAULT_CONNECTORS, **getattr(settings, "SCHEDULING_CONNECTORS", {})}
    if platform not in paths:
        raise LookupError(f"No connector is configured for {platform!r} yet.")
    return _load(paths[platform])
