from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from content import views_files
from content.models import Asset, Collection, Rendition
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
