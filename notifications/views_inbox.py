"""A person's own notices: the page behind the bell. Everyone signed in to the admin has one; it
shows only their copies, so nothing here needs more than being staff. Reading goes through
`notifications.services` (mark read, mark all read)."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from notifications import services
from notifications.models import Notification, NotificationReceipt

PER_PAGE = 25


def _safe(link: str) -> str:
    """Only paths inside this site are followed (a notice's link is never an open redirect)."""
    return link if link.startswith("/") and not link.startswith("//") else ""


def inbox(request: HttpRequest) -> HttpResponse:
    receipts = services.receipts_for(request.user)  # type: ignore[arg-type]
    if request.GET.get("unread") == "1":
        receipts = receipts.filter(read_at__isnull=True)
    page = Paginator(receipts, PER_PAGE).get_page(request.GET.get("page"))
    items = []
    for receipt in page:
        note = receipt.notification
        links = [{"label": str(link.get("label", "Open"))[:80], "url": _safe(str(link.get("url", "")))}
                 for link in (note.payload or {}).get("links", []) if isinstance(link, dict)]
        items.append({"receipt": receipt, "note": note, "links": [x for x in links if x["url"]],
                      "open_url": reverse("admin:notifications_inbox_open", args=[receipt.pk])})
    return render(request, "admin/notifications/inbox.html", {
        **admin.site.each_context(request), "opts": Notification._meta, "title": "My notifications",
        "items": items, "page": page, "unread": services.unread_count(request.user),
        "only_unread": request.GET.get("unread") == "1",
    })


def open_notice(request: HttpRequest, receipt_id: int) -> HttpResponse:
    """Follow a notice's link and count it read (a GET: it is the person's own read state only)."""
    receipt = get_object_or_404(NotificationReceipt.objects.select_related("notification"), pk=receipt_id,
                                user=request.user)
    services.mark_read(request.user, [receipt.pk])  # type: ignore[arg-type]
    target = _safe(request.GET.get("to", "")) or _safe(receipt.notification.link)
    return HttpResponseRedirect(target or reverse("admin:notifications_inbox"))


@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("receipt") if v.isdigit()]
    if request.POST.get("all") == "1":
        services.mark_all_read(request.user)  # type: ignore[arg-type]
    else:
        services.mark_read(request.user, ids)  # type: ignore[arg-type]
    return HttpResponseRedirect(reverse("admin:notifications_inbox"))
