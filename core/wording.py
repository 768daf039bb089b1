"""Codes as sentences: how the admin says a status, a state or a refusal to the person reading it.

Why a registry: a status is stored as a code (`consent_revoked`, `needs_reauth`) because code and
tests match on it, but the person fixing a blocked post should read what happened and what to do.
Each app declares the sentences for its own codes next to its models (`compliance.wording` for the
gate, `scheduling.wording` for publications), and the admin asks `say()`; the code itself stays
visible in small print for support. A code nobody worded still reads as words (its underscores
dropped), never as an error, and a test checks that no choice of any model ships without a sentence.

A phrase has a plain sentence and, optionally, a richer one that names facts from the record
(`{when}`, `{who}`): the richer one is used only when every fact it names was given.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from types import MappingProxyType

from django.db.models import Choices
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

__all__ = ["Phrase", "Vocabulary", "code_and_sentence", "counted", "day_text", "register", "say", "vocabulary"]


@dataclass(frozen=True)
class Phrase:
    text: str
    with_facts: str = ""  # e.g. "Blocked: consent revoked on {when} by {who}"

    def fields(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.with_facts) if name)

    def render(self, facts: Mapping[str, object]) -> str:
        wanted = self.fields()
        if self.with_facts and wanted and all(facts.get(name) not in (None, "") for name in wanted):
            return self.with_facts.format(**{name: facts[name] for name in wanted})
        return self.text


@dataclass(frozen=True)
class Vocabulary:
    """The sentences for one set of codes (one TextChoices, or the gate's reasons)."""

    name: str
    phrases: Mapping[str, Phrase]

    def say(self, code: str | None, **facts: object) -> str:
        if not code:
            return "—"
        phrase = self.phrases.get(str(code))
        return phrase.render(facts) if phrase else str(code).replace("_", " ").capitalize()

    def __contains__(self, code: object) -> bool:
        return str(code) in self.phrases


_REGISTRY: dict[str, Vocabulary] = {}


def key_of(choices: type[Choices]) -> str:
    return f"{choices.__module__}.{choices.__qualname__}"


def register(name: str | type[Choices], phrases: Mapping[str, str | Phrase | tuple[str, str]]) -> Vocabulary:
    """Declare the sentences of a vocabulary; `name` is a TextChoices class or a plain name ("gate")."""
    key = name if isinstance(name, str) else key_of(name)
    vocab = Vocabulary(key, MappingProxyType({
        str(code): p if isinstance(p, Phrase) else Phrase(*p) if isinstance(p, tuple) else Phrase(p)
        for code, p in phrases.items()}))
    _REGISTRY[key] = vocab
    return vocab


def vocabulary(name: str | type[Choices]) -> Vocabulary | None:
    return _REGISTRY.get(name if isinstance(name, str) else key_of(name))


def say(name: str | type[Choices], code: str | None, **facts: object) -> str:
    """The sentence for `code`; words made from the code itself when nobody declared one."""
    vocab = vocabulary(name)
    if vocab is None:
        return "—" if not code else str(code).replace("_", " ").capitalize()
    return vocab.say(code, **facts)


def code_and_sentence(sentence: str, code: str | None) -> SafeString:
    """The sentence, with its code in small print for whoever reads logs or talks to support."""
    if not code:
        return format_html("{}", sentence)
    return format_html('<span data-code="{}">{}</span> <code class="text-xs text-font-subtle-light '
                       'dark:text-font-subtle-dark">{}</code>', code, sentence, code)


def day_text(moment: datetime | date | None, zone: tzinfo | None = None) -> str:
    """"3 Dec" (with the year when it is not this one), in `zone` (the creator's) or the current zone."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment, zone) if timezone.is_aware(moment) else moment
        day = moment.date()
    else:
        day = moment
    today = timezone.localdate(timezone=zone)
    return f"{day.day} {day:%b}" if day.year == today.year else f"{day.day} {day:%b %Y}"


def counted(n: int, noun: str, plural: str = "") -> str:
    """"1 post", "3 posts", "2 takedown tasks": staff read a count as words, never as "post(s)"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
