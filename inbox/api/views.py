"""Inbox API: conversations (list, filter, assign, status), their messages (list, send) and notes, saved
scripts, and chatter metrics.

Every queryset goes through tenancy: a conversation of a creator outside the caller's team answers 404
like one that does not exist. Every POST honours `Idempotency-Key` (the base viewset); a send also
carries the key into the message, so even a retry after the stored answer expired queues nothing twice.
The send gate's refusals are 400s in the error envelope, each reason in `details`.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any, cast

from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer
from rest_framework.settings import api_settings

from accounts import tenancy
from accounts.api.viewsets import TenantModelViewSet, TenantViewSetMixin, principal_of
from accounts.models import Creator, Membership, User
from content.models import Asset
from core.api.pagination import CursorPagination
from core.idempotency import HEADER, principal_label
from inbox import metrics, services
from inbox.api.filtersets import ConversationFilterSet, ScriptFilterSet
from inbox.api.serializers import (
    AssignSerializer,
    ConversationSerializer,
    FanNoteOutSerializer,
    MessageSerializer,
    MetricsQuerySerializer,
    MetricsSerializer,
    NoteSerializer,
    ScriptSerializer,
    SendSerializer,
    StatusSerializer,
)
from inbox.metrics import MAX_DAYS, Period, period_of
from inbox.models import Conversation, FanNote, Message, Script

REFUSED = OpenApiResponse(description="Refused (the send gate, a bad id); `details` says why.")


def message_key(request: Request) -> str | None:
    """The request's Idempotency-Key as the message's own key, scoped to the caller (keys are unique across
    every message, and one caller's key must never answer with another's message)."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        return None
    return hashlib.sha256(f"api:{principal_label(request)}:{key}".encode()).hexdigest()


class MessagePagination(CursorPagination):
    """A thread newest first, through the (conversation, -created_at) index."""

    ordering = ("-created_at", "-pk")


class TenantActionsMixin(TenantViewSetMixin):
    def require(self, obj: Model, action_name: str, model: type[Model] | None = None) -> None:
        """Object actions change rows: seeing the conversation is not enough."""
        allowed = tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), principal_of(self.request),
                                   action_name, via=model)
        if not allowed.exists():
            raise exceptions.PermissionDenied("You may view this but not change it.")


def acting_user(request: Request) -> User | None:
    """The person behind the request: the signed-in user, or the owner of the API key."""
    principal = principal_of(request)
    owner = getattr(principal, "owner", None)
    if isinstance(owner, User):
        return owner
    return principal if isinstance(principal, User) else None


@extend_schema_view(
    list=extend_schema(summary="Conversations the caller may see, newest first"),
    retrieve=extend_schema(summary="One conversation with its fan, status, wait and unread count"),
)
class ConversationViewSet(TenantActionsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    queryset = Conversation.objects.select_related("fan", "account")
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilterSet

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        # The base check asks for the conversation's own "add" on every POST; here a POST adds a message or a
        # note to it, or changes it, and each action names what it needs (`require`).
        super(TenantViewSetMixin, self).check_object_permissions(request, obj)

    def _answer(self, conversation: Conversation, code: int = status.HTTP_200_OK) -> Response:
        return Response(ConversationSerializer(self.get_queryset().get(pk=conversation.pk)).data, status=code)

    @extend_schema(summary="Give the conversation to a person of the creator's team (null: back to the pool)",
                   request=AssignSerializer, responses={200: ConversationSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def assign(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        self.require(conversation, "change")
        incoming = AssignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        to = None
        if incoming.validated_data["assignee"] is not None:
            to = self._teammate(conversation, incoming.validated_data["assignee"])
        services.assign(conversation, to, by=acting_user(request))
        return self._answer(conversation)

    def _teammate(self, conversation: Conversation, user_id: int) -> User:
        member = Membership.objects.filter(creator_id=conversation.creator_id, user_id=user_id,
                                           user__is_active=True).select_related("user").first()
        person = member.user if member is not None else User.objects.filter(
            pk=user_id, is_active=True, is_superuser=True).first()
        if person is None or not tenancy.can_reach_creator(person, conversation.creator_id, Conversation):
            raise exceptions.ValidationError({"assignee": ["Not a person of this creator's team."]})
        return person

    @extend_schema(summary="Open, pending, snoozed (until a time) or closed", request=StatusSerializer,
                   responses={200: ConversationSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[], pagination_class=None)
    def set_status(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        self.require(conversation, "change")
        incoming = StatusSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        services.set_status(conversation, data["status"], by=acting_user(request), snoozed_until=data["snoozed_until"])
        return self._answer(conversation)

    @extend_schema(methods=["GET"], summary="The thread, newest first (internal notes included)",
                   responses={200: MessageSerializer(many=True)})
    @extend_schema(methods=["POST"], summary="Send a message to the fan: queued after the send gate passed",
                   description="Honours `Idempotency-Key`: a retry answers the first message and queues nothing "
                               "new. A refusal of the gate (blocked words, media not cleared, a price without "
                               "media or outside the platform's range, a held conversation) answers 400 with "
                               "its reasons.",
                   request=SendSerializer, responses={201: MessageSerializer, 400: REFUSED})
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=MessagePagination)
    def messages(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        if request.method == "POST":
            return self._send(request, conversation)
        rows = tenancy.restrict(Message.objects.filter(conversation=conversation), principal_of(request))
        page = self.paginate_queryset(rows.prefetch_related("assets"))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    def _send(self, request: Request, conversation: Conversation) -> Response:
        self.require(conversation, "add", model=Message)
        incoming = SendSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        assets = self._assets(conversation.creator_id, data["asset_ids"])
        script = None
        if data["script"] is not None:
            script = tenancy.restrict(Script.objects.filter(pk=data["script"], creator_id=conversation.creator_id),
                                      principal_of(request)).first()
            if script is None:
                raise exceptions.ValidationError({"script": ["Unknown script for this creator."]})
        message = services.send(conversation, by=acting_user(request), text=data["text"], assets=assets,
                                price_minor=data["price_minor"],
                                origin=Message.Origin.SCRIPT if script else Message.Origin.MANUAL, script=script,
                                idempotency_key=message_key(request))
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    def _assets(self, creator_id: int, ids: list[int]) -> list[Asset]:
        if not ids:
            return []
        mine = tenancy.restrict(Asset.objects.filter(pk__in=ids, creator_id=creator_id), principal_of(self.request))
        found = {a.pk: a for a in mine}
        if set(found) != set(ids):
            raise exceptions.ValidationError({"asset_ids": ["A message holds only its own creator's vault assets."]})
        return [found[i] for i in dict.fromkeys(ids)]

    @extend_schema(summary="Add an internal note to the thread, or a note on the fan", request=NoteSerializer,
                   responses={201: FanNoteOutSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def notes(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        incoming = NoteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        by = acting_user(request)
        if by is None:
            raise exceptions.PermissionDenied("A note is written by a person.")
        if data["on"] == "fan":
            self.require(conversation, "add", model=FanNote)
            fan_note = services.add_fan_note(conversation, by=by, text=data["text"])
            out = {"id": fan_note.pk, "on": "fan", "text": fan_note.text, "created_at": fan_note.created_at}
        else:
            self.require(conversation, "add", model=Message)
            note = services.add_note(conversation, by=by, text=data["text"])
            out = {"id": note.pk, "on": "conversation", "text": note.text, "created_at": note.created_at}
        return Response(FanNoteOutSerializer(out).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Saved replies the caller may see"),
    retrieve=extend_schema(summary="One saved reply"),
    create=extend_schema(summary="Save a reply (text screened for hard-blocked terms)",
                         responses={201: ScriptSerializer, 400: REFUSED}),
    partial_update=extend_schema(summary="Change a saved reply"),
    update=extend_schema(summary="Change a saved reply"),
    destroy=extend_schema(summary="Remove a saved reply"),
)
class ScriptViewSet(TenantModelViewSet):
    queryset = Script.objects.prefetch_related("assets")
    serializer_class = ScriptSerializer
    filterset_class = ScriptFilterSet

    def _assets(self, creator_id: int, ids: list[int] | None) -> list[Asset] | None:
        if ids is None:
            return None
        mine = tenancy.restrict(Asset.objects.filter(pk__in=ids, creator_id=creator_id), principal_of(self.request))
        found = list(mine)
        if {a.pk for a in found} != set(ids):
            raise exceptions.ValidationError({"asset_ids": ["A script holds only its own creator's vault assets."]})
        return found

    def _save(self, script: Script, data: dict[str, Any]) -> None:
        asset_ids = data.pop("asset_ids", None)
        for field, value in data.items():
            setattr(script, field, value)
        services.save_script(script, assets=self._assets(script.creator_id, asset_ids),
                             actor=principal_of(self.request))

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        self.ensure_creator_writable(data["creator_id"], Script)
        script = Script(creator=Creator.objects.get(pk=data["creator_id"]))
        data.pop("creator_id")
        self._save(script, {**data, "asset_ids": data.get("asset_ids", [])})
        serializer.instance = script

    def perform_update(self, serializer: BaseSerializer) -> None:
        script = cast(Script, serializer.instance)
        data = dict(serializer.validated_data)
        if "creator_id" in data and data.pop("creator_id") != script.creator_id:
            raise exceptions.ValidationError({"creator": ["A script stays with its creator."]})
        if "asset_ids" not in self.request.data:
            data.pop("asset_ids", None)
        self._save(script, data)

    def perform_destroy(self, instance: Script) -> None:
        services.delete_script(instance, actor=principal_of(self.request))


class OneAnswerSchema(api_settings.DEFAULT_SCHEMA_CLASS):  # type: ignore[name-defined]
    """The project's schema class, for a collection route that answers one object (a report), not a list."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


class ChatterMetricsViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """Per chatter or per shift over a period, only over creators the caller may see reporting for."""

    schema = OneAnswerSchema()
    queryset = Creator.objects.none()
    serializer_class = MetricsSerializer
    filter_backends: list[Any] = []
    pagination_class = None

    def get_queryset(self) -> QuerySet[Any]:
        return Creator.objects.none()

    @extend_schema(summary="Messages sent, first-response and reply times (p50/p90), PPV sent and bought, revenue "
                           "credited and per message",
                   parameters=[MetricsQuerySerializer],
                   responses={200: MetricsSerializer, 404: OpenApiResponse(description="No such creator.")})
    def list(self, request: Request) -> Response:
        incoming = MetricsQuerySerializer(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        period = _period(data.get("start"), data.get("end"))
        wanted = [data["creator"]] if "creator" in data else None
        scope = metrics.creator_ids_for(principal_of(request), wanted)
        if wanted is not None and scope == []:
            raise exceptions.NotFound("No such creator.")
        chatters = [data["chatter"]] if "chatter" in data else None
        build = metrics.by_shift if data["group"] == "shift" else metrics.by_chatter
        rows = [r.as_dict() for r in build(period.start, period.end, scope, chatters)] if scope != [] else []
        return Response(MetricsSerializer({"start": period.first_day, "end": period.last_day, "group": data["group"],
                                           "currency": metrics.agency_currency(), "rows": rows}).data)


def _period(start: date | None, end: date | None) -> Period:
    """[start, end] in whole days; the last 7 days to today by default, as on the admin page."""
    end = end or timezone.localdate()
    start = start or end - timedelta(days=6)
    if start > end or (end - start).days >= MAX_DAYS:
        raise exceptions.ValidationError({"start": [f"Choose a period of 1 to {MAX_DAYS} days."]})
    return period_of(start, end)


def register(router: BaseRouter) -> None:
    router.register("conversations", ConversationViewSet, basename="conversation")
    router.register("scripts", ScriptViewSet, basename="script")
    router.register("chatter-metrics", ChatterMetricsViewSet, basename="chatter-metrics")
