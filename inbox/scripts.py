"""Saved replies: placeholders filled for one fan, and the scripts that best fit what the fan just said.

Placeholders are `{fan_name}`, `{fan_handle}` and `{creator_name}`; any other `{word}` left in a script is
refused rather than sent to a fan with braces in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError

from inbox.models import Conversation, Message, Script

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
KNOWN = ("fan_name", "fan_handle", "creator_name")
_WORD = re.compile(r"\w{3,}", re.UNICODE)


def render(text: str, conversation: Conversation) -> str:
    """The script's text for this fan; ValidationError names a placeholder nobody can fill."""
    fan = conversation.fan
    handle = (fan.handle or "").lstrip("@")
    values = {"fan_name": handle or "there", "fan_handle": f"@{handle}" if handle else "",
              "creator_name": conversation.creator.stage_name}
    unknown = unknown_placeholders(text)
    if unknown:
        raise ValidationError(f"The script has placeholders nobody fills: {', '.join('{' + u + '}' for u in unknown)}."
                              f" Use {', '.join('{' + k + '}' for k in KNOWN)}.")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def unknown_placeholders(text: str) -> list[str]:
    """Every `{…}` in the text that is not a known placeholder, in order of first use."""
    return [name for name in dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)) if name not in KNOWN]


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text or "")}


def best_matching(conversation: Conversation, *, limit: int = 3,
                  scripts: Iterable[Script] | None = None) -> list[Script]:
    """The creator's active scripts ranked by how many words they share with the fan's latest messages.

    A plain overlap score: it needs no model and explains itself ("shares: pics, tonight"). Ties keep the
    scripts' own order (category, name), so the result is stable."""
    recent = Message.objects.filter(conversation=conversation, direction=Message.Direction.IN).order_by(
        "-created_at", "-pk").values_list("text", flat=True)[:5]
    said = set().union(*(_words(t) for t in recent)) if recent else set()
    pool = list(scripts) if scripts is not None else list(
        Script.objects.filter(creator_id=conversation.creator_id, active=True).prefetch_related("assets")[:500])
    scored = [(len(said & (_words(s.text) | _words(s.name) | _words(s.category))), i, s) for i, s in enumerate(pool)]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [s for score, _, s in scored[:limit] if score > 0] or [s for _, _, s in scored[:limit]]
