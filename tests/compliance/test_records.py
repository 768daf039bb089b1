"""Records about a performer: the 2257 record, the data-subject export, and erasure that keeps what the
law requires and removes the rest."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.models import AuditEvent
from compliance import records, services
from compliance.models import ConsentRecord, CreatorPerformer, EncryptedFile, IdentityVerification, Performer
from tests.compliance.factories import (
    FRONT_A,
    REJECTED_BACK_A,
    REJECTED_FRONT_A,
    SELFIE_A,
    ConsentFactory,
    PerformerFactory,
    TakedownFactory,
    VerificationFactory,
    jpeg,
    pdf,
)

AMELIE_NAMES = {"Amelie Durand", "Lune Rousse", "Mimi", "Mimi D", "Amelie Petit"}
# Every test here starts from Amelie's whole file: two checks, a consent, a takedown; and Bianca of B.
pytestmark = [pytest.mark.django_db,
              pytest.mark.usefixtures("private_location", "selfie_verification_a", "rejected_verification_a",
                                      "consent_a", "takedown_a", "performer_b")]


def stored_path(location, doc: EncryptedFile):
    return location / doc.storage_name


# --- 2257 ----------------------------------------------------------------------------------------


def test_record_2257_lists_every_name_and_references_documents(performer_a, oscar, selfie_verification_a,
                                                               rejected_verification_a, consent_a, people):
    record = records.record_2257(performer_a, actor=oscar)
    assert record["performer"]["legal_name"] == "Amelie Durand"
    assert record["performer"]["date_of_birth"] == "1996-04-12"
    assert {n["name"] for n in record["names"]} == AMELIE_NAMES
    assert record["other_names"] == ["Amelie Petit", "Lune Rousse", "Mimi", "Mimi D"]
    docs = {d["id"]: d for d in record["identity_documents"]}
    approved = docs[selfie_verification_a.pk]
    assert approved["kind"] == "passport" and approved["result"] == "approved" and approved["method"] == "manual"
    assert {c["side"]: c["sha256"] for c in approved["copies"]} == {
        "front": selfie_verification_a.front.sha256, "selfie": selfie_verification_a.selfie.sha256}
    assert docs[rejected_verification_a.pk]["result"] == "rejected"
    consent = record["consents"][0]
    assert consent["platforms"] == ["fanvue", "x"] and consent["revoked_at"] is None
    assert consent["release"]["sha256"] == consent_a.release.sha256
    assert record["depictions"] == []
    assert record["creators"] == [{"creator": "Alpha", "creator_id": people["a"].pk, "relation": "self"}]
    dumped = json.dumps(record)
    assert "FR-APPROVED-1" not in dumped  # the record references the ID; it does not copy it
    event = AuditEvent.objects.get(action="performer.record_exported", object_id=str(performer_a.pk))
    assert event.actor_id == oscar.pk and event.creator_id == people["a"].pk
    assert not AuditEvent.objects.filter(action="document.read").exists()


def test_depiction_providers_fill_the_record(performer_a, oscar, people, monkeypatch):
    seen = []

    def provider(performer_id, creator_ids):
        seen.append(creator_ids)
        return [{"title": f"Set with {performer_id}", "publications": []}]

    monkeypatch.setattr(records, "DEPICTION_PROVIDERS", [])
    records.register_depiction_provider(provider)
    records.register_depiction_provider(provider)  # once, however often an app's ready() runs
    assert records.record_2257(performer_a, actor=oscar)["depictions"] == [
        {"title": f"Set with {performer_a.pk}", "publications": []}]
    assert seen == [{people["a"].pk}]  # asked only for what the officer reaches


def test_2257_admin_downloads(client, oscar, performer_a, selfie_verification_a, performer_b):
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_performer_record_2257_json", args=[performer_a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    assert {n["name"] for n in json.loads(response.content)["names"]} >= {"Lune Rousse", "Mimi", "Amelie Petit"}
    printable = client.get(reverse("admin:compliance_performer_record_2257_print", args=[performer_a.pk]))
    body = printable.content.decode()
    for name in ("Amelie Durand", "Lune Rousse", "Mimi", "Amelie Petit", selfie_verification_a.front.sha256):
        assert name in body
    assert AuditEvent.objects.filter(action="performer.record_exported").count() == 2
    assert client.get(reverse("admin:compliance_performer_record_2257_json", args=[performer_b.pk])).status_code == 404


# --- Data-subject export -------------------------------------------------------------------------


def read_zip(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("performer.json")), files


def test_export_holds_everything_with_decrypted_documents(performer_a, oscar, selfie_verification_a,
                                                          rejected_verification_a, consent_a, takedown_a, people):
    payload, files = read_zip(records.export_performer_data(performer_a, actor=oscar))
    approved, rejected, consent = selfie_verification_a, rejected_verification_a, consent_a
    assert files == {
        f"documents/verification-{approved.pk}-front.jpg": FRONT_A,
        f"documents/verification-{approved.pk}-selfie.jpg": SELFIE_A,
        f"documents/verification-{rejected.pk}-front.jpg": REJECTED_FRONT_A,
        f"documents/verification-{rejected.pk}-back.jpg": REJECTED_BACK_A,
        f"documents/consent-{consent.pk}-release.pdf": pdf(),
    }
    assert payload["scope"]["complete"] is True
    assert payload["performer"]["email"] == "amelie@mail.test"
    assert payload["performer"]["phone"] == "+33 6 00"
    assert {n["name"] for n in payload["names"]} == AMELIE_NAMES
    assert payload["creators"][0]["creator"] == "Alpha"
    numbers = {v["id"]: v["document_number"] for v in payload["identity_verifications"]}
    assert numbers == {approved.pk: "FR-APPROVED-1", rejected.pk: "FR-BLURRY-0"}
    assert payload["consents"][0]["release"]["file"] == f"documents/consent-{consent.pk}-release.pdf"
    takedown = payload["takedown_requests"][0]
    assert takedown["id"] == takedown_a.pk and takedown["content_description"]
    assert "Jordan Requester" not in json.dumps(payload)  # a third person's identity is not the performer's data
    actions = {e["action"] for e in payload["audit_events"]}
    assert {"performer.created", "verification.recorded", "consent.recorded", "takedown.opened"} <= actions

    assert AuditEvent.objects.filter(action="document.read", actor=oscar).count() == 5
    assert AuditEvent.objects.filter(action="document_number.read", actor=oscar).count() == 2
    exported = AuditEvent.objects.get(action="performer.data_exported")
    assert exported.changes == {"documents": 5, "complete": True} and exported.creator_id == people["a"].pk


def test_export_leaves_out_other_creators_and_says_so(people, performer_a, oscar):
    CreatorPerformer.objects.create(creator=people["b"], performer=performer_a, relation="collaborator")
    other = TakedownFactory(creator=people["b"], performers=[performer_a])
    payload, _ = read_zip(records.export_performer_data(performer_a, actor=oscar))
    assert payload["scope"]["complete"] is False
    assert [c["creator"] for c in payload["creators"]] == ["Alpha"]
    assert other.pk not in {t["id"] for t in payload["takedown_requests"]}
    payload, _ = read_zip(records.export_performer_data(performer_a, actor=people["owner"]))
    assert payload["scope"]["complete"] is True
    assert other.pk in {t["id"] for t in payload["takedown_requests"]}


def test_export_through_admin(client, oscar, performer_a, performer_b, people):
    client.force_login(oscar)
    response = client.get(reverse("admin:compliance_performer_export_data_detail", args=[performer_a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    payload, files = read_zip(response.content)
    assert payload["performer"]["id"] == performer_a.pk and len(files) == 5

    changelist = reverse("admin:compliance_performer_changelist")
    response = client.post(changelist, {"action": "export_data", "index": "0", "_selected_action": [performer_a.pk]})
    assert response["Content-Type"] == "application/zip"
    response = client.post(changelist, {"action": "export_data", "index": "0", "_selected_action": [performer_b.pk]})
    assert response.status_code == 404  # out of reach: nothing exported
    assert AuditEvent.objects.filter(action="performer.data_exported").count() == 2

    client.force_login(people["bob"])
    assert client.get(reverse("admin:compliance_performer_export_data_detail",
                              args=[performer_a.pk])).status_code in (403, 404)


# --- Erasure -------------------------------------------------------------------------------------


def test_erasure_keeps_the_2257_record_and_removes_the_rest(selfie_verification_a, rejected_verification_a,
                                                            performer_a, oscar, consent_a, private_location,
                                                            django_capture_on_commit_callbacks):
    approved_docs = [selfie_verification_a.front, selfie_verification_a.selfie]
    rejected_docs = [rejected_verification_a.front, rejected_verification_a.back]
    with django_capture_on_commit_callbacks(execute=True):
        result = records.erase_performer(performer_a, actor=oscar, reason="DSR-2025-014, email of 3 March")
    assert result["changed"] is True and result["records_held"] is True

    pa = Performer.objects.get(pk=performer_a.pk)
    assert pa.status == Performer.Status.ERASED and pa.erased_at is not None
    assert (pa.email, pa.phone, pa.notes) == ("", "", "")
    assert pa.legal_name == "Amelie Durand" and str(pa.date_of_birth) == "1996-04-12"
    # 2257 lists every name used, aliases and nicknames too: all of them stay.
    assert set(pa.names.values_list("name", flat=True)) == AMELIE_NAMES
    assert "DSR-2025-014" in pa.erasure_reason and "Kept:" in pa.erasure_reason and "2257" in pa.erasure_reason

    approved = IdentityVerification.objects.get(pk=selfie_verification_a.pk)
    assert approved.front_id and approved.selfie_id and approved.document_number_encrypted
    for doc in approved_docs:
        assert stored_path(private_location, doc).exists()
    assert services.read_document(approved.front, actor=oscar, purpose="check") == FRONT_A

    rejected = IdentityVerification.objects.get(pk=rejected_verification_a.pk)
    assert (rejected.front_id, rejected.back_id, rejected.selfie_id) == (None, None, None)
    assert rejected.document_number_encrypted == "" and rejected.provider_reason == ""
    assert rejected.result == "rejected"  # that a check failed stays on record; the images do not
    for doc in rejected_docs:
        assert not EncryptedFile.objects.filter(pk=doc.pk).exists()
        assert not stored_path(private_location, doc).exists()

    consent = ConsentRecord.objects.get(pk=consent_a.pk)
    assert consent.release_id is not None and stored_path(private_location, consent.release).exists()
    event = AuditEvent.objects.get(action="performer.erased", object_id=str(pa.pk))
    assert event.changes["removed"] == {"fields": ["email", "phone", "notes"],
                                        "unapproved_checks_cleared": 1, "documents": 2}
    assert "Amelie" not in json.dumps(event.changes)


def test_erasure_is_idempotent(performer_a, oscar, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = records.erase_performer(performer_a, actor=oscar, reason="DSR-1")
    erased = Performer.objects.get(pk=performer_a.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = records.erase_performer(erased, actor=oscar, reason="DSR-1 (repeated)")
    again = Performer.objects.get(pk=performer_a.pk)
    assert second["changed"] is False and second["removed"] == {}
    assert second["kept"] == first["kept"]
    assert again.erased_at == erased.erased_at and again.erasure_reason == erased.erasure_reason
    assert AuditEvent.objects.filter(action="performer.erased").count() == 1


def test_erasure_without_an_approved_check_removes_identity_too(people, oscar, private_location,
                                                                django_capture_on_commit_callbacks):
    never = PerformerFactory(legal_name="Nina Never", creators=[people["a"]], other_names=[("Nini", "stage")])
    check = VerificationFactory(performer=never, result="rejected", front=jpeg("nina-front"))
    consent = ConsentFactory(performer=never, release=pdf("nina-release"))
    release = consent.release
    with django_capture_on_commit_callbacks(execute=True):
        result = records.erase_performer(never, actor=oscar, reason="DSR-2")
    never.refresh_from_db()
    assert result["records_held"] is False
    assert never.legal_name == f"Erased performer #{never.pk}"
    assert never.date_of_birth is None and never.country == ""
    assert not never.names.exists()
    consent.refresh_from_db()
    check.refresh_from_db()
    assert consent.release_id is None and check.front_id is None
    assert not stored_path(private_location, release).exists()
    assert ConsentRecord.objects.filter(pk=consent.pk).exists()  # what was agreed, without the signed file


def test_erasure_needs_a_reason(performer_a, oscar):
    with pytest.raises(ValidationError):
        records.erase_performer(performer_a, actor=oscar, reason="  ")
    assert Performer.objects.get(pk=performer_a.pk).status == Performer.Status.ACTIVE


def test_rolled_back_erasure_keeps_the_files(rejected_verification_a, performer_a, oscar, private_location):
    doc = rejected_verification_a.front
    with pytest.raises(RuntimeError), transaction.atomic():
        records.erase_performer(performer_a, actor=oscar, reason="DSR-3")
        raise RuntimeError("a later step failed")
    assert stored_path(private_location, doc).exists()
    assert IdentityVerification.objects.get(pk=rejected_verification_a.pk).front_id == doc.pk


def test_erasure_through_the_admin_confirmation(client, oscar, performer_a, performer_b, people,
                                                django_capture_on_commit_callbacks):
    client.force_login(oscar)
    url = reverse("admin:compliance_performer_erase_detail", args=[performer_a.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    assert "approved identity checks with their document copies" in response.content.decode()
    assert client.post(url, {"reason": ""}).status_code == 200
    assert Performer.objects.get(pk=performer_a.pk).status == Performer.Status.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "DSR-2025-020"})
    assert response.status_code == 302
    assert Performer.objects.get(pk=performer_a.pk).status == Performer.Status.ERASED

    change = reverse("admin:compliance_performer_change", args=[performer_a.pk])
    body = client.get(change).content.decode()
    assert "DSR-2025-020" in body and 'name="email"' not in body  # read-only once erased
    assert client.post(change, {"legal_name": "Someone", "email": "back@mail.test"}).status_code == 403
    assert client.get(reverse("admin:compliance_performer_erase_detail", args=[performer_b.pk])).status_code == 404

    client.force_login(people["alice"])  # a manager sees performers but erases nothing
    assert client.get(reverse("admin:compliance_performer_erase_detail",
                              args=[performer_a.pk])).status_code in (403, 404)


def test_bulk_erasure_asks_a_reason_and_stays_in_reach(client, oscar, performer_a, performer_b):
    client.force_login(oscar)
    changelist = reverse("admin:compliance_performer_changelist")
    selection = {"action": "erase_selected", "_selected_action": [performer_a.pk, performer_b.pk]}
    response = client.post(changelist, {**selection, "index": "0"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="reason"' in body and "Amelie Durand" in body and "Bianca Rossi" not in body
    response = client.post(changelist, {**selection, "apply": "1", "reason": "DSR-2025-030"})
    assert response.status_code == 302
    assert Performer.objects.get(pk=performer_a.pk).status == Performer.Status.ERASED
    assert Performer.objects.get(pk=performer_b.pk).status == Performer.Status.ACTIVE
