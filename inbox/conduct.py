"""The platforms' conduct rules for what an agency writes to fans, as a screen over one text.

Fanvue's terms let an agency chat for a creator but forbid it to pretend to *be* the creator in person
or to say the creator is online right now (`ChatPolicy.forbids_impersonation` in `core.platforms`).
Scripts, AI drafts and messages are screened before they can go (`inbox.gate`). The screen is a pure
function of the text and the creator's stage name: the same words are refused in the compose box, in a
script and in the worker, and a test corpus pins both directions (tests/inbox/test_send_conduct.py).

Ordinary warmth stays allowed ("I'm here for you", "the new set is online now", "I'm on it"): what is
refused is a claim about *who* is writing or that the creator is present at this moment.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})

# Who the claim is about: the writer ("I'm", "im", "I am") or the creator ("she's", "Luna is").
_I_AM = r"(?:i\s*'\s*m|i\s+am|im)"
_SHE_IS = r"(?:she\s*'\s*s|she\s+is|shes|he\s*'\s*s|he\s+is|{name}\s*'\s*s|{name}\s+is)"
_ADVERB = r"(?:(?:just|now|currently|finally|actually|really|literally|totally|all|back|right)\s+){0,3}"
# Being present at this moment: online, live, logged in, on (right) now, here now / live / in person.
_PRESENT = (r"(?:on\s*-?\s*line|live\b|logged\s+in|active\s+(?:right\s+)?now|awake\s+and\s+(?:on\s*-?\s*line|here)"
            r"|on\s+(?:right\s+)?now\b|on\s+here\s+(?:right\s+)?now|here\s+(?:right\s+)?now\b|here\s+live\b"
            r"|here\s+in\s+person|available\s+(?:right\s+)?now\b|on\s+my\s+phone\s+(?:right\s+)?now)")

_CLAIMS = (
    # "I'm online now", "im live rn", "I am here live", "she's online", "Luna is online right now"
    rf"\b{_I_AM}\s+{_ADVERB}{_PRESENT}",
    rf"\b{_SHE_IS}\s+{_ADVERB}{_PRESENT}",
    # "it's really me", "it's me, Luna", "its actually me", "this is really Luna", "it's Luna herself"
    r"\b(?:it\s*'?\s*s|it\s+is|this\s+is)\s+(?:(?:really|actually|truly|honestly|just|only|still)\s+)?"
    r"(?:me\b|{name}\b)",
    # "the real Luna", "Luna herself", "me in person", "me personally", "myself, not a chatter"
    r"\b(?:the\s+real|really)\s+(?:me\b|{name}\b)",
    r"\b(?:{name}|me)\s+(?:herself|himself|myself|in\s+person|personally)\b",
    r"\b(?:no|not\s+an?|not\s+my)\s+(?:chatters?|assistants?|team|agency|manager|bot)\b",
    r"\b(?:100\s*%|hundred\s+percent)\s+(?:me|{name})\b",
    # "I answer every message myself", "I write all my DMs personally", "replying to you personally"
    r"\bi\s+(?:personally\s+)?(?:write|answer|read|reply\s+to|type)\s+(?:all|every|each)\b[^.!?\n]{0,30}?"
    r"\b(?:myself|personally|me)\b",
    r"\b(?:answering|replying|writing|texting)\s+(?:to\s+)?(?:you\s+)?(?:myself|personally|in\s+person)\b",
    # "Luna here!" at the start of a message: the sign-on of the creator herself
    r"^\W*{name}\s+here\b",
)


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return re.sub(r"\s+", " ", text).strip()


def _patterns(creator_name: str) -> list[re.Pattern[str]]:
    names = [n for n in {_normal(creator_name), *_normal(creator_name).split(" ")} if len(n) >= 2]
    name = "(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")" if names else r"(?!x)x"
    return [re.compile(p.replace("{name}", name)) for p in _CLAIMS]


def impersonation_claims(text: str, *, creator_name: str) -> list[str]:
    """The phrases in `text` that claim the creator writes in person or is online now, as written
    (normalised); an empty list lets the text through."""
    if not text:
        return []
    normal = _normal(text)
    found: list[str] = []
    for pattern in _patterns(creator_name):
        for match in pattern.finditer(normal):
            phrase = match.group(0).strip(" ,.!?")
            if phrase and phrase not in found:
                found.append(phrase)
    return found
