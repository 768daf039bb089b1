"""The AI studio's domain operations: backends, prompts, generation jobs, caption suggestions, usage.

Admin, API and the Celery task call these. The order of a job is fixed by what must never happen:

1. the prompt is screened with compliance's hard blocks **before** a job row or a backend call exists;
   a refusal is audited (who, which creator, which category of term) and raised with its reasons;
2. the worker takes one of the backend's concurrency slots, marks the job running, calls the backend;
3. every image is marked (IPTC DigitalSourceType in XMP, then a signed C2PA manifest) before it is
   stored, lands as an ``Asset(origin=ai)`` in review, and is never approved here;
4. what the call consumed is logged with its cost, whatever happened to the job afterwards.

Retries follow the backend errors: a backend that never took the work is retried with backoff; one
that refused is not; one that timed out after accepting the work is not retried either, because a
paid API may already have charged and the images may still appear.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import random
import re
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator
from accounts.services import user_of
from compliance import blocklist, crypto
from compliance.hardblock import HardBlockHit, screen_texts
from compliance.services import likeness_refusals
from content import captions, services, signals, tasks
from content.captions import PromptRefused
from content.generation.backends import (
    BackendCancelled,
    BackendConfigError,
    BackendTimeout,
    BackendUnavailable,
    GenerationFailure,
    Health,
    ImageRequest,
    TextRequest,
    build_backend,
)
from content.models import (
    Asset,
    CaptionTemplate,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    HashtagSet,
    PromptCategory,
    PromptTemplate,
)
from content.provenance import ProvenanceError, SigningNotConfigured, XmpError, load_signing_credentials, mark_ai_image
from content.provenance.c2pa_sign import SigningCredentials
from content.provenance.dev_ca import CHAIN_FILENAME, KEY_FILENAME, write_dev_signing_files
from core import backoff
from core.slots import concurrency_slot

logger = logging.getLogger("content.studio")

J = GenerationJob.Status
MAX_VARIABLE_LENGTH = 500
MAX_PROMPT_LENGTH = 4000
AI_DISCLOSURE_LABEL = "AI-generated"

__all__ = ["PromptRefused"]


# --- backends ------------------------------------------------------------------------------------------


def set_api_key(backend: GenerationBackend, api_key: str, *, actor: Actor = None) -> None:
    """Store (or clear, with "") the backend's key encrypted; the audit names the change, never the key."""
    value = crypto.encrypt_text(api_key) if api_key else ""
    GenerationBackend.objects.filter(pk=backend.pk).update(api_key_encrypted=value)
    backend.api_key_encrypted = value
    audit.record("generation_backend.key_set" if api_key else "generation_backend.key_cleared", backend,
                 actor=actor, changes={"backend": backend.name})


@transaction.atomic
def save_backend(backend: GenerationBackend, *, api_key: str | None = None, actor: Actor = None) -> GenerationBackend:
    """Validate and save; the config must build (URL, kind, options) so a bad one fails here, not in a job."""
    if backend.managed_by_env and not backend._state.adding:
        raise ValidationError("This backend comes from the environment; change its variables instead.")
    backend.full_clean()
    validate_backend_config(backend)
    adding = backend._state.adding
    if backend.is_default:
        GenerationBackend.objects.filter(purpose=backend.purpose, is_default=True).exclude(pk=backend.pk).update(
            is_default=False)
    backend.save()
    if api_key is not None:
        set_api_key(backend, api_key, actor=actor)
    audit.record("generation_backend.created" if adding else "generation_backend.updated", backend, actor=actor,
                 changes={"kind": backend.kind, "purpose": backend.purpose, "base_url": _safe_url(backend.base_url),
                          "model": backend.model, "enabled": backend.enabled})
    return backend


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path


def _config_dict(backend: GenerationBackend, *, api_key: str) -> dict[str, Any]:
    return {**(backend.options or {}), "kind": backend.kind, "base_url": backend.base_url, "api_key": api_key,
            "model": backend.model, "timeout": float(backend.timeout_seconds)}


def backend_config(backend: GenerationBackend, *, reason: str) -> dict[str, Any]:
    """The settings a backend client is built from, key decrypted. Every read of a stored key is audited."""
    api_key = ""
    if backend.api_key_encrypted:
        api_key = crypto.decrypt_text(backend.api_key_encrypted)
        audit.record("generation_backend.key_read", backend, actor_label="system",
                     changes={"backend": backend.name, "reason": reason})
    return _config_dict(backend, api_key=api_key)


def client_for(backend: GenerationBackend, *, reason: str) -> Any:
    return build_backend(backend_config(backend, reason=reason))


ENV_BACKENDS = {
    GenerationBackend.Purpose.IMAGES: ("Images (environment)", "GENERATION_IMAGE"),
    GenerationBackend.Purpose.TEXT: ("Text (environment)", "GENERATION_TEXT"),
}


_ENV_KEYS_SYNCED: dict[str, tuple[int, str]] = {}


def sync_env_backends() -> list[GenerationBackend]:
    """Create or update the backends declared by GENERATION_IMAGE_* / GENERATION_TEXT_* variables.

    Cheap when nothing is declared (no query), so callers run it before resolving a default.
    """
    rows = []
    for purpose, (name, prefix) in ENV_BACKENDS.items():
        url = getattr(settings, f"{prefix}_URL", "")
        if not url:
            continue
        kind = getattr(settings, f"{prefix}_KIND", "openai") if purpose == "images" else "openai"
        key = getattr(settings, f"{prefix}_API_KEY", "")
        wanted = {"kind": kind, "base_url": url.rstrip("/"), "model": getattr(settings, f"{prefix}_MODEL", ""),
                  "purpose": purpose, "managed_by_env": True, "enabled": True}
        with transaction.atomic():
            backend = GenerationBackend.objects.select_for_update().filter(name=name).first()
            if backend is None:
                has_default = GenerationBackend.objects.filter(purpose=purpose, is_default=True).exists()
                backend = GenerationBackend.objects.create(name=name, is_default=not has_default, **wanted)
                audit.record("generation_backend.created", backend, actor_label="environment",
                             changes={"kind": kind, "purpose": purpose, "base_url": _safe_url(url)})
            elif any(getattr(backend, k) != v for k, v in wanted.items()):
                GenerationBackend.objects.filter(pk=backend.pk).update(**wanted)
                backend.refresh_from_db()
            # Compared by fingerprint, per process: decrypting the stored key to compare would be an
            # unaudited read, and auditing it on every lookup would drown the log.
            fingerprint = (backend.pk, hashlib.sha256(key.encode()).hexdigest())
            if _ENV_KEYS_SYNCED.get(name) != fingerprint or bool(backend.api_key_encrypted) != bool(key):
                set_api_key(backend, key, actor=None)
                _ENV_KEYS_SYNCED[name] = fingerprint
        rows.append(backend)
    return rows


def default_backend(purpose: str) -> GenerationBackend | None:
    """The enabled default for `purpose`, else the only enabled one; None means "not configured"."""
    if getattr(settings, "GENERATION_IMAGE_URL", "") or getattr(settings, "GENERATION_TEXT_URL", ""):
        sync_env_backends()
    enabled = GenerationBackend.objects.filter(purpose=purpose, enabled=True)
    chosen = enabled.filter(is_default=True).first()
    if chosen is None:
        candidates = list(enabled[:2])
        chosen = candidates[0] if len(candidates) == 1 else None
    return chosen


def check_health(backend: GenerationBackend, *, actor: Actor = None) -> Any:
    """Ask the backend whether it answers and has the model; the answer is kept on the row for the list."""
    try:
        client = client_for(backend, reason="health check")
        with client:
            health = client.health()
    except BackendConfigError as exc:
        health = Health(ok=False, detail=str(exc), seconds=0.0)
    GenerationBackend.objects.filter(pk=backend.pk).update(
        last_health_ok=health.ok, last_health_detail=health.detail[:300], last_checked_at=timezone.now())
    audit.record("generation_backend.checked", backend, actor=actor, changes={"ok": health.ok})
    return health


# --- screening -----------------------------------------------------------------------------------------


def extra_terms() -> tuple[str, ...]:
    """The agency's terms (setting and admin), the same list the publish gate reads."""
    return blocklist.agency_terms()


def _reasons(hits: Sequence[HardBlockHit]) -> list[str]:
    return list(dict.fromkeys(
        f"the {hit.field} contains the hard-blocked {hit.category.replace('_', '-')} term {hit.excerpt!r} "
        f"at character {hit.start + 1} (listed term {hit.term!r})"
        for hit in hits))


def audit_refusal(creator: Creator | None, refusal: PromptRefused, *, kind: str, actor: Actor = None) -> None:
    """The record a compliance officer reads: who asked, for whom, which fields and categories."""
    audit.record("generation.refused", creator, actor=actor, changes={
        "kind": kind,
        "reasons": refusal.reasons,
        "categories": sorted({h.category for h in refusal.hits}),
        "fields": sorted({h.field or "" for h in refusal.hits}),
    })


def screen_request(creator: Creator | None, fields: Mapping[str, str], *, kind: str, actor: Actor = None) -> None:
    """Refuse (and audit) a request whose prompt, style, variables or voice hold a hard-blocked term.

    Runs before any row or backend call exists, and outside any caller's transaction, so the audit
    event stays even though the request is refused.
    """
    hits = screen_texts({k: v for k, v in fields.items() if v}, extra_terms=extra_terms())
    if hits:
        refusal = PromptRefused(_reasons(hits), hits)
        audit_refusal(creator, refusal, kind=kind, actor=actor)
        raise refusal


# --- prompts --------------------------------------------------------------------------------------------


def _clean_variables(variables: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (variables or {}).items():
        name = str(name).strip()
        if not name.isidentifier():
            raise ValidationError(f"{name!r} is not a variable name.")
        text = "" if value is None else str(value).strip()
        if len(text) > MAX_VARIABLE_LENGTH:
            raise ValidationError(f"The value of {name} is longer than {MAX_VARIABLE_LENGTH} characters.")
        out[name] = text
    return out


def render_prompt(template: PromptTemplate, variables: Mapping[str, str]) -> str:
    """The template's prompt with its placeholders filled, then its style; a missing value is an error."""
    missing = [name for name in template.placeholders() if not variables.get(name)]
    if missing:
        raise ValidationError(f"Give a value for: {', '.join(missing)}.")
    try:
        text = string.Formatter().vformat(template.prompt, (), dict(variables))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(f"The template's prompt cannot be filled: {exc}.") from exc
    return ", ".join(part.strip() for part in (text, template.style) if part and part.strip())


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


# --- captions -------------------------------------------------------------------------------------------


@dataclass
class CaptionSuggestions:
    """What the post form and the API show: which path produced them, the variants, and why any are missing."""

    path: str
    variants: list[captions.Variant]
    notes: list[str] = field(default_factory=list)
    backend: str = ""
    usage: GenerationUsage | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "backend": self.backend, "notes": self.notes,
                "variants": [{"text": v.text, "hashtags": v.hashtags, "length": v.length, "fits": v.fits}
                             for v in self.variants]}


def _voice(creator: Creator, template: PromptTemplate | None) -> str:
    return "\n".join(v for v in ((template.voice_guide if template else ""), creator.voice_notes) if v and v.strip())


def _own_templates(creator: Creator, platform: str, language: str) -> tuple[list[dict], list[dict]]:
    code = (language or "en").replace("_", "-").split("-")[0].lower()
    scope = (Q(creator=creator) | Q(creator__isnull=True)) & (Q(platform=platform) | Q(platform=""))
    scope &= Q(active=True, language__istartswith=code)
    templates = [{"text": t.text, "tones": [x.strip() for x in t.tones.split(",") if x.strip()]}
                 for t in CaptionTemplate.objects.filter(scope).order_by("-creator_id", "id")[:200]]
    sets = [{"match": h.match_list(), "tags": h.tag_list()}
            for h in HashtagSet.objects.filter(scope).order_by("-creator_id", "id")[:100]]
    return templates, sets


def discloses_ai(creator: Creator, ai_media: bool | None) -> bool:
    """Whether a caption carries the platform's AI disclosure (EU AI Act Art. 50, the platforms' rules).

    An AI persona's media is AI-made whatever the caller says; anyone else's is labelled only when the media
    is AI-made (`ai_media`). Unsaid (`None`), a hybrid creator's media is AI with a real likeness, and a human
    creator's is their own photos, which must never be labelled AI."""
    if creator.kind == Creator.Kind.AI_PERSONA:
        return True
    if ai_media is None:
        return creator.kind == Creator.Kind.HYBRID
    return bool(ai_media)


def suggest_captions(*, creator: Creator, platform: str, topic: str, variables: Mapping[str, Any] | None = None,
                     ai_generated: bool | None = None, count: int = 3, language: str = "",
                     template: PromptTemplate | None = None, backend: GenerationBackend | None = None,
                     actor: Actor = None, use_model: bool = True) -> CaptionSuggestions:
    """Caption suggestions in the persona's voice and language: from the text model when one is configured
    and answers, else from the agency's and the built-in templates. The result says which.

    The request is screened first (refused and audited if blocked); every suggestion is screened again in
    its final form by `captions.suggest`.
    """
    values, voice = _caption_request(creator, platform, count, variables, template)
    screen_request(creator, {"topic": topic, "persona voice": voice,
                             **{f"variable {k!r}": v for k, v in values.items()}}, kind="caption", actor=actor)
    return _compose_captions(creator=creator, platform=platform, topic=topic, values=values, voice=voice,
                             ai_generated=ai_generated, count=count, language=language, backend=backend,
                             actor=actor, job=None, use_model=use_model)


def suggest_captions_for_job(job: GenerationJob) -> CaptionSuggestions:
    """A queued caption or hashtag job's suggestions. Its request (topic, voice, variables) was screened by
    `queue_text_job` before the job existed, so it is not screened twice; every suggestion is still
    screened in its final form by `captions.suggest`."""
    p = job.params
    count = int(p.get("count", 3))
    values, voice = _caption_request(job.creator, p["platform"], count, job.variables, job.template)
    return _compose_captions(creator=job.creator, platform=p["platform"], topic=job.prompt, values=values,
                             voice=voice, ai_generated=p.get("ai_generated"), count=count,
                             language=p.get("language", ""), backend=job.backend, actor=None, job=job,
                             use_model=True)


def _caption_request(creator: Creator, platform: str, count: int, variables: Mapping[str, Any] | None,
                     template: PromptTemplate | None) -> tuple[dict[str, str], str]:
    """The checked variables and the persona voice of a caption request (what screening reads)."""
    if platform not in captions.PLATFORMS:
        raise ValidationError(f"Captions are not available for {platform!r}; choose one of "
                              f"{', '.join(sorted(captions.PLATFORMS))}.")
    if not 1 <= count <= 10:
        raise ValidationError("Ask for between 1 and 10 suggestions.")
    values = _clean_variables(variables)
    values.setdefault("name", creator.stage_name)
    return values, _voice(creator, template)


def _compose_captions(*, creator: Creator, platform: str, topic: str, values: dict[str, str], voice: str,
                      ai_generated: bool | None, count: int, language: str, backend: GenerationBackend | None,
                      actor: Actor, job: GenerationJob | None, use_model: bool) -> CaptionSuggestions:
    """The suggestions of a request already screened (or refused) by the caller's entry point."""
    if not topic.strip():
        raise ValidationError("Say what the post is about (the topic).")
    language = language or creator.language
    if use_model and backend is None:
        backend = default_backend(GenerationBackend.Purpose.TEXT)
    if backend is not None and (not backend.enabled or backend.purpose != GenerationBackend.Purpose.TEXT):
        backend = None
    used: dict[str, Any] = {"tokens_in": 0, "tokens_out": 0, "seconds": 0.0, "calls": 0}

    generator = None
    if use_model and backend is not None:
        timeout = float(min(backend.timeout_seconds, settings.GENERATION_CAPTION_TIMEOUT_SECONDS if job is None
                            else backend.timeout_seconds))

        def generator(system: str, user: str) -> list[str]:
            try:
                config = backend_config(backend, reason=f"job {job.pk}" if job else "caption suggestions")
                with build_backend({**config, "timeout": timeout}) as client:
                    result = client.complete(TextRequest(system=system, prompt=user, n=1, max_tokens=600))
            except GenerationFailure as exc:
                raise captions.GeneratorUnavailable(str(exc)) from exc
            used["tokens_in"] += result.tokens_in
            used["tokens_out"] += result.tokens_out
            used["seconds"] += result.seconds
            used["calls"] += 1
            return _split_model_answer(result.texts, count)

    own_templates, own_sets = _own_templates(creator, platform, language)
    try:
        result = captions.suggest(platform=platform, language=language, persona_voice=voice, topic=topic,
                                  variables=values, ai_generated=discloses_ai(creator, ai_generated), count=count,
                                  generator=generator,
                                  extra_terms=extra_terms(), own_templates=own_templates,
                                  own_hashtag_sets=own_sets)
    except PromptRefused as refusal:  # pragma: no cover - screened above with the same lists
        audit_refusal(creator, refusal, kind="caption", actor=actor)
        raise
    usage = None
    if used["calls"]:
        usage = log_usage(creator, backend, job=job, kind=GenerationJob.Kind.CAPTION, tokens_in=used["tokens_in"],
                          tokens_out=used["tokens_out"], seconds=used["seconds"])
    notes = list(result.notes)
    if result.path == "templates" and generator is None:
        notes.insert(0, "No text model is configured; suggested from caption templates.")
    return CaptionSuggestions(path=result.path, variants=result.variants, notes=notes,
                              backend=backend.name if backend is not None and result.path == "model" else "",
                              usage=usage)


def _split_model_answer(texts: Iterable[str], count: int) -> list[str]:
    """A chat model asked for several suggestions answers with one text; numbered or blank-line separated
    items become one suggestion each."""
    items: list[str] = []
    for text in texts:
        parts = [p for p in re.split(r"\n\s*\n|\n(?=\s*(?:\d+[.)]|[-*•])\s)", text) if p.strip()]
        for part in parts:
            cleaned = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", part).strip().strip('"').strip()
            if cleaned:
                items.append(cleaned)
    return items[: max(count * 2, count)]


# --- usage ----------------------------------------------------------------------------------------------


def cost_of(backend: GenerationBackend | None, *, images: int = 0, tokens_in: int = 0, tokens_out: int = 0,
            seconds: float = 0.0) -> int:
    """Minor units, rounded up: a fraction of a cent charged is still charged."""
    if backend is None:
        return 0
    total = (images * backend.cost_per_image_minor + tokens_in * backend.cost_per_mtok_in_minor / 1_000_000
             + tokens_out * backend.cost_per_mtok_out_minor / 1_000_000
             + seconds * backend.cost_per_hour_minor / 3600)
    return math.ceil(round(total, 6))


def log_usage(creator: Creator, backend: GenerationBackend | None, *, kind: str, job: GenerationJob | None = None,
              images: int = 0, tokens_in: int = 0, tokens_out: int = 0, seconds: float = 0.0,
              cost_minor: int | None = None) -> GenerationUsage:
    if cost_minor is None:
        cost_minor = cost_of(backend, images=images, tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds)
    currency = backend.currency if backend else settings.ANALYTICS_CURRENCY
    usage = GenerationUsage.objects.create(
        creator=creator, backend=backend, backend_name=backend.name if backend else "templates", job=job, kind=kind,
        images=images, tokens_in=tokens_in, tokens_out=tokens_out, seconds=round(seconds or 0.0, 3),
        cost_minor=cost_minor, currency=currency)
    if job is not None:
        GenerationJob.objects.filter(pk=job.pk).update(tokens_in=tokens_in, tokens_out=tokens_out)
    return usage


def monthly_totals(queryset: Any) -> list[dict[str, Any]]:
    """Usage per month, creator, backend and currency (never summed across currencies)."""
    rows = (queryset.annotate(month=TruncMonth("at")).values("month", "creator__stage_name", "backend_name",
                                                              "currency")
            .annotate(calls=Count("id"), images=Sum("images"), tokens_in=Sum("tokens_in"),
                      tokens_out=Sum("tokens_out"), seconds=Sum("seconds"), cost_minor=Sum("cost_minor"))
            .order_by("-month", "creator__stage_name", "backend_name"))
    return list(rows)


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


# --- validation shared by admin forms and services


def validate_backend_config(backend: GenerationBackend) -> None:
    """The check `save_backend` makes (the config must build), for a form to show before it saves."""
    try:
        build_backend(_config_dict(backend, api_key=""))
    except BackendConfigError as exc:
        raise ValidationError(str(exc)) from exc


def screen_template(template: PromptTemplate, *, actor: Actor = None) -> None:
    """The screen `save_prompt_template` applies, run by the admin form first so that a refusal is shown
    on the form (and audited) instead of failing the save."""
    screen_request(template.creator, {"template prompt": template.prompt, "template style": template.style,
                                      "template negative prompt": template.negative_prompt,
                                      "voice guide": template.voice_guide}, kind="template", actor=actor)


# --- prompt templates


def save_prompt_template(template: PromptTemplate, *, actor: Actor = None) -> PromptTemplate:
    """Validate (placeholders, sizes, one name per creator, an image backend) and save; the audit names
    the template and its rating, never the prompt text."""
    template.full_clean()
    # A template is a prompt waiting to be sent: a blocked term is refused (and audited) when saved.
    screen_template(template, actor=actor)
    adding = template._state.adding
    with transaction.atomic():
        template.save()
        audit.record("prompt_template.created" if adding else "prompt_template.updated", template, actor=actor,
                     changes={"name": template.name, "rating": template.rating, "active": template.active})
    return template


def delete_prompt_template(template: PromptTemplate, *, actor: Actor = None) -> None:
    """Jobs made from it keep their final prompt; only their link to the template is cleared."""
    with transaction.atomic():
        audit.record("prompt_template.deleted", template, actor=actor, changes={"name": template.name})
        template.delete()


# --- caption templates and hashtag sets -----------------------------------------------------------------


def screen_caption_material(item: CaptionTemplate | HashtagSet, *, actor: Actor = None) -> None:
    """A caption template or hashtag set is text waiting to be posted: a blocked term is refused (and
    audited) when it is saved, not only when a suggestion made from it is dropped."""
    if isinstance(item, CaptionTemplate):
        fields = {"caption template": item.text}
    else:
        fields = {"hashtag set": item.tags, "hashtag set topics": item.match}
    screen_request(item.creator if item.creator_id else None, fields, kind="caption_material", actor=actor)


def save_caption_material(item: CaptionTemplate | HashtagSet, *, actor: Actor = None,
                          changed: Sequence[str] = ()) -> CaptionTemplate | HashtagSet:
    """Validate, screen and save; agency-wide rows (no creator) are the owner's to write."""
    item.full_clean()
    if item.creator_id is None and not getattr(user_of(actor), "is_superuser", False):
        raise ValidationError("Only the agency owner writes agency-wide rows; choose one of your creators.")
    screen_caption_material(item, actor=actor)
    adding = item._state.adding
    name = item._meta.model_name
    with transaction.atomic():
        item.save()
        audit.record(f"{name}.created" if adding else f"{name}.updated", item, actor=actor,
                     changes={"fields": sorted(changed), "agency_wide": item.creator_id is None})
    return item


def delete_caption_material(item: CaptionTemplate | HashtagSet, *, actor: Actor = None) -> None:
    """Agency-wide rows (no creator) are the owner's to remove, like to write. Audits `<model>.deleted`."""
    if item.creator_id is None and not getattr(user_of(actor), "is_superuser", False):
        raise PermissionDenied("Only the agency owner removes agency-wide rows.")
    with transaction.atomic():
        audit.record(f"{item._meta.model_name}.deleted", item, actor=actor,
                     changes={"agency_wide": item.creator_id is None})
        item.delete()


# --- backends and prompt categories (agency-wide, the owner's) ------------------------------------------


def delete_backend(backend: GenerationBackend, *, actor: Actor = None) -> None:
    """Jobs that ran on it keep their usage rows (by name); a backend from the environment comes back
    at the next start, so it is changed there, not deleted here."""
    if backend.managed_by_env:
        raise ValidationError("This backend comes from the environment; remove its variables instead.")
    with transaction.atomic():
        audit.record("generation_backend.deleted", backend, actor=actor,
                     changes={"kind": backend.kind, "name": backend.name})
        backend.delete()


def save_prompt_category(category: PromptCategory, *, actor: Actor = None,
                         changed: Sequence[str] = ()) -> PromptCategory:
    """The agency's vocabulary for prompt templates. Audits `prompt_category.*`."""
    category.full_clean()
    adding = category._state.adding
    with transaction.atomic():
        category.save()
        audit.record("prompt_category.created" if adding else "prompt_category.updated", category, actor=actor,
                     changes={"name": category.name, "fields": sorted(changed)})
    return category


def delete_prompt_category(category: PromptCategory, *, actor: Actor = None) -> None:
    """Templates in it stay, without a category."""
    with transaction.atomic():
        audit.record("prompt_category.deleted", category, actor=actor, changes={"name": category.name})
        category.delete()

