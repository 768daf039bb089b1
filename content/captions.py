"""Caption and hashtag suggestions per platform, with the AI disclosure and the hard-block screening.

Two paths produce the texts. With a ``generator`` (a chat model behind an OpenAI-compatible endpoint, plugged
in by the caller) the model writes the bodies; without one, caption templates and hashtag sets from
``content/captions_data/<language>.json`` do, so suggestions keep coming when no model is configured. The
result says which path was taken, so the UI can show "suggested from templates".

Whatever the path, every suggestion is shaped the same way:

- it fits the platform's limit as the platform counts it (X's weighted length, Bluesky's graphemes, Reddit's
  300-character title), measured on the final text, hashtags and disclosure included;
- hashtags follow the network's norms (a couple on X and Bluesky, a block of up to 30 on Instagram, none in
  a Reddit title);
- when the content is AI-made, the disclosure the platform expects is appended and is never trimmed: the EU
  AI Act (Art. 50) and the platforms' own rules require the label, so the body gives way instead;
- the prompt is screened before any model call and every text after it, with compliance's hard-block lists:
  a blocked prompt raises :class:`PromptRefused`, a blocked suggestion is dropped and reported in ``notes``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import regex

from compliance.hardblock import HardBlockHit, screen_text, screen_texts
from core import platforms

__all__ = [
    "DATA_DIR",
    "PLATFORMS",
    "Generator",
    "GeneratorUnavailable",
    "PlatformRules",
    "PromptRefused",
    "Suggestions",
    "Variant",
    "disclosure_for",
    "suggest",
]

DATA_DIR = Path(__file__).with_name("captions_data")
DEFAULT_LANGUAGE = "en"
ELLIPSIS = "…"
# Below this much room the body is no longer a caption; hashtags give way first.
MIN_BODY_ROOM = 40
# A hashtag as the networks see one: "#" then a letter or digit, not inside a word or after another "#".
_HASHTAG = re.compile(r"(?<![\w#])#([^\W_]\w*)")

Generator = Callable[[str, str], Sequence[str]]
"""``generator(system_prompt, user_prompt)`` returns candidate caption texts."""


class PromptRefused(ValueError):
    """The topic, voice or a variable holds a hard-blocked term; nothing was sent to a model.

    ``reasons`` are sentences an editor can act on; ``hits`` keep the detail for the audit log.
    """

    def __init__(self, reasons: Sequence[str], hits: Sequence[HardBlockHit] = ()) -> None:
        self.reasons = list(reasons)
        self.hits = list(hits)
        super().__init__("The caption request was refused: " + "; ".join(self.reasons))


class GeneratorUnavailable(RuntimeError):
    """Raised by a generator when its backend cannot answer; suggestions then come from templates."""


# --- platform rules -----------------------------------------------------------------------------------


_graphemes = platforms.graphemes


@dataclass(frozen=True)
class PlatformRules:
    """How one network counts text and what it expects of hashtags, as captions use them.

    ``measure`` is the platform's own count (not ``len``), ``max_bytes`` a second ceiling where the platform
    has one. ``hashtags`` is how many a suggestion carries by default and ``max_hashtags`` the hard ceiling,
    both counting the disclosure's own hashtags. ``single_line`` marks a title (Reddit).
    """

    platform: str
    max_length: int
    measure: Callable[[str], int] = len
    max_bytes: int | None = None
    hashtags: int = 3
    max_hashtags: int = 3
    block_hashtags: bool = False
    single_line: bool = False
    separator: str = "\n\n"

    @classmethod
    def of(cls, platform: platforms.Platform) -> PlatformRules:
        """The registry's facts for ``platform``: the caption's own ceiling where it is tighter than a
        post's text (Telegram's caption under media, Reddit's title), else the text limit."""
        text, tags = platform.text, platform.hashtags
        if text is None or tags is None:
            raise ValueError(f"Captions are not suggested for {platform.key!r}: no text limits or hashtag norms.")
        return cls(platform.key, text.caption_length or text.max_length, measure=text.measure,
                   max_bytes=text.max_bytes, hashtags=tags.suggested, max_hashtags=tags.maximum,
                   block_hashtags=tags.block, single_line=text.title, separator=tags.separator)

    def fits(self, text: str) -> bool:
        if self.measure(text) > self.max_length:
            return False
        return self.max_bytes is None or len(text.encode()) <= self.max_bytes


# Every platform the registry declares text limits and hashtag norms for.
PLATFORMS: dict[str, PlatformRules] = {p.key: PlatformRules.of(p) for p in platforms.caption_platforms()}


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One suggestion, ready to paste: ``text`` is final (body, disclosure, hashtags).

    ``hashtags`` lists the topical tags (without "#") placed in the text; ``length`` is the platform's own
    count of ``text`` and ``fits`` whether that is within the limit.
    """

    text: str
    hashtags: list[str]
    length: int
    fits: bool


@dataclass(frozen=True)
class Suggestions:
    path: Literal["model", "templates"]
    variants: list[Variant]
    notes: list[str] = field(default_factory=list)


# --- language data --------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _load_language(language: str) -> dict[str, Any]:
    path = DATA_DIR / f"{language}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookupError(f"No caption data for language {language!r}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc}") from exc
    for key in ("templates", "ctas", "hashtags", "disclosure"):
        if key not in data:
            raise ValueError(f"{path.name} has no {key!r} section")
    return data


def _language_data(language: str) -> tuple[str, dict[str, Any]]:
    """(language used, data): "fr-CA" uses fr; a language without data falls back to English."""
    code = (language or DEFAULT_LANGUAGE).replace("_", "-").split("-")[0].lower()
    if (DATA_DIR / f"{code}.json").is_file():
        return code, _load_language(code)
    return DEFAULT_LANGUAGE, _load_language(DEFAULT_LANGUAGE)


def _per_platform(table: Mapping[str, Any], platform: str) -> Any:
    return table.get(platform, table.get("default"))


def disclosure_for(platform: str, language: str) -> str:
    """The AI label a post on ``platform`` carries in ``language`` (the table lives in the data files)."""
    _rules(platform)
    _, data = _language_data(language)
    text = _per_platform(data["disclosure"], platform)
    if not text:
        raise ValueError(f"No AI disclosure is configured for {platform!r}")
    return text


def _rules(platform: str) -> PlatformRules:
    try:
        return PLATFORMS[platform]
    except KeyError:
        raise ValueError(
            f"Captions are not available for platform {platform!r}; known platforms: {', '.join(sorted(PLATFORMS))}"
        ) from None


# --- public entry point ---------------------------------------------------------------------------------


def suggest(
    *,
    platform: str,
    language: str,
    persona_voice: str,
    topic: str,
    variables: Mapping[str, Any],
    ai_generated: bool,
    count: int = 3,
    generator: Generator | None = None,
    extra_terms: Iterable[str] = (),
    own_templates: Sequence[Mapping[str, Any]] = (),
    own_hashtag_sets: Sequence[Mapping[str, Any]] = (),
) -> Suggestions:
    """Up to ``count`` distinct caption suggestions for one post.

    The prompt (topic, voice, variables) is screened first so that a blocked request never reaches a model:
    it raises :class:`PromptRefused`. A generator that raises :class:`GeneratorUnavailable` falls back to
    templates, with a note. Each returned variant has passed the hard-block screening in its final form;
    ``extra_terms`` are the agency's own terms, checked on top of the built-in lists.

    ``own_templates`` (``{"text", "tones"}``) and ``own_hashtag_sets`` (``{"match", "tags"}``, an empty
    ``match`` meaning always) are the agency's own, already chosen for this platform and language; they come
    before the built-in ones.
    """
    rules = _rules(platform)
    if count < 1:
        raise ValueError("count must be at least 1")
    extra = tuple(extra_terms)
    variables = {str(k): "" if v is None else str(v) for k, v in variables.items()}
    _refuse_blocked_prompt(topic, persona_voice, variables, extra)

    used_language, data = _language_data(language)
    if own_templates or own_hashtag_sets:
        data = _with_own(data, rules.platform, own_templates, own_hashtag_sets)
    notes: list[str] = []
    if used_language != (language or "").replace("_", "-").split("-")[0].lower():
        notes.append(f"No caption templates in {language!r}; suggestions are in English.")
    disclosure = disclosure_for(platform, used_language) if ai_generated else ""
    rng = random.Random(_seed(platform, used_language, persona_voice, topic, variables, ai_generated))

    path: Literal["model", "templates"] = "templates"
    bodies: list[tuple[str, list[str]]] = []
    if generator is not None:
        system, user = _prompts(rules, used_language, persona_voice, topic, variables, count, disclosure)
        try:
            answer = generator(system, user)
            outputs = [answer] if isinstance(answer, str) else list(answer)
        except GeneratorUnavailable as exc:
            notes.append(f"The text model is unavailable ({exc}); suggested from templates.")
        else:
            path = "model"
            bodies = [_split_hashtags(str(text)) for text in outputs if str(text).strip()]
    if path == "templates":
        bodies = [(body, []) for body in _template_bodies(data, rules, persona_voice, topic, variables, count, rng)]

    variants: list[Variant] = []
    seen: set[str] = set()
    for number, (raw_body, own_tags) in enumerate(bodies, start=1):
        body = _limit_inline_hashtags(rules, raw_body, disclosure)
        tags = _hashtags(data, rules, topic, body, own_tags, disclosure, rng)
        variant = _compose(rules, body, tags, disclosure)
        if variant is None:
            notes.append(f"Suggestion {number} was dropped: its text is empty once fitted to {platform}.")
            continue
        hits = screen_text(variant.text, extra_terms=extra)
        if hits:
            notes.append(f"Suggestion {number} was dropped: {_describe(hits)}.")
            continue
        if variant.text.casefold() in seen:
            continue
        seen.add(variant.text.casefold())
        variants.append(variant)
        if len(variants) == count:
            break
    if len(variants) < count:
        source = "the model" if path == "model" else "the templates"
        notes.append(f"{len(variants)} of {count} suggestions could be made from {source}.")
    return Suggestions(path=path, variants=variants, notes=notes)


# --- screening ------------------------------------------------------------------------------------------


def _describe(hits: Sequence[HardBlockHit]) -> str:
    found = dict.fromkeys(f"{hit.category.replace('_', '-')} term {hit.excerpt!r}" for hit in hits)
    return "it contains the hard-blocked " + ", ".join(found)


def _refuse_blocked_prompt(topic: str, voice: str, variables: Mapping[str, str], extra: tuple[str, ...]) -> None:
    fields = {"topic": topic or "", "persona voice": voice or ""}
    fields.update({f"variable {name!r}": value for name, value in variables.items()})
    hits = screen_texts(fields, extra_terms=extra)
    if hits:
        reasons = [
            f"the {hit.field} contains the hard-blocked {hit.category.replace('_', '-')} term {hit.excerpt!r} "
            f"at character {hit.start + 1} (listed term {hit.term!r})"
            for hit in hits
        ]
        raise PromptRefused(list(dict.fromkeys(reasons)), hits)


# --- offline path ---------------------------------------------------------------------------------------


def _with_own(
    data: Mapping[str, Any],
    platform: str,
    templates: Sequence[Mapping[str, Any]],
    hashtag_sets: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The language data with the agency's templates and hashtag sets placed first (copied, not mutated)."""
    own = [{"text": str(t["text"]), "tones": list(t.get("tones") or ()), "own": True} for t in templates]
    merged_templates = {**data["templates"], platform: own + list(_per_platform(data["templates"], platform) or [])}
    hashtags = dict(data["hashtags"])
    topics = {f"own-{i}": {"match": list(h["match"]), "tags": list(h["tags"]), "own": True}
              for i, h in enumerate(hashtag_sets) if h.get("match")}
    hashtags["topics"] = {**topics, **hashtags.get("topics", {})}
    always = [tag for h in hashtag_sets if not h.get("match") for tag in h["tags"]]
    hashtags["own_generic"] = always
    return {**data, "templates": merged_templates, "hashtags": hashtags}


def _seed(platform: str, language: str, voice: str, topic: str, variables: Mapping[str, str], ai: bool) -> int:
    """Same request, same suggestions: an editor who asks twice should not see the list reshuffle."""
    key = json.dumps([platform, language, voice, topic, sorted(variables.items()), ai], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _tones(data: Mapping[str, Any], voice: str) -> set[str]:
    words = set(re.findall(r"\w+", voice.casefold()))
    return {tone for tone, keywords in data.get("tones", {}).items() if words & {k.casefold() for k in keywords}}


def _template_bodies(
    data: Mapping[str, Any],
    rules: PlatformRules,
    voice: str,
    topic: str,
    variables: Mapping[str, str],
    count: int,
    rng: random.Random,
) -> list[str]:
    """Template texts with every field filled, templates in the persona's tone first.

    A template whose field has no value (no ``day`` given, say) is left out rather than guessed. More bodies
    than asked are returned so that dropped or duplicate ones can be replaced.
    """
    templates = _per_platform(data["templates"], rules.platform) or []
    ctas = list(_per_platform(data["ctas"], rules.platform) or [""])
    values = {"topic": topic.strip(), **{k: v for k, v in variables.items() if v.strip()}}
    tones = _tones(data, voice)
    usable = [t for t in templates if _fields(t["text"]) <= set(values) | {"cta"}]
    preferred = [t for t in usable if tones & set(t.get("tones", ()))]
    others = [t for t in usable if t not in preferred]
    rng.shuffle(preferred)
    rng.shuffle(others)
    rng.shuffle(ctas)
    ordered = preferred + others
    ordered = [t for t in ordered if t.get("own")] + [t for t in ordered if not t.get("own")]
    bodies = []
    for i, template in enumerate(ordered):
        filled = {**values}
        filled.setdefault("cta", ctas[i % len(ctas)])
        text = template["text"].format_map(filled)
        bodies.append(" ".join(text.split()) if rules.single_line else text.strip())
    return bodies[: max(count * 3, count + 5)]


def _hashtag_of(words: str) -> str:
    """ "beach day" → "BeachDay"; empty when the words cannot make a hashtag."""
    parts = re.findall(r"[^\W_]+", words)
    if not parts or len(parts) > 4:
        return ""
    tag = "".join(p[:1].upper() + p[1:] for p in parts)
    return tag if len(tag) <= 30 and not tag.isdigit() else ""


def _hashtags(
    data: Mapping[str, Any],
    rules: PlatformRules,
    topic: str,
    body: str,
    own: Sequence[str],
    disclosure: str,
    rng: random.Random,
) -> list[str]:
    """The topical tags for one suggestion: the model's own, the topic's, its sets', then the platform's.

    Hashtags already in the body or the disclosure count against the platform's norm, so the total in the
    text stays within it.
    """
    present = _HASHTAG.findall(body) + _HASHTAG.findall(disclosure)
    budget = min(rules.hashtags, rules.max_hashtags - len(present))
    if budget <= 0:
        return []
    topic_words = set(re.findall(r"\w+", topic.casefold()))
    matched: list[str] = []
    own_matched: list[str] = []
    for group in data["hashtags"].get("topics", {}).values():
        if topic_words & {m.casefold() for m in group.get("match", ())}:
            (own_matched if group.get("own") else matched).extend(group["tags"])
    generic = list(_per_platform(data["hashtags"].get("generic", {}), rules.platform) or [])
    own_generic = list(data["hashtags"].get("own_generic", ()))
    rng.shuffle(matched)
    rng.shuffle(generic)
    taken: dict[str, str] = {}
    disclosed = {t.casefold() for t in present}
    for tag in [*own, *own_matched, _hashtag_of(topic), *own_generic, *matched, *generic]:
        tag = tag.lstrip("#")
        if tag and tag.casefold() not in taken and tag.casefold() not in disclosed:
            taken[tag.casefold()] = tag
    return list(taken.values())[:budget]


# --- generator path -------------------------------------------------------------------------------------

_TRAILING_HASHTAGS = re.compile(r"(?:(?:^|\s+)#[^\W_]\w*)+\s*$")


def _split_hashtags(text: str) -> tuple[str, list[str]]:
    """Model text → (body, its closing hashtags): those are placed by the platform's norms, not the model's."""
    match = _TRAILING_HASHTAGS.search(text.strip())
    if match is None:
        return text.strip(), []
    return text.strip()[: match.start()].strip(), _HASHTAG.findall(match.group())


def _limit_inline_hashtags(rules: PlatformRules, body: str, disclosure: str) -> str:
    """Hashtags a model wrote inside a sentence stay as words once the platform's ceiling is reached
    (always, in a Reddit title)."""
    allowed = rules.max_hashtags - len(_HASHTAG.findall(disclosure))
    kept = 0

    def keep_or_unhash(match: re.Match[str]) -> str:
        nonlocal kept
        kept += 1
        return match.group() if kept <= allowed else match.group(1)

    return _HASHTAG.sub(keep_or_unhash, body)


def _prompts(
    rules: PlatformRules,
    language: str,
    voice: str,
    topic: str,
    variables: Mapping[str, str],
    count: int,
    disclosure: str,
) -> tuple[str, str]:
    kind = "a post title on one line, without hashtags" if rules.single_line else "a caption"
    room = (
        rules.max_length
        - (rules.measure(disclosure) + 2 if disclosure else 0)
        - (12 * rules.hashtags + 2 if rules.hashtags else 0)
    )
    system = (
        f"You write {kind} for {rules.platform} in the language '{language}', in the persona's voice.\n"
        f"Voice guide: {voice.strip() or 'natural and friendly'}\n"
        f"Write {count} different suggestions, each under {max(room, 40)} characters, one per answer. "
        "Never mention age, school or anything suggesting a minor, and nothing non-consensual. "
        "Do not add an AI label; it is added afterwards."
    )
    details = "\n".join(f"- {name}: {value}" for name, value in sorted(variables.items()))
    user = f"Topic: {topic.strip()}" + (f"\nDetails:\n{details}" if details else "")
    return system, user


# --- fitting --------------------------------------------------------------------------------------------


def _assemble(rules: PlatformRules, body: str, tags: Sequence[str], disclosure: str) -> str:
    tag_text = " ".join(f"#{t}" for t in tags)
    if rules.single_line:
        return " ".join(p for p in (body, disclosure) if p)
    if rules.block_hashtags:
        # Instagram's habit: the label under the caption, the hashtags in a block of their own below.
        return rules.separator.join(p for p in (body, disclosure, tag_text) if p)
    # Elsewhere the few hashtags close the sentence and the label gets its own line, where it is seen.
    head = " ".join(p for p in (body, tag_text) if p)
    return rules.separator.join(p for p in (head, disclosure) if p)


def _trim(rules: PlatformRules, body: str, tags: Sequence[str], disclosure: str) -> str | None:
    """The longest prefix of ``body`` (cut between words where possible, then "…") that fits."""
    clusters = regex.findall(r"\X", body)
    lo, hi = 0, len(clusters)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = "".join(clusters[:mid]).rstrip() + ELLIPSIS
        if rules.fits(_assemble(rules, candidate, tags, disclosure)):
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return None
    cut = "".join(clusters[:lo])
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    cut = cut.rstrip(" ,;:-—–")
    return cut + ELLIPSIS if cut else None


def _compose(rules: PlatformRules, body: str, tags: Sequence[str], disclosure: str) -> Variant | None:
    """The final text within the limit: hashtags give way when the body would shrink to nothing, then the
    body is cut. The disclosure is never shortened."""
    body = " ".join(body.split()) if rules.single_line else body.strip()
    if not body:
        return None
    tags = list(tags)
    text = _assemble(rules, body, tags, disclosure)
    while not rules.fits(text):
        room = rules.max_length - rules.measure(_assemble(rules, "", tags, disclosure))
        if tags and room < MIN_BODY_ROOM:
            tags.pop()
            text = _assemble(rules, body, tags, disclosure)
            continue
        trimmed = _trim(rules, body, tags, disclosure)
        if trimmed is None:
            if tags:
                tags.pop()
                text = _assemble(rules, body, tags, disclosure)
                continue
            return None
        text = _assemble(rules, trimmed, tags, disclosure)
        break
    return Variant(text=text, hashtags=tags, length=rules.measure(text), fits=rules.fits(text))
