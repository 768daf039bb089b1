"""The bell in the admin header: the viewer's unread notices, one COUNT over their receipts."""

from __future__ import annotations

from typing import Any

from django import template

from notifications import services

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: Any) -> int:
    request = context.get("request")
    return services.unread_count(getattr(request, "user", None))
