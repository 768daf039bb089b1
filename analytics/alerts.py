"""Alert rules evaluated hourly against the rollups and live state.

Each rule × creator × condition has one stable dedupe key. While its notice is open, `notify()`
refuses a twin, so a condition that persists is announced once; when the condition is gone the
notice is resolved, which frees the key so a later recurrence is announced again. A disabled or
deleted rule, or a creator it no longer covers, has its open notices resolved the same way.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import Creator
from analytics.models import AlertRule, DailyRollup
from compliance.models import ConsentRecord, CreatorPerformer
from notifications import services as notifications
from notifications.models import Notification
from scheduling.models import PlatformAccount, Publication

logger = logging.getLogger(__name__)

Kind = AlertRule.Kind
S = Publication.Status
KEY_PREFIX = "analytics.alert"
# A post counts as attempted once the dispatcher handed it to a platform (or a person, for exports).
ATTEMPTED = (S.PUBLISHED, S.FAILED, S.UNKNOWN, S.REMOVED, S.EXPORTED)
FAILED = (S.FAILED, S.UNKNOWN)


@dataclass(frozen=True)
class Condition:
    """A condition that holds now; `key_suffix` distinguishes several per creator (consents)."""

    creator_id: int
    title: str
    body: str
    level: str = "warning"
    key_suffix: str = ""
    payload: dict[str, Any] | None = None


def rule_prefix(rule_id: int) -> str:
    return f"{KEY_PREFIX}:{rule_id}:"


def dedupe_key(rule: AlertRule, condition: Condition) -> str:
    key = f"{rule_prefix(rule.pk)}{condition.creator_id}:{rule.kind}"
    return f"{key}:{condition.key_suffix}" if condition.key_suffix else key


def _creators_for(rule: AlertRule) -> dict[int, Creator]:
    qs = Creator.objects.exclude(status=Creator.Status.ARCHIVED)
    if rule.creator_id is not None:
        qs = qs.filter(pk=rule.creator_id)
    return {c.pk: c for c in qs}


def _revenue_drop(rule: AlertRule, creators: dict[int, Creator], now: datetime) -> list[Condition]:
    """Yesterday's net (creator's local day) against the average of the `window_days` before it."""
    window = max(1, rule.window_days)
    yesterdays = {pk: now.astimezone(ZoneInfo(c.timezone)).date() - timedelta(days=1) for pk, c in creators.items()}
    if not yesterdays:
        return []
    earliest = min(yesterdays.values()) - timedelta(days=window)
    rows = (DailyRollup.objects.filter(creator_id__in=list(creators), day__gte=earliest,
                                       day__lte=max(yesterdays.values()))
            .order_by().values("creator_id", "day").annotate(net=Sum("net_minor")))
    by_creator: dict[int, dict[Any, int]] = defaultdict(dict)
    for row in rows:
        by_creator[row["creator_id"]][row["day"]] = row["net"] or 0
    out = []
    for pk, yesterday in yesterdays.items():
        days = by_creator.get(pk, {})
        trailing = sum(days.get(yesterday - timedelta(days=i), 0) for i in range(1, window + 1)) / window
        if trailing <= 0:
            continue  # nothing to drop from
        current = days.get(yesterday, 0)
        drop = Decimal(str((trailing - current) / trailing * 100)).quantize(Decimal("0.1"))
        if drop >= rule.threshold:
            out.append(Condition(
                pk, title=f"Revenue down {drop}% on {yesterday:%d %b}",
                body=(f"Net revenue on {yesterday.isoformat()} was {current / 100:,.2f}, against a {window}-day "
                      f"average of {trailing / 100:,.2f} (alert at {rule.threshold}% drop)."),
                payload={"day": yesterday.isoformat(), "net_minor": current, "trailing_average_minor": round(trailing),
                         "drop_percent": float(drop)}))
    return out


def _publish_failure_rate(rule: AlertRule, creators: dict[int, Creator], now: datetime) -> list[Condition]:
    since = now - timedelta(days=max(1, rule.window_days))
    rows = (Publication.objects.filter(creator_id__in=list(creators), scheduled_at__gte=since,
                                       scheduled_at__lte=now, status__in=ATTEMPTED)
            .order_by().values("creator_id")
            .annotate(attempted=Count("pk"), failed=Count("pk", filter=Q(status__in=FAILED))))
    out = []
    for row in rows:
        rate = Decimal(row["failed"] * 100) / row["attempted"]
        if row["failed"] and rate >= rule.threshold:
            rate = rate.quantize(Decimal("0.1"))
            out.append(Condition(
                row["creator_id"], level="error",
                title=f"{rate}% of publications failed in {rule.window_days} days",
                body=(f"{row['failed']} of {row['attempted']} attempted publications failed or have an unknown "
                      f"outcome (alert at {rule.threshold}%)."),
                payload={"failed": row["failed"], "attempted": row["attempted"], "rate_percent": float(rate)}))
    return out


def _account_reauth(rule: AlertRule, creators: dict[int, Creator], now: datetime) -> list[Condition]:
    accounts: dict[int, list[int]] = defaultdict(list)
    for pk, creator_id in (PlatformAccount.objects.filter(creator_id__in=list(creators),
                                                          state=PlatformAccount.State.NEEDS_REAUTH)
                           .order_by("pk").values_list("pk", "creator_id")):
        accounts[creator_id].append(pk)
    return [Condition(creator_id, level="error",
                      title=f"{len(ids)} platform account(s) need re-authorisation",
                      body="Nothing is published to these accounts until someone reconnects them.",
                      payload={"accounts": ids})
            for creator_id, ids in accounts.items()]


def _consent_expiring(rule: AlertRule, creators: dict[int, Creator], now: datetime) -> list[Condition]:
    """One condition per consent, so a second consent nearing its end is announced on its own."""
    horizon = now + timedelta(days=int(rule.threshold))
    consents = {c.pk: c for c in ConsentRecord.objects.filter(revoked_at__isnull=True, valid_until__gte=now,
                                                                valid_until__lte=horizon)}
    if not consents:
        return []
    links = CreatorPerformer.objects.filter(creator_id__in=list(creators),
                                            performer_id__in={c.performer_id for c in consents.values()})
    by_performer: dict[int, set[int]] = defaultdict(set)
    for creator_id, performer_id in links.values_list("creator_id", "performer_id"):
        by_performer[performer_id].add(creator_id)
    out = []
    for consent in consents.values():
        for creator_id in sorted(by_performer.get(consent.performer_id, ())):
            days = max(0, (consent.valid_until - now).days)
            # The performer's legal name stays in compliance: the notice names the consent only.
            out.append(Condition(
                creator_id, key_suffix=str(consent.pk),
                title=f"Consent #{consent.pk} expires in {days} day(s)",
                body=f"Consent #{consent.pk} ends on {consent.valid_until:%Y-%m-%d}. Record a renewal before "
                     "then, or publications relying on it will be blocked.",
                payload={"consent": consent.pk, "valid_until": consent.valid_until.isoformat()}))
    return out


CHECKS = {
    Kind.REVENUE_DROP: _revenue_drop,
    Kind.PUBLISH_FAILURE_RATE: _publish_failure_rate,
    Kind.ACCOUNT_REAUTH: _account_reauth,
    Kind.CONSENT_EXPIRING: _consent_expiring,
}


def _link(creator_id: int) -> str:
    try:
        return f"{reverse('admin:analytics_creator_dashboard')}?creator={creator_id}"
    except Exception:
        return ""


def evaluate_rule(rule: AlertRule, now: datetime) -> int:
    """Raise what holds, resolve what no longer does. Returns the number of new notices."""
    holding: dict[str, Condition] = {}
    if rule.enabled:
        creators = _creators_for(rule)
        for condition in CHECKS[rule.kind](rule, creators, now) if creators else []:
            holding[dedupe_key(rule, condition)] = condition
    raised = 0
    for key, condition in holding.items():
        note = notifications.notify(
            f"analytics.{rule.kind}", creator_id=condition.creator_id, title=condition.title, body=condition.body,
            level=condition.level, link=_link(condition.creator_id), subject=f"analytics.alertrule:{rule.pk}",
            dedupe_key=key, payload={"rule": rule.pk, **(condition.payload or {})})
        raised += note is not None
    open_keys = set(Notification.objects.filter(dedupe_key__startswith=rule_prefix(rule.pk),
                                                resolved_at__isnull=True).values_list("dedupe_key", flat=True))
    for key in sorted(open_keys - set(holding)):
        notifications.resolve_by_key(key)
    AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
    return raised


def evaluate(now: datetime | None = None) -> int:
    """Every rule, then the notices of rules that no longer exist. Returns new notices raised."""
    now = now or timezone.now()
    raised = 0
    rules = list(AlertRule.objects.select_related("creator").order_by("pk"))
    for rule in rules:
        try:
            raised += evaluate_rule(rule, now)
        except Exception:
            # One broken rule must not silence the others; the task's log carries the trace.
            logger.exception("Alert rule %s could not be evaluated", rule.pk)
    live = {rule_prefix(rule.pk) for rule in rules}
    orphans = Notification.objects.filter(dedupe_key__startswith=f"{KEY_PREFIX}:", resolved_at__isnull=True)
    for key in orphans.values_list("dedupe_key", flat=True):
        if not any(key.startswith(prefix) for prefix in live):
            notifications.resolve_by_key(key)
    return raised
