"""The pages `bench.inbox_scale` measures, rendered through Django's test client as a chatter of 3 creators.

Each entry renders one page and returns its HTTP status: the inbox with each list view, an open thread,
and the live poll (quiet, and with the thread open)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from accounts.models import Creator, Role, User
from accounts.services import add_membership
from inbox.models import Conversation
from inbox.screen import VIEWS


def pages() -> list[tuple[str, Callable[[], int]]]:
    chatter, created = User.objects.get_or_create(username="bench_chatter", defaults={"is_staff": True})
    if created:
        for creator in Creator.objects.order_by("pk")[:3]:
            add_membership(user=chatter, creator=creator, role=Role.CHATTER)
    client = Client()
    client.force_login(chatter)
    mine = Conversation.objects.filter(creator__memberships__user=chatter).order_by("-last_message_at").first()
    assert mine is not None, "no conversation of the chatter's creators"
    out: list[tuple[str, Callable[[], int]]] = []
    for view in VIEWS:
        out.append((f"inbox list ({view})",
                    lambda v=view: client.get("/admin/inbox/", {"show": v}, secure=True).status_code))
    for what, q in (("a fan handle", "fan_42"), ("a word no message has", "zebra"),
                    ("a word every message has", "thanks"), ("a phrase of common letters", "conversation 123")):
        out.append((f"inbox search ({what})",
                    lambda q=q: client.get("/admin/inbox/", {"q": q}, secure=True).status_code))
    out.append(("thread open (list + thread + fan panel)",
                lambda: client.get("/admin/inbox/", {"c": mine.pk}, secure=True).status_code))
    out.append(("live poll, nothing new",
                lambda: client.get("/admin/inbox/live/", {"sig": "x"}, secure=True).status_code))
    out.append(("live poll, thread open",
                lambda: client.get("/admin/inbox/live/", {"c": mine.pk, "after": 0}, secure=True).status_code))
    return out
