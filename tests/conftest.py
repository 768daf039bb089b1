"""Shared fixtures: the three people, and real services that skip (or fail in CI) when absent.

alice manages creator A, bob edits A (alice's team), charlie manages creator B only: nearly
every view test runs as all three so the tenant boundary is checked by habit.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.db import connection

from tests import parallel
from tests.parallel import worker_redis_url

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
RUN_E2E = os.environ.get("RUN_E2E") == "1"
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
    """REDIS_URL (already this xdist worker's database, `tests.parallel`), else the local default's."""
    return os.environ.get("REDIS_URL") or worker_redis_url("redis://127.0.0.1:6379/0")


def redis_available() -> bool:
    parsed = urlparse(redis_url())
    return port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test`), each worker loads `tests.parallel` before Django reads its
    settings, which gives it a Redis database and a var/ folder of its own; a worker whose settings did
    not take them stops the run rather than share another worker's cache, queues or files."""
    if hasattr(config, "workerinput"):
        worker, var = os.environ["PYTEST_XDIST_WORKER"], Path(django_settings.VAR_DIR)
        if (not config.pluginmanager.has_plugin("tests.parallel") or var.name != worker
                or os.environ.get("REDIS_URL", "") != django_settings.REDIS_URL):
            raise pytest.UsageError("this xdist worker runs on the controller's Redis database or var/ folder: "
                                    "tests.parallel did not run before Django read its settings")
    elif config.pluginmanager.has_plugin("xdist") and config.getoption("numprocesses", None):
        plugins = [p for p in os.environ.get("PYTEST_PLUGINS", "").split(",") if p]
        if "tests.parallel" not in plugins:
            os.environ["PYTEST_PLUGINS"] = ",".join([*plugins, "tests.parallel"])
        config.pluginmanager.register(parallel.Controller(), "tests.parallel.controller")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests start `make run` (minutes of web, worker and beat): a laptop's `make test`
    skips them unless asked with RUN_E2E=1 or a `-m` expression naming e2e; `.ci/run` asks."""
    if RUN_E2E or "e2e" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="end-to-end `make run` test: set RUN_E2E=1 or pass -m e2e (CI does)")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


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


# media_dir, eager_celery, signing…; the scheduling `world` compliance and browser tests publish too
pytest_plugins = ["tests.content.factories", "tests.content.studio_fixtures", "tests.scheduling.fixtures"]


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
def dana(people):
    """An editor of A who manages B: she holds every manager permission, for B only."""
    from accounts import services
    from tests.factories import UserFactory

    user = UserFactory(username="dana")
    services.add_membership(user=user, creator=people["a"], role="editor")
    services.add_membership(user=user, creator=people["b"], role="manager")
    return user


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


@pytest.fixture(params=["filesystem", "redis"])
def broker_app(request, tmp_path):
    """A Celery app on a real broker, once on the embedded filesystem one and once on Redis: worker
    tests of every app start a worker on it."""
    app = Celery("atelier-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    if request.param == "filesystem":
        folder = tmp_path / "broker"
        folder.mkdir()
        app.conf.broker_url = "filesystem://"
        # Every folder kombu writes is named, the control folder too: left out, kombu creates
        # `control/` in the working directory, which is the checkout.
        app.conf.broker_transport_options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
                                             "control_folder": str(folder / "control"), "store_processed": False}
    else:
        need(redis_available(), f"this test needs Redis at {redis_url()}")
        app.conf.broker_url = redis_url()
        app.conf.broker_transport_options = {"visibility_timeout": 60}
    app.conf.result_backend = "django-db"
    app.autodiscover_tasks(["accounts"], force=True)
    return app


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


def _empty_bucket(client, bucket: str) -> None:
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)
    except client.exceptions.NoSuchBucket:
        pass


@pytest.fixture
def s3_storage(s3_endpoint, settings):
    """Point default and private storages at buckets on the loopback S3 server."""
    import boto3
    from django.core.files.storage import storages

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for bucket in ("atelier-media", "atelier-private"):
        _empty_bucket(client, bucket)  # each test starts from empty buckets, whatever ran before it
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


# --- Outbound calls: what server-side request forgery would reach --------------------------------

LISTENER_BODY = b"listener-secret-body: only the server could have read this"


@dataclass
class Listener:
    """Loopback HTTP servers (IPv4 and IPv6) that count every connection they accept: a guarded
    call pointed at them must leave both counts at zero."""

    url: str = ""
    url6: str = ""
    port: int = 0
    port6: int = 0
    connections: list[str] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    status: int = 200
    location: str = ""  # set: answer with a redirect there

    @property
    def reached(self) -> bool:
        return bool(self.connections or self.requests)


def _recording_handler(state: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append({"method": self.command, "path": self.path, "body": body,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "server": self.server.server_address[0]})
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(LISTENER_BODY)))
            self.end_headers()
            self.wfile.write(LISTENER_BODY)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def recording_server(state: Listener, host: str = "127.0.0.1", port: int = 0) -> Iterator[ThreadingHTTPServer]:
    """Run a recording HTTP server on `host` (any loopback address, or ::1), on a free port unless told."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

        def verify_request(self, request: object, client_address: object) -> bool:
            state.connections.append(f"{host} ← {client_address}")
            return True

    server = Server((host, port), _recording_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener()
    with recording_server(state, "127.0.0.1") as v4, recording_server(state, "::1") as v6:
        state.port, state.port6 = v4.server_address[1], v6.server_address[1]
        state.url, state.url6 = f"http://127.0.0.1:{state.port}", f"http://[::1]:{state.port6}"
        yield state


@pytest.fixture
def redirector() -> Iterator[Listener]:
    """A recording server on 127.0.0.2 that answers 302 to `redirector.location`: the "public" host of
    a redirect attack (tests map a name to it and allow 127.0.0.2/32 explicitly)."""
    state = Listener(status=302)
    with recording_server(state, "127.0.0.2") as server:
        state.port = server.server_address[1]
        state.url = f"http://127.0.0.2:{state.port}"
        yield state


@pytest.fixture
def outbound_hosts(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the guarded client resolves as the test says, through its resolver hook
    (`core.outbound.resolve`); names not in the dict resolve normally."""
    from core import outbound

    mapping: dict[str, list[str]] = {}
    real = outbound.resolve

    def resolve(host: str, port: int) -> list[str]:
        return list(mapping[host]) if host in mapping else real(host, port)

    monkeypatch.setattr(outbound, "resolve", resolve)
    return mapping


@pytest.fixture
def allow_loopback(settings) -> None:
    """Opt-in for tests whose fake servers run on this machine: the guarded client may reach
    loopback. Tests of the guard itself never use it."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]


@pytest.fixture
def connection_attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every TCP connection the process tries to open, in order (targets nothing listens on,
    such as 10.0.0.1 or 169.254.169.254, are proven untouched this way)."""
    attempts: list[tuple] = []
    real = socket.create_connection

    def create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts
