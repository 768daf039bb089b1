"""AI-drafted replies a person approves.

A draft is written by the agency's OpenAI-compatible text backend (Ollama, vLLM, llama.cpp: the one the
studio already uses) from the persona's voice guide, the last messages, what the fan panel knows and the
scripts that fit; without a model it is the best-matching script, and says so. The request is screened
before the call and the answer after it; a draft is never sent by itself: `accept` sends it through
`services.send` (the send gate) in the name of the person who accepted it, and records whether they
edited it and by how much. Only a disclosed AI persona's automation (`services.send` with origin
automation) sends without a person.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Creator, User
from analytics.models import Subscription
from content.captions import PromptRefused
from content.generation.backends import GenerationFailure, TextRequest, build_backend
from content.models import GenerationBackend
from content.studio.backends import backend_config, default_backend
from content.studio.screening import screen_request
from content.studio.usage import log_usage
from inbox import gate, services
from inbox import scripts as script_tools
from inbox.models import AIDraft, Conversation, Message, Script

PROMPT_VERSION = "inbox-reply-1"
HISTORY = 12  # messages of the thread the model sees
MAX_REPLY_TOKENS = 300

SYSTEM = (
    "You draft one chat reply for a creator's team to review before it is sent to a fan on a subscription "
    "platform. Write in the persona's voice, in the fan's language, warm and short (one to three sentences). "
    "Never say or imply that the creator is online right now or that the creator personally is typing; never "
    "ask for or mention anyone's age; never invent facts about the fan. {persona}"
    "Answer with the reply text only."
)


@dataclass(frozen=True)
class _Context:
    system: str
    prompt: str
    scripts: list[Script]


def draft_reply(conversation: Conversation, *, by: User | None, backend: GenerationBackend | None = None) -> AIDraft:
    """A reply drafted for a person to approve (or, for a disclosed AI persona in ai_auto mode, to send)."""
    if conversation.held_at is not None:
        raise ValidationError("This conversation is held for compliance: no AI drafts until it is released.")
    context = _context(conversation)
    # The request is screened before any call: the fan's own words, the notes and the voice guide.
    try:
        screen_request(conversation.creator, {"conversation": context.prompt, "persona voice": context.system},
                       kind="chat draft", actor=by)
    except PromptRefused as refusal:
        raise ValidationError(["The conversation holds hard-blocked terms; no draft is written.", *refusal.reasons]
                              ) from refusal
    backend = backend or default_backend(GenerationBackend.Purpose.TEXT)
    if backend is not None and (not backend.enabled or backend.purpose != GenerationBackend.Purpose.TEXT):
        backend = None
    text, model_used, note = "", None, ""
    if backend is not None:
        try:
            text = _ask_model(conversation.creator, backend, context)
            model_used = backend
        except GenerationFailure as exc:
            note = f"The text model did not answer ({exc}); drafted from scripts."
    else:
        note = "No text model is configured; drafted from scripts."
    suggested: Script | None = None
    if not text:
        if not context.scripts:
            raise ValidationError(f"{note} No script of {conversation.creator} fits; write the reply yourself.")
        suggested = context.scripts[0]
        text = script_tools.render(suggested.text, conversation)
    # The answer is screened in its final form: hard-blocked terms and the platform's conduct rule (a
    # draft claiming the creator is online on Fanvue is kept as refused, never offered).
    hits = gate.text_problems(conversation.creator, text, platform=conversation.account.platform)
    screening = {"passed": not hits, "note": note, "problems": hits}
    draft = AIDraft.objects.create(
        creator_id=conversation.creator_id, conversation=conversation,
        backend=model_used.name if model_used else "", model_name=model_used.model if model_used else "",
        prompt_version=PROMPT_VERSION, text="" if hits else text, from_scripts=model_used is None,
        suggested_price_minor=suggested.price_minor if suggested else None, screening=screening,
        outcome=AIDraft.Outcome.REFUSED if hits else AIDraft.Outcome.PENDING)
    if suggested is not None:
        draft.suggested_assets.set(suggested.assets.all())
    return draft


def _context(conversation: Conversation) -> _Context:
    creator = conversation.creator
    persona = ""
    if creator.voice_notes.strip():
        persona += f"Persona voice guide: {creator.voice_notes.strip()} "
    if creator.kind == Creator.Kind.AI_PERSONA:
        persona += "The persona is an AI and never claims to be a human. "
    thread = list(Message.objects.filter(conversation=conversation).exclude(direction=Message.Direction.NOTE)
                  .order_by("-created_at", "-pk")[:HISTORY])[::-1]
    lines = [f"{'Fan' if m.direction == Message.Direction.IN else creator.stage_name}: {m.text}" for m in thread
             if m.text.strip()]
    fan = conversation.fan
    facts = [f"handle {fan.handle or 'unknown'}", f"lifetime spend {fan.lifetime_spend_minor / 100:.2f}"]
    if fan.tags:
        facts.append("tags " + ", ".join(str(t) for t in fan.tags[:10]))
    live = Subscription.objects.filter(fan=fan, cancelled_at__isnull=True).order_by("-started_at").first()
    if live is not None:
        facts.append("subscribed since " + live.started_at.date().isoformat())
    fitting = script_tools.best_matching(conversation)
    examples = "\n".join(f"- {script_tools.render(s.text, conversation)}" for s in fitting)
    prompt = (f"Fan facts: {'; '.join(facts)}.\n"
              + (f"Saved replies that may fit:\n{examples}\n" if examples else "")
              + "Conversation so far:\n" + "\n".join(lines) + f"\n{creator.stage_name}:")
    return _Context(system=SYSTEM.format(persona=persona), prompt=prompt, scripts=fitting)


def _ask_model(creator: Creator, backend: GenerationBackend, context: _Context) -> str:
    config = backend_config(backend, reason="chat draft")
    client = build_backend({**config, "timeout": float(min(backend.timeout_seconds, 30))})
    with closing(client):  # type: ignore[type-var]  # every HTTP backend closes its connection pool
        result = client.complete(TextRequest(system=context.system, prompt=context.prompt, n=1,
                                             max_tokens=MAX_REPLY_TOKENS, temperature=0.7))
    log_usage(creator, backend, job=None, kind="caption", tokens_in=result.tokens_in,
              tokens_out=result.tokens_out, seconds=result.seconds)
    return next((t.strip().strip('"').strip() for t in result.texts if t and t.strip()), "")


def accept(draft: AIDraft, *, by: User, text: str | None = None, idempotency_key: str | None = None,
           with_suggestions: bool = True) -> Message:
    """Send the draft, as written or edited by `by`, through the send gate; records the outcome."""
    if draft.outcome not in (AIDraft.Outcome.PENDING,):
        raise ValidationError(f"This draft was already {draft.get_outcome_display().lower()}.")
    final = draft.text if text is None else text
    assets = list(draft.suggested_assets.all()) if with_suggestions else []
    price = draft.suggested_price_minor if with_suggestions and assets else None
    # The send records the outcome (accepted or edited, with the edit distance) in its own transaction.
    message = services.send(draft.conversation, by=by, text=final, assets=assets, price_minor=price,
                            origin=Message.Origin.AI_DRAFT, draft=draft, idempotency_key=idempotency_key,
                            ai_generated=True)
    draft.refresh_from_db()
    return message


def reject(draft: AIDraft, *, by: User) -> AIDraft:
    if draft.outcome != AIDraft.Outcome.PENDING:
        raise ValidationError(f"This draft was already {draft.get_outcome_display().lower()}.")
    AIDraft.objects.filter(pk=draft.pk).update(outcome=AIDraft.Outcome.REJECTED, decided_by=by,
                                               decided_at=timezone.now())
    draft.refresh_from_db()
    return draft
