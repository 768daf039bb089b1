"""Webhook receivers: one per platform account, with its signing secret (encrypted, rotatable), and
the inbound events they accept, stored once per event key before anything is processed."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts import audit
from accounts.actors import Actor
from analytics import tasks
from analytics.ingest.events import PROCESS_BATCH
from analytics.models import (
    InboundEvent,
    WebhookReceiver,
)
from compliance import crypto
from core.api.parsers import MAX_DEPTH
from scheduling.models import PlatformAccount

log = logging.getLogger("analytics.ingest")
# How long the publisher waits for more events to join a batch. A task costs a worker several milliseconds of CPU
# whatever it carries, an event in a batch about one (`ingest.process_events`): under a burst this wait turns
# tens of tasks into one, and adds at most this to the lag.
PUBLISH_LINGER = 0.25
# How stale a receiver's `last_event_at` may be: it says the receiver is alive, not when the last event came.
LAST_EVENT_PRECISION = timedelta(seconds=60)

# --- Webhook receivers ----------------------------------------------------------------------------


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_receiver(account: PlatformAccount, *, secret: str | None = None,
                    actor: Actor = None) -> tuple[WebhookReceiver, str]:
    """Open `/hooks/<platform>/<token>/` for an account and return the signing secret once.

    Fanvue shows the secret in its developer area ("View Signing Secret"): pass it as `secret`;
    without one a random secret is made (for platforms where we choose it). Only its ciphertext is
    stored; the audit event names the receiver, never the secret.
    """
    if WebhookReceiver.objects.filter(account=account).exists():
        raise ValidationError(f"{account} already has a webhook receiver; rotate its secret instead.")
    secret = _checked_secret(secret)
    with transaction.atomic():
        receiver = WebhookReceiver.objects.create(account=account, token=secrets.token_urlsafe(32),
                                                  secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_receiver_created", receiver, actor=actor, changes={"account": account.pk})
    return receiver, secret


def rotate_receiver_secret(receiver: WebhookReceiver, *, secret: str | None = None, actor: Actor = None) -> str:
    """Replace the signing secret (pasted from the platform, or a new random one) and return it once.
    Events signed with the old secret are refused from now on."""
    secret = _checked_secret(secret)
    with transaction.atomic():
        WebhookReceiver.objects.filter(pk=receiver.pk).update(secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_secret_rotated", receiver, actor=actor)
    receiver.refresh_from_db()
    return secret


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return _new_secret()
    secret = secret.strip()
    if len(secret) < 16:
        raise ValidationError("A signing secret shorter than 16 characters is too easy to guess.")
    return secret


def receiver_secret(receiver: WebhookReceiver) -> str:
    return crypto.decrypt_text(receiver.secret_encrypted)


# Longest event key stored as sent; a longer one is stored as its digest, so two long keys never collide by
# sharing their first 200 characters.
EVENT_KEY_LENGTH = 200


def load_payload(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object PostgreSQL can store, or a ValidationError saying why not.

    Python's parser accepts what `jsonb` refuses (`NaN`, `Infinity`, numbers past a double, which it reads
    as infinity) and fails with a RecursionError on deep nesting: refused here, so a signed but odd body is a
    400 rather than a 500 at the INSERT. NUL characters, which `jsonb` and text columns cannot hold, are
    dropped from every string (a fan's message text included): the event key is the raw body's, so a
    redelivery is still recognised.
    """
    try:
        payload = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValidationError("The body is nested too deeply.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("The body is not JSON.") from exc
    if not isinstance(payload, dict):
        raise ValidationError("The body is not a JSON object.")
    return _without_nul(payload, 1)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of range")
    return value


def _without_nul(value: Any, depth: int) -> Any:
    """The document with NULs dropped, no deeper than the API takes (`core.api.parsers.MAX_DEPTH`): a body a
    few hundred levels deep parses, then would overflow the stack of any code that walks it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        raise ValidationError(f"The body is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        return {_without_nul(k, depth): _without_nul(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v, depth + 1) for v in value]
    return value


def stored_event_key(key: str) -> str:
    """The key as stored: as sent when it fits the column, else its digest."""
    if len(key) <= EVENT_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def accept_event(receiver: WebhookReceiver, *, kind: str, event_key: str,
                 payload: dict[str, Any]) -> InboundEvent | None:
    """Store a verified event once; None when this account already has that event key (a replay
    or a redelivery). Processing is queued after commit so the sender gets its answer at once.

    The sender waits on this, so it is one INSERT, committed on its own: the receiver's `last_event_at`
    is moved only when it is older than `LAST_EVENT_PRECISION` (as read with the receiver), because
    updating that one row on every event made every concurrent delivery queue behind the previous one's
    commit (a row lock held through the fsync). The processing task is published off the request
    (`enqueue_processing`): a broker that is slow or down never delays or fails the answer; the event is
    safe in the database.
    """
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(account_id=receiver.account_id, event_key=stored_event_key(event_key),
                                                kind=kind[:60], payload=payload)
            event_id = event.pk
            transaction.on_commit(lambda: enqueue_processing(event_id))
    except IntegrityError:
        return None
    seen = receiver.last_event_at
    if seen is None or seen < event.received_at - LAST_EVENT_PRECISION:
        # Only says the receiver is alive: a lost race here costs nothing, so it is outside the event's commit.
        (WebhookReceiver.objects
         .filter(Q(last_event_at__isnull=True) | Q(last_event_at__lt=event.received_at - LAST_EVENT_PRECISION),
                 pk=receiver.pk)
         .update(last_event_at=event.received_at))
        receiver.last_event_at = event.received_at
    return event


def enqueue_processing(event_id: int) -> None:
    """Hand an event's processing task to the broker without making the sender wait for it.

    Publishing happens on this process's publisher thread: a Redis that restarts makes a publish block
    for seconds (the client's reconnect retries), and a request must not. An event whose task never
    reached the broker (the broker down, the process killed before it published, the task lost with a
    Redis that restarted empty) is still stored unprocessed, and the `process_pending_events` sweep
    processes it. With eager tasks (tests) the task runs here, inline, as before.
    """
    if tasks.process_inbound_event.app.conf.task_always_eager:
        tasks.process_inbound_event.delay(event_id)
        return
    _publisher.put(event_id)


class _Publisher:
    """One daemon thread per process publishing queued event ids; started on first use and again in a
    forked child (gunicorn and Celery fork after import). The backlog is bounded: past it, ids are
    dropped and left to the sweep, so a long broker outage costs no memory.

    Whatever is waiting when the thread comes round goes in one task (at most `PROCESS_BATCH` ids): one
    event alone is published at once, a burst is published in batches, and nothing waits to fill one."""

    BACKLOG = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[int] = queue.Queue(self.BACKLOG)

    def put(self, event_id: int) -> None:
        if self._pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait(event_id)
        except queue.Full:
            log.warning("inbound event %s stored but not queued (publisher backlog full): the sweep will process it",
                        event_id)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue(self.BACKLOG)
            threading.Thread(target=self._run, args=(self._queue,), name="inbound-event-publisher",
                             daemon=True).start()
            self._pid = os.getpid()

    @staticmethod
    def _run(ids: queue.Queue[int]) -> None:
        while True:
            batch = [ids.get()]
            until = time.monotonic() + PUBLISH_LINGER
            while len(batch) < PROCESS_BATCH:
                try:
                    batch.append(ids.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            try:
                tasks.process_inbound_events.delay(batch)
            except Exception as exc:
                log.warning("%d inbound event(s) from %s stored but not queued (%s): the sweep will process them",
                            len(batch), batch[0], type(exc).__name__)


_publisher = _Publisher()
