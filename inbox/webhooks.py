"""The Telegram receiver: `/hooks/telegram/<token>/`, one per bot account, and the call that points the bot at it.

Telegram does not sign its updates. `setWebhook` takes a `secret_token` (1–256 of `A-Z a-z 0-9 _ -`) and
sends it back in `X-Telegram-Bot-Api-Secret-Token` on every delivery
(https://core.telegram.org/bots/api#setwebhook), so that header *is* the proof: it is compared with the
receiver's secret in constant time (401 otherwise) before the body is read. The receiver is analytics'
`WebhookReceiver` (token in the URL, encrypted secret), so the same admin page opens, rotates and lists
Telegram's receivers and Fanvue's.

A delivery is stored once, keyed on its `update_id` (`analytics.ingest.accept_event`), and answered 200
at once; the worker processes it (`inbox.telegram_updates`). Telegram re-sends an update until it gets a
2xx, so a redelivery is answered 200 and stores nothing.
"""

from __future__ import annotations

import hmac
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.actors import Actor
from analytics import ingest
from analytics.models import WebhookReceiver
from inbox.channels.base import ConnectorError
from inbox.channels.telegram import TelegramChannel
from scheduling.services import account_ref

UPDATE_KIND = "telegram.update"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 — a header name, not a secret
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest, token: str) -> JsonResponse:
    receiver = (WebhookReceiver.objects.select_related("account")
                .filter(token=token, account__platform="telegram").first())
    if receiver is None:
        return _refuse(404, "Unknown receiver.")
    presented = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    expected = ingest.receiver_secret(receiver).encode()
    if not hmac.compare_digest(presented, expected):
        return _refuse(401, "The secret token does not match.")
    try:
        update = ingest.load_payload(request.body)
    except ValidationError as exc:
        return _refuse(400, exc.messages[0])
    update_id = update.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        return _refuse(400, "The update has no integer update_id.")
    event = ingest.accept_event(receiver, kind=UPDATE_KIND, event_key=f"update:{update_id}", payload=update)
    return JsonResponse({"status": "accepted" if event is not None else "duplicate"}, status=200)


def receiver_url(receiver: WebhookReceiver) -> str:
    """The public address Telegram posts to (`ATELIER_BASE_URL`; Telegram wants HTTPS on 443, 80, 88 or 8443)."""
    return settings.ATELIER_BASE_URL + reverse("inbox_telegram_webhook", kwargs={"token": receiver.token})


def register_telegram_webhook(receiver: WebhookReceiver, *, actor: Actor = None) -> str:
    """Tell Telegram to send this bot's updates to the receiver, with the receiver's secret as `secret_token`.

    Run it after opening the receiver and after every rotation of its secret: until then Telegram sends the
    old secret and every delivery is refused. Returns the URL registered; refusals are ValidationErrors in
    words (no bot token, a secret Telegram would not accept, Telegram's own answer). Audited without the
    secret or the URL's token.
    """
    account = receiver.account
    if account.platform != "telegram":
        raise ValidationError(f"{account} is not a Telegram bot.")
    secret = ingest.receiver_secret(receiver)
    if not SECRET_RE.match(secret):
        raise ValidationError("Telegram accepts a secret of 1–256 letters, digits, '_' and '-' only: rotate the "
                              "receiver's secret to a generated one, then register again.")
    url = receiver_url(receiver)
    try:
        TelegramChannel().set_webhook(account_ref(account, purpose="inbox: register the Telegram webhook",
                                                  actor=actor), url=url, secret_token=secret)
    except ConnectorError as exc:
        raise ValidationError(f"Telegram did not accept the webhook: {exc.message}") from exc
    audit.record("inbox.telegram_webhook_registered", receiver, actor=actor, changes={"account": account.pk})
    return url


urlpatterns = [
    path("telegram/<str:token>/", telegram_webhook, name="inbox_telegram_webhook"),
]
