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


pytest_plugins = ["tests.content.factories", "tests.content.studio_fixtures"]  # media_dir, eager_celery, signing…


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def creators(db):
    from tests.factories import CreatorFactory

    return CreatorFactory(stage_name="Alpha"), CreatorFactory(stage_name="Beta")


@pytest.fixture
def people(creators):
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


@pytest.fixture
def team(people):
    """people, plus A's other roles: chloe (chatter), oscar_a (compliance officer), ana (analyst).

    With alice (manager), bob (editor), the owner and charlie (manager of B only) that is every role
    accounts/roles.py knows, for tests that walk them all."""
    from accounts import services
    from tests.factories import UserFactory

    extra = {"chloe": "chatter", "oscar_a": "compliance", "ana": "analyst"}
    for username, role in extra.items():
        people[username] = UserFactory(username=username)
        services.add_membership(user=people[username], creator=people["a"], role=role)
    return people


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server on loopback (moto's server mode), for storage paths."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover
        need(False, "moto[server] is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint, settings):
    """Point default and private storages at buckets on the loopback S3 server."""
    import boto3
    from django.core.files.storage import storages

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for bucket in ("atelier-media", "atelier-private"):
        client.create_bucket(Bucket=bucket)
    common = {"access_key": "test", "secret_key": "test", "endpoint_url": s3_endpoint, "region_name": "us-east-1",
              "file_overwrite": False, "default_acl": None, "addressing_style": "path"}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**common, "bucket_name": "atelier-media"}},
        "private": {"BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {**common, "bucket_name": "atelier-private", "location": "private"}},
    }
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    yield client
    storages._storages = {}
    storages.__dict__.pop("backends", None)
