"""A connector that accepts everything at once: for benchmarks and the dispatcher's own tests."""

from __future__ import annotations

from typing import Any

from scheduling.connectors.base import AccountRef, Limits, PublishRequest, PublishResult, common_validation


class NoopConnector:
    platform = "noop"
    idempotent_publish = True  # nothing is sent: sending again changes nothing
    limits = Limits(max_text=100_000, max_media=100, max_media_bytes=1 << 40,
                    media_types=frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4"}),
                    ratings=frozenset({"sfw", "suggestive", "explicit"}), requests_per_window=1_000_000)

    def validate(self, request: PublishRequest) -> list[str]:
        return common_validation(self.limits, request)

    def publish(self, request: PublishRequest) -> PublishResult:
        return PublishResult(external_id=f"noop-{request.idempotency_key}")

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        return None

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        return True

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        return {}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        return None
