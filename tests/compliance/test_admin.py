"""The compliance admin: the tenant boundary on every page, documents only through audited services,
records that cannot be edited, and service refusals shown on the forms that caused them."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from compliance import crypto, services, signals
from compliance.models import (
    BlockedTerm,
    ConsentRecord,
    IdentityVerification,
    Performer,
    PerformerName,
    TakedownAction,
    TakedownRequest,
)
from tests.browser import conftest as browser_conftest
from tests.compliance.factories import (
    FRONT_A,
    ConsentFactory,
    PerformerFactory,
    TakedownFactory,
    VerificationFactory,
    jpeg,
    make_officer,
    pdf,
    use_private_storage,
)
from tests.conftest import chromium_path

PASSWORD = "correct-horse-battery"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_location")]
# What every test but the browser journey starts from: both creators' performers, each verified and
# consenting and named in a takedown; oscar officer of A, charlie officer of B.
ON_FILE = pytest.mark.usefixtures("oscar", "officer_b", "verification_a", "consent_a", "takedown_a",
                                  "verification_b", "consent_b", "takedown_b")


def form_values(form) -> dict:
    """What a browser would post back for `form` as rendered (split widgets as _0/_1)."""
    data: dict = {}
    for bound in form:
        value, widget = bound.value(), bound.field.widget
        if hasattr(widget, "widgets"):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for i, part in enumerate(parts):
                data[f"{bound.html_name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def change_form_data(response) -> dict:
    data = form_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(form_values(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_values(form))
    return data


# --- Tenancy -------------------------------------------------------------------------------------


CHANGELISTS = ["performer", "identityverification", "consentrecord", "takedownrequest"]


@ON_FILE
@pytest.mark.parametrize("model", CHANGELISTS)
def test_officer_changelists_hide_other_creators(client, oscar, performer_a, verification_a, consent_a, takedown_a,
                                                 performer_b, verification_b, consent_b, takedown_b, model):
    client.force_login(oscar)
    response = client.get(reverse(f"admin:compliance_{model}_changelist"))
    assert response.status_code == 200
    pks = {obj.pk for obj in response.context["cl"].result_list}
    mine = {"performer": performer_a, "identityverification": verification_a, "consentrecord": consent_a,
            "takedownrequest": takedown_a}[model]
    theirs = {"performer": performer_b, "identityverification": verification_b, "consentrecord": consent_b,
              "takedownrequest": takedown_b}[model]
    assert mine.pk in pks
    assert theirs.pk not in pks
    body = response.content.decode()
    assert "Bianca Rossi" not in body
    assert "Beta" not in body


@ON_FILE
def test_officer_other_creator_object_pages_are_404(client, oscar, performer_b, verification_b, consent_b, takedown_b,
                                                    performer_a):
    client.force_login(oscar)
    urls = [
        reverse("admin:compliance_performer_change", args=[performer_b.pk]),
        reverse("admin:compliance_performer_history", args=[performer_b.pk]),
        reverse("admin:compliance_identityverification_change", args=[verification_b.pk]),
        reverse("admin:compliance_consentrecord_change", args=[consent_b.pk]),
        reverse("admin:compliance_takedownrequest_change", args=[takedown_b.pk]),
        reverse("admin:compliance_performer_change", args=[999999]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("admin:compliance_performer_change", args=[performer_a.pk])).status_code == 200


@ON_FILE
def test_officer_exports_and_downloads_of_other_creator_are_404(client, oscar, verification_b, consent_b, performer_b,
                                                                takedown_b):
    client.force_login(oscar)
    reads_before = AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).count()
    urls = [
        reverse("admin:compliance_identityverification_document", args=[verification_b.pk, "front"]),
        reverse("admin:compliance_identityverification_number", args=[verification_b.pk]),
        reverse("admin:compliance_consentrecord_release", args=[consent_b.pk]),
        reverse("admin:compliance_consentrecord_revoke", args=[consent_b.pk]),
        reverse("admin:compliance_performer_record_2257_json", args=[performer_b.pk]),
        reverse("admin:compliance_performer_record_2257_print", args=[performer_b.pk]),
        reverse("admin:compliance_performer_export_data_detail", args=[performer_b.pk]),
        reverse("admin:compliance_performer_erase_detail", args=[performer_b.pk]),
        reverse("admin:compliance_takedownrequest_record_outcome", args=[takedown_b.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"reason": "x", "status": "removed", "description": "x"}).status_code == 404, url
    assert AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).count() == reads_before
    consent_b.refresh_from_db()
    performer_b.refresh_from_db()
    assert consent_b.revoked_at is None
    assert performer_b.status == Performer.Status.ACTIVE


@ON_FILE
@pytest.mark.parametrize("who", ["bob", "alice"])
def test_editor_and_manager_reach_no_documents(client, people, verification_a, performer_a, who):
    client.force_login(people[who])
    for url in [reverse("admin:compliance_identityverification_document", args=[verification_a.pk, "front"]),
                reverse("admin:compliance_performer_record_2257_json", args=[performer_a.pk]),
                reverse("admin:compliance_performer_export_data_detail", args=[performer_a.pk])]:
        assert client.get(url).status_code in (403, 404), url
    assert not AuditEvent.objects.filter(action="document.read").exists()


@ON_FILE
def test_search_finds_a_performer_by_alias_once(client, oscar, performer_a, people, performer_b):
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_changelist")
    results = list(client.get(url, {"q": "Mimi"}).context["cl"].result_list)
    assert [p.pk for p in results] == [performer_a.pk]  # matches two aliases, listed once
    assert [p.pk for p in client.get(url, {"q": "Lune"}).context["cl"].result_list] == [performer_a.pk]
    assert list(client.get(url, {"q": "Stella"}).context["cl"].result_list) == []
    assert list(client.get(url, {"q": "Bianca"}).context["cl"].result_list) == []
    client.force_login(people["owner"])
    assert [p.pk for p in client.get(url, {"q": "Stella"}).context["cl"].result_list] == [performer_b.pk]


@ON_FILE
def test_performer_list_shows_standing(client, performer_a, oscar):
    ConsentFactory(performer=performer_a, valid_until=timezone.now() + timedelta(days=10))
    ConsentFactory(performer=performer_a)
    revoked = ConsentFactory(performer=performer_a)
    services.revoke_consent(revoked, reason="Asked by the performer", actor=oscar)
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_performer_changelist"))
    body = response.content.decode()
    assert "verified adult" in body
    assert "3 valid · 1 revoked · 1 expiring in 30 days" in body
    row = next(p for p in response.context["cl"].result_list if p.pk == performer_a.pk)
    assert [link.creator.stage_name for link in row.visible_links] == ["Alpha"]


@ON_FILE
def test_performer_changelist_queries_do_not_grow_with_rows(client, oscar, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(oscar)
    url = reverse("admin:compliance_performer_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        performer = PerformerFactory(creators=[people["a"]], other_names=[("Alias", "alias")])
        VerificationFactory(performer=performer)
        ConsentFactory(performer=performer, release=None)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 5
    assert len(many) == len(few)


# --- Board ---------------------------------------------------------------------------------------


@ON_FILE
def test_board_for_officers_and_owner_only(client, people, oscar, officer_b):
    users = {**people, "oscar": oscar, "charlie": officer_b}
    url = reverse("admin:compliance_board")
    for who, status in [("bob", 403), ("alice", 403), ("oscar", 200), ("charlie", 200), ("owner", 200)]:
        client.force_login(users[who])
        assert client.get(url).status_code == status, who
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


@ON_FILE
def test_board_sections_are_restricted_and_ordered(client, people, performer_a, performer_b, oscar, takedown_a):
    now = timezone.now()
    unverified = PerformerFactory(legal_name="Nadia Unverified", creators=[people["a"]])
    ConsentFactory(performer=unverified)
    expiring = ConsentFactory(performer=performer_a, valid_until=now + timedelta(days=5))
    ConsentFactory(performer=performer_b, valid_until=now + timedelta(days=5))
    overdue = TakedownFactory(creator=people["a"], received_at=now - timedelta(hours=60))
    soon = TakedownFactory(creator=people["a"], received_at=now - timedelta(hours=40))
    TakedownFactory(creator=people["b"], received_at=now - timedelta(hours=60))
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_board"))
    ctx = response.context
    assert {p.pk for p in ctx["performers"]} == {performer_a.pk, unverified.pk}
    assert [c.pk for c in ctx["expiring"]] == [expiring.pk]
    assert [t.pk for t in ctx["takedowns"]] == [overdue.pk, soon.pk, takedown_a.pk]
    assert [t.deadline for t in ctx["takedowns"]] == ["overdue", "due < 12 h", "open"]
    blocked = {item.performer.pk: {r["code"] for r in item.reasons} for item in ctx["blocked"]}
    assert blocked == {unverified.pk: {"performer_not_verified"}}
    body = response.content.decode()
    assert 'data-deadline="overdue"' in body and "bg-red-50" in body
    assert "Bianca Rossi" not in body and "Beta" not in body


@ON_FILE
def test_board_reports_gate_reasons_for_missing_consent_and_underage(client, people, oscar, performer_a):
    minor = PerformerFactory(legal_name="Too Young", creators=[people["a"]])
    VerificationFactory(performer=minor)
    # A record from before minors were refused as active performers.
    Performer.objects.filter(pk=minor.pk).update(date_of_birth=timezone.now().date() - timedelta(days=365 * 16))
    client.force_login(oscar)
    items = {i.performer.pk: i for i in client.get(reverse("admin:compliance_board")).context["blocked"]}
    codes = {r["code"] for r in items[minor.pk].reasons}
    assert {"performer_underage", "consent_missing"} <= codes
    assert performer_a.pk not in items


# --- Documents -----------------------------------------------------------------------------------


@ON_FILE
def test_download_id_returns_plaintext_and_audits(client, oscar, verification_a, people, private_location):
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_identityverification_document", args=[verification_a.pk, "front"]))
    assert response.status_code == 200
    assert response.content == FRONT_A
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="document.read", object_id=str(verification_a.pk))
    assert event.actor_id == oscar.pk
    assert event.creator_id == people["a"].pk
    assert event.changes["document"] == verification_a.front_id

    stored = (private_location / verification_a.front.storage_name).read_bytes()
    assert stored != FRONT_A
    assert b"front-amelie" not in stored
    assert crypto.decrypt(stored) == FRONT_A


@ON_FILE
def test_verification_page_masks_the_number_and_links_downloads(client, oscar, verification_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_identityverification_change", args=[verification_a.pk])
    body = client.get(url).content.decode()
    assert "FR12345678" not in body
    assert reverse("admin:compliance_identityverification_number", args=[verification_a.pk]) in body
    for side in ("front", "back"):
        assert reverse("admin:compliance_identityverification_document", args=[verification_a.pk, side]) in body
    assert "/media/" not in body
    assert not AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).exists()


@ON_FILE
def test_revealing_the_document_number_is_deliberate_and_audited(client, oscar, verification_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_identityverification_number", args=[verification_a.pk])
    response = client.get(url)
    assert "FR12345678" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="document_number.read").exists()
    response = client.post(url)
    assert "FR12345678" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="document_number.read", object_id=str(verification_a.pk),
                                     actor=oscar).count() == 1


@ON_FILE
def test_release_download(client, oscar, consent_a):
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_consentrecord_release", args=[consent_a.pk]))
    assert response.status_code == 200
    assert response.content == pdf()
    assert response["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="document.read", object_type="compliance.consentrecord",
                                     object_id=str(consent_a.pk)).exists()


@ON_FILE
def test_verifications_cannot_be_edited_or_deleted(client, oscar, verification_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_identityverification_change", args=[verification_a.pk])
    assert client.post(url, {"result": "rejected"}).status_code == 403
    delete = reverse("admin:compliance_identityverification_delete", args=[verification_a.pk])
    assert client.post(delete).status_code == 403
    verification_a.refresh_from_db()
    assert verification_a.result == IdentityVerification.Result.APPROVED


# --- Adding records through the services ---------------------------------------------------------


def verification_post(performer, **overrides) -> dict:
    data = {"performer": performer.pk, "document_kind": "passport", "document_country": "FR",
            "document_expiry": "2032-05-01", "document_number": "NEW9876", "method": "manual", "provider": "",
            "provider_session_id": "", "provider_decision": "", "provider_reason": "", "result": "approved",
            "notes": "", "front_file": SimpleUploadedFile("front.jpg", jpeg("uploaded-front"), "image/jpeg")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@ON_FILE
def test_add_verification_through_admin_encrypts_in_memory(client, oscar, performer_a, verification_a, settings,
                                                           monkeypatch):
    from django.core.files import uploadhandler

    def no_temp_files(*args, **kwargs):
        raise AssertionError("an identity document was spooled to a temporary file")

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16  # anything above would normally go to a temp file
    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "new_file", no_temp_files)
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_identityverification_add"), verification_post(performer_a))
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = IdentityVerification.objects.exclude(pk=verification_a.pk).get(performer=performer_a)
    assert created.verified_by == oscar
    assert crypto.decrypt_text(created.document_number_encrypted) == "NEW9876"
    event = AuditEvent.objects.get(action="verification.recorded", object_id=str(created.pk))
    assert event.actor_id == oscar.pk
    download = client.get(reverse("admin:compliance_identityverification_document", args=[created.pk, "front"]))
    assert download.content == jpeg("uploaded-front")


@ON_FILE
@pytest.mark.parametrize("model", ["identityverification", "consentrecord"])
def test_document_upload_forms_still_check_csrf(oscar, performer_a, model):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(oscar)
    data = verification_post(performer_a) if model == "identityverification" else consent_post(performer_a)
    response = strict.post(reverse(f"admin:compliance_{model}_add"), data)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert IdentityVerification.objects.count() == 2 and ConsentRecord.objects.count() == 2


@ON_FILE
def test_add_verification_shows_service_refusals_on_the_form(client, oscar, performer_a, performer_b, private_location):
    client.force_login(oscar)
    url = reverse("admin:compliance_identityverification_add")
    before = IdentityVerification.objects.count()

    response = client.post(url, verification_post(performer_a, front_file=None))  # manual approval, no image
    assert response.status_code == 200
    assert "A manual approval needs at least the document" in response.content.decode()

    not_an_id = SimpleUploadedFile("bill.txt", b"electricity bill, March", "text/plain")
    response = client.post(url, verification_post(performer_a, front_file=not_an_id))
    assert response.status_code == 200
    assert "Documents must be a JPEG" in response.content.decode()

    response = client.post(url, verification_post(performer_a, document_kind="utility_bill"))
    assert response.status_code == 200
    assert "document_kind" in response.context["adminform"].form.errors

    response = client.post(url, verification_post(performer_b))  # another creator's performer
    assert "performer" in response.context["adminform"].form.errors
    assert IdentityVerification.objects.count() == before
    stored = list((private_location / "documents" / "identity").iterdir())
    assert len(stored) == IdentityVerification.objects.exclude(front=None).count() + 1  # va's back


def consent_post(performer, **overrides) -> dict:
    signed = timezone.now() - timedelta(hours=1)
    data = {"performer": performer.pk, "supersedes": "", "platforms": ["fanvue", "reddit"], "max_rating": "explicit",
            "uses": ["publication", "promotion_on_social"], "signed_at_0": signed.date().isoformat(),
            "signed_at_1": signed.strftime("%H:%M:%S"), "valid_from_0": "", "valid_from_1": "",
            "valid_until_0": (signed + timedelta(days=365)).date().isoformat(), "valid_until_1": "12:00:00",
            "release_file": SimpleUploadedFile("release.pdf", pdf("uploaded-release"), "application/pdf")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@ON_FILE
def test_add_consent_through_admin(client, oscar, performer_a, consent_a):
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_consentrecord_add"), consent_post(performer_a))
    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = ConsentRecord.objects.filter(performer=performer_a).exclude(pk=consent_a.pk).get()
    assert consent.platforms == ["fanvue", "reddit"]
    assert consent.collected_by == oscar
    assert consent.valid_from == consent.signed_at
    assert AuditEvent.objects.filter(action="consent.recorded", object_id=str(consent.pk)).exists()
    release = client.get(reverse("admin:compliance_consentrecord_release", args=[consent.pk]))
    assert release.content == pdf("uploaded-release")


@ON_FILE
def test_add_consent_refusals(client, oscar, performer_a, consent_b):
    client.force_login(oscar)
    url = reverse("admin:compliance_consentrecord_add")
    before = ConsentRecord.objects.count()
    ends_before_start = consent_post(performer_a, valid_until_0="2001-01-01")
    response = client.post(url, ends_before_start)
    assert response.status_code == 200
    assert "A consent must end after it starts." in response.content.decode()
    response = client.post(url, consent_post(performer_a, supersedes=str(consent_b.pk)))
    assert "supersedes" in response.context["adminform"].form.errors  # B's consent is not a choice
    response = client.post(url, consent_post(performer_a, platforms=["myspace"]))
    assert "platforms" in response.context["adminform"].form.errors
    assert ConsentRecord.objects.count() == before


@ON_FILE
def test_consent_change_page_cannot_modify_it(client, oscar, consent_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_consentrecord_change", args=[consent_a.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="max_rating"' not in body
    assert reverse("admin:compliance_consentrecord_revoke", args=[consent_a.pk]) in body
    assert client.post(url, {"max_rating": "sfw", "platforms": ["instagram"]}).status_code == 403
    assert client.post(reverse("admin:compliance_consentrecord_delete", args=[consent_a.pk])).status_code == 403
    consent_a.refresh_from_db()
    assert consent_a.max_rating == "explicit" and consent_a.platforms == ["fanvue", "x"]


@ON_FILE
def test_revoke_through_the_reason_page(client, consent_a, performer_a, oscar, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, performer_ids, consent_id, revoked_at, **kwargs):
        received.append((performer_ids, consent_id))

    signals.consent_revoked.connect(receiver, weak=False)
    scope = {"platform": consent_a.platforms[0], "rating": consent_a.max_rating, "use": consent_a.uses[0]}
    assert services.consent_status(performer_a, **scope)["allowed"] is True
    try:
        client.force_login(oscar)
        url = reverse("admin:compliance_consentrecord_revoke", args=[consent_a.pk])
        page_ = client.get(url)
        assert page_.status_code == 200
        assert 'name="reason"' in page_.content.decode()

        response = client.post(url, {"reason": "  "})
        assert response.status_code == 200
        consent_a.refresh_from_db()
        assert consent_a.revoked_at is None

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"reason": "The performer withdrew consent by email."})
        assert response.status_code == 302
        consent_a.refresh_from_db()
        assert consent_a.revoked_at is not None
        assert consent_a.revoked_by == oscar
        assert consent_a.revoked_reason == "The performer withdrew consent by email."

        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, {"reason": "again"}).status_code == 302
        assert received == [([performer_a.pk], consent_a.pk)]
        # From that moment the gate refuses any publication depicting the performer.
        status = services.consent_status(performer_a, **scope)
        assert status["allowed"] is False
        assert "consent_revoked" in {r["code"] for r in status["reasons"]}
        body = client.get(reverse("admin:compliance_consentrecord_change", args=[consent_a.pk])).content.decode()
        assert reverse("admin:compliance_consentrecord_revoke", args=[consent_a.pk]) not in body
    finally:
        signals.consent_revoked.disconnect(receiver)


@ON_FILE
def test_bulk_revoke_asks_a_reason_and_stays_in_reach(client, oscar, consent_a, consent_b):
    client.force_login(oscar)
    url = reverse("admin:compliance_consentrecord_changelist")
    selection = {"action": "revoke_selected", "_selected_action": [consent_a.pk, consent_b.pk]}
    response = client.post(url, {**selection, "index": "0"})
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    response = client.post(url, {**selection, "apply": "1", "reason": "Contract ended."})
    assert response.status_code == 302
    consent_a.refresh_from_db()
    consent_b.refresh_from_db()
    assert consent_a.revoked_at is not None
    assert consent_b.revoked_at is None


@ON_FILE
def test_add_performer_through_admin(client, oscar, people):
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_add")
    data = {"legal_name": "Chloe Martin", "date_of_birth": "1998-02-03", "country": "BE", "email": "", "phone": "",
            "notes": "", "link_creators": [people["a"].pk], "link_relation": "self", "names-TOTAL_FORMS": "2",
            "names-INITIAL_FORMS": "0", "names-0-name": "Coco", "names-0-kind": "stage",
            "names-1-name": "Chloe Martin", "names-1-kind": "legal"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    performer = Performer.objects.get(legal_name="Chloe Martin")
    assert list(performer.creators.all()) == [people["a"]]
    assert set(performer.names.values_list("name", "kind")) == {("Chloe Martin", "legal"), ("Coco", "stage")}
    created = AuditEvent.objects.get(action="performer.created", object_id=str(performer.pk))
    assert created.changes == {"creators": [people["a"].pk]} and created.actor_id == oscar.pk

    response = client.post(url, {**data, "legal_name": "Dora Other", "link_creators": [people["b"].pk]})
    assert "link_creators" in response.context["adminform"].form.errors
    response = client.post(url, {**data, "legal_name": "Dora Other", "link_creators": []})
    assert "link_creators" in response.context["adminform"].form.errors  # unlinked would vanish from view
    assert not Performer.objects.filter(legal_name="Dora Other").exists()


@ON_FILE
def test_changing_the_legal_name_keeps_the_former_one_findable(client, oscar, performer_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_change", args=[performer_a.pk])
    data = change_form_data(client.get(url))
    data["legal_name"] = "Amelie Martin"
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    names = set(PerformerName.objects.filter(performer=performer_a).values_list("name", "kind"))
    assert {("Amelie Martin", "legal"), ("Amelie Durand", "former_legal"), ("Mimi", "alias")} <= names
    event = AuditEvent.objects.get(action="performer.updated", object_id=str(performer_a.pk))
    assert event.changes == {"fields": ["legal_name"]}
    changelist = reverse("admin:compliance_performer_changelist")
    assert [p.pk for p in client.get(changelist, {"q": "Durand"}).context["cl"].result_list] == [performer_a.pk]


@ON_FILE
def test_creator_link_inline_hides_and_refuses_other_creators(client, people, performer_a, oscar):
    from compliance.models import CreatorPerformer

    CreatorPerformer.objects.create(creator=people["b"], performer=performer_a, relation="collaborator")
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_change", args=[performer_a.pk])
    response = client.get(url)
    links = next(i for i in response.context["inline_admin_formsets"] if i.formset.model is CreatorPerformer)
    assert [f.instance.creator for f in links.formset.forms if f.instance.pk] == [people["a"]]
    assert "Beta" not in response.content.decode()
    data = change_form_data(response)
    prefix = links.formset.prefix
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data.update({f"{prefix}-TOTAL_FORMS": str(total + 1), f"{prefix}-{total}-creator": str(people["b"].pk),
                 f"{prefix}-{total}-relation": "self"})
    response = client.post(url, data)
    assert response.status_code == 200  # B is not a choice for oscar
    assert CreatorPerformer.objects.filter(performer=performer_a).count() == 2


# --- Takedowns -----------------------------------------------------------------------------------


@ON_FILE
def test_takedown_list_orders_by_deadline_with_badges(client, people, oscar, takedown_a):
    now = timezone.now()
    overdue = TakedownFactory(creator=people["a"], received_at=now - timedelta(hours=50))
    soon = TakedownFactory(creator=people["a"], received_at=now - timedelta(hours=40))
    done = TakedownFactory(creator=people["a"], received_at=now - timedelta(hours=70))
    services.log_takedown_action(done, description="Removed from Fanvue.", status="removed")
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_takedownrequest_changelist"))
    rows = list(response.context["cl"].result_list)
    assert [t.pk for t in rows] == [done.pk, overdue.pk, soon.pk, takedown_a.pk]
    model_admin = admin.site._registry[TakedownRequest]
    assert [model_admin.deadline(t) for t in rows] == ["removed", "overdue", "due < 12 h", "open"]


@ON_FILE
def test_open_takedown_through_admin(client, oscar, people, performer_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_takedownrequest_add")
    received = timezone.now().replace(microsecond=0)
    data = {"kind": "take_it_down", "creator": people["a"].pk, "performers": [performer_a.pk],
            "received_at_0": received.date().isoformat(), "received_at_1": received.strftime("%H:%M:%S"),
            "requester_name": "Robin Asker", "requester_contact": "robin@asks.test", "signature": "/Robin/",
            "content_description": "Two photos.", "content_locations": "https://example.test/p/2",
            "non_consent_statement": "I never agreed to this."}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    takedown = TakedownRequest.objects.get(requester_name="Robin Asker")
    assert takedown.due_at == received + timedelta(hours=48)
    assert list(takedown.performers.all()) == [performer_a]
    assert AuditEvent.objects.filter(action="takedown.opened", object_id=str(takedown.pk)).exists()

    response = client.post(url, {**data, "requester_name": "No Statement", "non_consent_statement": ""})
    assert response.status_code == 200
    assert "needs the requester" in response.content.decode()
    response = client.post(url, {**data, "requester_name": "No Creator", "creator": ""})
    assert "creator" in response.context["adminform"].form.errors
    response = client.post(url, {**data, "requester_name": "Wrong Creator", "creator": people["b"].pk})
    assert "creator" in response.context["adminform"].form.errors
    assert not TakedownRequest.objects.filter(requester_name__in=["No Statement", "No Creator",
                                                                  "Wrong Creator"]).exists()


@ON_FILE
def test_takedown_action_log_is_appended_through_the_service(client, oscar, takedown_a):
    client.force_login(oscar)
    url = reverse("admin:compliance_takedownrequest_change", args=[takedown_a.pk])
    response = client.get(url)
    data = change_form_data(response)
    inline = response.context["inline_admin_formsets"][0].formset
    data[f"{inline.prefix}-0-description"] = "Asked Fanvue support to remove post 1."
    response = client.post(url, data)
    assert response.status_code == 302
    entry = TakedownAction.objects.get(request=takedown_a)
    assert entry.by == oscar
    assert AuditEvent.objects.filter(action="takedown.action", object_id=str(takedown_a.pk)).exists()
    takedown_a.refresh_from_db()
    assert takedown_a.requester_name == "Jordan Requester"


@ON_FILE
def test_mark_removed_and_record_outcome(client, oscar, takedown_a, takedown_b, people):
    client.force_login(oscar)
    changelist = reverse("admin:compliance_takedownrequest_changelist")
    response = client.post(changelist, {"action": "mark_removed", "index": "0",
                                        "_selected_action": [takedown_a.pk, takedown_b.pk]})
    assert response.status_code == 302
    takedown_a.refresh_from_db()
    takedown_b.refresh_from_db()
    assert takedown_a.status == "removed" and takedown_a.closed_at is not None
    assert takedown_b.status == "open"

    other = TakedownFactory(creator=people["a"])
    url = reverse("admin:compliance_takedownrequest_record_outcome", args=[other.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"status": "rejected", "description": "Not our content."})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == "rejected"
    assert other.actions.get().description == "Not our content."


# --- Blocked terms -------------------------------------------------------------------------------


@ON_FILE
def test_blocked_terms_are_added_and_removed_with_audit(client, oscar, people):
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_blockedterm_add"), {"term": "forbiddenword", "note": "policy"})
    assert response.status_code == 302
    term = BlockedTerm.objects.get(term="forbiddenword")
    assert term.added_by == oscar
    assert AuditEvent.objects.filter(action="blocked_term.added", object_id=str(term.pk)).exists()
    client.force_login(people["bob"])
    assert client.get(reverse("admin:compliance_blockedterm_add")).status_code == 403
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_blockedterm_delete", args=[term.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not BlockedTerm.objects.exists()
    assert AuditEvent.objects.filter(action="blocked_term.removed").exists()


# --- In a browser --------------------------------------------------------------------------------


def in_browser(steps) -> None:
    """Run `steps(page)` in headless Chromium driven from a thread of its own.

    Playwright's sync API allows one instance per thread, and the browser suite's session-wide
    instance may already hold this one; database checks stay in the test's thread.
    """
    from playwright.sync_api import sync_playwright

    failures: list[BaseException] = []

    def drive() -> None:
        try:
            with sync_playwright() as pw:
                chromium = pw.chromium.launch(executable_path=chromium_path(), args=browser_conftest.CHROMIUM_ARGS)
                try:
                    page = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
                    page.set_default_timeout(15000)
                    steps(page)
                finally:
                    chromium.close()
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    worker = threading.Thread(target=drive, name="compliance-browser")
    worker.start()
    worker.join(timeout=180)
    assert not worker.is_alive(), "the browser steps did not finish in time"
    if failures:
        raise failures[0]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_opens_the_board_and_revokes_a_consent(live_server, people, artifacts_dir, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    a = people["a"]
    make_officer("oscar", a)
    ready = PerformerFactory(legal_name="Amelie Durand", creators=[a], other_names=[("Lune Rousse", "stage")])
    VerificationFactory(performer=ready)
    consent = ConsentFactory(performer=ready, valid_until=timezone.now() + timedelta(days=12))
    blocked = PerformerFactory(legal_name="Nadia Unverified", creators=[a], date_of_birth=date(2001, 1, 1))
    ConsentFactory(performer=blocked)
    TakedownFactory(creator=a, performers=[ready], received_at=timezone.now() - timedelta(hours=50))
    TakedownFactory(creator=a, received_at=timezone.now() - timedelta(hours=40))
    TakedownFactory(creator=people["b"], requester_name="Beta Requester")
    board_url = f"{live_server.url}{reverse('admin:compliance_board')}"
    consent_url = f"{live_server.url}{reverse('admin:compliance_consentrecord_change', args=[consent.pk])}"
    seen: dict = {}

    def steps(page) -> None:
        browser_conftest.admin_login(page, live_server, "oscar", PASSWORD)
        page.goto(board_url)
        seen["blocked"] = page.locator("[data-testid=count-blocked]").inner_text().strip()
        seen["overdue"] = page.locator("[data-testid=count-overdue]").inner_text().strip()
        seen["reasons"] = page.locator("[data-testid=board-blocked]").inner_text().lower()
        seen["deadlines"] = page.locator("[data-testid=board-takedowns] tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.deadline)")
        seen["board"] = page.content()
        page.screenshot(path=str(artifacts_dir / "compliance-board.png"), full_page=True)

        page.goto(consent_url)
        page.get_by_role("link", name=re.compile("Revoke")).first.click()
        page.fill("textarea[name=reason]", "The performer withdrew consent in writing.")
        page.click("[data-testid=confirm-action]")
        page.wait_for_url(re.compile(rf"/consentrecord/{consent.pk}/change/"))
        seen["after"] = page.content()

    in_browser(steps)
    assert seen["blocked"] == "1" and seen["overdue"] == "1"
    assert "performer_not_verified" in seen["reasons"]
    assert seen["deadlines"] == ["overdue", "due < 12 h"]
    assert "Beta" not in seen["board"]
    assert f"Consent #{consent.pk} revoked" in seen["after"]
    consent.refresh_from_db()
    assert consent.revoked_at is not None
    assert consent.revoked_reason == "The performer withdrew consent in writing."


# --- Minors and missing dates of birth are refused with the reason, and the attempt is audited ------


@ON_FILE
def test_admin_refuses_an_active_minor_with_the_reason_and_audits_it(client, oscar, performer_a, people):
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_change", args=[performer_a.pk])
    data = change_form_data(client.get(url))
    data["date_of_birth"] = (timezone.now().date() - timedelta(days=365 * 16)).isoformat()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "cannot be an active performer" in str(response.context["adminform"].form.errors["date_of_birth"])
    assert Performer.objects.get(pk=performer_a.pk).date_of_birth == date(1996, 4, 12)
    event = AuditEvent.objects.get(action="performer.refused", object_id=str(performer_a.pk))
    assert event.actor_id == oscar.pk and event.creator_id == people["a"].pk
    assert event.changes == {"performer": performer_a.pk, "reason": "underage"}


@ON_FILE
def test_admin_refuses_a_consent_from_a_minor_and_audits_it(client, people, oscar):
    minor = PerformerFactory(legal_name="Too Young", creators=[people["a"]], status="suspended",
                             date_of_birth=timezone.now().date() - timedelta(days=365 * 16))
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_consentrecord_add"), consent_post(minor))
    assert response.status_code == 200
    assert "a minor cannot give consent" in str(response.context["adminform"].form.errors)
    assert not ConsentRecord.objects.filter(performer=minor).exists()
    assert AuditEvent.objects.filter(action="consent.refused", object_id=str(minor.pk), actor=oscar).exists()


@ON_FILE
def test_admin_refuses_a_check_without_a_date_of_birth(client, people, oscar):
    undated = PerformerFactory(legal_name="No Date", creators=[people["a"]], date_of_birth=None)
    client.force_login(oscar)
    response = client.post(reverse("admin:compliance_identityverification_add"), verification_post(undated))
    assert response.status_code == 200
    assert "date of birth" in str(response.context["adminform"].form.errors)
    assert not IdentityVerification.objects.filter(performer=undated).exists()
    assert AuditEvent.objects.filter(action="verification.refused", object_id=str(undated.pk)).exists()
