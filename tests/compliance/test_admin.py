"""The compliance admin: the tenant boundary on every page, documents only through audited services,
records that cannot be edited, and service refusals shown on the forms that caused them."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
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
FRONT_A = jpeg("front-amelie")
BACK_A = jpeg("back-amelie")

@pytest.fixture(autouse=True)
def private_location(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


@pytest.fixture
def world(people):
    """oscar is compliance officer of A; charlie manages B and is its compliance officer too."""
    a, b = people["a"], people["b"]
    oscar = make_officer("oscar", a)
    account_services.add_membership(user=people["charlie"], creator=b, role="compliance")
    pa = PerformerFactory(legal_name="Amelie Durand", creators=[a],
                          other_names=[("Lune Rousse", "stage"), ("Mimi", "alias"), ("Mimi D", "alias")])
    pb = PerformerFactory(legal_name="Bianca Rossi", creators=[b], other_names=[("Stella Nera", "stage")])
    va = VerificationFactory(performer=pa, front=FRONT_A, back=BACK_A, document_number="FR12345678")
    vb = VerificationFactory(performer=pb)
    ca = ConsentFactory(performer=pa)
    cb = ConsentFactory(performer=pb)
    ta = TakedownFactory(creator=a, performers=[pa])
    tb = TakedownFactory(creator=b, performers=[pb], requester_name="Someone Else")
    return SimpleNamespace(**people, oscar=oscar, pa=pa, pb=pb, va=va, vb=vb, ca=ca, cb=cb, ta=ta, tb=tb)


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


@pytest.mark.django_db
@pytest.mark.parametrize("model", CHANGELISTS)
def test_officer_changelists_hide_other_creators(client, world, model):
    client.force_login(world.oscar)
    response = client.get(reverse(f"admin:compliance_{model}_changelist"))
    assert response.status_code == 200
    pks = {obj.pk for obj in response.context["cl"].result_list}
    mine = {"performer": world.pa, "identityverification": world.va, "consentrecord": world.ca,
            "takedownrequest": world.ta}[model]
    theirs = {"performer": world.pb, "identityverification": world.vb, "consentrecord": world.cb,
              "takedownrequest": world.tb}[model]
    assert mine.pk in pks
    assert theirs.pk not in pks
    body = response.content.decode()
    assert "Bianca Rossi" not in body
    assert "Beta" not in body


@pytest.mark.django_db
def test_officer_other_creator_object_pages_are_404(client, world):
    client.force_login(world.oscar)
    urls = [
        reverse("admin:compliance_performer_change", args=[world.pb.pk]),
        reverse("admin:compliance_performer_history", args=[world.pb.pk]),
        reverse("admin:compliance_identityverification_change", args=[world.vb.pk]),
        reverse("admin:compliance_consentrecord_change", args=[world.cb.pk]),
        reverse("admin:compliance_takedownrequest_change", args=[world.tb.pk]),
        reverse("admin:compliance_performer_change", args=[999999]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("admin:compliance_performer_change", args=[world.pa.pk])).status_code == 200


@pytest.mark.django_db
def test_officer_exports_and_downloads_of_other_creator_are_404(client, world):
    client.force_login(world.oscar)
    reads_before = AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).count()
    urls = [
        reverse("admin:compliance_identityverification_document", args=[world.vb.pk, "front"]),
        reverse("admin:compliance_identityverification_number", args=[world.vb.pk]),
        reverse("admin:compliance_consentrecord_release", args=[world.cb.pk]),
        reverse("admin:compliance_consentrecord_revoke", args=[world.cb.pk]),
        reverse("admin:compliance_performer_record_2257_json", args=[world.pb.pk]),
        reverse("admin:compliance_performer_record_2257_print", args=[world.pb.pk]),
        reverse("admin:compliance_performer_export_data_detail", args=[world.pb.pk]),
        reverse("admin:compliance_performer_erase_detail", args=[world.pb.pk]),
        reverse("admin:compliance_takedownrequest_record_outcome", args=[world.tb.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"reason": "x", "status": "removed", "description": "x"}).status_code == 404, url
    assert AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).count() == reads_before
    world.cb.refresh_from_db()
    world.pb.refresh_from_db()
    assert world.cb.revoked_at is None
    assert world.pb.status == Performer.Status.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["bob", "alice"])
def test_editor_and_manager_reach_no_documents(client, world, who):
    client.force_login(world.__dict__[who])
    for url in [reverse("admin:compliance_identityverification_document", args=[world.va.pk, "front"]),
                reverse("admin:compliance_performer_record_2257_json", args=[world.pa.pk]),
                reverse("admin:compliance_performer_export_data_detail", args=[world.pa.pk])]:
        assert client.get(url).status_code in (403, 404), url
    assert not AuditEvent.objects.filter(action="document.read").exists()


@pytest.mark.django_db
def test_search_finds_a_performer_by_alias_once(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_changelist")
    results = list(client.get(url, {"q": "Mimi"}).context["cl"].result_list)
    assert [p.pk for p in results] == [world.pa.pk]  # matches two aliases, listed once
    assert [p.pk for p in client.get(url, {"q": "Lune"}).context["cl"].result_list] == [world.pa.pk]
    assert list(client.get(url, {"q": "Stella"}).context["cl"].result_list) == []
    assert list(client.get(url, {"q": "Bianca"}).context["cl"].result_list) == []
    client.force_login(world.owner)
    assert [p.pk for p in client.get(url, {"q": "Stella"}).context["cl"].result_list] == [world.pb.pk]


@pytest.mark.django_db
def test_performer_list_shows_standing(client, world):
    ConsentFactory(performer=world.pa, valid_until=timezone.now() + timedelta(days=10))
    ConsentFactory(performer=world.pa)
    revoked = ConsentFactory(performer=world.pa)
    services.revoke_consent(revoked, reason="Asked by the performer", actor=world.oscar)
    client.force_login(world.oscar)
    response = client.get(reverse("admin:compliance_performer_changelist"))
    body = response.content.decode()
    assert "verified adult" in body
    assert "3 valid · 1 revoked · 1 expiring in 30 days" in body
    row = next(p for p in response.context["cl"].result_list if p.pk == world.pa.pk)
    assert [link.creator.stage_name for link in row.visible_links] == ["Alpha"]


@pytest.mark.django_db
def test_performer_changelist_queries_do_not_grow_with_rows(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        performer = PerformerFactory(creators=[world.a], other_names=[("Alias", "alias")])
        VerificationFactory(performer=performer)
        ConsentFactory(performer=performer, release=None)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 5
    assert len(many) == len(few)


# --- Board ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_board_for_officers_and_owner_only(client, world):
    url = reverse("admin:compliance_board")
    for who, status in [("bob", 403), ("alice", 403), ("oscar", 200), ("charlie", 200), ("owner", 200)]:
        client.force_login(world.__dict__[who])
        assert client.get(url).status_code == status, who
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


@pytest.mark.django_db
def test_board_sections_are_restricted_and_ordered(client, world):
    now = timezone.now()
    unverified = PerformerFactory(legal_name="Nadia Unverified", creators=[world.a])
    ConsentFactory(performer=unverified)
    expiring = ConsentFactory(performer=world.pa, valid_until=now + timedelta(days=5))
    ConsentFactory(performer=world.pb, valid_until=now + timedelta(days=5))
    overdue = TakedownFactory(creator=world.a, received_at=now - timedelta(hours=60))
    soon = TakedownFactory(creator=world.a, received_at=now - timedelta(hours=40))
    TakedownFactory(creator=world.b, received_at=now - timedelta(hours=60))
    client.force_login(world.oscar)
    response = client.get(reverse("admin:compliance_board"))
    ctx = response.context
    assert {p.pk for p in ctx["performers"]} == {world.pa.pk, unverified.pk}
    assert [c.pk for c in ctx["expiring"]] == [expiring.pk]
    assert [t.pk for t in ctx["takedowns"]] == [overdue.pk, soon.pk, world.ta.pk]
    assert [t.deadline for t in ctx["takedowns"]] == ["overdue", "due < 12 h", "open"]
    blocked = {item.performer.pk: {r["code"] for r in item.reasons} for item in ctx["blocked"]}
    assert blocked == {unverified.pk: {"performer_not_verified"}}
    body = response.content.decode()
    assert 'data-deadline="overdue"' in body and "bg-red-50" in body
    assert "Bianca Rossi" not in body and "Beta" not in body


@pytest.mark.django_db
def test_board_reports_gate_reasons_for_missing_consent_and_underage(client, world):
    minor = PerformerFactory(legal_name="Too Young", creators=[world.a])
    VerificationFactory(performer=minor)
    # A record from before minors were refused as active performers.
    Performer.objects.filter(pk=minor.pk).update(date_of_birth=timezone.now().date() - timedelta(days=365 * 16))
    client.force_login(world.oscar)
    items = {i.performer.pk: i for i in client.get(reverse("admin:compliance_board")).context["blocked"]}
    codes = {r["code"] for r in items[minor.pk].reasons}
    assert {"performer_underage", "consent_missing"} <= codes
    assert world.pa.pk not in items


# --- Documents -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_download_id_returns_plaintext_and_audits(client, world, private_location):
    client.force_login(world.oscar)
    response = client.get(reverse("admin:compliance_identityverification_document", args=[world.va.pk, "front"]))
    assert response.status_code == 200
    assert response.content == FRONT_A
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="document.read", object_id=str(world.va.pk))
    assert event.actor_id == world.oscar.pk
    assert event.creator_id == world.a.pk
    assert event.changes["document"] == world.va.front_id

    stored = (private_location / world.va.front.storage_name).read_bytes()
    assert stored != FRONT_A
    assert b"front-amelie" not in stored
    assert crypto.decrypt(stored) == FRONT_A


@pytest.mark.django_db
def test_verification_page_masks_the_number_and_links_downloads(client, world):
    client.force_login(world.oscar)
    body = client.get(reverse("admin:compliance_identityverification_change", args=[world.va.pk])).content.decode()
    assert "FR12345678" not in body
    assert reverse("admin:compliance_identityverification_number", args=[world.va.pk]) in body
    for side in ("front", "back"):
        assert reverse("admin:compliance_identityverification_document", args=[world.va.pk, side]) in body
    assert "/media/" not in body
    assert not AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).exists()


@pytest.mark.django_db
def test_revealing_the_document_number_is_deliberate_and_audited(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_identityverification_number", args=[world.va.pk])
    response = client.get(url)
    assert "FR12345678" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="document_number.read").exists()
    response = client.post(url)
    assert "FR12345678" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="document_number.read", object_id=str(world.va.pk),
                                     actor=world.oscar).count() == 1


@pytest.mark.django_db
def test_release_download(client, world):
    client.force_login(world.oscar)
    response = client.get(reverse("admin:compliance_consentrecord_release", args=[world.ca.pk]))
    assert response.status_code == 200
    assert response.content == pdf()
    assert response["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="document.read", object_type="compliance.consentrecord",
                                     object_id=str(world.ca.pk)).exists()


@pytest.mark.django_db
def test_verifications_cannot_be_edited_or_deleted(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_identityverification_change", args=[world.va.pk])
    assert client.post(url, {"result": "rejected"}).status_code == 403
    assert client.post(reverse("admin:compliance_identityverification_delete", args=[world.va.pk])).status_code == 403
    world.va.refresh_from_db()
    assert world.va.result == IdentityVerification.Result.APPROVED


# --- Adding records through the services ---------------------------------------------------------


def verification_post(performer, **overrides) -> dict:
    data = {"performer": performer.pk, "document_kind": "passport", "document_country": "FR",
            "document_expiry": "2032-05-01", "document_number": "NEW9876", "method": "manual", "provider": "",
            "provider_session_id": "", "provider_decision": "", "provider_reason": "", "result": "approved",
            "notes": "", "front_file": SimpleUploadedFile("front.jpg", jpeg("uploaded-front"), "image/jpeg")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_add_verification_through_admin_encrypts_in_memory(client, world, settings, monkeypatch):
    from django.core.files import uploadhandler

    def no_temp_files(*args, **kwargs):
        raise AssertionError("an identity document was spooled to a temporary file")

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16  # anything above would normally go to a temp file
    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "new_file", no_temp_files)
    client.force_login(world.oscar)
    response = client.post(reverse("admin:compliance_identityverification_add"), verification_post(world.pa))
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = IdentityVerification.objects.exclude(pk=world.va.pk).get(performer=world.pa)
    assert created.verified_by == world.oscar
    assert crypto.decrypt_text(created.document_number_encrypted) == "NEW9876"
    event = AuditEvent.objects.get(action="verification.recorded", object_id=str(created.pk))
    assert event.actor_id == world.oscar.pk
    download = client.get(reverse("admin:compliance_identityverification_document", args=[created.pk, "front"]))
    assert download.content == jpeg("uploaded-front")


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["identityverification", "consentrecord"])
def test_document_upload_forms_still_check_csrf(world, model):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.oscar)
    data = verification_post(world.pa) if model == "identityverification" else consent_post(world.pa)
    response = strict.post(reverse(f"admin:compliance_{model}_add"), data)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert IdentityVerification.objects.count() == 2 and ConsentRecord.objects.count() == 2


@pytest.mark.django_db
def test_add_verification_shows_service_refusals_on_the_form(client, world, private_location):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_identityverification_add")
    before = IdentityVerification.objects.count()

    response = client.post(url, verification_post(world.pa, front_file=None))  # manual approval, no image
    assert response.status_code == 200
    assert "A manual approval needs at least the document" in response.content.decode()

    not_an_id = SimpleUploadedFile("bill.txt", b"electricity bill, March", "text/plain")
    response = client.post(url, verification_post(world.pa, front_file=not_an_id))
    assert response.status_code == 200
    assert "Documents must be a JPEG" in response.content.decode()

    response = client.post(url, verification_post(world.pa, document_kind="utility_bill"))
    assert response.status_code == 200
    assert "document_kind" in response.context["adminform"].form.errors

    response = client.post(url, verification_post(world.pb))  # another creator's performer
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


@pytest.mark.django_db
def test_add_consent_through_admin(client, world):
    client.force_login(world.oscar)
    response = client.post(reverse("admin:compliance_consentrecord_add"), consent_post(world.pa))
    assert response.status_code == 302, response.context["adminform"].form.errors
    consent = ConsentRecord.objects.filter(performer=world.pa).exclude(pk=world.ca.pk).get()
    assert consent.platforms == ["fanvue", "reddit"]
    assert consent.collected_by == world.oscar
    assert consent.valid_from == consent.signed_at
    assert AuditEvent.objects.filter(action="consent.recorded", object_id=str(consent.pk)).exists()
    release = client.get(reverse("admin:compliance_consentrecord_release", args=[consent.pk]))
    assert release.content == pdf("uploaded-release")


@pytest.mark.django_db
def test_add_consent_refusals(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_consentrecord_add")
    before = ConsentRecord.objects.count()
    ends_before_start = consent_post(world.pa, valid_until_0="2001-01-01")
    response = client.post(url, ends_before_start)
    assert response.status_code == 200
    assert "A consent must end after it starts." in response.content.decode()
    response = client.post(url, consent_post(world.pa, supersedes=str(world.cb.pk)))
    assert "supersedes" in response.context["adminform"].form.errors  # B's consent is not a choice
    response = client.post(url, consent_post(world.pa, platforms=["myspace"]))
    assert "platforms" in response.context["adminform"].form.errors
    assert ConsentRecord.objects.count() == before


@pytest.mark.django_db
def test_consent_change_page_cannot_modify_it(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_consentrecord_change", args=[world.ca.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="max_rating"' not in body
    assert reverse("admin:compliance_consentrecord_revoke", args=[world.ca.pk]) in body
    assert client.post(url, {"max_rating": "sfw", "platforms": ["instagram"]}).status_code == 403
    assert client.post(reverse("admin:compliance_consentrecord_delete", args=[world.ca.pk])).status_code == 403
    world.ca.refresh_from_db()
    assert world.ca.max_rating == "explicit" and world.ca.platforms == ["fanvue", "x"]


@pytest.mark.django_db
def test_revoke_through_the_reason_page(client, world, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, performer_ids, consent_id, revoked_at, **kwargs):
        received.append((performer_ids, consent_id))

    signals.consent_revoked.connect(receiver, weak=False)
    scope = {"platform": world.ca.platforms[0], "rating": world.ca.max_rating, "use": world.ca.uses[0]}
    assert services.consent_status(world.pa, **scope)["allowed"] is True
    try:
        client.force_login(world.oscar)
        url = reverse("admin:compliance_consentrecord_revoke", args=[world.ca.pk])
        page_ = client.get(url)
        assert page_.status_code == 200
        assert 'name="reason"' in page_.content.decode()

        response = client.post(url, {"reason": "  "})
        assert response.status_code == 200
        world.ca.refresh_from_db()
        assert world.ca.revoked_at is None

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"reason": "The performer withdrew consent by email."})
        assert response.status_code == 302
        world.ca.refresh_from_db()
        assert world.ca.revoked_at is not None
        assert world.ca.revoked_by == world.oscar
        assert world.ca.revoked_reason == "The performer withdrew consent by email."

        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, {"reason": "again"}).status_code == 302
        assert received == [([world.pa.pk], world.ca.pk)]
        # From that moment the gate refuses any publication depicting the performer.
        status = services.consent_status(world.pa, **scope)
        assert status["allowed"] is False
        assert "consent_revoked" in {r["code"] for r in status["reasons"]}
        body = client.get(reverse("admin:compliance_consentrecord_change", args=[world.ca.pk])).content.decode()
        assert reverse("admin:compliance_consentrecord_revoke", args=[world.ca.pk]) not in body
    finally:
        signals.consent_revoked.disconnect(receiver)


@pytest.mark.django_db
def test_bulk_revoke_asks_a_reason_and_stays_in_reach(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_consentrecord_changelist")
    selection = {"action": "revoke_selected", "_selected_action": [world.ca.pk, world.cb.pk]}
    response = client.post(url, {**selection, "index": "0"})
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    response = client.post(url, {**selection, "apply": "1", "reason": "Contract ended."})
    assert response.status_code == 302
    world.ca.refresh_from_db()
    world.cb.refresh_from_db()
    assert world.ca.revoked_at is not None
    assert world.cb.revoked_at is None


@pytest.mark.django_db
def test_add_performer_through_admin(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_add")
    data = {"legal_name": "Chloe Martin", "date_of_birth": "1998-02-03", "country": "BE", "email": "", "phone": "",
            "notes": "", "link_creators": [world.a.pk], "link_relation": "self", "names-TOTAL_FORMS": "2",
            "names-INITIAL_FORMS": "0", "names-0-name": "Coco", "names-0-kind": "stage",
            "names-1-name": "Chloe Martin", "names-1-kind": "legal"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    performer = Performer.objects.get(legal_name="Chloe Martin")
    assert list(performer.creators.all()) == [world.a]
    assert set(performer.names.values_list("name", "kind")) == {("Chloe Martin", "legal"), ("Coco", "stage")}
    created = AuditEvent.objects.get(action="performer.created", object_id=str(performer.pk))
    assert created.changes == {"creators": [world.a.pk]} and created.actor_id == world.oscar.pk

    response = client.post(url, {**data, "legal_name": "Dora Other", "link_creators": [world.b.pk]})
    assert "link_creators" in response.context["adminform"].form.errors
    response = client.post(url, {**data, "legal_name": "Dora Other", "link_creators": []})
    assert "link_creators" in response.context["adminform"].form.errors  # unlinked would vanish from view
    assert not Performer.objects.filter(legal_name="Dora Other").exists()


@pytest.mark.django_db
def test_changing_the_legal_name_keeps_the_former_one_findable(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_change", args=[world.pa.pk])
    data = change_form_data(client.get(url))
    data["legal_name"] = "Amelie Martin"
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    names = set(PerformerName.objects.filter(performer=world.pa).values_list("name", "kind"))
    assert {("Amelie Martin", "legal"), ("Amelie Durand", "former_legal"), ("Mimi", "alias")} <= names
    event = AuditEvent.objects.get(action="performer.updated", object_id=str(world.pa.pk))
    assert event.changes == {"fields": ["legal_name"]}
    changelist = reverse("admin:compliance_performer_changelist")
    assert [p.pk for p in client.get(changelist, {"q": "Durand"}).context["cl"].result_list] == [world.pa.pk]


@pytest.mark.django_db
def test_creator_link_inline_hides_and_refuses_other_creators(client, world):
    from compliance.models import CreatorPerformer

    CreatorPerformer.objects.create(creator=world.b, performer=world.pa, relation="collaborator")
    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_change", args=[world.pa.pk])
    response = client.get(url)
    links = next(i for i in response.context["inline_admin_formsets"] if i.formset.model is CreatorPerformer)
    assert [f.instance.creator for f in links.formset.forms if f.instance.pk] == [world.a]
    assert "Beta" not in response.content.decode()
    data = change_form_data(response)
    prefix = links.formset.prefix
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data.update({f"{prefix}-TOTAL_FORMS": str(total + 1), f"{prefix}-{total}-creator": str(world.b.pk),
                 f"{prefix}-{total}-relation": "self"})
    response = client.post(url, data)
    assert response.status_code == 200  # B is not a choice for oscar
    assert CreatorPerformer.objects.filter(performer=world.pa).count() == 2


# --- Takedowns -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_takedown_list_orders_by_deadline_with_badges(client, world):
    now = timezone.now()
    overdue = TakedownFactory(creator=world.a, received_at=now - timedelta(hours=50))
    soon = TakedownFactory(creator=world.a, received_at=now - timedelta(hours=40))
    done = TakedownFactory(creator=world.a, received_at=now - timedelta(hours=70))
    services.log_takedown_action(done, description="Removed from Fanvue.", status="removed")
    client.force_login(world.oscar)
    response = client.get(reverse("admin:compliance_takedownrequest_changelist"))
    rows = list(response.context["cl"].result_list)
    assert [t.pk for t in rows] == [done.pk, overdue.pk, soon.pk, world.ta.pk]
    model_admin = admin.site._registry[TakedownRequest]
    assert [model_admin.deadline(t) for t in rows] == ["removed", "overdue", "due < 12 h", "open"]


@pytest.mark.django_db
def test_open_takedown_through_admin(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_takedownrequest_add")
    received = timezone.now().replace(microsecond=0)
    data = {"kind": "take_it_down", "creator": world.a.pk, "performers": [world.pa.pk],
            "received_at_0": received.date().isoformat(), "received_at_1": received.strftime("%H:%M:%S"),
            "requester_name": "Robin Asker", "requester_contact": "robin@asks.test", "signature": "/Robin/",
            "content_description": "Two photos.", "content_locations": "https://example.test/p/2",
            "non_consent_statement": "I never agreed to this."}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    takedown = TakedownRequest.objects.get(requester_name="Robin Asker")
    assert takedown.due_at == received + timedelta(hours=48)
    assert list(takedown.performers.all()) == [world.pa]
    assert AuditEvent.objects.filter(action="takedown.opened", object_id=str(takedown.pk)).exists()

    response = client.post(url, {**data, "requester_name": "No Statement", "non_consent_statement": ""})
    assert response.status_code == 200
    assert "needs the requester" in response.content.decode()
    response = client.post(url, {**data, "requester_name": "No Creator", "creator": ""})
    assert "creator" in response.context["adminform"].form.errors
    response = client.post(url, {**data, "requester_name": "Wrong Creator", "creator": world.b.pk})
    assert "creator" in response.context["adminform"].form.errors
    assert not TakedownRequest.objects.filter(requester_name__in=["No Statement", "No Creator",
                                                                  "Wrong Creator"]).exists()


@pytest.mark.django_db
def test_takedown_action_log_is_appended_through_the_service(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_takedownrequest_change", args=[world.ta.pk])
    response = client.get(url)
    data = change_form_data(response)
    inline = response.context["inline_admin_formsets"][0].formset
    data[f"{inline.prefix}-0-description"] = "Asked Fanvue support to remove post 1."
    response = client.post(url, data)
    assert response.status_code == 302
    entry = TakedownAction.objects.get(request=world.ta)
    assert entry.by == world.oscar
    assert AuditEvent.objects.filter(action="takedown.action", object_id=str(world.ta.pk)).exists()
    world.ta.refresh_from_db()
    assert world.ta.requester_name == "Jordan Requester"


@pytest.mark.django_db
def test_mark_removed_and_record_outcome(client, world):
    client.force_login(world.oscar)
    changelist = reverse("admin:compliance_takedownrequest_changelist")
    response = client.post(changelist, {"action": "mark_removed", "index": "0",
                                        "_selected_action": [world.ta.pk, world.tb.pk]})
    assert response.status_code == 302
    world.ta.refresh_from_db()
    world.tb.refresh_from_db()
    assert world.ta.status == "removed" and world.ta.closed_at is not None
    assert world.tb.status == "open"

    other = TakedownFactory(creator=world.a)
    url = reverse("admin:compliance_takedownrequest_record_outcome", args=[other.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"status": "rejected", "description": "Not our content."})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == "rejected"
    assert other.actions.get().description == "Not our content."


# --- Blocked terms -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_blocked_terms_are_added_and_removed_with_audit(client, world):
    client.force_login(world.oscar)
    response = client.post(reverse("admin:compliance_blockedterm_add"), {"term": "forbiddenword", "note": "policy"})
    assert response.status_code == 302
    term = BlockedTerm.objects.get(term="forbiddenword")
    assert term.added_by == world.oscar
    assert AuditEvent.objects.filter(action="blocked_term.added", object_id=str(term.pk)).exists()
    client.force_login(world.bob)
    assert client.get(reverse("admin:compliance_blockedterm_add")).status_code == 403
    client.force_login(world.oscar)
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


@pytest.mark.django_db
def test_admin_refuses_an_active_minor_with_the_reason_and_audits_it(client, world):
    client.force_login(world.oscar)
    url = reverse("admin:compliance_performer_change", args=[world.pa.pk])
    data = change_form_data(client.get(url))
    data["date_of_birth"] = (timezone.now().date() - timedelta(days=365 * 16)).isoformat()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "cannot be an active performer" in str(response.context["adminform"].form.errors["date_of_birth"])
    assert Performer.objects.get(pk=world.pa.pk).date_of_birth == date(1996, 4, 12)
    event = AuditEvent.objects.get(action="performer.refused", object_id=str(world.pa.pk))
    assert event.actor_id == world.oscar.pk and event.creator_id == world.a.pk
    assert event.changes == {"performer": world.pa.pk, "reason": "underage"}


@pytest.mark.django_db
def test_admin_refuses_a_consent_from_a_minor_and_audits_it(client, world):
    minor = PerformerFactory(legal_name="Too Young", creators=[world.a], status="suspended",
                             date_of_birth=timezone.now().date() - timedelta(days=365 * 16))
    client.force_login(world.oscar)
    response = client.post(reverse("admin:compliance_consentrecord_add"), consent_post(minor))
    assert response.status_code == 200
    assert "a minor cannot give consent" in str(response.context["adminform"].form.errors)
    assert not ConsentRecord.objects.filter(performer=minor).exists()
    assert AuditEvent.objects.filter(action="consent.refused", object_id=str(minor.pk), actor=world.oscar).exists()


@pytest.mark.django_db
def test_admin_refuses_a_check_without_a_date_of_birth(client, world):
    undated = PerformerFactory(legal_name="No Date", creators=[world.a], date_of_birth=None)
    client.force_login(world.oscar)
    response = client.post(reverse("admin:compliance_identityverification_add"), verification_post(undated))
    assert response.status_code == 200
    assert "date of birth" in str(response.context["adminform"].form.errors)
    assert not IdentityVerification.objects.filter(performer=undated).exists()
    assert AuditEvent.objects.filter(action="verification.refused", object_id=str(undated.pk)).exists()
