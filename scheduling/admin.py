from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from unfold.admin import TabularInline
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextInputWidget

from accounts import tenancy
from accounts.admin_base import EstimatedCountPaginator, TenantAdminMixin, TenantModelAdmin
from accounts.models import Creator
from scheduling import calendar as cal
from scheduling import services, views_calendar
from scheduling.admin_manual import ManualExportAdminMixin  # also registers TakedownTaskAdmin
from scheduling.models import PlatformAccount, Post, PostAsset, Publication, QueueSlot

STATUS_COLOURS = {
    "draft": "info", "pending_approval": "info", "approved": "info", "scheduled": "primary",
    "claimed": "warning", "publishing": "warning", "published": "success", "failed": "danger",
    "unknown": "danger", "blocked": "danger", "cancelled": "info", "missed": "danger",
    "exported": "warning", "removed": "info",
}


class TenantInline(TenantAdminMixin, TabularInline):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super(TenantAdminMixin, self).get_queryset(request)  # the parent object is already in reach


class QueueSlotInline(TenantInline):
    model = QueueSlot
    extra = 0


@admin.register(PlatformAccount)
class PlatformAccountAdmin(TenantModelAdmin):
    list_display = ["handle", "platform", "creator", "state", "token_expires_at", "max_rating"]

    def save_model(self, request: HttpRequest, obj: PlatformAccount, form: Any, change: bool) -> None:
        services.save_account(obj, actor=request.user)
    list_filter = ["platform", "state", "creator"]
    search_fields = ["handle", "creator__stage_name"]
    list_select_related = ["creator"]
    fields = ["creator", "platform", "target_platform", "handle", "external_id", "state", "max_rating", "options",
              "token_expires_at", "scopes", "refreshed_at", "refresh_failures", "last_error"]
    readonly_fields = ["token_expires_at", "scopes", "refreshed_at", "refresh_failures", "last_error"]
    inlines = [QueueSlotInline]
    change_form_template = "admin/scheduling/platformaccount/change_form.html"

    def get_urls(self) -> list:
        from django.urls import path

        from scheduling import views_oauth

        site = self.admin_site
        return [
            path("<int:pk>/connect/", site.admin_view(lambda request, pk: views_oauth.connect(
                request, pk, model_admin=self)), name="scheduling_platformaccount_oauth_connect"),
            path("oauth/callback/", site.admin_view(lambda request: views_oauth.callback(
                request, model_admin=self)), name="scheduling_platformaccount_oauth_callback"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        from django.urls import reverse

        from scheduling import oauth

        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None and oauth.supports_oauth(obj):
            context["oauth"] = {
                "connect_url": reverse("admin:scheduling_platformaccount_oauth_connect", args=[obj.pk]),
                "connected": bool(obj.credentials_encrypted) and obj.state == PlatformAccount.State.CONNECTED,
                "has_tokens": bool(obj.credentials_encrypted),
                "account": obj,
            }
        return super().change_view(request, object_id, form_url, extra_context=context)


class PostAssetInline(TenantInline):
    model = PostAsset
    extra = 0
    autocomplete_fields = ["asset"]


class PublicationInline(TenantInline):
    model = Publication
    extra = 0
    fields = ["account", "status", "scheduled_at", "external_url", "last_error"]
    readonly_fields = ["status", "scheduled_at", "external_url", "last_error"]
    show_change_link = True


@admin.register(Post)
class PostAdmin(TenantModelAdmin):
    list_display = ["__str__", "creator", "approved_at", "created_at"]
    list_filter = ["creator"]
    search_fields = ["caption"]
    list_select_related = ["creator"]
    inlines = [PostAssetInline, PublicationInline]
    fields = ["creator", "caption", "collection", "price_minor", "currency", "approved_at"]
    readonly_fields = ["approved_at"]
    change_form_outer_after_template = "admin/scheduling/post/caption_suggestions.html"

    def get_urls(self) -> list[URLPattern]:
        from content import views_studio

        return [path("suggest-captions/", self.admin_site.admin_view(views_studio.suggest_captions),
                     name="scheduling_post_suggest_captions"),
                *super().get_urls()]

    def render_change_form(self, request: HttpRequest, context: dict, add: bool = False, change: bool = False,
                           form_url: str = "", obj: Any = None) -> HttpResponse:
        # The "Suggest captions" block, for whoever may write this post (studio.suggest_captions behind it).
        if self.has_add_permission(request) if add else self.has_change_permission(request, obj):
            from content.models import CAPTION_PLATFORMS

            context["caption_suggest"] = {"url": reverse("admin:scheduling_post_suggest_captions"),
                                          "platforms": CAPTION_PLATFORMS}
        return super().render_change_form(request, context, add, change, form_url, obj)


class CreatorFilter(SimpleListFilter):
    """Filter by the publication's creator, listing only creators the viewer reaches."""

    title = "creator"
    parameter_name = "creator"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        ids = tenancy.allowed_creator_ids(request.user, Publication, "view")
        qs = Creator.objects.all() if ids is tenancy.ALL else Creator.objects.filter(pk__in=sorted(ids))
        return list(qs.order_by("stage_name").values_list("pk", "stage_name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(creator_id=value) if value and value.isdigit() else queryset


class CappedCountPaginator(EstimatedCountPaginator):
    """A filtered changelist counts at most CAP rows: a page number past that is never needed, and
    counting a whole creator's history at a million rows would cost more than the page itself."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and qs.query.where:
            return qs.order_by()[:self.CAP].count()
        return super().count


class DateInput(UnfoldAdminTextInputWidget):
    input_type = "date"


class TimeInput(UnfoldAdminTextInputWidget):
    input_type = "time"


class RescheduleForm(forms.Form):
    day = forms.DateField(label="Day", widget=DateInput)
    at = forms.TimeField(label="Time", widget=TimeInput,
                         help_text="Wall-clock time in each publication's creator's timezone.")


@admin.register(Publication)
class PublicationAdmin(ManualExportAdminMixin, TenantModelAdmin):
    list_display = ["id", "post", "account", "status_badge", "scheduled_local", "attempts", "block_codes",
                    "external_link"]
    list_filter = ["status", CreatorFilter, "account__platform", "account"]
    list_select_related = ["post", "account", "post__creator"]
    search_fields = ["post__caption", "external_id"]
    paginator = CappedCountPaginator
    list_per_page = 50
    # The primary key is the only index a bare ORDER BY can walk at a million rows; the calendar is
    # where rows are read by time (it filters a range on the (account, scheduled_at) index).
    ordering = ["-id"]
    readonly_fields = ["status", "attempts", "idempotency_key", "external_id", "external_url", "published_at",
                       "lease_expires_at", "next_attempt_at", "last_error", "reasons"]
    fields = ["post", "account", "caption_override", "scheduled_at", *readonly_fields]
    actions = ["cancel_selected", "reschedule_selected", "add_selected_to_queue"]

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("calendar/", site.admin_view(views_calendar.calendar), name="scheduling_calendar"),
                path("calendar/move/", site.admin_view(views_calendar.move), name="scheduling_calendar_move"),
                *super().get_urls()]

    @display(description="Scheduled (creator's time)", ordering="scheduled_at")
    def scheduled_local(self, obj: Publication) -> str:
        if obj.scheduled_at is None:
            return "—"
        local = obj.scheduled_at.astimezone(cal.zone(obj.post.creator.timezone))
        return format_html('{} <span class="text-font-subtle-light" title="{}">{}</span>',
                           f"{local:%Y-%m-%d %H:%M}", obj.post.creator.timezone, local.tzname())

    @display(description="Blocked by")
    def block_codes(self, obj: Publication) -> str:
        if not obj.block_reasons:
            return "—"
        return format_html_join(" ", '<code title="{}">{}</code>',
                                ((r.get("message", ""), r.get("code", "?")) for r in obj.block_reasons))

    @display(description="Status", label=STATUS_COLOURS)
    def status_badge(self, obj: Publication) -> str:
        return obj.status

    @display(description="Link")
    def external_link(self, obj: Publication) -> str:
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', obj.external_url) \
            if obj.external_url else "—"

    @display(description="Why it is blocked")
    def reasons(self, obj: Publication) -> str:
        if not obj.block_reasons:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li><code>{}</code> {}</li>", ((r.get("code"), r.get("message")) for r in obj.block_reasons)))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Status moves through services only; the form is for reading.
        return super().has_change_permission(request, obj) and (obj is None or obj.status in Publication.EDITABLE)

    @action(description="Cancel selected publications")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for pub in queryset:
            try:
                services.cancel(pub, actor=request.user)
                done += 1
            except ValidationError as exc:
                messages.error(request, f"#{pub.pk}: {' '.join(exc.messages)}")
        if done:
            messages.success(request, f"{done} publication(s) cancelled.")

    def _changeable(self, request: HttpRequest, queryset: QuerySet) -> list[Publication]:
        return list(tenancy.restrict(queryset, request.user, "change")
                    .select_related("post__creator", "account").order_by("pk"))

    @staticmethod
    def _reasons(outcome: services.ScheduleOutcome) -> str:
        return "; ".join(f"{r.code}: {r.message}" for r in outcome.verdict.reasons)

    @action(description="Reschedule…", permissions=["change"])
    def reschedule_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        pubs = self._changeable(request, queryset)
        form = RescheduleForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            day, at = form.cleaned_data["day"], form.cleaned_data["at"]
            done = 0
            for pub in pubs:
                try:
                    when = cal.resolve_local(pub.post.creator.timezone, day, at)
                    outcome = services.reschedule(pub, at=when, actor=request.user)
                except (ValueError, ValidationError) as exc:
                    text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    messages.error(request, f"#{pub.pk}: {text}")
                    continue
                if outcome.verdict.passed:
                    done += 1
                else:
                    messages.error(request, f"#{pub.pk} not moved — {self._reasons(outcome)}")
            if done:
                messages.success(request, f"{done} publication(s) scheduled for {day:%Y-%m-%d} {at:%H:%M} "
                                          f"in their creator's time.")
            return None
        zones = sorted({pub.post.creator.timezone or "UTC" for pub in pubs})
        return render(request, "admin/action_form.html", {
            **admin.site.each_context(request), "title": "Reschedule publications", "opts": self.model._meta,
            "intro": f"The new time is read in each creator's timezone ({', '.join(zones) or 'UTC'}); the publish "
                     f"gate judges every publication at its new time.",
            "form": form, "submit_label": "Reschedule", "items": pubs, "danger": False,
            "hidden": [("action", "reschedule_selected"), ("apply", "1"),
                       *((ACTION_CHECKBOX_NAME, pub.pk) for pub in pubs)],
            "cancel_url": reverse("admin:scheduling_publication_changelist")})

    @action(description="Add to queue", permissions=["change"])
    def add_selected_to_queue(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for pub in self._changeable(request, queryset):
            try:
                outcome = services.add_to_queue(pub, actor=request.user)
            except ValidationError as exc:
                messages.error(request, f"#{pub.pk}: {' '.join(exc.messages)}")
                continue
            if outcome.verdict.passed:
                done += 1
            else:
                messages.error(request, f"#{pub.pk} not queued — {self._reasons(outcome)}")
        if done:
            messages.success(request, f"{done} publication(s) added to their account's queue.")
