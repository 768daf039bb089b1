"""The Fanvue earnings backfill.

Fanvue earnings (`GET [/creators/{uuid}]/insights/earnings?startDate&endDate&cursor&size`,
https://api.fanvue.com/docs/api-reference/reference/insights/get-earnings) answer
`{data: [...], nextCursor}`; each item is assumed to carry `uuid`/`id`/`invoiceId`, `date`,
`gross`, `net`, `currency`, `source` and the paying fan as `user {uuid, handle}`. An item
without an id gets a digest of those fields, so a rerun still finds it.

A webhook sale's row is adopted (given the invoice id and fees), not added a second time."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Creator
from analytics.ingest.events import _amount, _parse_time
from analytics.ingest.ledger import _aware, _queue_rollup_if_late, record_transaction, upsert_fan
from analytics.models import (
    Fan,
    Transaction,
)
from scheduling import limits
from scheduling import services as scheduling
from scheduling.connectors.base import AuthError
from scheduling.connectors.fanvue import FanvueConnector
from scheduling.connectors.http import client, send
from scheduling.models import PlatformAccount

K = Transaction.Kind


BACKFILL_MATCH_WINDOW = timedelta(minutes=5)


# --- Fanvue earnings backfill ---------------------------------------------------------------------

# Fanvue's earning sources (its summary names them subs, renewals, tips, messages, posts,
# referrals) → our kinds; singular forms accepted too.
EARNING_KINDS: dict[str, str] = {
    "subs": K.SUBSCRIPTION, "sub": K.SUBSCRIPTION, "subscription": K.SUBSCRIPTION, "subscriptions": K.SUBSCRIPTION,
    "renewals": K.RENEWAL, "renewal": K.RENEWAL,
    "tips": K.TIP, "tip": K.TIP,
    "messages": K.PAID_MESSAGE, "message": K.PAID_MESSAGE,
    "posts": K.PAID_POST, "post": K.PAID_POST,
    "bundles": K.PACK, "bundle": K.PACK, "packs": K.PACK,
    "referrals": K.REFERRAL, "referral": K.REFERRAL,
    "refund": K.REFUND, "refunds": K.REFUND, "chargeback": K.CHARGEBACK, "chargebacks": K.CHARGEBACK,
}
EARNINGS_PAGE_SIZE = 50


def _earning_id(item: dict[str, Any]) -> str:
    explicit = item.get("uuid") or item.get("id") or item.get("invoiceId")
    if explicit:
        return str(explicit)
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    basis = json.dumps([item.get("date"), item.get("source"), item.get("gross"), item.get("net"),
                        (user or {}).get("uuid")], sort_keys=True)
    return "earning:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def _adopt_webhook_row(*, creator: Creator, kind: str, fan: Fan | None, gross: int, fee: int, at: datetime,
                       external_id: str) -> bool:
    """A sale first seen by a webhook (no platform id, no fee) takes the invoice's id and fee,
    so the backfill completes it instead of counting it twice."""
    if fan is None:
        return False
    candidate = (Transaction.objects.filter(creator=creator, platform="fanvue", kind=kind, fan=fan,
                                            gross_minor=gross, source=Transaction.Source.WEBHOOK,
                                            external_id__startswith="webhook:",
                                            occurred_at__range=(at - BACKFILL_MATCH_WINDOW,
                                                                at + BACKFILL_MATCH_WINDOW))
                 .order_by("pk").first())
    if candidate is None:
        return False
    Transaction.objects.filter(pk=candidate.pk).update(external_id=external_id, fee_minor=fee, net_minor=gross - fee)
    if candidate.currency == settings.ANALYTICS_CURRENCY:
        Fan.objects.filter(pk=fan.pk).update(
            lifetime_spend_minor=F("lifetime_spend_minor") + (gross - fee) - candidate.net_minor)
    _queue_rollup_if_late(creator, candidate.occurred_at)
    return True


def _fanvue_client(account: PlatformAccount) -> tuple[httpx.Client, str]:
    ref = scheduling.account_ref(account, purpose="earnings backfill")
    token = ref.credentials.get("access_token")
    if not token:
        raise AuthError(f"Fanvue @{account.handle} has no access token; connect the account.")
    creator_uuid = (account.options or {}).get("creator_uuid")
    prefix = f"/creators/{creator_uuid}" if creator_uuid else ""
    return client(settings.FANVUE_API_URL, headers={
        "Authorization": f"Bearer {token}", "X-Fanvue-API-Version": settings.FANVUE_API_VERSION}), prefix


def backfill_fanvue(account: PlatformAccount, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """Record the account's Fanvue earnings between `since` and `until` (default now) as
    transactions (source api). Safe to rerun over the same period: every item is keyed on its
    invoice id, and webhook rows for the same sales are completed rather than duplicated.

    Each page spends one request of the account's rate budget; when the budget is out the run
    stops and says so (`complete: False`), and rerunning later picks the period up again.
    """
    if account.platform != "fanvue":
        raise ValidationError("The earnings backfill reads Fanvue accounts only.")
    until = until or timezone.now()
    if _aware(since, "since") >= _aware(until, "until"):
        raise ValidationError("The backfill period is empty: since must be before until.")
    stats: dict[str, Any] = {"pages": 0, "created": 0, "existing": 0, "completed_webhook_rows": 0, "complete": True}
    creator = account.creator
    params: dict[str, Any] = {"startDate": since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                              "endDate": until.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                              "size": EARNINGS_PAGE_SIZE}
    try:
        http, prefix = _fanvue_client(account)
        with http:
            while True:
                granted, _ = limits.take_budget(account.pk, 1, FanvueConnector.limits)
                if not granted:
                    stats["complete"] = False
                    break
                page = send(http, "GET", f"{prefix}/insights/earnings", params=params).json()
                stats["pages"] += 1
                for item in page.get("data") or []:
                    outcome = _record_earning(account, creator, item)
                    stats[outcome] += 1
                cursor = page.get("nextCursor")
                if not cursor:
                    break
                params["cursor"] = cursor
    except AuthError as exc:
        scheduling.mark_needs_reauth(account, exc.message)
        raise
    return stats


def _record_earning(account: PlatformAccount, creator: Creator, item: dict[str, Any]) -> str:
    if not isinstance(item, dict):
        raise ValidationError("An earnings item is not an object.")
    source = str(item.get("source") or item.get("type") or "").lower()
    kind = EARNING_KINDS.get(source)
    if kind is None:
        raise ValidationError(f"Unknown Fanvue earning source {source!r}.")
    at = _parse_time(item.get("date") or item.get("createdAt"), timezone.now())
    gross = _amount(item, "gross")
    net = item.get("net")
    fee = gross - net if isinstance(net, int) and not isinstance(net, bool) else 0
    currency = str(item.get("currency") or "USD").upper()
    external_id = _earning_id(item)
    user = item.get("user") if isinstance(item.get("user"), dict) else None
    with transaction.atomic():
        if Transaction.objects.filter(platform="fanvue", external_id=external_id).exists():
            return "existing"
        fan = None
        if user and user.get("uuid"):
            fan, _ = upsert_fan(creator=creator, platform="fanvue", external_id=str(user["uuid"]),
                                handle=str(user.get("handle") or ""), seen_at=at)
        if _adopt_webhook_row(creator=creator, kind=kind, fan=fan, gross=gross, fee=fee, at=at,
                              external_id=external_id):
            return "completed_webhook_rows"
        _, created = record_transaction(creator=creator, platform="fanvue", kind=kind, gross_minor=gross,
                                        fee_minor=fee, currency=currency, occurred_at=at, external_id=external_id,
                                        source=Transaction.Source.API, fan=fan, account=account)
    return "created" if created else "existing"
