from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts import audit
from accounts.models import AuditEvent


@pytest.mark.django_db
def test_services_write_audit_events(people):
    from accounts import services

    services.create_creator(stage_name="Gamma", actor=people["owner"])
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"creator.created", "membership.added"} <= actions
    event = AuditEvent.objects.filter(action="membership.added", creator=people["a"]).first()
    assert event.changes["role"] in {"manager", "editor"}


@pytest.mark.django_db
def test_audit_event_cannot_be_changed_or_deleted_through_orm(people):
    event = audit.record("test.event", people["a"])
    event.action = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.postgres
def test_database_refuses_raw_update_and_delete(people):
    event = audit.record("test.event", people["a"])
    for sql in ("UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
                "DELETE FROM accounts_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])


@pytest.mark.django_db
def test_admin_audit_log_is_read_only_even_for_owner(client, people):
    client.force_login(people["owner"])
    event = AuditEvent.objects.first()
    assert client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_request_context_is_recorded(client, people):
    client.force_login(people["alice"])
    client.patch(f"/api/v1/creators/{people['a'].pk}/", {"language": "de"}, content_type="application/json",
                 HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.filter(action="creator.updated").latest("id")
    assert event.actor_id == people["alice"].pk
    assert event.request_id == "req-123"
    assert event.ip == "10.1.2.3"
    assert event.changes == {"fields": ["language"]}
