"""Factories and fixtures for the content tests.

`AssetFactory` writes a row and a real stored file without the media pipeline, so tenancy and
admin tests do not depend on it; tests of ingest itself go through `content.services.ingest` with
real files from `tests.content.media_samples`.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import factory
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from PIL import Image

from content.models import Asset, Collection, Rendition, asset_upload_to


def jpeg_bytes(label: str = "sample", size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG whose pixels depend on `label`, so two labels never share a digest."""
    seed = int(hashlib.sha256(label.encode()).hexdigest()[:6], 16)
    buffer = io.BytesIO()
    Image.new("RGB", size, (seed & 255, (seed >> 8) & 255, (seed >> 16) & 255)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def webp_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "WEBP")
    return buffer.getvalue()


class AssetFactory(factory.django.DjangoModelFactory):
    """A stored JPEG and its draft row (no processing queued)."""

    class Meta:
        model = Asset

    creator = None
    data = factory.Sequence(lambda n: jpeg_bytes(f"asset-{n}"))
    kind = Asset.Kind.IMAGE
    mime = "image/jpeg"
    width, height = 64, 48
    original_name = factory.Sequence(lambda n: f"photo-{n}.jpg")

    @classmethod
    def _create(cls, model_class: type[Asset], *args: Any, data: bytes = b"", **kwargs: Any) -> Asset:
        asset = model_class(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), **kwargs)
        asset.file.name = asset.file.storage.save(asset_upload_to(asset, "original.jpg"), ContentFile(data))
        asset.save()
        return asset


def add_rendition(asset: Asset, preset: str = "thumb") -> Rendition:
    data = webp_bytes()
    name = storages["default"].save(f"renditions/{asset.creator_id}/{asset.sha256[:2]}/{asset.sha256}-{preset}.webp",
                                    ContentFile(data))
    return Rendition.objects.create(asset=asset, preset=preset, file=name, mime="image/webp", width=32, height=24,
                                    size_bytes=len(data))


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collection

    creator = None
    title = factory.Sequence(lambda n: f"Folder {n}")


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def bucket_keys(client: Any, bucket: str = "atelier-media") -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def media_dir(settings, tmp_path) -> Path:
    """The default and private storages in folders of this test's own (media/ for renditions,
    private/ for originals, see `originals_dir`), so every byte written can be listed."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(root), "base_url": "/media/"}},
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}},
    }
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    yield root
    storages._storages = {}
    storages.__dict__.pop("backends", None)


@pytest.fixture
def originals_dir(media_dir) -> Path:
    """Where `media_dir` keeps originals (the private storage)."""
    return media_dir.parent / "private"


@pytest.fixture
def eager_celery(settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
