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
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit, tenancy
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
)

T = TypeVar("T")
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
DOCUMENT_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
    b"RIFF": "image/webp",
}




def private_storage():  # noqa: ANN201
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
    doc: EncryptedFile, *, actor: Any, purpose: str, creator_id: int | None = None, subject: Any = None
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


@transaction.atomic
def create_performer(
    *,
    legal_name: str,
    date_of_birth: date | None,
    creators: Iterable[Any] = (),
    relation: str = CreatorPerformer.Relation.SELF,
    other_names: Iterable[tuple[str, str]] = (),
    actor: Any = None,
    **fields: Any,
) -> Performer:
    """Create a performer with every name they use; audits `performer.created` per creator."""
    performer = Performer(legal_name=legal_name, date_of_birth=date_of_birth, **fields)
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


@transaction.atomic
def update_performer(performer: Performer, *, changed: list[str], actor: Any = None,
                     creator_id: int | None = None) -> Performer:
    """Save an edit of a performer. Audits `performer.updated`.

    A changed legal name stays findable as a former legal name: 2257-style records must be
    retrievable by every name the performer used.
    """
    previous = Performer.objects.only("legal_name").get(pk=performer.pk)
    performer.full_clean()
    performer.save()
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
                           actor: Any = None, creator_id: int | None = None) -> None:
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


def _ensure_link_reach(actor: Any, creator_id: int, action: str) -> None:
    if actor is not None and not tenancy.can_reach_creator(actor, creator_id, CreatorPerformer, action):
        raise PermissionDenied("You may not link performers to that creator.")


@transaction.atomic
def save_creator_link(link: CreatorPerformer, *, actor: Any = None,
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
def unlink_performer(link: CreatorPerformer, *, actor: Any = None) -> None:
    """The creator's team no longer sees the performer. Audits `performer.unlinked` under that creator."""
    _ensure_link_reach(actor, link.creator_id, "delete")
    audit.record("performer.unlinked", link.performer, actor=actor, creator_id=link.creator_id,
                 changes={"creator": link.creator_id, "relation": link.relation})
    link.delete()


def performer_creator_id(performer: Performer) -> int | None:
    link = performer.creator_links.order_by("pk").first()
    return link.creator_id if link else None


@_stores_documents
def record_verification(
    *,
    performer: Performer,
    document_kind: str,
    result: str,
    actor: Any,
    document_number: str = "",
    front: bytes | None = None,
    back: bytes | None = None,
    selfie: bytes | None = None,
    **fields: Any,
) -> IdentityVerification:
    """Store an identity check with its documents encrypted. Audits `verification.recorded`."""
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
    audit.record(
        "verification.recorded",
        verification,
        actor=actor,
        creator_id=performer_creator_id(performer),
        changes={
            "performer": performer.pk,
            "result": result,
            "document_kind": document_kind,
            "method": verification.method,
        },
    )
    return verification


def read_document_number(verification: IdentityVerification, *, actor: Any) -> str:
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
    return standing.verified and age is not None and age >= gate.ADULT_AGE


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


@_stores_documents
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
    actor: Any = None,
    supersedes: ConsentRecord | None = None,
) -> ConsentRecord:
    """Record a new consent; an older one is never edited. Audits `consent.recorded`."""
    _validate_scope(platforms, max_rating, uses)
    valid_from = valid_from or signed_at
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationError({"valid_until": "A consent must end after it starts."})
    if supersedes is not None and supersedes.performer_id != performer.pk:
        raise ValidationError({"supersedes": "That consent belongs to another performer."})
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
        },
    )
    return consent


def revoke_consent(consent: ConsentRecord, *, reason: str, actor: Any = None) -> ConsentRecord:
    """Revoke with effect from now. Idempotent: a second call changes nothing and signals nothing.

    The row lock makes two simultaneous revocations send the signal exactly once.
    """
    if not reason.strip():
        raise ValidationError({"reason": "Say why the consent is revoked."})
    with transaction.atomic():
        locked = ConsentRecord.objects.select_for_update().get(pk=consent.pk)
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
            transaction.on_commit(
                lambda ids=ids, cid=cid: signals.consent_expired.send(
                    sender=ConsentRecord, performer_ids=ids, consent_ids=cid
                )
            )
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
    verified = set(
        IdentityVerification.objects.filter(
            performer_id__in=ids, result=IdentityVerification.Result.APPROVED
        ).values_list("performer_id", flat=True)
    )
    consents: dict[int, list[gate.ConsentFacts]] = {pk: [] for pk in ids}
    for c in ConsentRecord.objects.filter(performer_id__in=ids):
        consents[c.performer_id].append(
            gate.ConsentFacts(
                id=c.pk,
                platforms=frozenset(c.platforms),
                max_rating=c.max_rating,
                uses=frozenset(c.uses),
                valid_from=c.valid_from,
                valid_until=c.valid_until,
                revoked_at=c.revoked_at,
            )
        )
    return tuple(
        gate.PerformerFacts(
            id=p.pk,
            date_of_birth=p.date_of_birth,
            verified=p.pk in verified,
            consents=tuple(consents[p.pk]),
            active=p.status == Performer.Status.ACTIVE,
        )
        for p in Performer.objects.filter(pk__in=ids).order_by("pk")
    )


@transaction.atomic
def add_blocked_term(term: str, *, note: str = "", actor: Any = None) -> BlockedTerm:
    """Extend the hard-block list agency-wide (the built-in lists are never reduced). Audits
    `blocked_term.added` with the term: it is the agency's policy, not anyone's personal data."""
    blocked = BlockedTerm(term=term, note=note, added_by=user_of(actor))
    blocked.full_clean()
    blocked.save()
    audit.record("blocked_term.added", blocked, actor=actor, changes={"term": blocked.term})
    return blocked


@transaction.atomic
def remove_blocked_term(blocked: BlockedTerm, *, actor: Any = None) -> None:
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
    return gate.evaluate(_facts(data, performer_facts(data.performer_ids), blocked_terms(),
                                takedown_facts([data])))


def check_publications(inputs: Sequence[GateInput]) -> list[gate.Verdict]:
    """The gate for many publications at once (the dispatcher's batches): the performers' standing
    and the agency's blocked terms are read once for the whole batch, the verdicts are the same."""
    every = set().union(*(d.performer_ids for d in inputs)) if inputs else set()
    by_id = {p.id: p for p in performer_facts(every)}
    extra = blocked_terms()
    takedowns = takedown_facts(inputs)
    return [gate.evaluate(_facts(d, tuple(by_id[i] for i in sorted(d.performer_ids) if i in by_id), extra,
                                 takedowns))
            for d in inputs]


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
           extra_terms: tuple[str, ...], takedowns: tuple[gate.TakedownFacts, ...] = ()) -> gate.PublicationFacts:
    return gate.PublicationFacts(
        creator_id=data.creator_id,
        platform=data.platform,
        rating=data.rating,
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
        uses=frozenset(data.uses),
        extra_blocked_terms=extra_terms,
        approved_version=data.approved_version,
        current_version=data.current_version,
        asset_ids=frozenset(data.asset_ids),
        publication_ids=frozenset(data.publication_ids),
        open_takedowns=takedowns,
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
        if not standing.active or not standing.verified or age is None or age < gate.ADULT_AGE:
            reasons.append(f"{name} is not a verified adult on record.")
            continue
        covered = any(
            gate.Use.AI_LIKENESS in c.uses and c.revoked_at is None and c.valid_from <= at
            and (c.valid_until is None or c.valid_until > at) and gate.Rating(c.max_rating).allows(wanted)
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
    actor: Any = None,
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
    request: TakedownRequest, *, description: str, actor: Any = None, status: str | None = None
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
