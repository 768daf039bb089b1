"""State changes for creators, memberships and API keys. Admin, API and tasks call these."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Field, Model
from django.utils import timezone
from django.utils.text import slugify

from accounts import audit, tenancy
from accounts.actors import Actor
from accounts.models import ApiKey, Creator, Membership, Role, User

if TYPE_CHECKING:
    from django_otp.models import Device

KEY_PREFIX = "atl"


def user_of(actor: Actor) -> User | None:
    """The staff user behind an actor: an API key acts for its owner; None for the system."""
    if isinstance(actor, ApiKey):
        return actor.owner
    return actor if isinstance(actor, User) and actor.pk else None


def _default_of(model: type[Model], name: str) -> object:
    field = model._meta.get_field(name)
    return field.get_default() if isinstance(field, Field) else None


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


def may_set_policies(actor: Actor) -> bool:
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
                  if getattr(creator, f) != _default_of(Creator, f)}
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


@transaction.atomic
def update_api_key(key: ApiKey, *, name: str, expires_at: datetime | None, actor: User | None = None) -> ApiKey:
    """Rename a key or move its expiry; its scope and creators never change after issue. Audits
    `api_key.updated`."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    changed = sorted(f for f, v in (("name", name), ("expires_at", expires_at)) if getattr(locked, f) != v)
    locked.name, locked.expires_at = name, expires_at
    locked.full_clean(exclude=["owner", "prefix", "hashed_key"])
    locked.save(update_fields=["name", "expires_at"])
    audit.record("api_key.updated", locked, actor=actor, changes={"fields": changed})
    key.name, key.expires_at = locked.name, locked.expires_at
    return locked


# --- Staff accounts (the owner's) ----------------------------------------------------------------

USER_FLAGS = ("is_active", "is_staff", "is_superuser")


@transaction.atomic
def save_user(user: User, *, actor: User | None = None, changed: list[str] | None = None) -> User:
    """Create or edit a staff account. Roles never come from here: groups follow memberships
    (`add_membership`), so a group or permission set by hand is refused. Audits `user.created` /
    `user.updated` with the fields changed and the new value of every access flag."""
    adding = user._state.adding
    if not adding:
        stored = User.objects.select_for_update().get(pk=user.pk)
        if set(changed or ()) & {"groups", "user_permissions"}:
            raise ValidationError("Roles come from memberships: add or remove a membership instead.")
        flags = {f: [getattr(stored, f), getattr(user, f)] for f in USER_FLAGS
                 if getattr(stored, f) != getattr(user, f)}
    else:
        flags = {f: [None, getattr(user, f)] for f in USER_FLAGS}
    user.full_clean(exclude=["password"])
    user.save()
    fields = sorted(f for f in (changed or ()) if f != "password")
    audit.record("user.created" if adding else "user.updated", user, actor=actor,
                 changes={"fields": fields, "flags": flags})
    return user


@transaction.atomic
def set_user_password(user: User, password: str | None, *, actor: User | None = None) -> User:
    """Set a staff account's password, or make it unusable (None): the person then signs in only
    after a reset. The password itself is never recorded. Audits `user.password_set`."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    audit.record("user.password_set", user, actor=actor, changes={"usable": password is not None})
    return user


@transaction.atomic
def unlock_logins(attempts: Iterable[AccessAttempt], *, actor: User | None = None) -> int:
    """Forget failed-login records (django-axes), which lifts their lockout. Audits `login.unlocked`
    per username and address, so an unlock in the middle of a guessing attack is on record."""
    count = 0
    for attempt in attempts:
        audit.record("login.unlocked", actor=actor,
                     changes={"username": attempt.username, "ip": attempt.ip_address,
                              "failures": getattr(attempt, "failures_since_start", None)})
        attempt.delete()
        count += 1
    return count


@transaction.atomic
def clean_expired_login_attempts(*, actor: User | None = None) -> int:
    """Drop failed-login records whose cool-off has passed (they lock nobody out any more). Audits
    `login.expired_attempts_cleaned` with the count."""
    cool_off = get_cool_off()
    expired = AccessAttempt.objects.filter(attempt_time__lte=timezone.now() - cool_off) if cool_off else \
        AccessAttempt.objects.none()
    count: int = expired.count()
    expired.delete()
    audit.record("login.expired_attempts_cleaned", actor=actor, changes={"count": count})
    return count


@transaction.atomic
def remove_otp_device(device: Device, *, actor: User | None = None) -> None:
    """Remove a person's second factor (a lost phone): they enrol again at the next sign-in. Audits
    `user.otp_device_removed` against the person."""
    audit.record("user.otp_device_removed", device.user, actor=actor,
                 changes={"device": device._meta.label_lower, "name": device.name})
    device.delete()


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
