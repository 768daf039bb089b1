from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from django_celery_results.models import GroupResult, TaskResult
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts import services
from accounts.admin_base import TenantAdminMixin, TenantModelAdmin
from accounts.models import ApiKey, AuditEvent, Creator, Membership, User


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    """Staff accounts are the agency owner's to manage."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ["username", "email", "is_staff", "is_superuser", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Creator)
class CreatorAdmin(TenantModelAdmin):
    list_display = ["stage_name", "kind_badge", "status", "timezone", "language"]
    list_filter = ["kind", "status"]
    search_fields = ["stage_name", "slug"]
    prepopulated_fields = {"slug": ["stage_name"]}
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["stage_name", "slug", "kind", "status"]}),
        ("Voice and locale", {"fields": ["timezone", "language", "voice_notes"]}),
        ("Review", {"fields": ["four_eyes_review"]}),
    ]

    @display(description="Kind", label={"human": "info", "ai_persona": "warning", "hybrid": "danger"})
    def kind_badge(self, obj: Creator) -> str:
        return obj.kind

    def get_readonly_fields(self, request: HttpRequest, obj: Creator | None = None) -> list[str]:
        # Agency policies are the owner's: shown to the team, changed by the owner (the service agrees).
        fields = list(super().get_readonly_fields(request, obj))
        return fields if services.may_set_policies(request.user) else [*fields, *Creator.POLICY_FIELDS]

    def save_model(self, request: HttpRequest, obj: Creator, form: Any, change: bool) -> None:
        services.save_creator(obj, actor=request.user, changed=form.changed_data if change else None)


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["user", "creator", "role", "created_at"]
    list_filter = ["role", "creator"]
    search_fields = ["user__username", "creator__stage_name"]
    autocomplete_fields = ["creator"]
    list_select_related = ["user", "creator"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a role is removed and added, never edited in place: the log stays clear

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = services.add_membership(user=obj.user, creator=obj.creator, role=obj.role, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.remove_membership(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for membership in queryset:
            services.remove_membership(membership, actor=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantModelAdmin):
    list_display = ["name", "prefix", "owner", "scope", "created_at", "last_used_at", "state"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix"]
    filter_horizontal = ["creators"]
    actions = ["revoke_selected"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super(TenantAdminMixin, self).get_queryset(request).select_related("owner")
        return qs if request.user.is_superuser else qs.filter(owner=request.user)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["name", "owner", "scope", "creators", "expires_at"]
        return ["name", "owner", "scope", "creators", "expires_at", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["owner", "scope", "creators", *self.readonly_fields]  # a key's reach never grows after issue

    @display(description="State", label={"active": "success", "revoked": "danger", "expired": "warning"})
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return "revoked"
        return "active" if obj.is_active else "expired"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name", "expires_at"])
            return
        issued = services.issue_api_key(owner=obj.owner, name=obj.name, creators=list(form.cleaned_data["creators"]),
                                        scope=obj.scope, expires_at=obj.expires_at, actor=request.user)
        obj.pk, obj.prefix, obj.hashed_key = issued.key.pk, issued.key.prefix, issued.key.hashed_key
        obj._state.adding = False
        messages.warning(request, f"Copy this key now — it will not be shown again: {issued.raw}")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @action(description="Revoke selected keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset:
            services.revoke_api_key(key, actor=request.user)
        messages.success(request, f"{queryset.count()} key(s) revoked.")


@admin.register(AuditEvent)
class AuditEventAdmin(TenantModelAdmin):
    """The audit log: readable by compliance and the owner, writable by nobody."""

    list_display = ["created_at", "action", "object_type", "object_id", "creator", "actor", "api_key", "ip"]
    list_filter = ["action", "object_type", "creator"]
    search_fields = ["action", "object_id", "request_id"]
    list_select_related = ["actor", "creator", "api_key"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Celery beat and task results, re-registered so they look like the rest of the workspace.
for _model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule, TaskResult,
               GroupResult):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(ModelAdmin):
    list_display = ["name", "task", "interval", "crontab", "enabled", "last_run_at", "total_run_count"]
    list_filter = ["enabled"]
    search_fields = ["name", "task"]


@admin.register(IntervalSchedule, CrontabSchedule)
class ScheduleAdmin(ModelAdmin):
    pass


@admin.register(TaskResult)
class TaskResultAdmin(ModelAdmin):
    list_display = ["task_id", "task_name", "status", "date_created", "date_done", "worker"]
    list_filter = ["status", "task_name"]
    search_fields = ["task_id", "task_name"]
    readonly_fields = [f.name for f in TaskResult._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


