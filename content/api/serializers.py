"""Serializers of the content API: assets, uploads and collections, and the AI studio's prompt
templates, backends (never their keys), jobs, captions and usage."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from content import views_files
from content.models import (
    CAPTION_PLATFORMS,
    Asset,
    Collection,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    PromptCategory,
    PromptTemplate,
    Rendition,
)
from core.api.fields import ModelSerializer


class RenditionSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Rendition
        fields = ["preset", "mime", "width", "height", "size_bytes", "url", "created_at"]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text=(
        "A signed link to the file that expires (SIGNED_MEDIA_URL_TTL_SECONDS); fetch it again for a new one.")))
    def get_url(self, obj: Rendition) -> str | None:
        if not obj.file.name:
            return None
        request = self.context.get("request")
        base = f"{request.scheme}://{request.get_host()}" if request is not None else settings.ATELIER_BASE_URL
        return views_files.rendition_link(obj, base=base)


class AssetSerializer(ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    performers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    renditions = RenditionSerializer(many=True, read_only=True)

    class Meta:
        model = Asset
        fields = ["id", "creator", "title", "notes", "original_name", "kind", "mime", "sha256", "size_bytes", "width",
                  "height", "duration_s", "codecs", "rating", "origin", "ai_marker", "disclosure_label",
                  "provenance_present", "tags", "performers", "production_date", "no_real_person_attested", "status",
                  "uploaded_by", "submitted_at", "reviewed_by", "reviewed_at", "review_reason", "processing",
                  "processing_error", "renditions", "created_at"]
        read_only_fields = fields


class UploadMetaSerializer(serializers.Serializer):
    """What an upload says about its file; the file itself is judged by `content.services.ingest`."""

    creator = serializers.IntegerField()
    rating = serializers.ChoiceField(choices=Asset.Rating.choices, default=Asset.Rating.SFW)
    origin = serializers.ChoiceField(choices=Asset.Origin.choices, default=Asset.Origin.UPLOAD)
    title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    performers = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    tags = serializers.ListField(child=serializers.CharField(max_length=60), required=False, default=list)
    production_date = serializers.DateField(required=False, allow_null=True, default=None)
    no_real_person_attested = serializers.BooleanField(required=False, default=False)


class UploadSerializer(UploadMetaSerializer):
    file = serializers.FileField()


class PresignSerializer(serializers.Serializer):
    creator = serializers.IntegerField()
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1)


class PresignedPostSerializer(serializers.Serializer):
    url = serializers.URLField()
    fields = serializers.DictField(child=serializers.CharField())
    key = serializers.CharField()
    expires_in = serializers.IntegerField()
    filename = serializers.CharField()


class ConfirmSerializer(UploadMetaSerializer):
    key = serializers.CharField(max_length=500)
    filename = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class UploadResultSerializer(serializers.Serializer):
    """An upload's answer: the asset, and whether these bytes were already in the creator's vault."""

    duplicate = serializers.BooleanField()
    message = serializers.CharField()
    asset = AssetSerializer()


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class CollectionSerializer(ModelSerializer):
    # Plain ids: the view checks them through tenancy, so an id of another creator and one that
    # does not exist get the same answer.
    creator = serializers.IntegerField(source="creator_id")
    cover = serializers.IntegerField(source="cover_id", required=False, allow_null=True)
    asset_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="The collection's assets, in order.")

    class Meta:
        model = Collection
        fields = ["id", "creator", "kind", "title", "description", "price_minor", "currency", "cover", "asset_ids",
                  "created_at"]
        read_only_fields = ["created_at"]

    def to_representation(self, instance: Collection) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["asset_ids"] = [item.asset_id for item in instance.items.all()]
        return data


# --- AI studio -----------------------------------------------------------------------------------------


class PromptCategorySerializer(ModelSerializer):
    class Meta:
        model = PromptCategory
        fields = ["id", "name", "description", "position"]
        read_only_fields = fields


class PromptTemplateSerializer(ModelSerializer):
    # Plain ids: the view checks them (tenancy for the creator, existence for the rest), so an id of
    # another creator and one that does not exist get the same answer.
    creator = serializers.IntegerField(source="creator_id")
    category = serializers.IntegerField(source="category_id", required=False, allow_null=True)
    backend = serializers.IntegerField(source="backend_id", required=False, allow_null=True,
                                       help_text="An image backend; empty means the default one.")
    placeholders = serializers.ListField(child=serializers.CharField(), read_only=True,
                                         help_text="The {names} a job must give values for.")

    class Meta:
        model = PromptTemplate
        fields = ["id", "creator", "category", "name", "rating", "prompt", "style", "negative_prompt", "voice_guide",
                  "width", "height", "steps", "count", "backend", "active", "placeholders", "created_at"]
        read_only_fields = ["created_at"]


class GenerationBackendSerializer(ModelSerializer):
    """What a client needs to pick a backend; never its URL credentials, options or key material."""

    class Meta:
        model = GenerationBackend
        fields = ["id", "name", "kind", "purpose", "model", "enabled", "is_default", "max_concurrency", "currency",
                  "last_health_ok", "last_health_detail", "last_checked_at"]
        read_only_fields = fields


class JobAssetSerializer(ModelSerializer):
    class Meta:
        model = Asset
        fields = ["id", "status"]
        read_only_fields = fields


class GenerationJobSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    backend = serializers.IntegerField(source="backend_id", read_only=True, allow_null=True)
    backend_name = serializers.SerializerMethodField()
    template = serializers.IntegerField(source="template_id", read_only=True, allow_null=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    assets = JobAssetSerializer(many=True, read_only=True)

    class Meta:
        model = GenerationJob
        fields = ["id", "creator", "kind", "status", "backend", "backend_name", "template", "prompt", "variables",
                  "negative_prompt", "params", "rating", "cancel_requested", "attempts", "path", "texts", "notes",
                  "assets", "error", "seed_used", "tokens_in", "tokens_out", "seconds", "cost_minor", "currency",
                  "created_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_backend_name(self, obj: GenerationJob) -> str:
        return obj.backend.name if obj.backend_id else ""


class GenerationJobCreateSerializer(serializers.Serializer):
    """One request shape for every kind: images use template/prompt and the size fields, text jobs the
    platform, topic and language. What the services check (ranges, templates, screening) they check."""

    creator = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=GenerationJob.Kind.choices, default=GenerationJob.Kind.IMAGE)
    template = serializers.IntegerField(required=False, allow_null=True, help_text="A prompt template id.")
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=500), required=False,
                                      default=dict, help_text="Values for the template's {placeholders}.")
    backend = serializers.IntegerField(required=False, allow_null=True,
                                       help_text="A backend id; empty means the template's or the default one.")
    # Images
    prompt = serializers.CharField(required=False, default="", allow_blank=True, max_length=4000,
                                   help_text="Images: the prompt, when no template is given (or to override it).")
    negative_prompt = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    rating = serializers.ChoiceField(choices=Asset.Rating.choices, required=False, allow_null=True, default=None)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    steps = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False, allow_null=True)
    count = serializers.IntegerField(required=False, help_text="Images per job (1–16) or suggestions (1–10).")
    # Captions and hashtags
    platform = serializers.ChoiceField(choices=CAPTION_PLATFORMS, required=False)
    topic = serializers.CharField(required=False, default="", allow_blank=True, max_length=1000)
    language = serializers.CharField(required=False, default="", allow_blank=True, max_length=16)
    ai_generated = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="The media is AI-made: label the captions. Unsaid, decided by the creator (an AI persona or "
                  "hybrid is labelled, a human creator's own photos never are); an AI persona is always labelled.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] != GenerationJob.Kind.IMAGE and not attrs.get("platform"):
            raise serializers.ValidationError({"platform": ["A caption or hashtag job names its platform."]})
        return attrs


class CaptionSuggestRequestSerializer(serializers.Serializer):
    creator = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=CAPTION_PLATFORMS)
    topic = serializers.CharField(max_length=1000, allow_blank=True)
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=500), required=False,
                                      default=dict)
    ai_generated = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="The media is AI-made: add the platform's AI disclosure. Unsaid, decided by the creator (an AI "
                  "persona or hybrid is labelled, a human creator's own photos never are); an AI persona is always "
                  "labelled.")
    count = serializers.IntegerField(required=False, default=3, min_value=1, max_value=10)
    language = serializers.CharField(required=False, default="", allow_blank=True, max_length=16)
    template = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="A prompt template id whose voice guide is used.")


class CaptionVariantSerializer(serializers.Serializer):
    text = serializers.CharField()
    hashtags = serializers.ListField(child=serializers.CharField())
    length = serializers.IntegerField()
    fits = serializers.BooleanField(help_text="Within the platform's length limit.")


class CaptionSuggestionsSerializer(serializers.Serializer):
    path = serializers.ChoiceField(choices=["model", "templates"],
                                   help_text="Whether the text model or the templates wrote them.")
    backend = serializers.CharField(help_text="The text backend's name when the model wrote them.")
    notes = serializers.ListField(child=serializers.CharField())
    variants = CaptionVariantSerializer(many=True)


class GenerationUsageSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    backend = serializers.IntegerField(source="backend_id", read_only=True, allow_null=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)

    class Meta:
        model = GenerationUsage
        fields = ["id", "creator", "backend", "backend_name", "job", "kind", "images", "tokens_in", "tokens_out",
                  "seconds", "cost_minor", "currency", "at"]
        read_only_fields = fields


class MonthlyUsageSerializer(serializers.Serializer):
    """One month × creator × backend × currency; amounts are never summed across currencies."""

    month = serializers.DateField(help_text="The month's first day.")
    creator = serializers.CharField(source="creator__stage_name")
    backend_name = serializers.CharField()
    currency = serializers.CharField()
    calls = serializers.IntegerField()
    images = serializers.IntegerField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    seconds = serializers.FloatField()
    cost_minor = serializers.IntegerField(help_text="Minor units of `currency`.")
