from rest_framework import serializers

from accounts.models import Creator


class CreatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Creator
        fields = ["id", "stage_name", "slug", "kind", "status", "timezone", "language", "voice_notes",
                  "four_eyes_review", "created_at"]
        read_only_fields = ["slug", "created_at"]
