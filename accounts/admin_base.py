"""Base classes every project ModelAdmin uses, so tenancy and action permissions are never re-done by hand.

`TenantModelAdmin` narrows the changelist, object pages (404 for what is out of reach), FK and
M2M choices, autocomplete results and relation filters through `accounts.tenancy.restrict`.
`ActionGuardMixin` (in both `AtelierModelAdmin` and `TenantModelAdmin`) makes every changelist action
declare its permission, answers 403 to an action the user may not run, and hands the action only the
selected rows of creators where the user holds that permission (404 when none is).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Field, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import cached_property
from unfold.admin import ModelAdmin

from accounts import tenancy
from core.admin import ServiceFormMixin, message_refusal

STANDARD_PERMISSIONS = ("view", "add", "change", "delete")


def permission_check(permission: str, when: Callable[..., bool] | None = None) -> Callable[..., bool]:
    """A `has_<name>_permission` method for actions granted by one model permission, "app_label.codename".

    The permission comes from accounts/roles.py through the user's groups; the action then acts only on
    rows of creators where the user holds it (`ActionGuardMixin`). `when(admin, request, obj)` may add a
    condition on the object's state (a button shown only for a failed job), never a wider grant. Tests
    read `.permission` to build the expected role table.
    """

    def check(self: Any, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(permission) and (when is None or when(self, request, obj))

    check.permission = permission  # type: ignore[attr-defined]
    return check


def action_permission(model_admin: admin.ModelAdmin, name: str) -> tuple[type[Model], str]:
    """(model, action) of the model permission behind an action permission name ("change", "records"…)."""
    if name in STANDARD_PERMISSIONS:
        return model_admin.model, name
    check = getattr(model_admin, f"has_{name}_permission", None)
    permission = getattr(check, "permission", None)
    if permission is None:
        raise ImproperlyConfigured(
            f"{type(model_admin).__name__}.has_{name}_permission must come from permission_check(…) so the "
            "action's reach follows one model permission.")
    app_label, codename = permission.split(".", 1)
    action, _, model_name = codename.rpartition("_")
    return apps.get_model(app_label, model_name), action


def _posted_action(request: HttpRequest) -> str:
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    names = request.POST.getlist("action")
    return names[index] if 0 <= index < len(names) else ""


# --- Actions -------------------------------------------------------------------------------------


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        # An action that forgot to declare its permission is treated as a change (the admin roles test
        # fails on it): never as open to whoever may view the list.
        permissions = getattr(func, "allowed_permissions", None) or ("change",)
        reachable = model_admin.action_queryset(request, queryset, permissions)
        select_across = request.POST.get("select_across") == "1"
        if not reachable.exists():
            raise Http404("None of the selected rows is yours to act on.")
        if not select_across:
            left = len(set(request.POST.getlist(ACTION_CHECKBOX_NAME))) - reachable.count()
            if left > 0:
                messages.warning(request, f"{left} of the selected rows are not yours to act on and were left alone.")
        try:
            return func(model_admin, request, reachable)
        except ValidationError as refused:  # a service said no: say why, change nothing more
            message_refusal(request, refused)
            return None

    run.guarded = True  # type: ignore[attr-defined]
    return run


class ActionGuardMixin:
    """Changelist actions under one rule: a declared permission, checked per creator.

    Django quietly redirects ("No action selected") when someone posts an action they may not run;
    here that is a 403. The rows handed to the action are the selected ones the user may act on with
    the action's permission — `change` for most, the model permission behind a custom one otherwise.
    """

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        name = _posted_action(request)
        if name and name not in self.get_actions(request):
            raise PermissionDenied
        # Django filters on the posted ids as they come; one that is no id at all ("abc", a NUL) would be
        # a crash there. Only a hand-made post carries one, and it selects nothing of anyone's.
        pk = queryset.model._meta.pk
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError as exc:
            raise Http404("None of the selected rows is yours to act on.") from exc
        return super().response_action(request, queryset)

    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable[..., Any], str, str]]:
        return {name: (func if getattr(func, "guarded", False) else _guarded(func), name, description)
                for name, (func, _name, description) in super().get_actions(request).items()}

    def action_queryset(self, request: HttpRequest, queryset: QuerySet, permissions: Any) -> QuerySet:
        if not tenancy.is_creator_owned(queryset.model):
            return queryset  # agency-wide rows: the permission alone decides
        for name in permissions:
            model, action = action_permission(self, name)
            queryset = tenancy.restrict(queryset, request.user, action, via=model)
        return queryset


class LookupGuardMixin:
    """A changelist query Django cannot turn into dates (`?at__year=10**20` under a date hierarchy raises
    OverflowError there, not the ValueError it expects) is an invalid lookup like any other: Django's own
    "?e=1" answer, not a server error."""

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except OverflowError as exc:
            raise IncorrectLookupParameters(str(exc)) from exc


class ReadOnlyAdminMixin:
    """Rows that only a service or a recompute writes: people read them, and act through actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantRelatedFilter(RelatedFieldListFilter):
    """Relation filter listing only related objects the viewer may see."""

    def field_choices(self, field: Field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        related = field.related_model
        qs = related._default_manager.all()
        if hasattr(related, "tenant_field"):
            qs = tenancy.restrict(qs, request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            qs = qs.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in qs]


class EstimatedCountPaginator(Paginator):
    """Skips the full COUNT(*) on huge tables: PostgreSQL's planner estimate when it is large."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                               [qs.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return int(row[0])
        return super().count


class TenantAdminMixin:
    """Tenancy for a ModelAdmin or an inline: rows, choices and every write checked per creator.

    Django asks "may this person change Offers?" once for the model; a person who manages B and only
    edits A holds that permission, for B. So an object's change and delete are allowed only where the
    person holds them for the object's creator, FK choices offer only creators where they may write
    this model, and a saved row must belong to such a creator (a hand-made POST is refused on the form).
    """

    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return tenancy.restrict(super().get_queryset(request), request.user)

    def _holds_for(self, request: HttpRequest, obj: Any, action: str) -> bool:
        """For a ModelAdmin `obj` is the row; for an inline, the parent row (the inline model's permission)."""
        if not isinstance(obj, Model) or obj.pk is None or not tenancy.is_creator_owned(type(obj)):
            return True
        return tenancy.restrict(type(obj)._default_manager.filter(pk=obj.pk), request.user, action,
                                via=self.model).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._holds_for(request, obj, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._holds_for(request, obj, "delete")

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Model:
        obj = super().save_form(request, form, change)
        creator_id = tenancy.creator_id_of(obj)
        action = "change" if change else "add"
        if creator_id is not None and not tenancy.can_reach_creator(request.user, creator_id, type(obj), action):
            raise ValidationError(f"You may not {action} {type(obj)._meta.verbose_name_plural} of this creator.")
        return obj

    def _restrict_related(self, db_field: Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        related = db_field.related_model
        if "queryset" in kwargs or not hasattr(related, "tenant_field"):
            return
        qs = tenancy.restrict(related._default_manager.all(), request.user)
        if tenancy.is_creator_owned(related) and tenancy.is_creator_owned(self.model):
            # Only creators where this model's rows may be written: seeing a creator is not enough.
            writable = [tenancy.allowed_creator_ids(request.user, self.model, a) for a in ("add", "change")]
            if tenancy.ALL not in writable:
                ids = sorted(set().union(*writable))
                qs = qs.filter(pk__in=tenancy.restrict(related._default_manager.all(), request.user)
                               .filter(**{f"{tenancy.tenant_field_of(related)}__in": ids}).values("pk"))
        kwargs["queryset"] = qs

    def formfield_for_foreignkey(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        self._restrict_related(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Field, request: HttpRequest, **kwargs: Any):  # noqa: ANN201
        self._restrict_related(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> list:
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation and hasattr(field.related_model, "tenant_field"):
                    entry = (entry, TenantRelatedFilter)
            filters.append(entry)
        return filters

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> None:
        # Django redirects with "doesn't exist" for a missing object; out of reach must look the
        # same as missing, and both are a plain 404.
        raise Http404("No such object.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):  # noqa: ANN201
        # Autocomplete for a FK on *another* model's form lands here with this admin's queryset,
        # already restricted by get_queryset; nothing more to do but keep the hook explicit.
        return super().get_search_results(request, queryset, search_term)


class AtelierModelAdmin(ActionGuardMixin, LookupGuardMixin, ServiceFormMixin, ModelAdmin):
    """For agency-wide models (no creator): model permissions decide, actions are guarded."""


class TenantModelAdmin(ActionGuardMixin, LookupGuardMixin, ServiceFormMixin, TenantAdminMixin, ModelAdmin):
    paginator = EstimatedCountPaginator
    list_per_page = 50


def object_in_reach(request: HttpRequest, model: type[Model], pk: Any) -> Model:
    """Fetch one creator-owned object for a custom admin view, or 404."""
    obj = tenancy.restrict(model._default_manager.all(), request.user).filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    return obj
