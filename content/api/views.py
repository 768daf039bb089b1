"""Content API: the vault for integrations — list, upload (multipart or presigned S3), review, collections.

Every state change goes through `content.services`; every queryset through tenancy.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
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
from content import services, views_files
from content.api import studio as studio_api
from content.api.filtersets import AssetFilterSet, CollectionFilterSet
from content.api.serializers import (
    AssetSerializer,
    CollectionSerializer,
    ConfirmSerializer,
    PresignedPostSerializer,
    PresignSerializer,
    RejectSerializer,
    RenditionSerializer,
    UploadResultSerializer,
    UploadSerializer,
)
from content.models import Asset, Collection, CollectionItem
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


def register(router: BaseRouter) -> None:
    router.register("assets", AssetViewSet, basename="asset")
    router.register("collections", CollectionViewSet, basename="collection")
    studio_api.register(router)
