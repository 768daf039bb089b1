"""Content state changes: ingest, processing, review, tagging, collections.

Admin, API and tasks call these. Each validates, keeps its transaction whole, writes its audit
event, and never leaves a stored file without its row (or a row without its file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import approvers, audit
from accounts.actors import Actor
from accounts.models import Creator
from accounts.services import user_of
from content import signals, studio, tasks
from content.models import Asset, Collection, CollectionItem, Rendition, Tag, Watermark, asset_upload_to
from content.pipeline.images import Watermark as MediaWatermark
from content.pipeline.probe import Limits, MediaError, MediaInfo, format_duration, validate
from content.pipeline.sandbox import RenderedFile, render_isolated
from content.provenance import XMP_MIME_TYPES, ProvenanceError, SigningNotConfigured, XmpError, mark_ai_image
from content.provenance.detect import C2PA_MANIFEST, detect_ai_markers_in_file

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024

# --- Ingest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    asset: Asset
    created: bool  # False: the same bytes were already in this creator's vault
    reprocessing: bool = False  # the existing asset's processing had failed or stalled and was queued again

    @property
    def message(self) -> str:
        if self.created:
            return f"Uploaded “{self.asset}”."
        name = self.asset.original_name or self.asset
        if self.reprocessing:
            return (f"“{name}” is already in the vault (asset #{self.asset.pk}); its processing had not finished, "
                    "so it is being processed again.")
        return f"“{name}” is already in the vault (asset #{self.asset.pk}); not stored twice."


def _too_large(max_bytes: int) -> ValidationError:
    return ValidationError(f"The file is larger than the {max_bytes // CHUNK:,} MB limit.")


@contextmanager
def _spooled(source: IO[bytes] | Path | str, max_bytes: int) -> Iterator[tuple[Path, str, int]]:
    """The upload as a file on disk, hashed while streaming: (path, sha256, size).

    Django's upload handlers already stream a large upload to a temporary file; that file is hashed
    where it lies, in chunks, rather than copied. Anything else (a small in-memory upload, an S3
    object, a path) is copied in chunks to a private temp file that always goes away. The bytes
    are never held in memory whole: a 200 MB photo costs one chunk.
    """
    temporary = getattr(source, "temporary_file_path", None)
    if callable(temporary):
        path = Path(temporary())
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(max_bytes)
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        yield path, digest.hexdigest(), size
        return
    fd, name = tempfile.mkstemp(prefix="atelier-ingest-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    path = Path(name)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            handle = open(source, "rb") if isinstance(source, (str, Path)) else source  # noqa: SIM115
            try:
                if hasattr(handle, "seek"):
                    handle.seek(0)
                while chunk := handle.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            finally:
                if isinstance(source, (str, Path)):
                    handle.close()
        yield path, digest.hexdigest(), size
    finally:
        path.unlink(missing_ok=True)


def ingest(*, creator: Creator, source: IO[bytes] | Path | str, filename: str = "", actor: Actor = None,
           rating: str = Asset.Rating.SFW, origin: str = Asset.Origin.UPLOAD, title: str = "",
           performers: Iterable[Any] = (), tags: Iterable[str] = (), production_date: Any = None,
           no_real_person_attested: bool = False) -> IngestResult:
    """Validate, hash and store one upload as a draft asset, then queue its processing.

    The type comes from the bytes, never the name. This runs in the web request, so the file is
    judged by its headers only (``pipeline.probe.validate``: declared frames and pixels, the
    container ffmpeg finds); decoding is the worker's, under its limits. A refused file raises
    ValidationError with a message for the person who uploaded it, and leaves nothing in storage
    or database. Uploading bytes already in the vault answers the existing asset, and queues its
    processing again when that had failed or stalled.
    """
    performers = list(performers)
    _check_performers(creator, performers)

    with _spooled(source, settings.CONTENT_MAX_UPLOAD_BYTES) as (path, sha256, size), ExitStack() as cleanup:
        if size == 0:
            raise ValidationError("The file is empty.")
        try:
            info = validate(path, media_limits())
        except MediaError as exc:
            raise ValidationError(str(exc.message), code=exc.code) from exc
        existing = Asset.objects.filter(creator=creator, sha256=sha256).first()
        if existing is not None:
            return _existing(existing, actor)
        ai_marker, manifest_present = _declared_provenance(path, info)
        marked = None
        if origin == Asset.Origin.AI and info.mime in XMP_MIME_TYPES and not (ai_marker and manifest_present):
            marked = _mark_declared_ai(path, info.mime, title=title or Path(filename).name or creator.stage_name)
            cleanup.callback(marked.path.unlink, missing_ok=True)
            path, sha256, size = marked.path, marked.sha256, marked.size
            ai_marker, manifest_present = _declared_provenance(path, info)
        asset = Asset(
            creator=creator, original_name=Path(filename).name[:255], kind=info.kind, mime=info.mime,
            sha256=sha256, size_bytes=size, width=info.width, height=info.height, duration_s=info.duration_s,
            codecs=info.codecs or {}, rating=rating, title=title, production_date=production_date,
            origin=Asset.Origin.AI if (ai_marker and origin == Asset.Origin.UPLOAD) else origin,
            ai_marker=ai_marker, provenance_present=manifest_present,
            no_real_person_attested=no_real_person_attested, uploaded_by=user_of(actor),
            disclosure_label=_ai_label() if marked is not None else "",
        )
        asset.full_clean(exclude=["file"])
        storage = asset.file.storage  # the private storage: originals are never public
        with path.open("rb") as fh:
            stored_name = storage.save(asset_upload_name(asset, info.mime), File(fh))
        try:
            with transaction.atomic():
                asset.file.name = stored_name
                asset.save()
                if performers:
                    asset.performers.set(list(performers))
                _set_tags(asset, tags)
                audit.record("asset.uploaded", asset, actor=actor,
                             changes={"kind": asset.kind, "mime": asset.mime, "size": size, "origin": asset.origin})
                transaction.on_commit(lambda: _queue_processing(asset.pk))
        except IntegrityError:
            storage.delete(stored_name)
            # Two uploads of the same bytes raced: the other one won, and that is our answer.
            return IngestResult(Asset.objects.get(creator=creator, sha256=sha256), created=False)
        except BaseException:
            storage.delete(stored_name)
            raise
    return IngestResult(asset, created=True)


@dataclass(frozen=True)
class _Marked:
    path: Path
    sha256: str
    size: int


def _ai_label() -> str:
    return studio.AI_DISCLOSURE_LABEL


def _mark_declared_ai(path: Path, mime: str, *, title: str) -> _Marked:
    """Mark an image its uploader declares AI-made (Midjourney, a local ComfyUI) as Atelier marks its own
    generations: IPTC DigitalSourceType, then a signed C2PA manifest. The stored bytes are the marked bytes,
    so the original and every rendition say what they are; an image that cannot be marked is not stored.
    """
    try:
        data = mark_ai_image(path.read_bytes(), mime, title=title[:200], credentials=studio.signing_credentials())
    except (ProvenanceError, SigningNotConfigured, XmpError) as exc:
        raise ValidationError(f"This AI-made image could not be marked (C2PA / IPTC): {exc}. It was not stored; "
                              "AI images are never stored unmarked.", code="marking") from exc
    fd, name = tempfile.mkstemp(prefix="atelier-marked-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return _Marked(Path(name), hashlib.sha256(data).hexdigest(), len(data))


def _existing(asset: Asset, actor: Actor) -> IngestResult:
    """The same bytes again: the asset already stored, with its processing queued again if the last
    run failed or outlived its time limit, so a re-upload never hands back a stuck asset."""
    stalled = asset.processing == Asset.Processing.RUNNING and _is_stale(asset.processing_started_at)
    if asset.processing == Asset.Processing.FAILED or stalled:
        requeued = requeue_processing(asset, actor=actor)
        return IngestResult(requeued, created=False, reprocessing=True)
    return IngestResult(asset, created=False)


def _declared_provenance(path: Path, info: MediaInfo) -> tuple[str, bool]:
    """(AI marker, C2PA manifest present) as the file declares them.

    Images are read with the C2PA reader (streaming from the file, never the whole file in memory)
    and their XMP packet as the header walk found it, so a camera's own C2PA manifest is not
    mistaken for an AI one; other media keep the probe's scan of their metadata.
    """
    if info.mime not in XMP_MIME_TYPES:
        return info.ai_marker or "", (info.ai_marker or "").startswith("c2pa")
    try:
        markers = detect_ai_markers_in_file(path, info.mime, xmp=info.xmp)
    except Exception:
        # Detection informs the origin; it must never turn an upload into an error page.
        logger.warning("Provenance could not be read from a %s upload", info.mime, exc_info=True)
        markers = []
    ai = [m for m in markers if m != C2PA_MANIFEST]
    return (ai[0][:100] if ai else ""), any(m.startswith("c2pa:") for m in markers)


def media_limits() -> Limits:
    c = settings.CONTENT_LIMITS
    return Limits(max_pixels=c["max_pixels"], max_image_bytes=c["max_image_bytes"],
                  max_video_bytes=c["max_video_bytes"], max_video_duration_s=c["max_video_seconds"],
                  max_total_pixels=c["max_total_pixels"], max_frames=c["max_frames"],
                  probe_memory_bytes=c["probe_memory_bytes"])


def _check_performers(creator: Creator, performers: list[Any]) -> None:
    """Only performers on record for this creator may be tagged as depicted in its assets."""
    if not performers:
        return
    linked = set(creator.performer_links.values_list("performer_id", flat=True))
    if any(p.pk not in linked for p in performers):
        raise ValidationError("Some of the chosen performers are not on record for this creator.")


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "image/heic": "heic", "image/heif": "heif", "image/avif": "avif", "video/mp4": "mp4",
              "video/quicktime": "mov", "video/webm": "webm", "audio/mpeg": "mp3", "audio/mp4": "m4a",
              "audio/wav": "wav", "audio/ogg": "ogg"}


def asset_upload_name(asset: Asset, mime: str) -> str:
    return asset_upload_to(asset, f"original.{EXTENSIONS.get(mime, 'bin')}")


def _queue_processing(asset_id: int) -> None:
    tasks.process_asset.delay(asset_id)


def _set_tags(asset: Asset, names: Iterable[str]) -> None:
    clean = sorted({n.strip().lower()[:60] for n in names if n and n.strip()})
    tags = [Tag.objects.get_or_create(name=n)[0] for n in clean]
    if tags:
        asset.tags.add(*tags)


def _fan_content_changed(*, asset_ids: Iterable[int] = (), collection_ids: Iterable[int] = (),
                         actor: Actor = None) -> None:
    """Tell the apps above, once the change is committed, that what fans would get changed: an approval
    given before no longer covers it (approval is of a version)."""
    assets, collections = sorted(set(asset_ids)), sorted(set(collection_ids))
    if assets or collections:
        transaction.on_commit(lambda: signals.fan_content_changed.send(
            sender=Asset, asset_ids=assets, collection_ids=collections, actor=actor))


# --- Review workflow -----------------------------------------------------------------------------


def _transition(asset: Asset, to: str, *, actor: Actor, reason: str = "", action: str) -> Asset:
    with transaction.atomic():
        locked = Asset.objects.select_for_update().get(pk=asset.pk)
        if locked.status == to:
            return locked
        if not locked.can_move_to(to):
            raise ValidationError(f"An asset that is {locked.get_status_display().lower()} cannot become "
                                  f"{Asset.Status(to).label.lower()}.")
        previous = locked.status
        locked.status = to
        fields = ["status"]
        if to == Asset.Status.IN_REVIEW:
            locked.submitted_at = timezone.now()
            fields.append("submitted_at")
        if to in (Asset.Status.APPROVED, Asset.Status.REJECTED):
            locked.reviewed_by, locked.reviewed_at, locked.review_reason = user_of(actor), timezone.now(), reason
            fields += ["reviewed_by", "reviewed_at", "review_reason"]
        locked.save(update_fields=fields)
        audit.record(action, locked, actor=actor, changes={"from": previous, "to": to, "reason": reason})
        _fan_content_changed(asset_ids=[locked.pk], actor=actor)
    asset.status = locked.status
    return locked


def submit_for_review(asset: Asset, *, actor: Actor = None) -> Asset:
    return _transition(asset, Asset.Status.IN_REVIEW, actor=actor, action="asset.submitted")


def approve(asset: Asset, *, actor: Actor) -> Asset:
    """Four eyes: the uploader may not approve their own upload unless the creator allows it."""
    user = user_of(actor)
    if user is None:
        raise ValidationError("A person must approve an asset.")
    if asset.creator.four_eyes_review and asset.uploaded_by_id == user.pk:
        raise ValidationError(approvers.four_eyes_refusal("You uploaded this asset", asset.creator_id, Asset,
                                                          author_id=user.pk), code="four_eyes")
    return _transition(asset, Asset.Status.APPROVED, actor=actor, action="asset.approved")


def reject(asset: Asset, *, actor: Actor, reason: str) -> Asset:
    if not reason.strip():
        raise ValidationError("Say why the asset is rejected, so the editor can fix it.")
    return _transition(asset, Asset.Status.REJECTED, actor=actor, reason=reason.strip(), action="asset.rejected")


def archive(asset: Asset, *, actor: Actor = None) -> Asset:
    return _transition(asset, Asset.Status.ARCHIVED, actor=actor, action="asset.archived")


def reopen(asset: Asset, *, actor: Actor = None) -> Asset:
    return _transition(asset, Asset.Status.DRAFT, actor=actor, action="asset.reopened")


def tag(assets: Iterable[Asset], names: Iterable[str], *, actor: Actor = None) -> int:
    names = list(names)
    count = 0
    with transaction.atomic():
        for asset in assets:
            _set_tags(asset, names)
            audit.record("asset.tagged", asset, actor=actor, changes={"tags": sorted(names)})
            count += 1
    return count


# --- Processing ----------------------------------------------------------------------------------


def process_asset(asset_id: int) -> Asset | None:
    """Verify and render every preset for one asset. Idempotent: existing renditions are replaced
    whole, one preset at a time.

    Decoding and rendering run in a child process under ``CONTENT_RENDER_MEMORY_BYTES`` and
    ``CONTENT_PROCESSING_SECONDS`` (``pipeline.sandbox``). Every way this can end — a refusal, an
    exhausted limit, a crash in a decoder, a storage error — leaves the asset ``ready`` or
    ``failed`` with its reason for staff; never ``running``.
    """
    asset = Asset.objects.filter(pk=asset_id).select_related("creator").first()
    if asset is None:
        return None
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.RUNNING, processing_error="",
                                             processing_started_at=timezone.now())
    try:
        notes = _process(asset)
    except MediaError as exc:
        return _fail_processing(asset, exc.message)
    except Exception as exc:
        logger.exception("Processing asset %s failed", asset.pk)
        return _fail_processing(asset, f"Processing failed unexpectedly ({type(exc).__name__}: {exc})"[:1000])
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.READY, processing_error=" ".join(notes))
    asset.refresh_from_db()
    return asset


def _fail_processing(asset: Asset, message: str) -> Asset:
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.FAILED, processing_error=message)
    asset.refresh_from_db()
    return asset


def _process(asset: Asset) -> list[str]:
    storage = asset.file.storage  # the private storage: originals are never public
    with tempfile.TemporaryDirectory(prefix="atelier-render-") as tmp:
        local = Path(tmp) / f"source.{EXTENSIONS.get(asset.mime, 'bin')}"
        with storage.open(asset.file.name, "rb") as src, local.open("wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        result = render_isolated(asset.kind, local, Path(tmp) / "out", limits=media_limits(),
                                 memory_bytes=settings.CONTENT_RENDER_MEMORY_BYTES,
                                 timeout_s=settings.CONTENT_PROCESSING_SECONDS,
                                 watermark=_watermark_for(asset.creator))
        files = result.files
        if asset.origin in (Asset.Origin.AI, Asset.Origin.EDIT):
            try:
                files = _mark_renditions(asset, local, files)
            except Exception as exc:
                raise MediaError("marking", f"AI renditions could not be marked (C2PA/XMP): {exc}") from exc
        for rendered in files:
            _store_rendition(asset, rendered)
    return result.notes


def _is_stale(started_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a run that started then has outlived the processing time limit (with a margin for
    the copy to and from storage). A run with no start time predates the field: stale too."""
    if started_at is None:
        return True
    return started_at < (now or timezone.now()) - processing_deadline()


def processing_deadline() -> timedelta:
    return timedelta(seconds=settings.CONTENT_PROCESSING_SECONDS + 300)


def requeue_processing(asset: Asset, *, actor: Actor = None) -> Asset:
    """Queue processing again for an asset whose last run failed or stalled; audited."""
    with transaction.atomic():
        locked = Asset.objects.select_for_update().get(pk=asset.pk)
        previous, error = locked.processing, locked.processing_error
        locked.processing, locked.processing_error, locked.processing_started_at = (
            Asset.Processing.PENDING, "", None)
        locked.save(update_fields=["processing", "processing_error", "processing_started_at"])
        audit.record("asset.processing_requeued", locked, actor=actor,
                     changes={"from": previous, "error": error[:500]})
        transaction.on_commit(lambda: _queue_processing(locked.pk))
    return locked


def reap_stalled_processing(now: datetime | None = None) -> int:
    """Fail every asset whose processing has been running longer than the time limit allows.

    A worker killed mid-task (out of memory, deployed over, the machine lost) never comes back
    to say so; without this its asset would show "processing" forever. Each one is failed with
    a reason staff can act on, and audited. Returns how many.
    """
    now = now or timezone.now()
    cutoff = now - processing_deadline()
    limit = format_duration(settings.CONTENT_PROCESSING_SECONDS)
    message = (f"Processing did not finish within {limit}, the limit; the worker may have stopped. "
               "Upload the file again to process it again.")
    reaped = 0
    stalled = Asset.objects.filter(processing=Asset.Processing.RUNNING).filter(
        Q(processing_started_at__lt=cutoff) | Q(processing_started_at__isnull=True))
    for pk in stalled.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            # Conditional: a run that finished meanwhile is left alone.
            changed = Asset.objects.filter(pk=pk, processing=Asset.Processing.RUNNING).filter(
                Q(processing_started_at__lt=cutoff) | Q(processing_started_at__isnull=True)).update(
                processing=Asset.Processing.FAILED, processing_error=message)
            if changed:
                audit.record("asset.processing_reaped", Asset.objects.get(pk=pk), actor=None,
                             changes={"limit_seconds": settings.CONTENT_PROCESSING_SECONDS})
                reaped += 1
    return reaped


def _mark_renditions(asset: Asset, original: Path, files: list[RenderedFile]) -> list[RenderedFile]:
    """Every image rendition of an AI asset carries its own IPTC marker and signed C2PA manifest.

    Resizing strips the original's metadata and would break its manifest anyway, so each rendition is
    marked afresh; an AI edit names the original as its parent ingredient.
    """
    credentials = studio.signing_credentials()
    edit = asset.origin == Asset.Origin.EDIT
    for rendered in files:
        if rendered.mime in XMP_MIME_TYPES:
            path = Path(rendered.path)
            path.write_bytes(mark_ai_image(path.read_bytes(), rendered.mime, title=f"{asset} · {rendered.preset}",
                                           edit=edit, parent=original if edit else None, credentials=credentials))
    return files


def _watermark_for(creator: Creator) -> MediaWatermark | None:
    wm = getattr(creator, "watermark", None)
    if wm is None or not wm.enabled:
        return None
    logo = None
    if wm.logo:
        with wm.logo.open("rb") as fh:
            logo = fh.read()
    return MediaWatermark(text=None if logo else (wm.text or None), logo=logo, position=wm.position,
                          opacity=wm.opacity, relative_size=wm.scale)


def _store_rendition(asset: Asset, rendered: RenderedFile) -> Rendition:
    """Store one rendered file, streaming from disk, and point the asset's rendition row at it."""
    storage = storages["default"]
    ext = EXTENSIONS.get(rendered.mime, "bin")
    path = Path(rendered.path)
    size = path.stat().st_size
    width, height = rendered.width or None, rendered.height or None
    with path.open("rb") as fh:
        name = storage.save(f"renditions/{asset.creator_id}/{asset.sha256[:2]}/{asset.sha256}-{rendered.preset}.{ext}",
                            File(fh))
    old_name = None
    try:
        with transaction.atomic():
            existing = Rendition.objects.select_for_update().filter(asset=asset, preset=rendered.preset).first()
            if existing:
                old_name = existing.file.name
                existing.file.name, existing.mime, existing.size_bytes = name, rendered.mime, size
                existing.width, existing.height = width, height
                existing.save()
                rendition = existing
            else:
                rendition = Rendition.objects.create(asset=asset, preset=rendered.preset, file=name,
                                                     mime=rendered.mime, size_bytes=size, width=width, height=height)
    except BaseException:
        storage.delete(name)
        raise
    if old_name and old_name != name:
        storage.delete(old_name)
    return rendition


# --- Asset details -------------------------------------------------------------------------------

ASSET_EDITABLE = ("title", "notes", "rating", "production_date", "no_real_person_attested", "disclosure_label")


@transaction.atomic
def update_asset(asset: Asset, *, actor: Actor = None, performers: Iterable[Any] | None = None,
                 tags: Iterable[Any] | None = None, **fields: Any) -> Asset:
    """Edit what staff describe about an asset: title, notes, rating, performers depicted, tags,
    production date, synthetic-media attestation. Only performers on record for the asset's creator may
    be named as depicted. Status moves through the review services, never here. Audits `asset.updated`
    with the fields changed."""
    unknown = set(fields) - set(ASSET_EDITABLE)
    if unknown:
        raise ValidationError(f"Not editable here: {', '.join(sorted(unknown))}.")
    locked = Asset.objects.select_for_update(of=("self",)).select_related("creator").get(pk=asset.pk)
    changed = sorted(name for name, value in fields.items() if getattr(locked, name) != value)
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["file"])
    locked.save(update_fields=[*fields] or None)
    if performers is not None:
        performers = list(performers)
        _check_performers(locked.creator, performers)
        if {p.pk for p in performers} != set(locked.performers.values_list("pk", flat=True)):
            locked.performers.set(performers)
            changed.append("performers")
    if tags is not None:
        tags = list(tags)
        if {t.pk for t in tags} != set(locked.tags.values_list("pk", flat=True)):
            locked.tags.set(tags)
            changed.append("tags")
    audit.record("asset.updated", locked, actor=actor, changes={"fields": sorted(changed)})
    if changed:
        _fan_content_changed(asset_ids=[locked.pk], actor=actor)
    for name in fields:
        setattr(asset, name, getattr(locked, name))
    return locked


# --- Watermarks ----------------------------------------------------------------------------------


@transaction.atomic
def save_watermark(watermark: Watermark, *, actor: Actor = None, changed: Iterable[str] | None = None) -> Watermark:
    """A creator's watermark, applied to renditions made from now on. Audits `watermark.*`."""
    adding = watermark._state.adding
    watermark.full_clean()
    watermark.save()
    audit.record("watermark.created" if adding else "watermark.updated", watermark, actor=actor,
                 changes={"fields": sorted(changed or []), "enabled": watermark.enabled})
    return watermark


@transaction.atomic
def delete_watermark(watermark: Watermark, *, actor: Actor = None) -> None:
    audit.record("watermark.deleted", watermark, actor=actor)
    watermark.delete()


# --- Collections ---------------------------------------------------------------------------------


@transaction.atomic
def save_collection(collection: Collection, *, assets: list[Asset] | None = None, actor: Actor = None) -> Collection:
    """Validate and save a collection; with `assets`, they become its contents in that order (others leave)."""
    adding = collection._state.adding
    collection.full_clean()
    with transaction.atomic():
        collection.save()
        audit.record("collection.created" if adding else "collection.updated", collection, actor=actor,
                     changes={"kind": collection.kind, "price_minor": collection.price_minor,
                              "currency": collection.currency})
        if assets is not None:
            collection.items.exclude(asset__in=assets).delete()
            add_to_collection(collection, assets, actor=actor)
            # The order given is the order kept.
            for position, asset in enumerate(assets, start=1):
                CollectionItem.objects.filter(collection=collection, asset=asset).update(position=position)
        if not adding:
            _fan_content_changed(collection_ids=[collection.pk], actor=actor)
    return collection


def delete_collection(collection: Collection, *, actor: Actor = None) -> None:
    """The assets stay in the vault and its items go with it; a collection a post still sells is protected
    (PROTECT refuses the delete: the API answers 409, the admin shows the refusal)."""
    with transaction.atomic():
        audit.record("collection.deleted", collection, actor=actor, changes={"title_length": len(collection.title)})
        collection.delete()


@transaction.atomic
def add_to_collection(collection: Collection, assets: Iterable[Asset], *, actor: Actor = None) -> int:
    """Append assets in order; assets of another creator are refused, duplicates skipped."""
    assets = list(assets)
    foreign = [a.pk for a in assets if a.creator_id != collection.creator_id]
    if foreign:
        raise ValidationError("A collection holds only its own creator's assets.")
    start = (collection.items.aggregate(m=Max("position"))["m"] or 0) + 1
    added = 0
    for offset, asset in enumerate(assets):
        _, created = CollectionItem.objects.get_or_create(collection=collection, asset=asset,
                                                          defaults={"position": start + offset})
        added += created
    audit.record("collection.assets_added", collection, actor=actor, changes={"assets": [a.pk for a in assets]})
    if added:
        _fan_content_changed(collection_ids=[collection.pk], actor=actor)
    return added


@transaction.atomic
def change_collection_items(collection: Collection, *, positions: Iterable[tuple[CollectionItem, int]] = (),
                            removed: Iterable[CollectionItem] = (), actor: Actor = None) -> None:
    """Reorder or take out items (adding goes through `add_to_collection`). Audits
    `collection.items_changed` with counts."""
    positions, removed = list(positions), list(removed)
    if any(item.collection_id != collection.pk for item, _ in positions) or \
            any(item.collection_id != collection.pk for item in removed):
        raise ValidationError("These items belong to another collection.")
    for item in removed:
        item.delete()
    for item, position in positions:
        CollectionItem.objects.filter(pk=item.pk).update(position=position)
    if positions or removed:
        audit.record("collection.items_changed", collection, actor=actor,
                     changes={"removed": len(removed), "moved": len(positions)})
        _fan_content_changed(collection_ids=[collection.pk], actor=actor)


# --- Large files: presigned upload to S3, then confirm ---------------------------------------------

STAGING_PREFIX = "uploads"


def _s3_storage() -> Any:
    # Staged uploads are originals too: they wait in the private bucket, never the media one.
    storage = storages["private"]
    if not hasattr(storage, "bucket_name"):
        raise ValidationError("Direct uploads need S3 storage (set AWS_STORAGE_BUCKET_NAME); "
                              "upload through the regular endpoint instead.")
    return storage


def presign_upload(*, creator: Creator, filename: str, size: int, actor: Actor = None,
                   expires_in: int = 3600) -> dict[str, Any]:
    """A presigned POST for one large file, limited to its declared size and this creator's staging area."""
    if size <= 0 or size > settings.CONTENT_MAX_UPLOAD_BYTES:
        raise ValidationError(f"Size must be between 1 byte and {settings.CONTENT_MAX_UPLOAD_BYTES // CHUNK} MB.")
    storage = _s3_storage()
    key = f"{STAGING_PREFIX}/{creator.pk}/{uuid.uuid4().hex}"
    full_key = f"{storage.location}/{key}".lstrip("/") if storage.location else key
    client = storage.connection.meta.client
    post = client.generate_presigned_post(
        Bucket=storage.bucket_name, Key=full_key, Conditions=[["content-length-range", 1, size]],
        ExpiresIn=expires_in)
    audit.record("asset.upload_presigned", creator, actor=actor, changes={"key": key, "size": size})
    return {"url": post["url"], "fields": post["fields"], "key": key, "expires_in": expires_in,
            "filename": Path(filename).name}


def confirm_upload(*, creator: Creator, key: str, filename: str = "", actor: Actor = None,
                   **meta: Any) -> IngestResult:
    """Ingest a file uploaded with `presign_upload`, then drop the staging copy whatever the outcome."""
    if not key.startswith(f"{STAGING_PREFIX}/{creator.pk}/") or ".." in key:
        raise ValidationError("Unknown upload.")
    storage = _s3_storage()
    if not storage.exists(key):
        raise ValidationError("Nothing was uploaded under that key (or it expired).")
    try:
        with storage.open(key, "rb") as fh:
            return ingest(creator=creator, source=fh, filename=filename, actor=actor, **meta)
    finally:
        storage.delete(key)
