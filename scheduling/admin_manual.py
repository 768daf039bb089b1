"""Admin for the work people do by hand: uploading manual exports and taking posts down.

`ManualExportAdminMixin` goes in front of `PublicationAdmin`'s bases: it adds the "Mark uploaded"
action, the bundle download and a change-page field with both links. `TakedownTaskAdmin` is
registered here; `scheduling/admin.py` imports this module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from accounts import audit, tenancy
from accounts.admin_base import TenantModelAdmin, permission_check
from compliance.views import render_action_form
from core.admin import add_refusal, message_refusal
from core.wording import counted
from scheduling import manual, services, takedowns
from scheduling.models import Publication, TakedownTask

S = Publication.Status


class UploadedUrlForm(forms.Form):
    url = forms.CharField(label="URL of the post", max_length=500, widget=UnfoldAdminTextInputWidget,
                          help_text="The https:// link of the post as it is now online.")

    def clean_url(self) -> str:
        return manual.clean_post_url(self.cleaned_data["url"])


class DoneNoteForm(forms.Form):
    note = forms.CharField(max_length=4000, widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
                           help_text="What was done: where it was removed and how you checked it is gone. "
                                     "Kept in the audit trail and the takedown request's log.")


def _in_reach(request: HttpRequest, pk: int, action_name: str = "view") -> Publication:
    pub = tenancy.restrict(Publication.objects.select_related("account", "post"), request.user, action_name) \
        .filter(pk=pk).first()
    if pub is None:
        raise Http404("No such publication.")
    return pub


class ManualExportAdminMixin:
    """For PublicationAdmin: `class PublicationAdmin(ManualExportAdminMixin, TenantModelAdmin)`."""

    manual_actions = ("mark_uploaded", "retry_unknown")

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path("<int:pk>/bundle/", site.admin_view(self.bundle_download_view),
                 name="scheduling_publication_bundle"),
            path("<int:pk>/mark-uploaded/", site.admin_view(self.mark_uploaded_view),
                 name="scheduling_publication_mark_uploaded"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def _get_base_actions(self) -> list[tuple[Any, str, str]]:
        # Added to the declared ones, so permissions, tenancy and the 403 apply to them like to any other.
        actions = super()._get_base_actions()  # type: ignore[misc]
        known = {name for _func, name, _description in actions}
        extra = [self.get_action(name) for name in self.manual_actions if name not in known]  # type: ignore[attr-defined]
        return [*actions, *(found for found in extra if found)]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_fields(request, obj))  # type: ignore[misc]
        return fields if "export_bundle" in fields else [*fields, "export_bundle"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return fields if "export_bundle" in fields else [*fields, "export_bundle"]

    @display(description="Manual export")
    def export_bundle(self, obj: Publication) -> str:
        if not obj.pk or not obj.export_file:
            return "—"
        download = format_html('<a href="{}">Download bundle</a>',
                               reverse("admin:scheduling_publication_bundle", args=[obj.pk]))
        if obj.status != S.EXPORTED:
            return download
        return format_html('{} · <a href="{}">Mark uploaded (paste URL)</a>', download,
                           reverse("admin:scheduling_publication_mark_uploaded", args=[obj.pk]))

    def bundle_download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The bundle through the admin (tenancy-checked, audited), never a public media URL."""
        pub = _in_reach(request, pk)
        if not pub.export_file:
            raise Http404("This publication has no export bundle.")
        try:
            handle = pub.export_file.open("rb")
        except FileNotFoundError:
            raise Http404("The bundle file is missing from storage.") from None
        audit.record("publication.bundle_downloaded", pub, actor=request.user, changes={"file": pub.export_file.name})
        response = FileResponse(handle, content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"publication-{pub.pk}.zip")
        response["Cache-Control"] = "no-store, private, max-age=0"
        return response

    def mark_uploaded_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        pub = _in_reach(request, pk, "change")
        change_url = reverse("admin:scheduling_publication_change", args=[pub.pk])
        if pub.status != S.EXPORTED:
            messages.info(request, f"Publication #{pub.pk} is {pub.get_status_display().lower()}; nothing to mark.")
            return HttpResponseRedirect(change_url)
        form = UploadedUrlForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                manual.mark_exported_published(pub, form.cleaned_data["url"], actor=request.user)
            except ValidationError as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, f"Publication #{pub.pk} is published at {form.cleaned_data['url']}.")
                return HttpResponseRedirect(change_url)
        return render_action_form(
            request, title="Mark uploaded", form=form, submit_label="Mark published", items=[pub],
            intro="Paste the link of the post you uploaded by hand. The publication becomes published.",
            opts=Publication._meta, cancel_url=change_url)

    @action(description="Mark published (paste URL) — exported or outcome unknown", permissions=["change"])
    def mark_uploaded(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        exported = list(tenancy.restrict(queryset, request.user, "change")
                        .filter(status__in=[S.EXPORTED, S.UNKNOWN])[:2])
        if len(exported) != 1:
            messages.error(request, "Select exactly one exported or unknown publication: each post has its own URL.")
            return None
        pub = exported[0]
        form = UploadedUrlForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                if pub.status == S.UNKNOWN:
                    services.resolve_unknown(pub, url=form.cleaned_data["url"], actor=request.user)
                else:
                    manual.mark_exported_published(pub, form.cleaned_data["url"], actor=request.user)
            except ValidationError as exc:
                message_refusal(request, exc)
            else:
                messages.success(request, f"Publication #{pub.pk} is published at {form.cleaned_data['url']}.")
            return None
        return render_action_form(
            request, title="Mark uploaded", form=form, submit_label="Mark published", items=[pub],
            intro="Paste the link of the post you uploaded by hand. The publication becomes published.",
            opts=Publication._meta,
            hidden={"action": "mark_uploaded", ACTION_CHECKBOX_NAME: [pub.pk], "apply": "1"},
            cancel_url=reverse("admin:scheduling_publication_changelist"))


    @action(description="Not on the platform: publish again (outcome unknown)", permissions=["change"])
    def retry_unknown(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = list(tenancy.restrict(queryset, request.user, "change").filter(status=S.UNKNOWN))
        done = 0
        for pub in rows:
            try:
                services.resolve_unknown(pub, retry=True, actor=request.user)
                done += 1
            except ValidationError as exc:  # resolved by someone else in the meantime
                message_refusal(request, exc, about=f"#{pub.pk}")
        if done:
            messages.success(request, f"{counted(done, 'publication')} back on the calendar; they go out on the next "
                                      f"dispatcher run.")
        elif not rows:
            messages.error(request, "None of the selected publications has an unknown outcome.")


# --- Takedown tasks --------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("today", "Due within 24 h")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        open_tasks = queryset.filter(status=TakedownTask.Status.OPEN)
        if self.value() == "overdue":
            return open_tasks.filter(due_at__lt=now)
        if self.value() == "today":
            return open_tasks.filter(due_at__gte=now, due_at__lt=now + timedelta(hours=24))
        return queryset


@admin.register(TakedownTask)
class TakedownTaskAdmin(TenantModelAdmin):
    list_display = ["id", "publication", "platform", "post_link", "due_at", "status_badge", "overdue", "done_by",
                    "done_at"]
    list_filter = [OverdueFilter, "status"]
    list_select_related = ["publication__account", "publication__post", "done_by"]
    search_fields = ["reason", "publication__external_url", "publication__post__caption"]
    ordering = ["status", "due_at", "id"]
    actions = ["mark_done"]
    fields = ["publication", "post_link", "takedown_request", "reason", "due_at", "status", "done_by", "done_at",
              "note", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened by the takedown flow only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is for reading; closing a task is "Mark done", with a note

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a legal record: closed, never deleted

    has_complete_permission = permission_check("scheduling.change_takedowntask")

    @display(description="Platform")
    def platform(self, obj: TakedownTask) -> str:
        return obj.publication.account.get_platform_display()

    @display(description="Post")
    def post_link(self, obj: TakedownTask) -> str:
        url = obj.publication.external_url
        return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, url) if url else "—"

    @display(description="Status", label={"open": "warning", "done": "success", "cancelled": "info"})
    def status_badge(self, obj: TakedownTask) -> str:
        return obj.status

    @display(description="Overdue", boolean=True)
    def overdue(self, obj: TakedownTask) -> bool:
        return obj.status == TakedownTask.Status.OPEN and obj.due_at < timezone.now()

    @action(description="Mark done (with a note)", permissions=["complete"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        tasks = list(tenancy.restrict(queryset, request.user, "change").filter(status=TakedownTask.Status.OPEN)
                     .select_related("publication__account"))
        if not tasks:
            messages.info(request, "None of the selected tasks is open.")
            return None
        form = DoneNoteForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for task in tasks:
                try:
                    takedowns.complete_task(task, note=form.cleaned_data["note"], actor=request.user)
                    done += 1
                except ValidationError as exc:
                    message_refusal(request, exc, about=f"Task #{task.pk}")
            if done:
                messages.success(request, f"{counted(done, 'takedown task')} marked done.")
            return None
        return render_action_form(
            request, title="Mark takedown tasks done", form=form, submit_label="Mark done", items=tasks,
            intro="Confirm each post is gone from the platform. The note is recorded with your name.",
            opts=self.model._meta,
            hidden={"action": "mark_done", ACTION_CHECKBOX_NAME: [t.pk for t in tasks], "apply": "1"},
            cancel_url=reverse("admin:scheduling_takedowntask_changelist"))
