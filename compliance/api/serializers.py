"""What the compliance API shows and accepts.

Integrations need a performer's standing (may they appear, and under which consent), never the
person's papers: no document number, no files, no date of birth, no contact details ever leave
through here. Identity documents are read in the admin, where every read is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from compliance import gate, services
from compliance.models import (
    RATING_CHOICES,
    USE_CHOICES,
    ConsentRecord,
    Performer,
    PerformerName,
    TakedownRequest,
    TakedownTarget,
)
from core.api.fields import ModelSerializer, UTCDateTimeField

CONSENT_STANDINGS = ["valid", "revoked", "superseded", "expired", "not_yet_valid"]


class PerformerNameSerializer(ModelSerializer):
    class Meta:
        model = PerformerName
        fields = ["name", "kind"]


class CreatorLinkSerializer(serializers.Serializer):
    creator = serializers.IntegerField()
    relation = serializers.CharField()


class ConsentSummarySerializer(serializers.Serializer):
    """One consent's scope and whether it holds right now (revocation reasons stay in the admin)."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CONSENT_STANDINGS)
    platforms = serializers.ListField(child=serializers.CharField())
    max_rating = serializers.ChoiceField(choices=RATING_CHOICES)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=USE_CHOICES))
    valid_from = UTCDateTimeField()
    valid_until = UTCDateTimeField(allow_null=True)
    revoked_at = UTCDateTimeField(allow_null=True)
    has_release = serializers.BooleanField(
        help_text="A signed release is on file. The document itself is opened in the admin, by compliance "
                  "officers and the owner, never through the API.")


class PerformerListSerializer(serializers.ListSerializer):
    """Loads every listed performer's standing in one go, so a page costs the same few queries."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        items = list(data.all() if hasattr(data, "all") else data)
        self.context["standing"] = {facts.id: facts for facts in services.performer_facts(p.pk for p in items)}
        self.context["with_release"] = set(ConsentRecord.objects.filter(
            performer__in=[p.pk for p in items], release__isnull=False).values_list("pk", flat=True))
        return super().to_representation(items)


class PerformerSerializer(ModelSerializer):
    names = PerformerNameSerializer(many=True, read_only=True)
    creators = serializers.SerializerMethodField()
    verified_adult = serializers.SerializerMethodField(
        help_text="Has an approved identity check and is 18 or older today.")
    consents = serializers.SerializerMethodField(
        help_text="Every consent on record and its standing now; null for callers whose role may not see consents.")

    class Meta:
        model = Performer
        fields = ["id", "legal_name", "names", "status", "creators", "verified_adult", "consents", "created_at"]
        read_only_fields = fields
        list_serializer_class = PerformerListSerializer

    def _now(self) -> datetime:
        return self.context.setdefault("now", timezone.now())

    def _standing(self, performer: Performer) -> gate.PerformerFacts:
        standing: dict[int, gate.PerformerFacts] = self.context.setdefault("standing", {})
        if performer.pk not in standing:
            standing.update({facts.id: facts for facts in services.performer_facts([performer.pk])})
        return standing[performer.pk]

    @extend_schema_field(CreatorLinkSerializer(many=True))
    def get_creators(self, performer: Performer) -> list[dict[str, Any]]:
        # The view prefetches only links to creators the caller reaches: a performer shared with
        # another team must not reveal that team's creators.
        return [{"creator": link.creator_id, "relation": link.relation}
                for link in sorted(performer.creator_links.all(), key=lambda link: link.creator_id)]

    def get_verified_adult(self, performer: Performer) -> bool:
        facts = self._standing(performer)
        dob = facts.date_of_birth
        return facts.verified and dob is not None and gate.age_on(dob, self._now().date()) >= gate.ADULT_AGE

    @extend_schema_field(ConsentSummarySerializer(many=True, allow_null=True))
    def get_consents(self, performer: Performer) -> list[dict[str, Any]] | None:
        # Editors see performers but not consents (accounts.roles): the API shows no more than the admin.
        readable = self.context.get("consent_creator_ids")
        if readable is not None and not any(link.creator_id in readable for link in performer.creator_links.all()):
            return None
        now = self._now()
        consents = sorted(self._standing(performer).consents, key=lambda c: c.id)
        with_release = self.context.get("with_release")
        if with_release is None:  # one performer, not a page: its own query
            with_release = set(ConsentRecord.objects.filter(performer=performer, release__isnull=False)
                               .values_list("pk", flat=True))
        return ConsentSummarySerializer([
            {"id": c.id, "status": c.status_at(now), "platforms": sorted(c.platforms), "max_rating": c.max_rating,
             "uses": sorted(c.uses), "valid_from": c.valid_from, "valid_until": c.valid_until,
             "revoked_at": c.revoked_at, "has_release": c.id in with_release}
            for c in consents
        ], many=True).data


class ConsentRecordInputSerializer(serializers.Serializer):
    """A consent a performer signed. Refused (400, audited) without a date of birth on record, or for
    someone under 18 today or on the stated production date."""

    platforms = serializers.ListField(child=serializers.ChoiceField(choices=sorted(gate.PLATFORM_MAX_RATING)),
                                      allow_empty=False, max_length=len(gate.PLATFORM_MAX_RATING))
    max_rating = serializers.ChoiceField(choices=RATING_CHOICES)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=USE_CHOICES), allow_empty=False,
                                 max_length=len(gate.Use))
    signed_at = UTCDateTimeField()
    valid_from = UTCDateTimeField(required=False, allow_null=True, default=None,
                                  help_text="When it starts; the signing time if omitted.")
    valid_until = UTCDateTimeField(required=False, allow_null=True, default=None,
                                   help_text="When it ends: it covers nothing from this instant on.")
    supersedes = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                          help_text="The performer's consent this one replaces from its start.")
    production_date = serializers.DateField(required=False, allow_null=True, default=None,
                                            help_text="The shoot this consent is for: refused if the performer "
                                                      "was under 18 that day.")


class ConsentRecordedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    performer = serializers.IntegerField(source="performer_id")
    platforms = serializers.ListField(child=serializers.CharField())
    max_rating = serializers.ChoiceField(choices=RATING_CHOICES)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=USE_CHOICES))
    valid_from = UTCDateTimeField()
    valid_until = UTCDateTimeField(allow_null=True)
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True)


class ConsentStatusQuerySerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=sorted(gate.PLATFORM_MAX_RATING))
    rating = serializers.ChoiceField(choices=RATING_CHOICES)
    use = serializers.ChoiceField(choices=USE_CHOICES, default=gate.Use.PUBLICATION.value)
    at = UTCDateTimeField(required=False, help_text="When the performer would appear; now if omitted.")


class GateReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=sorted(gate.REASON_CODES))
    message = serializers.CharField()
    performer_id = serializers.IntegerField(allow_null=True)
    hard = serializers.BooleanField(help_text="A minor or non-consent signal: no override publishes past it.")
    field = serializers.CharField(allow_null=True)


class ConsentStatusSerializer(serializers.Serializer):
    performer = serializers.IntegerField()
    platform = serializers.CharField()
    rating = serializers.CharField()
    use = serializers.CharField()
    at = UTCDateTimeField()
    allowed = serializers.BooleanField()
    reasons = GateReasonSerializer(many=True)


class TakedownSerializer(ModelSerializer):
    """A takedown as integrations follow it: deadline and state, not the requester's identity."""

    performers = serializers.SerializerMethodField()
    assets = serializers.SerializerMethodField()
    publications = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = TakedownRequest
        fields = ["id", "kind", "status", "creator", "performers", "assets", "publications", "urls",
                  "content_description", "content_locations", "received_at", "due_at", "is_open", "closed_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_performers(self, takedown: TakedownRequest) -> list[int]:
        visible = self.context.get("visible_performer_ids")
        return sorted(p.pk for p in takedown.performers.all() if visible is None or p.pk in visible)

    def _targets(self, takedown: TakedownRequest, kind: str) -> list:
        return [t for t in takedown.targets.all() if t.kind == kind]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_assets(self, takedown: TakedownRequest) -> list[int]:
        return sorted(t.object_id for t in self._targets(takedown, TakedownTarget.Kind.ASSET))

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_publications(self, takedown: TakedownRequest) -> list[int]:
        return sorted({t.object_id for t in self._targets(takedown, TakedownTarget.Kind.PUBLICATION)})

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_urls(self, takedown: TakedownRequest) -> list[str]:
        return [t.url for t in self._targets(takedown, TakedownTarget.Kind.URL)]


MAX_ID = 2**63 - 1  # ids are 64-bit: a bigger number can name nothing, and must be a 400, not a database error


# Named as the request side of `Takedown` so both share one `kind` enum in the schema.
@extend_schema_serializer(component_name="Takedown")
class TakedownIntakeSerializer(ModelSerializer):
    """A request as received. What the law asks of a valid request is checked here and again by the service."""

    creator = serializers.IntegerField(help_text="The creator whose content is concerned.")
    performers = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=100,
        help_text="Performers whose whole likeness the request is about: everything depicting them is blocked.")
    assets = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                   default=list,
                                   max_length=500, help_text="Assets of this creator the request concerns.")
    publications = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, default=list, max_length=500,
        help_text="Publications of this creator the request concerns; the rest of their posts is blocked too.")
    urls = serializers.ListField(child=serializers.URLField(max_length=500), required=False, default=list,
                                 max_length=500, help_text="Where the content is; matched to the creator's "
                                                           "publications at these addresses.")
    received_at = UTCDateTimeField(required=False,
                                            help_text="When the request reached the agency; now if omitted.")

    class Meta:
        model = TakedownRequest
        fields = ["kind", "creator", "performers", "assets", "publications", "urls", "requester_name",
                  "requester_contact", "signature", "content_description", "content_locations",
                  "non_consent_statement", "received_at"]

    def validate_received_at(self, value: datetime) -> datetime:
        # The deadline runs from receipt: a receipt time in the future would quietly extend it.
        if value > timezone.now():
            raise serializers.ValidationError("A request cannot be received in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", TakedownRequest.Kind.TAKE_IT_DOWN)
        if kind == TakedownRequest.Kind.TAKE_IT_DOWN and not attrs.get("non_consent_statement", "").strip():
            raise serializers.ValidationError({"non_consent_statement": [
                "A TAKE IT DOWN request needs the requester's statement that the depiction is not consensual."]})
        return attrs
