"""A metrics connector the analytics tests name in `settings.SCHEDULING_CONNECTORS`."""

from __future__ import annotations

from scheduling.connectors.base import AccountRef, AuthError, Limits, TransientError


class MetricsConnector:
    """Answers like X's connector (public_metrics names); scripted failures by external id."""

    platform = "x"
    limits = Limits(max_text=280, max_media=4, max_media_bytes=1, media_types=frozenset(),
                    ratings=frozenset({"sfw"}), requests_per_window=100, window_seconds=3600)
    calls: list[str] = []

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        type(self).calls.append(external_id)
        if external_id.startswith("broken"):
            raise TransientError("503 from the platform")
        if external_id.startswith("revoked"):
            raise AuthError("token revoked")
        return {"like_count": 5, "reply_count": 2, "retweet_count": 3, "quote_count": 1,
                "impression_count": 120, "bookmarks": 9}
