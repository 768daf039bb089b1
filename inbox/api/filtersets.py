"""Filters for the inbox API. Relations filter by id, never through a choice list: a choice list would
answer differently for an id that exists elsewhere and one that does not."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.api.filters import BooleanFilter, FilterSet, IdFilter
from inbox.models import Conversation, Script


class ConversationFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    account = IdFilter(field_name="account_id", label="Platform account id")
    fan = IdFilter(field_name="fan_id", label="Fan id")
    assignee = IdFilter(field_name="assignee_id", label="Assigned person's id")
    mine = BooleanFilter(method="filter_mine", label="Assigned to the caller")
    unread = BooleanFilter(field_name="unread_count", lookup_expr="gt", method="filter_unread",
                                          label="Has messages nobody opened")
    waiting = BooleanFilter(field_name="waiting_since", lookup_expr="isnull", exclude=True,
                                           label="A fan waits for an answer")

    class Meta:
        model = Conversation
        fields = ["creator", "account", "fan", "assignee", "status", "mode", "priority", "mine", "unread",
                  "waiting"]

    def filter_mine(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        if value is None:
            return queryset
        user = getattr(self.request, "user", None)
        user_id = getattr(getattr(self.request, "auth", None), "owner_id", None) or getattr(user, "pk", None)
        return queryset.filter(assignee_id=user_id) if value else queryset.exclude(assignee_id=user_id)

    def filter_unread(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        if value is None:
            return queryset
        return queryset.filter(unread_count__gt=0) if value else queryset.filter(unread_count=0)


class ScriptFilterSet(FilterSet):
    creator = IdFilter(field_name="creator_id", label="Creator id")
    active = BooleanFilter(label="In use")

    class Meta:
        model = Script
        fields = ["creator", "category", "active"]
