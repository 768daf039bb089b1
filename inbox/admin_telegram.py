"""The receiver admin, taught one more thing by the inbox: point a Telegram bot at its receiver.

Analytics owns the receiver page (open, rotate, list) and cannot import the inbox, which holds the Telegram
channel; so the inbox registers a subclass of that page in its place at start-up (`install`, from
`InboxConfig.ready`), adding the `setWebhook` action. Everything else on the page is analytics' own.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.decorators import action

from analytics.admin_ingest import WebhookReceiverAdmin
from analytics.models import WebhookReceiver
from core.admin import message_refusal
from inbox.webhooks import register_telegram_webhook


class ReceiverAdmin(WebhookReceiverAdmin):
    actions = [*WebhookReceiverAdmin.actions, "register_with_telegram"]

    @action(description="Point the Telegram bot at this receiver (setWebhook; again after a rotation)",
            permissions=["change"])
    def register_with_telegram(self, request: HttpRequest, queryset: QuerySet) -> None:
        for receiver in queryset.select_related("account"):
            if receiver.account.platform != "telegram":
                messages.info(request, f"{receiver.account} is not a Telegram bot: left as it is.")
                continue
            try:
                url = register_telegram_webhook(receiver, actor=request.user)
            except ValidationError as exc:
                message_refusal(request, exc, about=str(receiver.account))
                continue
            messages.success(request, f"Telegram now sends {receiver.account}'s updates to {url}.")


def install(site: admin.AdminSite | None = None) -> None:
    """Put `ReceiverAdmin` in place of analytics' receiver page (after the admin's autodiscovery)."""
    site = site or admin.site
    if isinstance(site._registry.get(WebhookReceiver), ReceiverAdmin):
        return
    if site.is_registered(WebhookReceiver):
        site.unregister(WebhookReceiver)
    site.register(WebhookReceiver, ReceiverAdmin)
