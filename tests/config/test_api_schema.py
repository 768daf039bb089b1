"""The API schema: each app's routes described without a drf-spectacular warning, no secret among the
fields, and the whole API served at /api/schema/ to staff.

Each app's routes are generated alone, so every warning counted is that app's own; the whole API is
generated too, where enums of different apps could collide.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.routers import DefaultRouter


def generated(register_module: str | None) -> tuple[dict, list]:
    """The schema of one app's routes (or of the whole API when None) and the generator's warnings."""
    patterns = None
    if register_module:
        router = DefaultRouter()
        importlib.import_module(register_module).register(router)
        patterns = [path("api/v1/", include(router.urls))]
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


def fields(schema: dict, component: str) -> set[str]:
    return set(schema["components"]["schemas"][component]["properties"])


def platform_accounts_hide_credentials(schema: dict) -> None:
    names = fields(schema, "PlatformAccount")
    assert {"token_expires_at", "state", "scopes"} <= names
    assert not {f for f in names if "credential" in f or "token" in f} - {"token_expires_at"}


def performers_hide_documents(schema: dict) -> None:
    params = {p["name"] for p in schema["paths"]["/api/v1/compliance/performers/{id}/consent-status/"]["get"][
        "parameters"]}
    assert {"platform", "rating", "use", "at"} <= params
    assert "document_number" not in str(schema["components"]["schemas"]["Performer"])


def generation_backends_hide_keys(schema: dict) -> None:
    assert not {f for f in fields(schema, "GenerationBackend") if "key" in f or "url" in f or "option" in f}


def webhook_endpoints_hide_secrets(schema: dict) -> None:
    assert "secret" not in fields(schema, "WebhookEndpoint")


def nothing_more(schema: dict) -> None:
    pass


APPS = [
    pytest.param("scheduling.api.views", ("/api/v1/posts/{id}/approve/", "/api/v1/publications/{id}/schedule/",
                                    "/api/v1/publications/{id}/add-to-queue/", "/api/v1/calendar/",
                                    "/api/v1/queue-slots/{id}/", "/api/v1/publications/"),
                 platform_accounts_hide_credentials, id="scheduling"),
    pytest.param("compliance.api.views", ("/api/v1/compliance/performers/", "/api/v1/compliance/performers/{id}/",
                                          "/api/v1/compliance/performers/{id}/consent-status/",
                                          "/api/v1/compliance/takedowns/", "/api/v1/compliance/takedowns/{id}/"),
                 performers_hide_documents, id="compliance"),
    pytest.param("content.api.views", ("/api/v1/generation-jobs/", "/api/v1/generation-jobs/{id}/cancel/",
                                        "/api/v1/generation-jobs/{id}/retry/", "/api/v1/captions/suggest/",
                                        "/api/v1/generation-usage/monthly/", "/api/v1/prompt-templates/{id}/",
                                        "/api/v1/generation-backends/", "/api/v1/prompt-categories/"),
                 generation_backends_hide_keys, id="studio"),
    pytest.param("notifications.api.views", ("/api/v1/webhook-endpoints/",
                                             "/api/v1/webhook-endpoints/{id}/rotate-secret/"),
                 webhook_endpoints_hide_secrets, id="notifications"),
    pytest.param("analytics.api.views", ("/api/v1/rollups/", "/api/v1/fans/", "/api/v1/transactions/",
                                   "/api/v1/subscriptions/"),
                 nothing_more, id="analytics"),
    pytest.param(None, ("/api/v1/creators/", "/api/v1/publications/", "/api/v1/compliance/takedowns/",
                        "/api/v1/generation-jobs/", "/api/v1/webhook-endpoints/", "/api/v1/rollups/"),
                 nothing_more, id="whole-api"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("register_module", "routes", "private"), APPS)
def test_the_schema_describes_the_endpoints_without_warnings(client, people, register_module: str | None,
                                                            routes: tuple[str, ...],
                                                            private: Callable[[dict], Any]):
    schema, problems = generated(register_module)
    assert problems == []
    for route in routes:
        assert route in schema["paths"], route
    private(schema)
    client.force_login(people["owner"])
    served = client.get("/api/schema/")
    assert served.status_code == 200
    for route in routes:
        assert route.encode() in served.content, route


@pytest.mark.django_db
def test_the_api_root_lists_the_studio_routes(client, people):
    client.force_login(people["owner"])
    root = client.get("/api/v1/")
    assert root.status_code == 200 and "generation-jobs" in root.json()
