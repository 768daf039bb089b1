"""Screening of captions, prompts and tags for any sign of a minor or of non-consent.

Why a hard block: the card networks (Mastercard AN 5196, Visa's adult-content rules) and the platforms we
publish to (OnlyFans and Fanvue acceptable-use policies) prohibit adult content that suggests a minor or a
non-consensual act, whatever the picture shows. A miss can cost the agency its payment processing and a
creator their account; a false positive costs an editor one rewording. So the built-in lists cannot be
switched off: a caller may add terms (``extra_terms``) and has no way to remove one.

Why the normalisation: people who want a word past a filter write it "t33n", "t e e n", "ｔｅｅｎ", "tееn"
(Cyrillic е), "teeeen" or "#TeenGirl". Matching runs on a folded copy of the text (NFKC, casefold,
diacritics stripped, look-alike Cyrillic/Greek/small-capital letters mapped to Latin, camelCase split) and
every term becomes a pattern that tolerates leetspeak, repeated letters and letters spelled out with
separators, while still requiring word boundaries so that "canteen", "grape", "therapist" or "kidding"
pass. Ages only count next to an age word ("15 yo", "16 años"), so "fifteen minutes" passes.

Term files: ``compliance/terms/<language>.txt``, UTF-8
---------------------------------------------------
Every list applies to every text whatever its language; the file name only labels the hit. Blank lines
and lines starting with "#" are ignored; "[section]" starts a section:

``[minor]``, ``[non_consent]``
    One term per line; the section is the hit's category. Within a term:

    - ``a b``: the words may be spaced, joined or separated by any punctuation: "high school" also
      matches "highschool", "high-school" and "#HighSchool".
    - ``a-b``: the parts may be joined or hyphenated but not spaced: "age-play" matches "ageplay", not
      "does age play a role?".
    - ``term*``: the term may start a longer word ("kidnap*" matches "kidnapped").
    - ``*term``: the term may end a longer word. Use sparingly, with ``[allow]`` entries.
    - ``=term``: the term's diacritics are required ("=niña" blocks "niña", not the name "Nina").
``[allow]``
    Words that contain a match but are not one ("canteen" for ``*teen*``, "râpé" for "rape"). Compared
    case-insensitively with diacritics kept; ``word*``, ``*word`` and ``*word*`` allow every word that
    starts with, ends with or contains ``word``. An entry of several words is a phrase (folded like the
    text) inside which no match counts: the disclaimer "keine Minderjährigen" ("no minors").
``[age_number]``
    ``<value> <word>``: spelled-out numbers from 1 to 17 ("16 sixteen").
``[age_unit]``
    Phrases that make the number before them an age ("years old", "años de edad"); ages 1 to 17 are
    hits. A trailing "*" lets the phrase start a longer word ("jährig*" for "15-jährige"). Phrases of
    fewer than three letters ("yo", "y/o") only count after digits: "um yo" is a greeting.
``[age_unit_weak]``
    Year nouns that also measure durations ("ans", "años", "Jahre"): only 10 to 17 count, and not when a
    duration word from ``[age_not_before]`` precedes the number or one from ``[age_not_after]`` follows
    the unit ("depuis 15 ans", "15 anni fa").
``[age_prefix]``
    Phrases that make the number after them an age ("aged 15", "âgée de 16").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

__all__ = [
    "AGE_TERM",
    "CUSTOM",
    "HARD_CATEGORIES",
    "MINOR",
    "NON_CONSENT",
    "TERMS_DIR",
    "HardBlockHit",
    "builtin_terms",
    "screen_text",
    "screen_texts",
    "term_counts",
]

MINOR = "minor"
NON_CONSENT = "non_consent"
CUSTOM = "custom"
HARD_CATEGORIES = frozenset({MINOR, NON_CONSENT})
AGE_TERM = "age under 18"

TERMS_DIR = Path(__file__).with_name("terms")
# Shared terms are reported under the first language that lists them.
_LANGUAGE_ORDER = ("en", "fr", "es", "de", "it", "pt", "nl", "pl", "ru")
_SECTIONS = frozenset(
    {
        MINOR,
        NON_CONSENT,
        "allow",
        "age_number",
        "age_unit",
        "age_unit_weak",
        "age_prefix",
        "age_not_before",
        "age_not_after",
    }
)


@dataclass(frozen=True, slots=True)
class HardBlockHit:
    """One match, with enough context for a reviewer to see why the text was refused.

    ``excerpt`` is the span of the original text, as written (obfuscated or not), and ``start``/``end``
    locate it, so an editor can find and reword it. ``field`` is set by :func:`screen_texts`.
    """

    term: str
    category: str
    language: str
    excerpt: str
    start: int
    end: int
    field: str | None = None

    @property
    def hard(self) -> bool:
        """Built-in categories can never be waived; custom terms are the agency's own policy."""
        return self.category in HARD_CATEGORIES


# --- normalisation ------------------------------------------------------------------------------------

# Greek capitals look like a Latin letter that differs from what their lower-case form looks like
# (Η is "H" but η is "n"), so they are mapped before casefolding.
_BEFORE_CASEFOLD = str.maketrans(
    {
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
# Lower-case look-alikes. Cyrillic capitals casefold onto these, so upper- and lower-case spoofs and the
# Russian term list all fold the same way.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ӏ": "l", "ү": "y",
        "һ": "h", "ԛ": "q", "ԝ": "w",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u",
        # Latin letters without a decomposition
        "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe",
        "þ": "th", "ŋ": "n", "ɑ": "a", "ɡ": "g",
        # small capitals
        "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
        "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s",
        "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
        # apostrophes
        "’": "'", "‘": "'", "ʼ": "'", "′": "'",
    }
)  # fmt: skip


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    s = unicodedata.normalize("NFKC", ch).translate(_BEFORE_CASEFOLD).casefold()
    s = unicodedata.normalize("NFKD", s)
    # Combining marks carry diacritics and "Zalgo"/strike-through decorations; format characters
    # (zero-width space/joiner, soft hyphen) are used to split a word invisibly.
    s = "".join(c for c in s if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return s.translate(_LOOKALIKES)


def _fold(text: str) -> str:
    return "".join(c.lower() if c.isascii() else _fold_char(c) for c in text)


def _fold_keep_marks(text: str) -> str:
    """Folding that keeps diacritics, for the few decisions that depend on them (``=term``, allow)."""
    s = unicodedata.normalize("NFKC", text).translate(_BEFORE_CASEFOLD).casefold()
    return unicodedata.normalize("NFC", s).translate(_LOOKALIKES)


# A camelCase boundary (two lower-case letters, then a capital followed by a lower-case letter: "TeenGirl",
# not the alternating "tEeN"), or a non-ASCII character that needs folding.
_VIEW_SPLIT = re.compile(r"(?<=[a-zß-öø-ÿ]{2})(?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ])|[^\x00-\x7f]")


def _view(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and keep, for every folded character, the index of the original one."""
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for m in _VIEW_SPLIT.finditer(text):
        start = m.start()
        if start > pos:
            parts.append(text[pos:start].lower())
            index.extend(range(pos, start))
        if m.end() == start:
            parts.append(" ")
            index.append(start)
        else:
            folded = _fold_char(text[start])
            parts.append(folded)
            index.extend([start] * len(folded))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:].lower())
        index.extend(range(pos, len(text)))
    return "".join(parts), index


# --- term patterns ------------------------------------------------------------------------------------

_LEET = {
    "a": "4@^",
    "b": "8",
    "c": "¢",
    "e": "3€",
    "g": "69",
    "i": "1!|¡",
    "l": "1|",
    "o": "0°",
    "s": "5$§",
    "t": "7+†",
    "z": "2",
}
# "teeeeen" is still "teen"; longer runs than this are not worth the matching time.
_MAX_REPEAT = 20
_LOOSE_JOIN = r"[\s._\-*~/·•#+]{0,3}"
_TIGHT_JOIN = r"[._\-]?"
_SPACED_SEPARATORS = " \t\n\r\f\v._-*~/\\·•:,'\"`="
_SPACED_JOIN = "[" + re.escape(_SPACED_SEPARATORS) + "]{1,3}"
# The match must end on a letter or digit ("lol!" is not "loli") and not run on into a letter.
_END = r"(?<=[^\W_])(?![^\W\d_])"
_OPEN_END = r"(?<=[^\W_])"
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_WORD = re.compile(r"[^\W\d_]+")


def _variants(c: str) -> str:
    return c + _LEET.get(c, "")


def _char_class(c: str) -> str:
    alts = _variants(c)
    if len(alts) == 1:
        return re.escape(c)
    return "[" + "".join(re.escape(a) for a in alts) + "]"


@dataclass(frozen=True, slots=True)
class _Term:
    term: str
    category: str
    language: str
    parts: tuple[tuple[str, str], ...]  # (joiner before the part: "", " " or "-", folded part)
    infix: bool
    open_end: bool
    marks: str

    @property
    def key(self) -> tuple[object, ...]:
        return (self.category, self.parts, self.infix, self.open_end, self.marks)

    @property
    def weight(self) -> int:
        return sum(ch.isalnum() for _, part in self.parts for ch in part)

    def compact_units(self) -> list[str]:
        """Pattern units; a run of one letter (the "ee" of "teen") becomes one bounded repeat.

        Repeats are bounded and, where the next letter cannot match the same characters, possessive, so
        a hostile "teeeee…" or "1111…" costs linear time instead of backtracking without end. A letter
        starts with its bare character class: re rejects a branch that starts with one without entering
        it, which keeps the factored pattern (see _trie_pattern) cheap.
        """
        out: list[str] = []
        for joiner, part in self.parts:
            if joiner:
                out.append(_LOOSE_JOIN if joiner == " " else _TIGHT_JOIN)
            runs = [(ch, len(run)) for ch, run in ((m[0][0], m[0]) for m in re.finditer(r"(.)\1*", part))]
            for k, (ch, count) in enumerate(runs):
                if not ch.isalpha():
                    out.append(re.escape(ch) * count if ch.isdigit() else re.escape(ch) + "?")
                    continue
                cls = _char_class(ch)
                following = runs[k + 1][0] if k + 1 < len(runs) else ""
                possessive = following.isalpha() and not set(_variants(ch)) & set(_variants(following))
                out += [cls, f"{cls}{{{count - 1},{count - 1 + _MAX_REPEAT}}}{'+' if possessive else ''}"]
        return out

    def spaced_units(self) -> list[str] | None:
        chars = [ch for _, part in self.parts for ch in part if ch.isalnum()]
        if sum(ch.isalpha() for ch in chars) < 3:
            return None
        units = [_char_class(ch) if ch.isalpha() else re.escape(ch) for ch in chars]
        return [units[0]] + [_SPACED_JOIN + unit for unit in units[1:]]


def _trie_pattern(entries: list[tuple[list[str], str]]) -> str:
    """One alternation with shared prefixes factored out, so each position is tried once per prefix.

    ``entries`` are (units, leaf) in order of preference; a leaf is an empty named group that tells which
    term matched, followed by its end condition.
    """
    root: dict[str, dict] = {}
    for units, leaf in entries:
        node = root
        for unit in units:
            node = node.setdefault(unit, {})
        node.setdefault("", {})[leaf] = {}

    def render(node: dict[str, dict]) -> str:
        alternatives = [unit + render(child) for unit, child in node.items() if unit]
        alternatives += list(node.get("", {}))  # after the longer continuations: longest match wins
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return render(root)


def _parse_term(spec: str, category: str, language: str) -> _Term | None:
    s = spec.strip()
    keep_marks = s.startswith("=")
    s = s.removeprefix("=")
    infix = s.startswith("*")
    s = s.removeprefix("*")
    open_end = s.endswith("*")
    s = " ".join(s.removesuffix("*").split())
    parts: list[tuple[str, str]] = []
    for word in s.split(" "):
        for j, piece in enumerate(word.split("-")):
            folded = _fold(piece)
            if any(ch.isalnum() for ch in folded):
                parts.append(("" if not parts else "-" if j else " ", folded))
    if not parts:
        return None
    marks = "".join(sorted(set(_fold_keep_marks(s)) - set(_fold(s)))) if keep_marks else ""
    return _Term(s, category, language, tuple(parts), infix, open_end, marks)


@dataclass(frozen=True, slots=True)
class _Allow:
    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    infixes: tuple[str, ...] = ()
    phrases: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> _Allow:
        exact, prefixes, suffixes, infixes, phrases = set(), set(), set(), set(), set()
        for raw in entries:
            if " " in raw.strip():
                words = _fold(raw).split()
                phrases.add(
                    _NOT_AFTER_LETTER + r"[\s._\-]{1,3}".join(map(re.escape, words)) + r"(?![^\W\d_])"
                )
                continue
            word = _fold_keep_marks(raw.strip())
            starts, ends = word.startswith("*"), word.endswith("*")
            core = word.strip("*")
            if not core:
                continue
            if starts and ends:
                infixes.add(core)
            elif starts:
                suffixes.add(core)
            elif ends:
                prefixes.add(core)
            else:
                exact.add(core)
        return cls(
            frozenset(exact),
            tuple(sorted(prefixes)),
            tuple(sorted(suffixes)),
            tuple(sorted(infixes)),
            tuple(re.compile(p) for p in sorted(phrases)),
        )

    def __contains__(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        return (
            token in self.exact
            or token.startswith(self.prefixes)
            or token.endswith(self.suffixes)
            or any(core in token for core in self.infixes)
        )

    def phrase_covers(self, view: str, vstart: int, vend: int) -> bool:
        """Whether the match lies inside an allowed phrase ("keine Minderjährigen": a disclaimer)."""
        lo, hi = max(0, vstart - 80), min(len(view), vend + 80)
        return any(
            m.start() <= vstart and vend <= m.end() for rx in self.phrases for m in rx.finditer(view, lo, hi)
        )


# --- ages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AgePhrase:
    language: str
    folded: str
    open_end: bool

    @property
    def letters(self) -> int:
        return sum(ch.isalpha() for ch in self.folded)

    def pattern(self) -> str:
        words = [w for w in re.split(r"[\s\-]+", self.folded) if w]
        body = r"[\s\-_.]{0,3}".join(re.escape(w) for w in words)
        return body if self.open_end else body + r"(?![^\W\d_])"


@dataclass(slots=True)
class _AgeRules:
    numbers: dict[str, int] = field(default_factory=dict)
    units: list[_AgePhrase] = field(default_factory=list)
    weak_units: list[_AgePhrase] = field(default_factory=list)
    prefixes: list[_AgePhrase] = field(default_factory=list)
    not_before: set[tuple[str, ...]] = field(default_factory=set)
    not_after: set[tuple[str, ...]] = field(default_factory=set)


def _phrase(entry: str, language: str) -> _AgePhrase:
    s = entry.strip()
    return _AgePhrase(language, _fold(s.removesuffix("*")), s.endswith("*"))


def _alternation(items: Iterable[str]) -> str:
    return "|".join(sorted(set(items), key=lambda s: (-len(s), s)))


class _AgeMatcher:
    """Numbers from 1 to 17 next to a word that makes them an age."""

    _DIGITS = r"(?<!\d)(?:1[0-7]|0?[1-9])(?!\d)"
    _NUMBER_SEP = r"[\s\-_.]{0,3}"

    def __init__(self, rules: _AgeRules) -> None:
        self._rules = rules
        words = {w: v for w, v in rules.numbers.items() if 1 <= v <= 17}
        self._values = {re.sub(r"[\s\-]+", "", w): v for w, v in words.items()}
        self._word_patterns = {w: r"[\s\-]?".join(map(re.escape, re.split(r"[\s\-]+", w))) for w in words}
        self._phrases: dict[str, _AgePhrase] = {}
        units = self._named("u", rules.units)
        weak = self._named("w", rules.weak_units)
        # Two-letter units ("yo", "y/o") only after digits: "um yo" is a greeting, not an age.
        self._units_after_words = "|".join(alt for phrase, alt in units if phrase.letters >= 3)
        self._units_after_digits = "|".join(alt for _, alt in units)
        self._weak = "|".join(alt for _, alt in weak)
        firsts = set("0123456789") | {w[0] for w in words} | {p.folded[0] for p in rules.prefixes}
        self.buckets = {c: re.compile(p) for c in sorted(firsts) if (p := self._bucket_pattern(c))}
        # Number words and prefixes are plain letters in the folded text: most word starts can be
        # ruled out by their first two characters before running a pattern.
        self._openings = frozenset(w[:2] for w in words) | frozenset(p.folded[:2] for p in rules.prefixes)

    def match(self, view: str, pos: int) -> re.Match[str] | None:
        ch = view[pos]
        rx = self.buckets.get(ch)
        if rx is None or (not ch.isdigit() and view[pos : pos + 2] not in self._openings):
            return None
        return rx.match(view, pos)

    def _named(self, kind: str, phrases: list[_AgePhrase]) -> list[tuple[_AgePhrase, str]]:
        named = []
        for i, phrase in enumerate(phrases):
            self._phrases[f"{kind}{i}"] = phrase
            # The group that names the phrase is an empty marker at its end, so each alternative starts
            # with a literal and re can reject it without entering it.
            named.append((phrase, f"{phrase.pattern()}(?P<{kind}{i}>)"))
        return named

    def _bucket_pattern(self, c: str) -> str:
        alts: list[str] = []
        if c.isdigit():
            number, units = self._DIGITS, self._units_after_digits
        else:
            number = _alternation(p for w, p in self._word_patterns.items() if w[0] == c)
            units = self._units_after_words
        unit_alts = "|".join(a for a in (units, self._weak) if a)
        if number and unit_alts:
            alts.append(f"(?P<num>{number}){self._NUMBER_SEP}(?:{unit_alts})")
        prefixes = [
            f"{phrase.pattern()}(?P<p{i}>)"
            for i, phrase in enumerate(self._rules.prefixes)
            if phrase.folded[0] == c
        ]
        for i, phrase in enumerate(self._rules.prefixes):
            self._phrases[f"p{i}"] = phrase
        if prefixes:
            any_number = _alternation([self._DIGITS, *self._word_patterns.values()])
            alts.append(f"(?:{'|'.join(prefixes)})[\\s:.\\-_]{{0,3}}(?P<pnum>{any_number})(?![^\\W_])")
        return "|".join(alts)

    def _value(self, number: str) -> int:
        if number.isdigit():
            return int(number)
        return self._values.get(re.sub(r"[\s\-]+", "", number), 0)

    def accept(self, m: re.Match[str], view: str) -> str | None:
        """The language of an age hit, or None when the context says the number is a duration."""
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        name = next(k for k in groups if k[0] in "uwp" and k[1:].isdigit())
        if name[0] == "w":
            if not 10 <= self._value(groups["num"]) <= 17:
                return None
            before = tuple(_WORD.findall(view[max(0, m.start() - 40) : m.start()])[-3:])
            after = tuple(_WORD.findall(view[m.end() : m.end() + 40])[:3])
            if any(before[-len(p) :] == p for p in self._rules.not_before):
                return None
            if any(after[: len(p)] == p for p in self._rules.not_after):
                return None
        return self._phrases[name].language


# --- matcher ------------------------------------------------------------------------------------------


class _Matcher:
    """Compiled term lists; built once per list and reused for every text."""

    def __init__(self, terms: list[_Term], allow: _Allow, ages: _AgeMatcher | None) -> None:
        self.terms = terms
        self._allow = allow
        self._ages = ages
        grouped: dict[str, list[tuple[int, int, list[str], str]]] = {}
        self._infix: list[tuple[int, re.Pattern[str]]] = []
        for i, term in enumerate(terms):
            end = _OPEN_END if term.open_end else _END
            alternatives: list[tuple[int, list[str], str]] = []
            if term.infix:
                self._infix.append((i, re.compile("".join(term.compact_units()) + end)))
            else:
                alternatives.append((0, term.compact_units(), f"(?P<c{i}>){end}"))
            spaced = term.spaced_units()
            if spaced:
                alternatives.append((1, spaced, f"(?P<s{i}>){end}"))
            first = next(ch for ch in term.parts[0][1] if ch.isalnum())
            for key in _variants(first):
                for rank, units, leaf in alternatives:
                    grouped.setdefault(key, []).append((-term.weight, rank, units, leaf))
        self._buckets = {
            key: re.compile(
                _trie_pattern([(units, leaf) for *_, units, leaf in sorted(alts, key=lambda a: a[:2])])
            )
            for key, alts in grouped.items()
        }
        keys = set(self._buckets) | set(ages.buckets if ages else ())
        # A term may start after a digit or symbol ("2kids", "#teen"), but not in the middle of a run of
        # digits or leet symbols: "1111…" would otherwise be tried at every position.
        letters = "".join(re.escape(k) for k in sorted(keys) if k.isalpha())
        others = "".join(re.escape(k) for k in sorted(keys) if not k.isalpha())
        alternatives = [f"[{letters}]"] if letters else []
        if others:
            alternatives.append(f"(?<![{others}])[{others}]")
        self._candidates = (
            re.compile(f"{_NOT_AFTER_LETTER}(?:{'|'.join(alternatives)})") if alternatives else None
        )

    def scan(self, text: str, view: str, index: list[int]) -> list[HardBlockHit]:
        hits: list[HardBlockHit] = []
        spans: list[tuple[int, int]] = []
        covered = 0
        for candidate in self._candidates.finditer(view) if self._candidates else ():
            pos = candidate.start()
            if pos < covered:
                continue
            ch = view[pos]
            rx = self._buckets.get(ch)
            if rx is not None and (m := rx.match(view, pos)) is not None:
                term = self.terms[int(m.lastgroup[1:])]  # type: ignore[index]
                hit = self._accept(term, text, view, index, pos, m.end())
                if hit is not None:
                    hits.append(hit)
                    spans.append((pos, m.end()))
                    covered = m.end()
                    continue
            if self._ages is not None and (m := self._ages.match(view, pos)) is not None:
                language = self._ages.accept(m, view)
                if language is not None:
                    start, end = index[pos], _original_end(text, index, _word_bounds(view, pos, m.end())[1])
                    hits.append(HardBlockHit(AGE_TERM, MINOR, language, text[start:end], start, end))
                    spans.append((pos, m.end()))
                    covered = m.end()
        for i, rx in self._infix:
            for m in rx.finditer(view):
                if any(s < m.end() and m.start() < e for s, e in spans):
                    continue
                hit = self._accept(self.terms[i], text, view, index, m.start(), m.end())
                if hit is not None:
                    hits.append(hit)
                    spans.append(m.span())
        return hits

    def _accept(
        self, term: _Term, text: str, view: str, index: list[int], vstart: int, vend: int
    ) -> HardBlockHit | None:
        span = view[vstart:vend]
        letters = sum(ch.isalpha() for ch in span)
        others = sum(not ch.isalpha() and ch not in _SPACED_SEPARATORS for ch in span)
        if letters < others:  # "1011" is a number, not "loli"
            return None
        start, end = index[vstart], _original_end(text, index, vend)
        excerpt = text[start:end]
        if term.marks:
            marked = _fold_keep_marks(excerpt)
            if not all(mark in marked for mark in term.marks):
                return None
        i, j = _word_bounds(view, vstart, vend)
        if _fold_keep_marks(text[index[i] : index[j - 1] + 1]) in self._allow:
            return None
        if self._allow.phrases and self._allow.phrase_covers(view, vstart, vend):
            return None
        if term.infix or term.open_end:  # show the whole word ("vergewaltigt"), not the listed stem
            start, end = index[i], _original_end(text, index, j)
            excerpt = text[start:end]
        return HardBlockHit(term.term, term.category, term.language, excerpt, start, end)


def _original_end(text: str, index: list[int], vend: int) -> int:
    """End of the original span, including the invisible or combining characters folding dropped."""
    end = index[vend - 1] + 1
    while end < len(text) and (unicodedata.combining(text[end]) or unicodedata.category(text[end]) == "Cf"):
        end += 1
    return end


def _word_bounds(view: str, vstart: int, vend: int) -> tuple[int, int]:
    i, j = vstart, vend
    while i > 0 and view[i - 1].isalpha():
        i -= 1
    while j < len(view) and view[j].isalpha():
        j += 1
    return i, j


# --- loading ------------------------------------------------------------------------------------------


def _read_term_file(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in _SECTIONS:
                raise ValueError(f"{path.name}:{lineno}: unknown section [{current}]")
            sections.setdefault(current, [])
            continue
        if current is None:
            raise ValueError(f"{path.name}:{lineno}: entry outside a section")
        sections[current].append(line)
    return sections


def _term_files() -> list[tuple[str, Path]]:
    files = {p.stem: p for p in TERMS_DIR.glob("*.txt")}
    order = [lang for lang in _LANGUAGE_ORDER if lang in files] + sorted(set(files) - set(_LANGUAGE_ORDER))
    return [(lang, files[lang]) for lang in order]


@lru_cache(maxsize=1)
def _builtin() -> tuple[_Matcher, dict[str, int]]:
    terms: dict[tuple[object, ...], _Term] = {}
    counts: dict[str, int] = {}
    allow: list[str] = []
    rules = _AgeRules()
    for language, path in _term_files():
        sections = _read_term_file(path)
        counts[language] = 0
        for category in (MINOR, NON_CONSENT):
            for spec in sections.get(category, []):
                term = _parse_term(spec, category, language)
                if term is None:
                    raise ValueError(f"{path.name}: empty term {spec!r}")
                counts[language] += 1
                terms.setdefault(term.key, term)
        allow.extend(sections.get("allow", []))
        for entry in sections.get("age_number", []):
            value, _, word = entry.partition(" ")
            rules.numbers[_fold(word.strip())] = int(value)
        rules.units.extend(_phrase(e, language) for e in sections.get("age_unit", []))
        rules.weak_units.extend(_phrase(e, language) for e in sections.get("age_unit_weak", []))
        rules.prefixes.extend(_phrase(e, language) for e in sections.get("age_prefix", []))
        rules.not_before.update(tuple(_fold(e).split()) for e in sections.get("age_not_before", []))
        rules.not_after.update(tuple(_fold(e).split()) for e in sections.get("age_not_after", []))
    rules.prefixes = list({p.folded: p for p in reversed(rules.prefixes)}.values())[::-1]
    return _Matcher(list(terms.values()), _Allow.from_entries(allow), _AgeMatcher(rules)), counts


@lru_cache(maxsize=128)
def _custom(specs: tuple[str, ...]) -> _Matcher:
    terms = {}
    for spec in specs:
        term = _parse_term(spec, CUSTOM, CUSTOM)
        if term is not None:
            terms.setdefault(term.key, term)
    return _Matcher(list(terms.values()), _Allow(), None)


# --- public API ---------------------------------------------------------------------------------------


def screen_text(text: str, *, extra_terms: Iterable[str] = ()) -> list[HardBlockHit]:
    """Every hard-blocked term in ``text``, in reading order; an empty list means the text may pass.

    ``extra_terms`` (same syntax as a term file line) are checked on top of the built-in lists and are
    reported with category ``"custom"``; there is deliberately no way to leave a built-in term out.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    specs = _extra_specs(extra_terms)
    if not text:
        return []
    view, index = _view(text)
    matcher, _ = _builtin()
    hits = matcher.scan(text, view, index)
    if specs:
        hits.extend(_custom(specs).scan(text, view, index))
    unique = {(h.start, h.end, h.term, h.category): h for h in hits}
    return sorted(unique.values(), key=lambda h: (h.start, h.end, not h.hard, h.category, h.term))


def screen_texts(texts: Mapping[str, str], *, extra_terms: Iterable[str] = ()) -> list[HardBlockHit]:
    """Screen several named fields (caption, prompt, tags...) at once; each hit names its field.

    Fields are visited in sorted order so the result does not depend on how the mapping was built.
    """
    specs = _extra_specs(extra_terms)
    hits: list[HardBlockHit] = []
    for name in sorted(texts):
        hits.extend(replace(hit, field=name) for hit in screen_text(texts[name], extra_terms=specs))
    return hits


def builtin_terms() -> tuple[tuple[str, str, str], ...]:
    """(term, category, language) of every built-in term, for review screens and tests."""
    matcher, _ = _builtin()
    return tuple((t.term, t.category, t.language) for t in matcher.terms)


def term_counts() -> dict[str, int]:
    """Number of term lines per language file (a term listed in two files counts in both)."""
    return dict(_builtin()[1])


def _extra_specs(extra_terms: Iterable[str]) -> tuple[str, ...]:
    if isinstance(extra_terms, str):
        raise TypeError("extra_terms must be an iterable of terms, not a single string")
    specs = []
    for spec in extra_terms:
        if not isinstance(spec, str):
            raise TypeError(f"extra terms must be strings, not {type(spec).__name__}")
        if spec.strip():
            specs.append(spec.strip())
    return tuple(sorted(set(specs)))
