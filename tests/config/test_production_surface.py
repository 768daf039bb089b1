"""Who may read the API schema, the API docs and the Prometheus metrics when DEBUG is off.

The suite runs with DEBUG=0 (pyproject's pytest_env), so these are the production rules.
"""

from __future__ import annotations

import logging

import pytest
from django.core.checks import run_checks

from accounts import services
from accounts.models import ApiKey
from config import checks


@pytest.fixture
def api_key(people) -> str:
    return services.issue_api_key(owner=people["alice"], name="integration", creators=[people["a"]],
                                  scope=ApiKey.Scope.READ).raw


@pytest.mark.django_db
def test_anonymous_schema_is_refused_with_the_api_error(client):
    response = client.get("/api/schema/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert b"/api/v1/" not in response.content


@pytest.mark.django_db
def test_anonymous_docs_redirect_to_the_login(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/api/docs/")
    script = client.get("/api/docs/?script=")
    assert script.status_code == 302


@pytest.mark.django_db
def test_a_bad_api_key_gets_no_schema(client):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer atl_nope_nope")
    assert response.status_code == 401


@pytest.mark.django_db
def test_signed_in_staff_reads_schema_and_docs(client, people):
    client.force_login(people["alice"])
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from our own static files, its start-up script from a separate request (CSP).
    body = docs.content.decode()
    assert "cdn.jsdelivr.net" not in body and "<script>" not in body
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_an_api_key_reads_schema_and_docs(client, api_key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    schema = client.get("/api/schema/", **auth)
    assert schema.status_code == 200 and b"/api/v1/" in schema.content
    assert client.get("/api/docs/", **auth).status_code == 200


@pytest.mark.django_db
def test_a_non_staff_session_gets_no_schema(client, people):
    people["bob"].is_staff = False
    people["bob"].save(update_fields=["is_staff"])
    client.force_login(people["bob"])
    assert client.get("/api/schema/").status_code == 403


# --- /metrics ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_without_a_token_configured_are_refused(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"atelier_http_requests_total" not in response.content
    assert b"METRICS_TOKEN" in response.content


@pytest.mark.django_db
def test_metrics_need_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="s3cret-metrics-token").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert ok.status_code == 200 and b"atelier_http_requests_total" in ok.content


@pytest.mark.django_db
def test_metrics_stay_open_for_local_work(client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def test_missing_metrics_token_is_a_warning_at_start(settings, caplog):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    assert "atelier.W010" in {m.id for m in run_checks()}
    with caplog.at_level(logging.WARNING, logger="config.checks"):
        checks.require_serving_settings()
    assert "METRICS_TOKEN" in caplog.text
    settings.METRICS_TOKEN = "x" * 32
    assert "atelier.W010" not in {m.id for m in run_checks()}
