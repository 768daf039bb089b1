"""Scheduling API: platform accounts, queue slots, posts, publications and the calendar.

Every state change goes through `scheduling.services`; every queryset through tenancy. A refusal
by the compliance gate answers 422 with the gate's reasons in `details`, so the person scheduling
sees what to fix; a move the publication's state does not allow answers 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantViewSetMixin, principal_of
from compliance.gate import Verdict
from content.models import Asset, Collection
from core.api import errors
from core.api.pagination import CursorPagination
from scheduling import services
from scheduling.api.filtersets import (
    PlatformAccountFilterSet,
    PostFilterSet,
    PublicationFilterSet,
    QueueSlotFilterSet,
)
from scheduling.api.serializers import (
    CalendarItemSerializer,
    CalendarQuerySerializer,
    CaptionOverrideSerializer,
    DueTimeSerializer,
    PlatformAccountSerializer,
    PostCreateSerializer,
    PostSerializer,
    PostUpdateSerializer,
    PostVerdictsSerializer,
    PublicationSerializer,
    QueueSlotSerializer,
    SubmitResultSerializer,
)
from scheduling.calendar import calendar_range
from scheduling.models import PlatformAccount, Post, Publication, QueueSlot

CONFLICT = OpenApiResponse(description="The current state does not allow it; `message` says why.")
GATE_REFUSED = OpenApiResponse(description="The compliance gate refused; `details` lists the reasons.")


def gate_refused(verdict: Verdict) -> errors.Refused:
    return errors.Refused("The compliance gate refused this publication at that time.", code="gate_refused",
                          http_status=status.HTTP_422_UNPROCESSABLE_ENTITY,
                          details=[reason.to_dict() for reason in verdict.reasons])


class TenantActionsMixin(TenantViewSetMixin):
    def require(self, obj: Model, action_name: str) -> None:
        """Object actions (submit, schedule…) change rows: seeing the row is not enough."""
        allowed = tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), principal_of(self.request),
                                   action_name)
        if not allowed.exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")


# --- Platform accounts and queue slots ----------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Platform accounts the caller may see (never their credentials)"),
    retrieve=extend_schema(summary="One platform account: state, token expiry, granted scopes"),
    create=extend_schema(summary="Add an account; it waits for authorisation on the platform before publishing"),
    partial_update=extend_schema(summary="Change handle, options, a stricter rating ceiling, or disable it"),
    update=extend_schema(summary="Change handle, options, a stricter rating ceiling, or disable it"),
)
class PlatformAccountViewSet(TenantModelViewSet):
    """Accounts are disabled, never deleted: their publications keep pointing at them."""

    queryset = PlatformAccount.objects.select_related("creator")
    serializer_class = PlatformAccountSerializer
    filterset_class = PlatformAccountFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def _save(self, account: PlatformAccount) -> None:
        services.save_account(account, actor=principal_of(self.request))

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        self.ensure_creator_writable(data["creator_id"], PlatformAccount)
        account = PlatformAccount(**data)
        account.state = data.get("state") or services.initial_state(account.platform)
        self._save(account)
        serializer.instance = account

    def perform_update(self, serializer: BaseSerializer) -> None:
        account: PlatformAccount = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(account, field, value)
        self._save(account)


@extend_schema_view(
    list=extend_schema(summary="Weekly queue slots (filter by account or creator)"),
    retrieve=extend_schema(summary="One queue slot"),
    create=extend_schema(summary="Add a weekly slot (creator's local time)"),
)
class QueueSlotViewSet(TenantModelViewSet):
    queryset = QueueSlot.objects.select_related("account")
    serializer_class = QueueSlotSerializer
    filterset_class = QueueSlotFilterSet

    def _account(self, account_id: int, action_name: str) -> PlatformAccount:
        account = tenancy.restrict(PlatformAccount.objects.filter(pk=account_id), principal_of(self.request)).first()
        if account is None or not tenancy.can_reach_creator(principal_of(self.request), account.creator_id,
                                                            QueueSlot, action_name):
            raise exceptions.ValidationError({"account_id": ["Unknown account."]})
        return account

    def _save(self, slot: QueueSlot, data: dict[str, Any]) -> QueueSlot:
        for field, value in data.items():
            setattr(slot, field, value)
        return services.save_queue_slot(slot, actor=principal_of(self.request))

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._account(serializer.validated_data["account_id"], "add")
        serializer.instance = self._save(QueueSlot(), serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        account_id = serializer.validated_data.get("account_id")
        if account_id is not None and account_id != serializer.instance.account_id:
            raise exceptions.ValidationError({"account_id": ["A slot stays with its account; add a new one."]})
        self._save(serializer.instance, serializer.validated_data)

    def perform_destroy(self, instance: QueueSlot) -> None:
        services.delete_queue_slot(instance, actor=principal_of(self.request))


# --- Posts --------------------------------------------------------------------------------------


def _verdict_rows(publications: list[Publication], verdicts: dict[int, Verdict]) -> list[dict[str, Any]]:
    return [{"publication_id": pub.pk, "account_id": pub.account_id, "platform": pub.account.platform,
             "status": pub.status, "passed": verdicts[pub.pk].passed,
             "reasons": [reason.to_dict() for reason in verdicts[pub.pk].reasons]}
            for pub in publications if pub.pk in verdicts]


@extend_schema_view(
    list=extend_schema(summary="Posts the caller may see, newest first"),
    retrieve=extend_schema(summary="One post with its ordered assets and its publications"),
)
class PostViewSet(TenantActionsMixin, TenantModelViewSet):
    queryset = Post.objects.prefetch_related(
        "post_assets", Prefetch("publications", queryset=Publication.objects.select_related("account").order_by("id")))
    serializer_class = PostSerializer
    filterset_class = PostFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _reloaded(self, post: Post) -> Post:
        return self.get_queryset().get(pk=post.pk)

    def _assets(self, creator_id: int, ids: list[int]) -> list[int]:
        mine = Asset.objects.filter(pk__in=ids, creator_id=creator_id)
        found = set(tenancy.restrict(mine, principal_of(self.request)).values_list("pk", flat=True))
        if found != set(ids):
            raise exceptions.ValidationError({"asset_ids": ["A post holds only its own creator's assets."]})
        return ids

    def _collection(self, creator_id: int, collection_id: int | None) -> Collection | None:
        if collection_id is None:
            return None
        mine = Collection.objects.filter(pk=collection_id, creator_id=creator_id)
        found = tenancy.restrict(mine, principal_of(self.request)).first()
        if found is None:
            raise exceptions.ValidationError({"collection_id": ["Unknown collection for this creator."]})
        return found

    def _accounts(self, creator_id: int, targets: list[dict[str, Any]]) -> dict[int, PlatformAccount]:
        ids = [t["account_id"] for t in targets]
        mine = PlatformAccount.objects.filter(pk__in=ids, creator_id=creator_id)
        found = {a.pk: a for a in tenancy.restrict(mine, principal_of(self.request))}
        if set(found) != set(ids):
            raise exceptions.ValidationError({"targets": ["A post goes only to its own creator's accounts."]})
        disabled = [str(a) for a in found.values() if a.state == PlatformAccount.State.DISABLED]
        if disabled:
            raise exceptions.ValidationError({"targets": [f"{', '.join(disabled)}: disabled."]})
        return found

    @extend_schema(summary="Compose a post; each target account gets a draft publication",
                   request=PostCreateSerializer, responses={201: PostSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = PostCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        creator_id = data["creator"]
        self.ensure_creator_writable(creator_id, Post)
        asset_ids = self._assets(creator_id, data["asset_ids"])
        collection = self._collection(creator_id, data["collection_id"])
        accounts = self._accounts(creator_id, data["targets"])
        post = services.create_post(
            creator_id=creator_id, caption=data["caption"], asset_ids=asset_ids, collection=collection,
            targets=[(accounts[t["account_id"]], t["caption_override"]) for t in data["targets"]],
            price_minor=data["price_minor"], currency=data["currency"], actor=principal_of(request))
        return Response(PostSerializer(self._reloaded(post)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Edit caption, price, assets, collection or targets; an approved post goes back for "
                           "approval and its scheduled publications with it (`approval_stale`)",
                   request=PostUpdateSerializer, responses={200: PostSerializer, 409: CONFLICT})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        post = self.get_object()
        incoming = PostUpdateSerializer(data=request.data, context={"post": post})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if "asset_ids" in data:
            self._assets(post.creator_id, data["asset_ids"])
        collection = self._collection(post.creator_id, data["collection_id"]) if "collection_id" in data \
            else services.KEEP
        targets = None
        if "targets" in data:
            accounts = self._accounts(post.creator_id, data["targets"])
            targets = [(accounts[t["account_id"]], t["caption_override"]) for t in data["targets"]]
        try:
            services.update_post(post, actor=principal_of(request), caption=data.get("caption"),
                                 asset_ids=data.get("asset_ids"), price_minor=data.get("price_minor", services.KEEP),
                                 currency=data.get("currency"), collection=collection, targets=targets)
        except DjangoValidationError as exc:
            raise errors.conflict(exc) from None
        return Response(PostSerializer(self._reloaded(post)).data)

    @extend_schema(summary="Delete a post and its unpublished publications",
                   responses={204: None, 409: CONFLICT})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        post = self.get_object()
        try:
            services.delete_post(post, actor=principal_of(request))
        except DjangoValidationError as exc:
            raise errors.conflict(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Send the post's draft publications for approval", request=None,
                   responses={200: SubmitResultSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def submit(self, request: Request, pk: str | None = None) -> Response:
        post = self.get_object()
        self.require(post, "change")
        submitted = services.submit_post(post, actor=principal_of(request))
        return Response(SubmitResultSerializer({"submitted": submitted, "post": self._reloaded(post)}).data)

    @extend_schema(
        summary="Approve the post; every pending publication is judged by the gate and its verdict returned",
        request=None, responses={200: PostVerdictsSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request: Request, pk: str | None = None) -> Response:
        post = self.get_object()
        self.require(post, "change")
        try:
            verdicts = services.approve_post(post, actor=principal_of(request))
        except DjangoValidationError as exc:
            raise errors.conflict(exc, code="approval_refused", itemised=True) from None
        post = self._reloaded(post)
        rows = _verdict_rows(list(post.publications.all()), verdicts)
        return Response(PostVerdictsSerializer(
            {"post": post, "all_passed": all(r["passed"] for r in rows), "verdicts": rows}).data)

    @extend_schema(summary="What the gate would say now for each publication (changes nothing)",
                   responses={200: PostVerdictsSerializer})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def check(self, request: Request, pk: str | None = None) -> Response:
        post = self.get_object()
        pubs = list(post.publications.select_related("post", "account").order_by("id"))
        verdicts = {pub.pk: services.check(pub) for pub in pubs}
        rows = _verdict_rows(pubs, verdicts)
        return Response(PostVerdictsSerializer(
            {"post": post, "all_passed": all(r["passed"] for r in rows), "verdicts": rows}).data)


# --- Publications and the calendar --------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Publications the caller may see, newest first",
        description="Ordered by id, newest first: the cursor seeks on an index, so every page costs the same at "
                    "any depth. For a window of due times filter on `scheduled_at_after`/`scheduled_at_before`; "
                    "for due-time order use the calendar."),
    retrieve=extend_schema(summary="One publication with its block reasons, last error and attempts"),
)
class PublicationViewSet(TenantActionsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Publications are created with their post and leave by cancelling; times move only through
    schedule/reschedule/add-to-queue, which run the gate."""

    queryset = Publication.objects.select_related("creator", "account")
    serializer_class = PublicationSerializer
    filterset_class = PublicationFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _answer(self, pub: Publication) -> Response:
        return Response(PublicationSerializer(self.get_queryset().get(pk=pub.pk)).data)

    @extend_schema(summary="Change this account's caption, while the publication can still change",
                   request=CaptionOverrideSerializer, responses={200: PublicationSerializer, 409: CONFLICT})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pub = self.get_object()
        incoming = CaptionOverrideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.set_caption_override(pub, incoming.validated_data["caption_override"],
                                          actor=principal_of(request))
        except DjangoValidationError as exc:
            raise errors.conflict(exc) from None
        return self._answer(pub)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    def _due_time(self, request: Request, pub: Publication) -> datetime:
        incoming = DueTimeSerializer(data=request.data, context={"creator_timezone": pub.creator.timezone})
        incoming.is_valid(raise_exception=True)
        return incoming.validated_data["at"]

    def _move(self, request: Request, move: Any) -> Response:
        pub = self.get_object()
        self.require(pub, "change")
        try:
            outcome = move(pub)
        except DjangoValidationError as exc:
            raise errors.conflict(exc) from None
        if isinstance(outcome, services.ScheduleOutcome) and not outcome.verdict.passed:
            raise gate_refused(outcome.verdict)
        return self._answer(pub)

    @extend_schema(summary="Put an approved publication on the calendar; the gate runs for that time",
                   request=DueTimeSerializer,
                   responses={200: PublicationSerializer, 409: CONFLICT, 422: GATE_REFUSED})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        return self._move(request, lambda pub: services.schedule(
            pub, at=self._due_time(request, pub), actor=principal_of(request)))

    @extend_schema(summary="Move a publication to another time; the gate runs for the new time",
                   request=DueTimeSerializer,
                   responses={200: PublicationSerializer, 409: CONFLICT, 422: GATE_REFUSED})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reschedule(self, request: Request, pk: str | None = None) -> Response:
        return self._move(request, lambda pub: services.reschedule(
            pub, at=self._due_time(request, pub), actor=principal_of(request)))

    @extend_schema(summary="Schedule at the account's next free queue slot", request=None,
                   responses={200: PublicationSerializer, 409: CONFLICT, 422: GATE_REFUSED})
    @action(detail=True, methods=["post"], url_path="add-to-queue", filter_backends=[], pagination_class=None)
    def add_to_queue(self, request: Request, pk: str | None = None) -> Response:
        return self._move(request, lambda pub: services.add_to_queue(pub, actor=principal_of(request)))

    @extend_schema(summary="Cancel a publication that has not gone out", request=None,
                   responses={200: PublicationSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._move(request, lambda pub: services.cancel(pub, actor=principal_of(request)))


class CalendarPagination(CursorPagination):
    """By due time: the range filter leaves no unscheduled row, so the cursor seeks on
    (scheduled_at, id) through the scheduled_at and (creator, scheduled_at) indexes."""

    ordering = ("scheduled_at", "pk")


class CalendarViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """The calendar as compact items, a page at a time. Cancelled publications are left out."""

    queryset = Publication.objects.select_related("post", "creator", "account")
    serializer_class = CalendarItemSerializer
    filter_backends: list[Any] = []
    pagination_class = CalendarPagination

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().exclude(status=Publication.Status.CANCELLED)

    @extend_schema(summary="Publications due between `start` and `end` (at most 62 days), by due time",
                   description="Cursor-paged like every list: follow `next` for the rest of the range.",
                   parameters=[CalendarQuerySerializer], responses={200: CalendarItemSerializer(many=True)})
    def list(self, request: Request) -> Response:
        incoming = CalendarQuerySerializer(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        items = calendar_range(self.get_queryset(), data["start"], data["end"])
        if "creator" in data:
            items = items.filter(creator_id=data["creator"])
        if "account" in data:
            items = items.filter(account_id=data["account"])
        page = self.paginate_queryset(items)
        return self.get_paginated_response(CalendarItemSerializer(page, many=True).data)


def register(router: BaseRouter) -> None:
    router.register("platform-accounts", PlatformAccountViewSet, basename="platform-account")
    router.register("queue-slots", QueueSlotViewSet, basename="queue-slot")
    router.register("posts", PostViewSet, basename="post")
    router.register("publications", PublicationViewSet, basename="publication")
    router.register("calendar", CalendarViewSet, basename="calendar")
