from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts import services, wording
from accounts.admin_base import ActionGuardMixin, ReadOnlyAdminMixin, TenantAdminMixin, TenantModelAdmin
from accounts.models import ApiKey, AuditEvent, Creator, Membership, User
from core.wording import code_and_sentence


class PasswordForm(AdminPasswordChangeForm):
    """The owner sets a password (or makes it unusable) through the service, which audits it."""

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data.get("set_usable_password", True)
        return services.set_user_password(self.user, self.cleaned_data["password1"] if usable else None)


@admin.register(User)
class UserAdmin(ActionGuardMixin, BaseUserAdmin, ModelAdmin):
    """Staff accounts are the agency owner's to manage. Roles are not set here: a person's groups
    follow their memberships (accounts/roles.py), so groups and permissions are shown, not edited.
    Accounts are deactivated, never deleted: memberships, keys and the audit trail point at them."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = PasswordForm
    list_display = ["username", "email", "is_staff", "is_superuser", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    readonly_fields = ["groups", "user_permissions", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email", "timezone"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        services.save_user(obj, actor=request.user, changed=form.changed_data if change else None)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # groups and permissions are read-only here; nothing else is related


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ActionGuardMixin, ReadOnlyAdminMixin, BaseGroupAdmin, ModelAdmin):
    """Role groups are kept in step with accounts/roles.py after every migrate: an edit here would be
    undone at the next one, so the page is for reading what each role may do."""


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # roles are added and removed on Memberships, through the service

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Creator)
class CreatorAdmin(TenantModelAdmin):
    list_display = ["stage_name", "kind_badge", "status_text", "timezone", "language", "hub_link"]
    list_filter = ["kind", "status"]
    search_fields = ["stage_name", "slug"]
    prepopulated_fields = {"slug": ["stage_name"]}
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["stage_name", "slug", "kind", "status"]}),
        ("Voice and locale", {"fields": ["timezone", "language", "voice_notes"]}),
        ("Review", {"fields": ["four_eyes_review"]}),
    ]

    @display(description="Status", ordering="status")
    def status_text(self, obj: Creator) -> str:
        return code_and_sentence(wording.CREATOR_STATUS.say(obj.status), obj.status)

    @display(description="Hub")
    def hub_link(self, obj: Creator) -> str:
        # The hub page reads every app, so the admin site wires it (config.hub); linked here by name.
        return format_html('<a class="text-primary-600" href="{}">Open hub</a>',
                           reverse("admin:creator_hub", args=[obj.pk]))

    @display(description="Kind", label={"human": "info", "ai_persona": "warning", "hybrid": "danger"})
    def kind_badge(self, obj: Creator) -> str:
        return obj.kind

    def get_readonly_fields(self, request: HttpRequest, obj: Creator | None = None) -> list[str]:
        # Agency policies are the owner's: shown to the team, changed by the owner (the service agrees).
        fields = list(super().get_readonly_fields(request, obj))
        return fields if services.may_set_policies(request.user) else [*fields, *Creator.POLICY_FIELDS]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a creator is archived (status), never deleted: its records and audit trail stay

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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, never deleted: audit events name the key that acted

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            services.update_api_key(obj, name=obj.name, expires_at=obj.expires_at, actor=request.user)
            return
        issued = services.issue_api_key(owner=obj.owner, name=obj.name, creators=list(form.cleaned_data["creators"]),
                                        scope=obj.scope, expires_at=obj.expires_at, actor=request.user)
        obj.pk, obj.prefix, obj.hashed_key = issued.key.pk, issued.key.prefix, issued.key.hashed_key
        obj._state.adding = False
        messages.warning(request, f"Copy this key now — it will not be shown again: {issued.raw}")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        keys = list(queryset)
        for key in keys:
            services.revoke_api_key(key, actor=request.user)
        messages.success(request, f"{len(keys)} key(s) revoked.")


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


from accounts import admin_library  # noqa: E402, F401 - re-registers the libraries' admins
