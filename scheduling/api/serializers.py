"""Shapes of the scheduling API.

Due times go in as either an ISO datetime with an offset, or a naive wall-clock time that is read in
the creator's timezone — the way staff think about a post going out "at 20:00". They come out as
`scheduled_at` in UTC, plus `scheduled_at_local` and `timezone` so a client never has to convert.
Related rows are plain ids: the view checks them through tenancy, so an id of another creator and one
that does not exist get the same answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ModelSerializer, OptionalURLField, UTCDateTimeField, column_integer
from core.api.instants import InstantOutOfRange, to_utc
from core.platforms import Rating
from scheduling import services
from scheduling.models import PlatformAccount, Post, Publication, QueueSlot

DUE_TIME_HELP = ("ISO 8601. With an offset (`2026-12-24T19:00:00Z`, `…+01:00`) it is that instant; without "
                 "one (`2026-12-24T20:00`) it is the creator's local time. A local time skipped by a DST jump "
                 "is refused; one that happens twice (clocks going back) means the first of the two.")


def local_iso(at: datetime | None, tz_name: str) -> str | None:
    return at.astimezone(ZoneInfo(tz_name or "UTC")).isoformat() if at else None


def parse_due_time(value: str, tz_name: str) -> datetime:
    """An aware instant from the API's due-time text, reading a naive time in `tz_name`."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise serializers.ValidationError(
            "Use an ISO 8601 datetime, e.g. 2026-12-24T20:00 (creator's time) or 2026-12-24T19:00:00Z.")
    try:
        if timezone.is_aware(parsed):
            return to_utc(parsed)
        local = services.local_datetime(tz_name, parsed.date(), parsed.time())
        at = to_utc(local)
    except InstantOutOfRange as exc:
        raise serializers.ValidationError(str(exc)) from None
    if at.astimezone(local.tzinfo).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise serializers.ValidationError(
            f"{parsed:%Y-%m-%d %H:%M} does not exist in {tz_name}: the clocks jump forward then.")
    return at


# --- Platform accounts and queue slots ----------------------------------------------------------


class PlatformAccountSerializer(ModelSerializer):
    """Never carries credentials: tokens are granted through the platform's authorisation, not typed in."""

    creator = serializers.IntegerField(source="creator_id")
    state = serializers.ChoiceField(
        choices=PlatformAccount.State.choices, required=False,
        help_text="Only `disabled` can be set here; reconnecting goes through the platform's authorisation.")
    max_rating = serializers.ChoiceField(
        choices=[("", "The platform's own ceiling"), *[(r.value, r.value) for r in Rating]], required=False,
        allow_blank=True, help_text="Only ever at or below what the platform's policy accepts.")

    class Meta:
        model = PlatformAccount
        fields = ["id", "creator", "platform", "target_platform", "handle", "external_id", "state", "max_rating",
                  "options", "scopes", "token_expires_at", "refreshed_at", "last_error", "created_at"]
        read_only_fields = ["external_id", "scopes", "token_expires_at", "refreshed_at", "last_error", "created_at"]
        validators: list[Any] = []  # uniqueness is checked with the tenancy-aware view

    def validate_state(self, value: str) -> str:
        current = self.instance.state if self.instance else None
        if value not in (current, PlatformAccount.State.DISABLED):
            raise serializers.ValidationError(
                "Only `disabled` can be set here; an account is connected by authorising it on the platform.")
        return value

    def validate_options(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object, e.g. {\"subreddit\": \"…\"}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        errors: dict[str, str] = {}
        if instance is not None:
            for field in ("creator_id", "platform"):
                if field in attrs and attrs[field] != getattr(instance, field):
                    errors[field.removesuffix("_id")] = "An account stays with its creator and platform."
        # The rating ceiling is the model's own rule (PlatformAccount.clean), checked on save.
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class QueueSlotSerializer(ModelSerializer):
    account_id = serializers.IntegerField()
    time = serializers.TimeField(help_text="Wall-clock time in the creator's timezone, every week.")

    class Meta:
        model = QueueSlot
        fields = ["id", "account_id", "weekday", "time"]
        validators: list[Any] = []  # uniqueness is checked with the tenancy-aware view


# --- Posts --------------------------------------------------------------------------------------


class PublicationBriefSerializer(ModelSerializer):
    account_id = serializers.IntegerField(read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    scheduled_at = UTCDateTimeField(read_only=True, allow_null=True, help_text="Due time, UTC; null until scheduled.")

    class Meta:
        model = Publication
        fields = ["id", "account_id", "platform", "caption_override", "status", "scheduled_at"]
        read_only_fields = fields


class PostSerializer(ModelSerializer):
    asset_ids = serializers.SerializerMethodField(help_text="The post's own assets, in order.")
    publications = PublicationBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Post
        fields = ["id", "creator", "caption", "asset_ids", "collection_id", "price_minor", "currency", "created_by",
                  "approved_by", "approved_at", "approved_version", "version", "publications", "created_at",
                  "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_asset_ids(self, obj: Post) -> list[int]:
        return [link.asset_id for link in obj.post_assets.all()]


class TargetSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    caption_override = serializers.CharField(required=False, default="", allow_blank=True,
                                             help_text="This account's text instead of the post's caption.")


class PriceMixin:
    """Money is integer minor units with an ISO 4217 code: a price means nothing without its currency."""

    def validate_currency(self, value: str) -> str:
        value = value.strip().upper()
        if value and not (len(value) == 3 and value.isascii() and value.isalpha()):
            raise serializers.ValidationError("Use a three-letter ISO 4217 code such as USD or EUR.")
        return value

    @staticmethod
    def check_price_pair(price_minor: int | None, currency: str) -> None:
        if (price_minor is None) != (not currency):
            field = "currency" if price_minor is not None else "price_minor"
            raise serializers.ValidationError({field: "A price needs both `price_minor` and `currency`, or neither."})


class PostCreateSerializer(PriceMixin, serializers.Serializer):
    creator = serializers.IntegerField()
    caption = serializers.CharField(required=False, default="", allow_blank=True)
    asset_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                      help_text="The creator's assets, in the order they appear.")
    collection_id = serializers.IntegerField(required=False, allow_null=True, default=None,
                                             help_text="A collection of the same creator whose assets go out too.")
    price_minor = column_integer(Post, "price_minor", required=False, allow_null=True, default=None,
                                 help_text="Price in minor units (cents); with `currency`.")
    currency = serializers.CharField(required=False, default="", allow_blank=True, max_length=3)
    targets = TargetSerializer(many=True, required=False, default=list,
                               help_text="One draft publication per account.")

    def validate_asset_ids(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("An asset appears once in a post.")
        return value

    def validate_targets(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [t["account_id"] for t in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("An account appears once in a post's targets.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.check_price_pair(attrs["price_minor"], attrs["currency"])
        return attrs


class PostUpdateSerializer(PriceMixin, serializers.Serializer):
    """Fields left out stay as they are. Approval is of a version: any change to what reaches fans sends an
    approved post back for approval, and its scheduled publications with it (see `services.update_post`)."""

    caption = serializers.CharField(required=False, allow_blank=True)
    asset_ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                      help_text="The whole new list of the post's own assets, in order.")
    collection_id = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="A collection of the same creator, or null for none.")
    price_minor = column_integer(Post, "price_minor", required=False, allow_null=True)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    targets = TargetSerializer(many=True, required=False,
                               help_text="The whole new list of target accounts: new ones get a draft publication, "
                                         "left-out ones are removed (refused once published), captions change.")

    validate_asset_ids = PostCreateSerializer.validate_asset_ids
    validate_targets = PostCreateSerializer.validate_targets

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        post: Post = self.context["post"]
        price = attrs.get("price_minor", post.price_minor)
        currency = attrs.get("currency", post.currency)
        if "price_minor" in attrs and attrs["price_minor"] is None and "currency" not in attrs:
            attrs["currency"] = currency = ""  # removing the price removes its currency
        self.check_price_pair(price, currency)
        return attrs


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    performer_id = serializers.IntegerField(allow_null=True)
    hard = serializers.BooleanField()
    field = serializers.CharField(allow_null=True)


class PublicationVerdictSerializer(serializers.Serializer):
    publication_id = serializers.IntegerField()
    account_id = serializers.IntegerField()
    platform = serializers.CharField()
    status = serializers.CharField()
    passed = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)


class PostVerdictsSerializer(serializers.Serializer):
    post = PostSerializer()
    all_passed = serializers.BooleanField()
    verdicts = PublicationVerdictSerializer(many=True)


class SubmitResultSerializer(serializers.Serializer):
    submitted = serializers.IntegerField(help_text="Draft publications sent for approval.")
    post = PostSerializer()


# --- Publications and the calendar --------------------------------------------------------------


class LocalTimeMixin(serializers.Serializer):
    scheduled_at = UTCDateTimeField(read_only=True, allow_null=True, help_text="Due time, UTC; null until scheduled.")
    scheduled_at_local = serializers.SerializerMethodField(help_text="The due time in the creator's timezone.")
    timezone = serializers.CharField(source="creator.timezone", read_only=True)

    @extend_schema_field(UTCDateTimeField(allow_null=True))
    def get_scheduled_at_local(self, obj: Publication) -> str | None:
        return local_iso(obj.scheduled_at, obj.creator.timezone)


class PublicationSerializer(LocalTimeMixin, ModelSerializer):
    creator = serializers.IntegerField(source="creator_id", read_only=True)
    post_id = serializers.IntegerField(read_only=True)
    account_id = serializers.IntegerField(read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    block_reasons = ReasonSerializer(many=True, read_only=True)
    external_url = OptionalURLField(read_only=True, help_text="Where it went out; null until published.")
    account_warning = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="While it waits to go out: why its account cannot publish (not connected, needs "
                  "re-authorisation, disabled); null when the account can publish.")

    class Meta:
        model = Publication
        fields = ["id", "creator", "post_id", "account_id", "platform", "caption_override", "status", "scheduled_at",
                  "scheduled_at_local", "timezone", "attempts", "next_attempt_at", "external_id", "external_url",
                  "published_at", "removed_at", "last_error", "block_reasons", "account_warning", "created_at"]
        read_only_fields = [f for f in fields if f != "caption_override"]


class CaptionOverrideSerializer(serializers.Serializer):
    caption_override = serializers.CharField(allow_blank=True)


class DueTimeSerializer(serializers.Serializer):
    at = serializers.CharField(help_text=DUE_TIME_HELP)

    def validate_at(self, value: str) -> datetime:
        return parse_due_time(value, self.context["creator_timezone"])


class CalendarQuerySerializer(serializers.Serializer):
    start = serializers.CharField(help_text="ISO date or datetime; without an offset it is UTC.")
    end = serializers.CharField(help_text="ISO date or datetime, exclusive; at most 62 days after `start`.")
    creator = serializers.IntegerField(required=False)
    account = serializers.IntegerField(required=False)

    MAX_DAYS = 62

    @staticmethod
    def _instant(value: str) -> datetime:
        text = value.strip()
        try:
            parsed = parse_datetime(text) or (parse_datetime(f"{text}T00:00") if len(text) == 10 else None)
        except ValueError:
            parsed = None
        if parsed is None:
            raise serializers.ValidationError("Use an ISO date (2026-12-01) or datetime.")
        try:
            return to_utc(parsed)
        except InstantOutOfRange as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_start(self, value: str) -> datetime:
        return self._instant(value)

    def validate_end(self, value: str) -> datetime:
        return self._instant(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        span = attrs["end"] - attrs["start"]
        if span.total_seconds() <= 0:
            raise serializers.ValidationError({"end": "The end comes after the start."})
        if span.days > self.MAX_DAYS or (span.days == self.MAX_DAYS and span.seconds):
            raise serializers.ValidationError({"end": f"At most {self.MAX_DAYS} days per request."})
        return attrs


class CalendarItemSerializer(LocalTimeMixin, ModelSerializer):
    post_id = serializers.IntegerField(read_only=True)
    account_id = serializers.IntegerField(read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    title = serializers.SerializerMethodField(help_text="The post's caption, shortened.")
    account_warning = serializers.CharField(read_only=True, allow_null=True,
                                            help_text="Why its account cannot publish yet; null when it can.")

    class Meta:
        model = Publication
        fields = ["id", "post_id", "account_id", "platform", "status", "scheduled_at", "scheduled_at_local",
                  "timezone", "title", "account_warning"]
        read_only_fields = fields

    def get_title(self, obj: Publication) -> str:
        return str(obj.post)
