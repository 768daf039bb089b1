"""Screening of what will be sent or posted: prompts, templates and caption material are checked
against compliance's hard blocks before anything is stored or called, and a refusal is audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator
from compliance import blocklist
from compliance.hardblock import HardBlockHit, screen_texts
from content.captions import PromptRefused
from content.models import (
    CaptionTemplate,
    HashtagSet,
    PromptTemplate,
)

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


def screen_template(template: PromptTemplate, *, actor: Actor = None) -> None:
    """The screen `save_prompt_template` applies, run by the admin form first so that a refusal is shown
    on the form (and audited) instead of failing the save."""
    screen_request(template.creator, {"template prompt": template.prompt, "template style": template.style,
                                      "template negative prompt": template.negative_prompt,
                                      "voice guide": template.voice_guide}, kind="template", actor=actor)


def screen_caption_material(item: CaptionTemplate | HashtagSet, *, actor: Actor = None) -> None:
    """A caption template or hashtag set is text waiting to be posted: a blocked term is refused (and
    audited) when it is saved, not only when a suggestion made from it is dropped."""
    if isinstance(item, CaptionTemplate):
        fields = {"caption template": item.text}
    else:
        fields = {"hashtag set": item.tags, "hashtag set topics": item.match}
    screen_request(item.creator if item.creator_id else None, fields, kind="caption_material", actor=actor)
