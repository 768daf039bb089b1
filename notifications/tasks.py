"""Delivery of notifications: thin tasks over `notifications.services`."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from notifications import services


@shared_task(name="notifications.tasks.deliver_notification", ignore_result=True, acks_late=True,
             autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=900, retry_jitter=True, max_retries=5,
             soft_time_limit=60, time_limit=90)
def deliver_notification(notification_id: int) -> dict[str, Any]:
    """Email the people in charge and create the webhook deliveries. Retried only when the mail
    server could not be reached (SMTP errors are OSErrors); the email is claimed, so never sent twice."""
    return services.fan_out(notification_id)


@shared_task(name="notifications.tasks.deliver_webhook", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=30, time_limit=45)
def deliver_webhook(delivery_id: int) -> str:
    """Never retried by Celery: the next attempt's time lives in the row and the sweep sends it."""
    return services.deliver(delivery_id)


@shared_task(name="notifications.tasks.retry_due_webhooks", ignore_result=True, expires=55)
def retry_due_webhooks() -> int:
    """Every minute: queue each pending delivery whose next attempt is due."""
    ids = services.due_delivery_ids()
    services.queue_deliveries(ids)
    return len(ids)
