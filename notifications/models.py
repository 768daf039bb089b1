"""What staff must hear about (publish failures, unknown outcomes, re-auth, missed posts, alerts)
and where it goes: the admin dashboard, the creator's managers by email, and signed webhooks.

Its own app because scheduling and analytics both raise notifications and neither should own the
other's delivery plumbing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.models import Creator
from core import outbound


class Notification(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="notifications", help_text="Empty for agency-wide notices.")
    kind = models.CharField(max_length=60, help_text="e.g. publication.failed, account.needs_reauth")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.WARNING)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True, help_text="Admin path to the object concerned.")
    subject = models.CharField(max_length=100, blank=True, help_text="app.model:pk of the object concerned.")
    dedupe_key = models.CharField(max_length=200, blank=True,
                                  help_text="Same key while unresolved → no second notice for one condition.")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["creator", "-created_at"]),
                   models.Index(fields=["-created_at"], condition=models.Q(resolved_at__isnull=True),
                                name="notification_open")]
        constraints = [models.UniqueConstraint(
            fields=["dedupe_key"], condition=models.Q(resolved_at__isnull=True) & ~models.Q(dedupe_key=""),
            name="notification_open_dedupe")]

    def __str__(self) -> str:
        return self.title


class WebhookEndpoint(models.Model):
    """An internal endpoint that receives notifications as JSON, signed with HMAC-SHA256."""

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="webhook_endpoints",
                                help_text="Only this creator's events; empty = every creator (owners only).")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(default=list, blank=True, help_text="Kinds to send; empty = all.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A receiver must be one the server may call (core.outbound): refused here with the reason,
        so admin and API show it on the form; the delivery checks again, since DNS can change."""
        if self.url:
            try:
                outbound.validate_url(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from exc


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    tenant_field = "endpoint__creator"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.ForeignKey(Notification, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="deliveries")
    event = models.CharField(max_length=60)
    event_id = models.UUIDField(help_text="Receivers deduplicate on this; it is the same on every retry.")
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"),
                                name="webhook_delivery_due")]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class NotificationReceipt(models.Model):
    """One person's copy of a notice: who was told, whether they have read it, and whether their
    email went out. The bell counts a person's unread receipts; a notice resolved for everyone is
    still in each person's list until they read it."""

    tenant_field = "notification__creator"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_receipts")
    created_at = models.DateTimeField(default=now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]),
                   models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="receipt_unread")]
        constraints = [models.UniqueConstraint(fields=["notification", "user"], name="receipt_once_per_person")]

    def __str__(self) -> str:
        return f"{self.notification} → {self.user}"
