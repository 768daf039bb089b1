"""The platform registry: every platform Atelier knows, declared once, and the content ratings.

Why one table at the bottom: a platform's facts (its label, whether it is a subscription platform or a
social network, the most explicit rating its policy accepts, how it counts text, its hashtag norms, its
media and rate limits, what its API lets us do, and which connector speaks to it) used to be repeated in
models' choices, the gate's policy table, caption rules, connectors and admin. Every app reads them from
here instead, so a platform changes in one place and `content` need not import `scheduling` to learn a
caption limit.

Like the gate, this module is plain Python: no Django, no app, no I/O. The connector is a dotted path
that `scheduling.connectors` resolves when it needs it (core may not import scheduling).

A platform Atelier does not publish to (TikTok, YouTube, Threads, OnlyFans) still has an entry: consents
name it and the gate judges it. Such an entry has no connector, no capability and no text, hashtag, media
or rate limits (None: nothing in Atelier sends text or media there, so no limit is claimed).

Adding a platform: docs/adding-a-platform.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import regex

__all__ = [
    "PLATFORMS",
    "RATING_CHOICES",
    "Capability",
    "ChatPolicy",
    "Counting",
    "HashtagNorms",
    "Kind",
    "MediaLimits",
    "Platform",
    "RateLimit",
    "Rating",
    "TextLimits",
    "caption_platforms",
    "chat_platforms",
    "choices",
    "get",
    "graphemes",
    "max_ratings",
    "publishing_platforms",
    "rating_allows",
    "social_platforms",
    "source_platforms",
    "weighted_length",
    "with_capability",
]

MB = 1024 * 1024


# --- Ratings -----------------------------------------------------------------------------------------


class Rating(StrEnum):
    """Content rating, ordered ``sfw < suggestive < explicit`` (not alphabetically, as plain strings are)."""

    SFW = "sfw"
    SUGGESTIVE = "suggestive"
    EXPLICIT = "explicit"

    @property
    def label(self) -> str:
        return _RATING_LABELS[self.value]

    @property
    def rank(self) -> int:
        return _RATING_ORDER.index(self.value)

    def allows(self, rating: Rating | str) -> bool:
        """Whether a ceiling of ``self`` admits content rated ``rating`` (explicit admits suggestive)."""
        return self.rank >= Rating(rating).rank

    def _rank_of(self, other: object) -> int | None:
        if isinstance(other, str) and other in _RATING_ORDER:
            return _RATING_ORDER.index(other)
        return None

    def __lt__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank >= rank


_RATING_ORDER = ("sfw", "suggestive", "explicit")
_RATING_LABELS = {"sfw": "SFW", "suggestive": "Suggestive", "explicit": "Explicit"}
# (value, label) pairs for every model, form and serializer that offers a rating.
RATING_CHOICES: list[tuple[str, str]] = [(r.value, r.label) for r in Rating]


def rating_allows(ceiling: Rating | str, rating: Rating | str) -> bool:
    """Whether content rated ``rating`` fits under ``ceiling`` (a platform's or a consent's maximum)."""
    return Rating(ceiling).allows(rating)


# --- How platforms count text ------------------------------------------------------------------------

# X (twitter-text v3): a link weighs 23 whatever its length; code points in these ranges weigh 1, others 2.
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_LINK_WEIGHT = 23


def weighted_length(text: str) -> int:
    """The length X counts against its 280 limit."""
    urls = _URL.findall(text)
    rest = _URL.sub("", text)
    weight = sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _LIGHT_RANGES) else 2 for ch in rest)
    return weight + _X_LINK_WEIGHT * len(urls)


def graphemes(text: str) -> int:
    """What a person sees as characters (an emoji with modifiers is one): Bluesky's count."""
    return len(regex.findall(r"\X", text))


class Counting(StrEnum):
    CHARACTERS = "characters"  # Unicode code points, Python's len()
    GRAPHEMES = "graphemes"
    WEIGHTED = "weighted"  # X's weighted count


_MEASURES: Mapping[Counting, Callable[[str], int]] = MappingProxyType(
    {Counting.CHARACTERS: len, Counting.GRAPHEMES: graphemes, Counting.WEIGHTED: weighted_length}
)


@dataclass(frozen=True)
class TextLimits:
    """A post's text as the platform counts it.

    ``max_length`` is in ``counting`` units; ``max_bytes`` a second ceiling in UTF-8 bytes where the
    platform has one. ``caption_length`` is where a suggested caption must fit when that is tighter than a
    post's text (Telegram's caption under media, Reddit's title), and ``title`` says that caption is a
    one-line title.
    """

    max_length: int
    counting: Counting = Counting.CHARACTERS
    max_bytes: int | None = None
    caption_length: int | None = None
    title: bool = False

    def measure(self, text: str) -> int:
        return _MEASURES[self.counting](text)

    @property
    def max_code_points(self) -> int:
        """The most code points any accepted text can hold (a UTF-8 code point is at least one byte)."""
        return self.max_bytes if self.counting is Counting.GRAPHEMES and self.max_bytes else self.max_length


@dataclass(frozen=True)
class HashtagNorms:
    """What the network expects of hashtags: ``suggested`` by default, never more than ``maximum``
    (both counting the AI disclosure's own tags), a ``block`` of them apart from the text (Instagram),
    and what separates the text from its closing tags."""

    suggested: int
    maximum: int
    block: bool = False
    separator: str = "\n\n"


@dataclass(frozen=True)
class MediaLimits:
    """Files one post may carry: how many, the largest file of any kind, and the accepted types.
    ``max_image_bytes`` is a tighter ceiling for images where the platform has one."""

    max_items: int
    max_bytes: int
    image_types: frozenset[str]
    video_types: frozenset[str] = frozenset()
    audio_types: frozenset[str] = frozenset()
    max_image_bytes: int | None = None

    @property
    def types(self) -> frozenset[str]:
        return self.image_types | self.video_types | self.audio_types


@dataclass(frozen=True)
class RateLimit:
    """Requests one account may make per window before the platform throttles it."""

    requests: int
    window_seconds: int = 60


@dataclass(frozen=True)
class ChatPolicy:
    """How fans are messaged there (the inbox), and the platform's rules for it.

    ``channel`` is the dotted path of the inbox channel that speaks the platform's chat API. Prices are in
    the minor units of ``price_currency`` (Telegram's paid media is priced in Stars, ``XTR``). Where the
    platform forbids agencies to pretend to be the creator or to say the creator is online
    (``forbids_impersonation``), outgoing text is screened for such claims. ``automated_replies`` says
    whether a disclosed AI persona may answer on its own there; everywhere else a person approves.
    """

    channel: str
    max_text: int
    rate: RateLimit
    paid_media: bool
    min_price_minor: int | None
    max_price_minor: int | None
    price_currency: str
    automated_replies: bool
    forbids_impersonation: bool
    webhooks: bool  # messages arrive pushed; otherwise the channel is polled


class Kind(StrEnum):
    SUBSCRIPTION = "subscription"  # fans pay the creator there
    SOCIAL = "social"  # posting there promotes the creator (a use a performer consents to separately)
    MANUAL = "manual"  # a person uploads an export Atelier prepares


class Capability(StrEnum):
    """What Atelier can do on a platform through its API."""

    PUBLISH = "publish"
    LOOKUP = "lookup"  # find a post by what we sent, to settle an unknown outcome
    UNPUBLISH = "unpublish"
    METRICS = "metrics"
    MESSAGES = "messages"
    WEBHOOKS = "webhooks"
    OAUTH = "oauth"  # accounts connect through the OAuth authorization-code flow


@dataclass(frozen=True)
class Platform:
    """One platform, every fact about it. No field has a default: an entry states each one."""

    key: str
    label: str
    kind: Kind
    max_rating: Rating  # the most explicit rating the platform's policy accepts
    text: TextLimits | None
    hashtags: HashtagNorms | None  # None: no caption suggestions for this platform
    media: MediaLimits | None
    rate: RateLimit | None
    capabilities: frozenset[Capability]
    connector: str  # dotted path of the connector class, resolved by scheduling; "" when none
    chat: ChatPolicy | None  # None: Atelier does not talk with fans there
    # How people recognise it at a glance (calendar chips, legends): a brand-like colour behind a white
    # glyph of one or two characters. Drawn as text, so no icon file or external asset is needed.
    colour: str  # "#rrggbb"
    glyph: str

    @property
    def ratings(self) -> frozenset[str]:
        """Every rating the platform accepts."""
        return frozenset(r.value for r in Rating if self.max_rating.allows(r))

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def publishing_limits(self) -> tuple[TextLimits, MediaLimits, RateLimit]:
        """The limits a connector enforces; ValueError for a platform Atelier does not publish to."""
        if self.text is None or self.media is None or self.rate is None:
            raise ValueError(f"{self.label} has no publishing limits: Atelier does not publish there.")
        return self.text, self.media, self.rate


_C = Capability
_CONNECTORS = "scheduling.connectors"
_CHANNELS = "inbox.channels"
_JPEG_PNG_WEBP = frozenset({"image/jpeg", "image/png", "image/webp"})
_GIF = frozenset({"image/gif"})
_MP4_MOV = frozenset({"video/mp4", "video/quicktime"})

# The order is the order of every choice list (and so of the migrations that record them).
_DECLARED = (
    Platform(
        key="fanvue", label="Fanvue", kind=Kind.SUBSCRIPTION, max_rating=Rating.EXPLICIT,
        text=TextLimits(max_length=5000),
        hashtags=HashtagNorms(suggested=3, maximum=5),
        media=MediaLimits(max_items=50, max_bytes=4096 * MB, image_types=_JPEG_PNG_WEBP | _GIF,
                          video_types=_MP4_MOV, audio_types=frozenset({"audio/mpeg", "audio/mp4", "audio/wav"}),
                          max_image_bytes=50 * MB),
        rate=RateLimit(200, 60),
        capabilities=frozenset({_C.PUBLISH, _C.LOOKUP, _C.UNPUBLISH, _C.METRICS, _C.MESSAGES, _C.WEBHOOKS,
                                _C.OAUTH}),
        connector=f"{_CONNECTORS}.fanvue.FanvueConnector",
        chat=ChatPolicy(channel=f"{_CHANNELS}.fanvue.FanvueChannel", max_text=5000, rate=RateLimit(200, 60),
                        paid_media=True, min_price_minor=300, max_price_minor=None, price_currency="USD",
                        automated_replies=True, forbids_impersonation=True, webhooks=True),
        colour="#0f9f6e", glyph="F",
    ),
    Platform(
        key="x", label="X", kind=Kind.SOCIAL, max_rating=Rating.EXPLICIT,
        text=TextLimits(max_length=280, counting=Counting.WEIGHTED),
        hashtags=HashtagNorms(suggested=2, maximum=3, separator="\n"),
        # Images 5 MB, GIFs 15 MB (the connector's media category), videos 512 MB.
        media=MediaLimits(max_items=4, max_bytes=512 * MB, image_types=_JPEG_PNG_WEBP | _GIF, video_types=_MP4_MOV,
                          max_image_bytes=5 * MB),
        rate=RateLimit(100, 900),
        capabilities=frozenset({_C.PUBLISH, _C.LOOKUP, _C.UNPUBLISH, _C.METRICS, _C.MESSAGES, _C.OAUTH}),
        connector=f"{_CONNECTORS}.x.XConnector",
        # DMs: 200 requests per 15 minutes per user (dm_events and sends share the budget).
        chat=ChatPolicy(channel=f"{_CHANNELS}.x.XChannel", max_text=10_000, rate=RateLimit(200, 900),
                        paid_media=False, min_price_minor=None, max_price_minor=None, price_currency="",
                        automated_replies=False, forbids_impersonation=False, webhooks=False),
        colour="#111827", glyph="X",
    ),
    Platform(
        key="reddit", label="Reddit", kind=Kind.SOCIAL, max_rating=Rating.EXPLICIT,
        # 40,000 for a self post's body; a suggestion is the submission's title (300, one line, no hashtags).
        text=TextLimits(max_length=40_000, caption_length=300, title=True),
        hashtags=HashtagNorms(suggested=0, maximum=0, separator=" "),
        media=MediaLimits(max_items=1, max_bytes=20 * MB, image_types=frozenset({"image/jpeg", "image/png"}) | _GIF),
        # Reddit's OAuth allowance is 100 queries per minute per client id (Data API terms, 2023).
        rate=RateLimit(100, 60),
        capabilities=frozenset({_C.PUBLISH, _C.LOOKUP, _C.UNPUBLISH, _C.METRICS}),
        connector=f"{_CONNECTORS}.reddit.RedditConnector",
        chat=None,
        colour="#e03d00", glyph="R",
    ),
    Platform(
        key="telegram", label="Telegram", kind=Kind.SOCIAL, max_rating=Rating.EXPLICIT,
        # 4096 for a text message, 1024 for the caption under media (the usual case for a suggestion).
        text=TextLimits(max_length=4096, caption_length=1024),
        hashtags=HashtagNorms(suggested=2, maximum=3),
        media=MediaLimits(max_items=10, max_bytes=50 * MB, image_types=_JPEG_PNG_WEBP,
                          video_types=frozenset({"video/mp4"}), max_image_bytes=10 * MB),
        # Bots may send about 20 messages a minute to one group or channel before flood control.
        rate=RateLimit(20, 60),
        # The Bot API cannot read a channel back (no lookup, no metrics); it deletes messages while it may.
        # A bot's private chats arrive by webhook (setWebhook with a secret_token).
        capabilities=frozenset({_C.PUBLISH, _C.UNPUBLISH, _C.MESSAGES, _C.WEBHOOKS}),
        connector=f"{_CONNECTORS}.telegram.TelegramConnector",
        # Private chats with the bot: about one message a second per chat, 30 a second overall. Paid media
        # are priced in Stars (sendPaidMedia's star_count, 1–25000 in the current Bot API; XTR has no minor unit).
        chat=ChatPolicy(channel=f"{_CHANNELS}.telegram.TelegramChannel", max_text=4096, rate=RateLimit(30, 1),
                        paid_media=True, min_price_minor=1, max_price_minor=25_000, price_currency="XTR",
                        automated_replies=True, forbids_impersonation=False, webhooks=True),
        colour="#1d8fc7", glyph="T",
    ),
    Platform(
        key="bluesky", label="Bluesky", kind=Kind.SOCIAL, max_rating=Rating.EXPLICIT,
        text=TextLimits(max_length=300, counting=Counting.GRAPHEMES, max_bytes=3000),
        hashtags=HashtagNorms(suggested=2, maximum=3, separator="\n"),
        # The image blob limit is 1,000,000 bytes, not 1 MiB.
        media=MediaLimits(max_items=4, max_bytes=1_000_000, image_types=_JPEG_PNG_WEBP | _GIF),
        # The PDS allows 5,000 record-creation points per hour (a create costs 3) per account.
        rate=RateLimit(1666, 3600),
        capabilities=frozenset({_C.PUBLISH, _C.LOOKUP, _C.UNPUBLISH, _C.METRICS, _C.MESSAGES}),
        connector=f"{_CONNECTORS}.bluesky.BlueskyConnector",
        chat=ChatPolicy(channel=f"{_CHANNELS}.bluesky.BlueskyChannel", max_text=1000, rate=RateLimit(3000, 300),
                        paid_media=False, min_price_minor=None, max_price_minor=None, price_currency="",
                        automated_replies=True, forbids_impersonation=False, webhooks=False),
        colour="#0a6fe0", glyph="B",
    ),
    Platform(
        key="instagram", label="Instagram", kind=Kind.SOCIAL, max_rating=Rating.SFW,
        text=TextLimits(max_length=2200),
        hashtags=HashtagNorms(suggested=15, maximum=30, block=True),
        media=MediaLimits(max_items=10, max_bytes=300 * MB, image_types=frozenset({"image/jpeg"}),
                          video_types=_MP4_MOV, max_image_bytes=8 * MB),
        rate=RateLimit(50, 24 * 3600),
        capabilities=frozenset({_C.PUBLISH, _C.LOOKUP, _C.METRICS}),
        connector=f"{_CONNECTORS}.instagram.InstagramConnector",
        chat=None,
        colour="#c13584", glyph="I",
    ),
    Platform(
        key="manual", label="Manual export (OnlyFans, platforms without an API)", kind=Kind.MANUAL,
        max_rating=Rating.EXPLICIT,
        # A person uploads: the target platform's own limits are theirs to respect, so only sanity bounds.
        text=TextLimits(max_length=100_000),
        hashtags=None,
        media=MediaLimits(max_items=100, max_bytes=20 << 30, image_types=_JPEG_PNG_WEBP | _GIF,
                          video_types=_MP4_MOV | {"video/webm"}),
        rate=RateLimit(1_000_000, 60),
        capabilities=frozenset({_C.PUBLISH}),
        connector=f"{_CONNECTORS}.manual.ManualConnector",
        chat=None,
        colour="#6b7280", glyph="M",
    ),
    # No API we may use: reached through a manual export (target platform "onlyfans") and statements.
    Platform(key="onlyfans", label="OnlyFans", kind=Kind.SUBSCRIPTION, max_rating=Rating.EXPLICIT, text=None,
             hashtags=None, media=None, rate=None, capabilities=frozenset(), connector="", chat=None,
             colour="#0087bd", glyph="O"),
    # Instagram, TikTok, YouTube and Threads allow no nudity. Named by consents; no connector yet.
    Platform(key="tiktok", label="TikTok", kind=Kind.SOCIAL, max_rating=Rating.SFW, text=None, hashtags=None,
             media=None, rate=None, capabilities=frozenset(), connector="", chat=None, colour="#d3154a", glyph="Tk"),
    Platform(key="youtube", label="YouTube", kind=Kind.SOCIAL, max_rating=Rating.SFW, text=None, hashtags=None,
             media=None, rate=None, capabilities=frozenset(), connector="", chat=None, colour="#cc0000", glyph="Y"),
    Platform(key="threads", label="Threads", kind=Kind.SOCIAL, max_rating=Rating.SFW, text=None, hashtags=None,
             media=None, rate=None, capabilities=frozenset(), connector="", chat=None, colour="#5b21b6", glyph="@"),
)

PLATFORMS: Mapping[str, Platform] = MappingProxyType({p.key: p for p in _DECLARED})


def get(key: str) -> Platform:
    """The platform called ``key``; KeyError names the known ones."""
    try:
        return PLATFORMS[key]
    except KeyError:
        raise KeyError(f"Unknown platform {key!r}; known platforms: {', '.join(PLATFORMS)}") from None


def choices(platforms: Iterable[Platform]) -> list[tuple[str, str]]:
    """(key, label) pairs in registry order, for a model field, a form or a filter."""
    return [(p.key, p.label) for p in platforms]


def publishing_platforms() -> list[Platform]:
    """Platforms an account can publish to: those with a connector."""
    return [p for p in PLATFORMS.values() if p.connector]


def source_platforms() -> list[Platform]:
    """Platforms money and fans come from: every publishing platform, and subscription platforms whose
    statements are imported even without an API."""
    return [p for p in PLATFORMS.values() if p.connector or p.kind is Kind.SUBSCRIPTION]


def caption_platforms() -> list[Platform]:
    """Platforms captions are suggested for: those whose text limits and hashtag norms are declared."""
    return [p for p in PLATFORMS.values() if p.text is not None and p.hashtags is not None]


def chat_platforms() -> list[Platform]:
    """Platforms whose fans the inbox talks with: those with a chat policy."""
    return [p for p in PLATFORMS.values() if p.chat is not None]


def social_platforms() -> frozenset[str]:
    return frozenset(p.key for p in PLATFORMS.values() if p.kind is Kind.SOCIAL)


def with_capability(capability: Capability) -> list[Platform]:
    return [p for p in PLATFORMS.values() if p.can(capability)]


def max_ratings() -> dict[str, Rating]:
    """The policy table: each platform's most explicit accepted rating."""
    return {p.key: p.max_rating for p in PLATFORMS.values()}
