"""AI studio API: prompt templates, backends, generation jobs, caption suggestions and usage.

Every state change goes through `content.studio` (which screens prompts and audits), every creator-owned
queryset through tenancy. Backends and prompt categories belong to the agency, not to a creator: whoever
may view them for some creator sees them all, and a backend's key never leaves the database.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantViewSetMixin, principal_of
from accounts.models import Creator
from content import studio
from content.api.serializers_studio import (
    CaptionSuggestionsSerializer,
    CaptionSuggestRequestSerializer,
    GenerationBackendSerializer,
    GenerationJobCreateSerializer,
    GenerationJobSerializer,
    GenerationUsageSerializer,
    MonthlyUsageSerializer,
    PromptCategorySerializer,
    PromptTemplateSerializer,
)
from content.models import (
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    PromptCategory,
    PromptTemplate,
)
from core.api import errors
from core.api.filters import FilterSet, UTCDateTimeFromToRangeFilter

REFUSED = OpenApiResponse(description="Invalid fields (`invalid`), or a hard-blocked term in the "
                                                   "request (`prompt_refused`, `details` lists the reasons; "
                                                   "nothing was sent to a model and the refusal is audited).")


def prompt_refused(refusal: studio.PromptRefused) -> errors.Refused:
    # Requests are not atomic (no ATOMIC_REQUESTS), so the refusal's audit event stays committed.
    return errors.Refused("The request holds a hard-blocked term; nothing was sent to a model.",
                          code="prompt_refused", http_status=status.HTTP_400_BAD_REQUEST, details=refusal.reasons)


def agency_visible(queryset: QuerySet, principal: Any) -> QuerySet:
    """Agency-wide rows (no creator): all of them for whoever may view the model for some creator."""
    ids = tenancy.allowed_creator_ids(principal, queryset.model, "view")
    return queryset if ids is tenancy.ALL or ids else queryset.none()


# --- Filters -------------------------------------------------------------------------------------------
# Relations filter by id, never through a choice list (see content/api/filtersets.py).


class PromptTemplateFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")
    category = django_filters.NumberFilter(field_name="category_id", label="Prompt category id")

    class Meta:
        model = PromptTemplate
        fields = ["creator", "category", "rating", "active"]


class GenerationJobFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")
    backend = django_filters.NumberFilter(field_name="backend_id", label="Backend id")
    template = django_filters.NumberFilter(field_name="template_id", label="Prompt template id")
    status = django_filters.MultipleChoiceFilter(choices=GenerationJob.Status.choices, distinct=False,
                                                 label="Status (repeat for several)")
    created_at = UTCDateTimeFromToRangeFilter(
        label="Created between `created_at_after` and `created_at_before` (ISO datetimes, inclusive)")

    class Meta:
        model = GenerationJob
        fields = ["creator", "kind", "status", "backend", "template", "created_at"]


class GenerationUsageFilterSet(FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label="Creator id")
    backend = django_filters.NumberFilter(field_name="backend_id", label="Backend id")
    at = django_filters.DateFromToRangeFilter(
        label="Between the days `at_after` and `at_before` (ISO dates, inclusive)")

    class Meta:
        model = GenerationUsage
        fields = ["creator", "backend", "kind", "at"]


# --- Agency configuration: backends and prompt categories ---------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Generation backends (never their keys or URLs)"),
    retrieve=extend_schema(summary="One generation backend with its last health check"),
)
class GenerationBackendViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = GenerationBackend.objects.all()
    serializer_class = GenerationBackendSerializer
    pagination_class = None
    filterset_fields = ["purpose", "kind", "enabled"]

    def get_queryset(self) -> QuerySet:
        return agency_visible(super().get_queryset(), principal_of(self.request))


@extend_schema_view(list=extend_schema(summary="Prompt categories"),
                    retrieve=extend_schema(summary="One prompt category"))
class PromptCategoryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PromptCategory.objects.all()
    serializer_class = PromptCategorySerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet:
        return agency_visible(super().get_queryset(), principal_of(self.request))


# --- Prompt templates ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Prompt templates of the caller's creators"),
    retrieve=extend_schema(summary="One prompt template with its placeholders"),
    create=extend_schema(summary="Add a prompt template for a creator"),
    update=extend_schema(summary="Change a prompt template (it stays with its creator)"),
    partial_update=extend_schema(summary="Change a prompt template (it stays with its creator)"),
    destroy=extend_schema(summary="Delete a prompt template; its jobs keep their final prompts"),
)
class PromptTemplateViewSet(TenantModelViewSet):
    queryset = PromptTemplate.objects.all()
    serializer_class = PromptTemplateSerializer
    filterset_class = PromptTemplateFilterSet

    def _save(self, serializer: BaseSerializer, template: PromptTemplate) -> None:
        data = dict(serializer.validated_data)
        data.pop("creator_id", None)
        for field, value in data.items():
            setattr(template, field, value)
        serializer.instance = studio.save_prompt_template(template, actor=principal_of(self.request))

    def perform_create(self, serializer: BaseSerializer) -> None:
        creator_id = serializer.validated_data.get("creator_id")
        self.ensure_creator_writable(creator_id, PromptTemplate)
        self._save(serializer, PromptTemplate(creator_id=creator_id))

    def perform_update(self, serializer: BaseSerializer) -> None:
        creator_id = serializer.validated_data.get("creator_id")
        if creator_id is not None and creator_id != serializer.instance.creator_id:
            raise exceptions.ValidationError({"creator": ["A prompt template stays with its creator."]})
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance: PromptTemplate) -> None:
        studio.delete_prompt_template(instance, actor=principal_of(self.request))


# --- Generation jobs -----------------------------------------------------------------------------------


class StudioRequestMixin(TenantViewSetMixin):
    """Resolving the ids a studio request names, each within the caller's reach."""

    def creator_for_generation(self, creator_id: int) -> Creator:
        self.ensure_creator_writable(creator_id, GenerationJob)
        return Creator.objects.get(pk=creator_id)

    def template_for(self, creator: Creator, template_id: int | None) -> PromptTemplate | None:
        if template_id is None:
            return None
        found = tenancy.restrict(PromptTemplate.objects.filter(pk=template_id, creator=creator),
                                 principal_of(self.request)).first()
        if found is None:
            raise exceptions.ValidationError({"template": ["Unknown prompt template for this creator."]})
        return found

    def backend_for(self, backend_id: int | None, purpose: str) -> GenerationBackend | None:
        if backend_id is None:
            return None
        found = agency_visible(GenerationBackend.objects.filter(pk=backend_id), principal_of(self.request)).first()
        if found is None:
            raise exceptions.ValidationError({"backend": ["Unknown backend."]})
        if found.purpose != purpose or not found.enabled:
            raise exceptions.ValidationError({"backend": [f"{found} is not an enabled {purpose} backend."]})
        return found

    def require(self, obj: Model, action_name: str) -> None:
        allowed = tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), principal_of(self.request),
                                   action_name)
        if not allowed.exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")


IMAGE_PARAM_FIELDS = ("width", "height", "steps", "seed", "count")


def image_params(data: dict[str, Any], template: PromptTemplate | None) -> studio.ImageParams | None:
    """None when the request sets no size field, so the service takes the template's; else the template's
    (or the defaults) with the given fields on top."""
    given = {name: data[name] for name in IMAGE_PARAM_FIELDS if name in data}
    if not given:
        return None
    base = (studio.ImageParams(width=template.width, height=template.height, steps=template.steps,
                               count=template.count) if template else studio.ImageParams())
    for name, value in given.items():
        setattr(base, name, value)
    return base


@extend_schema_view(
    list=extend_schema(summary="Generation jobs of the caller's creators, newest first"),
    retrieve=extend_schema(summary="One job: status, timings, error, cost, texts and resulting assets"),
)
class GenerationJobViewSet(StudioRequestMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           viewsets.GenericViewSet):
    queryset = GenerationJob.objects.select_related("backend").prefetch_related("assets")
    serializer_class = GenerationJobSerializer
    filterset_class = GenerationJobFilterSet

    def _answer(self, job: GenerationJob, http_status: int) -> Response:
        job = GenerationJob.objects.select_related("backend").prefetch_related("assets").get(pk=job.pk)
        return Response(GenerationJobSerializer(job, context=self.get_serializer_context()).data, status=http_status)

    @extend_schema(
        summary="Queue a job: images from a template or a prompt, or captions/hashtags for a platform",
        description="The request is screened for hard-blocked terms before any job or backend call exists. "
                    "The job runs on a worker; poll it until `status` is succeeded, failed or cancelled. "
                    "Images land as AI assets in review.",
        request=GenerationJobCreateSerializer, responses={202: GenerationJobSerializer, 400: REFUSED})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = GenerationJobCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self.creator_for_generation(data["creator"])
        template = self.template_for(creator, data.get("template"))
        actor = principal_of(request)
        try:
            if data["kind"] == GenerationJob.Kind.IMAGE:
                job = studio.queue_image_job(
                    creator=creator, actor=actor, template=template, prompt=data["prompt"],
                    variables=data["variables"], negative_prompt=data["negative_prompt"],
                    backend=self.backend_for(data.get("backend"), GenerationBackend.Purpose.IMAGES),
                    rating=data["rating"], params=image_params(data, template))
            else:
                job = studio.queue_text_job(
                    creator=creator, kind=data["kind"], platform=data["platform"], topic=data["topic"], actor=actor,
                    variables=data["variables"], template=template, ai_generated=data["ai_generated"],
                    count=data.get("count", 3), language=data["language"],
                    backend=self.backend_for(data.get("backend"), GenerationBackend.Purpose.TEXT))
        except studio.PromptRefused as refusal:
            raise prompt_refused(refusal) from None
        return self._answer(job, status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Cancel a job: a queued one at once, a running one when its backend call returns",
                   request=None,
                   responses={200: GenerationJobSerializer, 400: OpenApiResponse(description="Already finished.")})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        self.require(job, "change")
        job = studio.cancel_job(job, actor=principal_of(request))
        return self._answer(job, status.HTTP_200_OK)

    @extend_schema(summary="Try a failed or cancelled job again, as a new job with the same request",
                   request=None, responses={201: GenerationJobSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def retry(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        self.require(job, "add")
        try:
            new = studio.retry_job(job, actor=principal_of(request))
        except studio.PromptRefused as refusal:
            raise prompt_refused(refusal) from None
        return self._answer(new, status.HTTP_201_CREATED)


# --- Captions ------------------------------------------------------------------------------------------


class CaptionViewSet(StudioRequestMixin, viewsets.GenericViewSet):
    queryset = GenerationJob.objects.none()
    serializer_class = CaptionSuggestRequestSerializer
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary="Caption suggestions in the persona's voice: from the text model when one answers, else from "
                "the caption templates (`path` says which)",
        description="The same service as the admin post form. The request is screened first; every suggestion "
                    "is screened again in its final form.",
        request=CaptionSuggestRequestSerializer, responses={200: CaptionSuggestionsSerializer, 400: REFUSED})
    @action(detail=False, methods=["post"])
    def suggest(self, request: Request) -> Response:
        incoming = CaptionSuggestRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self.creator_for_generation(data["creator"])
        template = self.template_for(creator, data.get("template"))
        try:
            suggestions = studio.suggest_captions(
                creator=creator, platform=data["platform"], topic=data["topic"], variables=data["variables"],
                ai_generated=data["ai_generated"], count=data["count"], language=data["language"],
                template=template, actor=principal_of(request))
        except studio.PromptRefused as refusal:
            raise prompt_refused(refusal) from None
        return Response(CaptionSuggestionsSerializer(suggestions.as_dict()).data)


# --- Usage ---------------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="What each backend call consumed and cost, newest first"))
class GenerationUsageViewSet(TenantViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = GenerationUsage.objects.all()
    serializer_class = GenerationUsageSerializer
    filterset_class = GenerationUsageFilterSet

    @extend_schema(summary="Totals per month, creator, backend and currency (the list's filters apply)",
                   responses={200: MonthlyUsageSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def monthly(self, request: Request) -> Response:
        rows = studio.monthly_totals(self.filter_queryset(self.get_queryset()))
        for row in rows:
            row["month"] = row["month"].date()
        return Response(MonthlyUsageSerializer(rows, many=True).data)


def register(router: BaseRouter) -> None:
    router.register("prompt-categories", PromptCategoryViewSet, basename="prompt-category")
    router.register("prompt-templates", PromptTemplateViewSet, basename="prompt-template")
    router.register("generation-backends", GenerationBackendViewSet, basename="generation-backend")
    router.register("generation-jobs", GenerationJobViewSet, basename="generation-job")
    router.register("generation-usage", GenerationUsageViewSet, basename="generation-usage")
    router.register("captions", CaptionViewSet, basename="caption")
