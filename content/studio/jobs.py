"""Generation jobs, queued and run.

The order of a job is fixed by what must never happen:

1. the prompt is screened with compliance's hard blocks **before** a job row or a backend call exists;
   a refusal is audited (who, which creator, which category of term) and raised with its reasons;
2. the worker takes one of the backend's concurrency slots, marks the job running, calls the backend;
3. every image is marked (IPTC DigitalSourceType in XMP, then a signed C2PA manifest) before it is
   stored, lands as an ``Asset(origin=ai)`` in review, and is never approved here;
4. what the call consumed is logged with its cost, whatever happened to the job afterwards.

Retries follow the backend errors: a backend that never took the work is retried with backoff; one
that refused is not; one that timed out after accepting the work is not retried either, because a
paid API may already have charged and the images may still appear."""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator
from accounts.services import user_of
from compliance.services import likeness_refusals
from content import captions, services, signals, tasks
from content.captions import PromptRefused
from content.generation.backends import (
    BackendCancelled,
    BackendConfigError,
    BackendTimeout,
    BackendUnavailable,
    GenerationFailure,
    ImageRequest,
)
from content.models import (
    Asset,
    GenerationBackend,
    GenerationJob,
    PromptTemplate,
)
from content.provenance import ProvenanceError, SigningNotConfigured, XmpError, load_signing_credentials, mark_ai_image
from content.provenance.c2pa_sign import SigningCredentials
from content.provenance.dev_ca import CHAIN_FILENAME, KEY_FILENAME, write_dev_signing_files
from content.studio.backends import client_for, default_backend
from content.studio.captions import _voice, discloses_ai, suggest_captions_for_job
from content.studio.screening import screen_request
from content.studio.templates import _clean_variables, render_prompt
from content.studio.usage import log_usage
from core import backoff
from core.slots import concurrency_slot

logger = logging.getLogger("content.studio")
J = GenerationJob.Status


MAX_PROMPT_LENGTH = 4000
AI_DISCLOSURE_LABEL = "AI-generated"


# --- queueing -------------------------------------------------------------------------------------------


@dataclass
class ImageParams:
    width: int = 1024
    height: int = 1024
    steps: int = 30
    seed: int | None = None
    count: int = 1

    def validate(self) -> None:
        if not (64 <= self.width <= 4096 and 64 <= self.height <= 4096):
            raise ValidationError("Width and height are between 64 and 4096 pixels.")
        if not 1 <= self.steps <= 200:
            raise ValidationError("Steps are between 1 and 200.")
        if not 1 <= self.count <= 16:
            raise ValidationError("A job makes between 1 and 16 images.")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ValidationError("The seed is a positive number (or empty for a random one).")


def queue_image_job(*, creator: Creator, actor: Actor = None, template: PromptTemplate | None = None,
                    prompt: str = "", variables: Mapping[str, Any] | None = None, negative_prompt: str | None = None,
                    backend: GenerationBackend | None = None, rating: str | None = None,
                    params: ImageParams | None = None) -> GenerationJob:
    """Screen, then queue one image job; the task runs after commit.

    From a template the prompt, style, negative prompt, rating, size and backend are the template's,
    any of which the caller may override.
    """
    if template is not None and template.creator_id != creator.pk:
        raise ValidationError("That prompt template belongs to another creator.")
    if template is not None and not template.active:
        raise ValidationError("That prompt template is switched off.")
    values = _clean_variables(variables)
    raw_fields = {"prompt": prompt or "", "negative prompt": negative_prompt or ""}
    raw_fields.update({f"variable {k!r}": v for k, v in values.items()})
    if template is not None:
        raw_fields.update({"template prompt": template.prompt, "template style": template.style,
                           "template negative prompt": template.negative_prompt})
    # Screened before the template is even filled: a blocked term in any part is refused as such.
    screen_request(creator, raw_fields, kind="image", actor=actor)

    final = render_prompt(template, values) if template is not None and not prompt else prompt.strip()
    if not final:
        raise ValidationError("Write a prompt or choose a prompt template.")
    if len(final) > MAX_PROMPT_LENGTH:
        raise ValidationError(f"The prompt is longer than {MAX_PROMPT_LENGTH} characters.")
    negative = (negative_prompt if negative_prompt is not None else (template.negative_prompt if template else ""))
    if params is None:
        params = (ImageParams(width=template.width, height=template.height, steps=template.steps,
                              count=template.count) if template else ImageParams())
    params.validate()
    job_rating = rating or (template.rating if template else Asset.Rating.SFW)
    check_likeness(creator, job_rating, actor=actor)
    backend = backend or (template.backend if template and template.backend_id else None) \
        or default_backend(GenerationBackend.Purpose.IMAGES)
    if backend is None:
        raise ValidationError("No image backend is configured: add one under AI studio → Backends "
                              "(ComfyUI, Automatic1111/Forge or an OpenAI-compatible endpoint).")
    if backend.purpose != GenerationBackend.Purpose.IMAGES or not backend.enabled:
        raise ValidationError(f"{backend} is not an enabled image backend.")
    job = GenerationJob(
        creator=creator, kind=GenerationJob.Kind.IMAGE, backend=backend, template=template, prompt=final,
        variables=values, negative_prompt=(negative or "").strip(), rating=job_rating,
        params={"width": params.width, "height": params.height, "steps": params.steps, "seed": params.seed,
                "count": params.count},
        created_by=user_of(actor), currency=backend.currency)
    job.full_clean(exclude=["backend", "template", "creator", "created_by"])
    return _save_and_queue(job, actor)


def queue_text_job(*, creator: Creator, kind: str, platform: str, topic: str, actor: Actor = None,
                   variables: Mapping[str, Any] | None = None, template: PromptTemplate | None = None,
                   ai_generated: bool | None = None, count: int = 3, language: str = "",
                   backend: GenerationBackend | None = None) -> GenerationJob:
    """A caption or hashtag job, run by a worker like image jobs (for batches; the post form asks
    `suggest_captions` directly)."""
    if kind not in (GenerationJob.Kind.CAPTION, GenerationJob.Kind.HASHTAGS):
        raise ValidationError("A text job writes captions or hashtags.")
    if platform not in captions.PLATFORMS:
        raise ValidationError(f"Captions are not available for {platform!r}.")
    if template is not None and template.creator_id != creator.pk:
        raise ValidationError("That prompt template belongs to another creator.")
    if not 1 <= count <= 10:
        raise ValidationError("Ask for between 1 and 10 suggestions.")
    values = _clean_variables(variables)
    voice = _voice(creator, template)
    fields = {"topic": topic, "persona voice": voice, **{f"variable {k!r}": v for k, v in values.items()}}
    screen_request(creator, fields, kind=kind, actor=actor)
    if not topic.strip():
        raise ValidationError("Say what the post is about (the topic).")
    backend = backend or default_backend(GenerationBackend.Purpose.TEXT)
    job = GenerationJob(
        creator=creator, kind=kind, backend=backend, template=template, prompt=topic.strip(), variables=values,
        rating=template.rating if template else Asset.Rating.SFW, created_by=user_of(actor),
        params={"platform": platform, "language": language or creator.language, "count": count,
                "ai_generated": discloses_ai(creator, ai_generated)},
        currency=backend.currency if backend else settings.ANALYTICS_CURRENCY)
    return _save_and_queue(job, actor)


def check_likeness(creator: Creator, rating: str, *, actor: Actor = None) -> None:
    """Images of a human or hybrid creator draw a real person: refuse (and audit) without their
    verified adulthood and a current AI-likeness consent at this rating."""
    reasons = likeness_refusals(creator, rating=rating)
    if reasons:
        audit.record("generation.refused", creator, actor=actor,
                     changes={"kind": "image", "reasons": reasons, "categories": ["likeness_consent"]})
        raise ValidationError(reasons)


def _save_and_queue(job: GenerationJob, actor: Actor) -> GenerationJob:
    with transaction.atomic():
        job.save()
        audit.record("generation.queued", job, actor=actor, changes={
            "kind": job.kind, "backend": job.backend.name if job.backend else "templates",
            "template": job.template_id, "params": job.params})
        transaction.on_commit(lambda: enqueue(job.pk))
    return job


def enqueue(job_id: int, countdown: float | None = None) -> None:
    tasks.run_generation_job.apply_async((job_id,), countdown=countdown)


def cancel_job(job: GenerationJob, *, actor: Actor = None) -> GenerationJob:
    """A queued job is cancelled at once; a running one when its backend call returns (its results are
    dropped, its usage still logged, since the backend did the work)."""
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if locked.finished:
            raise ValidationError(f"This job is already {locked.get_status_display().lower()}.")
        if locked.status == J.QUEUED:
            locked.status, locked.finished_at = J.CANCELLED, timezone.now()
            locked.save(update_fields=["status", "finished_at"])
        else:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        audit.record("generation.cancelled", locked, actor=actor, changes={"was": job.status})
    return locked


def retry_job(job: GenerationJob, *, actor: Actor = None) -> GenerationJob:
    """A new job with the same request (the failed one stays, with its error, for the record)."""
    if job.status not in (J.FAILED, J.CANCELLED):
        raise ValidationError("Only a failed or cancelled job can be tried again.")
    if job.kind == GenerationJob.Kind.IMAGE:
        p = job.params
        return queue_image_job(creator=job.creator, actor=actor, prompt=job.prompt, negative_prompt=job.negative_prompt,
                               backend=job.backend, rating=job.rating, template=None,
                               params=ImageParams(width=p.get("width", 1024), height=p.get("height", 1024),
                                                  steps=p.get("steps", 30), seed=p.get("seed"),
                                                  count=p.get("count", 1)))
    p = job.params
    return queue_text_job(creator=job.creator, kind=job.kind, platform=p["platform"], topic=job.prompt, actor=actor,
                          variables=job.variables, template=job.template, ai_generated=p.get("ai_generated"),
                          count=p.get("count", 3), language=p.get("language", ""), backend=job.backend)


# --- running --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    retry_in: float | None = None  # the task re-queues itself after this many seconds
    detail: str = ""


def _finish(job_id: int, status: str, **fields: Any) -> None:
    GenerationJob.objects.filter(pk=job_id).update(status=status, finished_at=timezone.now(), **fields)
    if status == J.FAILED:
        signals.announce_generation_failed(job_id)


def run_job(job_id: int) -> Outcome:
    """Run one queued job once. Idempotent: a finished job is left alone, and a job found "running" was
    interrupted (worker killed) and is failed rather than re-run, since its backend may have worked."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished:
            return Outcome("skipped")
        if job.status == J.RUNNING:
            job.status, job.finished_at = J.FAILED, timezone.now()
            job.error = ("The worker stopped while this job was running; its outcome is unknown. "
                         "Check the backend, then try again if nothing came of it.")
            job.save(update_fields=["status", "finished_at", "error"])
            audit.record("generation.failed", job, actor_label="system", changes={"error": "interrupted"})
            signals.announce_generation_failed(job.pk)
            return Outcome(J.FAILED, detail="interrupted")
        if job.cancel_requested:
            _finish(job.pk, J.CANCELLED)
            return Outcome(J.CANCELLED)
    # Screened again at run time: the agency's extra terms may have grown since the job was queued.
    try:
        screen_request(job.creator, {"prompt": job.prompt, "negative prompt": job.negative_prompt,
                                     **{f"variable {k!r}": str(v) for k, v in job.variables.items()}},
                       kind=job.kind)
    except PromptRefused as refusal:
        _finish(job.pk, J.FAILED, error="Refused: " + "; ".join(refusal.reasons))
        return Outcome(J.FAILED, detail="refused")

    if job.kind == GenerationJob.Kind.IMAGE:
        try:
            check_likeness(job.creator, job.rating)
        except ValidationError as exc:
            _finish(job.pk, J.FAILED, error="Refused: " + " ".join(exc.messages))
            return Outcome(J.FAILED, detail="likeness")
    backend = job.backend
    if job.kind == GenerationJob.Kind.IMAGE and (backend is None or not backend.enabled):
        _finish(job.pk, J.FAILED, error="The image backend is missing or switched off.")
        return Outcome(J.FAILED)
    limit = backend.max_concurrency if backend else 0
    ttl = (backend.timeout_seconds if backend else 60) + 120
    with concurrency_slot(f"generation:{backend.pk if backend else 'templates'}", limit, ttl) as held:
        if not held:
            return Outcome(J.QUEUED, retry_in=2 + random.random() * 3, detail="backend busy")
        with transaction.atomic():
            moved = GenerationJob.objects.filter(pk=job.pk, status=J.QUEUED, cancel_requested=False).update(
                status=J.RUNNING, started_at=timezone.now(), attempts=job.attempts + 1)
        if not moved:
            return Outcome("skipped")
        job.refresh_from_db()
        try:
            if job.kind == GenerationJob.Kind.IMAGE:
                return _run_image(job)
            return _run_text(job)
        except BackendConfigError as exc:
            _finish(job.pk, J.FAILED, error=f"The backend is misconfigured: {exc}")
            return Outcome(J.FAILED)


def _failed(job: GenerationJob, exc: Exception, *, seconds: float | None = None) -> Outcome:
    """Map a backend failure to retry-or-fail, keeping the job's row as the single source of truth."""
    message = str(exc)
    if isinstance(exc, BackendUnavailable) and job.attempts < settings.GENERATION_MAX_RETRIES:
        delay = backoff.backoff_seconds(job.attempts, base=5, cap=300, retry_after=exc.retry_after)
        GenerationJob.objects.filter(pk=job.pk, status=J.RUNNING).update(
            status=J.QUEUED, error=f"{message} Trying again in {delay:.0f} s (attempt {job.attempts}).")
        return Outcome(J.QUEUED, retry_in=delay, detail=message)
    if isinstance(exc, BackendTimeout):
        message += (" The backend may still finish or have charged for it, so this job is not retried "
                    "automatically.")
    _finish(job.pk, J.FAILED, error=message, seconds=seconds)
    audit.record("generation.failed", job, actor_label="system", changes={"error": message[:300]})
    return Outcome(J.FAILED, detail=message)


def _cancelled_meanwhile(job: GenerationJob) -> bool:
    """Asked once the backend has answered: a cancelled job's results are dropped."""
    return GenerationJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _stop_requested(job: GenerationJob) -> bool:
    """Asked between a polling backend's polls, so a cancel stops the GPU work itself."""
    return GenerationJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _run_image(job: GenerationJob) -> Outcome:
    p = job.params
    request = ImageRequest(prompt=job.prompt, negative_prompt=job.negative_prompt, width=int(p.get("width", 1024)),
                           height=int(p.get("height", 1024)), steps=int(p.get("steps", 30)), seed=p.get("seed"),
                           count=int(p.get("count", 1)), should_stop=lambda: _stop_requested(job))
    backend = job.backend
    started = time.monotonic()
    try:
        with client_for(backend, reason=f"job {job.pk}") as client:
            result = client.generate_images(request)
    except BackendCancelled:
        seconds = time.monotonic() - started
        usage = log_usage(job.creator, backend, job=job, kind=job.kind, seconds=seconds)
        _finish(job.pk, J.CANCELLED, seconds=seconds, cost_minor=usage.cost_minor, currency=usage.currency)
        return Outcome(J.CANCELLED)
    except GenerationFailure as exc:
        return _failed(job, exc)
    usage = log_usage(job.creator, backend, job=job, kind=job.kind, images=len(result.images),
                      seconds=result.seconds, cost_minor=result.cost_minor)
    if _cancelled_meanwhile(job):
        _finish(job.pk, J.CANCELLED, seconds=result.seconds, cost_minor=usage.cost_minor, currency=usage.currency)
        return Outcome(J.CANCELLED)
    try:
        assets = [_store_image(job, data, number) for number, data in enumerate(result.images, start=1)]
    except (ValidationError, ProvenanceFailure) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        _finish(job.pk, J.FAILED, error=f"The images could not be stored: {message}", seconds=result.seconds,
                cost_minor=usage.cost_minor, currency=usage.currency)
        return Outcome(J.FAILED, detail=message)
    with transaction.atomic():
        job.assets.add(*assets)
        _finish(job.pk, J.SUCCEEDED, error="", seed_used=result.seed, seconds=result.seconds,
                cost_minor=usage.cost_minor, currency=usage.currency)
        audit.record("generation.succeeded", job, actor_label="system",
                     changes={"assets": [a.pk for a in assets], "cost_minor": usage.cost_minor})
    return Outcome(J.SUCCEEDED)


class ProvenanceFailure(Exception):
    """An image could not be marked; it is not stored unmarked."""


def _store_image(job: GenerationJob, data: bytes, number: int) -> Asset:
    """Mark, then ingest as an AI asset in review. Marking first: the stored bytes are the signed bytes."""
    mime = _image_mime(data)
    if mime is None:
        raise ValidationError("The backend returned something that is not a PNG, JPEG or WebP image.")
    title = f"{job.creator.stage_name} · {job.template.name if job.template else 'prompt'} · job {job.pk} #{number}"
    try:
        marked = mark_ai_image(data, mime, title=title, credentials=signing_credentials())
    except (ProvenanceError, XmpError) as exc:
        raise ProvenanceFailure(f"C2PA signing failed ({exc}); unlabelled AI images are never stored.") from exc
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[mime]
    result = services.ingest(creator=job.creator, source=io.BytesIO(marked), filename=f"job-{job.pk}-{number}.{ext}",
                             origin=Asset.Origin.AI, rating=job.rating, title=title[:200], actor=job.created_by,
                             no_real_person_attested=False)
    asset = result.asset
    if not asset.disclosure_label:
        # The label the gate requires of AI media; captions add each platform's own wording on top.
        Asset.objects.filter(pk=asset.pk).update(disclosure_label=AI_DISCLOSURE_LABEL)
    if asset.status == Asset.Status.DRAFT:
        services.submit_for_review(asset, actor=job.created_by)
    asset.refresh_from_db()
    return asset


def _image_mime(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def signing_credentials() -> Any:
    """The agency's chain and key; in DEBUG with none configured, a development CA under var/ (created
    once). Outside DEBUG a missing chain is an error: AI images are never stored unsigned."""
    try:
        return load_signing_credentials()
    except SigningNotConfigured:
        if not settings.DEBUG or settings.C2PA_SIGNING_CERT_CHAIN or settings.C2PA_SIGNING_KEY:
            raise
    out = Path(settings.VAR_DIR) / "c2pa-dev"
    if not (out / KEY_FILENAME).exists():
        try:
            write_dev_signing_files(out)
            logger.warning("Created a development C2PA signing chain in %s; configure C2PA_SIGNING_CERT_CHAIN "
                           "and C2PA_SIGNING_KEY for production.", out)
        except FileExistsError:
            pass  # another worker made it first
    return SigningCredentials(chain_pem=(out / CHAIN_FILENAME).read_bytes(), key_pem=(out / KEY_FILENAME).read_bytes(),
                              alg=settings.C2PA_SIGNING_ALG, timestamp_url=None)


def _run_text(job: GenerationJob) -> Outcome:
    try:
        suggestions = suggest_captions_for_job(job)
    except (PromptRefused, ValidationError) as exc:
        message = "; ".join(exc.reasons) if isinstance(exc, PromptRefused) else "; ".join(exc.messages)
        _finish(job.pk, J.FAILED, error=message)
        return Outcome(J.FAILED, detail=message)
    if job.kind == GenerationJob.Kind.HASHTAGS:
        texts = [" ".join(f"#{t}" for t in v.hashtags) for v in suggestions.variants if v.hashtags]
    else:
        texts = [v.text for v in suggestions.variants]
    if _cancelled_meanwhile(job):
        _finish(job.pk, J.CANCELLED)
        return Outcome(J.CANCELLED)
    usage = suggestions.usage
    _finish(job.pk, J.SUCCEEDED, texts=texts, notes=suggestions.notes, path=suggestions.path, error="",
            tokens_in=usage.tokens_in if usage else 0, tokens_out=usage.tokens_out if usage else 0,
            seconds=usage.seconds if usage else None, cost_minor=usage.cost_minor if usage else 0)
    audit.record("generation.succeeded", job, actor_label="system", changes={"texts": len(texts),
                                                                              "path": suggestions.path})
    return Outcome(J.SUCCEEDED)


def reap_jobs(*, now: Any = None) -> dict[str, int]:
    """Beat's safety net for lost work. A job running far past its backend's deadline lost its worker
    (failed, outcome unknown: not re-run); a job queued for long lost its message (queued again, which
    is harmless since `run_job` acts only on a queued row it locks)."""
    now = now or timezone.now()
    failed = 0
    for job in GenerationJob.objects.filter(status=J.RUNNING).select_related("backend"):
        limit = (job.backend.timeout_seconds if job.backend else 120) + 600
        if job.started_at and (now - job.started_at).total_seconds() > limit:
            lapsed = GenerationJob.objects.filter(pk=job.pk, status=J.RUNNING).update(
                status=J.FAILED, finished_at=now,
                error="No worker finished this job in time; its outcome is unknown. Check the backend, then "
                      "try again if nothing came of it.")
            if lapsed:
                signals.announce_generation_failed(job.pk)
            failed += lapsed
    stale = now - timedelta(minutes=10)
    requeued = list(GenerationJob.objects.filter(status=J.QUEUED, created_at__lt=stale, cancel_requested=False)
                    .values_list("pk", flat=True)[:500])
    for pk in requeued:
        enqueue(pk)
    return {"failed": failed, "requeued": len(requeued)}
