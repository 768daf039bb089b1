"""Real people and what they agreed to: performers, identity checks, consents, takedowns.

Record-keeping rules shape these models: history is never edited (a new consent is a new row;
revocation is the only change a consent accepts), every name a performer used stays findable,
and documents are stored encrypted in a storage that has no public URL.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.models import Creator
from compliance.gate import Use, age_on
from core.platforms import PLATFORMS, RATING_CHOICES, choices

# Every platform a consent may name, alphabetically (the registry's order is for publishing lists).
PLATFORM_CHOICES = sorted(choices(PLATFORMS.values()))
USE_CHOICES = [(u.value, u.value.replace("_", " ").capitalize()) for u in Use]


class EncryptedFile(models.Model):
    """A document stored as ciphertext in the private storage. Read only through services."""

    tenant_field = None
    storage_name = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(help_text="Plaintext size in bytes.")
    sha256 = models.CharField(max_length=64, help_text="Digest of the plaintext, to prove integrity later.")
    key_id = models.CharField(max_length=12, help_text="Fingerprint of the key that encrypted it.")
    created_at = models.DateTimeField(default=now, editable=False)

    def __str__(self) -> str:
        return f"document #{self.pk} ({self.content_type}, {self.size} bytes)"


class Performer(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ERASED = "erased", "Erased (data-subject request)"

    tenant_field = "creator_links__creator"

    legal_name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, e.g. FR.")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    creators = models.ManyToManyField(
        Creator, through="CreatorPerformer", related_name="performers", blank=True
    )
    created_at = models.DateTimeField(default=now, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    erasure_reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name

    def age_on(self, day: date) -> int | None:
        return age_on(self.date_of_birth, day) if self.date_of_birth else None


class PerformerName(models.Model):
    """Every name a performer is or was known by: records must be retrievable by any of them."""

    class Kind(models.TextChoices):
        LEGAL = "legal", "Legal name"
        FORMER_LEGAL = "former_legal", "Former legal name"
        STAGE = "stage", "Stage name"
        ALIAS = "alias", "Alias / nickname"

    tenant_field = "performer__creator_links__creator"
    performer = models.ForeignKey(Performer, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ALIAS)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["performer", "name", "kind"], name="performer_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class CreatorPerformer(models.Model):
    class Relation(models.TextChoices):
        SELF = "self", "Is the performer behind this creator"
        LIKENESS = "likeness", "Likeness source of this (hybrid) persona"
        COLLABORATOR = "collaborator", "Appears in this creator's content"

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="performer_links")
    performer = models.ForeignKey(Performer, on_delete=models.CASCADE, related_name="creator_links")
    relation = models.CharField(max_length=16, choices=Relation.choices, default=Relation.SELF)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "performer"], name="creator_performer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.performer} — {self.get_relation_display()} {self.creator}"


class IdentityVerification(models.Model):
    class DocumentKind(models.TextChoices):
        # Bills, bank statements and the like prove an address, not an identity or an age.
        PASSPORT = "passport", "Passport"
        NATIONAL_ID = "national_id", "National identity card"
        DRIVING_LICENCE = "driving_licence", "Driving licence"

    class Method(models.TextChoices):
        MANUAL = "manual", "Manual inspection"
        PROVIDER = "provider", "Verification provider"

    class Provider(models.TextChoices):
        NONE = "", "—"
        YOTI = "yoti", "Yoti"
        VERIFF = "veriff", "Veriff"
        IDENFY = "idenfy", "iDenfy"
        OTHER = "other", "Other"

    class Result(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        # The document behind an approval lapsed: recorded as a new check, so the latest word says so.
        EXPIRED = "expired", "Expired (identity document lapsed)"

    # The latest check with one of these results decides whether the performer is verified; a
    # pending check decides nothing yet.
    DECIDED = (Result.APPROVED, Result.REJECTED, Result.EXPIRED)

    tenant_field = "performer__creator_links__creator"

    performer = models.ForeignKey(Performer, on_delete=models.PROTECT, related_name="verifications")
    document_kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    document_number_encrypted = models.TextField(blank=True, editable=False)
    document_country = models.CharField(max_length=2, blank=True)
    document_expiry = models.DateField(
        null=True, blank=True, help_text="Last day the identity document is valid: the check lapses after it.")
    front = models.ForeignKey(
        EncryptedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    back = models.ForeignKey(EncryptedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    selfie = models.ForeignKey(
        EncryptedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.MANUAL)
    provider = models.CharField(max_length=16, choices=Provider.choices, blank=True, default="")
    provider_session_id = models.CharField(max_length=200, blank=True)
    provider_decision = models.CharField(max_length=100, blank=True)
    provider_reason = models.TextField(blank=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.PENDING)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_document_kind_display()} check of {self.performer} — {self.get_result_display()}"

    def clean(self) -> None:
        if self.method == self.Method.PROVIDER and not self.provider:
            raise ValidationError({"provider": "Name the provider that ran this check."})
        if self.result == self.Result.APPROVED and self.method == self.Method.MANUAL and not self.front_id:
            raise ValidationError({"result": "A manual approval needs at least the document's front image."})


class ConsentRecordQuerySet(models.QuerySet):
    """Bulk updates bypass `save()`: hold them to the same rule. Besides revocation, only erasure
    (compliance.records) may change a consent, and only by dropping its signed release file."""

    def update(self, **kwargs):  # noqa: ANN201
        other = set(kwargs) - ConsentRecord.REVOCATION_FIELDS
        if other - {"release"} or kwargs.get("release") is not None:
            raise PermissionError("A consent is never edited: record a new one, or revoke this one.")
        return super().update(**kwargs)


class ConsentRecord(models.Model):
    """What a performer agreed to. Immutable once saved, except for its revocation."""

    tenant_field = "performer__creator_links__creator"
    REVOCATION_FIELDS = frozenset({"revoked_at", "revoked_reason", "revoked_by"})

    performer = models.ForeignKey(Performer, on_delete=models.PROTECT, related_name="consents")
    platforms = models.JSONField(help_text="Platform codes this consent covers.")
    max_rating = models.CharField(max_length=16, choices=RATING_CHOICES)
    uses = models.JSONField(help_text="Uses this consent covers.")
    release = models.ForeignKey(
        EncryptedFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_reason = models.TextField(blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["valid_until"], name="consent_valid_until")]
        # Seeing that a release exists and what it covers is `view`; reading the signed document is
        # this, which accounts/roles.py gives compliance officers alone (and the owner has every permission).
        permissions = [("open_release_consentrecord", "Can open the signed release of a consent")]

    def __str__(self) -> str:
        return f"Consent #{self.pk} of {self.performer} ({self.max_rating}, {', '.join(self.platforms)})"

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if not self._state.adding and (
            update_fields is None or not set(update_fields) <= self.REVOCATION_FIELDS
        ):
            raise PermissionError("A consent is never edited: record a new one, or revoke this one.")
        super().save(*args, **kwargs)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ConsentNotice(models.Model):
    """Warnings and expiry signals already sent for a consent: the daily task sends each once."""

    tenant_field = "consent__performer__creator_links__creator"
    consent = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16)  # "warn_30", "warn_7", "warn_1", "expired"
    sent_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consent", "kind"], name="consent_notice_once")]

    def __str__(self) -> str:
        return f"{self.kind} for consent #{self.consent_id}"


class VerificationNotice(models.Model):
    """Warnings and the lapse already handled for an approved identity check whose document expires:
    the daily task acts on each once (the same pattern as ConsentNotice)."""

    tenant_field = "verification__performer__creator_links__creator"
    verification = models.ForeignKey(IdentityVerification, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16)  # "warn_30", "warn_7", "warn_1", "expired"
    sent_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["verification", "kind"], name="verification_notice_once")]

    def __str__(self) -> str:
        return f"{self.kind} for identity check #{self.verification_id}"


class TakedownRequest(models.Model):
    class Kind(models.TextChoices):
        TAKE_IT_DOWN = "take_it_down", "Non-consensual intimate imagery (TAKE IT DOWN Act, 48 h)"
        CARD_NETWORK = "card_network", "Complaint under card-network rules (7 business days)"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        REMOVED = "removed", "Content removed"
        REJECTED = "rejected", "Rejected (not a valid request)"
        CLOSED = "closed", "Closed"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)
    tenant_field = "creator"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TAKE_IT_DOWN)
    creator = models.ForeignKey(
        Creator, null=True, blank=True, on_delete=models.PROTECT, related_name="takedowns"
    )
    performers = models.ManyToManyField(Performer, blank=True, related_name="takedowns")
    requester_name = models.CharField(max_length=200)
    requester_contact = models.CharField(max_length=300, help_text="Email, phone or postal address.")
    signature = models.CharField(
        max_length=200, help_text="Physical or electronic signature of the requester."
    )
    content_description = models.TextField(help_text="What the content is, enough to find it.")
    content_locations = models.TextField(help_text="Where it is: URLs or post ids, one per line.")
    non_consent_statement = models.TextField(
        blank=True,
        help_text="The requester's statement of good-faith belief that the depiction is not consensual.",
    )
    received_at = models.DateTimeField(default=now)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(status__in=["open", "in_progress"]),
                name="takedown_open_due",
            )
        ]

    def __str__(self) -> str:
        return f"Takedown #{self.pk} ({self.get_kind_display()}) due {self.due_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class TakedownAction(models.Model):
    tenant_field = "request__creator"
    request = models.ForeignKey(TakedownRequest, on_delete=models.CASCADE, related_name="actions")
    at = models.DateTimeField(default=now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.TextField()

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.description[:60]}"


class TakedownTarget(models.Model):
    """One thing a takedown request names besides performers: an asset, a publication, or a URL.

    Assets and publications live in apps above compliance, which never imports them; a target holds
    their id and the label they had when named (for the board and the record), and the app that owns
    them resolves and checks them (`compliance.targets`). A URL that matched publications is stored
    once as the URL and once per publication it resolved to (`url` then says where it came from).
    """

    class Kind(models.TextChoices):
        ASSET = "asset", "Asset"
        PUBLICATION = "publication", "Publication"
        URL = "url", "URL"

    tenant_field = "request__creator"
    request = models.ForeignKey(TakedownRequest, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    url = models.CharField(max_length=500, blank=True)
    label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "object_id", "url"]
        indexes = [models.Index(fields=["kind", "object_id"], name="takedown_target_object")]
        constraints = [
            models.UniqueConstraint(fields=["request", "kind", "object_id", "url"], name="takedown_target_once",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        if self.label:
            return self.label
        return self.url if self.kind == self.Kind.URL else f"{self.get_kind_display()} #{self.object_id}"


class BlockedTerm(models.Model):
    """Agency additions to the built-in hard-block list (which no setting can shrink)."""

    tenant_field = None
    term = models.CharField(max_length=100, unique=True)
    note = models.CharField(max_length=200, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term
