from __future__ import annotations

import pytest

from config import health


@pytest.mark.django_db
def test_health_ok(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage"}


@pytest.mark.django_db
def test_health_names_the_failed_check(client, monkeypatch):
    def broken() -> None:
        raise ConnectionError("down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
@pytest.mark.redis
def test_health_with_redis_broker(client, settings):
    from tests.conftest import redis_url

    settings.CELERY_BROKER_URL = redis_url()
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    assert client.get("/health/").status_code == 200
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert client.get("/health/").json()["failed"] == ["broker"]


@pytest.mark.django_db
def test_metrics_exposed_and_token_protected(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    client.get("/health/")
    assert client.get("/metrics").status_code == 401
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert "atelier_http_requests_total" in body


@pytest.mark.django_db
def test_request_id_echoed(client):
    assert client.get("/health/", HTTP_X_REQUEST_ID="abc-1").headers["X-Request-ID"] == "abc-1"
    generated = client.get("/health/", HTTP_X_REQUEST_ID="bad id with spaces").headers["X-Request-ID"]
    assert len(generated) == 32


@pytest.mark.s3
@pytest.mark.django_db
def test_health_with_s3_storage(client, s3_storage):
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    # the probe file was written and removed again
    assert s3_storage.list_objects_v2(Bucket="atelier-media").get("KeyCount", 0) == 0


@pytest.mark.s3
@pytest.mark.django_db
def test_health_fails_when_bucket_missing(client, s3_storage):
    s3_storage.delete_bucket(Bucket="atelier-media")
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


@pytest.mark.django_db
def test_expired_control_tasks_are_counted_in_metrics(client, settings):
    """A dispatcher or reaper run that expired in the queue never ran: /metrics (served by the web
    process) counts it, although the worker that dropped it is another process."""
    from celery import signals
    from django.core.cache import cache

    from config.observability import EXPIRED_KEY

    cache.delete_many([EXPIRED_KEY + ":names", EXPIRED_KEY + ":scheduling.tasks.dispatch_due"])
    settings.METRICS_TOKEN = "s3cret"

    class Request:
        name = "scheduling.tasks.dispatch_due"

    for _ in range(2):
        signals.task_revoked.send(sender=None, request=Request(), terminated=False, signum=None, expired=True)
    signals.task_revoked.send(sender=None, request=Request(), terminated=True, signum=9, expired=False)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert 'atelier_celery_tasks_expired_total{task="scheduling.tasks.dispatch_due"} 2.0' in body
