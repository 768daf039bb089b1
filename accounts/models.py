"""People, creators and who may touch which creator.

Tenancy rests on two facts kept here: a creator-owned model names the path to its creator
(`tenant_field`), and a user reaches a creator only through a `Membership`.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris).")


class User(AbstractUser):
    """Staff account. Custom from the first migration so later fields need no swap."""

    tenant_field = None  # not creator-owned: only the owner manages users

    # The zone this person reads times in (admin pages activate it); blank: the agency's.
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone],
                                help_text="IANA name, e.g. Europe/Lisbon. Blank: the agency's timezone.")

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Creator(models.Model):
    """The persona an audience sees. Not necessarily a person: see compliance.Performer."""

    class Kind(models.TextChoices):
        HUMAN = "human", "Human performer"
        AI_PERSONA = "ai_persona", "AI persona"
        HYBRID = "hybrid", "Hybrid (AI with a real likeness)"

    class Status(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    tenant_field = "pk"
    # Agency policies: set by the owner alone (accounts.services.save_creator refuses anyone else).
    # Four eyes guards approvals; the kind decides whether a real person's likeness consent is needed.
    POLICY_FIELDS = ("kind", "four_eyes_review")

    stage_name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HUMAN)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ONBOARDING)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    language = models.CharField(max_length=16, default="en", help_text="BCP 47 tag, e.g. en, fr, pt-BR.")
    voice_notes = models.TextField(blank=True, help_text="How this persona writes and speaks.")
    four_eyes_review = models.BooleanField(
        default=True, help_text="An editor may not approve their own uploads for this creator."
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["stage_name"]

    def __str__(self) -> str:
        return self.stage_name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    """A member's role on one creator. Each maps to a Django group of the same label."""

    MANAGER = "manager", "Account manager"
    EDITOR = "editor", "Editor"
    CHATTER = "chatter", "Chatter"
    COMPLIANCE = "compliance", "Compliance officer"
    ANALYST = "analyst", "Analyst"


class Membership(models.Model):
    tenant_field = "creator"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["creator__stage_name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "creator", "role"], name="membership_unique_role"),
        ]
        indexes = [models.Index(fields=["user", "creator"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.creator}"


class ApiKey(models.Model):
    """A credential for internal integrations: shown once, stored as a hash, scoped to creators."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    tenant_field = None  # scoped through `creators`, listed per owner

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    creators = models.ManyToManyField(Creator, related_name="api_keys", blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        current = now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > current)


class AuditEventQuerySet(models.QuerySet):
    """Append-only at the ORM level; PostgreSQL also enforces it with a trigger."""

    def update(self, **kwargs):  # noqa: ANN201
        raise PermissionError("Audit events are append-only.")

    def delete(self):  # noqa: ANN201
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Who did what to which object, when and from where — never edited, never deleted.

    Foreign keys carry no database constraint so that the record outlives what it speaks of
    (a deleted user or creator keeps its id here). No personal data goes in `changes`: ids,
    field names and non-identifying values only.
    """

    tenant_field = "creator"

    created_at = models.DateTimeField(default=now, editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="+",
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True, help_text="'system', a task name…")
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    creator = models.ForeignKey(
        Creator, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["creator", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN201
        raise PermissionError("Audit events are append-only.")
