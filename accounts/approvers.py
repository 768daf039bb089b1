"""Who may approve a creator's rows, so that a four-eyes refusal names the people to ask.

A refusal that only says "someone else" leaves an editor hunting through the team list; naming the
members whose role carries the change right on that creator (and the owners, who reach every
creator) turns it into a message the editor can act on.
"""

from __future__ import annotations

from django.db.models import Model

from accounts.models import Membership, Role, User
from accounts.roles import role_grants

NAMED_AT_MOST = 4


def approvers(creator_id: int, model: type[Model], *, excluding: int | None = None) -> list[tuple[User, str]]:
    """Active people who may change (and so approve) `model` rows of this creator, with the role
    that lets them: members first, by role then name, then owners."""
    opts = model._meta
    roles = [r.value for r in Role if role_grants(r.value, opts.app_label, f"change_{opts.model_name}")]
    members = (Membership.objects.filter(creator_id=creator_id, role__in=roles, user__is_active=True,
                                         user__is_superuser=False)
               .select_related("user").order_by("role", "user__username"))
    owners = User.objects.filter(is_superuser=True, is_active=True).order_by("username")
    if excluding is not None:
        members, owners = members.exclude(user_id=excluding), owners.exclude(pk=excluding)
    seen: set[int] = set()
    out: list[tuple[User, str]] = []
    for membership in members:
        if membership.user_id not in seen:
            seen.add(membership.user_id)
            out.append((membership.user, membership.role.replace("_", " ")))
    out.extend((owner, "owner") for owner in owners)
    return out


def who_may_approve(creator_id: int, model: type[Model], *, excluding: int | None = None) -> str:
    """"Cora (manager) or Ada (owner)", or "" when nobody else may."""
    people = approvers(creator_id, model, excluding=excluding)
    names = [f"{user} ({role})" for user, role in people[:NAMED_AT_MOST]]
    if len(people) > NAMED_AT_MOST:
        names.append(f"{len(people) - NAMED_AT_MOST} more")
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def four_eyes_refusal(what: str, creator_id: int, model: type[Model], *, author_id: int) -> str:
    """The refusal shown to the author of `what` ("You submitted this post; … may approve it (four-eyes
    review)."): who to ask, and why."""
    others = who_may_approve(creator_id, model, excluding=author_id)
    if not others:
        return (f"{what}; it needs a second person to approve it (four-eyes review) and nobody else on this "
                f"creator may: ask an owner to add a manager or an editor.")
    return f"{what}; {others} may approve it (four-eyes review)."
