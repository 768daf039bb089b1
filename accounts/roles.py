"""Which model permissions each role carries.

Roles are Django groups (created by a data migration) whose permissions are kept in step with
this table after every migrate, so a model added by a later app is granted without a hand edit.
Patterns are `app_label.codename` with `*` wildcards.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.contrib.auth.models import Group, Permission

from accounts.models import Role

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.MANAGER: (
        "accounts.view_creator", "accounts.change_creator", "accounts.view_membership",
        "content.*", "scheduling.*", "analytics.view_*", "analytics.add_transaction", "analytics.change_fan",
        "analytics.*_offer", "analytics.*_trackinglink", "analytics.*_alertrule", "analytics.*_reportsubscription",
        "analytics.add_webhookreceiver", "analytics.change_webhookreceiver", "analytics.change_inboundevent",
        "compliance.view_performer", "compliance.view_consentrecord", "notifications.*", "inbox.*",
    ),
    Role.EDITOR: (
        "accounts.view_creator",
        "content.view_*", "content.add_*", "content.change_*",
        "scheduling.view_*", "scheduling.add_post", "scheduling.change_post",
        "compliance.view_performer",
    ),
    Role.CHATTER: (
        "accounts.view_creator",
        "analytics.view_fan", "analytics.change_fan", "analytics.view_subscription", "analytics.view_offer",
        "content.view_asset", "content.view_collection",
        "inbox.view_conversation", "inbox.change_conversation", "inbox.view_message", "inbox.add_message",
        "inbox.view_script", "inbox.view_aidraft", "inbox.add_aidraft", "inbox.change_aidraft",
        "inbox.view_fannote", "inbox.add_fannote", "inbox.view_shift",
    ),
    Role.COMPLIANCE: (
        "accounts.view_creator", "accounts.view_auditevent",
        "compliance.*", "content.view_*", "scheduling.view_*", "scheduling.change_takedowntask",
        "inbox.view_conversation", "inbox.change_conversation", "inbox.view_message",
    ),
    Role.ANALYST: (
        "accounts.view_creator", "analytics.view_*", "analytics.*_reportsubscription", "content.view_asset",
        "scheduling.view_*", "inbox.view_reportingevent", "inbox.view_shift",
    ),
}


# Taken out of what the patterns above grant. Generation backends hold the agency's API keys and GPUs and
# prompt categories are the agency's vocabulary: owners configure them, the team uses them.
ROLE_DENIED: dict[str, tuple[str, ...]] = {
    Role.MANAGER: ("content.add_generationbackend", "content.change_generationbackend",
                   "content.delete_generationbackend", "content.add_promptcategory", "content.change_promptcategory",
                   "content.delete_promptcategory", "content.add_generationusage", "content.change_generationusage",
                   "content.delete_generationusage", "content.delete_generationjob"),
    Role.EDITOR: ("content.add_generationbackend", "content.change_generationbackend",
                  "content.add_promptcategory", "content.change_promptcategory", "content.add_generationusage",
                  "content.change_generationusage"),
}


def role_grants(role: str, app_label: str, codename: str) -> bool:
    full = f"{app_label}.{codename}"
    if any(fnmatchcase(full, pattern) for pattern in ROLE_DENIED.get(role, ())):
        return False
    return any(fnmatchcase(full, pattern) for pattern in ROLE_PERMISSIONS.get(role, ()))


def sync_role_groups(group_model=None, permission_model=None) -> None:  # noqa: ANN001
    """Create one group per role and set its permissions from the table. Idempotent."""
    group_model = group_model or Group
    permission_model = permission_model or Permission
    perms = list(permission_model.objects.select_related("content_type"))
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.label)
        wanted = [p for p in perms if role_grants(role.value, p.content_type.app_label, p.codename)]
        group.permissions.set(wanted)
