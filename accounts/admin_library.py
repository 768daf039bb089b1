"""The libraries' admins, re-registered so they look like the rest of the workspace and follow its rules.

Beat entries are declared in core/beat.py and synced on every migrate and beat start, so an edit
here would silently not stick: they are read here. Task results are a record. Failed-login records
(django-axes) and second-factor devices (django-otp) are security evidence: people read them, and the
owner may remove one — lifting a lockout, dropping a lost phone — through an audited service.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin as BaseAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as BaseAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as BaseAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from django_celery_results.models import GroupResult, TaskResult
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin as BaseStaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as BaseTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin

from accounts import services
from accounts.admin_base import ActionGuardMixin, ReadOnlyAdminMixin

for _model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule, TaskResult,
               GroupResult, AccessAttempt, AccessLog, AccessFailureLog, StaticDevice, TOTPDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(ActionGuardMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["name", "task", "interval", "crontab", "enabled", "last_run_at", "total_run_count"]
    list_filter = ["enabled"]
    search_fields = ["name", "task"]


@admin.register(IntervalSchedule, CrontabSchedule)
class ScheduleAdmin(ActionGuardMixin, ReadOnlyAdminMixin, ModelAdmin):
    pass


@admin.register(TaskResult)
class TaskResultAdmin(ActionGuardMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["task_id", "task_name", "status", "date_created", "date_done", "worker"]
    list_filter = ["status", "task_name"]
    search_fields = ["task_id", "task_name"]
    readonly_fields = [f.name for f in TaskResult._meta.fields]


class DeletedThroughServiceMixin:
    """Read-only pages whose one change, removing rows, goes through `remove`."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def remove(self, request: HttpRequest, rows: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.remove(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.remove(request, list(queryset))


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ActionGuardMixin, DeletedThroughServiceMixin, BaseAccessAttemptAdmin):
    """Deleting an attempt lifts its lockout: audited, with the username and address."""

    actions = ["cleanup_expired_attempts"]

    def remove(self, request: HttpRequest, rows: Any) -> None:
        services.unlock_logins(rows, actor=request.user)

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.clean_expired_login_attempts(actor=request.user)
        messages.success(request, f"Cleaned up {count} expired access attempts.")


@admin.register(AccessLog)
class AccessLogAdmin(ActionGuardMixin, ReadOnlyAdminMixin, BaseAccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ActionGuardMixin, ReadOnlyAdminMixin, BaseAccessFailureLogAdmin):
    pass


@admin.register(StaticDevice)
class StaticDeviceAdmin(ActionGuardMixin, DeletedThroughServiceMixin, BaseStaticDeviceAdmin):
    """Backup codes are made by their owner at enrolment; the agency owner may only remove a set."""

    def remove(self, request: HttpRequest, rows: Any) -> None:
        for device in rows:
            services.remove_otp_device(device, actor=request.user)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list:
        return []  # the codes themselves are the person's secret


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(ActionGuardMixin, DeletedThroughServiceMixin, BaseTOTPDeviceAdmin):
    """An authenticator is enrolled by its owner at sign-in; the agency owner may only remove one.
    Its secret (the QR code and key) is never shown here: whoever saw it could sign in as that person."""

    def get_urls(self) -> list[URLPattern]:
        return super(BaseTOTPDeviceAdmin, self).get_urls()

    def get_list_display(self, request: HttpRequest) -> list[str]:
        return ["user", "name", "confirmed"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        return [(None, {"fields": ["user", "name", "confirmed", "created_at", "last_used_at"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user", "name", "confirmed", "created_at", "last_used_at"]

    def remove(self, request: HttpRequest, rows: Any) -> None:
        for device in rows:
            services.remove_otp_device(device, actor=request.user)
