"""Notifications' statuses as sentences: what became of a webhook delivery."""

from __future__ import annotations

from core import wording
from notifications.models import WebhookDelivery

DELIVERY_STATUS = wording.register(WebhookDelivery.Status, {
    "pending": "Waiting to be sent (or to be tried again)",
    "delivered": "Delivered: the receiver answered 2xx",
    "failed": "Failed: the receiver never accepted it, no more tries",
})
