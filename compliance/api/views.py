"""Compliance API: performers' standing for integrations, and takedown intake.

Read-only except for takedowns, which arrive from web forms and mailboxes and must start their
legal clock at once. Every state change goes through `compliance.services`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantReadOnlyViewSet, principal_of
from accounts.models import Creator
from compliance import services
from compliance.api.filtersets import PerformerFilterSet, TakedownFilterSet
from compliance.api.serializers import (
    ConsentRecordedSerializer,
    ConsentRecordInputSerializer,
    ConsentStatusQuerySerializer,
    ConsentStatusSerializer,
    PerformerSerializer,
    TakedownIntakeSerializer,
    TakedownSerializer,
)
from compliance.models import ConsentRecord, CreatorPerformer, Performer, TakedownRequest


@extend_schema_view(
    list=extend_schema(summary="Performers the caller may see"),
    retrieve=extend_schema(summary="One performer's names, standing and consents"),
)
class PerformerViewSet(TenantReadOnlyViewSet):
    """Performers linked to a creator the caller reaches; never their papers or contact details."""

    queryset = Performer.objects.prefetch_related("names")
    serializer_class = PerformerSerializer
    filterset_class = PerformerFilterSet

    def get_queryset(self) -> QuerySet:
        links = CreatorPerformer.objects.order_by("creator_id")
        reachable = tenancy.allowed_creator_ids(principal_of(self.request), Performer, "view")
        if reachable is not tenancy.ALL:
            links = links.filter(creator_id__in=sorted(reachable))
        return super().get_queryset().prefetch_related(Prefetch("creator_links", queryset=links))

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["now"] = timezone.now()
        context["consent_creator_ids"] = tenancy.allowed_creator_ids(principal_of(self.request), ConsentRecord, "view")
        return context

    @extend_schema(
        summary="May this performer appear on a platform at a rating, for a use",
        parameters=[ConsentStatusQuerySerializer],
        responses={200: ConsentStatusSerializer, 400: OpenApiResponse(description="Unknown platform, rating or use.")},
    )
    @action(detail=True, methods=["get"], url_path="consent-status", filter_backends=[], pagination_class=None)
    def consent_status(self, request: Request, pk: str | None = None) -> Response:
        performer = self.get_object()
        query = ConsentStatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        answer = services.consent_status(performer, **query.validated_data)
        return Response(ConsentStatusSerializer(answer).data)

    @extend_schema(
        summary="Record a consent the performer signed (a new row; it may supersede an older one)",
        request=ConsentRecordInputSerializer,
        responses={201: ConsentRecordedSerializer,
                   400: OpenApiResponse(description="Invalid scope or times, no date of birth on record, or a "
                                                    "performer under 18 today or on the production date."),
                   403: OpenApiResponse(description="The caller sees the performer but may not record consents.")},
    )
    @action(detail=True, methods=["post"], url_path="consents", filter_backends=[], pagination_class=None)
    def record_consent(self, request: Request, pk: str | None = None) -> Response:
        # Not get_object(): that checks `add` on the performer; this adds a consent, checked below.
        if not str(pk).isdigit():
            raise exceptions.NotFound()
        performer = self.get_queryset().filter(pk=int(pk)).first()
        if performer is None:
            raise exceptions.NotFound()
        principal = principal_of(request)
        if not any(tenancy.can_reach_creator(principal, link.creator_id, ConsentRecord, "add")
                   for link in performer.creator_links.all()):
            raise exceptions.PermissionDenied("You may see this performer but not record their consents.")
        incoming = ConsentRecordInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        supersedes = None
        if data["supersedes"] is not None:
            supersedes = ConsentRecord.objects.filter(pk=data["supersedes"], performer=performer).first()
            if supersedes is None:
                raise exceptions.ValidationError({"supersedes": ["Unknown consent of this performer."]})
        # Refusals (a minor, no date of birth) are ValidationErrors: the API's one error format, 400,
        # and the service has already audited the attempt.
        consent = services.record_consent(
            performer=performer, platforms=list(data["platforms"]), max_rating=data["max_rating"],
            uses=list(data["uses"]), signed_at=data["signed_at"], valid_from=data["valid_from"],
            valid_until=data["valid_until"], supersedes=supersedes, production_date=data["production_date"],
            actor=principal)
        return Response(ConsentRecordedSerializer(consent).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Takedown requests the caller may see"),
    retrieve=extend_schema(summary="One takedown request: deadline and state"),
    create=extend_schema(
        summary="Register a takedown request and start its deadline",
        request=TakedownIntakeSerializer,
        responses={201: TakedownSerializer, 400: OpenApiResponse(description="The request is incomplete.")},
    ),
)
class TakedownViewSet(TenantModelViewSet):
    """Takedown requests of creators the caller reaches. A write key or a compliance officer files new ones."""

    queryset = TakedownRequest.objects.all()
    serializer_class = TakedownSerializer
    filterset_class = TakedownFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet:
        # Performers outside the caller's reach are left out, not just hidden in the payload.
        visible = tenancy.restrict(Performer.objects.order_by("pk"), principal_of(self.request), "view")
        return super().get_queryset().prefetch_related(Prefetch("performers", queryset=visible), "targets")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        intake = TakedownIntakeSerializer(data=request.data, context=self.get_serializer_context())
        intake.is_valid(raise_exception=True)
        fields = dict(intake.validated_data)
        creator = self._writable_creator(fields.pop("creator"))
        performers = self._visible_performers(fields.pop("performers"))
        principal = principal_of(request)
        takedown = services.open_takedown(creator=creator, performers=performers, actor=principal,
                                          asset_ids=fields.pop("assets"), publication_ids=fields.pop("publications"),
                                          urls=fields.pop("urls"), **fields)
        # Reload through the caller's queryset so the answer lists only performers they may see.
        takedown = self.get_queryset().filter(pk=takedown.pk).first() or takedown
        return Response(self.get_serializer(takedown).data, status=status.HTTP_201_CREATED)

    def _writable_creator(self, creator_id: int) -> Creator:
        self.ensure_creator_writable(creator_id, TakedownRequest)
        creator = Creator.objects.filter(pk=creator_id).first()
        if creator is None:  # the owner reaches every creator, including ones that do not exist
            raise exceptions.ValidationError({"creator": ["Unknown creator."]})
        return creator

    def _visible_performers(self, performer_ids: list[int]) -> list[Performer]:
        wanted = set(performer_ids)
        found = list(tenancy.restrict(Performer.objects.filter(pk__in=sorted(wanted)), principal_of(self.request)))
        unknown = sorted(wanted - {p.pk for p in found})
        if unknown:
            raise exceptions.ValidationError({"performers": [f"Unknown performer: {pk}." for pk in unknown]})
        return found


def register(router: BaseRouter) -> None:
    router.register("compliance/performers", PerformerViewSet, basename="compliance-performer")
    router.register("compliance/takedowns", TakedownViewSet, basename="compliance-takedown")
