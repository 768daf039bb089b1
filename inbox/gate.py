"""The send gate for messages to fans: compliance decides, as it does for publications.

`problems` lists every reason a message may not go, in words; an empty list lets it through. Media in a
message pass the very gate a publication passes (`compliance.check_publication` over a `GateInput` built
from the message's assets, as `scheduling.services.gate.gate_input_for` builds one for a post): every
depicted performer a verified adult consenting to that platform, rating and use, every asset approved, AI
media disclosed and marked. Paid media included. On top come what only chat has: the platform's conduct
rules (`inbox.conduct`), the soft lock, a conversation held for compliance, and the rule that only a
disclosed AI persona on a platform allowing it may answer on its own.

`delivery_problems` is the part that can change between the queueing and the call (a consent revoked, a
conversation held meanwhile): the worker asks it again right before it calls the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from django.utils import timezone

from accounts.models import Creator, User
from compliance import services as compliance
from compliance import wording as compliance_wording
from compliance.blocklist import screen_fields
from compliance.gate import Verdict
from compliance.hardblock import CUSTOM, MINOR, NON_CONSENT
from content.models import Asset
from core import platforms
from core.platforms import ChatPolicy, Rating
from inbox.conduct import impersonation_claims
from inbox.models import Conversation, Message
from scheduling.models import PlatformAccount

# A message is judged as it stands when it goes: there is no separate approved version to compare.
MESSAGE_VERSION = "message"

HELD = "This conversation is held for compliance: no paid content, no automated replies and no AI drafts."


def problems(conversation: Conversation, *, by: User | None, text: str, assets: list[Asset],
             price_minor: int | None, origin: str, ai_generated: bool = False) -> list[str]:
    out: list[str] = []
    policy = platforms.get(conversation.account.platform).chat
    if policy is None:
        return [f"Atelier does not message fans on {conversation.account.get_platform_display()}."]
    if not (text or "").strip() and not assets:
        out.append("A message needs text or media.")
    limit = policy.max_text
    text_limits = platforms.get(conversation.account.platform).text
    if assets and text_limits is not None and text_limits.caption_length:
        limit = min(limit, text_limits.caption_length)  # text under media is a caption (Telegram: 1,024)
    if len(text or "") > limit:
        out.append(f"The message has {len(text)} characters; {conversation.account.get_platform_display()} "
                   f"allows {limit}{' under media' if limit != policy.max_text else ''}.")
    out += _price_problems(conversation, policy, assets, price_minor)
    out += conduct_problems(conversation, policy, text)
    out += _lock_problems(conversation, by)
    out += _automation_problems(conversation, policy, origin)
    out += delivery_problems(conversation, text=text, assets=assets, price_minor=price_minor, origin=origin,
                             ai_generated=ai_generated)
    return out


BLOCKED = {MINOR: "suggests a minor", NON_CONSENT: "suggests non-consent", CUSTOM: "is on the agency's blocked list"}


def blocked_terms(text: str) -> list[str]:
    """Hard-blocked terms in a text that can reach a fan (`compliance.blocklist`: built-in lists, the
    setting and the admin's terms), each said with the words that tripped it."""
    return [f"Refused: “{hit.excerpt}” {BLOCKED.get(hit.category, 'is blocked')}."
            for hit in screen_fields({"message": text or ""})]


def delivery_problems(conversation: Conversation, *, text: str, assets: Sequence[Asset], price_minor: int | None,
                      origin: str, ai_generated: bool = False, at: datetime | None = None) -> list[str]:
    """What stops the message now: blocked terms (the agency's list may have grown), the hold and the
    media gate, read from the live rows."""
    out = blocked_terms(text)
    if conversation.held_at is not None and (
            price_minor is not None or ai_generated
            or origin in (Message.Origin.AUTOMATION, Message.Origin.AI_DRAFT, Message.Origin.MASS)):
        out.append(HELD)
    out += media_problems(conversation, list(assets), at=at)
    return out


def conduct_problems(conversation: Conversation, policy: ChatPolicy, text: str) -> list[str]:
    """The platform's conduct rule: where it forbids it, no claim to be the creator or that she is online."""
    return _conduct(conversation.creator, conversation.account.platform, policy, text)


def _conduct(creator: Creator, platform: str, policy: ChatPolicy | None, text: str) -> list[str]:
    if policy is None or not policy.forbids_impersonation:
        return []
    claims = impersonation_claims(text or "", creator_name=creator.stage_name)
    if not claims:
        return []
    quoted = ", ".join(f"“{c}”" for c in claims)
    return [f"{platforms.get(platform).label} forbids agencies to pretend to be {creator} or to say "
            f"{creator} is online: reword {quoted}."]


def text_problems(creator: Creator, text: str, *, platform: str | None = None) -> list[str]:
    """The text rules alone, for words written before any message (a script, an AI draft): hard-blocked
    terms, and the conduct rule of `platform` — or, for a script usable anywhere, of every platform the
    creator chats on that has one."""
    out = blocked_terms(text)
    if platform:
        return out + _conduct(creator, platform, platforms.get(platform).chat, text)
    return out + conduct_of_script(creator, text)


def conduct_of_script(creator: Creator, text: str) -> list[str]:
    """The conduct rules alone for a saved reply usable on any of the creator's chat platforms (its
    hard-blocked terms are screened apart, in the script's own words)."""
    keys = sorted(set(PlatformAccount.objects.filter(creator=creator).values_list("platform", flat=True)))
    return [problem for key in keys for problem in _conduct(creator, key, platforms.get(key).chat, text)]


def _price_problems(conversation: Conversation, policy: ChatPolicy, assets: list[Asset],
                    price_minor: int | None) -> list[str]:
    if price_minor is None:
        return []
    out = []
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
    return out


def _lock_problems(conversation: Conversation, by: User | None) -> list[str]:
    """Two chatters never answer the same fan at once: the one typing holds the conversation's soft lock.
    (Read here rather than through `services.lock_holder`: services imports this module.)"""
    if not conversation.locked_by_id or (by is not None and conversation.locked_by_id == by.pk):
        return []  # an automation (`by` None) waits for whoever is typing too
    if conversation.locked_until is None or conversation.locked_until <= timezone.now():
        return []
    holder = User.objects.filter(pk=conversation.locked_by_id).first()
    return [f"{holder or 'Someone else'} is writing in this conversation; wait until they are done."]


def ai_auto_allowed(conversation: Conversation) -> list[str]:
    """Why this conversation may not answer on its own (empty: it may). Only a disclosed AI persona on a
    platform whose rules allow automated replies (EU AI Act Art. 50(1), California SB 1001 / SB 243)."""
    out = []
    policy = platforms.get(conversation.account.platform).chat
    if conversation.creator.kind != Creator.Kind.AI_PERSONA:
        out.append(f"{conversation.creator} is not an AI persona: a person approves every reply.")
    if policy is None or not policy.automated_replies:
        out.append(f"{conversation.account.get_platform_display()} does not allow automated replies.")
    if conversation.held_at is not None:
        out.append(HELD)
    return out


def _automation_problems(conversation: Conversation, policy: ChatPolicy, origin: str) -> list[str]:
    if origin != Message.Origin.AUTOMATION:
        return []
    out = [p for p in ai_auto_allowed(conversation) if p != HELD]
    if not out and conversation.mode != Conversation.Mode.AI_AUTO:
        out.append("This conversation does not answer on its own: switch it to automatic AI replies first.")
    return out


# --- Media: the publication gate ---------------------------------------------------------------------


def media_problems(conversation: Conversation, assets: list[Asset], *, at: datetime | None = None) -> list[str]:
    """The compliance gate for the message's media, in the gate's own words; the assets must be the
    conversation creator's. No media, nothing to judge."""
    if not assets:
        return []
    foreign = [a for a in assets if a.creator_id != conversation.creator_id]
    if foreign:
        return [f"Asset {', '.join(f'#{a.pk}' for a in foreign)} does not belong to {conversation.creator}."]
    data = gate_input_for(conversation, assets, at=at)
    verdict = compliance.check_publication(data)
    out = in_words(verdict, conversation.creator.tzinfo)
    ceiling = conversation.account.max_rating
    if ceiling and not Rating(ceiling).allows(data.rating):
        out.append(f"{conversation.account} accepts up to {ceiling} content.")
    return list(dict.fromkeys(out))


def in_words(verdict: Verdict, zone: tzinfo | None = None) -> list[str]:
    """The gate's reasons as the compliance vocabulary tells them (`compliance.wording.GATE`, with when
    and by whom where the record knows it), said of the message's media rather than of a post."""
    reasons = [r.to_dict() for r in verdict.reasons]
    out = []
    for reason, facts in zip(reasons, compliance_wording.reason_facts(reasons, zone), strict=True):
        said = compliance_wording.GATE.say(reason["code"], **facts).replace("the post", "the media")
        if reason["performer_id"]:
            said += f" (performer #{reason['performer_id']})"
        out.append(said + ".")
    return out


def gate_input_for(conversation: Conversation, assets: list[Asset], *,
                   at: datetime | None = None) -> compliance.GateInput:
    """What compliance needs to judge the media of one message, read from the live rows (the shape of
    `scheduling.services.gate.gate_input_for`; the message's own text is screened apart)."""
    assets = list(Asset.objects.filter(pk__in=[a.pk for a in assets]).prefetch_related("performers", "tags"))
    creator = conversation.creator
    performer_ids = frozenset(p.pk for a in assets for p in a.performers.all())
    ai_assets = [a for a in assets if a.origin in (Asset.Origin.AI, Asset.Origin.EDIT)]
    dates = [a.production_date for a in assets if a.production_date]
    texts: dict[str, str] = {}
    for asset in assets:
        texts[f"asset {asset.pk} title"] = asset.title
        texts[f"asset {asset.pk} tags"] = " ".join(t.name for t in asset.tags.all())
    return compliance.GateInput(
        creator_id=creator.pk,
        platform=conversation.account.platform,
        rating=max([a.rating for a in assets] or ["sfw"], key=lambda r: Rating(r).rank),
        performer_ids=performer_ids,
        production_date=min(dates) if dates else None,  # the earliest is the strictest for the age rule
        ai_origin=bool(ai_assets),
        disclosure_present=all(a.disclosure_label for a in ai_assets),
        provenance_present=all(a.provenance_present for a in ai_assets),
        no_real_person_attested=bool(assets) and not performer_ids and all(a.no_real_person_attested
                                                                           for a in assets),
        human_approved=bool(assets) and all(a.status == Asset.Status.APPROVED for a in assets),
        texts=texts,
        due_at=(at or timezone.now()).astimezone(creator.tzinfo),
        approved_version=MESSAGE_VERSION,
        current_version=MESSAGE_VERSION,
        asset_ids=frozenset(a.pk for a in assets),
    )
