"""Records about one performer: the 2257 record, the data-subject export and erasure.

Two duties pull in opposite directions here. Record-keeping (18 U.S.C. 2257 and the platforms'
rules built on it) says: keep the legal name, date of birth, every name used, a copy of the
identity document examined and proof of consent, for anyone who appeared in published material.
Data-protection law (GDPR art. 15 and 17) says: give the person everything held about them, and
erase what no obligation requires. `erase_performer` removes the second kind and keeps the first,
writing down what it kept and why.

Depictions (the assets showing the performer and every URL where each was published) live in the
content and scheduling apps, which compliance never imports: they register a provider through
`register_depiction_provider` when they are ready, and the record asks every provider. A performer
whose record must be kept is one who passed an identity check or appeared in published material.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit, tenancy
from accounts.actors import Actor
from accounts.models import AuditEvent
from compliance import services
from compliance.models import (
    ConsentRecord,
    CreatorPerformer,
    EncryptedFile,
    IdentityVerification,
    Performer,
    PerformerName,
    TakedownRequest,
)

logger = logging.getLogger(__name__)

# A provider returns the depictions of a performer its app knows about, under the given creators
# (None: every creator): one dict per asset with its production date and a `publications` list
# (platform, account, url, published_at…). Registered from above at startup; see
# scheduling/depictions.py.
DepictionProvider = Callable[[int, set[int] | None], list[dict[str, Any]]]
DEPICTION_PROVIDERS: list[DepictionProvider] = []


def register_depiction_provider(provider: DepictionProvider) -> None:
    """Add a provider once (an app's `ready()` may run more than once in tests)."""
    if provider not in DEPICTION_PROVIDERS:
        DEPICTION_PROVIDERS.append(provider)


def depictions(performer: Performer, reach: set[int] | None = tenancy.ALL) -> list[dict[str, Any]]:
    """Every depiction of the performer the providers know, under the creators in `reach`."""
    return [entry for provider in DEPICTION_PROVIDERS for entry in provider(performer.pk, reach)]

DOCUMENT_SIDES = ("front", "back", "selfie")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic",
              "application/pdf": "pdf"}
# Names 2257 asks for (28 CFR 75.2(a)(1)): the legal name and "any name ... used by the performer,
# including the performer's maiden name, alias, nickname, stage, or professional name" — every kind
# a PerformerName can have.
RECORD_NAME_KINDS = tuple(PerformerName.Kind)


def extension_for(doc: EncryptedFile) -> str:
    return EXTENSIONS.get(doc.content_type, "bin")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


NAME_ORDER = [PerformerName.Kind.LEGAL, PerformerName.Kind.FORMER_LEGAL, PerformerName.Kind.STAGE,
              PerformerName.Kind.ALIAS]


def _names(performer: Performer) -> list[PerformerName]:
    """Legal name first, then former legal, stage names and aliases: how a records custodian reads them."""
    return sorted(performer.names.all(), key=lambda n: (NAME_ORDER.index(n.kind), n.name.casefold()))


def _reach(actor: Actor, model: type) -> set[int] | None:
    """Creators whose rows of `model` the actor may see; everything for the system (no actor)."""
    if actor is None:
        return tenancy.ALL
    return tenancy.allowed_creator_ids(actor, model, "view")


def creator_id_for(performer: Performer, actor: Actor) -> int | None:
    """The creator an event about `performer` is filed under: one the actor works for, when linked to several.

    Filing it under a creator the actor cannot reach would hide their own reads from their own audit log.
    """
    reach = _reach(actor, IdentityVerification)
    links = list(performer.creator_links.order_by("pk").values_list("creator_id", flat=True))
    for creator_id in links:
        if reach is tenancy.ALL or creator_id in reach:
            return creator_id
    return links[0] if links else None


def _creators(performer: Performer, actor: Actor) -> tuple[list[dict[str, Any]], bool]:
    """Creator links the actor may see, and whether those are all of them."""
    reach = _reach(actor, IdentityVerification)
    links = list(CreatorPerformer.objects.filter(performer=performer).select_related("creator").order_by("pk"))
    visible = [link for link in links if reach is tenancy.ALL or link.creator_id in reach]
    entries = [{"creator": link.creator.stage_name, "creator_id": link.creator_id, "relation": link.relation}
               for link in visible]
    return entries, len(visible) == len(links)


def _document_ref(side: str, doc: EncryptedFile) -> dict[str, Any]:
    return {"side": side, "document_id": doc.pk, "sha256": doc.sha256, "content_type": doc.content_type,
            "size": doc.size, "stored_at": _iso(doc.created_at)}


def _verification_documents(verification: IdentityVerification) -> list[tuple[str, EncryptedFile]]:
    return [(side, getattr(verification, side)) for side in DOCUMENT_SIDES if getattr(verification, f"{side}_id")]


def _verification_entry(verification: IdentityVerification) -> dict[str, Any]:
    return {
        "id": verification.pk,
        "kind": verification.document_kind,
        "country": verification.document_country,
        "expiry": _iso(verification.document_expiry),
        "method": verification.method,
        "provider": verification.provider,
        "provider_session_id": verification.provider_session_id,
        "provider_decision": verification.provider_decision,
        "result": verification.result,
        "verified_at": _iso(verification.verified_at),
        "verified_by": verification.verified_by.get_username() if verification.verified_by_id else None,
        "recorded_at": _iso(verification.created_at),
        "copies": [_document_ref(side, doc) for side, doc in _verification_documents(verification)],
    }


def _consent_entry(consent: ConsentRecord) -> dict[str, Any]:
    return {
        "id": consent.pk,
        "platforms": consent.platforms,
        "max_rating": consent.max_rating,
        "uses": consent.uses,
        "signed_at": _iso(consent.signed_at),
        "valid_from": _iso(consent.valid_from),
        "valid_until": _iso(consent.valid_until),
        "supersedes": consent.supersedes_id,
        "revoked_at": _iso(consent.revoked_at),
        "revoked_reason": consent.revoked_reason,
        "release": _document_ref("release", consent.release) if consent.release_id else None,
        "recorded_at": _iso(consent.created_at),
    }


def _verifications(performer: Performer) -> list[IdentityVerification]:
    return list(performer.verifications.select_related("front", "back", "selfie", "verified_by")
                .order_by("created_at", "pk"))


def _consents(performer: Performer) -> list[ConsentRecord]:
    return list(performer.consents.select_related("release").order_by("signed_at", "pk"))


# --- 2257 ----------------------------------------------------------------------------------------


def record_2257(performer: Performer, *, actor: Actor, fmt: str = "json") -> dict[str, Any]:
    """The performer's record as 2257 describes it: names, date of birth, IDs examined, consents,
    and every depiction — the asset, its production date and each URL where it was published.

    Documents are referenced by id and digest, never embedded: the record proves which copy was
    examined without spreading it. Audits `performer.record_exported`.
    """
    names = _names(performer)
    verifications = _verifications(performer)
    consents = _consents(performer)
    creators, _ = _creators(performer, actor)
    shown = depictions(performer, _reach(actor, IdentityVerification))
    record = {
        "record": "performer record (18 U.S.C. 2257)",
        "generated_at": timezone.now().isoformat(),
        "performer": {
            "id": performer.pk,
            "legal_name": performer.legal_name,
            "date_of_birth": _iso(performer.date_of_birth),
            "status": performer.status,
            "erased_at": _iso(performer.erased_at),
        },
        "names": [{"name": n.name, "kind": n.kind} for n in names],
        "other_names": sorted({n.name for n in names if n.name != performer.legal_name}),
        "creators": creators,
        "identity_documents": [_verification_entry(v) for v in verifications],
        "consents": [_consent_entry(c) for c in consents],
        "depictions": shown,
    }
    audit.record("performer.record_exported", performer, actor=actor, creator_id=creator_id_for(performer, actor),
                 changes={"format": fmt, "verifications": len(verifications), "consents": len(consents),
                          "depictions": len(shown)})
    return record


# --- Data-subject access -------------------------------------------------------------------------


def _takedowns_naming(performer: Performer, actor: Actor) -> list[TakedownRequest]:
    qs = performer.takedowns.prefetch_related("actions").order_by("received_at", "pk")
    if actor is not None:
        qs = tenancy.restrict(qs, actor)
    return list(qs)


def _takedown_entry(request: TakedownRequest) -> dict[str, Any]:
    # The requester's identity, contact and signature are a third person's data (often someone
    # protecting the performer): the performer gets what was asked and done, not who asked.
    return {
        "id": request.pk,
        "kind": request.kind,
        "status": request.status,
        "received_at": _iso(request.received_at),
        "due_at": _iso(request.due_at),
        "closed_at": _iso(request.closed_at),
        "content_description": request.content_description,
        "content_locations": request.content_locations,
        "resolution": request.resolution,
        "actions": [{"at": _iso(a.at), "description": a.description} for a in request.actions.all()],
    }


def _events_about(performer: Performer, actor: Actor, verifications: list, consents: list,
                  takedowns: list) -> list[dict[str, Any]]:
    about = Q(object_type=Performer._meta.label_lower, object_id=str(performer.pk))
    for model, rows in ((IdentityVerification, verifications), (ConsentRecord, consents),
                        (TakedownRequest, takedowns)):
        if rows:
            about |= Q(object_type=model._meta.label_lower, object_id__in=[str(r.pk) for r in rows])
    qs = AuditEvent.objects.filter(about).order_by("created_at", "pk")
    if actor is not None:
        qs = tenancy.restrict(qs, actor)
    # Who on staff did it and from where is the agency's data, not the performer's.
    return [{"at": _iso(e.created_at), "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
             "changes": e.changes} for e in qs]


def export_performer_data(performer: Performer, *, actor: Actor) -> bytes:
    """Everything held about the performer, as a zip: `performer.json` plus the decrypted documents.

    `performer.json` includes the depictions: the assets showing the person and every publication of
    each, with its URL (the asset files themselves stay in the vault: they are the creator's work).

    Each document and document number is read through the services, so every one of them is an
    audit event; the export itself is `performer.data_exported`. Rows filed under creators the actor
    cannot reach are left out and `scope.complete` says so: someone who reaches them completes it.
    """
    creator_id = creator_id_for(performer, actor)
    verifications = _verifications(performer)
    consents = _consents(performer)
    takedowns = _takedowns_naming(performer, actor)
    creators, all_creators = _creators(performer, actor)
    events = _events_about(performer, actor, verifications, consents, takedowns)
    all_takedowns = performer.takedowns.count() == len(takedowns)
    reach = _reach(actor, IdentityVerification)
    shown = depictions(performer, reach)
    all_depictions = reach is tenancy.ALL or len(depictions(performer)) == len(shown)
    complete = all_creators and all_takedowns and all_depictions

    files: list[tuple[str, EncryptedFile, Any]] = []
    verification_entries = []
    for verification in verifications:
        entry = _verification_entry(verification)
        entry["document_number"] = (services.read_document_number(verification, actor=actor)
                                    if verification.document_number_encrypted else "")
        entry["notes"] = verification.notes
        entry["provider_reason"] = verification.provider_reason
        for copy, (side, doc) in zip(entry["copies"], _verification_documents(verification), strict=True):
            copy["file"] = f"documents/verification-{verification.pk}-{side}.{extension_for(doc)}"
            files.append((copy["file"], doc, verification))
        verification_entries.append(entry)
    consent_entries = []
    for consent in consents:
        entry = _consent_entry(consent)
        if consent.release_id:
            entry["release"]["file"] = f"documents/consent-{consent.pk}-release.{extension_for(consent.release)}"
            files.append((entry["release"]["file"], consent.release, consent))
        consent_entries.append(entry)

    payload = {
        "export": "data held about a performer (data-subject access request)",
        "generated_at": timezone.now().isoformat(),
        "scope": {"complete": complete,
                  "note": "" if complete else
                  "Some records are filed under creators outside the exporter's reach; "
                  "an exporter who reaches them completes this export."},
        "performer": {
            "id": performer.pk, "legal_name": performer.legal_name, "date_of_birth": _iso(performer.date_of_birth),
            "country": performer.country, "email": performer.email, "phone": performer.phone,
            "status": performer.status, "notes": performer.notes, "created_at": _iso(performer.created_at),
            "erased_at": _iso(performer.erased_at), "erasure_reason": performer.erasure_reason,
        },
        "names": [{"name": n.name, "kind": n.kind} for n in _names(performer)],
        "creators": creators,
        "identity_verifications": verification_entries,
        "consents": consent_entries,
        "takedown_requests": [_takedown_entry(t) for t in takedowns],
        # The assets showing the person and where each was published: what they may ask to have removed.
        "depictions": shown,
        "audit_events": events,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, doc, subject in files:
            data = services.read_document(doc, actor=actor, purpose="data-subject export", creator_id=creator_id,
                                          subject=subject)
            archive.writestr(path, data)
        archive.writestr("performer.json", json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    audit.record("performer.data_exported", performer, actor=actor, creator_id=creator_id,
                 changes={"documents": len(files), "complete": payload["scope"]["complete"]})
    return buffer.getvalue()


# --- Erasure -------------------------------------------------------------------------------------


def _delete_stored(names: list[str]) -> None:
    storage = services.private_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # the row is gone, so the orphan sweep removes the file later
            logger.exception("Could not delete an erased document from the private storage.")


def published_depictions(performer: Performer) -> list[dict[str, Any]]:
    """Depictions (under any creator) that went out at least once."""
    return [d for d in depictions(performer) if d.get("publications")]


def records_held(performer: Performer) -> bool:
    """Whether 2257 obliges the agency to keep this performer's record: they passed an identity
    check, or appeared in published material (a depiction with a publication)."""
    return (performer.verifications.filter(result=IdentityVerification.Result.APPROVED).exists()
            or bool(published_depictions(performer)))


def what_is_kept(performer: Performer, held: bool | None = None) -> list[dict[str, str]]:
    """What an erasure keeps and the obligation behind each item, shown before and recorded after."""
    held = records_held(performer) if held is None else held
    kept = []
    if held:
        approved = performer.verifications.filter(result=IdentityVerification.Result.APPROVED).count()
        kept += [
            {"what": "legal name and date of birth",
             "why": "2257 record-keeping: the performer passed an identity check or appeared in published material"},
            {"what": "every name: legal, former legal, stage names, aliases and nicknames",
             "why": "2257 asks for every name the performer used, including aliases and nicknames"},
            {"what": f"approved identity checks with their document copies and numbers ({approved})",
             "why": "2257 requires a copy of the identity document examined"},
            {"what": f"consents with their signed releases ({performer.consents.count()})",
             "why": "proof that published material was made and shared with consent"},
        ]
    else:
        kept.append({"what": f"consent history without release files ({performer.consents.count()})",
                     "why": "shows what was agreed and revoked, and when; holds no document or name"})
    if held:
        kept.append({"what": f"depictions: assets showing the performer and where each was published "
                             f"({len(published_depictions(performer))} published)",
                     "why": "2257 ties the record to every depiction, its production date and its URLs"})
    kept += [
        {"what": "links to creators", "why": "keeps the record with the compliance officers of those creators"},
        {"what": f"takedown requests naming the performer ({performer.takedowns.count()})",
         "why": "legal claims and the platforms' removal obligations"},
        {"what": "audit log", "why": "append-only proof of who did what; it holds ids, not personal data"},
    ]
    return kept


@transaction.atomic
def erase_performer(performer: Performer, *, actor: Actor, reason: str) -> dict[str, Any]:
    """Erase what no obligation requires; keep the 2257 record when one is required. Idempotent.

    Removes contact details, notes, the images and numbers of identity checks that were never
    approved, and — when no record must be kept — the legal name, date of birth, every name and the
    signed releases. When the record is kept, every name stays (2257 lists aliases and nicknames too)
    and so do the depictions, which live in the content and scheduling apps. Stored ciphertext is
    deleted after commit (a rollback keeps it). Sets the performer to `erased` and writes what was
    kept and why into `erasure_reason`. Audits `performer.erased` whenever something was removed;
    a repeat call removes nothing.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the performer's data is erased (e.g. the request's reference)."})
    performer = Performer.objects.select_for_update().get(pk=performer.pk)
    now = timezone.now()
    held = records_held(performer)
    removed: dict[str, Any] = {}

    fields = [f for f in ("email", "phone", "notes") if getattr(performer, f)]
    if not held:
        fields += [f for f in ("country", "date_of_birth") if getattr(performer, f)]
        if performer.legal_name != f"Erased performer #{performer.pk}":
            fields.append("legal_name")
    for field in fields:
        setattr(performer, field, None if field == "date_of_birth" else "")
    if "legal_name" in fields:
        performer.legal_name = f"Erased performer #{performer.pk}"
    if fields:
        removed["fields"] = fields

    names = performer.names.exclude(kind__in=RECORD_NAME_KINDS) if held else performer.names.all()
    if count := names.count():
        names.delete()
        removed["names"] = count

    unapproved = performer.verifications.exclude(result=IdentityVerification.Result.APPROVED)
    doc_ids = {pk for row in unapproved.values_list("front_id", "back_id", "selfie_id") for pk in row if pk}
    personal = (Q(front__isnull=False) | Q(back__isnull=False) | Q(selfie__isnull=False)
                | ~Q(document_number_encrypted="") | ~Q(notes="") | ~Q(provider_reason=""))
    if cleared := unapproved.filter(personal).count():
        unapproved.update(front=None, back=None, selfie=None, document_number_encrypted="", notes="",
                          provider_reason="")
        removed["unapproved_checks_cleared"] = cleared
    if not held:
        releases = performer.consents.filter(release__isnull=False)
        release_ids = set(releases.values_list("release_id", flat=True))
        if release_ids:
            releases.update(release=None)  # the consent itself stays; only the signed file goes
            removed["releases"] = len(release_ids)
            doc_ids |= release_ids
    if doc_ids:
        stored = list(EncryptedFile.objects.filter(pk__in=doc_ids).values_list("storage_name", flat=True))
        EncryptedFile.objects.filter(pk__in=doc_ids).delete()
        removed["documents"] = len(stored)
        transaction.on_commit(lambda: _delete_stored(stored), robust=True)

    kept = what_is_kept(performer, held)
    first = performer.status != Performer.Status.ERASED
    changed = first or bool(removed)
    if changed:
        performer.status = Performer.Status.ERASED
        performer.erased_at = performer.erased_at or now
        summary = "; ".join(f"{key.replace('_', ' ')}: {value if isinstance(value, int) else ', '.join(value)}"
                            for key, value in removed.items()) or "nothing beyond the status"
        lines = [reason.strip(), "", "Kept:"] if first else [performer.erasure_reason, ""]
        if first:
            lines += [f"- {item['what']}: {item['why']}" for item in kept]
            lines.append("")
        lines.append(f"Removed on {now:%Y-%m-%d %H:%M} UTC: {summary}.")
        performer.erasure_reason = "\n".join(lines)
        performer.save()
        audit.record("performer.erased", performer, actor=actor, creator_id=creator_id_for(performer, actor),
                     changes={"removed": removed, "records_held": held, "first": first})
    return {"performer": performer.pk, "status": performer.status, "erased_at": _iso(performer.erased_at),
            "changed": changed, "records_held": held, "removed": removed, "kept": kept}

