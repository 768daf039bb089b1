"""Compliance state changes and the gate's data loading. Admin, API and tasks call these.

Every function validates, runs in one transaction, writes its audit event, and — where other
apps must react — sends its signal only after commit, so receivers see what was saved.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit, tenancy
from accounts.actors import Actor
from accounts.services import user_of
from compliance import blocklist, crypto, gate, signals, targets
from compliance.deadlines import takedown_due
from compliance.models import (
    BlockedTerm,
    ConsentNotice,
    ConsentRecord,
    CreatorPerformer,
    EncryptedFile,
    IdentityVerification,
    Performer,
    PerformerName,
    TakedownAction,
    TakedownRequest,
    TakedownTarget,
    VerificationNotice,
)

T = TypeVar("T")
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
DOCUMENT_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
    b"RIFF": "image/webp",
}




def private_storage() -> Storage:
    return storages["private"]


def _sniff(data: bytes) -> str:
    for magic, mime in DOCUMENT_TYPES.items():
        if data.startswith(magic) and (mime != "image/webp" or data[8:12] == b"WEBP"):
            return mime
    if len(data) > 12 and data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1"):
        return "image/heic"
    raise ValidationError("Documents must be a JPEG, PNG, WebP, HEIC image or a PDF.")


# --- Encrypted documents -------------------------------------------------------------------------


def store_document(data: bytes, *, label: str) -> EncryptedFile:
    """Encrypt and store a document. The plaintext never touches disk or S3.

    Callers run inside `documents_cleanup()`, which deletes the ciphertext again if the service
    fails later on; `sweep_orphan_documents` catches anything an outer rollback left behind.
    """
    if not data:
        raise ValidationError("The document is empty.")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"Documents are limited to {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.")
    content_type = _sniff(data)
    storage = private_storage()
    name = storage.save(f"documents/{label}/{uuid.uuid4().hex}.bin", ContentFile(crypto.encrypt(data)))
    _stored_names.get().append(name)
    return EncryptedFile.objects.create(
        storage_name=name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        key_id=crypto.key_id(),
    )


_stored_names: contextvars.ContextVar[list[str]] = contextvars.ContextVar("stored_names")


@contextlib.contextmanager
def documents_cleanup() -> Iterator[None]:
    """Delete documents stored in this block if the block fails: no ciphertext without its row."""
    token = _stored_names.set([])
    try:
        yield
    except BaseException:
        for name in _stored_names.get():
            private_storage().delete(name)
        raise
    finally:
        _stored_names.reset(token)


def _stores_documents(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a service in one transaction whose stored documents are removed again if it fails."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with documents_cleanup(), transaction.atomic():
            return fn(*args, **kwargs)

    return wrapper


def sweep_orphan_documents(older_than: timedelta = timedelta(hours=1)) -> int:
    """Remove stored ciphertext that no row references (left by a rolled-back transaction)."""
    storage = private_storage()
    known = set(EncryptedFile.objects.values_list("storage_name", flat=True))
    cutoff = timezone.now() - older_than
    removed = 0
    for label in ("identity", "releases"):
        folder = f"documents/{label}"
        try:
            _, files = storage.listdir(folder)
        except FileNotFoundError:
            continue
        for filename in files:
            name = f"{folder}/{filename}"
            if name in known:
                continue
            try:
                modified = storage.get_modified_time(name)
            except (NotImplementedError, FileNotFoundError):
                continue
            if modified < cutoff:
                storage.delete(name)
                removed += 1
    return removed


def read_document(
    doc: EncryptedFile, *, actor: Actor, purpose: str, creator_id: int | None = None, subject: Any = None
) -> bytes:
    """Decrypt a document for a person who needs to see it. Every read is an audit event."""
    with private_storage().open(doc.storage_name, "rb") as fh:
        data = crypto.decrypt(fh.read())
    if hashlib.sha256(data).hexdigest() != doc.sha256:
        raise crypto.DecryptionError("The decrypted document does not match its recorded digest.")
    audit.record(
        "document.read",
        subject or doc,
        actor=actor,
        creator_id=creator_id,
        changes={"document": doc.pk, "purpose": purpose},
    )
    return data


def rotate_document(doc: EncryptedFile) -> bool:
    """Re-encrypt one document under the primary key. Returns False if it already was.

    The old ciphertext is deleted only once the new name is committed: a rollback leaves the row
    naming a file that still exists (the new file is then an orphan the sweep removes).
    """
    primary = crypto.key_id()
    if doc.key_id == primary:
        return False
    storage = private_storage()
    with storage.open(doc.storage_name, "rb") as fh:
        token = crypto.rotate(fh.read())
    new_name = storage.save(
        doc.storage_name.rsplit("/", 1)[0] + f"/{uuid.uuid4().hex}.bin", ContentFile(token)
    )
    old_name = doc.storage_name
    with transaction.atomic():
        EncryptedFile.objects.filter(pk=doc.pk).update(storage_name=new_name, key_id=primary)
        transaction.on_commit(lambda: storage.delete(old_name))
    doc.storage_name, doc.key_id = new_name, primary
    return True


# --- Performers ----------------------------------------------------------------------------------


# --- Refusals that concern a minor --------------------------------------------------------------
#
# A refusal because someone is (or was) under 18 is itself evidence: the attempt is audited. The
# event is written before the service opens its transaction, so the refusal does not roll it back;
# admin forms call the same checks from `clean()` (the admin's own transaction then commits).


def _refuse(action: str, performer: Performer | None, *, actor: Actor, field: str, code: str, message: str,
            creator_id: int | None = None) -> NoReturn:
    audit.record(action, performer if performer is not None and performer.pk else None, actor=actor,
                 creator_id=creator_id if creator_id is not None else (
                     performer_creator_id(performer) if performer is not None and performer.pk else None),
                 changes={"performer": performer.pk if performer is not None else None, "reason": code})
    raise ValidationError({field: message})


def check_may_be_active(performer: Performer, *, actor: Actor = None, creator_id: int | None = None) -> None:
    """Refuse (audited as `performer.refused`) to keep an active record of someone under 18 today."""
    dob = performer.date_of_birth
    if performer.status == Performer.Status.ACTIVE and dob is not None:
        age = gate.age_on(dob, timezone.now().date())
        if age < gate.ADULT_AGE:
            _refuse("performer.refused", performer, actor=actor, field="date_of_birth", code="underage",
                    creator_id=creator_id,
                    message=f"This date of birth makes the performer {max(age, 0)} today: someone under "
                            f"{gate.ADULT_AGE} cannot be an active performer. Correct the date or suspend the record.")


def check_may_consent(performer: Performer, *, production_date: date | None = None, actor: Actor = None) -> None:
    """Refuse (audited as `consent.refused`) a consent for a performer without a date of birth, under
    18 today, or under 18 on the stated production date."""
    dob = performer.date_of_birth
    if dob is None:
        _refuse("consent.refused", performer, actor=actor, field="performer", code="dob_missing",
                message="Record the performer's date of birth before their consent.")
    today = timezone.now().date()
    for day, label in ((today, "today"), (production_date, f"on the production date {production_date}")):
        if day is not None and gate.age_on(dob, day) < gate.ADULT_AGE:
            _refuse("consent.refused", performer, actor=actor, field="performer", code="underage",
                    message=f"The performer is under {gate.ADULT_AGE} {label}: a minor cannot give consent.")


def check_may_be_verified(performer: Performer, *, actor: Actor = None) -> None:
    """Refuse (audited as `verification.refused`) an identity check of a performer without a date of
    birth: the check exists to prove the age that date states."""
    if performer.date_of_birth is None:
        _refuse("verification.refused", performer, actor=actor, field="performer", code="dob_missing",
                message="Record the performer's date of birth before their identity check.")


def _standing_changed(performer_ids: list[int], *, reason_code: str, message: str) -> None:
    """After commit, tell scheduling that what depicts these performers must be judged again."""
    ids = sorted(set(performer_ids))
    transaction.on_commit(lambda: signals.standing_changed.send(
        sender=Performer, performer_ids=ids, reason_code=reason_code, message=message))


def create_performer(
    *,
    legal_name: str,
    date_of_birth: date | None,
    creators: Iterable[Any] = (),
    relation: str = CreatorPerformer.Relation.SELF,
    other_names: Iterable[tuple[str, str]] = (),
    actor: Actor = None,
    **fields: Any,
) -> Performer:
    """Create a performer with every name they use; audits `performer.created` per creator.
    Someone under 18 today is refused as an active performer (audited)."""
    performer = Performer(legal_name=legal_name, date_of_birth=date_of_birth, **fields)
    creators = list(creators)
    check_may_be_active(performer, actor=actor, creator_id=creators[0].pk if creators else None)
    return _create_performer(performer, creators=creators, relation=relation, other_names=other_names,
                             actor=actor)


@transaction.atomic
def _create_performer(performer: Performer, *, creators: list[Any], relation: str,
                      other_names: Iterable[tuple[str, str]], actor: Actor) -> Performer:
    legal_name = performer.legal_name
    performer.full_clean()
    performer.save()
    PerformerName.objects.create(performer=performer, name=legal_name, kind=PerformerName.Kind.LEGAL)
    for name, kind in other_names:
        PerformerName.objects.get_or_create(performer=performer, name=name, kind=kind)
    creator_ids = []
    for creator in creators:
        CreatorPerformer.objects.create(creator=creator, performer=performer, relation=relation)
        creator_ids.append(creator.pk)
    audit.record(
        "performer.created",
        performer,
        actor=actor,
        creator_id=creator_ids[0] if creator_ids else None,
        changes={"creators": creator_ids},
    )
    return performer


def update_performer(performer: Performer, *, changed: list[str], actor: Actor = None,
                     creator_id: int | None = None) -> Performer:
    """Save an edit of a performer. Audits `performer.updated`.

    A changed legal name stays findable as a former legal name: 2257-style records must be
    retrievable by every name the performer used. Someone under 18 today stays no active performer
    (refused, audited). A corrected date of birth or status is a fact the gate reads: after commit,
    `standing_changed` makes scheduling judge again what depicts them, like a revocation.
    """
    check_may_be_active(performer, actor=actor, creator_id=creator_id)
    return _update_performer(performer, changed=changed, actor=actor, creator_id=creator_id)


@transaction.atomic
def _update_performer(performer: Performer, *, changed: list[str], actor: Actor, creator_id: int | None) -> Performer:
    previous = Performer.objects.only("legal_name", "date_of_birth", "status").get(pk=performer.pk)
    performer.full_clean()
    performer.save()
    if (previous.date_of_birth, previous.status) != (performer.date_of_birth, performer.status):
        _standing_changed([performer.pk], reason_code="performer_corrected",
                          message="A performer's date of birth or status was corrected.")
    if previous.legal_name != performer.legal_name:
        old = PerformerName.objects.filter(performer=performer, name=previous.legal_name,
                                           kind=PerformerName.Kind.LEGAL)
        if PerformerName.objects.filter(performer=performer, name=previous.legal_name,
                                        kind=PerformerName.Kind.FORMER_LEGAL).exists():
            old.delete()
        else:
            old.update(kind=PerformerName.Kind.FORMER_LEGAL)
        PerformerName.objects.get_or_create(performer=performer, name=performer.legal_name,
                                            kind=PerformerName.Kind.LEGAL)
    audit.record("performer.updated", performer, actor=actor,
                 creator_id=creator_id if creator_id is not None else performer_creator_id(performer),
                 changes={"fields": sorted(changed)})
    return performer


@transaction.atomic
def change_performer_names(performer: Performer, *, added: Iterable[tuple[str, str]] = (),
                           changed: Iterable[PerformerName] = (), removed: Iterable[PerformerName] = (),
                           actor: Actor = None, creator_id: int | None = None) -> None:
    """Add, correct or remove the names a performer is known by (records are found by any of them).
    The legal name is kept by `update_performer` and is not removed here. Audits
    `performer.names_changed` with counts, never the names."""
    added, changed, removed = list(added), list(changed), list(removed)
    for name in removed:
        if name.performer_id != performer.pk or name.kind == PerformerName.Kind.LEGAL:
            raise ValidationError("The legal name stays; change it on the performer.")
        name.delete()
    for name in changed:
        if name.performer_id != performer.pk:
            raise ValidationError("That name belongs to another performer.")
        name.full_clean()
        name.save()
    for text, kind in added:  # the legal name may already be there: then nothing is added
        PerformerName.objects.get_or_create(performer=performer, name=text, kind=kind)
    if added or changed or removed:
        audit.record("performer.names_changed", performer, actor=actor,
                     creator_id=creator_id if creator_id is not None else performer_creator_id(performer),
                     changes={"added": len(added), "changed": len(changed), "removed": len(removed)})


def _ensure_link_reach(actor: Actor, creator_id: int, action: str) -> None:
    if actor is not None and not tenancy.can_reach_creator(actor, creator_id, CreatorPerformer, action):
        raise PermissionDenied("You may not link performers to that creator.")


@transaction.atomic
def save_creator_link(link: CreatorPerformer, *, actor: Actor = None,
                      changed: Iterable[str] | None = None) -> CreatorPerformer:
    """Link a performer to a creator (its compliance officers then see the record), or change how.
    Moving a link to another creator is unlinking from one and linking to the other: both must be
    reachable. Audits `performer.linked` / `performer.link_changed` under the creator concerned."""
    adding = link._state.adding
    _ensure_link_reach(actor, link.creator_id, "add" if adding else "change")
    if not adding:
        stored = CreatorPerformer.objects.select_for_update().get(pk=link.pk)
        _ensure_link_reach(actor, stored.creator_id, "change")
    link.full_clean()
    link.save()
    if adding:
        audit.record("performer.linked", link.performer, actor=actor, creator_id=link.creator_id,
                     changes={"creator": link.creator_id, "relation": link.relation})
    else:
        audit.record("performer.link_changed", link.performer, actor=actor, creator_id=link.creator_id,
                     changes={"creator": link.creator_id, "fields": sorted(changed or [])})
    return link


@transaction.atomic
def unlink_performer(link: CreatorPerformer, *, actor: Actor = None) -> None:
    """The creator's team no longer sees the performer. Audits `performer.unlinked` under that creator."""
    _ensure_link_reach(actor, link.creator_id, "delete")
    audit.record("performer.unlinked", link.performer, actor=actor, creator_id=link.creator_id,
                 changes={"creator": link.creator_id, "relation": link.relation})
    link.delete()


def performer_creator_id(performer: Performer) -> int | None:
    link = performer.creator_links.order_by("pk").first()
    return link.creator_id if link else None


def record_verification(
    *,
    performer: Performer,
    document_kind: str,
    result: str,
    actor: Actor,
    document_number: str = "",
    front: bytes | None = None,
    back: bytes | None = None,
    selfie: bytes | None = None,
    **fields: Any,
) -> IdentityVerification:
    """Store an identity check with its documents encrypted. Audits `verification.recorded`.

    The latest decided check is the performer's standing: a rejected or expired one recorded after
    an approval unverifies them, and scheduling judges again what depicts them (`standing_changed`).
    The date of birth comes first (refused and audited without it)."""
    check_may_be_verified(performer, actor=actor)
    return _record_verification(performer=performer, document_kind=document_kind, result=result, actor=actor,
                                document_number=document_number, front=front, back=back, selfie=selfie,
                                **fields)


@_stores_documents
def _record_verification(
    *,
    performer: Performer,
    document_kind: str,
    result: str,
    actor: Actor,
    document_number: str = "",
    front: bytes | None = None,
    back: bytes | None = None,
    selfie: bytes | None = None,
    actor_label: str = "",
    **fields: Any,
) -> IdentityVerification:
    if document_kind not in IdentityVerification.DocumentKind.values:
        raise ValidationError(
            {
                "document_kind": "Only a passport, national ID card or driving licence proves "
                "identity and age; bills and statements do not."
            }
        )
    verification = IdentityVerification(
        performer=performer,
        document_kind=document_kind,
        result=result,
        document_number_encrypted=crypto.encrypt_text(document_number),
        **fields,
    )
    for slot, data in (("front", front), ("back", back), ("selfie", selfie)):
        if data:
            setattr(verification, slot, store_document(data, label="identity"))
    if result != IdentityVerification.Result.PENDING:
        verification.verified_by = user_of(actor)
        verification.verified_at = verification.verified_at or timezone.now()
    verification.full_clean()
    verification.save()
    if result in (IdentityVerification.Result.REJECTED, IdentityVerification.Result.EXPIRED):
        _standing_changed([performer.pk], reason_code="verification_lapsed" if result == "expired"
                          else "verification_rejected",
                          message=f"A performer's latest identity check is {result}.")
    audit.record(
        "verification.recorded",
        verification,
        actor=actor,
        actor_label=actor_label,
        creator_id=performer_creator_id(performer),
        changes={
            "performer": performer.pk,
            "result": result,
            "document_kind": document_kind,
            "method": verification.method,
        },
    )
    return verification


def read_document_number(verification: IdentityVerification, *, actor: Actor) -> str:
    value = crypto.decrypt_text(verification.document_number_encrypted)
    audit.record(
        "document_number.read",
        verification,
        actor=actor,
        creator_id=performer_creator_id(verification.performer),
        changes={"performer": verification.performer_id},
    )
    return value


def is_verified_adult(performer: Performer, on: date) -> bool:
    standing = performer_facts([performer.pk])[0]
    age = gate.age_on(standing.date_of_birth, on) if standing.date_of_birth else None
    lapsed = standing.verified_until is not None and on > standing.verified_until
    return standing.verified and not lapsed and age is not None and age >= gate.ADULT_AGE


def deciding_verifications(performer_ids: Iterable[int]) -> dict[int, IdentityVerification]:
    """The latest decided identity check of each performer (one query): it alone says whether they are
    verified now ("recorded after" is what counts, as for every record here)."""
    ids = sorted(set(performer_ids))
    latest: dict[int, IdentityVerification] = {}
    rows = (IdentityVerification.objects.filter(performer_id__in=ids, result__in=IdentityVerification.DECIDED)
            .order_by("performer_id", "-created_at", "-pk")
            .only("pk", "performer_id", "result", "document_expiry", "verified_at", "created_at"))
    for row in rows:  # newest first per performer; plain SQL, so it runs on SQLite (`make run`) too
        latest.setdefault(row.performer_id, row)
    return latest


def _ensure_aware(**values: datetime | None) -> None:
    naive = sorted(name for name, value in values.items() if value is not None and timezone.is_naive(value))
    if naive:
        raise ValidationError({name: "Give the time with its timezone: a naive time is ambiguous by up to a day."
                               for name in naive})


# --- Identity documents that lapse ---------------------------------------------------------------


def expire_verifications(now: datetime | None = None) -> dict[str, int]:
    """Daily: warn 30/7/1 days before the document behind a performer's deciding approval lapses, and
    the day after its last valid day record an `expired` check (a new row: history is not edited),
    which unverifies the performer and makes scheduling handle what depicts them. Once each."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    horizon = today + timedelta(days=max(settings.CONSENT_EXPIRY_WARNING_DAYS, default=0))
    candidates = IdentityVerification.objects.filter(
        result=IdentityVerification.Result.APPROVED, document_expiry__isnull=False, document_expiry__lt=horizon)
    deciding = deciding_verifications(candidates.values_list("performer_id", flat=True))
    sent = {"expired": 0, "warnings": 0}
    for check in deciding.values():
        if check.result != IdentityVerification.Result.APPROVED or check.document_expiry is None:
            continue
        if check.document_expiry < today:
            sent["expired"] += _lapse_verification(check)
            continue
        days_left = (check.document_expiry - today).days
        for days in sorted(settings.CONSENT_EXPIRY_WARNING_DAYS):
            if days_left <= days:
                sent["warnings"] += _warn_verification(check, days)
                break
    return sent


def _warn_verification(check: IdentityVerification, days: int) -> int:
    if check.document_expiry is None:  # the caller picked checks whose document expires
        return 0
    with transaction.atomic():
        _, created = VerificationNotice.objects.get_or_create(verification=check, kind=f"warn_{days}")
        if not created:
            return 0
        performer = Performer.objects.get(pk=check.performer_id)
        creator_ids = sorted(performer.creator_links.values_list("creator_id", flat=True))
        audit.record("verification.expiry_warning", check, actor_label="task:expire_verifications",
                     creator_id=creator_ids[0] if creator_ids else None,
                     changes={"days": days, "document_expiry": check.document_expiry.isoformat()})
        ids, vid, on = [check.performer_id], check.pk, check.document_expiry
        transaction.on_commit(lambda: signals.verification_expiring.send(
            sender=IdentityVerification, performer_ids=ids, verification_id=vid, expires_on=on, days=days,
            creator_ids=creator_ids))
    return 1


def _lapse_verification(check: IdentityVerification) -> int:
    with transaction.atomic():
        _, created = VerificationNotice.objects.get_or_create(verification=check, kind="expired")
        if not created:
            return 0
        full = IdentityVerification.objects.get(pk=check.pk)
        _record_verification(
            performer=full.performer, document_kind=full.document_kind, result=IdentityVerification.Result.EXPIRED,
            actor=None, actor_label="task:expire_verifications", document_country=full.document_country,
            document_expiry=full.document_expiry, verified_at=timezone.now(),
            notes=f"The document of identity check #{full.pk} lapsed after {full.document_expiry}.")
    return 1


# --- Consents ------------------------------------------------------------------------------------


def _validate_scope(platforms: list[str], max_rating: str, uses: list[str]) -> None:
    errors: dict[str, str] = {}
    unknown = sorted(set(platforms) - set(gate.PLATFORM_MAX_RATING))
    if not platforms or unknown:
        errors["platforms"] = (
            f"Unknown platforms: {', '.join(unknown)}." if unknown else "Choose at least one platform."
        )
    if max_rating not in {r.value for r in gate.Rating}:
        errors["max_rating"] = "Choose sfw, suggestive or explicit."
    bad_uses = sorted(set(uses) - {u.value for u in gate.Use})
    if not uses or bad_uses:
        errors["uses"] = f"Unknown uses: {', '.join(bad_uses)}." if bad_uses else "Choose at least one use."
    if errors:
        raise ValidationError(errors)


def record_consent(
    *,
    performer: Performer,
    platforms: list[str],
    max_rating: str,
    uses: list[str],
    signed_at: datetime,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    release: bytes | None = None,
    actor: Actor = None,
    supersedes: ConsentRecord | None = None,
    production_date: date | None = None,
) -> ConsentRecord:
    """Record a new consent; an older one is never edited. Audits `consent.recorded`.

    Refused (and audited) without a date of birth, or for someone under 18 today or on the stated
    production date; naive times are refused. A consent that supersedes another replaces it from its
    own start: the older one covers nothing after that, so scheduling judges again what it covered.
    """
    _ensure_aware(signed_at=signed_at, valid_from=valid_from, valid_until=valid_until)
    check_may_consent(performer, production_date=production_date, actor=actor)
    return _record_consent(performer=performer, platforms=platforms, max_rating=max_rating, uses=uses,
                           signed_at=signed_at, valid_from=valid_from, valid_until=valid_until, release=release,
                           actor=actor, supersedes=supersedes)


@_stores_documents
def _record_consent(
    *,
    performer: Performer,
    platforms: list[str],
    max_rating: str,
    uses: list[str],
    signed_at: datetime,
    valid_from: datetime | None,
    valid_until: datetime | None,
    release: bytes | None,
    actor: Actor,
    supersedes: ConsentRecord | None,
) -> ConsentRecord:
    _validate_scope(platforms, max_rating, uses)
    valid_from = valid_from or signed_at
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationError({"valid_until": "A consent must end after it starts."})
    if supersedes is not None and supersedes.performer_id != performer.pk:
        raise ValidationError({"supersedes": "That consent belongs to another performer."})
    if supersedes is not None and ConsentRecord.objects.filter(supersedes=supersedes).exists():
        raise ValidationError({"supersedes": "A newer consent already replaces that one: supersede the newest."})
    consent = ConsentRecord.objects.create(
        performer=performer,
        platforms=sorted(set(platforms)),
        max_rating=max_rating,
        uses=sorted(set(uses)),
        release=store_document(release, label="releases") if release else None,
        signed_at=signed_at,
        valid_from=valid_from,
        valid_until=valid_until,
        supersedes=supersedes,
        collected_by=user_of(actor),
    )
    audit.record(
        "consent.recorded",
        consent,
        actor=actor,
        creator_id=performer_creator_id(performer),
        changes={
            "performer": performer.pk,
            "platforms": consent.platforms,
            "max_rating": max_rating,
            "uses": consent.uses,
            "supersedes": supersedes.pk if supersedes is not None else None,
        },
    )
    if supersedes is not None:
        _standing_changed([performer.pk], reason_code="consent_superseded",
                          message="A performer's consent was replaced by a newer one that may cover less.")
    return consent


def revoke_consent(consent: ConsentRecord, *, reason: str, actor: Actor = None) -> ConsentRecord:
    """Revoke with effect from now. Idempotent: a second call changes nothing and signals nothing.

    The row lock makes two simultaneous revocations send the signal exactly once.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the consent is revoked."})
    with transaction.atomic():
        locked: ConsentRecord = ConsentRecord.objects.select_for_update().get(pk=consent.pk)
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.revoked_reason = reason.strip()
        locked.revoked_by = user_of(actor)
        locked.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
        audit.record(
            "consent.revoked",
            locked,
            actor=actor,
            creator_id=performer_creator_id(locked.performer),
            changes={"performer": locked.performer_id},
        )
        performer_ids, revoked_at = [locked.performer_id], locked.revoked_at
        transaction.on_commit(
            lambda: signals.consent_revoked.send(
                sender=ConsentRecord, performer_ids=performer_ids, consent_id=locked.pk, revoked_at=revoked_at
            )
        )
    consent.revoked_at, consent.revoked_reason = locked.revoked_at, locked.revoked_reason
    return locked


def expire_consents(now: datetime | None = None) -> dict[str, int]:
    """Daily: send `consent_expired` once per lapsed consent; warn 30/7/1 days ahead, once each."""
    now = now or timezone.now()
    sent = {"expired": 0, "warnings": 0}
    lapsed = ConsentRecord.objects.filter(revoked_at__isnull=True, valid_until__lte=now).exclude(
        notices__kind="expired"
    )
    for consent in lapsed.select_related("performer"):
        with transaction.atomic():
            _, created = ConsentNotice.objects.get_or_create(consent=consent, kind="expired")
            if not created:
                continue
            audit.record(
                "consent.expired",
                consent,
                actor_label="task:expire_consents",
                creator_id=performer_creator_id(consent.performer),
                changes={"performer": consent.performer_id},
            )
            ids, cid = [consent.performer_id], [consent.pk]
            transaction.on_commit(functools.partial(
                signals.consent_expired.send, sender=ConsentRecord, performer_ids=ids, consent_ids=cid))
        sent["expired"] += 1
    for days in sorted(settings.CONSENT_EXPIRY_WARNING_DAYS, reverse=True):
        window = ConsentRecord.objects.filter(
            revoked_at__isnull=True, valid_until__gt=now, valid_until__lte=now + timedelta(days=days)
        ).exclude(notices__kind=f"warn_{days}")
        for consent in window.select_related("performer"):
            _, created = ConsentNotice.objects.get_or_create(consent=consent, kind=f"warn_{days}")
            if created:
                audit.record(
                    "consent.expiry_warning",
                    consent,
                    actor_label="task:expire_consents",
                    creator_id=performer_creator_id(consent.performer),
                    changes={"days": days, "valid_until": consent.valid_until.isoformat()},
                )
                sent["warnings"] += 1
    return sent


# --- The gate ------------------------------------------------------------------------------------


def performer_facts(performer_ids: Iterable[int]) -> tuple[gate.PerformerFacts, ...]:
    """Load the standing of performers for the gate: two queries whatever the count."""
    ids = sorted(set(performer_ids))
    deciding = deciding_verifications(ids)
    consents: dict[int, list[gate.ConsentFacts]] = {pk: [] for pk in ids}
    rows = list(ConsentRecord.objects.filter(performer_id__in=ids))
    # A superseded consent ends where the one replacing it starts (the newer one may be narrower).
    superseded_at = {c.supersedes_id: c.valid_from for c in rows if c.supersedes_id is not None}
    for c in rows:
        consents[c.performer_id].append(
            gate.ConsentFacts(
                id=c.pk,
                platforms=frozenset(c.platforms),
                max_rating=c.max_rating,
                uses=frozenset(c.uses),
                valid_from=c.valid_from,
                valid_until=c.valid_until,
                revoked_at=c.revoked_at,
                superseded_at=superseded_at.get(c.pk),
            )
        )
    approved = IdentityVerification.Result.APPROVED
    return tuple(
        gate.PerformerFacts(
            id=p.pk,
            date_of_birth=p.date_of_birth,
            verified=p.pk in deciding and deciding[p.pk].result == approved,
            verified_until=deciding[p.pk].document_expiry if p.pk in deciding else None,
            consents=tuple(consents[p.pk]),
            active=p.status == Performer.Status.ACTIVE,
        )
        for p in Performer.objects.filter(pk__in=ids).order_by("pk")
    )


@transaction.atomic
def add_blocked_term(term: str, *, note: str = "", actor: Actor = None) -> BlockedTerm:
    """Extend the hard-block list agency-wide (the built-in lists are never reduced). Audits
    `blocked_term.added` with the term: it is the agency's policy, not anyone's personal data."""
    blocked = BlockedTerm(term=term, note=note, added_by=user_of(actor))
    blocked.full_clean()
    blocked.save()
    audit.record("blocked_term.added", blocked, actor=actor, changes={"term": blocked.term})
    return blocked


@transaction.atomic
def remove_blocked_term(blocked: BlockedTerm, *, actor: Actor = None) -> None:
    audit.record("blocked_term.removed", blocked, actor=actor, changes={"term": blocked.term})
    blocked.delete()


def blocked_terms() -> tuple[str, ...]:
    """The agency's terms on top of the built-in lists: the same list every screen reads."""
    return blocklist.agency_terms()


@dataclass(frozen=True)
class GateInput:
    """What content/scheduling know about a publication; compliance adds the performers' standing."""

    creator_id: int
    platform: str
    rating: str
    performer_ids: frozenset[int]
    production_date: date | None
    ai_origin: bool
    disclosure_present: bool
    provenance_present: bool
    no_real_person_attested: bool
    human_approved: bool
    texts: dict[str, str]
    due_at: datetime
    uses: frozenset[str] = frozenset()
    approved_version: str | None = None  # what a person approved; None when nobody has
    current_version: str | None = None  # what would reach fans now
    asset_ids: frozenset[int] = frozenset()  # the assets it carries
    publication_ids: frozenset[int] = frozenset()  # this publication and the others of its post


def check_publication(data: GateInput) -> gate.Verdict:
    """Build the facts from the database and run the pure gate."""
    return check_publications([data])[0]


def likeness_performers(creator_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """The real people behind each creator (relation self or likeness): synthetic media of such a
    creator still carries their likeness, whatever its "no real person" attestation says."""
    out: dict[int, set[int]] = {}
    for creator_id, performer_id in CreatorPerformer.objects.filter(
            creator_id__in=sorted(set(creator_ids)),
            relation__in=[CreatorPerformer.Relation.SELF, CreatorPerformer.Relation.LIKENESS],
    ).values_list("creator_id", "performer_id"):
        out.setdefault(creator_id, set()).add(performer_id)
    return {creator_id: frozenset(ids) for creator_id, ids in out.items()}


def check_publications(inputs: Sequence[GateInput]) -> list[gate.Verdict]:
    """The gate for many publications at once (the dispatcher's batches): the performers' standing
    and the agency's blocked terms are read once for the whole batch, the verdicts are the same."""
    attested = {d.creator_id for d in inputs if d.no_real_person_attested}
    likeness = likeness_performers(attested) if attested else {}
    every = set().union(*(d.performer_ids for d in inputs), *likeness.values()) if inputs else set()
    by_id = {p.id: p for p in performer_facts(every)}
    extra = blocked_terms()
    takedowns = takedown_facts(inputs)
    verdicts = []
    for d in inputs:
        behind = likeness.get(d.creator_id, frozenset()) if d.no_real_person_attested else frozenset()
        wanted = sorted(d.performer_ids | behind)
        verdicts.append(gate.evaluate(_facts(d, tuple(by_id[i] for i in wanted if i in by_id), extra, behind,
                                             takedowns)))
    return verdicts


def takedown_facts(inputs: Sequence[GateInput]) -> tuple[gate.TakedownFacts, ...]:
    """Open takedown requests naming any performer, asset or publication of these inputs, read in a
    fixed number of queries; the gate decides which of them concern which publication."""
    performers = set().union(*(d.performer_ids for d in inputs)) if inputs else set()
    assets = set().union(*(d.asset_ids for d in inputs)) if inputs else set()
    publications = set().union(*(d.publication_ids for d in inputs)) if inputs else set()
    if not (performers or assets or publications):
        return ()
    named = (
        Q(performers__in=performers)
        | Q(targets__kind=TakedownTarget.Kind.ASSET, targets__object_id__in=assets)
        | Q(targets__kind=TakedownTarget.Kind.PUBLICATION, targets__object_id__in=publications)
    )
    ids = sorted(set(TakedownRequest.objects.filter(named, status__in=TakedownRequest.OPEN_STATUSES)
                     .values_list("pk", flat=True)))
    return tuple(_takedown_facts_for(ids).values())


def _takedown_facts_for(ids: Sequence[int]) -> dict[int, gate.TakedownFacts]:
    if not ids:
        return {}
    performers: dict[int, set[int]] = {i: set() for i in ids}
    assets: dict[int, set[int]] = {i: set() for i in ids}
    publications: dict[int, set[int]] = {i: set() for i in ids}
    for request_id, performer_id in TakedownRequest.performers.through.objects.filter(
            takedownrequest_id__in=ids).values_list("takedownrequest_id", "performer_id"):
        performers[request_id].add(performer_id)
    for request_id, kind, object_id in TakedownTarget.objects.filter(
            request_id__in=ids, object_id__isnull=False).values_list("request_id", "kind", "object_id"):
        if object_id is not None:  # filtered out above; the column is nullable
            (assets if kind == TakedownTarget.Kind.ASSET else publications)[request_id].add(object_id)
    return {i: gate.TakedownFacts(id=i, performer_ids=frozenset(performers[i]), asset_ids=frozenset(assets[i]),
                                  publication_ids=frozenset(publications[i])) for i in ids}


def takedown_named(takedown_id: int) -> gate.TakedownFacts:
    """What one request names (whatever its status): what scheduling blocks on opening and lifts on closing."""
    return _takedown_facts_for([takedown_id]).get(takedown_id) or gate.TakedownFacts(id=takedown_id)


def open_takedown_ids(ids: Iterable[int]) -> set[int]:
    """Which of these requests are still open."""
    return set(TakedownRequest.objects.filter(pk__in=list(ids), status__in=TakedownRequest.OPEN_STATUSES)
               .values_list("pk", flat=True))


def _facts(data: GateInput, performers: tuple[gate.PerformerFacts, ...],
           extra_terms: tuple[str, ...], likeness: frozenset[int] = frozenset(),
           takedowns: tuple[gate.TakedownFacts, ...] = ()) -> gate.PublicationFacts:
    return gate.PublicationFacts(
        creator_id=data.creator_id,
        platform=data.platform,
        rating=gate.Rating(data.rating),
        performer_ids=frozenset(data.performer_ids),
        performers=performers,
        production_date=data.production_date,
        ai_origin=data.ai_origin,
        disclosure_present=data.disclosure_present,
        provenance_present=data.provenance_present,
        no_real_person_attested=data.no_real_person_attested,
        human_approved=data.human_approved,
        texts=data.texts,
        due_at=data.due_at,
        uses=frozenset(gate.Use(u) for u in data.uses),
        extra_blocked_terms=extra_terms,
        approved_version=data.approved_version,
        current_version=data.current_version,
        asset_ids=frozenset(data.asset_ids),
        publication_ids=frozenset(data.publication_ids),
        open_takedowns=takedowns,
        likeness_performer_ids=likeness,
    )


def consent_status(
    performer: Performer,
    *,
    platform: str,
    rating: str,
    use: str = gate.Use.PUBLICATION,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Whether one performer may appear on a platform at a rating, with the gate's reasons."""
    at = at or timezone.now()
    data = GateInput(
        creator_id=0,
        platform=platform,
        rating=rating,
        performer_ids=frozenset({performer.pk}),
        production_date=at.date(),
        ai_origin=False,
        disclosure_present=False,
        provenance_present=False,
        no_real_person_attested=False,
        human_approved=True,
        texts={},
        due_at=at,
        uses=frozenset({use}),
    )
    # A standing question about consent: open takedowns concern publications, not this answer.
    verdict = gate.evaluate(_facts(data, performer_facts(data.performer_ids), ()))
    return {
        "performer": performer.pk,
        "platform": platform,
        "rating": str(rating),
        "use": str(use),
        "at": at.isoformat(),
        "allowed": verdict.passed,
        "reasons": [r.to_dict() for r in verdict.reasons],
    }


def likeness_refusals(creator: Any, *, rating: str, at: datetime | None = None) -> list[str]:
    """Why images of this creator may not be generated now; empty when they may.

    A model drawing a human or hybrid creator draws a real person's likeness, so each performer
    behind it (relation "self" or "likeness") must be a verified adult with a current, unrevoked
    consent that covers AI likeness at this rating. A pure AI persona with no such performer needs
    nothing here; it still passes the publish gate later like any AI media.
    """
    at = at or timezone.now()
    links = list(CreatorPerformer.objects.filter(
        creator_id=creator.pk, relation__in=[CreatorPerformer.Relation.SELF, CreatorPerformer.Relation.LIKENESS]))
    if not links:
        if creator.kind == "ai_persona":
            return []
        return [f"{creator} depicts a real person: record the performer behind it and their AI-likeness "
                "consent before generating images."]
    reasons = []
    wanted = gate.Rating(rating)
    for standing in performer_facts([link.performer_id for link in links]):
        # Named by record number: job errors and audit entries carry no legal names.
        name = f"Performer #{standing.id}"
        age = gate.age_on(standing.date_of_birth, at.date()) if standing.date_of_birth else None
        lapsed = standing.verified_until is not None and at.date() > standing.verified_until
        if not standing.active or not standing.verified or lapsed or age is None or age < gate.ADULT_AGE:
            reasons.append(f"{name} is not a verified adult on record.")
            continue
        # The gate's own rule for when a consent holds (revoked, superseded, valid strictly before
        # valid_until): one rule everywhere.
        covered = any(
            gate.Use.AI_LIKENESS in c.uses and c.status_at(at) == "valid" and gate.Rating(c.max_rating).allows(wanted)
            for c in standing.consents)
        if not covered:
            reasons.append(f"{name} has no current consent to AI likeness at the {wanted.value} rating.")
    return reasons


# --- Takedowns -----------------------------------------------------------------------------------


def urls_in(text: str) -> list[str]:
    """The http(s) URLs among the lines of a request's "where it is" field, in order, once each."""
    found = [line.strip() for line in (text or "").splitlines() if line.strip().lower().startswith(("http://", "https://"))]
    return list(dict.fromkeys(found))


def _ids(values: Iterable[Any], field: str) -> list[int]:
    out = []
    for value in values or ():
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValidationError({field: f"{value!r} is not an id."}) from None
        if not 0 < number < 2**63:  # ids are 64-bit
            raise ValidationError({field: f"{value!r} is not an id."})
        out.append(number)
    return sorted(set(out))


@transaction.atomic
def open_takedown(
    *,
    kind: str = TakedownRequest.Kind.TAKE_IT_DOWN,
    creator: Any = None,
    performers: Iterable[Performer] = (),
    asset_ids: Iterable[int] = (),
    publication_ids: Iterable[int] = (),
    urls: Iterable[str] = (),
    received_at: datetime | None = None,
    actor: Actor = None,
    **fields: Any,
) -> TakedownRequest:
    """Register a request, what it names and its deadline; signals `takedown_opened` after commit.

    A request names performers only when it is about their whole likeness; otherwise it names the
    assets, publications or URLs it concerns, and only those are blocked (a request about one photo
    must not stop a creator's calendar). Assets and publications must belong to the request's creator
    (checked by the app that owns them, see `compliance.targets`); a URL, given here or on a line of
    `content_locations`, is resolved to the creator's publications at that address. Audits
    `takedown.opened` with everything named.
    """
    received_at = received_at or timezone.now()
    request = TakedownRequest(
        kind=kind, creator=creator, received_at=received_at, due_at=takedown_due(kind, received_at), **fields
    )
    request.full_clean()
    if kind == TakedownRequest.Kind.TAKE_IT_DOWN and not request.non_consent_statement.strip():
        raise ValidationError(
            {
                "non_consent_statement": "A TAKE IT DOWN request needs the requester's statement "
                "that the depiction is not consensual."
            }
        )
    performer_list = list(performers)
    url_list = list(dict.fromkeys([*(u.strip() for u in urls if u and u.strip()), *urls_in(request.content_locations)]))
    for url in url_list:
        if not url.lower().startswith(("http://", "https://")) or len(url) > 500:
            raise ValidationError({"urls": f"{url[:80]!r} is not an http(s) URL of at most 500 characters."})
    creator_id = creator.pk if creator is not None else None
    named = [
        *targets.resolve(TakedownTarget.Kind.ASSET, creator_id, _ids(asset_ids, "asset_ids")),
        *targets.resolve(TakedownTarget.Kind.PUBLICATION, creator_id, _ids(publication_ids, "publication_ids")),
        *targets.resolve(TakedownTarget.Kind.URL, creator_id, url_list),
    ]
    request.save()
    request.performers.set(performer_list)
    rows = {(t.kind, t.object_id, t.url): t for t in named}
    TakedownTarget.objects.bulk_create([
        TakedownTarget(request=request, kind=t.kind, object_id=t.object_id, url=t.url, label=t.label[:200])
        for t in rows.values()])
    audit.record(
        "takedown.opened",
        request,
        actor=actor,
        changes={
            "kind": kind,
            "due_at": request.due_at.isoformat(),
            "performers": [p.pk for p in performer_list],
            "assets": sorted(t.object_id for t in rows.values() if t.kind == TakedownTarget.Kind.ASSET),
            "publications": sorted(t.object_id for t in rows.values() if t.kind == TakedownTarget.Kind.PUBLICATION),
            "urls": url_list,
        },
    )
    _signal_opened(request)
    return request


def _signal_opened(request: TakedownRequest) -> None:
    ids = list(request.performers.values_list("pk", flat=True))
    transaction.on_commit(
        lambda: signals.takedown_opened.send(
            sender=TakedownRequest,
            performer_ids=ids,
            takedown_id=request.pk,
            due_at=request.due_at,
            creator_id=request.creator_id,
        )
    )


@transaction.atomic
def log_takedown_action(
    request: TakedownRequest, *, description: str, actor: Actor = None, status: str | None = None
) -> TakedownAction:
    if not description.strip():
        raise ValidationError({"description": "Describe what was done."})
    if status and status not in TakedownRequest.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    action = TakedownAction.objects.create(
        request=request, description=description.strip(), by=user_of(actor)
    )
    changes: dict[str, Any] = {"action": action.pk}
    if status and status != request.status:
        was_open = request.is_open
        request.status = status
        request.closed_at = None if request.is_open else timezone.now()
        request.save(update_fields=["status", "closed_at"])
        changes["status"] = status
        if was_open and not request.is_open:
            # Scheduling lifts the blocks this request alone caused (rows blocked for another reason stay).
            transaction.on_commit(lambda: signals.takedown_closed.send(
                sender=TakedownRequest, takedown_id=request.pk, status=status, actor=actor))
        elif request.is_open and not was_open:
            _signal_opened(request)
    audit.record("takedown.action", request, actor=actor, changes=changes)
    return action
