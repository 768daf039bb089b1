"""The one interface every chat channel implements.

Sending follows the publishing rules exactly (`scheduling.connectors.base`'s errors are reused):
`TransientError` only when the platform certainly did not take the message (refused connection, 429,
5xx before acceptance), `UnknownOutcome` whenever it may have (a timeout after the request left), and an
unknown send is never repeated blindly: `lookup_sent` settles it where the platform lets us read the chat
back, otherwise a person checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    ConnectorError,
    MediaItem,
    PermanentError,
    TransientError,
    UnknownOutcome,
)

__all__ = [
    "AccountRef",
    "AuthError",
    "ChatChannel",
    "ConnectorError",
    "InboundMessage",
    "MediaItem",
    "PermanentError",
    "SendRequest",
    "SendResult",
    "TransientError",
    "UnknownOutcome",
    "UpdatePage",
]


@dataclass(frozen=True)
class SendRequest:
    idempotency_key: str  # the message's own key: a platform that dedupes by it gets it as is
    account: AccountRef
    chat_id: str  # the conversation's external id (a Telegram chat id, a Bluesky convo id); may be ""
    fan_id: str  # the fan's external id on the platform (a Fanvue user uuid, an X user id, a DID)
    text: str
    media: tuple[MediaItem, ...] = ()
    # Media already held by the platform (Fanvue vault `mediaUuids`), when the channel uploads beforehand.
    media_ids: tuple[str, ...] = ()
    price_minor: int | None = None  # pay-per-view; in the platform's price currency (ChatPolicy)
    currency: str = ""
    template_id: str = ""  # a platform template the script maps to (Fanvue `templateUuid`)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    external_id: str
    sent_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundMessage:
    """One message read from the platform (a webhook, a reconciliation page)."""

    external_id: str
    chat_id: str
    fan_id: str
    sent_at: datetime
    text: str = ""
    fan_handle: str = ""
    fan_name: str = ""
    # "in": the fan wrote it. "out": written on the creator's side outside Atelier (the platform's own
    # automatic welcome, the creator's phone): recorded so the thread is whole, never sent again.
    direction: str = "in"
    automated: bool = False  # the platform sent it itself (Fanvue AUTOMATED_NEW_SUBSCRIBER)
    media: tuple[dict[str, Any], ...] = ()
    price_minor: int | None = None
    currency: str = ""
    purchased: bool = False
    read: bool = False  # the other side has read it
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdatePage:
    messages: list[InboundMessage]
    cursor: str | None  # pass back for the next page; None when nothing more is waiting


class ChatChannel(Protocol):
    """What every chat channel implements."""

    @property
    def platform(self) -> str: ...

    def send(self, request: SendRequest) -> SendResult: ...

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        """The message if the platform holds it (settles an unknown send); None if it certainly does not.
        Raise `UnknownOutcome` when the chat cannot be read back far enough to tell."""
        ...

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        """Reconciliation: messages the account received (or sent elsewhere) since `cursor`, oldest first."""
        ...

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None: ...
