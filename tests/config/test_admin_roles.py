"""The role × admin matrix: every registered admin, every action and every writable form, for every role.

The admins are read from the admin site's registry, so a new admin is walked as soon as it is
registered. Each is tried by the owner, a manager, an editor, a chatter, a compliance officer and an
analyst of creator A, by the manager of creator B, and by an editor of A who manages B, against one
row of A. What each may do is computed from accounts/roles.py (the one table of what a role may do)
and tenancy (B's manager reaches nothing of A; the editor of A who manages B is an editor on A),
narrowed by what the admin lets even the owner do (a consent is never edited). A role the table
denies gets 403, or 404 where the row is out of its reach, and nothing changes; a role the table
allows gets through, and an audit event shows that the change went through its service. So an admin
that lets a role do what roles.py denies fails here, and so does one that writes around its service.

A second group of tests is the guard on how admins are written: every action declares its
permission, and an admin of a project model that can write has its writes in project code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.db.models import Model
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from accounts import tenancy
from accounts.admin_base import STANDARD_PERMISSIONS, action_permission
from accounts.models import AuditEvent
from accounts.roles import role_grants
from tests.config.admin_world import ACTION_EXTRA, ACTION_FORM, World, add_form_data, edited, form_data

pytestmark = pytest.mark.django_db

ROLES: dict[str, tuple[str, str | None]] = {
    "owner": ("owner", None),
    "manager": ("alice", "manager"),
    "editor": ("bob", "editor"),
    "chatter": ("chloe", "chatter"),
    "compliance": ("oscar_a", "compliance"),
    "analyst": ("ana", "analyst"),
    "manager_of_b": ("charlie", "manager"),
    # An editor of A who manages B holds every manager permission, for B: an admin that asks only
    # "has the permission?" instead of "for this row's creator?" lets her act on A as a manager.
    "editor_of_a_manager_of_b": ("dana", "editor"),
}
ELSEWHERE = {"manager_of_b": "manager", "editor_of_a_manager_of_b": "manager"}  # their role on B
PROJECT_APPS = ("accounts", "analytics", "compliance", "content", "core", "notifications", "scheduling")
ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
DENIED = (403, 404)


# --- The expected table --------------------------------------------------------------------------------


def granted(role_key: str, model: type[Model], action: str, via: type[Model] | None = None) -> bool:
    """What accounts/roles.py and tenancy say `role_key` may `action` on creator A's row of `model`."""
    if role_key == "owner":
        return True
    perm_model = via or model
    codename = f"{action}_{perm_model._meta.model_name}"
    on_a = role_key != "manager_of_b" and role_grants(ROLES[role_key][1], perm_model._meta.app_label, codename)
    if tenancy.is_creator_owned(model):
        return on_a  # A's row: only the role held on A counts
    # Agency-wide models (no creator) are decided by the permission alone, wherever it is held.
    elsewhere = ELSEWHERE.get(role_key)
    return on_a or (elsewhere is not None and role_grants(elsewhere, perm_model._meta.app_label, codename))


def sees_changelist(role_key: str, model: type[Model]) -> bool:
    return granted(role_key, model, "view") or granted(role_key, model, "change")


# Where an admin narrows further than roles.py, on purpose: a report subscription is its subscriber's.
OWN_ROWS_ONLY = {"analytics.ReportSubscription": "user_id"}


def reaches_row(role_key: str, user: Any, obj: Model) -> bool:
    field = OWN_ROWS_ONLY.get(obj._meta.label)
    return role_key == "owner" or field is None or getattr(obj, field) == user.pk


def action_expected(role_key: str, user: Any, ma: admin.ModelAdmin, obj: Model, permissions: Any) -> bool:
    model = ma.model
    if not (sees_changelist(role_key, model) and reaches_row(role_key, user, obj)):
        return False
    for name in permissions:
        perm_model, action = action_permission(ma, name)
        if not granted(role_key, model, action, via=perm_model):
            return False
    return True


# --- Running one attempt as one person -------------------------------------------------------------------


class _Rollback(Exception):
    pass


@contextmanager
def attempt() -> Iterator[None]:
    """One role's try, undone afterwards so that the next role meets the same row."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def snapshot(obj: Model) -> tuple[Any, int | None]:
    model = type(obj)
    row = model._default_manager.filter(pk=obj.pk).values().first()
    # Every attempt may add audit events (that is how an allowed one is recognised): count other rows only.
    return row, None if model is AuditEvent else model._default_manager.count()


def owner_request(world: World) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = world.people["owner"]
    return request


def _as(client: Any, world: World, role_key: str) -> Any:
    user = world.people[ROLES[role_key][0]]
    client.force_login(user)
    return user


def declared_actions(ma: admin.ModelAdmin) -> list[tuple[Any, str]]:
    return [(func, name) for func, name, _description in ma._get_base_actions()]


def action_cases() -> list[Any]:
    cases = []
    for model, ma in ADMINS:
        for _func, name in declared_actions(ma):
            cases.append(pytest.param(model, name, id=f"{model._meta.label}.{name}"))
    return cases


def unfold_actions(ma: admin.ModelAdmin) -> list[tuple[str, Any]]:
    found = []
    for kind in ("actions_detail", "actions_row", "actions_list", "actions_submit_line"):
        for entry in getattr(ma, kind, ()) or ():
            names = entry["items"] if isinstance(entry, dict) else [entry]
            found += [(kind, name) for name in names]
    return found


def unfold_cases() -> list[Any]:
    return [pytest.param(model, kind, name, id=f"{model._meta.label}.{name}")
            for model, ma in ADMINS for kind, name in unfold_actions(ma)]


def url_name(model: type[Model], suffix: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{suffix}"


def check(results: dict[str, str]) -> None:
    wrong = {role: outcome for role, outcome in results.items() if outcome != "ok"}
    assert not wrong, "\n".join(f"{role}: {outcome}" for role, outcome in wrong.items())


# --- Changelist actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "name"), action_cases())
def test_changelist_action(client, admin_world, model, name):
    ma = admin.site._registry[model]
    func = dict((n, f) for f, n in declared_actions(ma))[name]
    permissions = list(getattr(func, "allowed_permissions", ()) or ())
    assert permissions, f"{type(ma).__name__}: the action {name} declares no permissions=[…]"
    obj = admin_world.prepare(model, name)
    extra = ACTION_EXTRA.get((model._meta.label, name), lambda w: {})(admin_world)
    design = name in ma.get_actions(owner_request(admin_world))
    results = {}
    for role_key in ROLES:
        with attempt():
            user = _as(client, admin_world, role_key)
            expected = design and action_expected(role_key, user, ma, obj, permissions)
            before, events = snapshot(obj), AuditEvent.objects.count()
            response = client.post(reverse(url_name(model, "changelist")),
                                   {"action": name, ACTION_CHECKBOX_NAME: [obj.pk], "index": "0", **ACTION_FORM,
                                    **extra})
            results[role_key] = judge(response, expected, obj, before, events,
                                      reads_only=all(action_permission(ma, p)[1] == "view" for p in permissions))
    check(results)


def judge(response: Any, expected: bool, obj: Model, before: Any, events: int, *, reads_only: bool = False,
          allow_form_errors: bool = False) -> str:
    """'ok', or what went wrong for this role."""
    status = response.status_code
    after = snapshot(obj)
    new_events = AuditEvent.objects.count() - events
    if expected:
        if status in DENIED or status >= 500:
            return f"expected to be allowed, got {status}"
        if new_events == 0:
            return f"allowed ({status}) but no audit event: the change did not go through a service"
        if reads_only and after != before:
            return "an action under a view permission changed the row"
        return "ok"
    if status not in DENIED and not (allow_form_errors and status == 200):
        return f"expected 403/404, got {status}"
    if after != before:
        return "denied, yet the row changed"
    if new_events:
        return f"denied, yet {new_events} audit event(s) were written"
    return "ok"


# --- Detail, row and list actions (unfold) --------------------------------------------------------------------


@pytest.mark.parametrize(("model", "kind", "name"), unfold_cases())
def test_unfold_action(client, admin_world, model, kind, name):
    ma = admin.site._registry[model]
    method = getattr(ma, name)
    permissions = list(getattr(method, "allowed_permissions", ()) or ())
    assert permissions, f"{type(ma).__name__}: the action {name} declares no permissions=[…]"
    obj = admin_world.prepare(model, name)
    extra = ACTION_EXTRA.get((model._meta.label, name), lambda w: {})(admin_world)
    action_name = f"{model._meta.app_label}_{model._meta.model_name}_{name}"
    on_object = kind != "actions_list"
    url = reverse(f"admin:{action_name}", args=[obj.pk] if on_object else [])
    owner = owner_request(admin_world)
    design = all(getattr(ma, f"has_{p}_permission")(owner, *([str(obj.pk)] if on_object else [])) for p in permissions)
    results = {}
    for role_key in ROLES:
        with attempt():
            user = _as(client, admin_world, role_key)
            # A list action is about no row (an upload form): B's manager may use it for B.
            expected = design and action_expected(role_key, user, ma, obj, permissions)
            if not on_object and role_key in ELSEWHERE:  # a list action is about no row: B's role counts
                expected = expected or (design and action_expected(ELSEWHERE[role_key], user, ma, obj, permissions))
            before, events = snapshot(obj), AuditEvent.objects.count()
            if on_object:
                response = client.post(url, {**ACTION_FORM, **extra})
                results[role_key] = judge(response, expected, obj, before, events)
            else:
                # A list action opens its page (an upload form, Generate): allowed or not, nothing changes yet.
                response = client.get(url)
                ok = (response.status_code == 200) if expected else (response.status_code in DENIED)
                results[role_key] = "ok" if ok and snapshot(obj) == before else \
                    f"expected {'200' if expected else '403/404'}, got {response.status_code}"
    check(results)


# --- Forms: change, add, delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.label) for m, _ in ADMINS])
def test_change_form(client, admin_world, model):
    ma = admin.site._registry[model]
    obj = admin_world.target(model)
    try:
        url = reverse(url_name(model, "change"), args=[obj.pk])
    except NoReverseMatch:
        pytest.skip("no change page")
    design = ma.has_change_permission(owner_request(admin_world), obj)
    client.force_login(admin_world.people["owner"])
    page = client.get(url)
    assert page.status_code == 200, f"the owner cannot open {url}: {page.status_code}"
    data = edited(model._meta.label, form_data(page.content.decode(), model))
    data.setdefault("_save", "Save")
    results = {}
    for role_key in ROLES:
        with attempt():
            user = _as(client, admin_world, role_key)
            expected = design and granted(role_key, model, "change") and reaches_row(role_key, user, obj)
            before, events = snapshot(obj), AuditEvent.objects.count()
            response = client.post(url, data)
            if expected and response.status_code == 200:
                errors = response.context and response.context.get("errors")
                results[role_key] = f"allowed but the owner's own form did not validate: {errors}"
                continue
            results[role_key] = judge(response, expected, obj, before, events)
    check(results)


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.label) for m, _ in ADMINS])
def test_add_form(client, admin_world, model):
    ma = admin.site._registry[model]
    design = ma.has_add_permission(owner_request(admin_world))
    url = reverse(url_name(model, "add"))
    data = add_form_data(admin_world, model)
    if design and data is None:
        client.force_login(admin_world.people["owner"])
        response = client.get(url)
        assert response.status_code in (200, 302)
        if response.status_code == 302:
            # Assets are added by upload (tests/content/test_admin.py walks who may upload for whom).
            assert response["Location"].endswith("/upload/"), f"{model._meta.label} add sends elsewhere"
            return
        pytest.fail(f"{model._meta.label} can be added in the admin: give its add data in admin_world.py")
    results = {}
    for role_key in ROLES:
        with attempt():
            _as(client, admin_world, role_key)
            expected = design and granted(role_key, model, "add")
            count, events = model._default_manager.count(), AuditEvent.objects.count()
            response = client.post(url, {**(data or {}), "_save": "Save"})
            added = model._default_manager.count() - count
            new_events = AuditEvent.objects.count() - events
            if expected:
                if response.status_code != 302 or added != 1:
                    errors = response.context.get("errors") if getattr(response, "context", None) else ""
                    results[role_key] = f"expected a new row, got {response.status_code}: {errors}"
                elif not new_events:
                    results[role_key] = "added without an audit event: the row did not go through a service"
                else:
                    results[role_key] = "ok"
                continue
            # Another creator's manager may add these rows for B, so her form opens; A is not a choice on it.
            form_refusal = role_key in ELSEWHERE and granted(ELSEWHERE[role_key], model, "add")
            ok_status = response.status_code in DENIED or (form_refusal and response.status_code == 200)
            results[role_key] = "ok" if ok_status and not added and not new_events else \
                f"expected a refusal, got {response.status_code}, {added} row(s), {new_events} event(s)"
    check(results)


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.label) for m, _ in ADMINS])
def test_delete_form(client, admin_world, model):
    ma = admin.site._registry[model]
    obj = admin_world.target(model)
    try:
        url = reverse(url_name(model, "delete"), args=[obj.pk])
    except NoReverseMatch:
        pytest.skip("no delete page")
    design = ma.has_delete_permission(owner_request(admin_world), obj)
    results = {}
    for role_key in ROLES:
        with attempt():
            user = _as(client, admin_world, role_key)
            expected = design and granted(role_key, model, "delete") and reaches_row(role_key, user, obj)
            before, events = snapshot(obj), AuditEvent.objects.count()
            response = client.post(url, {"post": "yes"})
            if expected:
                gone = not type(obj)._default_manager.filter(pk=obj.pk).exists()
                new_events = AuditEvent.objects.count() - events
                results[role_key] = "ok" if response.status_code == 302 and gone and new_events else \
                    f"expected an audited deletion, got {response.status_code}, gone={gone}, events={new_events}"
                continue
            results[role_key] = judge(response, False, obj, before, events)
    check(results)


# --- The guard on how admins are written ------------------------------------------------------------------------


def test_every_admin_action_declares_its_permission():
    missing = []
    for model, ma in ADMINS:
        for func, name in declared_actions(ma):
            if not getattr(func, "allowed_permissions", None):
                missing.append(f"{model._meta.label}.{name}")
        for _kind, name in unfold_actions(ma):
            if not getattr(getattr(ma, name), "allowed_permissions", None):
                missing.append(f"{model._meta.label}.{name}")
    assert missing == []


def test_every_custom_action_permission_is_one_model_permission():
    """`permissions=["records"]` must resolve, through permission_check, to a permission roles.py grants."""
    unresolved = []
    for model, ma in ADMINS:
        if not _project_admin(ma):
            continue
        names = {p for func, _ in declared_actions(ma) for p in getattr(func, "allowed_permissions", ()) or ()}
        names |= {p for _, n in unfold_actions(ma) for p in getattr(getattr(ma, n), "allowed_permissions", ()) or ()}
        for name in sorted(names - set(STANDARD_PERMISSIONS)):
            try:
                action_permission(ma, name)
            except Exception as exc:
                unresolved.append(f"{model._meta.label}: {name} ({exc})")
    assert unresolved == []


def _project_admin(ma: admin.ModelAdmin) -> bool:
    return type(ma).__module__.split(".")[0] in PROJECT_APPS


def _defined_in_project(ma: admin.ModelAdmin, method: str) -> bool:
    for klass in type(ma).__mro__:
        if method in vars(klass):
            return klass.__module__.split(".")[0] in PROJECT_APPS
    return False


def test_writes_of_project_models_go_through_project_code(team):
    """An admin of a project model (their state changes through services) either cannot write, or its
    save/delete hooks are written in the project — never the stock ModelAdmin writing the row itself.
    The matrix above then checks that what they do leaves an audit event."""
    request = RequestFactory().get("/admin/")
    request.user = team["owner"]
    stock = []
    for model, ma in ADMINS:
        if model._meta.app_label not in PROJECT_APPS:
            continue
        hooks = []
        if ma.has_add_permission(request) or ma.has_change_permission(request):
            hooks.append("save_model")
        if ma.has_delete_permission(request):
            hooks += ["delete_model", "delete_queryset"]
        inlines = ma.get_inline_instances(request)
        if any(i.has_add_permission(request, None) or i.has_change_permission(request, None)
               or i.has_delete_permission(request, None) for i in inlines):
            hooks.append("save_formset")
        # An admin that saves its inlines itself in save_related never reaches save_formset.
        stock += [f"{model._meta.label}: {type(ma).__name__}.{hook}" for hook in hooks
                  if not _defined_in_project(ma, hook)
                  and not (hook == "save_formset" and _defined_in_project(ma, "save_related"))]
    assert stock == []


def test_role_groups_are_read_only_in_the_admin(team):
    """roles.py is the one source of truth: a group edited by hand would be reset at the next migrate."""
    from django.contrib.auth.models import Group

    request = RequestFactory().get("/admin/")
    request.user = team["owner"]
    group_admin = admin.site._registry[Group]
    assert not group_admin.has_change_permission(request, Group.objects.first())
    assert not group_admin.has_add_permission(request)
