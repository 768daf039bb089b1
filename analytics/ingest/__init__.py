"""Ingestion: every source of money, fans and metrics writes through the services here.

Each source has its own module: `ledger` (the shared write path every source ends in:
fans, subscriptions, transactions), `receivers` (webhook receivers and their secrets), `events`
(Fanvue webhook events turned into rows), `metrics` (metric sync) and `backfill` (the Fanvue
earnings backfill). The names are re-exported here, so callers import them from
`analytics.ingest`.
"""

from analytics.ingest.backfill import (
    BACKFILL_MATCH_WINDOW,
    EARNING_KINDS,
    EARNINGS_PAGE_SIZE,
    backfill_fanvue,
)
from analytics.ingest.events import (
    BATCH_HANDLERS,
    EVENT_HANDLERS,
    EVENT_KINDS,
    EXTRA_HANDLERS,
    FOLLOWER,
    MESSAGE,
    MESSAGE_READ,
    PENDING_AFTER,
    PROCESS_BATCH,
    PURCHASE,
    PURCHASE_KINDS,
    SUBSCRIBER,
    TIP,
    event_data,
    event_kind,
    event_processed,
    pending_events,
    process_event,
    process_events,
    register_batch_handler,
    register_handler,
    sales_naming_message,
)
from analytics.ingest.ledger import (
    CURRENCY_RE,
    NEGATIVE_KINDS,
    PLATFORMS,
    local_day,
    record_transaction,
    upsert_fan,
    upsert_fans,
    upsert_subscription,
)
from analytics.ingest.metrics import (
    METRIC_FIELDS,
    METRICS_BUDGET_SHARE,
    due_for_metrics,
    snapshot_fields,
    sync_metrics,
)
from analytics.ingest.receivers import (
    accept_event,
    create_receiver,
    load_payload,
    receiver_secret,
    rotate_receiver_secret,
)

__all__ = [
    "BACKFILL_MATCH_WINDOW",
    "BATCH_HANDLERS",
    "CURRENCY_RE",
    "EARNINGS_PAGE_SIZE",
    "EARNING_KINDS",
    "EVENT_HANDLERS",
    "EVENT_KINDS",
    "EXTRA_HANDLERS",
    "FOLLOWER",
    "MESSAGE",
    "MESSAGE_READ",
    "METRICS_BUDGET_SHARE",
    "METRIC_FIELDS",
    "NEGATIVE_KINDS",
    "PENDING_AFTER",
    "PLATFORMS",
    "PROCESS_BATCH",
    "PURCHASE",
    "PURCHASE_KINDS",
    "SUBSCRIBER",
    "TIP",
    "accept_event",
    "backfill_fanvue",
    "create_receiver",
    "due_for_metrics",
    "event_data",
    "event_kind",
    "event_processed",
    "load_payload",
    "local_day",
    "pending_events",
    "process_event",
    "process_events",
    "receiver_secret",
    "record_transaction",
    "register_batch_handler",
    "register_handler",
    "rotate_receiver_secret",
    "sales_naming_message",
    "snapshot_fields",
    "sync_metrics",
    "upsert_fan",
    "upsert_fans",
    "upsert_subscription",
]
