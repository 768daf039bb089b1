"""Reports on demand: the emailed report for a creator and a period, previewed in the admin and
downloaded as CSV or PDF. Wired through `ReportSubscriptionAdmin.get_urls()`.

The creator picker lists only creators the viewer reaches (`tenancy.restrict`); any other id
answers 404, exactly like an id that does not exist. Bad dates are shown on the form (400), never
a server error.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import tenancy
from accounts.models import Creator
from analytics import reports
from analytics.dashboard import may_open_dashboard
from analytics.models import DailyRollup, ReportSubscription

FORMATS = ("csv", "pdf")


def creators_in_reach(user: Any) -> QuerySet[Creator]:
    """Creators whose numbers `user` may read (the rollups' view permission decides)."""
    return tenancy.restrict(Creator.objects.order_by("stage_name"), user, via=DailyRollup)


class ReportPeriodForm(forms.Form):
    """A preset or two dates; the dates are read only when no preset is chosen."""

    preset = forms.ChoiceField(choices=[("", "Dates below"), *reports.PRESETS.items()], required=False,
                               label="Period")
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.period: reports.ReportPeriod | None = None
        self.capped = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("preset"):
            self.period = reports.preset_period(data["preset"], self.today)
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            raise forms.ValidationError("Choose a period, or give both dates.")
        try:
            self.period, self.capped = reports.custom_period(start, end)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


def _creator_or_404(request: HttpRequest, creators: QuerySet[Creator]) -> Creator | None:
    raw = request.GET.get("creator") or ""
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such creator.")
    creator = creators.filter(pk=int(raw)).first()
    if creator is None:
        raise Http404("No such creator.")
    return creator


def report_on_demand(request: HttpRequest) -> HttpResponse:
    if not may_open_dashboard(request.user):
        raise PermissionDenied
    creators = creators_in_reach(request.user)
    creator = _creator_or_404(request, creators)
    fmt = request.GET.get("format") or ""
    asked = "preset" in request.GET or "start" in request.GET or "end" in request.GET
    form = ReportPeriodForm(request.GET if asked else None, today=timezone.localdate(),
                            initial={"preset": "last_7_days"})
    errors: list[str] = []
    if fmt and fmt not in FORMATS:
        errors.append("Download as CSV or PDF.")
    if asked and creator is None:
        errors.append("Choose a creator.")
    report = None
    if asked and form.is_valid() and creator is not None and form.period is not None and not errors:
        report = reports.for_creator(creator, form.period)
        if fmt:
            content, mimetype = reports.render(report, fmt)
            response = HttpResponse(content, content_type=mimetype)
            response["Content-Disposition"] = (
                f'attachment; filename="{reports.filename(report, creator.stage_name, fmt)}"')
            return response
    downloads = []
    if report is not None and form.period is not None and creator is not None:
        base = reverse("admin:analytics_report_on_demand")
        query = {"creator": creator.pk, "start": form.period.start.isoformat(), "end": form.period.end.isoformat()}
        downloads = [{"label": f"Download {f.upper()}", "format": f,
                      "url": f"{base}?{urlencode({**query, 'format': f})}"} for f in FORMATS]
    context = {
        **admin.site.each_context(request), "opts": ReportSubscription._meta, "title": "Reports on demand",
        "creators": creators, "creator": creator, "form": form, "errors": errors, "report": report,
        "capped": form.capped, "max_days": reports.MAX_DAYS, "downloads": downloads,
        "currency": settings.ANALYTICS_CURRENCY,
        "columns": [label for _, label in reports.PDF_COLUMNS],
        "rows": reports.display_rows(report) if report else [],
        "kinds": reports.revenue_by_kind(report) if report else [],
    }
    status = 400 if (asked and (errors or not form.is_valid())) else 200
    return render(request, "admin/analytics/report_on_demand.html", context, status=status)
