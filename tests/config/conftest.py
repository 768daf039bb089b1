"""Config fixtures: the whole-API world the boundary tests (errors, browsable API, fuzzing) call into."""

from __future__ import annotations

import pytest

from tests.config.api_world import ApiWorld, build_api_world


@pytest.fixture
def api_world(db, settings, media_dir, tmp_path) -> ApiWorld:
    """Two creators with a row of every API resource, built through the services, and the owner's,
    a one-creator manager's and a read-only key (`api_world.keys`); private files in this test's folder."""
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    return build_api_world(settings)
