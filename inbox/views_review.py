"""The message review page for managers: every message a chatter sent in a period, with its pay-per-view
outcome and how long the fan had waited for it; filter by chatter, creator or conversation; CSV export.

Wired through `ReportingEventAdmin.get_urls()` (inbox/admin.py). It reads fans' messages and who
wrote them, so it needs both the view permission on messages and on reporting events for a creator
(managers and the owner; a chatter reads threads in the inbox, not everyone's messages). A creator or
conversation out of reach answers 404. Every CSV export is audited; its cells go through `core.csv`.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from accounts import audit, tenancy
from accounts.models import Creator
from core import csv
from core.money import format_money
from inbox.models import Conversation, Message, ReportingEvent
from inbox.screen import read_id
from inbox.views_metrics import chatters_of, period_of, read_period, seconds_label

PAGE_SIZE = 100
CSV_MAX_ROWS = 100_000
CSV_HEADER = ["sent_at", "chatter", "creator", "fan", "platform", "conversation", "origin", "send_status", "text",
              "price", "currency", "purchased_at", "ppv_outcome", "reply_seconds"]


def review_creator_ids(user: Any) -> set[int] | None:
    """Creators whose chatters' messages `user` may review (None: every creator)."""
    messages = tenancy.allowed_creator_ids(user, Message, "view")
    events = tenancy.allowed_creator_ids(user, ReportingEvent, "view")
    if messages is tenancy.ALL:
        return events
    if events is tenancy.ALL:
        return messages
    return messages & events


def may_review_messages(user: Any) -> bool:
    ids = review_creator_ids(user)
    return ids is None or bool(ids)


def _int(raw: str | None) -> int | None:
    """An id asked for in the query string; one that is no id answers 404 like one out of reach."""
    if not raw:
        return None
    value = read_id(raw)
    if value is None:
        raise Http404("No such object.")
    return value


def reviewed_messages(creator_ids: set[int] | None, *, start: Any, end: Any, creator_id: int | None = None,
                      chatter_id: int | None = None, conversation_id: int | None = None) -> QuerySet[Message]:
    """Messages people sent in [start, end), newest first, each with the seconds its fan had waited."""
    waited = (ReportingEvent.objects.filter(message=OuterRef("pk"), seconds__isnull=False,
                                            kind__in=[ReportingEvent.Kind.FIRST_RESPONSE, ReportingEvent.Kind.REPLY])
              .order_by("pk").values("seconds")[:1])
    rows = (Message.objects.filter(direction=Message.Direction.OUT, sent_by__isnull=False,
                                   created_at__gte=start, created_at__lt=end)
            .select_related("sent_by", "creator", "conversation__fan", "account")
            .annotate(reply_seconds=Subquery(waited)).order_by("-created_at", "-pk"))
    if creator_ids is not None:
        rows = rows.filter(creator_id__in=sorted(creator_ids))
    if creator_id is not None:
        rows = rows.filter(creator_id=creator_id)
    if chatter_id is not None:
        rows = rows.filter(sent_by_id=chatter_id)
    if conversation_id is not None:
        rows = rows.filter(conversation_id=conversation_id)
    return rows


def ppv_outcome(message: Message) -> str:
    if message.price_minor is None:
        return ""
    return "bought" if message.purchased_at is not None else "not bought"


def review(request: HttpRequest) -> HttpResponse:
    user = request.user
    # A conversation out of the person's reach is absent (404) before anything else is said about the page.
    conversation = _conversation(request, None)
    if not may_review_messages(user):
        raise PermissionDenied
    allowed = review_creator_ids(user)
    if conversation is not None and allowed is not None and conversation.creator_id not in allowed:
        raise Http404("No such conversation.")
    creators = Creator.objects.order_by("stage_name")
    if allowed is not None:
        creators = creators.filter(pk__in=sorted(allowed))
    creator_id = _int(request.GET.get("creator"))
    creator = creators.filter(pk=creator_id).first() if creator_id is not None else None
    if creator_id is not None and creator is None:
        raise Http404("No such creator.")
    form, data = read_period(request.GET)
    context: dict[str, Any] = {**admin.site.each_context(request), "opts": ReportingEvent._meta,
                               "title": "Message review", "form": form, "creators": creators, "creator": creator,
                               "conversation": conversation, "rows": [], "page": None}
    if data is None:
        return render(request, "admin/inbox/message_review.html", context, status=400)
    period = period_of(data["start"], data["end"])
    chatter_id = data.get("chatter")
    rows = reviewed_messages(allowed, start=period.start, end=period.end, creator_id=creator_id,
                             chatter_id=chatter_id, conversation_id=conversation.pk if conversation else None)
    if request.GET.get("format") == "csv":
        return _csv(request, rows, period)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k not in ("page", "format")}
    base = reverse("admin:inbox_message_review")
    context.update(period=period, chatter_id=chatter_id, page=page, rows=[_display(m) for m in page],
                   people=chatters_of(sorted(allowed) if allowed is not None else None),
                   csv_url=f"{base}?{urlencode({**query, 'format': 'csv'})}",
                   page_query=urlencode(query))
    return render(request, "admin/inbox/message_review.html", context)


def _conversation(request: HttpRequest, allowed: set[int] | None) -> Conversation | None:
    conversation_id = _int(request.GET.get("conversation"))
    if conversation_id is None:
        return None
    found = tenancy.restrict(Conversation.objects.filter(pk=conversation_id), request.user).first()
    if found is None or (allowed is not None and found.creator_id not in allowed):
        raise Http404("No such conversation.")
    return found


def _display(message: Message) -> dict[str, Any]:
    return {"message": message, "sent_at": message.sent_at or message.created_at,
            "chatter": message.sent_by.get_username() if message.sent_by else "",
            "fan": str(message.conversation.fan), "platform": message.account.get_platform_display(),
            "price": format_money(message.price_minor, message.currency) if message.price_minor is not None else "",
            "outcome": ppv_outcome(message), "reply": seconds_label(message.reply_seconds)  # type: ignore[attr-defined]
            if message.reply_seconds is not None else ""}  # type: ignore[attr-defined]


def _csv(request: HttpRequest, rows: QuerySet[Message], period: Any) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    written = 0
    for m in rows[:CSV_MAX_ROWS].iterator(chunk_size=2000):
        writer.writerow([m.sent_at or m.created_at, m.sent_by.get_username() if m.sent_by else "",
                         m.creator.stage_name, str(m.conversation.fan), m.account.platform, m.conversation_id,
                         m.origin, m.send_status, m.text,
                         str(format_money(m.price_minor, m.currency, empty="")) if m.price_minor is not None else "",
                         m.currency, m.purchased_at, ppv_outcome(m), m.reply_seconds])  # type: ignore[attr-defined]
        written += 1
    audit.record("inbox.messages.exported", actor=request.user,
                 changes={"rows": written, "start": period.start.isoformat(), "end": period.end.isoformat(),
                          "filters": {k: v for k, v in request.GET.items() if k != "format"}})
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"messages-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
