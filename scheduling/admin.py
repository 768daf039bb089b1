from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.admin import TabularInline
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextInputWidget

from accounts import tenancy
from accounts.admin_base import EstimatedCountPaginator, TenantAdminMixin, TenantModelAdmin, permission_check
from accounts.models import AuditEvent, Creator
from content.models import CAPTION_PLATFORMS
from core import money, times
from core.admin import adopt, call_service, message_refusal
from core.money_forms import PriceInUnitsForm
from core.wording import code_and_sentence, counted
from scheduling import (
    approval,
    oauth,
    services,
    views_calendar,
    views_captions,
    views_oauth,
    views_review,
    wording,
)
from scheduling import calendar as cal
from scheduling.admin_display import STATUS_COLOURS, account_with_warning, warning_badge
from scheduling.admin_manual import ManualExportAdminMixin  # also registers TakedownTaskAdmin
from scheduling.connectors import connector_for
from scheduling.models import PlatformAccount, Post, PostAsset, Publication, QueueSlot


class TenantInline(TenantAdminMixin, TabularInline):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super(TenantAdminMixin, self).get_queryset(request)  # the parent object is already in reach


class QueueSlotInline(TenantInline):
    model = QueueSlot
    extra = 0


@admin.register(PlatformAccount)
class PlatformAccountAdmin(TenantModelAdmin):
    list_display = ["handle", "platform", "creator", "state_text", "token_expires_local", "max_rating"]
    list_filter = ["platform", "state", "creator"]
    search_fields = ["handle", "creator__stage_name"]
    list_select_related = ["creator"]
    fields = ["creator", "platform", "target_platform", "handle", "external_id", "state_text", "max_rating", "options",
              "token_expires_at", "scopes", "refreshed_at", "refresh_failures", "last_error"]
    # The state follows connecting (OAuth, a stored token) and refreshing, never a hand-picked value.
    readonly_fields = ["state_text", "token_expires_at", "scopes", "refreshed_at", "refresh_failures", "last_error"]
    inlines = [QueueSlotInline]
    change_form_template = "admin/scheduling/platformaccount/change_form.html"

    @display(description="State", ordering="state")
    def state_text(self, obj: PlatformAccount) -> str:
        return code_and_sentence(wording.ACCOUNT_STATE.say(obj.state), obj.state)

    @display(description="Token expires", ordering="token_expires_at")
    def token_expires_local(self, obj: PlatformAccount) -> str:
        return times.local(obj.token_expires_at, obj.creator.timezone)

    def save_model(self, request: HttpRequest, obj: PlatformAccount, form: Any, change: bool) -> None:
        if not change:
            obj.state = services.initial_state(obj.platform)
        services.save_account(obj, actor=request.user)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        slots = formset.save(commit=False)
        services.change_queue_slots(form.instance, added=[(s.weekday, s.time) for s in slots if s.pk is None],
                                    changed=[s for s in slots if s.pk is not None], removed=formset.deleted_objects,
                                    actor=request.user)

    def delete_model(self, request: HttpRequest, obj: PlatformAccount) -> None:
        services.delete_account(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for account in queryset:
            services.delete_account(account, actor=request.user)

    def get_urls(self) -> list:
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


def in_reach_for(request: HttpRequest, obj: Any, action_name: str) -> bool:
    """Whether this user may `action_name` this very row: a manager of one creator who only views
    another must not change the other's rows through a form that the model permission opens."""
    return tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), request.user, action_name).exists()


class PostPartInline(TenantInline):
    """A part of what a post carries (its media, its targets): editable by whoever may change the post,
    and saved with the post through `services.update_post`, never row by row."""

    def _post_admin(self) -> admin.ModelAdmin:
        return self.admin_site._registry[Post]

    def _may_edit(self, request: HttpRequest, obj: Any) -> bool:
        post_admin = self._post_admin()
        return post_admin.has_add_permission(request) if obj is None else post_admin.has_change_permission(
            request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._post_admin().has_view_permission(request, obj)


class PostAssetInline(PostPartInline):
    model = PostAsset
    extra = 0
    autocomplete_fields = ["asset"]
    fields = ["asset", "position"]


class TargetForm(forms.ModelForm):
    """A target keeps its account: moving a post elsewhere is removing one target and adding another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "account" in self.fields:
            self.fields["account"].disabled = True


class PublicationInline(PostPartInline):
    model = Publication
    form = TargetForm
    extra = 0
    fields = ["account", "caption_override", "status_text", "scheduled_at", "account_warning", "block_codes",
              "external_url", "last_error"]
    readonly_fields = ["status_text", "scheduled_at", "account_warning", "block_codes", "external_url", "last_error"]
    show_change_link = True
    verbose_name, verbose_name_plural = "target", "targets"

    @display(description="Blocked by")
    def block_codes(self, obj: Publication) -> str:
        return block_codes(obj)

    @display(description="Status")
    def status_text(self, obj: Publication) -> str:
        return code_and_sentence(wording.status_sentence(obj, creator_zone(obj)), obj.status) if obj.pk else "—"

    @display(description="Account warning")
    def account_warning(self, obj: Publication) -> str:
        return warning_badge(obj.account_warning) if obj.pk else "—"


def creator_zone(obj: Publication) -> Any:
    return cal.zone(obj.post.creator.timezone) if obj.post_id else None


def block_sentences(obj: Publication) -> list[tuple[str, str]]:
    """Each refusal as a sentence with its code; a changelist page loads them for all its rows at once."""
    if not obj.block_reasons:
        return []
    cached = obj.__dict__.get("_block_sentences")
    if cached is None:
        cached = wording.block_sentences(obj.block_reasons, creator_zone(obj))
    return cached


def block_codes(obj: Publication) -> str:
    sentences = block_sentences(obj)
    if not sentences:
        return "—"
    return format_html_join(mark_safe("<br>"), "{}", ((code_and_sentence(text, code),) for text, code in sentences))


def _kept_rows(formset: Any, key: str) -> list[dict[str, Any]] | None:
    """The rows an inline formset keeps, in form order; None when this user saw it read-only (then
    the post's rows stay as they are rather than being read as emptied)."""
    if key not in formset.form.base_fields:
        return None
    return [form.cleaned_data for form in formset.forms
            if getattr(form, "cleaned_data", None) and key in form.cleaned_data
            and form.cleaned_data[key] is not None and not formset._should_delete_form(form)]


@admin.register(Post)
class PostAdmin(TenantModelAdmin):
    """Posts and their parts are saved through the services in one call per form (row lock, refusal
    while publishing, version bump, audit, approval of a version); a refusal shows on the form."""

    list_display = ["__str__", "creator", "price", "approved_at", "version", "created_at"]
    list_filter = ["creator"]
    search_fields = ["caption"]
    list_select_related = ["creator"]
    inlines = [PostAssetInline, PublicationInline]
    form = PriceInUnitsForm
    fields = ["creator", "caption", "collection", "price", "currency", "approval", "gate_verdicts",
              "approved_by", "approved_at", "version"]
    readonly_fields = ["approval", "gate_verdicts", "approved_by", "approved_at", "version"]
    change_form_outer_after_template = "admin/scheduling/post/caption_suggestions.html"
    actions_detail = ["submit_detail", "approve_detail"]

    def get_urls(self) -> list[URLPattern]:
        return [path("suggest-captions/", self.admin_site.admin_view(views_captions.suggest_captions),
                     name="scheduling_post_suggest_captions"),
                path("review/", self.admin_site.admin_view(views_review.inbox), name="scheduling_review_inbox"),
                *super().get_urls()]

    # Review buttons on the post page; each shows what it acts on first (a POST acts, a GET never does).

    # The buttons show for whoever may change posts; the pages find the post through tenancy (404 out of
    # reach) and the services decide the rest (four eyes).
    has_review_permission = permission_check("scheduling.change_post")

    @action(description="Submit for approval", url_path="submit", icon="send", permissions=["review"])
    def submit_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views_review.submit_post_page(request, object_id)

    @action(description="Approve…", url_path="approve", icon="check_circle", permissions=["review"])
    def approve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views_review.approve_post_page(request, object_id)

    @display(description="Gate, per target")
    def gate_verdicts(self, obj: Post) -> str:
        if obj.pk is None:
            return "—"
        return render_to_string("admin/scheduling/review/_verdicts.html",
                                {"targets": views_review.gate_verdicts(obj)})

    def get_readonly_fields(self, request: HttpRequest, obj: Post | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "creator"] if obj is not None else fields  # a post stays with its creator

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        # The calendar's "+" on a day: a post is placed once approved, so the day is said here and the
        # approved post then waits in the calendar's tray for it.
        planned = cal.planned_from(request.GET.get("planned", "")) if request.method == "GET" else None
        if planned is not None:
            messages.info(request, f"Planned for {planned:%a %d %b %Y, %H:%M} in the creator's time. Once this "
                                   f"post is approved it waits in the calendar's tray: drop it on that day or use "
                                   f"its Schedule… link.")
        return super().add_view(request, form_url, {**(extra_context or {}), "planned_for": planned})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "creator":
            ids = tenancy.allowed_creator_ids(request.user, Post, "add")
            kwargs["queryset"] = Creator.objects.all() if ids is tenancy.ALL else Creator.objects.filter(
                pk__in=sorted(ids or ()))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or in_reach_for(request, obj, "change"))

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or in_reach_for(request, obj, "delete"))

    @display(description="Price", ordering="price_minor")
    def price(self, obj: Post) -> str:
        return money.format_money(obj.price_minor, obj.currency)

    @display(description="Approval")
    def approval(self, obj: Post) -> str:
        if obj.pk is None:
            return "—"
        if obj.approved_at is None:
            sent_back = AuditEvent.objects.filter(object_type="scheduling.post", object_id=str(obj.pk),
                                                  action__in=["post.sent_back", "post.submitted"]) \
                .select_related("actor").order_by("-created_at", "-pk").first()
            if sent_back is not None and sent_back.action == "post.sent_back":
                return format_html("Sent back by {}: {}", sent_back.actor or "a reviewer",
                                   sent_back.changes.get("reason", ""))
            return "Waiting for approval"
        if approval.current_version(obj) != obj.approved_version:
            return "Stale: what reaches fans changed after approval; it needs approval again"
        return f"Approved as it is now (version {obj.version})"

    def save_model(self, request: HttpRequest, obj: Post, form: forms.ModelForm, change: bool) -> None:
        """Nothing here: the post is saved with its media and targets in `save_related`, in one service call."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        data = form.cleaned_data
        by_model = {formset.model: formset for formset in formsets}
        assets = _kept_rows(by_model[PostAsset], "asset") if PostAsset in by_model else None
        targets = _kept_rows(by_model[Publication], "account") if Publication in by_model else None
        asset_ids = None if assets is None else [
            row["asset"].pk for _, row in sorted(enumerate(assets), key=lambda r: (r[1].get("position") or 0, r[0]))]
        target_list = None if targets is None else [(row["account"], row.get("caption_override") or "")
                                                    for row in targets]
        for formset in formsets:  # the admin's change message reads these; the audit log has the detail
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if change:
            call_service(services.update_post, post=form.instance, actor=request.user, caption=data["caption"],
                         price_minor=data["price_minor"], currency=data["currency"], collection=data["collection"],
                         asset_ids=asset_ids, targets=target_list)
            return
        creator = data["creator"]
        if not tenancy.can_reach_creator(request.user, creator.pk, Post, "add"):
            raise PermissionDenied
        saved = call_service(services.create_post, creator_id=creator.pk, caption=data["caption"],
                             asset_ids=asset_ids or [], targets=target_list or [], collection=data["collection"],
                             price_minor=data["price_minor"], currency=data["currency"], actor=request.user)
        adopt(form.instance, saved)

    def refused_deletion_url(self, request: HttpRequest, object_id: str) -> str:
        return reverse("admin:scheduling_post_change", args=[object_id])

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Publications have no delete of their own in admin; delete_post takes them with the post and
        # refuses once any of them is out.
        return deleted, counts, perms_needed - {str(Publication._meta.verbose_name)}, protected

    def delete_model(self, request: HttpRequest, obj: Post) -> None:
        call_service(services.delete_post, post=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for post in tenancy.restrict(queryset, request.user, "delete"):
            try:
                services.delete_post(post, actor=request.user)
            except ValidationError as exc:
                message_refusal(request, exc, about=f"Post #{post.pk}")

    def render_change_form(self, request: HttpRequest, context: dict, add: bool = False, change: bool = False,
                           form_url: str = "", obj: Any = None) -> HttpResponse:
        # The "Suggest captions" block, for whoever may write this post (studio.suggest_captions behind it).
        if self.has_add_permission(request) if add else self.has_change_permission(request, obj):
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
    list_display = ["id", "post", "account_with_warning", "status_badge", "scheduled_local", "price", "attempts",
                    "block_codes", "external_link"]
    list_filter = ["status", CreatorFilter, "account__platform", "account"]
    list_select_related = ["post", "account", "post__creator"]
    search_fields = ["post__caption", "external_id"]
    paginator = CappedCountPaginator
    list_per_page = 50
    # The primary key is the only index a bare ORDER BY can walk at a million rows; the calendar is
    # where rows are read by time (it filters a range on the (account, scheduled_at) index).
    ordering = ["-id"]
    # Post, account and due time move only through services (reschedule, calendar, the post's targets),
    # which run the gate and audit; the form writes the per-account caption, through its service too.
    readonly_fields = ["post", "account", "scheduled_at", "status_text", "attempts", "idempotency_key", "external_id",
                       "external_url", "published_at", "lease_expires_at", "next_attempt_at", "last_error", "reasons",
                       "how_to_check"]
    fields = ["post", "account", "caption_override", *readonly_fields[2:]]
    actions = ["cancel_selected", "reschedule_selected", "add_selected_to_queue"]

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("calendar/", site.admin_view(views_calendar.calendar), name="scheduling_calendar"),
                path("calendar/move/", site.admin_view(views_calendar.move), name="scheduling_calendar_move"),
                path("calendar/schedule/", site.admin_view(views_calendar.schedule_post),
                     name="scheduling_calendar_schedule"),
                path("calendar/feed/rotate/", site.admin_view(views_calendar.rotate_feed),
                     name="scheduling_calendar_feed_rotate"),
                *super().get_urls()]

    @display(description="Scheduled (creator's time)", ordering="scheduled_at")
    def scheduled_local(self, obj: Publication) -> str:
        if obj.scheduled_at is None:
            return "—"
        return times.local(obj.scheduled_at, obj.post.creator.timezone)

    @display(description="Blocked by")
    def block_codes(self, obj: Publication) -> str:
        return block_codes(obj)

    @display(description="Account", ordering="account")
    def account_with_warning(self, obj: Publication) -> str:
        return account_with_warning(obj)

    @display(description="Status", label=STATUS_COLOURS)
    def status_badge(self, obj: Publication) -> tuple[str, str]:
        return obj.status, wording.status_sentence(obj, creator_zone(obj))

    @display(description="Price", ordering="post__price_minor")
    def price(self, obj: Publication) -> str:
        return money.format_money(obj.post.price_minor, obj.post.currency)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        rows = [pub for pub in changelist.result_list if pub.block_reasons]
        for zone_name in {pub.post.creator.timezone for pub in rows}:
            same_zone = [pub for pub in rows if pub.post.creator.timezone == zone_name]
            reasons = [r for pub in same_zone for r in pub.block_reasons]
            told = iter(wording.block_sentences(reasons, cal.zone(zone_name)))
            for pub in same_zone:
                pub.__dict__["_block_sentences"] = [next(told) for _ in pub.block_reasons]
        return changelist

    @display(description="Link")
    def external_link(self, obj: Publication) -> str:
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', obj.external_url) \
            if obj.external_url else "—"

    @display(description="How to check the platform")
    def how_to_check(self, obj: Publication) -> str:
        """For an outcome no lookup could decide: where a person looks before marking it published (with
        its URL) or scheduling it again."""
        if obj.status != Publication.Status.UNKNOWN:
            return "—"
        try:
            connector = connector_for(obj.account.platform)
        except LookupError:
            return "—"
        settle = services.settle_seconds(connector)
        automatic = ("The platform is asked again automatically; if it still cannot tell, check it yourself. "
                     if settle is not None else "No lookup can tell for this platform. ")
        return format_html("{}{} Then mark it published with its URL, or publish it again.", automatic,
                           getattr(connector, "how_to_check", "Open the account on its platform."))

    @display(description="Why it is blocked")
    def reasons(self, obj: Publication) -> str:
        if not obj.block_reasons:
            return "—"
        return format_html('<ul data-testid="block-reasons">{}</ul>', format_html_join(
            "", '<li>{}<div class="text-font-subtle-light dark:text-font-subtle-dark">{}</div></li>',
            ((code_and_sentence(text, code), r.get("message", ""))
             for (text, code), r in zip(block_sentences(obj), obj.block_reasons, strict=True))))

    @display(description="Status")
    def status_text(self, obj: Publication) -> str:
        return code_and_sentence(wording.status_sentence(obj, creator_zone(obj)), obj.status)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a publication is a post's target: added with the post

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # it leaves by cancelling, or as a target removed from its post

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Status moves through services only; the form is for reading, and for the caption while editable.
        return super().has_change_permission(request, obj) and (
            obj is None or (obj.status in Publication.EDITABLE and in_reach_for(request, obj, "change")))

    def save_model(self, request: HttpRequest, obj: Publication, form: forms.ModelForm, change: bool) -> None:
        if "caption_override" in form.changed_data:
            call_service(services.set_caption_override, publication=obj, caption=obj.caption_override,
                         actor=request.user)

    @action(description="Cancel selected publications", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for pub in self._changeable(request, queryset):
            try:
                services.cancel(pub, actor=request.user)
                done += 1
            except ValidationError as exc:
                message_refusal(request, exc, about=f"#{pub.pk}")
        if done:
            messages.success(request, f"{counted(done, 'publication')} cancelled.")

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
                except ValidationError as exc:
                    message_refusal(request, exc, about=f"#{pub.pk}")
                    continue
                except ValueError as exc:  # a local time the creator's clock skips
                    messages.error(request, f"#{pub.pk}: {exc}")
                    continue
                if outcome.verdict.passed:
                    done += 1
                    if outcome.warning:
                        messages.warning(request, f"#{pub.pk} scheduled, but {outcome.warning}")
                else:
                    messages.error(request, f"#{pub.pk} not moved — {self._reasons(outcome)}")
            if done:
                messages.success(request, f"{counted(done, 'publication')} scheduled for {day:%Y-%m-%d} {at:%H:%M} "
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
                message_refusal(request, exc, about=f"#{pub.pk}")
                continue
            if outcome.verdict.passed:
                done += 1
                if outcome.warning:
                    messages.warning(request, f"#{pub.pk} queued, but {outcome.warning}")
            else:
                messages.error(request, f"#{pub.pk} not queued — {self._reasons(outcome)}")
        if done:
            messages.success(request, f"{counted(done, 'publication')} added to their account's queue.")
