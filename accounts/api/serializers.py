
from accounts.models import Creator
from core.api.fields import ModelSerializer


class CreatorSerializer(ModelSerializer):
    class Meta:
        model = Creator
        fields = ["id", "stage_name", "slug", "kind", "status", "timezone", "language", "voice_notes",
                  "four_eyes_review", "created_at"]
        read_only_fields = ["slug", "created_at"]
