"""The send gate for messages to fans: compliance decides, as it does for publications.

`problems` lists every reason a message may not go, in words; an empty list lets it through.
"""

from __future__ import annotations

from accounts.models import User
from compliance.blocklist import screen_fields
from content.models import Asset
from core import platforms
from inbox.models import Conversation, Message


def problems(conversation: Conversation, *, by: User | None, text: str, assets: list[Asset],
             price_minor: int | None, origin: str) -> list[str]:
    out: list[str] = []
    policy = platforms.get(conversation.account.platform).chat
    if policy is None:
        return [f"Atelier does not message fans on {conversation.account.get_platform_display()}."]
    if not (text or "").strip() and not assets:
        out.append("A message needs text or media.")
    if len(text or "") > policy.max_text:
        out.append(f"The message has {len(text)} characters; {conversation.account.get_platform_display()} "
                   f"allows {policy.max_text}.")
    if price_minor is not None:
        if not policy.paid_media:
            out.append(f"{conversation.account.get_platform_display()} has no paid messages.")
        elif not assets:
            out.append("A priced message needs media to unlock.")
        if policy.min_price_minor is not None and price_minor < policy.min_price_minor:
            out.append(f"The lowest price accepted there is {policy.min_price_minor} "
                       f"({policy.price_currency} minor units).")
        if policy.max_price_minor is not None and price_minor > policy.max_price_minor:
            out.append(f"The highest price accepted there is {policy.max_price_minor} "
                       f"({policy.price_currency} minor units).")
    for hit in screen_fields({"message": text or ""}):
        out.append(f"Refused: {hit}")
    if conversation.held_at is not None and (price_minor is not None or origin == Message.Origin.AUTOMATION):
        out.append("This conversation is held for compliance: no paid content and no automated replies.")
    return out
