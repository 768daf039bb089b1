"""Which account options each platform takes, and what each may hold.

Options are written by whoever manages the account (admin form, API), not by the operator, so no
option may name a host: every base URL comes from settings (FANVUE_API_URL, BLUESKY_PDS_URL…)
and a credential is only ever sent to the platform's configured host. Anything not declared here
is refused when the account is saved, with the reason, instead of being ignored or, worse, read.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from scheduling.connectors.bluesky import SUGGESTIVE_LABELS
from scheduling.connectors.fanvue import AUDIENCES
from scheduling.connectors.telegram import MAX_STARS

Check = Callable[[Any], Any]  # returns the value to store, or raises ValueError saying what is allowed

_SUBREDDIT = re.compile(r"^(/?r/)?[A-Za-z0-9_]{2,21}/?$")
_CHANNEL = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$|^-?\d{1,20}$")
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")


def text(max_length: int, pattern: re.Pattern[str] | None = None, hint: str = "") -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise ValueError(hint or f"text of at most {max_length} characters.")
        if pattern is not None and not pattern.match(value.strip()):
            raise ValueError(hint)
        return value
    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false.")
    return value


def integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit() \
                or not low <= int(value) <= high:
            raise ValueError(f"a whole number from {low} to {high}.")
        return int(value)
    return check


def positive_number(value: Any) -> float | int:
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number < 1_000_000:
        raise ValueError("a positive number.")
    return value if isinstance(value, (int, float)) else number


def choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}.")
        return value
    return check


def uuid_text(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ValueError("a UUID such as 5b1f0a3e-8c2d-4e6f-9a7b-0c1d2e3f4a5b.") from exc


def public_link(value: Any) -> str:
    """A link the platform shows in the post (the server never fetches it): http(s) with a host."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
        raise ValueError("an http(s) link.")
    return value


def channel(value: Any) -> str | int:
    if isinstance(value, bool) or not _CHANNEL.match(str(value)):
        raise ValueError("the channel's @username or its numeric id (e.g. -1001234567890).")
    return value


def languages(value: Any) -> str | list[str]:
    tags = [value] if isinstance(value, str) else value
    if not isinstance(tags, list) or not 1 <= len(tags) <= 3 \
            or not all(isinstance(t, str) and _LANG.match(t) for t in tags):
        raise ValueError("up to three language tags, e.g. \"en\" or [\"en\", \"pt-BR\"].")
    return value


PLATFORM_OPTIONS: dict[str, dict[str, Check]] = {
    "fanvue": {"creator_uuid": uuid_text, "audience": choice(*AUDIENCES)},
    "x": {},
    "reddit": {
        "subreddit": text(24, _SUBREDDIT, "a subreddit name such as r/atelier (letters, digits, _)."),
        "flair_id": text(64), "flair_text": text(64), "spoiler": boolean, "title": text(300),
        "link_url": public_link,
    },
    "telegram": {"chat_id": channel, "paid_media": boolean, "star_count": integer(1, MAX_STARS),
                 "stars_per_unit": positive_number},
    "bluesky": {"langs": languages, "suggestive_label": choice(*SUGGESTIVE_LABELS)},
    "instagram": {},
    "manual": {"target_platform": text(30, _SLUG, "a platform name such as onlyfans or fansly.")},
}

# Keys people used to set, answered with why they are gone.
RETIRED = {
    ("bluesky", "pds"): "Bluesky accounts sign in at the PDS the operator sets (BLUESKY_PDS_URL); an account "
                        "cannot send its app password to another host.",
}


def clean_options(platform: str, options: Any) -> dict[str, Any]:
    """The options to store for an account on `platform`, or a ValidationError on `options` naming
    every key that is unknown or holds something its platform would not take."""
    if options in (None, ""):
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError({"options": "Options are a JSON object, e.g. {\"subreddit\": \"atelier\"}."})
    schema = PLATFORM_OPTIONS.get(platform, {})
    cleaned: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in options.items():
        check = schema.get(key)
        if check is None:
            known = ", ".join(sorted(schema)) or "none"
            problems.append(RETIRED.get((platform, key)) or f"{key!r} is not an option for {platform} "
                                                              f"(options: {known}).")
            continue
        try:
            cleaned[key] = check(value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    if problems:
        raise ValidationError({"options": problems})
    return cleaned
