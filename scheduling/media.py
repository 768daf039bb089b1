"""The files a connector uploads: the platform's rendition of each asset, as local paths.

Connectors read local files so that each can stream, chunk or multipart them its own way; with
remote storage (S3) the files are copied to a private temporary folder that is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from content.models import Asset
from content.pipeline.presets import presets_for_platform
from core import files
from scheduling.connectors.base import MediaItem

# Manual exports for OnlyFans use the full-quality Fanvue renditions.
PRESET_PLATFORM = {"manual": "fanvue"}


def rendition_for(asset: Asset, platform: str) -> tuple[Any, str, int]:
    """(file field, mime, size) of the best file for `platform`: its own preset, else the original."""
    wanted = [p.name for p in presets_for_platform(PRESET_PLATFORM.get(platform, platform))]
    by_preset = {r.preset: r for r in asset.renditions.all()}
    for name in wanted:
        if name in by_preset:
            r = by_preset[name]
            return r.file, r.mime, r.size_bytes
    return asset.file, asset.mime, asset.size_bytes


def describe(assets: Sequence[Asset], platform: str) -> list[tuple[Any, MediaItem]]:
    """(file field, MediaItem without a path) per asset: enough to validate without reading files."""
    out = []
    for asset in assets:
        field, mime, size = rendition_for(asset, platform)
        out.append((field, MediaItem(path="", mime=mime, size=size, alt=asset.title,
                                     storage=files.alias_of(field.storage), name=field.name)))
    return out


@contextmanager
def materialise(described: Sequence[tuple[Any, MediaItem]]) -> Iterator[tuple[MediaItem, ...]]:
    """Yield MediaItems with local paths; temporary copies are deleted on exit, whatever happens."""
    tmp: str | None = None
    items = []
    try:
        for index, (field, item) in enumerate(described):
            try:
                path = field.path  # local storage: no copy
            except NotImplementedError:
                if tmp is None:
                    tmp = tempfile.mkdtemp(prefix="atelier-publish-")
                path = os.path.join(tmp, f"{index:03d}-{os.path.basename(field.name)}")
                with field.storage.open(field.name, "rb") as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            items.append(replace(item, path=path))
        yield tuple(items)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
