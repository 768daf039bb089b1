"""The receiver admin, taught one more thing by the inbox: point a Telegram bot at its receiver.

Analytics owns the receiver page (open, rotate, list) and cannot import the inbox, which holds the Telegram
channel; so the inbox registers a subclass of that page in its place at start-up (`install`, from
`InboxConfig.ready`), adding the `setWebhook` action. Everything else on the page is analytics' own.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from unfold.decorators import action

from analytics.admin_ingest import WebhookReceiverAdmin
from analytics.models import WebhookReceiver
from core.admin import message_refusal
from inbox.webhooks import register_telegram_webhook


class ConfirmForm(forms.Form):
    pass


class ReceiverAdmin(WebhookReceiverAdmin):
    actions = [*WebhookReceiverAdmin.actions, "register_with_telegram"]
    actions_detail = [*(getattr(WebhookReceiverAdmin, "actions_detail", None) or []), "register_detail"]

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> list:
        available = super().get_actions_detail(request, object_id)
        if self._telegram_receiver(request, object_id) is None:
            return [a for a in available if not a.action_name.endswith("register_detail")]
        return available

    def _telegram_receiver(self, request: HttpRequest, object_id: Any) -> WebhookReceiver | None:
        if not str(object_id or "").isdigit():
            return None
        return (self.get_queryset(request).select_related("account")
                .filter(pk=int(object_id), account__platform="telegram").first())

    @action(description="Register with Telegram", url_path="register-telegram", permissions=["change"],
            icon="send")
    def register_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The button on a Telegram receiver's page: a confirmation, then `setWebhook` on POST."""
        receiver = self._telegram_receiver(request, object_id)
        if receiver is None:
            raise Http404("No Telegram receiver here.")
        change_url = reverse("admin:analytics_webhookreceiver_change", args=[receiver.pk])
        if request.method == "POST":
            try:
                url = register_telegram_webhook(receiver, actor=request.user)
            except ValidationError as exc:
                message_refusal(request, exc)
            else:
                messages.success(request, f"Telegram now sends {receiver.account}'s updates to {url}.")
            return HttpResponseRedirect(change_url)
        return render(request, "admin/action_form.html", {
            **self.admin_site.each_context(request), "title": "Register with Telegram",
            "opts": WebhookReceiver._meta, "items": [receiver], "form": ConfirmForm(), "submit_label": "Register",
            "intro": "Telegram will send this bot's updates to this receiver, with its secret as secret_token. "
                     "Do it again after rotating the secret: until then every delivery is refused.",
            "cancel_url": change_url})

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
