"""Prompt templates, caption templates, hashtag sets and prompt categories: validated, screened and
saved, and a template's prompt rendered from its variables."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import audit
from accounts.actors import Actor
from accounts.services import user_of
from content.models import (
    CaptionTemplate,
    HashtagSet,
    PromptCategory,
    PromptTemplate,
)
from content.studio.screening import screen_caption_material, screen_template

MAX_VARIABLE_LENGTH = 500


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
