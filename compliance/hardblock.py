"""Screening of captions, prompts and tags for any sign of a minor or of non-consent.

Why a hard block: the card networks (Mastercard AN 5196, Visa's adult-content rules) and the platforms we
publish to (OnlyFans and Fanvue acceptable-use policies) prohibit adult content that suggests a minor or a
non-consensual act, whatever the picture shows. A miss can cost the agency its payment processing and a
creator their account; a false positive costs an editor one rewording. So the built-in lists cannot be
switched off: a caller may add terms (``extra_terms``) and has no way to remove one.

Why the normalisation: people who want a word past a filter write it "t33n", "733n", "t e e n", "te en",
"t>e>e>n", "ra.pe", "ｔｅｅｎ", "tееn" (Cyrillic е), "пorno" (Cyrillic п), "schooIgirl" (capital I for l),
"teeeen", with invisible characters inside (U+200B, U+034F, U+FE0F, U+3164, U+2800) or run together in a
hashtag ("#sixteenschoolgirl", "bigtitsteen"). Matching runs on a folded copy of the text (NFKC, casefold,
diacritics and Default_Ignorable characters stripped, look-alikes mapped to Latin with the Unicode UTS #39
confusables data of the ``confusables`` package, camelCase split) and every term becomes a pattern that
tolerates leetspeak, repeated letters and letters spelled out with separators, while still requiring word
boundaries so that "canteen", "grape", "therapist" or "kidding" pass. A second reading of the words that
have marks inside or a mixed-case I removes those marks and reads the I as I or l. Inside a run-together word
a blocked word counts when what touches it on each side is the edge of the word, another blocked word, an
allowed word, a spelled-out age or a ``[context]`` word ("#hotkid", "canteenrape"), so "kidney" passes. Ages
only count next to an age word ("15 yo", "16 años", "I'm 17"), so "fifteen minutes" passes, and not for a
career ("16 ans d'expérience") or a pet ("my dog is 3 years old"). Chinese, Japanese and Korean terms match
anywhere, as those languages have no spaces between words.

Why allowed words excuse only their own letters: an allow entry checked against the whole word around a
match let an allowed fragment carry a blocked word past the screen ("*steen*" let "bigtitsteen" through,
"canteen*" let "canteenrape" through). An entry now excuses a match only if the match lies inside the letters
the entry itself covers.

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
    Words that contain a match but are not one ("canteen" for ``*teen*``, "râpé" for "rape"). Each excuses
    only a match inside its own letters. Folded like the text, diacritics of the entry required; a bare
    word must be the whole word, ``word*`` must start one, ``*word`` end one, ``*word*`` may sit anywhere.
    Never list a fragment a blocked word can end or start with ("*steen*"). An entry of several words is a
    phrase inside which no match counts: the disclaimer "keine Minderjährigen" ("no minors"), a title
    ("Karate Kid").
``[context]``
    Words that join a blocked word in a hashtag ("hot", "sexy", "girl"): see above.
``[age_not_of]``
    Nouns whose age is not a person's ("dog", "chaîne", "猫"): an age within four words after one passes.
``[age_number]``
    ``<value> <word>``: spelled-out numbers from 1 to 17 ("16 sixteen").
``[age_unit]``
    Phrases that make the number before them an age ("years old", "años de edad"); ages 1 to 17 are
    hits. A trailing "*" lets the phrase start a longer word ("jährig*" for "15-jährige", "歳*" for
    "17歳です"). Phrases of fewer than three letters ("yo", "y/o") only count after digits: "um yo" is a
    greeting.
``[age_unit_weak]``
    Year nouns that also measure durations ("ans", "años", "Jahre"): only 10 to 17 count, and not when a
    duration word from ``[age_not_before]`` precedes the number or one from ``[age_not_after]`` follows
    the unit ("depuis 15 ans", "15 anni fa").
``[age_prefix]``
    Phrases that make the number after them an age ("aged 15", "âgée de 16", "I'm 17"); not when a word
    from ``[age_not_after]`` follows the number ("I'm 16 hours away").
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from confusables import CONFUSABLE_MAP

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
        "context",
        "age_not_of",
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
# Characters that render as nothing, inserted to split a word invisibly: Unicode's
# Default_Ignorable_Code_Point set (DerivedCoreProperties.txt: soft hyphen, combining grapheme joiner
# U+034F, zero-width and bidi controls, variation selectors such as U+FE0F, Hangul fillers such as
# U+3164, tag characters) plus the blank Braille pattern U+2800, which is not ignorable but looks empty.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# A letter that may be read as "i" or "l" (capital I inside a lower-case word, Cyrillic і, Greek ι):
# both term letters accept it.
# It is a Latin-1 letter (the feminine ordinal "ª") so the letter classes that include it stay small for
# the regex compiler; folding keeps it as it is.
_I_OR_L = "ª"
# The UTS #39 confusables data (the ``confusables`` package) maps most look-alikes to Latin. Where it
# offers several Latin letters the lower-case form is read as one of them; where it offers none, the
# letters below are the ones spoofers use that Unicode does not list (Cyrillic п for n, the letters with a
# stroke, small capitals without a decomposition).
_SKELETON_PREFERRED = {"η": "n", "ν": "v", "υ": "u", "μ": "u"}
_SKELETON_ADDITIONS = {
    "п": "n", "ω": "w", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "æ": "ae",
    "œ": "oe", "þ": "th", "ŋ": "n", "ꜰ": "f", "ᴋ": "k", "ᴍ": "m", "ɴ": "n",
    "’": "'", "‘": "'", "ʼ": "'", "′": "'",
}  # fmt: skip


def _invisible(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) == "Cf" or any(lo <= cp <= hi for lo, hi in _INVISIBLE_RANGES)


@lru_cache(maxsize=8192)
def _skeleton(ch: str) -> str:
    """The Latin letter ``ch`` passes for, or ``ch`` itself."""
    if ch.isascii() or unicodedata.decomposition(ch):  # a letter with its diacritic kept (``=niña``)
        return ch
    if ch in _SKELETON_ADDITIONS:
        return _SKELETON_ADDITIONS[ch]
    if ch in _SKELETON_PREFERRED:
        return _SKELETON_PREFERRED[ch]
    latin = {c.lower() for c in CONFUSABLE_MAP.get(ch, ()) if len(c) == 1 and c.isascii() and c.isalpha()}
    if len(latin) == 1:
        return latin.pop()
    if latin == {"i", "l"}:
        return _I_OR_L
    return ch


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch == _I_OR_L:
        return ch
    if _invisible(ch):
        return ""
    s = unicodedata.normalize("NFKC", ch).translate(_BEFORE_CASEFOLD).casefold()
    s = unicodedata.normalize("NFKD", s)
    # Combining marks carry diacritics and "Zalgo"/strike-through decorations; enclosing marks (the keycap
    # U+20E3 of "1️⃣6️⃣", circles and squares) carry nothing either.
    return "".join(_digit(c) for c in s if not _mark(c) and not _invisible(c))


def _mark(ch: str) -> bool:
    return bool(unicodedata.combining(ch)) or unicodedata.category(ch) == "Me"


def _digit(ch: str) -> str:
    """A digit of any script, or a dingbat digit NFKC leaves alone ("١٦", "১৬", "❶❻"), read as its ASCII
    digit, so an age is an age however it is written; any other character goes to `_skeleton`."""
    if not ch.isascii() and unicodedata.category(ch) in ("Nd", "No"):
        value = unicodedata.digit(ch, None)
        if value is not None:
            return str(value)
    return _skeleton(ch)


def _fold(text: str) -> str:
    return "".join(c.lower() if c.isascii() else _fold_char(c) for c in text)


def _fold_keep_marks(text: str) -> str:
    """Folding that keeps diacritics, for the few decisions that depend on them (``=term``, allow)."""
    s = unicodedata.normalize("NFKC", text).translate(_BEFORE_CASEFOLD).casefold()
    return "".join(_skeleton(c) for c in unicodedata.normalize("NFC", s) if not _invisible(c))


# A camelCase boundary (two lower-case letters, then a capital followed by a lower-case letter: "TeenGirl",
# not the alternating "tEeN"), or a non-ASCII character that needs folding.
_VIEW_SPLIT = re.compile(r"(?<=[a-zß-öø-ÿа-яё]{2})(?=[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zß-öø-ÿа-яё])|[^\x00-\x7f]")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _view(text: str, *, camel: bool = True) -> tuple[str, list[int]]:
    """Fold ``text`` and keep, for every folded character, the index of the original one.

    ``camel`` splits "TeenGirl" into two words; the second reading turns it off ("mINDERjäHrIG").
    """
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for m in (_VIEW_SPLIT if camel else _NON_ASCII).finditer(text):
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


# Punctuation, symbols or emoji between two letters or digits ("t>e>e>n", "ra.pe", "t🔥een").
_INNER_MARKS = re.compile(
    r"(?<=[^\W_])(?:"
    r"(?:[^\w\s]|_){1,3}"  # "t>e>e>n", "ra.pe"
    r"|(?:[^\w\s]|_){1,3}\s{1,4}(?:[^\w\s]|_){1,3}"  # "h🍑i🍑d🍑d🍑e🍑n🍑 🍑c🍑a🍑m"
    r"|[^\w\s.,;:!?)\]}'\"’”…+%-]{1,3}\s{1,4}"  # "soy🔥 menor", not "sexy, and" or "18+ only"
    r"|\s{1,4}[^\w\s#@(\[{'\"‘“¿¡…-]{1,3}"  # "fo 🍑rcée", not "hot #teen" or "(see"
    r")(?=[^\W_])"
)
# A capital I touching a lower-case letter may stand for an "l" ("schooIgirl", "IoIi").
_LETTERS = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"\S+")
# An apostrophe of elision ("l'amour", "d'expérience") or contraction ("I'm", "don't", "we're").
_ELISION = re.compile(r"(?<![^\W\d_])[^\W\d_]\Z")
_CONTRACTED = re.compile(r"[^\W\d_]{1,2}(?![^\W\d_])")
_PASSAGE_GAP = "\n\n\n\n"


def _alternate(text: str) -> tuple[str, list[int]] | None:
    """A second reading of the words of ``text`` that have marks inside or a mixed-case "I".

    The first reading keeps those marks, because some stand for letters ("t33n", "r*pe", "l|ttle"); this
    one removes them, so the same words written with a separator inside ("t|e|e|n", "ra.pe") are found,
    reads a capital I inside a lower-case word as either I or l ("schooIgirl", "coIIégienne") and does not
    split words at capitals ("mINDERjäHrIG"). Only the words concerned are read again, with two words
    either side for terms of several words; separate passages are kept apart by four newlines (more than
    any separator run a pattern accepts). Returned with the index of each character in ``text``; None
    when no word needs a second reading.
    """
    # Where a word has marks inside (not the apostrophe of "I'm", "don't" or "l'amour") or a mixed-case I.
    starts = [m.start() for m in _INNER_MARKS.finditer(text) if not _contraction(text, m)]
    starts += [m.start() for m in _LETTERS.finditer(text) if _is_mixed_i(m[0])] if "I" in text else []
    if not starts:
        return None
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    token_starts = [s for s, _ in tokens]
    marked = sorted({bisect_right(token_starts, start) - 1 for start in starts} - {-1})
    passages: list[tuple[int, int]] = []
    for k in marked:
        lo, hi = max(0, k - 2), min(len(tokens) - 1, k + 2)
        if passages and lo <= passages[-1][1] + 1:
            passages[-1] = (passages[-1][0], hi)
        else:
            passages.append((lo, hi))
    chars: list[str] = []
    index: list[int] = []
    for lo, hi in passages:
        start, end = tokens[lo][0], tokens[hi][1]
        if chars:
            chars.extend(_PASSAGE_GAP)
            index.extend([start] * len(_PASSAGE_GAP))
        pos = start
        for m in _INNER_MARKS.finditer(text, start, end):
            chars.extend(text[pos : m.start()])
            index.extend(range(pos, m.start()))
            space = next((k for k in range(m.start(), m.end()) if text[k].isspace()), None)
            if space is not None:  # "h🍑i🍑d🍑d🍑e🍑n🍑 🍑c🍑a🍑m": the words stay apart
                chars.append(" ")
                index.append(space)
            pos = m.end()
        chars.extend(text[pos:end])
        index.extend(range(pos, end))
    return _LETTERS.sub(_read_mixed_i, "".join(chars)), index


def _contraction(text: str, mark: re.Match[str]) -> bool:
    if mark[0] not in ("'", "’"):
        return False
    before = text[max(0, mark.start() - 2) : mark.start()]
    return bool(_ELISION.search(before) or _CONTRACTED.match(text, mark.end()))


def _is_mixed_i(word: str) -> bool:
    """A word with a lower-case letter and a capital I after its first letter: "schooIgirl", "IoIi"."""
    return "I" in word[1:] and any(c.islower() for c in word)


def _read_mixed_i(word: re.Match[str]) -> str:
    return word[0].replace("I", _I_OR_L) if _is_mixed_i(word[0]) else word[0]


# --- term patterns ------------------------------------------------------------------------------------

_LEET = {
    "a": "4@^*",
    "b": "8",
    "c": "¢",
    "e": "3€*",
    "g": "69",
    "i": "1!|¡*" + _I_OR_L,
    "l": "1|!" + _I_OR_L,
    "o": "0°*",
    "u": "*",
    "s": "5$§",
    "t": "7+†",
    "y": "¥",
    "z": "2",
}
# "teeeeen" is still "teen"; longer runs than this are not worth the matching time.
_MAX_REPEAT = 20
_LOOSE_JOIN = r"[\s._\-*~/·•#+]{0,5}"
_TIGHT_JOIN = r"[._\-]?"
_SPACED_SEPARATORS = " \t\n\r\f\v._-*~/\\·•:,'\"`="
_SPACED_JOIN = "[" + re.escape(_SPACED_SEPARATORS) + "]{1,3}"
# Between the words of a spaced-out phrase the gap may be wider ("s . o . y .   . m . e . n . o . r").
_SPACED_WORD_JOIN = "[" + re.escape(_SPACED_SEPARATORS) + "]{1,7}"
_PARTIAL_JOIN = "(?:[" + re.escape(_SPACED_SEPARATORS) + "]{1,2})?"
# Where a partly spaced word can start: a short run of letters followed by a gap and more letters.
_FRAGMENT_START = re.compile(
    r"(?<![^\W_])[^\W_]{1,14}(?=[" + re.escape(_SPACED_SEPARATORS) + r"]{1,2}[^\W_])"
)
_PARTIAL_LAST = re.compile(r"(?<=[" + re.escape(_SPACED_SEPARATORS) + r"])[^\W_]+\Z")
_INFLECTION = re.compile(r"es|ed|ing|er|ers")
_PARTIAL_GAP = re.compile("[" + re.escape(_SPACED_SEPARATORS) + "]")
# The match must end on a letter or digit ("lol!" is not "loli") and not run on into a letter.
# A leet symbol may end a term ("drogad@", "9wał+") but not "!" or "|", so that "lol!" is not "loli".
_END = r"(?:(?<=[^\W_])|(?<=[@+$€§†°¥]))(?![^\W\d_])"
_OPEN_END = r"(?:(?<=[^\W_])|(?<=[@+$€§†°¥]))"
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
# Chinese, Japanese and Korean write numbers against words: "我16岁".
_AFTER_CJK = r"(?<=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])"
_WORD = re.compile(r"[^\W\d_]+")
_NOT_ALNUM = re.compile(r"[\W_]+")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # kana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF  # ideographs
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables
        or 0x1100 <= cp <= 0x11FF
        or 0x3130 <= cp <= 0x318F  # Hangul jamo
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FA1F
    )


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
    def cjk(self) -> bool:
        """Chinese, Japanese and Korean have no spaces between words: such terms match anywhere."""
        return any(_is_cjk(ch) for _, part in self.parts for ch in part)

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

    def partial_units(self) -> list[str]:
        """Letters with an optional gap between any two of them: "te en", "t een", "mi nor"."""
        chars = [ch for _, part in self.parts for ch in part if ch.isalnum()]
        units = [_char_class(ch) if ch.isalpha() else re.escape(ch) for ch in chars]
        return [units[0]] + [f"{_PARTIAL_JOIN}{unit}" for unit in units[1:]]

    def spaced_units(self) -> list[str] | None:
        chars = [(k > 0 and j == 0, ch) for k, (_, part) in enumerate(self.parts) for j, ch in enumerate(part)]
        chars = [(first, ch) for first, ch in chars if ch.isalnum()]
        if sum(ch.isalpha() for _, ch in chars) < 3:
            return None
        units = [
            (_SPACED_WORD_JOIN if first else _SPACED_JOIN) + (_char_class(ch) if ch.isalpha() else re.escape(ch))
            for first, ch in chars
        ]
        return [units[0].removeprefix(_SPACED_JOIN), *units[1:]]


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
class _AllowWord:
    literal: str  # folded like the text
    marks: str  # diacritics the original must carry ("râpé", not "rape")
    at_start: bool
    at_end: bool


@dataclass(frozen=True, slots=True)
class _Allow:
    """Allowed words and phrases. Each excuses only the exact span it covers.

    "canteen" excuses the "teen" inside it and nothing else: in "canteenrape" the "rape" after it is still
    a hit, and "*steen*"-style entries that would cover any word ending in "steen" ("bigtitsteen") are not
    accepted in the files. ``word*``/``*word`` only say where in a word the literal may sit.
    """

    words: tuple[_AllowWord, ...] = ()
    phrases: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (letters of the phrase, pattern)
    words_rx: re.Pattern[str] | None = None  # every allowed word at every position (zero-width)
    by_literal: Mapping[str, tuple[_AllowWord, ...]] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> _Allow:
        words: dict[tuple[object, ...], _AllowWord] = {}
        phrases: dict[str, str] = {}
        for raw in entries:
            if " " in raw.strip():
                folded = _fold(raw).split()
                phrases[_NOT_AFTER_LETTER + r"[\s._\-]{1,3}".join(map(re.escape, folded)) + r"(?![^\W\d_])"] = (
                    "".join(folded)
                )
                continue
            entry = raw.strip()
            starts, ends = entry.startswith("*"), entry.endswith("*")
            core = entry.strip("*")
            literal = _fold(core)
            if not literal:
                continue
            marks = "".join(sorted(set(_fold_keep_marks(core)) - set(literal)))
            word = _AllowWord(literal, marks, at_start=not starts, at_end=not ends)
            words[(word.literal, word.marks, word.at_start, word.at_end)] = word
        ordered = tuple(sorted(words.values(), key=lambda w: (-len(w.literal), w.literal)))
        words_rx = re.compile("(?=(" + _alternation(re.escape(w.literal) for w in ordered) + "))") if ordered else None
        by_literal = {
            w.literal: tuple(v for v in ordered if w.literal.startswith(v.literal)) for w in ordered
        }
        return cls(ordered, tuple((phrases[p], re.compile(p)) for p in sorted(phrases)), words_rx, by_literal)

    def spans(
        self, text: str, view: str, index: list[int], i: int, j: int, near: tuple[int, int] | None = None
    ) -> list[tuple[int, int]]:
        """Spans of ``view[i:j]`` (one word) that an allowed word covers; only those that could cover
        ``near`` when given (a long run of Japanese is one "word")."""
        rx = self.words_rx
        if rx is None:
            return []
        lo, hi = i, j
        if near is not None:
            longest = len(self.words[0].literal)
            lo, hi = max(i, near[0] - longest), min(j, near[1] + longest)
        out = []
        for m in rx.finditer(view, lo, hi):
            s = m.start()
            for w in self.by_literal[m[1]]:  # the longest literal found here, and those it starts with
                e = s + len(w.literal)
                if e > j:
                    continue
                if (not w.at_start or s == i) and (not w.at_end or e == j) and self._marked(w, text, index, s, e):
                    out.append((s, e))
        return out

    @staticmethod
    def _marked(word: _AllowWord, text: str, index: list[int], s: int, e: int) -> bool:
        if not word.marks:
            return True
        original = _fold_keep_marks(text[index[s] : _original_end(text, index, e)])
        return all(mark in original for mark in word.marks)

    def excuses(self, text: str, view: str, index: list[int], vstart: int, vend: int) -> bool:
        """Whether an allowed word or phrase covers the whole match ``view[vstart:vend]``."""
        i, j = _word_bounds(view, vstart, vend)
        if any(s <= vstart and vend <= e for s, e in self.spans(text, view, index, i, j, (vstart, vend))):
            return True
        return self.phrase_covers(view, vstart, vend)

    def phrase_covers(self, view: str, vstart: int, vend: int) -> bool:
        """Whether the match lies inside an allowed phrase ("keine Minderjährigen": a disclaimer)."""
        if not self.phrases:
            return False
        # Only a phrase that contains the matched letters can cover them.
        core = _NOT_ALNUM.sub("", view[vstart:vend])
        lo = max(0, vstart - 80)
        for letters, rx in self.phrases:
            if core not in letters:
                continue
            start = view.find(letters[0], lo, vstart + 1)
            while start != -1:
                m = rx.match(view, start)
                if m is not None and vend <= m.end():
                    return True
                start = view.find(letters[0], start + 1, vstart + 1)
        return False


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
    not_of: set[str] = field(default_factory=set)


def _phrase(entry: str, language: str) -> _AgePhrase:
    s = entry.strip()
    return _AgePhrase(language, _fold(s.removesuffix("*")), s.endswith("*"))


def _alternation(items: Iterable[str]) -> str:
    return "|".join(sorted(set(items), key=lambda s: (-len(s), s)))


# Feet then inches right after the number ("5'6", "5’ 6\"", "6′2″"); the view maps every apostrophe to "'".
_HEIGHT = re.compile(r"\s?['\"]{1,2}\s?\d")


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
        before_text = view[max(0, m.start() - 40) : m.start()]
        if set(_WORD.findall(before_text)[-4:]) & self._rules.not_of or any(
            _is_cjk(w[0]) and w in before_text[-16:] for w in self._rules.not_of
        ):
            return None  # "my dog is 3 years old", "猫が3歳"
        if name[0] == "w":
            if not 10 <= self._value(groups["num"]) <= 17:
                return None
            before = tuple(_WORD.findall(view[max(0, m.start() - 40) : m.start()])[-3:])
            after = tuple(_WORD.findall(view[m.end() : m.end() + 40])[:3])
            if any(before[-len(p) :] == p for p in self._rules.not_before):
                return None
            if any(after[: len(p)] == p for p in self._rules.not_after):
                return None
        elif name[0] == "p":
            after = tuple(_WORD.findall(view[m.end() : m.end() + 40])[:3])
            if any(after[: len(p)] == p for p in self._rules.not_after):
                return None  # "I'm 16 hours away"
            if _HEIGHT.match(view, m.end()):
                return None  # "I'm 5'6": a height in feet and inches
        return self._phrases[name].language


# --- matcher ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """What a blocked word may touch inside a run-together word, besides other blocked and allowed words.

    ``context`` are the [context] words; ``numbers`` the spelled-out numbers 11 to 17, which count as an age
    when they touch a listed word ("#sixteengirl").
    """

    context: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    languages: Mapping[str, str] = field(default_factory=dict)

    @property
    def _pattern(self) -> re.Pattern[str] | None:
        return _vocabulary_pattern(self.context, self.numbers)

    def spans(self, view: str, a: int, b: int) -> list[tuple[int, int, int]]:
        """(start, end, kind) of every context word (kind -3) and number (kind -2) in ``view[a:b]``."""
        rx = self._pattern
        if rx is None:
            return []
        out = []
        for m in rx.finditer(view, a, b):
            name = m.lastgroup
            if name is not None:
                out.append((m.start(), m.end(name), -2 if name == "n" else -3))
        return out


@lru_cache(maxsize=8)
def _vocabulary_pattern(context: tuple[str, ...], numbers: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = []
    if numbers:
        alternatives.append(f"(?:{_alternation(map(re.escape, numbers))})(?P<n>)")
    if context:
        alternatives.append(f"(?:{_alternation(map(re.escape, context))})(?P<c>)")
    return re.compile("(?=(?:" + "|".join(alternatives) + "))") if alternatives else None



class _Matcher:
    """Compiled term lists; built once per list and reused for every text."""

    def __init__(
        self, terms: list[_Term], allow: _Allow, ages: _AgeMatcher | None, vocabulary: _Vocabulary
    ) -> None:
        self.terms = terms
        self._allow = allow
        self._ages = ages
        self.vocabulary = vocabulary
        grouped: dict[str, list[tuple[int, int, list[str], str]]] = {}
        self._infix: list[tuple[int, re.Pattern[str]]] = []
        cjk: dict[str, int] = {}
        inner: list[tuple[int, list[str], str]] = []
        partial: list[tuple[int, list[str], str]] = []
        for i, term in enumerate(terms):
            if term.cjk:
                cjk.setdefault("".join(part for _, part in term.parts), i)
                continue
            end = _OPEN_END if term.open_end else _END
            inner.append((-term.weight, term.compact_units(), f"(?P<o{i}>)"))
            if term.weight >= 3:
                partial.append((-term.weight, term.partial_units(), f"(?P<p{i}>){end}"))
            alternatives: list[tuple[int, list[str], str]] = []
            if term.infix:
                self._infix.append((i, re.compile("".join(term.compact_units()) + end)))
            else:
                alternatives.append((0, term.compact_units(), f"(?P<c{i}>){end}"))
            spaced = term.spaced_units()
            if spaced:
                alternatives.append((1, spaced, f"(?P<s{i}>){end}"))
            first = next(ch for ch in term.parts[0][1] if ch.isalnum())
            for key in _variants(first).replace("*", ""):  # a masked first letter is not looked for
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
            re.compile(f"(?:{_NOT_AFTER_LETTER}|{_AFTER_CJK})(?:{'|'.join(alternatives)})") if alternatives else None
        )
        # Every place a term occurs, word boundaries or not (zero-width, so occurrences may overlap): what
        # run-together words and partly spaced words are checked against.
        inner.sort(key=lambda e: e[0])
        self._inner = re.compile("(?=" + _trie_pattern([(u, leaf) for _, u, leaf in inner]) + ")") if inner else None
        partial.sort(key=lambda e: e[0])
        self._partial = (
            re.compile(_NOT_AFTER_LETTER + _trie_pattern([(u, leaf) for _, u, leaf in partial])) if partial else None
        )
        # A trie whose branches start with a literal, so the regex engine skips ahead to the characters
        # that can start a term instead of trying every term at every position.
        self._cjk = (
            re.compile(
                _trie_pattern(
                    [
                        ([re.escape(t[0])] + [_CJK_JOIN + re.escape(c) for c in t[1:]], f"(?P<k{i}>)")
                        for t, i in sorted(cjk.items(), key=lambda kv: (-len(kv[0]), kv[0]))
                    ]
                )
            )
            if cjk
            else None
        )

    def scan(self, text: str, view: str, index: list[int], *, ages: bool = True) -> list[HardBlockHit]:
        """Every hit in one reading of ``text``; ``ages=False`` for the second reading, whose joined
        words ("d'expérience" read as "dexpérience") would hide the context that makes a number a
        duration."""
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
            if ages and self._ages is not None and (m := self._ages.match(view, pos)) is not None:
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
        if self._cjk is not None:
            for m in self._cjk.finditer(view):
                term = self.terms[int(m.lastgroup[1:])]  # type: ignore[index]
                hit = self._accept(term, text, view, index, m.start(), m.end())
                if hit is not None:
                    hits.append(hit)
                    spans.append(m.span())
        hits += self._compounds(text, view, index, spans)
        hits += self._fragments(text, view, index, spans)
        return hits

    def _occurrences(self, view: str) -> list[tuple[int, int, int]]:
        if self._inner is None:
            return []
        out = []
        for m in self._inner.finditer(view):
            name = m.lastgroup
            if name is not None:
                out.append((m.start(), m.end(name), int(name[1:])))
        return out

    def _compounds(
        self, text: str, view: str, index: list[int], spans: list[tuple[int, int]]
    ) -> list[HardBlockHit]:
        """Blocked words inside run-together words and hashtags ("#thirteenloli", "bigtitsteen").

        A word counts where what touches it on each side is the edge of the run, another blocked word, a
        listed number, an allowed word or a [context] word ("hot", "sexy"), so "kidney", "grapefruit" and
        "therapist" pass while "canteenrape" does not: "canteen" excuses only its own letters.
        """
        runs: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for p, e, i in self._occurrences(view):
            a, b = _run_bounds(view, p, e)
            if (a, b) == (p, e) or any(s < e and p < t for s, t in spans):
                continue
            runs.setdefault((a, b), []).append((p, e, i))
        hits = []
        for (a, b), found in runs.items():
            allowed = self._allow.spans(text, view, index, a, b)
            joins = found + [(s, e, -1) for s, e in allowed] + self.vocabulary.spans(view, a, b)
            starts = {s for s, _, _ in joins} | {b}
            ends = {e for _, e, _ in joins} | {a}
            for p, e, i in found:
                term = self.terms[i]
                if any(s <= p and e <= t for s, t in allowed):
                    continue
                # "#mykidslut": "kids" runs into "slut"; the word may also end one letter early.
                right = e in starts or term.open_end or (e - 1 in starts and e - 1 > p + 2)
                if not term.infix and (p not in ends or not right):
                    continue
                hit = self._accept(term, text, view, index, p, e)
                if hit is not None:
                    hits.append(hit)
                    spans.append((p, e))
            hits += self._compound_ages(text, view, index, a, b, joins, spans)
        return hits

    def _compound_ages(
        self,
        text: str,
        view: str,
        index: list[int],
        a: int,
        b: int,
        joins: list[tuple[int, int, int]],
        spans: list[tuple[int, int]],
    ) -> list[HardBlockHit]:
        """A spelled-out age in a run-together word next to another listed word ("#sixteengirl")."""
        hits = []
        words = [(s, e) for s, e, kind in joins if kind != -2]
        starts = {s for s, _ in words} | {b}
        ends = {e for _, e in words} | {a}
        for s, e, kind in joins:
            if kind != -2 or s not in ends or e not in starts or (s, e) == (a, b):
                continue
            if any(x < e and s < y for x, y in spans):
                continue
            start, end = index[s], _original_end(text, index, e)
            language = self.vocabulary.languages.get(view[s:e], "en")
            hits.append(HardBlockHit(AGE_TERM, MINOR, language, text[start:end], start, end))
            spans.append((s, e))
        return hits

    def _fragments(
        self, text: str, view: str, index: list[int], spans: list[tuple[int, int]]
    ) -> list[HardBlockHit]:
        """A word split by spaces in places, not between every letter ("te en", "t een", "mi nors")."""
        if self._partial is None:
            return []
        hits: list[HardBlockHit] = []
        for start in _FRAGMENT_START.finditer(view):
            m = self._partial.match(view, start.start())
            if m is None:
                continue
            vstart, vend = m.span()
            if m.lastgroup is None or not _PARTIAL_GAP.search(view, vstart, vend):
                continue
            term = self.terms[int(m.lastgroup[1:])]
            if any(s < vend and vstart < e for s, e in spans):
                continue
            last = _PARTIAL_LAST.search(view, vstart, vend)
            if last is not None and _INFLECTION.fullmatch(view, last.start(), vend):
                continue  # "el rap es mi vida" is not "rapes": nobody hides a word by splitting off its ending
            hit = self._accept(term, text, view, index, vstart, vend)
            if hit is not None:
                hits.append(hit)
                spans.append((vstart, vend))
        return hits

    def _accept(
        self, term: _Term, text: str, view: str, index: list[int], vstart: int, vend: int
    ) -> HardBlockHit | None:
        span = view[vstart:vend]
        letters = sum(ch.isalpha() for ch in span)
        if not letters:  # "1011" is a number, not "loli"; "733n" is "teen"
            return None
        start, end = index[vstart], _original_end(text, index, vend)
        excerpt = text[start:end]
        if term.marks:
            marked = _fold_keep_marks(excerpt)
            if not all(mark in marked for mark in term.marks):
                return None
        if self._allow.excuses(text, view, index, vstart, vend):
            return None
        i, j = _word_bounds(view, vstart, vend)
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


_CJK_JOIN = r"[\W_]{0,3}"
# Beyond this many letters either side of a match, a run of letters is not treated as one word (a
# paragraph of Japanese has no spaces): keeps the work per match bounded.
_LONGEST_WORD = 64


def _run_bounds(view: str, vstart: int, vend: int) -> tuple[int, int]:
    """The run of letters and digits around a match: a hashtag's body, a run-together word."""
    i, j = vstart, vend
    while i > 0 and view[i - 1].isalnum() and vstart - i < _LONGEST_WORD:
        i -= 1
    while j < len(view) and view[j].isalnum() and j - vend < _LONGEST_WORD:
        j += 1
    return i, j


def _word_bounds(view: str, vstart: int, vend: int) -> tuple[int, int]:
    i, j = vstart, vend
    while i > 0 and view[i - 1].isalpha() and vstart - i < _LONGEST_WORD:
        i -= 1
    while j < len(view) and view[j].isalpha() and j - vend < _LONGEST_WORD:
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
    context: list[str] = []
    number_languages: dict[str, tuple[int, str]] = {}
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
            number_languages.setdefault(re.sub(r"[\s\-]+", "", _fold(word.strip())), (int(value), language))
        context.extend(_fold(e) for e in sections.get("context", []))
        rules.units.extend(_phrase(e, language) for e in sections.get("age_unit", []))
        rules.weak_units.extend(_phrase(e, language) for e in sections.get("age_unit_weak", []))
        rules.prefixes.extend(_phrase(e, language) for e in sections.get("age_prefix", []))
        rules.not_before.update(tuple(_fold(e).split()) for e in sections.get("age_not_before", []))
        rules.not_after.update(tuple(_fold(e).split()) for e in sections.get("age_not_after", []))
        rules.not_of.update(_fold(e) for e in sections.get("age_not_of", []))
    rules.prefixes = list({p.folded: p for p in reversed(rules.prefixes)}.values())[::-1]
    numbers = {w: lang for w, (value, lang) in number_languages.items() if 11 <= value <= 17 and len(w) >= 5}
    vocabulary = _Vocabulary(tuple(sorted(set(context))), tuple(sorted(numbers)), numbers)
    matcher = _Matcher(list(terms.values()), _Allow.from_entries(allow), _AgeMatcher(rules), vocabulary)
    return matcher, counts


@lru_cache(maxsize=128)
def _custom(specs: tuple[str, ...]) -> _Matcher:
    terms = {}
    for spec in specs:
        term = _parse_term(spec, CUSTOM, CUSTOM)
        if term is not None:
            terms.setdefault(term.key, term)
    return _Matcher(list(terms.values()), _Allow(), None, _builtin()[0].vocabulary)


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
    return list(_screen(text, specs))


@lru_cache(maxsize=4096)
def _screen(text: str, specs: tuple[str, ...]) -> tuple[HardBlockHit, ...]:
    """The screen is a pure function of the text and the term lists, and the same texts come back
    again and again (one caption for each target of a post, an asset's title in every post that
    carries it, a publication re-judged at publish time): each is read once per process. Hits are
    frozen, so sharing them is safe."""
    matchers = [_builtin()[0]] + ([_custom(specs)] if specs else [])
    view, index = _view(text)
    hits = [hit for matcher in matchers for hit in matcher.scan(text, view, index)]
    alternate = _alternate(text)
    if alternate is not None:
        alt_text, alt_index = alternate
        alt_view, view_index = _view(alt_text, camel=False)
        index = [alt_index[i] for i in view_index]
        for matcher in matchers:
            for hit in matcher.scan(text, alt_view, index, ages=False):
                if not any(h.start < hit.end and hit.start < h.end for h in hits):
                    hits.append(hit)
    unique = {(h.start, h.end, h.term, h.category): h for h in hits}
    return tuple(sorted(unique.values(), key=lambda h: (h.start, h.end, not h.hard, h.category, h.term)))


def warm() -> None:
    """Compile the built-in lists now (about two seconds) rather than in the first check that needs
    them: a worker calls this before it takes work, so its first batch does not hold its leases
    while the patterns compile."""
    _builtin()


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
