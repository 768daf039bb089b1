"""The "Chatter performance" admin page: each chatter's and each shift's numbers over a period.

Wired through `ReportingEventAdmin.get_urls()` (inbox/admin.py). Who may open it: anyone who may
view reporting events for some creator (managers, analysts, the owner); the numbers cover only those
creators. Money is shown in currency units of the agency currency (`core.money`). A creator id out of
reach answers 404 like one that does not exist; bad dates are shown on the form (400).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import tenancy
from accounts.models import Creator, User
from analytics.currency import agency_currency
from core.api.instants import MAX_YEAR, MIN_YEAR
from core.money import format_money
from inbox import metrics
from inbox.metrics import MAX_DAYS, period_of
from inbox.models import ReportingEvent

# The days a period may take: the API's (`core.api.instants`), so the screen and the API agree.
EARLIEST, LATEST = date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31)


def may_open_metrics(user: Any) -> bool:
    ids = tenancy.allowed_creator_ids(user, ReportingEvent, "view")
    return ids is tenancy.ALL or bool(ids)


class PeriodForm(forms.Form):
    """A period in whole days of the agency's zone, the end inclusive; last 7 days when nothing is asked."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")
    creator = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)
    chatter = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        start, end = data.get("start"), data.get("end")
        # Days at the calendar's edges (year 1, year 9999) leave no room for the default week or the end's
        # midnight: refused in words before any arithmetic on them.
        if any(day is not None and not EARLIEST <= day <= LATEST for day in (start, end)):
            raise forms.ValidationError(f"Choose a period between {EARLIEST:%-d %b %Y} and {LATEST:%-d %b %Y}.")
        end = end or today
        start = start or end - timedelta(days=6)
        if start > end:
            raise forms.ValidationError("The period starts after it ends.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        data["start"], data["end"] = start, end
        return data


def creators_in_reach(user: Any, model: type = ReportingEvent) -> QuerySet[Creator]:
    return tenancy.restrict(Creator.objects.order_by("stage_name"), user, via=model)


def chosen_creator(creators: QuerySet[Creator], creator_id: int | None) -> Creator | None:
    if creator_id is None:
        return None
    creator = creators.filter(pk=creator_id).first()
    if creator is None:
        raise Http404("No such creator.")
    return creator


def chatters_of(creator_ids: list[int] | None) -> QuerySet[User]:
    """People who may have written for these creators: their team (and, for the owner, everyone staff)."""
    people = User.objects.filter(is_staff=True)
    if creator_ids is not None:
        people = people.filter(memberships__creator_id__in=creator_ids)
    return people.distinct().order_by("username")


def seconds_label(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def display(row: metrics.Row) -> dict[str, Any]:
    currency = row.currency
    conversion = f"{row.ppv_conversion:.0%}" if row.ppv_conversion is not None else "—"
    return {"key": row.key, "label": row.label, "creator": row.creator_label,
            "starts_at": row.starts_at, "ends_at": row.ends_at,
            "messages_sent": row.messages_sent, "first_responses": row.first_responses,
            "first_p50": seconds_label(row.first_response_p50), "first_p90": seconds_label(row.first_response_p90),
            "replies": row.replies, "reply_p50": seconds_label(row.reply_p50),
            "reply_p90": seconds_label(row.reply_p90),
            "ppv": f"{row.ppv_bought} / {row.ppv_sent}", "conversion": conversion,
            "revenue": format_money(row.revenue_minor, currency),
            "per_message": format_money(row.revenue_per_message_minor, currency),
            "missing_rates": ", ".join(row.missing_rates)}


def read_period(query: Any) -> tuple[PeriodForm, dict[str, Any] | None]:
    """The period form bound to the query string (empty fields take the defaults); None when invalid."""
    form = PeriodForm(query)
    return form, (form.cleaned_data if form.is_valid() else None)


def performance(request: HttpRequest) -> HttpResponse:
    if not may_open_metrics(request.user):
        raise PermissionDenied
    creators = creators_in_reach(request.user)
    form, data = read_period(request.GET)
    context: dict[str, Any] = {**admin.site.each_context(request), "opts": ReportingEvent._meta,
                               "title": "Chatter performance", "form": form, "creators": creators,
                               "currency": agency_currency(), "chatters": [], "shifts": [], "total": None}
    if data is None:
        return render(request, "admin/inbox/chatter_performance.html", context, status=400)
    creator = chosen_creator(creators, data.get("creator"))
    scope = metrics.creator_ids_for(request.user, [creator.pk] if creator else None)
    period = period_of(data["start"], data["end"])
    chatter_ids = [data["chatter"]] if data.get("chatter") else None
    rows = metrics.by_chatter(period.start, period.end, scope, chatter_ids)
    shifts = metrics.by_shift(period.start, period.end, scope, chatter_ids)
    context.update(creator=creator, period=period, people=chatters_of(scope), chatter_id=data.get("chatter"),
                   chatters=[display(r) for r in rows], shifts=[display(r) for r in shifts],
                   total=display(metrics.totals(rows)))
    return render(request, "admin/inbox/chatter_performance.html", context)
