"""Caption suggestions: from the creator's own templates and hashtag sets, or from a text backend in
the creator's voice, screened, with the AI disclosure where the media is generated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.actors import Actor
from accounts.models import Creator
from content import captions
from content.captions import PromptRefused
from content.generation.backends import (
    GenerationFailure,
    TextRequest,
    build_backend,
)
from content.models import (
    CaptionTemplate,
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
    HashtagSet,
    PromptTemplate,
)
from content.studio.backends import backend_config, default_backend
from content.studio.screening import audit_refusal, extra_terms, screen_request
from content.studio.templates import _clean_variables
from content.studio.usage import log_usage

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
