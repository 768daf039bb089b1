"""Metric sync: the counters of published posts, read from their platforms within the budget
publishing leaves, stored as snapshots."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import F, Max, Q
from django.utils import timezone

from analytics.models import (
    MetricSnapshot,
)
from scheduling import limits
from scheduling import services as scheduling
from scheduling.connectors import connector_for
from scheduling.connectors.base import AuthError, ConnectorError
from scheduling.models import PlatformAccount, Publication

log = logging.getLogger("analytics.ingest")


# --- Metric sync ----------------------------------------------------------------------------------

# Connector counter names → MetricSnapshot fields. Names mapping to one field are distinct counters
# (a repost and a quote are both shares) and are added up. Tips on a post count as purchases:
# money spent on that post. Counters not listed (reach, saves, bookmarks, ratios) are not kept.
METRIC_FIELDS: dict[str, str] = {
    "views": "views", "view_count": "views", "impressions": "views", "impression_count": "views",
    "likes": "likes", "like_count": "likes", "likeCount": "likes", "likesCount": "likes", "score": "likes",
    "comments": "comments", "reply_count": "comments", "replyCount": "comments", "commentsCount": "comments",
    "num_comments": "comments",
    "shares": "shares", "reposts": "shares", "retweet_count": "shares", "repostCount": "shares",
    "quotes": "shares", "quote_count": "shares", "quoteCount": "shares",
    "clicks": "clicks", "link_clicks": "clicks", "url_link_clicks": "clicks",
    "purchases": "purchases", "unlocks": "purchases", "tips": "purchases",
}


# Metrics may take at most this share of an account's rate window per run; publishing keeps the rest.
METRICS_BUDGET_SHARE = 0.5


def snapshot_fields(raw: dict[str, Any]) -> dict[str, int]:
    fields: dict[str, int] = defaultdict(int)
    for name, value in (raw or {}).items():
        field = METRIC_FIELDS.get(name)
        if field and isinstance(value, int | float) and not isinstance(value, bool):
            fields[field] += max(0, int(value))
    return dict(fields)


def due_for_metrics(now: datetime) -> Iterable[Publication]:
    """Published in the window, on a connected account, not measured within the interval;
    never measured first, then the longest unmeasured."""
    window = now - timedelta(days=settings.ANALYTICS_METRICS_WINDOW_DAYS)
    fresh = now - timedelta(minutes=settings.ANALYTICS_METRICS_INTERVAL_MINUTES)
    return (Publication.objects.filter(status=Publication.Status.PUBLISHED, published_at__gte=window,
                                       account__state=PlatformAccount.State.CONNECTED)
            .exclude(external_id="")
            .annotate(last_taken=Max("metric_snapshots__taken_at"))
            .filter(Q(last_taken__isnull=True) | Q(last_taken__lt=fresh))
            .select_related("account")
            .order_by("account_id", F("last_taken").asc(nulls_first=True), "pk"))


def sync_metrics(now: datetime | None = None) -> dict[str, int]:
    """Measure recent publications through each account's connector, within its rate budget.

    The budget is the one publishing spends (scheduling.limits): each account asks for one request
    per publication due, but never more than `METRICS_BUDGET_SHARE` of a window, so a post due in
    the same window still finds requests left; it measures only what was granted and the rest
    wait for the next run. A failing publication is counted and skipped; refused
    credentials mark the account for re-authorisation and end that account's turn. Snapshots are
    written with `taken_at=now`, so a rerun for the same instant adds nothing.
    """
    now = now or timezone.now()
    stats = {"accounts": 0, "fetched": 0, "snapshots": 0, "errors": 0, "deferred": 0, "reauth": 0, "skipped": 0}
    by_account: dict[int, list[Publication]] = defaultdict(list)
    for pub in due_for_metrics(now):
        by_account[pub.account_id].append(pub)
    for pubs in by_account.values():
        account = pubs[0].account
        stats["accounts"] += 1
        try:
            connector = connector_for(account.platform)
        except LookupError:
            stats["skipped"] += len(pubs)
            continue
        wanted = min(len(pubs), max(1, int(connector.limits.requests_per_window * METRICS_BUDGET_SHARE)))
        granted, _ = limits.take_budget(account.pk, wanted, connector.limits)
        stats["deferred"] += len(pubs) - granted
        if not granted:
            continue
        ref = scheduling.account_ref(account, purpose="metrics")
        snapshots = []
        for pub in pubs[:granted]:
            try:
                raw = connector.fetch_metrics(ref, pub.external_id)
            except AuthError as exc:
                scheduling.mark_needs_reauth(account, exc.message)
                stats["reauth"] += 1
                break
            except (ConnectorError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                stats["errors"] += 1
                log.warning("metrics for publication %s failed: %s", pub.pk, type(exc).__name__)
                continue
            stats["fetched"] += 1
            snapshots.append(MetricSnapshot(publication=pub, creator_id=pub.creator_id, taken_at=now,
                                            **snapshot_fields(raw)))
        stats["snapshots"] += len(MetricSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True))
    return stats
