"""How a publication's status and its account's trouble look in the admin: the changelist, the post's
targets and the calendar's chips read the same colours and badges from here (the calendar's views
are imported by `scheduling.admin`, so these cannot live there)."""

from __future__ import annotations

from django.utils.html import format_html

from scheduling import wording
from scheduling.models import Publication

STATUS_COLOURS = {
    "draft": "info", "pending_approval": "info", "approved": "info", "scheduled": "primary",
    "claimed": "warning", "publishing": "warning", "published": "success", "failed": "danger",
    "unknown": "danger", "blocked": "danger", "cancelled": "info", "missed": "danger",
    "exported": "warning", "removed": "info",
}


def warning_badge(warning: str | None) -> str:
    if not warning:
        return "—"
    return format_html('<span class="text-red-600 font-semibold" data-testid="account-warning" title="{}">'
                       '⚠ {}</span>', warning, warning)


def account_with_warning(obj: Publication) -> str:
    """The account, and while the publication waits to go out, a warning that it cannot publish."""
    warning = obj.account_warning
    if not warning:
        return str(obj.account)
    return format_html('{} <span class="text-red-600 font-semibold" data-testid="account-warning" title="{}">'
                       '⚠ {}</span>', obj.account, warning, wording.ACCOUNT_STATE.say(obj.account.state))
