"""Raising a notification and delivering it: the admin list, email to the people in charge, and
signed webhooks to internal systems.

`notify()` is the one call other apps make. Delivery runs after commit in a task, so a rolled-back
transaction never emails anyone, and every step is idempotent: an email is claimed by setting
`emailed_at` before sending, and a webhook delivery is one row per (endpoint, event id) that is
retried from its row, never from a broker ETA.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator, Membership, Role, User
from compliance import crypto
from core import backoff, memo, outbound
from core import http as outbound_http
from core.wording import counted
from notifications import tasks
from notifications.models import Notification, NotificationReceipt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

D = WebhookDelivery.Status
SIGNATURE_HEADER = "X-Atelier-Signature"
EVENT_ID_HEADER = "X-Atelier-Event-Id"
# Event ids derive from the notification, so every endpoint and every retry carries the same id.
EVENT_NAMESPACE = uuid.UUID("6f3a2c9e-4b1d-4e0a-9a57-3c1f8e2d7b60")
# Seconds a worker holds a delivery while posting it; a crashed worker's claim lapses after this.
DELIVERY_LEASE_SECONDS = 60
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600


# Apps above add who else must hear about a notice (the person who scheduled a post): each resolver
# gets the notice and returns user ids. Filled from the apps' `AppConfig.ready()`.
RecipientResolver = Callable[[Notification], Iterable[int]]
RECIPIENT_RESOLVERS: list[RecipientResolver] = []


def register_recipients(resolver: RecipientResolver) -> None:
    """Add a source of recipients; registering the same function twice adds it once."""
    if resolver not in RECIPIENT_RESOLVERS:
        RECIPIENT_RESOLVERS.append(resolver)


def notify(kind: str, *, creator_id: int | None, title: str, body: str = "", level: str = "warning",
           link: str = "", subject: str = "", dedupe_key: str = "",
           payload: dict[str, Any] | None = None, recipients: Iterable[int] = (),
           refresh: bool = False) -> Notification | None:
    """Record a notice for staff and give each person concerned their own unread copy.

    With a `dedupe_key`, a second call while the first is unresolved returns None instead of
    repeating the notice. With `refresh`, that second call instead rewrites the open notice (title,
    body, link, payload) so one condition that grows (more posts held) stays one notice; people
    newly concerned get their copy, nobody is emailed twice. `recipients` are user ids told besides
    the creator's managers and the agency owners."""
    extra = set(recipients)
    if dedupe_key:
        existing = Notification.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True).first()
        if existing is not None:
            if not refresh:
                return None
            return _refresh(existing, title=title, body=body, link=link, level=level, payload=payload or {},
                            recipients=extra)
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                creator_id=creator_id, kind=kind, title=title[:200], body=body, level=level, link=link,
                subject=subject, dedupe_key=dedupe_key, payload=payload or {})
            _add_receipts(note, extra)
    except IntegrityError:
        return None  # a concurrent twin won the race
    transaction.on_commit(lambda: _fan_out(note.pk))
    return note


def _refresh(note: Notification, *, title: str, body: str, link: str, level: str, payload: dict[str, Any],
             recipients: set[int]) -> Notification:
    grew = (title[:200], body) != (note.title, note.body)
    note.title, note.body, note.link, note.level, note.payload = title[:200], body, link, level, payload
    note.save(update_fields=["title", "body", "link", "level", "payload"])
    if grew:  # news for those who had read it: back on their bell, without a second email
        note.receipts.filter(read_at__isnull=False).update(read_at=None)
    if _add_receipts(note, recipients):
        transaction.on_commit(lambda: _fan_out(note.pk))  # the newcomers' emails; the rest are claimed
    return note


def recipient_ids(notification: Notification, extra: Iterable[int] = ()) -> set[int]:
    """Who is told: the creator's account managers and the agency owners, plus the people the apps
    name (`recipients`, resolvers). Anyone named who cannot see the creator is left out, so a notice
    never reaches a person outside the creator's team."""
    owners = set(User.objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    if notification.creator_id is None:
        return owners
    named = set(extra)
    for resolver in RECIPIENT_RESOLVERS:
        named |= set(resolver(notification))
    team = set(Membership.objects.filter(creator_id=notification.creator_id).values_list("user_id", flat=True))
    managers = set(Membership.objects.filter(creator_id=notification.creator_id, role=Role.MANAGER)
                   .values_list("user_id", flat=True))
    wanted = managers | (named & (team | owners))
    active = set(User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    return active | owners


def _add_receipts(notification: Notification, extra: Iterable[int] = ()) -> int:
    """Give each recipient their copy once; returns how many were new."""
    have = set(notification.receipts.values_list("user_id", flat=True))
    new = [NotificationReceipt(notification=notification, user_id=uid)
           for uid in sorted(recipient_ids(notification, extra) - have)]
    NotificationReceipt.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


# --- Each person's copy ---------------------------------------------------------------------------


def receipts_for(user: User) -> Any:
    """A person's notices, newest first (the bell's list)."""
    return (NotificationReceipt.objects.filter(user=user, user__is_active=True)
            .select_related("notification", "notification__creator").order_by("-created_at", "-id"))


def unread_count(user: Any) -> int:
    """The number on the bell; 0 for anyone not signed in."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return 0
    return NotificationReceipt.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user: User, receipt_ids: Iterable[int]) -> int:
    """Mark these of the person's own copies read; another person's ids change nothing."""
    return NotificationReceipt.objects.filter(user=user, pk__in=list(receipt_ids), read_at__isnull=True).update(
        read_at=timezone.now())


def mark_all_read(user: User) -> int:
    return NotificationReceipt.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def _fan_out(notification_id: int) -> None:
    """Hand delivery to a worker. A broker outage must not break the caller's request: the
    notification is already saved and visible in the admin."""
    try:
        tasks.deliver_notification.delay(notification_id)
    except Exception:
        logger.exception("Could not queue delivery of notification %s", notification_id)


def resolve(notification: Notification, *, actor: Actor = None) -> bool:
    """Close a notice; its dedupe key is free again, so the same condition can be raised anew.
    Returns False when it was already resolved."""
    updated = Notification.objects.filter(pk=notification.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now())
    if updated:
        audit.record("notification.resolved", notification, actor=actor, changes={"kind": notification.kind})
    return bool(updated)


def resolve_by_key(dedupe_key: str, *, actor: Actor = None) -> int:
    """Resolve the open notice for a condition that has gone away (e.g. an export was uploaded)."""
    done = 0
    for note in Notification.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True):
        done += resolve(note, actor=actor)
    return done


def absolute_url(path: str) -> str:
    if not path or path.startswith(("http://", "https://")):
        return path
    return f"{settings.ATELIER_BASE_URL}{path}"


# --- Email -----------------------------------------------------------------------------------------


def recipients_for(notification: Notification) -> list[str]:
    """The email addresses of the people holding a copy of the notice."""
    return sorted(set(notification.receipts.filter(user__is_active=True).exclude(user__email="")
                      .values_list("user__email", flat=True)))


def email_notification(notification_id: int) -> bool:
    """Email each recipient once, one message each (nobody learns who else was told). Every copy's
    `emailed_at` is claimed before its send so two workers never both send it; a failed send gives
    the claim back so the task's retry can try again. Returns whether anything was sent."""
    note = Notification.objects.select_related("creator").filter(pk=notification_id).first()
    if note is None or note.resolved_at is not None:
        return False
    pending = list(note.receipts.filter(emailed_at__isnull=True, user__is_active=True).exclude(user__email="")
                   .select_related("user"))
    prefix = f"[Atelier · {note.creator.stage_name}]" if note.creator else "[Atelier]"
    lines = [note.title, "", note.body] if note.body else [note.title]
    if note.link:
        lines += ["", f"Open in Atelier: {absolute_url(note.link)}"]
    sent = False
    for receipt in pending:
        claimed_at = timezone.now()
        if not NotificationReceipt.objects.filter(pk=receipt.pk, emailed_at__isnull=True).update(
                emailed_at=claimed_at):
            continue
        try:
            send_mail(f"{prefix} {note.title}"[:250], "\n".join(lines), None, [receipt.user.email],
                      fail_silently=False)
        except Exception:
            NotificationReceipt.objects.filter(pk=receipt.pk, emailed_at=claimed_at).update(emailed_at=None)
            raise
        sent = True
    if sent:
        Notification.objects.filter(pk=note.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return sent


# --- Webhook endpoints -----------------------------------------------------------------------------


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def validate_events(events: Iterable[str]) -> list[str]:
    cleaned = sorted({e.strip() for e in events if e and e.strip()})
    if any(len(e) > 60 or " " in e for e in cleaned):
        raise ValidationError({"events": "Events are notification kinds such as publication.failed."})
    return cleaned


def create_endpoint(creator: Creator | None, name: str, url: str, events: Iterable[str] = (), *,
                    active: bool = True, actor: Actor = None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint and return it with its signing secret. The secret is stored encrypted
    and this is the only time it is shown: the receiver's owner must copy it now."""
    secret = _new_secret()
    endpoint = WebhookEndpoint(creator=creator, name=name, url=url, events=validate_events(events), active=active,
                               secret_encrypted=crypto.encrypt_text(secret))
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        audit.record("webhook_endpoint.created", endpoint, actor=actor,
                     changes={"url": url, "events": endpoint.events, "active": active})
    return endpoint, secret


ENDPOINT_EDITABLE = ("name", "url", "events", "active")


def update_endpoint(endpoint: WebhookEndpoint, changes: dict[str, Any], *, actor: Actor = None) -> WebhookEndpoint:
    """Change name, URL, events or active; an endpoint stays with its creator. Audits the fields changed."""
    unknown = set(changes) - set(ENDPOINT_EDITABLE)
    if unknown:
        raise ValidationError({field: "This cannot be changed." for field in sorted(unknown)})
    if "events" in changes:
        changes = {**changes, "events": validate_events(changes["events"])}
    changed = sorted(f for f, v in changes.items() if getattr(endpoint, f) != v)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save(update_fields=[*changes] or None)
        audit.record("webhook_endpoint.updated", endpoint, actor=actor,
                     changes={"fields": changed, "url": endpoint.url, "active": endpoint.active})
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Actor = None) -> None:
    """Stop sending to an endpoint; its delivery log goes with it. Audits `webhook_endpoint.deleted`."""
    with transaction.atomic():
        audit.record("webhook_endpoint.deleted", endpoint, actor=actor, changes={"url": endpoint.url})
        endpoint.delete()


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Actor = None) -> str:
    """Replace the signing secret at once and return the new one (shown once). Deliveries sent from
    now on carry the new signature; receivers must switch at the same time."""
    secret = _new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=crypto.encrypt_text(secret))
    endpoint.secret_encrypted = crypto.encrypt_text(secret)
    audit.record("webhook_endpoint.secret_rotated", endpoint, actor=actor)
    return secret


def endpoints_for(notification: Notification) -> list[WebhookEndpoint]:
    """Active endpoints that want this notice: the creator's own and the agency-wide ones, with
    either no event filter or one that names the kind."""
    scope = Q(creator__isnull=True)
    if notification.creator_id is not None:
        scope |= Q(creator_id=notification.creator_id)
    return [e for e in WebhookEndpoint.objects.filter(scope, active=True)
            if not e.events or notification.kind in e.events]


def event_id_for(notification: Notification) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"notification:{notification.pk}")


def event_payload(*, event_id: uuid.UUID, kind: str, created_at: datetime, creator_id: int | None,
                  data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(event_id), "type": kind, "created_at": created_at.isoformat(), "creator_id": creator_id,
            "data": data}


def notification_payload(notification: Notification) -> dict[str, Any]:
    return event_payload(
        event_id=event_id_for(notification), kind=notification.kind, created_at=notification.created_at,
        creator_id=notification.creator_id,
        data={"title": notification.title, "body": notification.body, "level": notification.level,
              "link": absolute_url(notification.link), "subject": notification.subject,
              **({"details": notification.payload} if notification.payload else {})})


def create_deliveries(notification_id: int) -> list[int]:
    """One pending delivery per matching endpoint; running twice creates nothing new. Returns the
    ids that are still pending and due, for the caller to post."""
    note = Notification.objects.filter(pk=notification_id).first()
    if note is None:
        return []
    event_id = event_id_for(note)
    payload = notification_payload(note)
    ids = []
    for endpoint in endpoints_for(note):
        delivery, _ = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, event_id=event_id,
            defaults={"notification": note, "event": note.kind, "payload": payload,
                      "next_attempt_at": timezone.now()})
        if delivery.status == D.PENDING:
            ids.append(delivery.pk)
    return ids


# Events apps send straight to webhook endpoints, not as a notice: each carries data about one thing that
# happened (a fan's message), so an endpoint gets them only when its `events` name them, never through
# "empty = all", which would start pouring fans' messages into a receiver registered for notices.
DATA_EVENTS: dict[str, str] = {
    "message.received": "A fan's message arrived in the inbox.",
    "message.sent": "A message to a fan went out on the platform.",
    "message.purchased": "A fan bought a pay-per-view message; the chatter who sent it is credited.",
}


def send_event(kind: str, *, creator_id: int | None, key: str,
               data: dict[str, Any] | Callable[[], dict[str, Any]]) -> list[int]:
    """Deliver one data event (`DATA_EVENTS`) to the active endpoints that asked for it, after commit.

    `key` names the occurrence (a message id): the event id derives from it, so a second call for the
    same occurrence creates no second delivery and receivers deduplicate on `X-Atelier-Event-Id`.
    `data` may be a function, called only when some endpoint wants the event (most events have none).
    Returns the ids of the deliveries created."""
    if kind not in DATA_EVENTS:
        raise ValueError(f"Unknown data event {kind!r}; add it to DATA_EVENTS.")
    scope = Q(creator__isnull=True)
    if creator_id is not None:
        scope |= Q(creator_id=creator_id)
    active = memo.shared(("webhook-endpoints", creator_id),
                         lambda: list(WebhookEndpoint.objects.filter(scope, active=True)))
    endpoints = [e for e in active if kind in (e.events or [])]
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid5(EVENT_NAMESPACE, f"{kind}:{key}")
    payload = event_payload(event_id=event_id, kind=kind, created_at=now, creator_id=creator_id,
                            data=data() if callable(data) else data)
    ids = []
    for endpoint in endpoints:
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, event_id=event_id,
            defaults={"event": kind, "payload": payload, "next_attempt_at": now})
        if created:
            ids.append(delivery.pk)
    if ids:
        transaction.on_commit(lambda: queue_deliveries(ids))
    return ids


def send_test_event(endpoint: WebhookEndpoint, *, actor: Actor = None) -> WebhookDelivery:
    """Queue a `webhook.test` event for one endpoint, so its owner can check the receiver."""
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = event_payload(event_id=event_id, kind="webhook.test", created_at=now, creator_id=endpoint.creator_id,
                            data={"title": "Test event from Atelier", "endpoint": endpoint.name})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="webhook.test", event_id=event_id,
                                              payload=payload, next_attempt_at=now)
    audit.record("webhook_endpoint.test_sent", endpoint, actor=actor, changes={"delivery": delivery.pk})
    transaction.on_commit(lambda: queue_deliveries([delivery.pk]))
    return delivery


def retry_delivery(delivery: WebhookDelivery, *, actor: Actor = None) -> bool:
    """A person asks for another try now. A failed delivery gets a fresh set of attempts."""
    if delivery.status == D.DELIVERED:
        return False
    fields: dict[str, Any] = {"status": D.PENDING, "next_attempt_at": timezone.now()}
    if delivery.status == D.FAILED:
        fields["attempts"] = 0
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=D.DELIVERED).update(**fields)
    audit.record("webhook_delivery.retry_requested", delivery, actor=actor, changes={"was": delivery.status})
    transaction.on_commit(lambda: queue_deliveries([delivery.pk]))
    return True


def queue_deliveries(ids: list[int]) -> None:
    for pk in ids:
        try:
            tasks.deliver_webhook.delay(pk)
        except Exception:
            logger.exception("Could not queue webhook delivery %s; the retry sweep will send it", pk)


def fan_out(notification_id: int) -> dict[str, Any]:
    """Email and webhooks for one notice; safe to run again (a redelivered task does nothing new)."""
    emailed = email_notification(notification_id)
    ids = create_deliveries(notification_id)
    transaction.on_commit(lambda: queue_deliveries(ids))
    return {"emailed": emailed, "deliveries": ids}


# --- Signing ---------------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Atelier-Signature` value: HMAC-SHA256 over "<timestamp>.<body>" with the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300, *,
                     now: float | None = None) -> bool:
    """Check an `X-Atelier-Signature` header on a received webhook; receivers copy this function.

    The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. Verify against the
    raw request bytes (not re-serialised JSON), reject timestamps more than `tolerance` seconds from
    your clock so a captured request cannot be replayed later, and deduplicate on
    `X-Atelier-Event-Id`, which is the same on every retry.
    """
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, c) for c in candidates)


# --- Webhook delivery ------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """30 s, 1 min, 2 min… capped at 6 h, each ±20 % so a receiver coming back is not stampeded."""
    return backoff.backoff_seconds(attempts - 1, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS)


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take a due pending delivery by conditional update, so concurrent workers never both post it."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = WebhookDelivery.objects.filter(due, pk=delivery_id, status=D.PENDING).update(
        next_attempt_at=now + timedelta(seconds=DELIVERY_LEASE_SECONDS))
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def deliver(delivery_id: int, *, now: datetime | None = None) -> str:
    """POST one due delivery. 2xx → delivered; anything else → retried later from the row with
    backoff, and failed after `WEBHOOK_MAX_ATTEMPTS`. Not due or not pending → nothing happens.

    The POST goes through the guarded client: a receiver that is (or has come to resolve to) an
    internal address is refused before any connection, and the stored error is the refusal alone.
    Redirects are not followed: a receiver answers where it was registered.
    """
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        current = WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return current or "missing"
    endpoint = delivery.endpoint
    if not endpoint.active:
        return _record_failure(delivery, now, status=None, error="The endpoint is inactive.", final=True)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Atelier-Webhooks/1",
               SIGNATURE_HEADER: sign(crypto.decrypt_text(endpoint.secret_encrypted), body, int(time.time())),
               EVENT_ID_HEADER: str(delivery.event_id)}
    timeout = outbound_http.timeout(settings.WEBHOOK_TIMEOUT_SECONDS, connect=3)
    attempts = delivery.attempts + 1
    try:
        with outbound_http.client(timeout=timeout) as client:
            response = client.post(endpoint.url, content=body, headers=headers)
    except outbound.OutboundRefused as exc:
        return _record_failure(delivery, now, status=None, error=str(exc)[:500], attempts=attempts)
    except httpx.HTTPError as exc:
        return _record_failure(delivery, now, status=None, error=f"{type(exc).__name__}: {exc}"[:500],
                               attempts=attempts)
    excerpt = response.text[:500] if response.content else ""
    if 200 <= response.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=D.DELIVERED, attempts=attempts, delivered_at=timezone.now(), next_attempt_at=None,
            response_status=response.status_code, response_excerpt=excerpt)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_success_at=timezone.now())
        return D.DELIVERED
    return _record_failure(delivery, now, status=response.status_code, excerpt=excerpt, attempts=attempts,
                           error=f"HTTP {response.status_code} from the endpoint.")


def _record_failure(delivery: WebhookDelivery, now: datetime, *, status: int | None, error: str,
                    excerpt: str = "", attempts: int | None = None, final: bool = False) -> str:
    attempts = delivery.attempts if attempts is None else attempts
    final = final or attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    fields: dict[str, Any] = {"attempts": attempts, "response_status": status, "response_excerpt": excerpt}
    if final:
        fields.update(status=D.FAILED, next_attempt_at=None)
    else:
        fields["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(attempts))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    endpoint_error = f"Delivery {delivery.event_id} ({delivery.event}): {error}"
    if final:
        endpoint_error += f" Gave up after {counted(attempts, 'attempt')}."
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(last_failure_at=timezone.now(),
                                                                   last_error=endpoint_error)
    return D.FAILED if final else D.PENDING


def due_delivery_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (through the `webhook_delivery_due` index)."""
    now = now or timezone.now()
    return list(WebhookDelivery.objects.filter(status=D.PENDING)
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
