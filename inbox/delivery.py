"""Delivering queued messages to fans: claim, call the platform once, write the outcome; reap and settle.

The publishing rules hold for every message (`scheduling.services.dispatch`, docs/architecture.md,
"Publish"): a message reaches the fan at most once. A delivery run hands due `queued` rows to workers
under a claim lease (`lease_until` on a queued row); the worker moves its row `queued → sending`
(attempts + 1, a call's lease) in one short transaction right before the call, and writes what the
platform said right after:

- accepted → `sent` (the platform's id, when, what it answered);
- `TransientError` (refused connection, 429, 5xx before acceptance) → `queued` again after a backoff,
  never sooner than the platform's `Retry-After`; given up after INBOX_MAX_ATTEMPTS → `failed`;
- `PermanentError` → `failed`; `AuthError` also marks the account as needing re-authorisation;
- `UnknownOutcome` (a timeout after the request left) → `unknown`: never sent again blindly.

A worker killed mid-call leaves its row `sending`; the reaper turns it `unknown` once the call's lease has
passed. `settle_unknown` reads the chat back (`ChatChannel.lookup_sent`): found → `sent`, certainly not
there → `queued` again, undecided → stays `unknown` and the creator's managers are told to check.

Each call is charged to the account's rate budget (`ChatPolicy.rate`, through `scheduling.limits`) at
the moment it is made; a message the budget cannot take waits for the next window, uncharged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import audit
from core import backoff, platforms
from inbox import channels, gate, signals, tasks
from inbox.channels.base import (
    AuthError,
    ChatChannel,
    PermanentError,
    SendRequest,
    SendResult,
    TransientError,
    UnknownOutcome,
)
from inbox.models import Message
from notifications.services import notify, resolve_by_key
from scheduling import limits, media
from scheduling.connectors.base import Limits
from scheduling.models import PlatformAccount
from scheduling.services.credentials import account_ref, mark_needs_reauth

log = logging.getLogger("inbox.delivery")
S = Message.SendStatus
OUT = Message.Direction.OUT

UNKNOWN_NOTICE = "inbox.message.unknown"
FAILED_NOTICE = "inbox.message.failed"
STOPPED = "The worker stopped while sending; the platform may have the message."


# --- Handing due messages to workers -----------------------------------------------------------------


def claim_due(*, now: datetime | None = None, batch: int | None = None) -> list[int]:
    """Hand due queued messages to workers, one `deliver` task each after commit. Two runs skip each
    other's locked rows, and a row handed out waits under its claim lease, so each goes out once."""
    now = now or timezone.now()
    batch = batch or settings.INBOX_CLAIM_BATCH
    with transaction.atomic():
        ids = list(Message.objects.select_for_update(skip_locked=True)
                   .filter(direction=OUT, send_status=S.QUEUED)
                   .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                   .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                   .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:batch])
        if ids:
            Message.objects.filter(pk__in=ids).update(
                lease_until=now + timedelta(seconds=settings.INBOX_CLAIM_LEASE_SECONDS))
            transaction.on_commit(lambda: _enqueue(ids))
    return ids


def claim_now(message: Message) -> bool:
    """A message just queued goes to a worker when its transaction commits, not at the next run."""
    now = timezone.now()
    claimed = Message.objects.filter(pk=message.pk, send_status=S.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).update(
        lease_until=now + timedelta(seconds=settings.INBOX_CLAIM_LEASE_SECONDS))
    if claimed:
        transaction.on_commit(lambda: _enqueue([message.pk]))
    return bool(claimed)


def _enqueue(ids: list[int]) -> None:
    for pk in ids:
        try:
            tasks.deliver.delay(pk)
        except Exception:  # the broker is down: the claim lease lapses and the next run hands it out again
            log.warning("Could not queue delivery of message %s", pk, exc_info=True)


# --- One message ---------------------------------------------------------------------------------------


def chat_limits(platform: str) -> Limits:
    """The account's chat budget, from the platform registry's `ChatPolicy.rate`."""
    policy = platforms.get(platform).chat
    if policy is None:
        raise KeyError(platform)
    return Limits(max_text=policy.max_text, max_media=0, max_media_bytes=0, media_types=frozenset(),
                  ratings=frozenset(), requests_per_window=policy.rate.requests,
                  window_seconds=policy.rate.window_seconds)


def call_seconds() -> int:
    """The longest one send may take (its uploads, then the message): the reaper waits this long."""
    return 4 * settings.CONNECTOR_TIMEOUT_SECONDS + 30


def deliver(message_id: int) -> str:
    """Send one handed-out message at most once; returns its status afterwards. Idempotent: a message no
    longer queued under a claim (sent, or a stale duplicate task) is left alone."""
    message = (Message.objects.select_related("conversation", "conversation__fan", "conversation__creator",
                                              "account", "script").filter(pk=message_id).first())
    if message is None:
        return "missing"
    if message.send_status != S.QUEUED or message.lease_until is None or message.direction != OUT:
        return str(message.send_status)
    assets = list(message.assets.prefetch_related("renditions"))
    refused = _refusal(message, assets)
    if refused:
        return _fail_queued(message, refused)
    try:
        channel = channels.channel_for(message.account.platform)
        budget = chat_limits(message.account.platform)
    except (KeyError, ImportError) as exc:
        return _fail_queued(message, f"No chat channel for {message.account.get_platform_display()}: {exc}")
    try:
        granted, wait = limits.take_budget(message.account_id, 1, budget)
    except Exception:
        log.warning("Could not read the rate budget of account %s", message.account_id, exc_info=True)
        granted, wait = 0, 5.0
    if not granted:  # the window is spent: back in line for the next one, nothing charged
        Message.objects.filter(pk=message.pk, send_status=S.QUEUED).update(
            lease_until=None, next_attempt_at=timezone.now() + timedelta(seconds=max(1.0, wait)))
        return S.QUEUED
    if not _start(message):  # another task started it first: give back what this one was charged
        try:
            limits.refund_budget(message.account_id, budget)
        except Exception:
            log.warning("Could not refund the rate budget of account %s", message.account_id, exc_info=True)
        return str(Message.objects.filter(pk=message.pk).values_list("send_status", flat=True).first())
    return _call(message, channel, assets)


def _refusal(message: Message, assets: list[Any]) -> str:
    """Why this message cannot go now: the account, the hold and the media gate, read again."""
    account = message.account
    if account.state != PlatformAccount.State.CONNECTED:
        return f"{account} is {account.get_state_display().lower()}."
    problems = gate.delivery_problems(message.conversation, text=message.text, assets=assets,
                                      price_minor=message.price_minor, origin=message.origin,
                                      ai_generated=message.ai_generated)
    return " ".join(problems)


def _start(message: Message) -> bool:
    """queued → sending, attempts + 1, under one call's lease: the durable mark made before the call."""
    with transaction.atomic():
        started = Message.objects.filter(pk=message.pk, send_status=S.QUEUED, lease_until__isnull=False).update(
            send_status=S.SENDING, attempts=F("attempts") + 1, next_attempt_at=None,
            lease_until=timezone.now() + timedelta(seconds=call_seconds()))
    if started:
        message.send_status, message.attempts = S.SENDING, message.attempts + 1
    return bool(started)


KNOWN_IDS_MARGIN = timedelta(minutes=10)  # clocks differ: a little before the message was queued


def build_request(message: Message, *, media_items: tuple[Any, ...] = (), purpose: str = "inbox.send") -> SendRequest:
    conversation = message.conversation
    return SendRequest(
        idempotency_key=message.idempotency_key or f"atelier-message-{message.pk}",
        account=account_ref(message.account, purpose=purpose),
        chat_id=conversation.external_id, fan_id=conversation.fan.external_id, text=message.text,
        media=media_items, price_minor=message.price_minor, currency=message.currency,
        template_id=message.script.platform_template_id if message.script is not None else "",
        # `not_before`: no platform message older than this can be ours (a lookup's window starts there);
        # `known_ids`: messages of the thread already recorded, which a lookup must not take for this one.
        options={"message_id": message.pk, "conversation_id": conversation.pk,
                 "not_before": message.created_at.isoformat(),
                 "known_ids": list(Message.objects.filter(conversation_id=conversation.pk,
                                                          created_at__gte=message.created_at - KNOWN_IDS_MARGIN)
                                   .exclude(external_id="").values_list("external_id", flat=True)[:500])})


def _call(message: Message, channel: ChatChannel, assets: list[Any]) -> str:
    """The one platform call, its answer turned into the message's next state."""
    try:
        described = media.describe(assets, message.account.platform)
        request = build_request(message)
    except Exception as exc:  # nothing left for the platform yet (credentials, media): safe to try again
        log.warning("Could not prepare message %s", message.pk, exc_info=True)
        return _after_transient(message, TransientError(f"Could not prepare the message: {exc}"))
    try:
        with media.materialise(described) as items:
            result = channel.send(replace(request, media=items))
    except TransientError as exc:
        return _after_transient(message, exc)
    except UnknownOutcome as exc:
        return _finish(message, S.UNKNOWN, last_error=f"{exc.message} The platform may have the message: it is "
                                                      f"looked up, never sent again blindly.",
                       next_attempt_at=timezone.now() + timedelta(seconds=settle_seconds(channel)))
    except AuthError as exc:
        mark_needs_reauth(message.account, exc.message)
        return _finish(message, S.FAILED, last_error=exc.message)
    except PermanentError as exc:
        return _finish(message, S.FAILED, last_error=exc.message)
    except OSError as exc:  # a rendition could not be read: nothing was sent
        return _after_transient(message, TransientError(f"Could not read the media: {exc}"))
    return _sent(message, result)


def settle_seconds(channel: ChatChannel) -> float:
    """How long after an unknown outcome the chat is read back: INBOX_SETTLE_SECONDS, or longer when the
    channel says its listing lags (`lookup_settle_seconds`) — a request still on the wire arrives within
    the client's timeout, then the listing may take that long to show it."""
    lag = getattr(channel, "lookup_settle_seconds", None)
    floor = float(settings.INBOX_SETTLE_SECONDS)
    return floor if lag is None else max(floor, float(lag) + settings.CONNECTOR_TIMEOUT_SECONDS)


def _sent(message: Message, result: SendResult, *, via: str = "send") -> str:
    to = _finish(message, S.SENT, from_status=S.SENDING if via == "send" else S.UNKNOWN,
                 external_id=result.external_id, sent_at=result.sent_at or timezone.now(), raw=result.raw,
                 last_error="", next_attempt_at=None)
    if via != "send":
        resolve_by_key(f"{UNKNOWN_NOTICE}:{message.pk}")
    if to == S.SENT:
        signals.message_sent.send(sender=Message, message=message)  # outbound `message.sent` webhook events
    return to


def _after_transient(message: Message, exc: TransientError) -> str:
    if message.attempts >= settings.INBOX_MAX_ATTEMPTS:
        return _finish(message, S.FAILED, last_error=f"Gave up after {message.attempts} attempts: {exc.message}")
    delay = backoff.backoff_seconds(message.attempts - 1, base=10, cap=900, retry_after=exc.retry_after)
    return _finish(message, S.QUEUED, next_attempt_at=timezone.now() + timedelta(seconds=delay),
                   last_error=exc.message)


def _finish(message: Message, to: str, *, from_status: str = S.SENDING, **fields: Any) -> str:
    """Write the outcome if the row is still where this worker left it (the reaper may have taken it)."""
    updated = Message.objects.filter(pk=message.pk, send_status=from_status).update(
        send_status=to, lease_until=None, **fields)
    if not updated:
        return str(Message.objects.filter(pk=message.pk).values_list("send_status", flat=True).first())
    for key, value in fields.items():
        setattr(message, key, value)
    message.send_status = to
    audit.record(f"inbox.message.{to}", message, actor_label="task:inbox.deliver",
                 changes={k: str(v) for k, v in fields.items() if k in ("external_id", "last_error")})
    if to == S.FAILED:
        _tell(message, FAILED_NOTICE, f"A message to {message.conversation.fan} could not be sent",
              message.last_error)
    return to


def _fail_queued(message: Message, why: str) -> str:
    message.send_status = S.QUEUED
    return _finish(message, S.FAILED, from_status=S.QUEUED, last_error=why)


def _tell(message: Message, kind: str, title: str, body: str) -> None:
    notify(kind, creator_id=message.creator_id, level="error", title=title, body=body,
           link=f"/admin/inbox/conversation/{message.conversation_id}/change/",
           subject=f"inbox.message:{message.pk}", dedupe_key=f"{kind}:{message.pk}",
           payload={"message_id": message.pk, "conversation_id": message.conversation_id,
                    "status": message.send_status},
           recipients=[message.sent_by_id] if message.sent_by_id else [])


# --- Stuck and unknown sends ---------------------------------------------------------------------------


def reap_sending(*, now: datetime | None = None) -> int:
    """A `sending` row whose call lease passed belongs to a worker that died mid-call: the platform may
    have the message, so it becomes `unknown` and is looked up, never sent again blindly."""
    now = now or timezone.now()
    stuck = list(Message.objects.filter(send_status=S.SENDING, lease_until__lt=now).values_list("pk", flat=True)
                 [:1000])
    if not stuck:
        return 0
    moved = Message.objects.filter(pk__in=stuck, send_status=S.SENDING, lease_until__lt=now).update(
        send_status=S.UNKNOWN, lease_until=None, last_error=STOPPED, next_attempt_at=now)
    for message in Message.objects.filter(pk__in=stuck, send_status=S.UNKNOWN):
        audit.record("inbox.message.unknown", message, actor_label="task:inbox.reap_sending",
                     changes={"last_error": STOPPED})
    return moved


def settle_unknown(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Read back the chats of messages whose outcome is unknown: found → sent; certainly not there →
    queued again (the platform never took it); undecided → left unknown, asked again later, and the
    creator's managers are told to check the platform."""
    now = now or timezone.now()
    counts = {"sent": 0, "queued": 0, "failed": 0, "still_unknown": 0}
    rows = list(Message.objects.select_related("conversation", "conversation__fan", "account", "script")
                .filter(send_status=S.UNKNOWN, direction=OUT)
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .order_by("pk")[:limit])
    for message in rows:
        counts[_settle_one(message, now)] += 1
    return counts


def _settle_one(message: Message, now: datetime) -> str:
    why = ""
    try:
        channel = channels.channel_for(message.account.platform)
        described = media.describe(list(message.assets.prefetch_related("renditions")), message.account.platform)
        found = channel.lookup_sent(build_request(message, media_items=tuple(i for _, i in described),
                                                  purpose="inbox.lookup"))
    except Exception as exc:  # a lookup that cannot tell (or fails) is no news
        found, why = None, getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    if found is not None:
        _sent(message, found, via="lookup")
        return "sent"
    if not why and message.attempts >= settings.INBOX_MAX_ATTEMPTS:
        if Message.objects.filter(pk=message.pk, send_status=S.UNKNOWN).update(
                send_status=S.FAILED, next_attempt_at=None, last_error=f"Gave up: the platform never received any of "
                                                                       f"{message.attempts} attempts."):
            message.send_status = S.FAILED
            resolve_by_key(f"{UNKNOWN_NOTICE}:{message.pk}")
            _tell(message, FAILED_NOTICE, f"A message to {message.conversation.fan} could not be sent",
                  "The platform never received it after several attempts.")
            return "failed"
        return "still_unknown"
    if not why:
        # The platform certainly does not hold it: it never got there, so it may go again.
        if Message.objects.filter(pk=message.pk, send_status=S.UNKNOWN).update(
                send_status=S.QUEUED, next_attempt_at=now, lease_until=None, last_error=""):
            audit.record("inbox.message.retry_after_lookup", message, actor_label="task:inbox.settle_unknown")
            resolve_by_key(f"{UNKNOWN_NOTICE}:{message.pk}")
            return "queued"
        return "still_unknown"
    last = f"{message.last_error.split(' | lookup:')[0]} | lookup: {why}"[:2000]
    Message.objects.filter(pk=message.pk, send_status=S.UNKNOWN).update(
        next_attempt_at=now + timedelta(minutes=15), last_error=last)
    message.last_error = last
    _tell(message, UNKNOWN_NOTICE, f"Check on {message.account}: a message to {message.conversation.fan} may or may "
                                   f"not have been sent", f"{last}\nLook at the chat on the platform before sending "
                                                          f"it again.")
    return "still_unknown"
