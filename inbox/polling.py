"""Polling the chat platforms that push nothing (a ChatPolicy with `webhooks=False`: Bluesky, X).

One beat entry (`poll_chat_accounts`, every BEAT_SECONDS on the control queue, like the calendar's) claims
the connected accounts whose turn has come and queues one `poll_account` each on the default queue, so a slow
platform never holds up the control worker. `poll_account` asks the account's channel for what arrived since
its cursor and records each message through `services.receive` (exactly once: a page read twice records
nothing twice); the cursor moves only after the whole page was recorded.

How often an account is polled, from its platform's chat rate (`ChatPolicy.rate`, requests per window per
user) and the most requests one poll may spend (the channel's `max_requests_per_poll`): polling may use at
most POLL_SHARE of the budget, the rest is left to sending and to settling unknown sends, so

    gap ≥ window × requests_per_poll / (requests × POLL_SHARE)

and the interval is that gap plus the beat's tolerance, never under the beat period. For X (200 requests
per 15 minutes per user, 3 requests per poll at most: two pages of 100 DMs and `GET /2/users/me` when the
user id is not stored): 900 × 3 / (200 × 0.25) = 54 s → every 60 s; at most 15 polls × 3 = 45 requests per
window (22.5 %), leaving 155 for sends and lookups. For Bluesky (3000 per 5 minutes, 10 getLog pages): 4 s →
every 60 s. A 429 pushes the account's next poll past the window's reset; other failures back off.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import partial

from celery import shared_task
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core import platforms
from inbox import services
from inbox.channels import channel_for
from inbox.channels.base import AuthError, ConnectorError, TransientError
from inbox.models import ChannelCursor
from scheduling.models import PlatformAccount
from scheduling.services import account_ref, mark_needs_reauth

BEAT_SECONDS = 60
TOLERANCE_SECONDS = 5  # a beat firing a little early still finds the account due
POLL_SHARE = 0.25  # the part of a chat rate budget polling may spend
MAX_BACKOFF_SECONDS = 3600
CLAIM_BATCH = 500


def polled_platforms() -> list[str]:
    """Platforms whose chats are read by polling: a chat policy without webhooks."""
    return [p.key for p in platforms.chat_platforms() if p.chat is not None and not p.chat.webhooks]


def poll_interval(platform: str) -> int:
    """Seconds between two polls of one account (see the module docstring for the arithmetic)."""
    policy = platforms.get(platform).chat
    if policy is None:
        raise KeyError(f"Atelier does not talk with fans on {platform}.")
    per_poll = int(getattr(channel_for(platform), "max_requests_per_poll", 1))
    gap = policy.rate.window_seconds * per_poll / (policy.rate.requests * POLL_SHARE)
    return max(BEAT_SECONDS, math.ceil(gap) + TOLERANCE_SECONDS)


# OAuth platforms whose grant must include reading direct messages before Atelier polls them. An account
# connected for publishing only (before DMs were asked for) would be refused, and that refusal must not mark a
# publishing account for reconnection: it is left unpolled until someone connects it again with DM access.
CHAT_READ_SCOPES = {"x": "dm.read"}


def pollable_accounts() -> QuerySet[PlatformAccount]:
    """Connected accounts of polled platforms whose grant lets Atelier read their messages."""
    accounts = PlatformAccount.objects.filter(platform__in=polled_platforms(), state=PlatformAccount.State.CONNECTED)
    for platform, scope in CHAT_READ_SCOPES.items():
        accounts = accounts.exclude(Q(platform=platform) & ~Q(scopes__contains=scope))
    return accounts


def claim_due_accounts(now: datetime | None = None) -> list[int]:
    """The connected polled accounts whose turn has come, each claimed by moving its next poll one interval
    on (a conditional UPDATE: two beats, or two schedulers, never claim the same turn)."""
    now = now or timezone.now()
    accounts = pollable_accounts()
    ChannelCursor.objects.bulk_create(
        [ChannelCursor(account_id=pk, next_poll_at=now)
         for pk in accounts.filter(chat_cursor__isnull=True).values_list("pk", flat=True)],
        ignore_conflicts=True)
    due = (ChannelCursor.objects.filter(account__in=accounts, next_poll_at__lte=now + timedelta(
        seconds=TOLERANCE_SECONDS)).order_by("next_poll_at").values_list("pk", "account_id", "account__platform",
                                                                          "next_poll_at")[:CLAIM_BATCH])
    claimed = []
    for pk, account_id, platform, turn in due:
        following = now + timedelta(seconds=poll_interval(platform))
        if ChannelCursor.objects.filter(pk=pk, next_poll_at=turn).update(next_poll_at=following):
            claimed.append(account_id)
    return claimed


def poll_account(account_id: int) -> int:
    """Read what arrived on the account since its cursor and record it; returns how many messages were new.

    Refused credentials mark the account for reconnection (it leaves the polled set); a 429 waits for the
    platform's reset; other failures back off. A failure in the middle of recording leaves the cursor
    where it was: the next poll reads the page again and `receive` keeps each message once.
    """
    account = pollable_accounts().filter(pk=account_id).first()
    if account is None:  # disconnected or removed since its turn was claimed
        return 0
    row, _ = ChannelCursor.objects.get_or_create(account=account)
    channel = channel_for(account.platform)
    try:
        page = channel.fetch_updates(account_ref(account, purpose="inbox.poll"), row.cursor or None)
    except AuthError as exc:
        mark_needs_reauth(account, exc.message)
        _failed(row, exc.message, retry_after=None)
        return 0
    except TransientError as exc:
        _failed(row, exc.message, retry_after=exc.retry_after)
        return 0
    except ConnectorError as exc:
        _failed(row, exc.message, retry_after=None)
        return 0
    recorded = sum(1 for message in page.messages if services.receive(account, message) is not None)
    # Compare-and-set: a poll that started from an older cursor never moves it back.
    ChannelCursor.objects.filter(pk=row.pk, cursor=row.cursor).update(
        cursor=page.cursor or row.cursor, polled_at=timezone.now(), failures=0, last_error="")
    return recorded


def _failed(row: ChannelCursor, message: str, *, retry_after: float | None) -> None:
    failures = row.failures + 1
    interval = poll_interval(row.account.platform)
    wait = retry_after if retry_after is not None else min(MAX_BACKOFF_SECONDS, interval * 2 ** (failures - 1))
    ChannelCursor.objects.filter(pk=row.pk).update(
        failures=failures, last_error=message[:1000],
        next_poll_at=timezone.now() + timedelta(seconds=max(interval, math.ceil(wait))))


# --- Tasks ----------------------------------------------------------------------------------------------------


@shared_task(name="inbox.polling.poll_chat_accounts", ignore_result=True, expires=BEAT_SECONDS - 6)
def poll_chat_accounts() -> int:
    """Every minute, on the control queue (CELERY_TASK_ROUTES): queue a poll for each polled account whose
    turn has come."""
    with transaction.atomic():
        claimed = claim_due_accounts()
        for account_id in claimed:
            transaction.on_commit(partial(poll_account_task.delay, account_id))
    return len(claimed)


@shared_task(name="inbox.polling.poll_account", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=120, time_limit=150)
def poll_account_task(account_id: int) -> int:
    """Never retried by Celery: the account's next turn (`ChannelCursor.next_poll_at`) is the retry."""
    return poll_account(account_id)
