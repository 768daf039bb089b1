"""Content API: the vault for integrations — list, upload (multipart or presigned S3), review, collections —
and the AI studio: prompt templates, backends, generation jobs, caption suggestions and usage.

Every state change goes through `content.services` or `content.studio` (which screens prompts and
audits); every creator-owned queryset through tenancy. Backends and prompt categories belong to the
agency, not to a creator: whoever may view them for some creator sees them all, and a backend's key
never leaves the database.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, QuerySet
from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantViewSetMixin, principal_of
from accounts.models import Creator
from compliance.models import Performer
from content import services, studio, views_files
from content.api.filtersets import (
    AssetFilterSet,
    CollectionFilterSet,
    GenerationJobFilterSet,
    GenerationUsageFilterSet,
    PromptTemplateFilterSet,
)
from content.api.serializers import (
    AssetSerializer,
    CaptionSuggestionsSerializer,
    CaptionSuggestRequestSerializer,
    CollectionSerializer,
    ConfirmSerializer,
    GenerationBackendSerializer,
    GenerationJobCreateSerializer,
    GenerationJobSerializer,
    GenerationUsageSerializer,
    MonthlyUsageSerializer,
    PresignedPostSerializer,
    PresignSerializer,
    PromptCategorySerializer,
    PromptTemplateSerializer,
    RejectSerializer,
    RenditionSerializer,
    UploadResultSerializer,
    UploadSerializer,
)
from content.models import (
    Asset,
    Collection,
    CollectionItem,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    PromptCategory,
    PromptTemplate,
)
from core.api import errors
from core.api.parsers import JSONParser

REFUSED = OpenApiResponse(description="The file was refused (type, size, corrupt or dangerous), with the reason.")


@extend_schema_view(
    list=extend_schema(summary="Assets the caller may see"),
    retrieve=extend_schema(summary="One asset with its renditions"),
)
class AssetViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   viewsets.GenericViewSet):
    """Assets are created by upload only and leave by archiving; there is no edit or delete here."""

    queryset = Asset.objects.select_related("creator").prefetch_related("tags", "performers", "renditions")
    serializer_class = AssetSerializer
    filterset_class = AssetFilterSet
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def _creator(self, creator_id: int) -> Creator:
        self.ensure_creator_writable(creator_id, Asset)
        return Creator.objects.get(pk=creator_id)

    def _meta(self, data: dict[str, Any], creator: Creator) -> dict[str, Any]:
        performer_ids = data.get("performers") or []
        linked = Performer.objects.filter(pk__in=performer_ids, creator_links__creator=creator)
        performers = list(tenancy.restrict(linked, principal_of(self.request)))
        if len(performers) != len(set(performer_ids)):
            raise exceptions.ValidationError({"performers": ["Unknown performer for this creator."]})
        return {"rating": data["rating"], "origin": data["origin"], "title": data.get("title") or "",
                "performers": performers, "tags": data.get("tags") or [],
                "production_date": data.get("production_date"),
                "no_real_person_attested": data.get("no_real_person_attested", False)}

    def _result(self, result: services.IngestResult) -> Response:
        payload = {"duplicate": not result.created, "message": result.message, "asset": result.asset}
        serializer = UploadResultSerializer(payload, context=self.get_serializer_context())
        return Response(serializer.data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        summary="Upload one file (multipart); the same bytes twice for a creator answer the existing asset",
        request={"multipart/form-data": UploadSerializer},
        responses={201: UploadResultSerializer, 200: UploadResultSerializer, 400: REFUSED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = UploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self._creator(data["creator"])
        upload = data["file"]
        try:
            result = services.ingest(creator=creator, source=upload, filename=upload.name,
                                     actor=principal_of(request), **self._meta(data, creator))
        except DjangoValidationError as exc:
            raise errors.invalid(exc, "file") from exc
        return self._result(self._reloaded(result))

    def _reloaded(self, result: services.IngestResult) -> services.IngestResult:
        asset = self.get_queryset().get(pk=result.asset.pk) if result.asset.pk else result.asset
        return services.IngestResult(asset, created=result.created, reprocessing=result.reprocessing)

    @extend_schema(summary="Start a large upload: a presigned S3 POST for one file", request=PresignSerializer,
                   responses={200: PresignedPostSerializer,
                              400: OpenApiResponse(description="Not on S3 storage, or a bad size.")})
    @action(detail=False, methods=["post"], url_path="presign", filter_backends=[], pagination_class=None)
    def presign(self, request: Request) -> Response:
        incoming = PresignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self._creator(data["creator"])
        post = services.presign_upload(creator=creator, filename=data["filename"], size=data["size"],
                                       actor=principal_of(request))
        return Response(PresignedPostSerializer(post).data)

    @extend_schema(summary="Finish a large upload: ingest the presigned object, then drop the staging copy",
                   request=ConfirmSerializer,
                   responses={201: UploadResultSerializer, 200: UploadResultSerializer, 400: REFUSED})
    @action(detail=False, methods=["post"], url_path="confirm", filter_backends=[], pagination_class=None)
    def confirm(self, request: Request) -> Response:
        incoming = ConfirmSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator = self._creator(data["creator"])
        try:
            result = services.confirm_upload(creator=creator, key=data["key"], filename=data.get("filename") or "",
                                             actor=principal_of(request), **self._meta(data, creator))
        except DjangoValidationError as exc:
            raise errors.invalid(exc, "key") from exc
        return self._result(self._reloaded(result))

    def _review(self, request: Request, fn: Any, **kwargs: Any) -> Response:
        asset = self.get_object()
        if not tenancy.restrict(Asset.objects.filter(pk=asset.pk), principal_of(request), "change").exists():
            raise exceptions.PermissionDenied("You may view this asset but not review it.")
        fn(asset, actor=principal_of(request), **kwargs)
        return Response(AssetSerializer(self.get_queryset().get(pk=asset.pk), context=self.get_serializer_context())
                        .data)

    @extend_schema(summary="Submit for review", request=None,
                   responses={200: AssetSerializer, 400: OpenApiResponse(description="Not allowed from this status.")})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def submit(self, request: Request, pk: str | None = None) -> Response:
        return self._review(request, services.submit_for_review)

    @extend_schema(summary="Approve (someone other than the uploader, unless the creator turned four eyes off)",
                   request=None,
                   responses={200: AssetSerializer, 400: OpenApiResponse(description="Four eyes, or wrong status.")})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._review(request, services.approve)

    @extend_schema(summary="Reject with a reason", request=RejectSerializer,
                   responses={200: AssetSerializer, 400: OpenApiResponse(description="No reason, or wrong status.")})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request: Request, pk: str | None = None) -> Response:
        incoming = RejectSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return self._review(request, services.reject, reason=incoming.validated_data["reason"])

    @extend_schema(summary="The asset's renditions", responses={200: RenditionSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def renditions(self, request: Request, pk: str | None = None) -> Response:
        asset = self.get_object()
        return Response(RenditionSerializer(asset.renditions.all(), many=True,
                                            context=self.get_serializer_context()).data)

    @extend_schema(summary="Download the original: a redirect to a signed link that expires within a minute",
                   request=None,
                   responses={302: OpenApiResponse(description="`Location` is the signed link (audited)."),
                              404: OpenApiResponse(description="No such asset, or out of the caller's reach.")})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def original(self, request: Request, pk: str | None = None) -> HttpResponseRedirect:
        asset = self.get_object()
        base = f"{request.scheme}://{request.get_host()}"
        return HttpResponseRedirect(views_files.original_link(asset, actor=principal_of(request), base=base))


@extend_schema_view(
    list=extend_schema(summary="Collections (vault folders and sellable packs)"),
    retrieve=extend_schema(summary="One collection with its ordered asset ids"),
)
class CollectionViewSet(TenantModelViewSet):
    queryset = Collection.objects.prefetch_related(
        Prefetch("items", queryset=CollectionItem.objects.order_by("position", "id")))
    serializer_class = CollectionSerializer
    filterset_class = CollectionFilterSet
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def _assets(self, creator_id: int, ids: list[int]) -> list[Asset]:
        found = {a.pk: a for a in tenancy.restrict(Asset.objects.filter(pk__in=ids, creator_id=creator_id),
                                                   principal_of(self.request))}
        if len(found) != len(set(ids)):
            raise exceptions.ValidationError({"asset_ids": ["A collection holds only its own creator's assets."]})
        return [found[i] for i in dict.fromkeys(ids)]

    def _save(self, serializer: BaseSerializer, collection: Collection) -> None:
        data = dict(serializer.validated_data)
        asset_ids = data.pop("asset_ids", None)
        cover_id = data.pop("cover_id", collection.cover_id)
        data.pop("creator_id", None)
        for field, value in data.items():
            setattr(collection, field, value)
        if cover_id is not None:
            self._assets(collection.creator_id, [cover_id])
        collection.cover_id = cover_id
        assets = self._assets(collection.creator_id, asset_ids) if asset_ids is not None else None
        services.save_collection(collection, assets=assets, actor=principal_of(self.request))
        serializer.instance = Collection.objects.prefetch_related(
            Prefetch("items", queryset=CollectionItem.objects.order_by("position", "id"))).get(pk=collection.pk)

    def perform_create(self, serializer: BaseSerializer) -> None:
        creator_id = serializer.validated_data.get("creator_id")
        self.ensure_creator_writable(creator_id, Collection)
        self._save(serializer, Collection(creator_id=creator_id))

    def perform_destroy(self, instance: Collection) -> None:
        services.delete_collection(instance, actor=principal_of(self.request))

    def perform_update(self, serializer: BaseSerializer) -> None:
        creator_id = serializer.validated_data.get("creator_id")
        if creator_id is not None and creator_id != serializer.instance.creator_id:
            raise exceptions.ValidationError({"creator": ["A collection stays with its creator."]})
        self._save(serializer, serializer.instance)


# --- AI studio -----------------------------------------------------------------------------------------

PROMPT_REFUSED = OpenApiResponse(description="Invalid fields (`invalid`), or a hard-blocked term in the "
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
        request=GenerationJobCreateSerializer, responses={202: GenerationJobSerializer, 400: PROMPT_REFUSED})
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
                   request=None, responses={201: GenerationJobSerializer, 400: PROMPT_REFUSED})
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
        request=CaptionSuggestRequestSerializer, responses={200: CaptionSuggestionsSerializer, 400: PROMPT_REFUSED})
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
    router.register("assets", AssetViewSet, basename="asset")
    router.register("collections", CollectionViewSet, basename="collection")
    router.register("prompt-categories", PromptCategoryViewSet, basename="prompt-category")
    router.register("prompt-templates", PromptTemplateViewSet, basename="prompt-template")
    router.register("generation-backends", GenerationBackendViewSet, basename="generation-backend")
    router.register("generation-jobs", GenerationJobViewSet, basename="generation-job")
    router.register("generation-usage", GenerationUsageViewSet, basename="generation-usage")
    router.register("captions", CaptionViewSet, basename="caption")
