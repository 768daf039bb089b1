"""The vault in the admin: assets (grid or list), their review, collections and watermarks.

Every state change goes through `content.services`; the admin only asks (a reason, tags, a
collection) and reports what each service said, asset by asset.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import TabularInline
from unfold.decorators import action, display

from accounts import tenancy
from accounts.admin_base import TenantAdminMixin, TenantModelAdmin
from accounts.models import AuditEvent
from compliance import services as compliance_services
from compliance.models import Performer
from content import services, views, views_files, views_studio, wording
from content.models import Asset, Collection, CollectionItem, Rendition, Tag, Watermark
from core import times
from core.admin import message_refusal
from core.money import format_money
from core.money_forms import PriceInUnitsForm
from core.platforms import Kind, publishing_platforms
from core.wording import counted

KIND_ICONS = {Asset.Kind.IMAGE: "image", Asset.Kind.VIDEO: "movie", Asset.Kind.AUDIO: "music_note"}
STATUS_LABELS = {"draft": "info", "in_review": "warning", "approved": "success", "rejected": "danger",
                 "archived": "default"}
PROCESSING_LABELS = {"pending": "info", "running": "warning", "ready": "success", "failed": "danger"}
# The asset page shows consent standing for two platforms: the first subscription platform the agency
# publishes on, and the first social one, whose rules are stricter (Fanvue and X today).
CONSENT_PLATFORMS = tuple(next(p.key for p in publishing_platforms() if p.kind is kind)
                          for kind in (Kind.SUBSCRIPTION, Kind.SOCIAL))
HISTORY_LIMIT = 50


# --- Filters -------------------------------------------------------------------------------------


class TagFilter(admin.SimpleListFilter):
    """Tags are a shared vocabulary; offer only those on assets the viewer can see."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        visible = tenancy.restrict(Asset.objects.all(), request.user).values("pk")
        return list(Tag.objects.filter(assets__in=visible).distinct().order_by("name").values_list("pk", "name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(tags__pk=int(value)) if value and str(value).isdigit() else queryset


class PerformerFilter(admin.SimpleListFilter):
    """Performers of the creators the viewer reaches, never a name from another creator's records."""

    title = "performer"
    parameter_name = "performer"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        ids = tenancy.allowed_creator_ids(request.user, Asset, "view")
        qs = Performer.objects.all()
        if ids is not tenancy.ALL:
            qs = qs.filter(pk__in=Performer.objects.filter(creator_links__creator__in=sorted(ids)).values("pk"))
        return list(qs.order_by("legal_name").values_list("pk", "legal_name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(performers__pk=int(value)) if value and str(value).isdigit() else queryset


# --- Assets --------------------------------------------------------------------------------------


class AssetChangeForm(forms.ModelForm):
    class Meta:
        model = Asset
        fields = ["title", "notes", "rating", "performers", "tags", "production_date", "no_real_person_attested",
                  "disclosure_label"]


@admin.register(Asset)
class AssetAdmin(TenantModelAdmin):
    form = AssetChangeForm
    list_display = ["thumbnail", "name", "creator", "kind", "rating", "status_badge", "processing_badge",
                    "created_local"]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["creator", "kind", "rating", "status", "origin", TagFilter, PerformerFilter, "processing"]
    list_select_related = ["creator"]
    search_fields = ["title", "original_name", "sha256"]
    autocomplete_fields = ["performers"]
    ordering = ["-created_at", "-id"]
    actions = ["submit_selected", "approve_selected", "reject_selected", "tag_selected", "add_to_collection",
               "archive_selected"]
    actions_list = ["upload"]
    actions_detail = ["submit_detail", "approve_detail", "reject_detail"]
    change_form_before_template = "admin/content/asset_panels.html"
    list_before_template = "admin/content/view_toggle.html"
    fieldsets = [
        (None, {"fields": ["title", "rating", "performers", "tags", "production_date"]}),
        ("Synthetic media", {"fields": ["no_real_person_attested", "disclosure_label"], "classes": ["collapse"]}),
        ("Notes", {"fields": ["notes"]}),
        ("Provenance", {"fields": ["provenance"]}),
    ]
    readonly_fields = ["provenance"]

    # Queryset and pages.

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        previews = Rendition.objects.filter(preset__in=views.PREVIEW_PRESETS).only(
            "id", "asset_id", "preset", "file", "mime")
        return super().get_queryset(request).prefetch_related(
            Prefetch("renditions", queryset=previews, to_attr="preview_renditions"))

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path("<int:pk>/renditions.json", site.admin_view(views.asset_renditions),
                 name="content_asset_renditions"),
            path("<int:pk>/rendition/<slug:preset>/", site.admin_view(views.rendition_file),
                 name="content_asset_rendition_file"),
            path("<int:pk>/original/", site.admin_view(views_files.asset_original),
                 name="content_asset_original"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # `view` chooses the layout, not a filter: take it out before the changelist reads the query.
        grid = request.GET.get("view") == "grid"
        if "view" in request.GET:
            query = request.GET.copy()
            query.pop("view")
            request.GET = query
        self.change_list_template = "admin/content/asset_grid.html" if grid else None
        extra_context = {**(extra_context or {}), "grid_view": grid}
        return super().changelist_view(request, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:content_asset_upload"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        asset = views.asset_in_reach(request, object_id) if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if asset is not None:
            extra["asset_panel"] = self.asset_panel(request, asset)
        return super().change_view(request, object_id, form_url, extra)

    def asset_panel(self, request: HttpRequest, asset: Asset) -> dict[str, Any]:
        renditions = list(asset.renditions.all())
        history = (AuditEvent.objects.filter(object_type="content.asset", object_id=str(asset.pk))
                   .select_related("actor").order_by("-created_at", "-id")[:HISTORY_LIMIT])
        return {
            "asset": asset,
            "payload": views.renditions_payload(asset, renditions),
            "renditions_url": reverse("admin:content_asset_renditions", args=[asset.pk]),
            "original_url": reverse("admin:content_asset_original", args=[asset.pk]),
            "performers": self.performer_standing(asset),
            "history": history,
        }

    def performer_standing(self, asset: Asset) -> list[dict[str, Any]]:
        rows = []
        for performer in asset.performers.all():
            checks = [compliance_services.consent_status(performer, platform=platform, rating=asset.rating)
                      for platform in CONSENT_PLATFORMS]
            rows.append({"performer": performer, "checks": checks})
        return rows

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tags":
            # Tags are shared, but a name is offered only once it is on an asset the user can see.
            visible = tenancy.restrict(Asset.objects.all(), request.user).values("pk")
            kwargs["queryset"] = Tag.objects.filter(pk__in=Tag.objects.filter(assets__in=visible).values("pk"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Asset | None = None) -> bool:
        return False  # assets are archived, never deleted: posts and audit events point at them

    def save_model(self, request: HttpRequest, obj: Asset, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        services.update_asset(obj, actor=request.user, performers=data.get("performers"), tags=data.get("tags"),
                              **{name: getattr(obj, name) for name in services.ASSET_EDITABLE if name in form.fields})

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        pass  # performers and tags were saved by update_asset, which checks them

    # Columns.

    @display(description="")
    def thumbnail(self, obj: Asset) -> str:
        preview = views.preview_rendition(getattr(obj, "preview_renditions", []))
        if preview is not None:
            return format_html('<img src="{}" alt="" loading="lazy" class="h-12 w-12 object-cover rounded-default" '
                               'data-testid="asset-thumb">', views.rendition_url(preview))
        return format_html('<span class="material-symbols-outlined text-font-subtle-light" title="{}">{}</span>',
                           obj.get_kind_display(), KIND_ICONS.get(obj.kind, "draft"))

    @display(description="C2PA and IPTC marking")
    def provenance(self, obj: Asset) -> str:
        # Read from storage here, on the asset page only; the list never opens files.
        if obj is None or obj.pk is None:
            return "—"
        return render_to_string("admin/content/_provenance.html",
                                {"report": views_studio.provenance_report(obj), "asset": obj})

    @display(description="Asset", ordering="title")
    def name(self, obj: Asset) -> str:
        return str(obj)

    @display(description="Status", label=STATUS_LABELS, ordering="status")
    def status_badge(self, obj: Asset) -> tuple[str, str]:
        return obj.status, wording.ASSET_STATUS.say(obj.status)

    @display(description="Processing", label=PROCESSING_LABELS, ordering="processing")
    def processing_badge(self, obj: Asset) -> tuple[str, str]:
        return obj.processing, wording.ASSET_PROCESSING.say(obj.processing)

    @display(description="Added", ordering="created_at")
    def created_local(self, obj: Asset) -> str:
        return times.local(obj.created_at, obj.creator.timezone)

    # List actions (top of the changelist).

    @action(description="Upload", url_path="upload", icon="upload", permissions=["add"])
    def upload(self, request: HttpRequest) -> HttpResponse:
        return views.upload(request)

    # Bulk actions.

    def _changeable(self, request: HttpRequest, queryset: QuerySet) -> list[Asset]:
        return list(tenancy.restrict(queryset, request.user, "change").select_related("creator"))

    def _each(self, request: HttpRequest, assets: list[Asset], verb: str, fn: Any, **kwargs: Any) -> None:
        done = 0
        for asset in assets:
            try:
                fn(asset, actor=request.user, **kwargs)
            except ValidationError as exc:
                message_refusal(request, exc, about=f"“{asset}”")
            else:
                done += 1
        if done:
            messages.success(request, f"{counted(done, 'asset')} {verb}.")

    @action(description="Submit for review", permissions=["change"])
    def submit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, self._changeable(request, queryset), "submitted for review", services.submit_for_review)

    @action(description="Approve", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, self._changeable(request, queryset), "approved", services.approve)

    @action(description="Archive", permissions=["change"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, self._changeable(request, queryset), "archived", services.archive)

    def _selection(self, action_name: str, assets: list[Asset]) -> dict[str, Any]:
        return {"action": action_name, ACTION_CHECKBOX_NAME: [a.pk for a in assets], "apply": "1"}

    @action(description="Reject…", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        assets = self._changeable(request, queryset)
        form = views.ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._each(request, assets, "rejected", services.reject, reason=form.cleaned_data["reason"])
            return None
        return views.render_action_form(
            request, title="Reject assets", intro="Say what is wrong so the editor can fix it.", form=form,
            submit_label="Reject", items=assets, danger=True, hidden=self._selection("reject_selected", assets),
            cancel_url=reverse("admin:content_asset_changelist"))

    @action(description="Tag…", permissions=["change"])
    def tag_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        assets = self._changeable(request, queryset)
        form = views.TagForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = services.tag(assets, form.cleaned_data["tags"], actor=request.user)
            messages.success(request, f"{counted(count, 'asset')} tagged {', '.join(form.cleaned_data['tags'])}.")
            return None
        return views.render_action_form(
            request, title="Tag assets", intro="These tags are added to each asset.", form=form,
            submit_label="Add tags", items=assets, hidden=self._selection("tag_selected", assets),
            cancel_url=reverse("admin:content_asset_changelist"))

    @action(description="Add to collection…", permissions=["change"])
    def add_to_collection(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        assets = self._changeable(request, queryset)
        creator_ids = {a.creator_id for a in assets}
        if len(creator_ids) != 1:
            messages.error(request, "Choose assets of one creator: a collection holds only its creator's assets.")
            return None
        form = views.CollectionChoiceForm(request.POST if "apply" in request.POST else None, request=request,
                                          creator_id=creator_ids.pop())
        if form.is_bound and form.is_valid():
            collection = form.cleaned_data["collection"]
            try:
                added = services.add_to_collection(collection, assets, actor=request.user)
            except ValidationError as exc:
                message_refusal(request, exc)
                return None
            messages.success(request, f"{counted(added, 'asset')} added to “{collection}”.")
            return None
        return views.render_action_form(
            request, title="Add to a collection", intro="Assets are appended in the order shown.", form=form,
            submit_label="Add", items=assets, hidden=self._selection("add_to_collection", assets),
            cancel_url=reverse("admin:content_asset_changelist"))

    # Review buttons on the asset page. Each asks for confirmation first (a POST), never acts on a GET.

    def _detail(self, request: HttpRequest, object_id: str, *, title: str, intro: str, label: str,
                fn: Any, form_class: type[forms.Form] = views.ConfirmForm, danger: bool = False) -> HttpResponse:
        asset = views.asset_in_reach(request, object_id, "change")
        change_url = reverse("admin:content_asset_change", args=[asset.pk])
        form = form_class(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                fn(asset, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                message_refusal(request, exc)
            else:
                messages.success(request, f"“{asset}”: {label.lower()} done.")
            return HttpResponseRedirect(change_url)
        return views.render_action_form(request, title=title, intro=intro, form=form, submit_label=label,
                                        items=[asset], danger=danger, cancel_url=change_url)

    @action(description="Submit for review", url_path="submit", icon="send", permissions=["change"])
    def submit_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._detail(request, object_id, title="Submit for review", label="Submit",
                            intro="Someone else then approves or rejects it.", fn=services.submit_for_review)

    @action(description="Approve", url_path="approve", icon="check_circle", permissions=["change"])
    def approve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._detail(request, object_id, title="Approve", label="Approve",
                            intro="Approved assets may be scheduled for publication.", fn=services.approve)

    @action(description="Reject", url_path="reject", icon="cancel", permissions=["change"])
    def reject_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._detail(request, object_id, title="Reject", label="Reject", danger=True,
                            intro="Say what is wrong so the editor can fix it.", fn=services.reject,
                            form_class=views.ReasonForm)


# --- Collections ---------------------------------------------------------------------------------


class CollectionItemFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        creator_id = self.instance.creator_id
        for form in self.forms:
            asset = form.cleaned_data.get("asset") if hasattr(form, "cleaned_data") else None
            if asset is not None and not form.cleaned_data.get("DELETE") and asset.creator_id != creator_id:
                form.add_error("asset", "A collection holds only its own creator's assets.")


class CollectionItemInline(TenantAdminMixin, TabularInline):
    model = CollectionItem
    formset = CollectionItemFormSet
    extra = 1
    fields = ["position", "asset"]
    ordering = ["position", "id"]
    autocomplete_fields = ["asset"]

    def get_formset(self, request: HttpRequest, obj: Collection | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            # Only this collection's creator's assets may go in; the service refuses others too.
            field = formset.form.base_fields["asset"]
            field.queryset = field.queryset.filter(creator_id=obj.creator_id)
        return formset


@admin.register(Collection)
class CollectionAdmin(TenantModelAdmin):
    form = PriceInUnitsForm
    list_display = ["title", "creator", "kind", "price", "item_count", "created_at"]
    list_filter = ["creator", "kind"]
    list_select_related = ["creator"]
    search_fields = ["title"]
    autocomplete_fields = ["cover"]
    inlines = [CollectionItemInline]
    fieldsets = [
        (None, {"fields": ["creator", "kind", "title", "description", "cover"]}),
        ("Price (sellable packs)", {"fields": ["price", "currency"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Collection | None = None) -> list[str]:
        return ["creator"] if obj is not None else []

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(n_items=Count("items"))

    def get_form(self, request: HttpRequest, obj: Collection | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "cover" in form_class.base_fields:
            cover = form_class.base_fields["cover"]
            cover.queryset = cover.queryset.filter(creator_id=obj.creator_id)
        if obj is None and "creator" in form_class.base_fields:
            form_class.base_fields["creator"].queryset = views.creators_for(request, "add", Collection)
        return form_class

    @display(description="Price")
    def price(self, obj: Collection) -> str:
        if obj.price_minor is None:
            return "—"
        return format_money(obj.price_minor, obj.currency)

    @display(description="Items", ordering="n_items")
    def item_count(self, obj: Collection) -> int:
        return getattr(obj, "n_items", 0)

    def save_model(self, request: HttpRequest, obj: Collection, form: forms.ModelForm, change: bool) -> None:
        services.save_collection(obj, actor=request.user)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        collection = form.instance
        items = formset.save(commit=False)
        # A row whose asset was swapped is the old item taken out and the new asset added.
        swapped = [item for item, fields in formset.changed_objects if "asset" in fields]
        removed = [*formset.deleted_objects, *swapped]
        new = [item for item in items if item.pk is None or item in swapped]
        services.change_collection_items(collection, removed=removed, actor=request.user)
        if new:
            services.add_to_collection(collection, [i.asset for i in new], actor=request.user)
        # The service appends; keep the positions typed into the form where one was given.
        placed = {i.asset_id: i.position for i in new if i.position}
        positions = [(item, item.position) for item in items if item.pk is not None and item not in swapped]
        positions += [(stored, placed[stored.asset_id]) for stored in
                      CollectionItem.objects.filter(collection=collection, asset_id__in=placed)]
        services.change_collection_items(collection, positions=positions, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        services.delete_collection(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for collection in queryset:
            services.delete_collection(collection, actor=request.user)


# --- Watermarks ----------------------------------------------------------------------------------


@admin.register(Watermark)
class WatermarkAdmin(TenantModelAdmin):
    list_display = ["creator", "enabled", "text", "position", "opacity", "scale"]
    list_filter = ["enabled", "position"]
    list_select_related = ["creator"]
    fields = ["creator", "enabled", "text", "logo", "position", "opacity", "scale"]

    def save_model(self, request: HttpRequest, obj: Watermark, form: forms.ModelForm, change: bool) -> None:
        services.save_watermark(obj, actor=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: Watermark) -> None:
        services.delete_watermark(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for watermark in queryset:
            services.delete_watermark(watermark, actor=request.user)


from content import admin_studio  # noqa: E402, F401  - registers the AI studio's admins
