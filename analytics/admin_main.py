"""Admins for offers, tracking links, rollups, best hours, alert rules, report subscriptions and
exchange rates, plus the per-creator analytics page.

Rollups and posting hours are derived data: read-only here, recomputed by `analytics.rollups`.
Rules and subscriptions without a creator are agency-wide; tenancy hides them from anyone who does
not reach every creator, because a creator-less row is nobody's to see but the owner's.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from unfold.decorators import display

from accounts.admin_base import AtelierModelAdmin, ReadOnlyAdminMixin, TenantModelAdmin
from analytics import services, views, views_reports, wording
from analytics.dashboard import may_open_dashboard, money
from analytics.models import AlertRule, DailyRollup, ExchangeRate, Offer, PostingHour, ReportSubscription, TrackingLink
from core import times
from core.money import format_money
from core.wording import code_and_sentence


class ServiceSavedMixin:
    """Saves and deletions through `save_fn` / `delete_fn` of `analytics.services` (audited there)."""

    save_fn: Any
    delete_fn: Any

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        type(self).save_fn(obj, actor=request.user, changed=form.changed_data if change else None)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        type(self).delete_fn(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            type(self).delete_fn(obj, actor=request.user)



@admin.register(Offer)
class OfferAdmin(ServiceSavedMixin, TenantModelAdmin):
    save_fn, delete_fn = services.save_offer, services.delete_offer
    list_display = ["name", "creator", "account", "kind", "audience", "starts_local", "ends_local", "status_text"]
    list_filter = ["status", "kind", "audience", "creator"]
    list_select_related = ["creator", "account"]
    search_fields = ["name"]
    autocomplete_fields = ["creator", "account"]
    ordering = ["-starts_at", "pk"]
    # The offers task starts and ends them on the platform; a hand-set status would lie about that.
    readonly_fields = ["status", "external_id", "last_error", "created_at"]

    @display(description="Status", ordering="status")
    def status_text(self, obj: Offer) -> str:
        return code_and_sentence(wording.OFFER_STATUS.say(obj.status), obj.status)

    @display(description="Starts", ordering="starts_at")
    def starts_local(self, obj: Offer) -> str:
        return times.local(obj.starts_at, obj.creator.timezone)

    @display(description="Ends", ordering="ends_at")
    def ends_local(self, obj: Offer) -> str:
        return times.local(obj.ends_at, obj.creator.timezone)

    def has_change_permission(self, request: HttpRequest, obj: Offer | None = None) -> bool:
        # Once started, an offer is live on the platform: what it says stays what staff switched on.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == Offer.Status.SCHEDULED)

    def has_delete_permission(self, request: HttpRequest, obj: Offer | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == Offer.Status.SCHEDULED)


@admin.register(TrackingLink)
class TrackingLinkAdmin(ServiceSavedMixin, TenantModelAdmin):
    save_fn, delete_fn = services.save_tracking_link, services.delete_tracking_link
    list_display = ["name", "creator", "campaign_source", "clicks", "subscribers", "revenue"]
    list_filter = ["creator", "campaign_source"]
    list_select_related = ["creator"]
    search_fields = ["name", "campaign_source"]
    autocomplete_fields = ["creator", "account"]
    readonly_fields = ["clicks", "subscribers", "revenue_minor", "currency", "created_at"]

    @display(description="Revenue", ordering="revenue_minor")
    def revenue(self, obj: TrackingLink) -> str:
        return format_money(obj.revenue_minor, obj.currency)


@admin.register(DailyRollup)
class DailyRollupAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["day", "creator", "platform", "net", "gross", "transactions", "new_subscribers",
                    "churned_subscribers", "active_subscribers", "posts_published"]
    list_filter = ["platform", "creator"]
    list_select_related = ["creator"]
    date_hierarchy = "day"
    # Walks the (day) index; the changelist never sorts the whole table by an unindexed column.
    ordering = ["-day", "creator", "platform"]

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("dashboard/", site.admin_view(views.creator_dashboard), name="analytics_creator_dashboard"),
                *super().get_urls()]

    @display(description="Net", ordering="net_minor")
    def net(self, obj: DailyRollup) -> str:
        return money(obj.net_minor)

    @display(description="Gross", ordering="gross_minor")
    def gross(self, obj: DailyRollup) -> str:
        return money(obj.gross_minor)


@admin.register(PostingHour)
class PostingHourAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["account", "weekday", "hour", "publications", "engagement", "computed_at"]
    list_filter = ["weekday", "account__platform"]
    list_select_related = ["account", "account__creator"]


@admin.register(AlertRule)
class AlertRuleAdmin(ServiceSavedMixin, TenantModelAdmin):
    save_fn, delete_fn = services.save_alert_rule, services.delete_alert_rule
    list_display = ["kind", "creator_or_all", "threshold", "window_days", "enabled", "last_evaluated_at"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["creator"]
    autocomplete_fields = ["creator"]
    readonly_fields = ["last_evaluated_at", "created_at"]
    fieldsets = [(None, {"fields": ["kind", "creator", "threshold", "window_days", "enabled"],
                         "description": "Revenue drop and failure rate: threshold in %. Consent expiring: "
                                        "threshold in days. Window: days averaged or counted."}),
                 ("Evaluation", {"fields": ["last_evaluated_at", "created_at"]})]

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if not request.user.is_superuser and "creator" in form.base_fields:
            form.base_fields["creator"].required = True  # a rule without a creator watches every creator
        return form

    @display(description="Creator")
    def creator_or_all(self, obj: AlertRule) -> str:
        return obj.creator.stage_name if obj.creator else "Every creator"


SUBSCRIPTION_CREATOR_HELP_OWNER = "Leave empty for an agency-wide report (every creator)."
SUBSCRIPTION_CREATOR_HELP_STAFF = "Required: the creator whose report you receive. Agency-wide reports are the owner's."


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(ServiceSavedMixin, TenantModelAdmin):
    save_fn, delete_fn = services.save_report_subscription, services.delete_report_subscription
    list_display = ["user", "creator_or_agency", "period", "format", "active", "last_sent_for"]
    list_filter = ["period", "format", "active"]
    list_select_related = ["user", "creator"]
    autocomplete_fields = ["user", "creator"]
    readonly_fields = ["last_sent_for"]

    @display(description="Scope")
    def creator_or_agency(self, obj: ReportSubscription) -> str:
        return obj.creator.stage_name if obj.creator else "Agency-wide"

    # Owners subscribe anyone, agency-wide included; everyone else subscribes themselves to a creator.
    def get_queryset(self, request: HttpRequest) -> Any:
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return None if request.user.is_superuser else ["user"]

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        creator = form.base_fields.get("creator")
        if creator is not None:
            # What the field asks and what its help says are decided together: the model's help
            # ("Empty: agency-wide") is only true for the owner.
            creator.required = not request.user.is_superuser
            creator.help_text = (SUBSCRIPTION_CREATOR_HELP_OWNER if request.user.is_superuser
                                 else SUBSCRIPTION_CREATOR_HELP_STAFF)
        return form

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("on-demand/", site.admin_view(views_reports.report_on_demand), name="analytics_report_on_demand"),
                *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = ({"report_on_demand_url": reverse("admin:analytics_report_on_demand")}
                 if may_open_dashboard(request.user) else {})
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def save_model(self, request: HttpRequest, obj: ReportSubscription, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ServiceSavedMixin, AtelierModelAdmin):
    """Rates are agency data, not any creator's: model permissions alone decide who edits them."""

    list_display = ["day", "currency", "rate", "source"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    ordering = ["-day", "currency"]

    save_fn, delete_fn = services.save_exchange_rate, services.delete_exchange_rate

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"source": "manual"}
