"""The vault: assets, their per-platform renditions, and collections (folders and sellable packs).

An asset's bytes are stored once per creator (sha256); its status walks a review workflow that
publishing depends on, and its depicted performers tie it to compliance records.
"""

from __future__ import annotations

import re
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.models import Creator
from compliance.models import Performer
from core import platforms
from core.files import private_storage


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

    # The registry's ratings as choices: `Asset.Rating.SFW == "sfw"`, labelled as everywhere else.
    # (django-stubs does not declare Enum's functional API for TextChoices, hence the ignore.)
    Rating = models.TextChoices("Rating", [(r.name, (r.value, r.label)) for r in platforms.Rating])  # type: ignore[call-overload]

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
    # The original never sits behind a public URL: private storage, reached through a tenancy-checked
    # view that hands out a short-lived signed link (content.views_files).
    file = models.FileField(upload_to=asset_upload_to, max_length=255, storage=private_storage)
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
    # When the worker last started processing: the reaper fails a run older than the time limit.
    processing_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["creator", "sha256"], name="asset_unique_per_creator")]
        indexes = [
            models.Index(fields=["creator", "status", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["processing_started_at"], name="asset_processing_running",
                         condition=models.Q(processing="running")),
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


# --- AI studio -----------------------------------------------------------------------------------

# Platforms caption templates and hashtag sets may be specific to: those captions are suggested for.
CAPTION_PLATFORMS = platforms.choices(platforms.caption_platforms())


class GenerationBackend(models.Model):
    """One model endpoint the studio may call. Agency-wide: creators share the agency's GPUs and keys.

    Rows come from admin, or from environment variables (``managed_by_env``), which win on every start so
    that a deployment's configuration cannot drift from what its operators set.
    """

    class Kind(models.TextChoices):
        COMFYUI = "comfyui", "ComfyUI"
        A1111 = "a1111", "Automatic1111 / Forge"
        OPENAI = "openai", "OpenAI-compatible (Ollama, vLLM, llama.cpp, OpenAI)"

    class Purpose(models.TextChoices):
        IMAGES = "images", "Images"
        TEXT = "text", "Text (captions, hashtags)"

    tenant_field = None

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.IMAGES)
    base_url = models.CharField(max_length=300, help_text="e.g. http://127.0.0.1:8188 for ComfyUI, "
                                                          "http://127.0.0.1:11434/v1 for Ollama.")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    model = models.CharField(max_length=200, blank=True, help_text="Checkpoint or model name.")
    options = models.JSONField(default=dict, blank=True,
                               help_text="Backend-specific settings, e.g. the ComfyUI workflow (API format).")
    timeout_seconds = models.PositiveIntegerField(default=300)
    max_concurrency = models.PositiveSmallIntegerField(
        default=1, help_text="Jobs run at once on this backend; others wait in the queue.")
    cost_per_image_minor = models.PositiveIntegerField(default=0, help_text="Minor units (cents) per image.")
    cost_per_mtok_in_minor = models.PositiveIntegerField(default=0,
                                                         help_text="Minor units per million input tokens.")
    cost_per_mtok_out_minor = models.PositiveIntegerField(default=0,
                                                          help_text="Minor units per million output tokens.")
    cost_per_hour_minor = models.PositiveIntegerField(default=0,
                                                      help_text="Minor units per hour of generation (own GPUs).")
    currency = models.CharField(max_length=3, default="USD")
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, help_text="Used when a job or template names no backend.")
    managed_by_env = models.BooleanField(default=False, editable=False)
    last_health_ok = models.BooleanField(null=True, editable=False)
    last_health_detail = models.CharField(max_length=300, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["purpose", "name"]
        constraints = [models.UniqueConstraint(fields=["purpose"], condition=models.Q(is_default=True),
                                               name="generation_backend_one_default_per_purpose")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.purpose == self.Purpose.TEXT and self.kind != self.Kind.OPENAI:
            raise ValidationError({"kind": "Only an OpenAI-compatible endpoint can write text."})
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper()):
            raise ValidationError({"currency": "Use a three-letter ISO 4217 code such as USD or EUR."})
        if not isinstance(self.options, dict):
            raise ValidationError({"options": "Options are a JSON object."})


class PromptCategory(models.Model):
    """The agency's own way of sorting prompts (teasers, lifestyle, PPV sets…)."""

    tenant_field = None
    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "prompt categories"

    def __str__(self) -> str:
        return self.name


class PromptTemplate(models.Model):
    """A persona's reusable prompt: what to draw, in which style, what to avoid, how to write about it.

    ``prompt`` may hold ``{placeholders}`` filled per job; the rating says where the results may go
    (SFW teasers for social networks, more for subscription platforms).
    """

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, on_delete=models.CASCADE, related_name="prompt_templates")
    category = models.ForeignKey(PromptCategory, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="templates")
    name = models.CharField(max_length=120)
    rating = models.CharField(max_length=16, choices=Asset.Rating.choices, default=Asset.Rating.SFW)
    prompt = models.TextField(help_text="What to generate; {placeholders} are filled when a job is queued.")
    style = models.TextField(blank=True, help_text="Appended to every prompt: lighting, lens, look.")
    negative_prompt = models.TextField(blank=True)
    voice_guide = models.TextField(blank=True, help_text="How captions for these images should sound.")
    width = models.PositiveIntegerField(default=1024)
    height = models.PositiveIntegerField(default=1024)
    steps = models.PositiveIntegerField(default=30)
    count = models.PositiveSmallIntegerField(default=1)
    backend = models.ForeignKey(GenerationBackend, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="templates", limit_choices_to={"purpose": "images"})
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["creator", "name"]
        constraints = [models.UniqueConstraint(fields=["creator", "name"], name="prompt_template_unique_name")]

    def __str__(self) -> str:
        return self.name

    def placeholders(self) -> list[str]:
        found = [f for _, f, _, _ in string.Formatter().parse(self.prompt) if f]
        return list(dict.fromkeys(found))

    def clean(self) -> None:
        try:
            list(string.Formatter().parse(self.prompt))
        except ValueError as exc:
            raise ValidationError({"prompt": f"The prompt's placeholders are malformed: {exc}."}) from exc
        if any(not f.isidentifier() for f in self.placeholders()):
            raise ValidationError({"prompt": "Placeholders are simple names such as {outfit} or {place}."})
        if not (64 <= self.width <= 4096 and 64 <= self.height <= 4096):
            raise ValidationError("Width and height are between 64 and 4096 pixels.")
        if not 1 <= self.steps <= 200 or not 1 <= self.count <= 16:
            raise ValidationError("Steps are between 1 and 200, count between 1 and 16.")


class GenerationJob(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Images"
        CAPTION = "caption", "Captions"
        HASHTAGS = "hashtags", "Hashtags"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
        Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
        Status.SUCCEEDED: frozenset(),
        Status.FAILED: frozenset(),
        Status.CANCELLED: frozenset(),
    }
    FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

    tenant_field = "creator"

    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="generation_jobs")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    backend = models.ForeignKey(GenerationBackend, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="jobs")
    template = models.ForeignKey(PromptTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="jobs")
    prompt = models.TextField(help_text="The final prompt, placeholders filled and style appended.")
    variables = models.JSONField(default=dict, blank=True)
    negative_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True,
                              help_text="width, height, steps, seed, count; platform and language for text.")
    rating = models.CharField(max_length=16, choices=Asset.Rating.choices, default=Asset.Rating.SFW)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    path = models.CharField(max_length=10, blank=True, help_text="Text jobs: 'model' or 'templates'.")
    texts = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    assets = models.ManyToManyField(Asset, blank=True, related_name="generation_jobs")
    error = models.TextField(blank=True)
    seed_used = models.BigIntegerField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    cost_minor = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["creator", "-created_at"]), models.Index(fields=["status", "created_at"]),
                   models.Index(fields=["backend", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job #{self.pk}"

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class GenerationUsage(models.Model):
    """What one backend call consumed and cost; the monthly totals are sums over these rows."""

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, on_delete=models.PROTECT, related_name="generation_usage")
    backend = models.ForeignKey(GenerationBackend, null=True, on_delete=models.SET_NULL, related_name="usage")
    backend_name = models.CharField(max_length=80, help_text="Kept when the backend row is deleted.")
    job = models.ForeignKey(GenerationJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    kind = models.CharField(max_length=8, choices=GenerationJob.Kind.choices)
    images = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    cost_minor = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "generation usage"
        verbose_name_plural = "generation usage"
        indexes = [models.Index(fields=["creator", "at"]), models.Index(fields=["backend", "at"])]

    def __str__(self) -> str:
        return f"{self.backend_name} · {self.get_kind_display()} · {self.at:%Y-%m-%d}"


class CaptionTemplate(models.Model):
    """An agency's own caption pattern for the offline path; ``{topic}``, ``{cta}``, ``{name}``… filled in.

    No creator means every creator may use it; no platform means every platform.
    """

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="caption_templates")
    platform = models.CharField(max_length=16, choices=CAPTION_PLATFORMS, blank=True)
    language = models.CharField(max_length=16, default="en")
    text = models.TextField()
    tones = models.CharField(max_length=200, blank=True, help_text="Comma-separated: playful, warm, bold, elegant.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["language", "platform", "id"]

    def __str__(self) -> str:
        return self.text[:60]

    def clean(self) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None]
        except ValueError as exc:
            raise ValidationError({"text": f"The placeholders are malformed: {exc}."}) from exc
        if any(not f.isidentifier() for f in fields):
            raise ValidationError({"text": "Placeholders are simple names such as {topic} or {cta}."})


class HashtagSet(models.Model):
    """Hashtags used when a topic matches one of ``match`` (or always, when ``match`` is empty)."""

    tenant_field = "creator"
    creator = models.ForeignKey(Creator, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="hashtag_sets")
    name = models.CharField(max_length=80)
    platform = models.CharField(max_length=16, choices=CAPTION_PLATFORMS, blank=True)
    language = models.CharField(max_length=16, default="en")
    match = models.CharField(max_length=300, blank=True, help_text="Comma-separated topic words; empty = always.")
    tags = models.TextField(help_text="Hashtags separated by spaces or commas, with or without #.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def tag_list(self) -> list[str]:
        return list(dict.fromkeys(t.lstrip("#") for t in re.split(r"[\s,]+", self.tags) if t.strip("#")))

    def match_list(self) -> list[str]:
        return [m.strip() for m in self.match.split(",") if m.strip()]

    def clean(self) -> None:
        bad = [t for t in self.tag_list() if not re.fullmatch(r"[^\W_]\w{0,99}", t)]
        if bad:
            raise ValidationError({"tags": f"Not hashtags: {', '.join(bad[:5])}."})
