"""Notifications fixtures: a webhook receiver on loopback that records every request and answers from a
script; B's endpoint and an agency-wide one; signing in as a person or with an API key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet

from accounts.models import ApiKey
from tests.accounts.factories import ApiKeyFactory
from tests.notifications.factories import WebhookEndpointFactory


@dataclass
class Receiver:
    url: str
    requests: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once exhausted


@pytest.fixture
def receiver(allow_loopback) -> Iterator[Receiver]:
    """A receiver on loopback, so its tests opt into OUTBOUND_ALLOWED_NETWORKS for loopback."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            reply = b'{"ok": true}' if status < 300 else b"receiver is down"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/atelier"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _encryption_key(settings) -> None:
    settings.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ATELIER_BASE_URL = "https://atelier.example.test"


@pytest.fixture
def endpoint_b(people):
    return WebhookEndpointFactory(creator=people["b"], name="Beta CRM", events=("publication.failed",))


@pytest.fixture
def agency_endpoint(db):
    return WebhookEndpointFactory(creator=None, name="Agency ops")


@pytest.fixture
def sign_in(client, people) -> Callable[[str], dict[str, str]]:
    """`sign_in(who)`: a person of `people` logged in on `client`, or one of alice's keys on A
    (`key_ro` reads, `key_a` writes); returns the headers a request then carries."""
    keys = {
        "key_ro": ApiKeyFactory(owner=people["alice"], name="ro", creators=[people["a"]]).raw,
        "key_a": ApiKeyFactory(owner=people["alice"], name="rw", creators=[people["a"]], scope=ApiKey.Scope.WRITE).raw,
    }

    def headers(who: str) -> dict[str, str]:
        if who in keys:
            return {"HTTP_AUTHORIZATION": f"Bearer {keys[who]}"}
        client.force_login(people[who])
        return {}

    return headers
