"""Connectors scheduling tests steer from the test: named in `settings.SCHEDULING_CONNECTORS` by
dotted path, state on the class so the worker-side instance and the test see the same calls."""

from __future__ import annotations

from scheduling.connectors.base import PublishResult, TransientError, UnknownOutcome
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
