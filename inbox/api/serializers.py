"""Shapes of the inbox API. Related rows are plain ids: the views check them through tenancy, so an id of
another creator and one that does not exist get the same answer. Money is integer minor units with its
currency."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import BIGINT_MAX, DayField, ModelSerializer, UTCDateTimeField, column_integer
from core.money import MAX_MINOR
from inbox.metrics import MAX_DAYS
from inbox.models import Conversation, Message, Script

# The longest text a message may carry through the API (every platform allows less); a saved reply is sent as
# a message, so it is held to the same length.
MAX_TEXT = 20000


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """A row id: 1 up to the widest id column, so a huge number is a 400, never a database error."""
    return serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, **kwargs)


class StrictCharField(serializers.CharField):
    """Text only: a number or a list where words are expected is a mistake the client must see (DRF would
    quietly turn 12 into "12")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class FanSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    handle = serializers.CharField()
    platform = serializers.CharField()
    lifetime_spend_minor = serializers.IntegerField(help_text="Net, in the agency currency.")


class ConversationSerializer(ModelSerializer):
    platform = serializers.CharField(source="account.platform", read_only=True)
    fan = FanSummarySerializer(read_only=True)
    held = serializers.BooleanField(read_only=True, help_text="Held for compliance (a minor signal).")

    class Meta:
        model = Conversation
        fields = ["id", "creator", "account", "platform", "fan", "status", "snoozed_until", "assignee", "priority",
                  "mode", "waiting_since", "first_reply_at", "last_message_at", "last_inbound_at", "unread_count",
                  "held", "created_at"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer[Any]):
    assignee = id_field(allow_null=True,
                        help_text="A person of the creator's team; null puts it back in the pool.")


class StatusSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    snoozed_until = UTCDateTimeField(required=False, allow_null=True, default=None,
                                     help_text="Required with `snoozed`.")


class MessageSerializer(ModelSerializer):
    asset_ids = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "conversation", "direction", "text", "asset_ids", "price_minor", "currency", "purchased_at",
                  "sent_by", "origin", "ai_generated", "script", "ai_draft", "send_status", "last_error",
                  "created_at", "sent_at", "read_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_asset_ids(self, message: Message) -> list[int]:
        return [asset.pk for asset in message.assets.all()]


class SendSerializer(serializers.Serializer[Any]):
    text = StrictCharField(allow_blank=True, required=False, default="", max_length=MAX_TEXT, trim_whitespace=False)
    asset_ids = serializers.ListField(child=id_field(), required=False, default=list,
                                      max_length=50, help_text="Vault assets of the conversation's creator.")
    price_minor = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                           max_value=MAX_MINOR,
                                           help_text="Pay-per-view price in minor units of the platform's "
                                                     "currency; needs media.")
    script = id_field(required=False, allow_null=True, default=None,
                                      help_text="The script this message was sent from.")


class NoteSerializer(serializers.Serializer[Any]):
    text = StrictCharField(max_length=10000)
    on = serializers.ChoiceField(choices=[("conversation", "An internal note in the thread"),
                                          ("fan", "A note on the fan, seen in every conversation")],
                                 required=False, default="conversation")


class FanNoteOutSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    on = serializers.CharField()
    text = serializers.CharField()
    created_at = UTCDateTimeField()


class ScriptSerializer(ModelSerializer):
    creator = id_field(source="creator_id", help_text="Fixed once created.")
    text = serializers.CharField(max_length=MAX_TEXT, help_text="Sent as a message: placeholders {fan_name}, "
                                                                "{fan_handle}, {creator_name}.")
    asset_ids = serializers.ListField(child=id_field(), required=False, default=list,
                                      max_length=50, help_text="Vault assets of the script's creator.")
    price_minor = column_integer(Script, "price_minor", required=False, allow_null=True, max_value=MAX_MINOR)

    class Meta:
        model = Script
        fields = ["id", "creator", "name", "category", "text", "asset_ids", "price_minor", "currency",
                  "platform_template_id", "active", "created_at"]
        read_only_fields = ["created_at"]

    def to_representation(self, instance: Script) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["asset_ids"] = sorted(a.pk for a in instance.assets.all()) if instance.pk else []
        return data

    def validate_currency(self, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isascii():
            raise serializers.ValidationError("A three-letter ISO 4217 code, e.g. USD.")
        return value.upper()


class MetricsQuerySerializer(serializers.Serializer[Any]):
    start = DayField(required=False, help_text="First day (agency time); 6 days before `end` if omitted.")
    end = DayField(required=False, help_text="Last day, inclusive; today if omitted.")
    creator = id_field(required=False)
    chatter = id_field(required=False)
    group = serializers.ChoiceField(choices=[("chatter", "Per chatter"), ("shift", "Per shift")], required=False,
                                    default="chatter")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "start" in data and "end" in data:
            if data["start"] > data["end"]:
                raise serializers.ValidationError({"start": ["The period starts after it ends."]})
            if (data["end"] - data["start"]).days >= MAX_DAYS:
                raise serializers.ValidationError({"end": [f"Choose at most {MAX_DAYS} days."]})
        return data


class MetricRowSerializer(serializers.Serializer[Any]):
    key = serializers.IntegerField(help_text="The chatter's id, or the shift's id.")
    name = serializers.CharField(help_text="The chatter (of the shift).")
    creator = serializers.CharField(help_text="The shift's creator; empty per chatter.")
    starts_at = UTCDateTimeField(allow_null=True)
    ends_at = UTCDateTimeField(allow_null=True)
    messages_sent = serializers.IntegerField()
    first_responses = serializers.IntegerField()
    first_response_p50 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    first_response_p90 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    replies = serializers.IntegerField()
    reply_p50 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    reply_p90 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    ppv_sent = serializers.IntegerField()
    ppv_bought = serializers.IntegerField()
    ppv_conversion = serializers.FloatField(allow_null=True)
    purchases = serializers.IntegerField()
    revenue_minor = serializers.IntegerField(help_text="Credited purchases in the agency currency.")
    currency = serializers.CharField()
    revenue_per_message_minor = serializers.IntegerField(allow_null=True)
    missing_rates = serializers.ListField(child=serializers.CharField(),
                                          help_text="Currencies left out for want of an exchange rate.")


class MetricsSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    group = serializers.CharField()
    currency = serializers.CharField()
    rows = MetricRowSerializer(many=True)
