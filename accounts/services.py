"""State changes for creators, memberships and API keys. Admin, API and tasks call these."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import audit, tenancy
from accounts.models import ApiKey, Creator, Membership, Role, User

KEY_PREFIX = "atl"


def user_of(actor: object) -> User | None:
    """The staff user behind an actor: an API key acts for its owner; None for the system."""
    if actor is None:
        return None
    if isinstance(actor, ApiKey):
        return actor.owner
    return actor if getattr(actor, "pk", None) else None


def hash_api_key(raw: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough; a slow KDF would only add
    # latency to every API request.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw: str  # shown once, never stored


def create_creator(*, stage_name: str, kind: str = Creator.Kind.HUMAN, timezone_name: str = "UTC",
                   language: str = "en", actor: User | None = None, **fields: object) -> Creator:
    """Create a creator with a unique slug derived from the stage name."""
    creator = Creator(stage_name=stage_name, kind=kind, timezone=timezone_name, language=language, **fields)
    return save_creator(creator, actor=actor)


def may_set_policies(actor: object) -> bool:
    """Agency policies are the owner's, signed in: not a manager, and not a key (even the owner's),
    whose secret travels through integrations. None is the system (migrations, management commands)."""
    if actor is None:
        return True
    return isinstance(actor, User) and actor.is_active and actor.is_superuser


@transaction.atomic
def save_creator(creator: Creator, *, actor: User | ApiKey | None = None,
                 changed: list[str] | None = None) -> Creator:
    """Validate and save a creator edited in admin or API. Audits `creator.created` / `creator.updated`.

    A change to an agency policy (`Creator.POLICY_FIELDS`) by anyone but the owner is refused whatever
    the caller's form allowed, and an allowed one is audited with its old and new values
    (`creator.policy_changed`).
    """
    adding = creator._state.adding
    if adding:
        policy = {f: [None, getattr(creator, f)] for f in Creator.POLICY_FIELDS
                  if getattr(creator, f) != Creator._meta.get_field(f).get_default()}
    else:
        stored = Creator.objects.select_for_update().filter(pk=creator.pk).values(*Creator.POLICY_FIELDS).get()
        policy = {f: [stored[f], getattr(creator, f)] for f in Creator.POLICY_FIELDS
                  if stored[f] != getattr(creator, f)}
    if policy and not may_set_policies(actor):
        raise PermissionDenied("Only the agency owner, signed in, changes a creator's agency policies "
                               f"({', '.join(sorted(policy))}).")
    if adding and not creator.slug:
        base = slugify(creator.stage_name) or "creator"
        creator.slug, n = base, 1
        while Creator.objects.filter(slug=creator.slug).exists():
            n += 1
            creator.slug = f"{base}-{n}"
    creator.full_clean()
    creator.save()
    audit.record("creator.created" if adding else "creator.updated", creator, actor=actor,
                 changes={"fields": sorted(changed or [])} if not adding else {"kind": creator.kind})
    if policy and not adding:
        audit.record("creator.policy_changed", creator, actor=actor, changes=policy)
    return creator


def _sync_user_groups(user: User) -> None:
    held = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    role_groups = {g.name: g for g in Group.objects.filter(name__in=[r.label for r in Role])}
    for role in Role:
        group = role_groups.get(role.label)
        if group is None:
            continue
        if role.value in held:
            user.groups.add(group)
        else:
            user.groups.remove(group)
    tenancy.forget([user])
    # Django caches permissions on the instance too.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


@transaction.atomic
def add_membership(*, user: User, creator: Creator, role: str, actor: User | None = None) -> Membership:
    """Give `user` a role on `creator`. Keeps the user's groups in step; audits `membership.added`."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    membership, created = Membership.objects.get_or_create(user=user, creator=creator, role=role)
    if created:
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        _sync_user_groups(user)
        audit.record("membership.added", membership, actor=actor, changes={"user": user.pk, "role": role})
    return membership


@transaction.atomic
def remove_membership(membership: Membership, *, actor: User | None = None) -> None:
    """Take a role away; the user's groups follow. Audits `membership.removed`."""
    user = membership.user
    audit.record("membership.removed", membership, actor=actor,
                 changes={"user": user.pk, "role": membership.role})
    membership.delete()
    _sync_user_groups(user)


@transaction.atomic
def issue_api_key(*, owner: User, name: str, creators: list[Creator], scope: str = ApiKey.Scope.READ,
                  expires_at: datetime | None = None, actor: User | None = None) -> IssuedKey:
    """Create a key and return its secret once. Only creators the owner can reach may be scoped."""
    reachable = tenancy.restrict(Creator.objects.all(), owner)
    outside = [c for c in creators if not reachable.filter(pk=c.pk).exists()]
    if outside:
        raise ValidationError("The key's owner has no access to some of the chosen creators.")
    if not creators:
        raise ValidationError("Choose at least one creator for the key.")
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(name=name, owner=owner, prefix=prefix, hashed_key=hash_api_key(raw),
                                scope=scope, expires_at=expires_at)
    key.creators.set(creators)
    audit.record("api_key.issued", key, actor=actor or owner,
                 changes={"scope": scope, "creators": sorted(c.pk for c in creators)})
    return IssuedKey(key=key, raw=raw)


@transaction.atomic
def revoke_api_key(key: ApiKey, *, actor: User | None = None) -> ApiKey:
    """Revoke at once; idempotent. Audits `api_key.revoked`."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record("api_key.revoked", key, actor=actor)
    return key


def authenticate_api_key(raw: str) -> ApiKey | None:
    """Find the active key for a presented secret, touching `last_used_at` at most once a minute."""
    if not raw.startswith(f"{KEY_PREFIX}_"):
        return None
    key = (ApiKey.objects.select_related("owner").filter(hashed_key=hash_api_key(raw)).first())
    if key is None or not key.is_active or not key.owner.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
