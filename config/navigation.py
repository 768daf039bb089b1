"""Sidebar grouped by domain. Links appear only to those who hold the model permission."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


def _item(title: str, icon: str, model: str) -> dict[str, Any] | None:
    app_label, model_name = model.split(".")
    try:
        apps.get_model(app_label, model_name)
        link = reverse(f"admin:{app_label}_{model_name}_changelist")
    except (LookupError, NoReverseMatch):
        return None  # model or admin not there yet

    def permission(request: HttpRequest) -> bool:
        return request.user.has_perm(f"{app_label}.view_{model_name}")

    return {"title": title, "icon": icon, "link": link, "permission": permission}


GROUPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Creators & team", [
        ("Creators", "face", "accounts.creator"),
        ("Memberships", "group", "accounts.membership"),
        ("Staff users", "badge", "accounts.user"),
        ("API keys", "key", "accounts.apikey"),
    ]),
    ("Compliance", [
        ("Performers", "verified_user", "compliance.performer"),
        ("Identity checks", "fingerprint", "compliance.identityverification"),
        ("Consents", "contract", "compliance.consentrecord"),
        ("Takedowns", "gavel", "compliance.takedownrequest"),
        ("Audit log", "history", "accounts.auditevent"),
    ]),
    ("Content", [
        ("Assets", "photo_library", "content.asset"),
        ("Collections", "collections", "content.collection"),
        ("Generation jobs", "auto_awesome", "content.generationjob"),
    ]),
    ("Scheduling", [
        ("Posts", "edit_note", "scheduling.post"),
        ("Publications", "send", "scheduling.publication"),
        ("Platform accounts", "hub", "scheduling.platformaccount"),
    ]),
    ("Analytics", [
        ("Transactions", "payments", "analytics.transaction"),
        ("Fans", "favorite", "analytics.fan"),
    ]),
    ("System", [
        ("Periodic tasks", "schedule", "django_celery_beat.periodictask"),
        ("Task results", "task_alt", "django_celery_results.taskresult"),
        ("Login lockouts", "lock", "axes.accessattempt"),
    ]),
]


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    home = {"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}
    navigation: list[dict[str, Any]] = [{"title": "Atelier", "separator": False, "items": [home]}]
    for title, entries in GROUPS:
        items = [i for i in (_item(*entry) for entry in entries) if i is not None]
        if items:
            navigation.append({"title": title, "separator": True, "collapsible": True, "items": items})
    return navigation
