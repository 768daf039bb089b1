"""Notifications reach the right people once: managers by email, internal systems by signed
webhooks that are retried with backoff and given up on after a bounded number of attempts."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from compliance import crypto
from notifications import services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint

D = WebhookDelivery.Status


def raise_notice(people, creator="a", **kwargs) -> Notification:
    creator_id = people[creator].pk if creator else None
    defaults = {"title": "Fanvue @luna: post #7 failed", "body": "HTTP 500 from Fanvue.", "level": "error",
                "link": "/admin/scheduling/publication/7/change/", "dedupe_key": f"publication.failed:7:{creator}"}
    return services.notify("publication.failed", creator_id=creator_id, **{**defaults, **kwargs})


@pytest.mark.django_db
def test_email_goes_to_the_creators_managers_and_owners_only(people, django_capture_on_commit_callbacks,
                                                              eager_celery):
    with django_capture_on_commit_callbacks(execute=True):
        note = raise_notice(people)
    # One message each; not bob (editor of A), not charlie (manager of B).
    assert sorted(m.to for m in mail.outbox) == [["alice@example.test"], ["owner@example.test"]]
    message = mail.outbox[0]
    assert "post #7 failed" in message.subject and "Alpha" in message.subject
    assert "https://atelier.example.test/admin/scheduling/publication/7/change/" in message.body
    note.refresh_from_db()
    assert note.emailed_at is not None


@pytest.mark.django_db
def test_agency_wide_notice_goes_to_owners(people, django_capture_on_commit_callbacks, eager_celery):
    with django_capture_on_commit_callbacks(execute=True):
        raise_notice(people, creator=None, title="Disk almost full")
    assert [m.to for m in mail.outbox] == [["owner@example.test"]]


@pytest.mark.django_db
def test_dedupe_and_idempotent_email(people, django_capture_on_commit_callbacks, eager_celery):
    with django_capture_on_commit_callbacks(execute=True):
        first = raise_notice(people)
        assert raise_notice(people) is None  # same condition, still unresolved
    services.fan_out(first.pk)  # a redelivered task
    assert len(mail.outbox) == 2  # alice and the owner, once each
    services.resolve(first)
    with django_capture_on_commit_callbacks(execute=True):
        assert raise_notice(people) is not None  # resolved: the condition may be raised anew
    assert len(mail.outbox) == 4


@pytest.mark.django_db
def test_failed_send_gives_the_claim_back(people, monkeypatch):
    note = raise_notice(people)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(services, "send_mail", refuse)
    with pytest.raises(ConnectionRefusedError):
        services.email_notification(note.pk)
    note.refresh_from_db()
    assert note.emailed_at is None  # the task's retry will send it
    monkeypatch.undo()
    assert services.email_notification(note.pk) is True
    assert services.email_notification(note.pk) is False
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_webhook_is_signed_and_verifiable(people, receiver, django_capture_on_commit_callbacks, eager_celery):
    endpoint, secret = services.create_endpoint(people["a"], "Ops board", receiver.url, [])
    assert secret.startswith("whsec_") and secret not in endpoint.secret_encrypted
    assert crypto.decrypt_text(WebhookEndpoint.objects.get().secret_encrypted) == secret
    other, _ = services.create_endpoint(people["b"], "Beta's board", receiver.url, [])
    services.create_endpoint(people["a"], "Only re-auth", receiver.url, ["account.needs_reauth"])
    agency, _ = services.create_endpoint(None, "Agency", receiver.url + "?all", [])
    with django_capture_on_commit_callbacks(execute=True):
        note = raise_notice(people)

    assert {r["path"] for r in receiver.requests} == {"/hooks/atelier", "/hooks/atelier?all"}
    assert WebhookDelivery.objects.filter(endpoint=other).count() == 0  # another creator's endpoint
    request = next(r for r in receiver.requests if r["path"] == "/hooks/atelier")
    header = request["headers"]["X-Atelier-Signature"]
    assert services.verify_signature(secret, header, request["body"])
    assert not services.verify_signature("whsec_wrong", header, request["body"])
    assert not services.verify_signature(secret, header, request["body"] + b" ")
    assert not services.verify_signature(secret, header, request["body"], now=time.time() + 3600)
    body = json.loads(request["body"])
    assert set(body) == {"id", "type", "created_at", "creator_id", "data"}
    assert body["type"] == "publication.failed" and body["creator_id"] == people["a"].pk
    assert body["data"]["link"] == "https://atelier.example.test/admin/scheduling/publication/7/change/"
    assert request["headers"]["X-Atelier-Event-Id"] == body["id"] == str(services.event_id_for(note))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == D.DELIVERED and delivery.attempts == 1 and delivery.response_status == 200
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None
    assert WebhookDelivery.objects.get(endpoint=agency).status == D.DELIVERED
    assert services.create_deliveries(note.pk) == []  # running fan-out again creates nothing new


@pytest.mark.django_db
def test_retries_on_500_then_succeeds_with_the_same_event_id(people, receiver):
    services.create_endpoint(people["a"], "Ops", receiver.url, [])
    receiver.statuses = [500]
    note = raise_notice(people)
    [delivery_id] = services.create_deliveries(note.pk)

    assert services.deliver(delivery_id) == D.PENDING
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.attempts == 1 and delivery.response_status == 500
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)  # backoff, with jitter
    assert services.deliver(delivery_id) == D.PENDING and len(receiver.requests) == 1  # not due yet
    assert services.due_delivery_ids() == []
    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert services.due_delivery_ids(now=later) == [delivery_id]

    assert services.deliver(delivery_id, now=later) == D.DELIVERED
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.delivered_at is not None
    ids = {r["headers"]["X-Atelier-Event-Id"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and ids == {str(delivery.event_id)}
    assert services.deliver(delivery_id, now=later + timedelta(days=1)) == D.DELIVERED  # never re-sent
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_gives_up_after_max_attempts(people, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    endpoint, _ = services.create_endpoint(people["a"], "Ops", receiver.url, [])
    receiver.statuses = [500] * 10
    [delivery_id] = services.create_deliveries(raise_notice(people).pk)
    when, outcomes = timezone.now(), []
    for _ in range(6):
        outcomes.append(services.deliver(delivery_id, now=when))
        when += timedelta(days=1)
    assert outcomes == [D.PENDING] * 3 + [D.FAILED] * 3
    assert len(receiver.requests) == 4
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == D.FAILED and delivery.attempts == 4 and delivery.next_attempt_at is None
    endpoint.refresh_from_db()
    assert "HTTP 500" in endpoint.last_error and "Gave up after 4" in endpoint.last_error

    services.retry_delivery(delivery)  # a person asks again once the receiver is fixed
    receiver.statuses = []
    assert services.deliver(delivery_id) == D.DELIVERED


@pytest.mark.django_db
def test_unreachable_endpoint_is_retried_not_crashed(people, settings, allow_loopback):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    services.create_endpoint(people["a"], "Gone", "http://127.0.0.1:9/nothing-listens", [])
    [delivery_id] = services.create_deliveries(raise_notice(people).pk)
    assert services.deliver(delivery_id) == D.PENDING
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    assert delivery.response_status is None and "ConnectError" in delivery.endpoint.last_error


@pytest.mark.django_db
def test_rotated_secret_signs_from_now_on(people, receiver):
    endpoint, old = services.create_endpoint(people["a"], "Ops", receiver.url, [])
    new = services.rotate_secret(endpoint)
    assert new != old
    delivery = services.send_test_event(endpoint)
    services.deliver(delivery.pk)
    request = receiver.requests[-1]
    assert services.verify_signature(new, request["headers"]["X-Atelier-Signature"], request["body"])
    assert not services.verify_signature(old, request["headers"]["X-Atelier-Signature"], request["body"])
    assert json.loads(request["body"])["type"] == "webhook.test"


def test_verify_signature_rejects_malformed_headers():
    body = b'{"id": "x"}'
    now = int(time.time())
    good = services.sign("s3cret", body, now)
    assert services.verify_signature("s3cret", good, body)
    for header in ["", "t=abc,v1=00", f"t={now}", "v1=deadbeef", f"t={now},v1="]:
        assert not services.verify_signature("s3cret", header, body)
