"""Connectors: one module per platform behind `base.Connector`, named by the platform registry.

Each platform's connector is a dotted path in `core.platforms` (core may not import scheduling), resolved
here on first use. `SCHEDULING_CONNECTORS` (settings) may map a platform to another dotted path, which is how tests,
benchmarks and staging point the dispatcher at local fakes.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from core.platforms import publishing_platforms
from scheduling.connectors.base import Connector

DEFAULT_CONNECTORS = {
    # Not a platform: accepts everything and sends nothing (benchmarks, demos).
    "noop": "scheduling.connectors.noop.NoopConnector",
    **{p.key: p.connector for p in publishing_platforms()},
}


@lru_cache(maxsize=32)
def _load(path: str) -> Connector:
    return import_string(path)()


def connector_for(platform: str) -> Connector:
    paths = {**DEFAULT_CONNECTORS, **getattr(settings, "SCHEDULING_CONNECTORS", {})}
    if platform not in paths:
        raise LookupError(f"No connector is configured for {platform!r} yet.")
    return _load(paths[platform])
