"""A fan's data export and erasure in the admin: changelist actions on the Fan admin (analytics), added
through `analytics.extensions` from `InboxConfig.ready()`, since analytics never imports the inbox.

Both need `inbox.privacy.PRIVACY_PERMISSION` (managers, the owner) for the fan's creator: the Fan admin
hands the action only the selected fans of such creators, 404 when none is. Export answers one fan's
request at a time (a JSON download); erasure asks for the request's reference first. The services audit.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header

from analytics.extensions import FanAction
from analytics.models import Fan
from compliance.views import ReasonForm, render_action_form
from inbox import privacy
from inbox.models import Conversation

ERASURE_INTRO = (
    "Erasure blanks the fan's handle, tags and notes, replaces their platform id, deletes the notes written "
    "about them and empties every message and draft of their conversations. Purchases stay in the ledger "
    "with their amounts (accounting law requires them), attached to a fan who is no longer named. A later "
    "message from the same person starts a new fan.")


def export_response(data: dict[str, object], fan: Fan) -> HttpResponse:
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"fan-{fan.pk}-data.json") or "attachment"
    response["Cache-Control"] = "no-store, private, max-age=0"
    return response


def export_fans(request: HttpRequest, fans: QuerySet[Fan]) -> HttpResponse | None:
    chosen = list(fans.select_related("creator")[:2])
    if len(chosen) > 1:
        messages.error(request, "Export one fan at a time: each export answers one person's request.")
        return None
    fan = chosen[0]
    return export_response(privacy.export_fan(fan, actor=request.user), fan)


def erase_fans(request: HttpRequest, fans: QuerySet[Fan], *, action_name: str = "inbox_erase_fans",
               changelist: str = "admin:analytics_fan_changelist",
               selected: list[int] | None = None) -> HttpResponse | None:
    chosen = list(fans.select_related("creator"))
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        for fan in chosen:
            counts = privacy.erase_fan(fan, actor=request.user, reason=form.cleaned_data["reason"])
            messages.success(request, f"Fan #{fan.pk} erased: {counts['messages_emptied']} messages emptied, "
                                      f"{counts['notes_deleted']} notes deleted, {counts['purchases_kept']} "
                                      f"purchases kept without a name.")
        return None
    return render_action_form(
        request, title="Erase fans' data (data-subject request)", intro=ERASURE_INTRO, form=form,
        submit_label="Erase", items=chosen, opts=Fan._meta, danger=True,
        hidden={"action": action_name, ACTION_CHECKBOX_NAME: selected or [f.pk for f in chosen], "apply": "1"},
        cancel_url=reverse(changelist))


FAN_EXPORT_ACTION = FanAction(name="inbox_export_fan", description="Export the fan's data (JSON)",
                              permission=privacy.PRIVACY_PERMISSION, run=export_fans)
FAN_ERASE_ACTION = FanAction(name="inbox_erase_fans", description="Erase the fans' data (data-subject request)",
                             permission=privacy.PRIVACY_PERMISSION, run=erase_fans)


# --- The same from the conversation list ---------------------------------------------------------------------
# For the conversation admin (the chatter screen's): list them in `actions` and give the admin
# `has_privacy_permission = permission_check(privacy.PRIVACY_PERMISSION)`; the guard hands them only the
# selected conversations of creators where the person holds it.


def _fans_of(conversations: QuerySet[Conversation]) -> QuerySet[Fan]:
    return Fan.objects.filter(pk__in=conversations.values("fan_id"))


@admin.action(description="Export the fan's data (JSON)", permissions=["privacy"])
def export_conversation_fan(model_admin: Any, request: HttpRequest,
                            conversations: QuerySet[Conversation]) -> HttpResponse | None:
    return export_fans(request, _fans_of(conversations))


@admin.action(description="Erase the fans' data (data-subject request)", permissions=["privacy"])
def erase_conversation_fans(model_admin: Any, request: HttpRequest,
                            conversations: QuerySet[Conversation]) -> HttpResponse | None:
    return erase_fans(request, _fans_of(conversations), action_name="erase_conversation_fans",
                      changelist="admin:inbox_conversation_changelist",
                      selected=list(conversations.values_list("pk", flat=True)))
