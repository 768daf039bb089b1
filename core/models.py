"""Shared infrastructure rows that know no domain."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, answered again to retries of that request.

    One row per principal and key. While the first request runs the row is `in_flight` (a lease that
    ends at `expires_at`, so a crashed request frees its key); once answered it is `done` and holds the
    answer, encrypted (it may carry a secret shown once), until `expires_at`.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Answered"

    principal = models.CharField(max_length=64, help_text="Who sent it: an API key or a signed-in user.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path, content type and body.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.get_state_display()})"
