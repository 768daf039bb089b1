"""Platform webhook receivers: `/hooks/<platform>/<token>/`, one token per platform account.

A request is checked before anything is written: the token names a receiver (else 404), the
`X-Fanvue-Signature` header parses (else 400), its timestamp is within
`FANVUE_WEBHOOK_TOLERANCE_SECONDS` of now in either direction (else 400: a stale signature is how a
captured request would be replayed later), the HMAC matches the secret (else 401) and the body is
a JSON object PostgreSQL can store (else 400: `ingest.load_payload`). Only then is the event stored, keyed on
its id or the body's digest, and
processed after commit by a worker (the answer never waits on the broker; `process_pending_events` picks up
an event whose task was lost). A second delivery of a stored event is answered 200 without storing
anything: Fanvue retries until it gets a 2xx, and the event is already safe with us.
Signature scheme: https://api.fanvue.com/docs/webhooks/webhooks-overview
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from analytics import ingest
from analytics.models import WebhookReceiver

SIGNATURE_RE = re.compile(r"^t=(?P<t>\d{1,12}),v0=(?P<v0>[0-9a-fA-F]{64})$")


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def verify_fanvue_signature(secret: str, header: str, body: bytes, *, now: float | None = None,
                            tolerance: int | None = None) -> int:
    """Check `t=<unix>,v0=<hex>` against HMAC-SHA256(secret, "{t}.{body}"); returns t.

    The timestamp is checked before the MAC so a stale request costs no HMAC, and the MAC is
    compared in constant time so its bytes cannot be guessed one at a time.
    """
    match = SIGNATURE_RE.match((header or "").replace(" ", ""))
    if match is None:
        raise Rejected(400, "Missing or malformed X-Fanvue-Signature header.")
    signed_at = int(match["t"])
    now = time.time() if now is None else now
    tolerance = settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS if tolerance is None else tolerance
    if abs(now - signed_at) > tolerance:
        raise Rejected(400, "The signature timestamp is outside the accepted window.")
    expected = hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["v0"].lower()):
        raise Rejected(401, "The signature does not match.")
    return signed_at


def event_key(payload: dict, body: bytes) -> str:
    """The platform's event id when the payload has one, else the body's digest: a redelivery of
    the same body is the same event."""
    explicit = payload.get("id")
    if isinstance(explicit, str | int) and not isinstance(explicit, bool) and str(explicit).strip():
        return f"id:{explicit}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


@csrf_exempt
@require_POST
def fanvue_webhook(request: HttpRequest, token: str) -> JsonResponse:
    receiver = (WebhookReceiver.objects.select_related("account")
                .filter(token=token, account__platform="fanvue").first())
    if receiver is None:
        return JsonResponse({"error": "Unknown receiver."}, status=404)
    body = request.body
    try:
        verify_fanvue_signature(ingest.receiver_secret(receiver), request.headers.get("X-Fanvue-Signature", ""),
                                body)
        try:
            payload = ingest.load_payload(body)
        except ValidationError as exc:
            raise Rejected(400, exc.messages[0]) from exc
    except Rejected as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    kind = ingest.event_kind(payload, request.headers.get("X-Fanvue-Event", ""))
    event = ingest.accept_event(receiver, kind=kind, event_key=event_key(payload, body), payload=payload)
    return JsonResponse({"status": "accepted" if event is not None else "duplicate"}, status=200)


urlpatterns = [
    path("fanvue/<str:token>/", fanvue_webhook, name="analytics_fanvue_webhook"),
]
