"""The one place that decides which creators a principal may reach.

Every admin queryset, form choice, autocomplete, list filter and API queryset goes through
`restrict()`. A principal is a staff `User` or an `ApiKey`; a model opts in by naming the path
to its creator in `tenant_field` ("pk" for `Creator` itself, `None` for owner-only models).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db.models import Model, QuerySet

from accounts.models import ApiKey, Membership, Role

if TYPE_CHECKING:
    from accounts.models import User

ALL = None  # sentinel: no restriction (agency owner)
WRITE_ACTIONS = frozenset({"add", "change", "delete"})



def tenant_field_of(model: type[Model]) -> str | None:
    if not hasattr(model, "tenant_field"):
        raise ImproperlyConfigured(
            f"{model._meta.label} has no `tenant_field`: say how it reaches its creator, or None."
        )
    return model.tenant_field


def _perm_for(model: type[Model], action: str) -> tuple[str, str]:
    opts = model._meta
    return opts.app_label, f"{action}_{opts.model_name}"


def _roles_granting(app_label: str, codename: str) -> set[str]:
    names = set(
        Group.objects.filter(
            permissions__content_type__app_label=app_label, permissions__codename=codename
        ).values_list("name", flat=True)
    )
    return {role.value for role in Role if role.label in names}


def _user_creator_ids(user: User, app_label: str, codename: str) -> set[int] | None:
    if not user.is_active:
        return set()
    if user.is_superuser:
        return ALL
    cache: dict[tuple[str, str], set[int]] = user.__dict__.setdefault("_tenancy_cache", {})
    key = (app_label, codename)
    if key not in cache:
        # One query for all of the user's memberships per request, whatever the models asked about.
        memberships = user.__dict__.get("_tenancy_memberships")
        if memberships is None:
            memberships = list(Membership.objects.filter(user=user).values_list("creator_id", "role"))
            user.__dict__["_tenancy_memberships"] = memberships
        roles = _roles_granting(app_label, codename)
        cache[key] = {creator_id for creator_id, role in memberships if role in roles}
    return cache[key]


def allowed_creator_ids(principal: Any, model: type[Model], action: str = "view") -> set[int] | None:
    """Creator ids `principal` may `action` rows of `model` for; `ALL` (None) for the owner.

    An API key never reaches further than its owner does today, and a read-only key reaches
    nothing for a write action.
    """
    if principal is None or isinstance(principal, AnonymousUser):
        return set()
    app_label, codename = _perm_for(model, action)
    if isinstance(principal, ApiKey):
        if not principal.is_active:
            return set()
        if action in WRITE_ACTIONS and principal.scope != ApiKey.Scope.WRITE:
            return set()
        owner_ids = _user_creator_ids(principal.owner, app_label, codename)
        key_ids = set(principal.creators.values_list("pk", flat=True))
        return key_ids if owner_ids is ALL else key_ids & owner_ids
    if not getattr(principal, "is_authenticated", False):
        return set()
    return _user_creator_ids(principal, app_label, codename)


def restrict(queryset: QuerySet, principal: Any, action: str = "view", *, via: type[Model] | None = None) -> QuerySet:
    """Narrow `queryset` to rows of creators `principal` may `action` on.

    Rows a principal may not reach are simply absent, so callers answer 404, never 403:
    nobody learns that another creator's object exists. `via` asks about another model's permission
    for the same creators (a performer's records are reached through `view_identityverification`).
    """
    model = queryset.model
    field = tenant_field_of(model)
    ids = allowed_creator_ids(principal, via or model, action)
    if ids is ALL:
        return queryset
    if field is None or not ids:
        return queryset.none()
    if field == "pk":
        return queryset.filter(pk__in=sorted(ids))
    if _crosses_many(model, field):
        # A performer linked to two reachable creators must appear once: filter by a subquery
        # of ids rather than joining (and duplicating) rows.
        inner = model._default_manager.filter(**{f"{field}__in": sorted(ids)}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{f"{field}__in": sorted(ids)})


def _crosses_many(model: type[Model], path: str) -> bool:
    current = model
    for part in path.split("__"):
        field = current._meta.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        current = field.related_model
    return False


def creator_id_of(obj: Model) -> int | None:
    """The creator an object (saved or not) belongs to, following its `tenant_field`; None when the
    path is many-valued (a performer of several creators) or the object has no creator."""
    field = getattr(obj, "tenant_field", None)
    if not field:
        return None
    if field == "pk":
        return obj.pk
    value: Any = obj
    for part in field.split("__"):
        relation = value._meta.get_field(part)
        if relation.many_to_many or relation.one_to_many:
            return None
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:  # a required relation not chosen yet: the form will say so
            return None
        if value is None:
            return None
    return value.pk if isinstance(value, Model) else value


def is_creator_owned(model: type[Model]) -> bool:
    return getattr(model, "tenant_field", None) is not None


def can_reach_creator(principal: Any, creator_id: int, model: type[Model], action: str = "view") -> bool:
    ids = allowed_creator_ids(principal, model, action)
    return ids is ALL or creator_id in ids


def forget(principals: Iterable[Any]) -> None:
    """Drop cached answers after memberships change within one request or test."""
    for p in principals:
        p.__dict__.pop("_tenancy_cache", None)
        p.__dict__.pop("_tenancy_memberships", None)
