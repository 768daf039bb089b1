"""Analytics API shapes. Money is integer minor units with its currency, exactly as stored."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from analytics.models import DailyRollup, Fan, Subscription, Transaction
from core.api.fields import ModelSerializer


class DailyRollupSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    currency = serializers.SerializerMethodField()

    class Meta:
        model = DailyRollup
        fields = ["id", "creator", "platform", "day", "currency", "gross_minor", "net_minor", "by_kind",
                  "transactions", "new_subscribers", "churned_subscribers", "active_subscribers", "posts_published",
                  "views", "likes", "comments", "shares", "clicks", "purchases", "computed_at"]

    def get_currency(self, obj: DailyRollup) -> str:
        return settings.ANALYTICS_CURRENCY


class FanSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)

    class Meta:
        model = Fan
        # Staff notes stay in the admin: they are free text about a person and rarely needed elsewhere.
        fields = ["id", "creator", "platform", "external_id", "handle", "first_seen", "last_seen",
                  "lifetime_spend_minor", "segment", "tags"]


class SubscriptionSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    fan = serializers.IntegerField(source="fan_id", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)

    class Meta:
        model = Subscription
        fields = ["id", "creator", "fan", "account", "platform", "external_id", "started_at", "ends_at",
                  "price_minor", "currency", "auto_renew", "trial", "cancelled_at"]


class TransactionSerializer(ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)
    fan = serializers.IntegerField(source="fan_id", read_only=True, allow_null=True)
    publication = serializers.IntegerField(source="publication_id", read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = ["id", "creator", "account", "platform", "fan", "publication", "kind", "gross_minor", "fee_minor",
                  "net_minor", "currency", "occurred_at", "external_id", "source", "created_at"]
