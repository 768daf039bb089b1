"""The vault: assets, their per-platform renditions, and collections (folders and sellable packs).

An asset's bytes are stored once per creator (sha256); its status walks a review workflow that
publishing depends on, and its depicted performers tie it to compliance records.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.models import Creator
from compliance.models import Performer


class Tag(models.Model):
    tenant_field = None  # shared vocabulary; assets carry the tenancy
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def asset_upload_to(asset: Asset, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"assets/{asset.creator_id}/{asset.sha256[:2]}/{asset.sha256}.{ext}"


def rendition_upload_to(rendition: Rendition, filename: str) -> str:
    asset = rendition.asset
    return f"renditions/{asset.creator_id}/{asset.sha256[:2]}/{asset.sha256}-{filename}"


class Asset(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"

    class Rating(models.TextChoices):
        SFW = "sfw", "SFW"
        SUGGESTIVE = "suggestive", "Suggestive"
        EXPLICIT = "explicit", "Explicit"

    class Origin(models.TextChoices):
        UPLOAD = "upload", "Upload"
        AI = "ai", "AI-generated"
        EDIT = "edit", "AI edit of an upload"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ARCHIVED = "archived", "Archived"

    class Processing(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # The one place that says which status may follow which.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.DRAFT: frozenset({Status.IN_REVIEW, Status.ARCHIVED}),
        Status.IN_REVIEW: frozenset({Status.APPROVED, Status.REJECTED, Status.DRAFT}),
        Status.APPROVED: frozenset({Status.ARCHIVED, Status.DRAFT}),
        Status.REJECTED: frozenset({Status.DRAFT, Status.ARCHIVED}),
        Status.ARCHIVED: frozenset({Status.DRAFT}),
    }

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="assets")
    file = models.FileField(upload_to=asset_upload_to, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    mime = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    codecs = models.JSONField(default=dict, blank=True)
    rating = models.CharField(max_length=16, choices=Rating.choices, default=Rating.SFW)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.UPLOAD)
    ai_marker = models.CharField(max_length=100, blank=True,
                                 help_text="C2PA / IPTC marker found in the uploaded bytes, if any.")
    disclosure_label = models.CharField(max_length=100, blank=True,
                                        help_text="The AI disclosure shown with this asset (e.g. #AI).")
    provenance_present = models.BooleanField(default=False,
                                             help_text="A machine-readable provenance manifest is embedded.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets")
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    performers = models.ManyToManyField(Performer, blank=True, related_name="assets")
    production_date = models.DateField(null=True, blank=True)
    no_real_person_attested = models.BooleanField(
        default=False, help_text="For synthetic media: nobody real is depicted (attested by the uploader).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(blank=True)
    processing = models.CharField(max_length=8, choices=Processing.choices, default=Processing.PENDING)
    processing_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["creator", "sha256"], name="asset_unique_per_creator")]
        indexes = [
            models.Index(fields=["creator", "status", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.title or self.original_name or f"Asset #{self.pk}"

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    def clean(self) -> None:
        if self.no_real_person_attested and self.origin == self.Origin.UPLOAD:
            raise ValidationError({"no_real_person_attested": "Only synthetic media can attest that no real "
                                                              "person is depicted."})


class Rendition(models.Model):
    tenant_field = "asset__creator"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="renditions")
    preset = models.CharField(max_length=40)
    file = models.FileField(upload_to=rendition_upload_to, max_length=255)
    mime = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["preset"]
        constraints = [models.UniqueConstraint(fields=["asset", "preset"], name="rendition_unique_preset")]

    def __str__(self) -> str:
        return f"{self.asset} — {self.preset}"


class Watermark(models.Model):
    """Optional per-creator watermark applied to renditions (not to the original)."""

    class Position(models.TextChoices):
        TOP_LEFT = "top_left", "Top left"
        TOP_RIGHT = "top_right", "Top right"
        BOTTOM_LEFT = "bottom_left", "Bottom left"
        BOTTOM_RIGHT = "bottom_right", "Bottom right"
        CENTER = "center", "Centre"

    tenant_field = "creator"
    creator = models.OneToOneField(Creator, on_delete=models.CASCADE, related_name="watermark")
    enabled = models.BooleanField(default=True)
    text = models.CharField(max_length=80, blank=True)
    logo = models.ImageField(upload_to="watermarks/", blank=True)
    position = models.CharField(max_length=16, choices=Position.choices, default=Position.BOTTOM_RIGHT)
    opacity = models.FloatField(default=0.5)
    scale = models.FloatField(default=0.15, help_text="Width relative to the image, 0–1.")

    def __str__(self) -> str:
        return f"Watermark of {self.creator}"

    def clean(self) -> None:
        if not self.text and not self.logo:
            raise ValidationError("Give a text or a logo.")
        if not 0 < self.opacity <= 1 or not 0 < self.scale <= 1:
            raise ValidationError("Opacity and scale are between 0 and 1.")


class Collection(models.Model):
    class Kind(models.TextChoices):
        FOLDER = "folder", "Vault folder"
        PACK = "pack", "Sellable pack"

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="collections")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FOLDER)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price_minor = models.PositiveIntegerField(null=True, blank=True, help_text="Price in minor units (cents).")
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217, e.g. USD.")
    cover = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assets = models.ManyToManyField(Asset, through="CollectionItem", related_name="collections")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.kind == self.Kind.PACK and (self.price_minor is None or not self.currency):
            raise ValidationError("A sellable pack needs a price and a currency.")
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper()):
            raise ValidationError({"currency": "Use a three-letter ISO 4217 code such as USD or EUR."})
        if self.cover_id and self.cover.creator_id != self.creator_id:
            raise ValidationError({"cover": "The cover must be one of this creator's assets."})


class CollectionItem(models.Model):
    tenant_field = "collection__creator"
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["collection", "asset"], name="collection_item_unique")]

    def __str__(self) -> str:
        return f"{self.collection} #{self.position}"
