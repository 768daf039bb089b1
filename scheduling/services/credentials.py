"""Platform accounts and their credentials: tokens encrypted at rest and audited on every read,
one account per creator × platform × handle, and the notice an account that cannot publish raises."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from compliance import crypto
from core.platforms import PLATFORMS, Kind
from notifications.services import notify, resolve_by_key
from scheduling.connectors.base import (
    AccountRef,
)
from scheduling.models import PlatformAccount, Publication, QueueSlot

# --- Platform credentials --------------------------------------------------------------------------


def store_credentials(account: PlatformAccount, data: dict[str, Any], *, expires_at: datetime | None = None,
                      scopes: str | None = None, actor: Actor = None) -> None:
    """Encrypt and save the account's tokens; a fresh grant also reconnects the account."""
    fields = {"credentials_encrypted": crypto.encrypt_text(json.dumps(data)), "token_expires_at": expires_at,
              "state": PlatformAccount.State.CONNECTED, "last_error": "", "refresh_failures": 0,
              "refreshed_at": timezone.now()}
    if scopes is not None:
        fields["scopes"] = scopes
    PlatformAccount.objects.filter(pk=account.pk).update(**fields)
    for key, value in fields.items():
        setattr(account, key, value)
    audit.record("platform_account.credentials_stored", account, actor=actor,
                 changes={"expires_at": expires_at.isoformat() if expires_at else None})
    resolve_by_key(_not_ready_key(account), actor=actor)


def read_credentials(account: PlatformAccount, *, purpose: str, actor: Actor = None) -> dict[str, Any]:
    """Decrypt the account's tokens. Every read is audited with its purpose."""
    if not account.credentials_encrypted:
        return {}
    audit.record("platform_account.credentials_read", account, actor=actor, actor_label=f"purpose:{purpose}",
                 changes={"purpose": purpose})
    credentials: dict[str, Any] = json.loads(crypto.decrypt_text(account.credentials_encrypted))
    return credentials


def account_ref(account: PlatformAccount, *, purpose: str, actor: Actor = None) -> AccountRef:
    return AccountRef(id=account.pk, platform=account.platform, handle=account.handle,
                      external_id=account.external_id, options=account.options,
                      credentials=read_credentials(account, purpose=purpose, actor=actor))


ACCOUNT_EXISTS = "This creator already has this account."


def initial_state(platform: str) -> str:
    """A manual export needs no tokens; every other platform is not connected until someone authorises it
    and the platform accepts the credentials (`store_credentials`)."""
    entry = PLATFORMS.get(platform)
    manual = entry is not None and entry.kind is Kind.MANUAL
    return PlatformAccount.State.CONNECTED if manual else PlatformAccount.State.NOT_CONNECTED


def save_account(account: PlatformAccount, *, actor: Actor = None) -> PlatformAccount:
    """Create or update a platform account (admin and API): policy ceiling and the platform's option
    schema checked (`PlatformAccount.clean`: only known keys, never a host), one account per
    creator × platform × handle, audited."""
    creating = account.pk is None
    account.full_clean(exclude=["creator"], validate_unique=False)
    clash = PlatformAccount.objects.filter(creator_id=account.creator_id, platform=account.platform,
                                           handle=account.handle).exclude(pk=account.pk)
    if clash.exists():
        raise ValidationError({"handle": ACCOUNT_EXISTS})
    before = {} if creating else dict(PlatformAccount.objects.filter(pk=account.pk).values(
        "handle", "state", "max_rating", "options", "target_platform", "external_id").first() or {})
    try:
        with transaction.atomic():
            account.save()
            if creating:
                audit.record("platform_account.created", account, actor=actor,
                             changes={"platform": account.platform, "handle": account.handle})
            else:
                changed = sorted(f for f, v in before.items() if getattr(account, f) != v)
                audit.record("platform_account.updated", account, actor=actor,
                             changes={"fields": changed, "state": account.state})
    except IntegrityError as exc:  # a concurrent twin got in after the check
        raise ValidationError({"handle": ACCOUNT_EXISTS}) from exc
    return account


@transaction.atomic
def change_queue_slots(account: PlatformAccount, *, added: Iterable[tuple[int, time]] = (),
                       changed: Iterable[QueueSlot] = (), removed: Iterable[QueueSlot] = (),
                       actor: Actor = None) -> None:
    """Edit an account's weekly queue times (creator's local time). Publications already placed keep
    their time; the queue offers the new slots from now on. Audits `platform_account.queue_changed`."""
    added, changed, removed = list(added), list(changed), list(removed)
    if any(slot.account_id != account.pk for slot in [*changed, *removed]):
        raise ValidationError("These queue times belong to another account.")
    for slot in removed:
        slot.delete()
    for slot in changed:
        slot.full_clean()
        slot.save()
    for weekday, at in added:
        slot = QueueSlot(account=account, weekday=weekday, time=at)
        slot.full_clean()
        slot.save()
    if added or changed or removed:
        audit.record("platform_account.queue_changed", account, actor=actor,
                     changes={"added": len(added), "changed": len(changed), "removed": len(removed)})


@transaction.atomic
def delete_account(account: PlatformAccount, *, actor: Actor = None) -> None:
    """Remove an account that nothing was published or planned on (publications and offers protect it).
    Its stored credentials go with it. Audits `platform_account.deleted`."""
    audit.record("platform_account.deleted", account, actor=actor,
                 changes={"platform": account.platform, "handle": account.handle})
    account.delete()


def _not_ready_key(account: PlatformAccount) -> str:
    return f"account.not_ready:{account.pk}"


def warn_account_not_ready(pub: Publication) -> str | None:
    """A publication was just placed on an account that cannot publish: tell the creator's managers
    once per account (until it is connected), and return the warning for the person scheduling."""
    warning = pub.account_warning
    if warning is None or pub.account.state == PlatformAccount.State.NEEDS_REAUTH:
        return warning  # needs_reauth was notified when the platform refused the credentials
    notify("account.not_ready", creator_id=pub.account.creator_id, level="warning",
           title=f"Publications are scheduled on {pub.account}, which is "
                 f"{pub.account.get_state_display().lower()}",
           body=warning, link=f"/admin/scheduling/platformaccount/{pub.account_id}/change/",
           subject=f"scheduling.platformaccount:{pub.account_id}", dedupe_key=_not_ready_key(pub.account))
    return warning


def mark_needs_reauth(account: PlatformAccount, message: str) -> None:
    updated = PlatformAccount.objects.filter(pk=account.pk).exclude(
        state=PlatformAccount.State.NEEDS_REAUTH).update(state=PlatformAccount.State.NEEDS_REAUTH,
                                                          last_error=message)
    if updated:
        audit.record("platform_account.needs_reauth", account, actor_label="system", changes={"error": message})
        notify("account.needs_reauth", creator_id=account.creator_id, level="error",
               title=f"{account} needs to be connected again", body=message,
               link=f"/admin/scheduling/platformaccount/{account.pk}/change/",
               subject=f"scheduling.platformaccount:{account.pk}",
               dedupe_key=f"account.needs_reauth:{account.pk}")
