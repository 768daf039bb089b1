"""The inbox's rows in the admin. Chatters work on the screen at /admin/inbox/ (`inbox.views`); these pages
list and audit what the services wrote.

Conversations, messages, AI drafts, fan notes and reporting events are written by services only (a
message is never edited after the fact: it is what the fan got), so their pages read. Scripts and shifts
are what managers plan: editable here, saved through `inbox.services.save_script` / `save_shift`, which
check them and write the audit event.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Field, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import tenancy
from accounts.admin_base import ReadOnlyAdminMixin, TenantModelAdmin, permission_check
from accounts.models import Membership, Role, User
from content.models import Asset
from core import money, platforms
from core.admin import call_service
from core.money_forms import PriceInUnitsForm
from inbox import privacy, services, views_metrics, views_privacy, views_review, wording
from inbox.models import AIDraft, Conversation, FanNote, Message, ReportingEvent, Script, Shift
from inbox.screen import waited
from inbox.views_metrics import seconds_label


def platform_chip(platform_key: str) -> str:
    platform = platforms.get(platform_key)
    return format_html('<span title="{}" style="display:inline-block;min-width:1.4em;padding:0 .3em;border-radius:4px;'
                       'background:{};color:#fff;font-weight:600;text-align:center">{}</span> {}',
                       platform.label, platform.colour, platform.glyph, platform.label)


class HeldFilter(admin.SimpleListFilter):
    title = "held for compliance"
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Held"), ("no", "Not held")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(held_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(held_at__isnull=True)
        return queryset


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    """Read here; assignment and status change on the chatter's screen, through the services."""

    list_display = ["fan", "creator", "platform", "standing", "assignee", "unread_count", "waiting", "held",
                    "last_message_at", "open_in_inbox"]
    list_filter = ["status", "mode", "creator", HeldFilter]
    list_select_related = ["fan", "creator", "account", "assignee"]
    search_fields = ["fan__handle", "=fan__external_id", "=external_id"]
    ordering = ["-last_message_at", "-pk"]
    # A fan's data-subject requests, from the conversation list too (managers and the owner).
    actions = [views_privacy.export_conversation_fan, views_privacy.erase_conversation_fans]
    has_privacy_permission = permission_check(privacy.PRIVACY_PERMISSION)

    @admin.display(description="Platform")
    def platform(self, obj: Conversation) -> str:
        return platform_chip(obj.account.platform)

    @admin.display(description="Status", ordering="status")
    def standing(self, obj: Conversation) -> str:
        return wording.CONVERSATION_STATUS.say(obj.status)

    @admin.display(description="Waiting", ordering="waiting_since")
    def waiting(self, obj: Conversation) -> str:
        return waited(obj.waiting_since, timezone.now()) or "—"

    @admin.display(description="Held", boolean=True)
    def held(self, obj: Conversation) -> bool:
        return obj.held_at is not None

    @admin.display(description="")
    def open_in_inbox(self, obj: Conversation) -> str:
        return format_html('<a href="{}?c={}">Open in the inbox</a>', reverse("admin:inbox_screen"), obj.pk)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    """What was said, by whom and how it went out: never edited (the fan got what they got)."""

    list_display = ["pk", "conversation", "direction", "origin", "sent_by", "delivery", "price", "created_at"]
    list_filter = ["direction", "origin", "send_status", "ai_generated", "creator"]
    list_select_related = ["conversation__fan", "conversation__account", "sent_by"]
    search_fields = ["=external_id", "=idempotency_key"]
    raw_id_fields = ["conversation", "transaction", "script", "ai_draft"]
    ordering = ["-pk"]

    @admin.display(description="Delivery", ordering="send_status")
    def delivery(self, obj: Message) -> str:
        return wording.SEND_STATUS.say(obj.send_status)

    @admin.display(description="Price")
    def price(self, obj: Message) -> str:
        if obj.price_minor is None:
            return "—"
        state = "unlocked" if obj.purchased_at else "locked"
        return f"{money.format_money(obj.price_minor, obj.currency)} ({state})"


class ScriptForm(PriceInUnitsForm):
    class Meta:
        model = Script
        fields = ["creator", "name", "category", "text", "assets", "currency", "platform_template_id", "active"]


@admin.register(Script)
class ScriptAdmin(TenantModelAdmin):
    form = ScriptForm
    list_display = ["name", "creator", "category", "price", "active"]
    list_filter = ["active", "creator", "category"]
    list_select_related = ["creator"]
    search_fields = ["name", "text"]
    fields = ["creator", "name", "category", "text", "assets", "price", "currency", "platform_template_id", "active"]
    filter_horizontal = ["assets"]

    @admin.display(description="Price")
    def price(self, obj: Script) -> str:
        return money.format_money(obj.price_minor, obj.currency)

    def formfield_for_manytomany(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        if db_field.name == "assets":
            kwargs["queryset"] = tenancy.restrict(Asset.objects.filter(status=Asset.Status.APPROVED), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Script, form: forms.ModelForm, change: bool) -> None:
        # The assets are set with the script (save_related below saves nothing more), so the check sees them.
        call_service(services.save_script, script=obj, actor=request.user, assets=form.cleaned_data.get("assets", []),
                     changed=form.changed_data)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        return None

    def delete_model(self, request: HttpRequest, obj: Script) -> None:
        services.delete_script(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Script]) -> None:
        for script in queryset:
            services.delete_script(script, actor=request.user)


@admin.register(Shift)
class ShiftAdmin(TenantModelAdmin):
    list_display = ["chatter", "creator", "starts_at", "ends_at", "on_now", "note"]
    list_filter = ["creator"]
    list_select_related = ["chatter", "creator"]
    fields = ["creator", "chatter", "starts_at", "ends_at", "note"]
    ordering = ["-starts_at", "-pk"]

    @admin.display(description="On now", boolean=True)
    def on_now(self, obj: Shift) -> bool:
        now = timezone.now()
        return obj.starts_at <= now < obj.ends_at

    def formfield_for_foreignkey(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        if db_field.name == "chatter":
            creators = tenancy.allowed_creator_ids(request.user, Shift, "add")
            members = Membership.objects.filter(role__in=(Role.CHATTER, Role.MANAGER))
            if creators is not tenancy.ALL:
                members = members.filter(creator_id__in=sorted(creators or ()))
            kwargs["queryset"] = User.objects.filter(pk__in=members.values("user_id"), is_active=True) \
                .order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Shift, form: forms.ModelForm, change: bool) -> None:
        call_service(services.save_shift, shift=obj, actor=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: Shift) -> None:
        services.delete_shift(obj, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Shift]) -> None:
        for shift in queryset:
            services.delete_shift(shift, actor=request.user)  # type: ignore[arg-type]


@admin.register(AIDraft)
class AIDraftAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["pk", "conversation", "outcome", "backend", "from_scripts", "edit_distance", "decided_by",
                    "created_at"]
    list_filter = ["outcome", "from_scripts", "creator"]
    list_select_related = ["conversation__fan", "conversation__account", "decided_by"]
    raw_id_fields = ["conversation"]
    ordering = ["-pk"]


@admin.register(FanNote)
class FanNoteAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    list_display = ["fan", "creator", "author", "text", "created_at"]
    list_filter = ["creator"]
    list_select_related = ["fan", "creator", "author"]
    search_fields = ["fan__handle", "text"]
    raw_id_fields = ["fan"]


@admin.register(ReportingEvent)
class ReportingEventAdmin(ReadOnlyAdminMixin, TenantModelAdmin):
    """The facts behind the chatter metrics (read-only); the chatter performance and message review pages
    hang off its URLs."""

    list_display = ["at", "kind", "creator", "chatter", "response_time", "amount", "conversation"]
    list_filter = ["kind", "creator", "at"]
    list_select_related = ["creator", "chatter", "conversation__fan", "conversation__account"]
    raw_id_fields = ["conversation", "message", "transaction", "shift"]
    ordering = ["-at", "-pk"]
    date_hierarchy = "at"

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("chatters/", site.admin_view(views_metrics.performance), name="inbox_chatter_performance"),
                path("review/", site.admin_view(views_review.review), name="inbox_message_review"),
                *super().get_urls()]

    @admin.display(description="Response time")
    def response_time(self, obj: ReportingEvent) -> str:
        return seconds_label(obj.seconds) if obj.seconds is not None else "—"

    @admin.display(description="Amount")
    def amount(self, obj: ReportingEvent) -> str:
        return money.format_money(obj.amount_minor, obj.currency) if obj.amount_minor is not None else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
