"""Shared fixtures: the three people, and real services that skip (or fail in CI) when absent.

alice manages creator A, bob edits A (alice's team), charlie manages creator B only: nearly
every view test runs as all three so the tenant boundary is checked by habit.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def need(available: bool, reason: str) -> None:
    """Skip when a service is missing — unless CI said every service must be there."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    parsed = urlparse(redis_url())
    return port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _service_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        need(connection.vendor == "postgresql", "this test needs PostgreSQL (set DATABASE_URL=postgres://…)")
    if request.node.get_closest_marker("redis"):
        need(redis_available(), f"this test needs Redis at {redis_url()}")
    if request.node.get_closest_marker("browser"):
        need(chromium_path() is not None, "this test needs Chromium (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _fresh_tenancy_caches() -> Iterator[None]:
    yield


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def creators(db):  # noqa: ANN001, ANN201
    from tests.factories import CreatorFactory

    return CreatorFactory(stage_name="Alpha"), CreatorFactory(stage_name="Beta")


@pytest.fixture
def people(creators):  # noqa: ANN001, ANN201
    """owner (superuser), alice (manager of A), bob (editor of A), charlie (manager of B)."""
    from accounts import services
    from tests.factories import UserFactory

    a, b = creators
    owner = UserFactory(username="owner", is_superuser=True, is_staff=True)
    alice, bob, charlie = UserFactory(username="alice"), UserFactory(username="bob"), UserFactory(username="charlie")
    services.add_membership(user=alice, creator=a, role="manager")
    services.add_membership(user=bob, creator=a, role="editor")
    services.add_membership(user=charlie, creator=b, role="manager")
    return {"owner": owner, "alice": alice, "bob": bob, "charlie": charlie, "a": a, "b": b}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # noqa: ANN001
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
