"""One module per platform's chat API, each behind `base.ChatChannel`; `channel_for` resolves the registry's
dotted path (`core.platforms`: a platform's `chat.channel`)."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from core import platforms
from inbox.channels.base import ChatChannel


@cache
def channel_for(platform: str) -> ChatChannel:
    """The channel speaking `platform`'s chat API; KeyError when Atelier does not chat there."""
    policy = platforms.get(platform).chat
    if policy is None:
        raise KeyError(f"Atelier does not talk with fans on {platform}.")
    channel: ChatChannel = import_string(policy.channel)()
    return channel
