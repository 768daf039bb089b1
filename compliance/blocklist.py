"""The one list of hard-blocked terms, as every screen in Atelier applies it.

Why one place: the built-in term files (``compliance/terms``), the ``COMPLIANCE_EXTRA_BLOCKED_TERMS``
setting and the terms a compliance officer adds in the admin (``BlockedTerm``) must reach every text that
can reach a fan — captions and asset titles and tags at schedule and publish time (the gate), AI prompts,
caption suggestions, caption templates and hashtag sets, and the messages the inbox will send. A screen
that reads only some of them is a bypass: the studio once read only the setting, so a term added in the
admin still went into prompts.

The admin rows are read on every call (one indexed query on a small table) rather than cached, so a term
added in the admin applies in every web and worker process at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from compliance.hardblock import HardBlockHit, builtin_terms, screen_texts
from compliance.models import BlockedTerm

__all__ = ["agency_terms", "effective_terms", "screen_fields"]


def agency_terms() -> tuple[str, ...]:
    """The agency's additions to the built-in lists: the setting, then the admin's terms, without repeats."""
    added = BlockedTerm.objects.order_by("term").values_list("term", flat=True)
    return tuple(dict.fromkeys([*settings.COMPLIANCE_EXTRA_BLOCKED_TERMS, *added]))


def effective_terms() -> tuple[tuple[str, str, str], ...]:
    """Every term in force as (term, category, language): the built-in ones, then the agency's ("custom")."""
    return builtin_terms() + tuple((term, "custom", "custom") for term in agency_terms())


def screen_fields(fields: Mapping[str, str]) -> list[HardBlockHit]:
    """Screen named texts (caption, prompt, template, hashtags, a message) against the whole list.

    The entry point for any new text that can reach a fan, such as the inbox's send gate.
    """
    return screen_texts({name: text for name, text in fields.items() if text}, extra_terms=agency_terms())
