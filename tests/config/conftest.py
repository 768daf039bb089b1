"""Config fixtures: the whole-API world the boundary tests (errors, browsable API, fuzzing) call into, and
the admin world the role matrix walks."""

from __future__ import annotations

import pytest

from tests.compliance.factories import use_private_storage
from tests.config.admin_world import World
from tests.config.api_world import ApiWorld, build_api_world


@pytest.fixture
def api_world(db, settings, media_dir, tmp_path) -> ApiWorld:
    """Two creators with a row of every API resource, built through the services, and the owner's,
    a one-creator manager's and a read-only key (`api_world.keys`); private files in this test's folder."""
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    return build_api_world(settings)


@pytest.fixture
def admin_world(team, dana, media_dir, settings, tmp_path, eager_celery) -> World:
    """Every role of A (`team`) and dana; A's rows built on demand (`tests.config.admin_world`)."""
    use_private_storage(settings, tmp_path)
    # Eight sign-ins per test: sessions in a signed cookie keep them off the database.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    return World({**team, "dana": dana})
