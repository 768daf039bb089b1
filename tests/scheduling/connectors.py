"""Connectors scheduling tests steer from the test: named in `settings.SCHEDULING_CONNECTORS` by
dotted path, state on the class so the worker-side instance and the test see the same calls."""

from __future__ import annotations

from scheduling.connectors.base import Limits, PublishResult, TransientError, UnknownOutcome
from scheduling.connectors.noop import NoopConnector


class FlakyConnector(NoopConnector):
    calls: list[str] = []
    mode = "ok"
    idempotent_publish = False  # a platform without an idempotency key: a second send is a second post

    def publish(self, request):
        type(self).calls.append(request.idempotency_key)
        if self.mode == "transient":
            raise TransientError("503 from platform", status=503, retry_after=120)
        if self.mode == "unknown":
            raise UnknownOutcome("Timed out after sending.")
        return PublishResult(external_id=f"ext-{request.idempotency_key}", url="https://example.test/p/1")


class CountingConnector(NoopConnector):
    """Counts publishes per idempotency key: a duplicate shows up as a count of 2."""

    calls: dict[str, int] = {}
    idempotent_publish = False  # a platform without an idempotency key: a second send is a second post
    limits = Limits(max_text=10_000, max_media=10, max_media_bytes=1 << 30,
                    media_types=frozenset({"image/jpeg"}), ratings=frozenset({"sfw", "suggestive", "explicit"}),
                    requests_per_window=2, window_seconds=60)

    def publish(self, request):
        type(self).calls[request.idempotency_key] = type(self).calls.get(request.idempotency_key, 0) + 1
        return PublishResult(external_id=f"c-{request.idempotency_key}")

    def lookup(self, request):
        if request.idempotency_key in type(self).calls:
            return PublishResult(external_id=f"c-{request.idempotency_key}", url="https://example.test/found")
        return None


class DeletingConnector(NoopConnector):
    calls: list[str] = []

    def unpublish(self, account, external_id):
        type(self).calls.append(external_id)
        return True


class CannotDelete(NoopConnector):
    """Like Instagram's API for some media: no delete endpoint."""

    def unpublish(self, account, external_id):
        return False


class Unavailable(NoopConnector):
    def unpublish(self, account, external_id):
        raise TransientError("503 from platform", status=503, retry_after=5)
