"""Content state changes: ingest, processing, review, tagging, collections.

Admin, API and tasks call these. Each validates, keeps its transaction whole, writes its audit
event, and never leaves a stored file without its row (or a row without its file).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts import audit
from accounts.models import Creator
from accounts.services import user_of
from content.models import Asset, Collection, CollectionItem, Rendition, Tag, Watermark, asset_upload_to

CHUNK = 1024 * 1024




# --- Ingest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    asset: Asset
    created: bool  # False: the same bytes were already in this creator's vault

    @property
    def message(self) -> str:
        if self.created:
            return f"Uploaded “{self.asset}”."
        name = self.asset.original_name or self.asset
        return f"“{name}” is already in the vault (asset #{self.asset.pk}); not stored twice."


@contextmanager
def _spooled(source: IO[bytes] | Path | str, max_bytes: int) -> Iterator[tuple[Path, str, int]]:
    """Copy the upload to a private temp file while hashing it; the temp file always goes away."""
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
                        raise ValidationError(f"The file is larger than the {max_bytes // CHUNK} MB limit.")
                    digest.update(chunk)
                    out.write(chunk)
            finally:
                if isinstance(source, (str, Path)):
                    handle.close()
        yield path, digest.hexdigest(), size
    finally:
        path.unlink(missing_ok=True)


def ingest(*, creator: Creator, source: IO[bytes] | Path | str, filename: str = "", actor: Any = None,
           rating: str = Asset.Rating.SFW, origin: str = Asset.Origin.UPLOAD, title: str = "",
           performers: Iterable[Any] = (), tags: Iterable[str] = (), production_date: Any = None,
           no_real_person_attested: bool = False) -> IngestResult:
    """Validate, hash and store one upload as a draft asset, then queue its processing.

    The type comes from the bytes, never the name. A refused file raises ValidationError with a
    message for the person who uploaded it, and leaves nothing in storage or database.
    """
    from content.pipeline.probe import MediaError, validate

    performers = list(performers)
    _check_performers(creator, performers)

    with _spooled(source, settings.CONTENT_MAX_UPLOAD_BYTES) as (path, sha256, size):
        if size == 0:
            raise ValidationError("The file is empty.")
        existing = Asset.objects.filter(creator=creator, sha256=sha256).first()
        if existing is not None:
            return IngestResult(existing, created=False)
        try:
            info = validate(path, media_limits())
        except MediaError as exc:
            raise ValidationError(str(exc.message)) from exc
        ai_marker, manifest_present = _declared_provenance(path, info)
        asset = Asset(
            creator=creator, original_name=Path(filename).name[:255], kind=info.kind, mime=info.mime,
            sha256=sha256, size_bytes=size, width=info.width, height=info.height, duration_s=info.duration_s,
            codecs=info.codecs or {}, rating=rating, title=title, production_date=production_date,
            origin=Asset.Origin.AI if (ai_marker and origin == Asset.Origin.UPLOAD) else origin,
            ai_marker=ai_marker, provenance_present=manifest_present,
            no_real_person_attested=no_real_person_attested, uploaded_by=user_of(actor),
        )
        asset.full_clean(exclude=["file"])
        storage = storages["default"]
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


def _declared_provenance(path: Path, info: Any) -> tuple[str, bool]:
    """(AI marker, C2PA manifest present) as the file declares them.

    Images are read with the C2PA reader and the XMP parser, so a camera's own C2PA manifest is not
    mistaken for an AI one; other media keep the probe's scan of their metadata.
    """
    from content.provenance import XMP_MIME_TYPES
    from content.provenance.detect import C2PA_MANIFEST, detect_ai_markers

    if info.mime not in XMP_MIME_TYPES:
        return info.ai_marker or "", (info.ai_marker or "").startswith("c2pa")
    markers = detect_ai_markers(path.read_bytes(), info.mime)
    ai = [m for m in markers if m != C2PA_MANIFEST]
    return (ai[0][:100] if ai else ""), any(m.startswith("c2pa:") for m in markers)


def media_limits() -> Any:
    from content.pipeline.probe import Limits

    c = settings.CONTENT_LIMITS
    return Limits(max_pixels=c["max_pixels"], max_image_bytes=c["max_image_bytes"],
                  max_video_bytes=c["max_video_bytes"], max_video_duration_s=c["max_video_seconds"])


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
    from content.tasks import process_asset

    process_asset.delay(asset_id)


def _set_tags(asset: Asset, names: Iterable[str]) -> None:
    clean = sorted({n.strip().lower()[:60] for n in names if n and n.strip()})
    tags = [Tag.objects.get_or_create(name=n)[0] for n in clean]
    if tags:
        asset.tags.add(*tags)


# --- Review workflow -----------------------------------------------------------------------------


def _transition(asset: Asset, to: str, *, actor: Any, reason: str = "", action: str) -> Asset:
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
    asset.status = locked.status
    return locked


def submit_for_review(asset: Asset, *, actor: Any = None) -> Asset:
    return _transition(asset, Asset.Status.IN_REVIEW, actor=actor, action="asset.submitted")


def approve(asset: Asset, *, actor: Any) -> Asset:
    """Four eyes: the uploader may not approve their own upload unless the creator allows it."""
    user = user_of(actor)
    if user is None:
        raise ValidationError("A person must approve an asset.")
    if asset.creator.four_eyes_review and asset.uploaded_by_id == user.pk:
        raise ValidationError("Someone other than the uploader must approve this asset (four-eyes review).")
    return _transition(asset, Asset.Status.APPROVED, actor=actor, action="asset.approved")


def reject(asset: Asset, *, actor: Any, reason: str) -> Asset:
    if not reason.strip():
        raise ValidationError("Say why the asset is rejected, so the editor can fix it.")
    return _transition(asset, Asset.Status.REJECTED, actor=actor, reason=reason.strip(), action="asset.rejected")


def archive(asset: Asset, *, actor: Any = None) -> Asset:
    return _transition(asset, Asset.Status.ARCHIVED, actor=actor, action="asset.archived")


def reopen(asset: Asset, *, actor: Any = None) -> Asset:
    return _transition(asset, Asset.Status.DRAFT, actor=actor, action="asset.reopened")


def tag(assets: Iterable[Asset], names: Iterable[str], *, actor: Any = None) -> int:
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
    """Probe and render every preset for one asset. Idempotent: existing renditions are replaced
    whole, one preset at a time, and a failure is recorded on the asset for staff to see."""
    from content.pipeline.probe import MediaError

    asset = Asset.objects.filter(pk=asset_id).select_related("creator").first()
    if asset is None:
        return None
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.RUNNING, processing_error="")
    storage = storages["default"]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="atelier-render-") as tmp:
        local = Path(tmp) / f"source.{EXTENSIONS.get(asset.mime, 'bin')}"
        with storage.open(asset.file.name, "rb") as src, local.open("wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        try:
            outputs = _render(asset, local, Path(tmp), notes)
        except MediaError as exc:
            Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.FAILED,
                                                     processing_error=str(exc.message))
            return asset
        if asset.origin in (Asset.Origin.AI, Asset.Origin.EDIT):
            try:
                outputs = _mark_renditions(asset, local, outputs)
            except Exception as exc:
                Asset.objects.filter(pk=asset.pk).update(
                    processing=Asset.Processing.FAILED,
                    processing_error=f"AI renditions could not be marked (C2PA/XMP): {exc}")
                return asset
        for preset, (data, mime, width, height) in outputs.items():
            _store_rendition(asset, preset, data, mime, width, height)
    Asset.objects.filter(pk=asset.pk).update(processing=Asset.Processing.READY, processing_error=" ".join(notes))
    asset.refresh_from_db()
    return asset


def _render(asset: Asset, local: Path, tmp: Path, notes: list[str]) -> dict[str, tuple[bytes, str, int, int]]:
    """Every preset of the asset's kind. A video too long or too big for one platform skips that
    platform's rendition (noted for staff) rather than failing the others."""
    from content.pipeline import images, presets, video
    from content.pipeline.probe import MediaError

    watermark = _watermark_for(asset.creator)
    outputs: dict[str, tuple[bytes, str, int, int]] = {}
    if asset.kind == Asset.Kind.IMAGE:
        for name, r in images.render_all(local, presets.image_presets(), watermark=watermark).items():
            outputs[name] = (r.data, r.mime, r.width, r.height)
    elif asset.kind == Asset.Kind.VIDEO:
        poster = tmp / "poster.jpg"
        poster.write_bytes(video.poster_frame(local))
        outputs["poster"] = (poster.read_bytes(), "image/jpeg", 0, 0)
        thumb = images.render_image(poster, presets.IMAGE_PRESETS["thumb"])
        outputs["thumb"] = (thumb.data, thumb.mime, thumb.width, thumb.height)
        for preset in presets.VIDEO_PRESETS.values():
            out = tmp / f"{preset.name}.mp4"
            try:
                info = video.transcode_mp4(local, preset, out)
            except MediaError as exc:
                notes.append(f"{preset.name}: {exc.message}")
                continue
            outputs[preset.name] = (out.read_bytes(), "video/mp4", info.width or 0, info.height or 0)
            out.unlink(missing_ok=True)
    return outputs


def _mark_renditions(asset: Asset, original: Path,
                     outputs: dict[str, tuple[bytes, str, int, int]]) -> dict[str, tuple[bytes, str, int, int]]:
    """Every image rendition of an AI asset carries its own IPTC marker and signed C2PA manifest.

    Resizing strips the original's metadata and would break its manifest anyway, so each rendition is
    marked afresh; an AI edit names the original as its parent ingredient.
    """
    from content.provenance import XMP_MIME_TYPES, mark_ai_image
    from content.studio import signing_credentials

    credentials = signing_credentials()
    edit = asset.origin == Asset.Origin.EDIT
    marked = {}
    for preset, (data, mime, width, height) in outputs.items():
        if mime in XMP_MIME_TYPES:
            data = mark_ai_image(data, mime, title=f"{asset} · {preset}", edit=edit,
                                 parent=original if edit else None, credentials=credentials)
        marked[preset] = (data, mime, width, height)
    return marked


def _watermark_for(creator: Creator) -> Any:
    from content.pipeline.images import Watermark as MediaWatermark

    wm = getattr(creator, "watermark", None)
    if wm is None or not wm.enabled:
        return None
    logo = None
    if wm.logo:
        with wm.logo.open("rb") as fh:
            logo = fh.read()
    return MediaWatermark(text=None if logo else (wm.text or None), logo=logo, position=wm.position,
                          opacity=wm.opacity, relative_size=wm.scale)


def _store_rendition(asset: Asset, preset: str, data: bytes, mime: str, width: int | None,
                     height: int | None) -> Rendition:
    storage = storages["default"]
    ext = EXTENSIONS.get(mime, "bin")
    name = storage.save(f"renditions/{asset.creator_id}/{asset.sha256[:2]}/{asset.sha256}-{preset}.{ext}",
                        ContentFile(data))
    old_name = None
    try:
        with transaction.atomic():
            existing = Rendition.objects.select_for_update().filter(asset=asset, preset=preset).first()
            if existing:
                old_name = existing.file.name
                existing.file.name, existing.mime, existing.size_bytes = name, mime, len(data)
                existing.width, existing.height = width, height
                existing.save()
                rendition = existing
            else:
                rendition = Rendition.objects.create(asset=asset, preset=preset, file=name, mime=mime,
                                                     size_bytes=len(data), width=width, height=height)
    except BaseException:
        storage.delete(name)
        raise
    if old_name and old_name != name:
        storage.delete(old_name)
    return rendition


# --- Asset details -------------------------------------------------------------------------------

ASSET_EDITABLE = ("title", "notes", "rating", "production_date", "no_real_person_attested", "disclosure_label")


@transaction.atomic
def update_asset(asset: Asset, *, actor: Any = None, performers: Iterable[Any] | None = None,
                 tags: Iterable[Any] | None = None, **fields: Any) -> Asset:
    """Edit what staff describe about an asset: title, notes, rating, performers depicted, tags,
    production date, synthetic-media attestation. Only performers on record for the asset's creator may
    be named as depicted. Status moves through the review services, never here. Audits `asset.updated`
    with the fields changed."""
    unknown = set(fields) - set(ASSET_EDITABLE)
    if unknown:
        raise ValidationError(f"Not editable here: {', '.join(sorted(unknown))}.")
    locked = Asset.objects.select_for_update().select_related("creator").get(pk=asset.pk)
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
    for name in fields:
        setattr(asset, name, getattr(locked, name))
    return locked


# --- Watermarks ----------------------------------------------------------------------------------


@transaction.atomic
def save_watermark(watermark: Watermark, *, actor: Any = None, changed: Iterable[str] | None = None) -> Watermark:
    """A creator's watermark, applied to renditions made from now on. Audits `watermark.*`."""
    adding = watermark._state.adding
    watermark.full_clean()
    watermark.save()
    audit.record("watermark.created" if adding else "watermark.updated", watermark, actor=actor,
                 changes={"fields": sorted(changed or []), "enabled": watermark.enabled})
    return watermark


@transaction.atomic
def delete_watermark(watermark: Watermark, *, actor: Any = None) -> None:
    audit.record("watermark.deleted", watermark, actor=actor)
    watermark.delete()


# --- Collections ---------------------------------------------------------------------------------


@transaction.atomic
def save_collection(collection: Collection, *, actor: Any = None) -> Collection:
    adding = collection._state.adding
    collection.full_clean()
    collection.save()
    audit.record("collection.created" if adding else "collection.updated", collection, actor=actor,
                 changes={"kind": collection.kind, "price_minor": collection.price_minor,
                          "currency": collection.currency})
    return collection


@transaction.atomic
def add_to_collection(collection: Collection, assets: Iterable[Asset], *, actor: Any = None) -> int:
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
    return added


@transaction.atomic
def change_collection_items(collection: Collection, *, positions: Iterable[tuple[CollectionItem, int]] = (),
                            removed: Iterable[CollectionItem] = (), actor: Any = None) -> None:
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


@transaction.atomic
def delete_collection(collection: Collection, *, actor: Any = None) -> None:
    """The assets stay in the vault; posts that sell this pack keep it (PROTECT refuses the delete)."""
    audit.record("collection.deleted", collection, actor=actor, changes={"title_length": len(collection.title)})
    collection.delete()


# --- Large files: presigned upload to S3, then confirm ---------------------------------------------

STAGING_PREFIX = "uploads"


def _s3_storage() -> Any:
    storage = storages["default"]
    if not hasattr(storage, "bucket_name"):
        raise ValidationError("Direct uploads need S3 storage (set AWS_STORAGE_BUCKET_NAME); "
                              "upload through the regular endpoint instead.")
    return storage


def presign_upload(*, creator: Creator, filename: str, size: int, actor: Any = None,
                   expires_in: int = 3600) -> dict[str, Any]:
    """A presigned POST for one large file, limited to its declared size and this creator's staging area."""
    import uuid

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


def confirm_upload(*, creator: Creator, key: str, filename: str = "", actor: Any = None,
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
