"""Notifications API serializers. A webhook endpoint's signing secret appears only in the answer to
create or rotate-secret (`WebhookEndpointWithSecretSerializer`)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.fields import ModelSerializer
from notifications.models import Notification, WebhookEndpoint


class WebhookEndpointSerializer(ModelSerializer):
    creator = serializers.IntegerField(
        source="creator_id", allow_null=True, required=False, default=None,
        help_text="Only this creator's events; null = every creator's (agency owners only). Fixed once created.")
    events = serializers.ListField(child=serializers.CharField(max_length=60), required=False, default=list,
                                   help_text="Notification kinds to send, e.g. publication.failed; empty = all.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "creator", "name", "url", "events", "active", "created_at", "last_success_at",
                  "last_failure_at", "last_error"]
        read_only_fields = ["created_at", "last_success_at", "last_failure_at", "last_error"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True,
                                   help_text="The signing secret. Shown only in this answer: copy it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class NotificationSerializer(ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "creator", "kind", "level", "title", "body", "link", "subject", "payload", "created_at",
                  "resolved_at"]
        read_only_fields = fields
