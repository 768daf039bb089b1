"""The chatter's screen at /admin/inbox/: the conversation list, the thread, the fan panel and compose.

Wired by `config.admin_site` through `urls(site)`, every view behind `admin_view`. Reads come from
`inbox.screen`; every change is a call to `inbox.services` (send, notes, locks, assignment, status), and a
service's refusal is shown on the page. A conversation out of the person's creators is a 404, like one that
does not exist; one they may read but not act on is a 403.

Live updates are short polls of `live` every second by `inbox/static/inbox/screen.js`: a poll is a handful of
indexed queries (bounded in tests/inbox/test_screen.py), answered by the same WSGI server that `make run`
and the compose stack already start. Push (websockets or server-sent events) would need an ASGI server
beside gunicorn's sync workers, where a held-open request occupies a worker for its whole life.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import tenancy
from accounts.models import User
from content.models import Asset
from core import money, platforms
from core.admin import add_refusal, message_refusal
from inbox import screen, services
from inbox.models import AIDraft, Conversation, FanNote, Message, Script, Shift

KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")
PK_MAX = 2**63 - 1


def may_open_inbox(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("inbox.view_conversation"))


def urls(site: AdminSite) -> list[URLPattern]:
    """The screen's URLs, mounted at the admin's root so the page lives at /admin/inbox/."""
    return [
        path("inbox/", site.admin_view(page), name="inbox_screen"),
        path("inbox/live/", site.admin_view(live), name="inbox_live"),
        path("inbox/c/<int:pk>/send/", site.admin_view(send), name="inbox_send"),
        path("inbox/c/<int:pk>/lock/", site.admin_view(lock), name="inbox_lock"),
        path("inbox/c/<int:pk>/draft/", site.admin_view(draft), name="inbox_draft"),
        path("inbox/c/<int:pk>/assign/", site.admin_view(assign), name="inbox_assign"),
        path("inbox/c/<int:pk>/status/", site.admin_view(status), name="inbox_status"),
        path("inbox/c/<int:pk>/fan-note/", site.admin_view(fan_note), name="inbox_fan_note"),
    ]


# --- Reach -------------------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not may_open_inbox(user):
        raise PermissionDenied
    return user


def conversation_in_reach(user: User, pk: int | None) -> Conversation:
    """The conversation if `user` may read it; 404 for one out of reach, exactly like a missing one."""
    found = screen.conversations_in_reach(user).select_related("creator", "account", "fan", "assignee",
                                                               "locked_by").filter(pk=pk).first() \
        if pk is not None else None
    if found is None:
        raise Http404("No such conversation.")
    return found


def _may(user: User, conversation: Conversation, model: type[Model], action: str) -> bool:
    return tenancy.can_reach_creator(user, conversation.creator_id, model, action)


def _require(user: User, conversation: Conversation, model: type[Model], action: str) -> None:
    if not _may(user, conversation, model, action):
        raise PermissionDenied


def may_reassign(user: User, conversation: Conversation) -> bool:
    """Reassigning is the manager's: whoever plans the creator's shifts."""
    return _may(user, conversation, Shift, "change")


def screen_url(conversation_id: int | None = None, *, show: str = "", q: str = "", **extra: Any) -> str:
    params = {"show": show if show and show != "all" else "", "q": q, "c": conversation_id, **extra}
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return reverse("admin:inbox_screen") + (f"?{query}" if query else "")


def _back(request: HttpRequest, conversation: Conversation) -> HttpResponseRedirect:
    return HttpResponseRedirect(screen_url(conversation.pk, show=request.POST.get("show", ""),
                                           q=request.POST.get("q", "")))


# --- Compose -----------------------------------------------------------------------------------------------


class ComposeForm(forms.Form):
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    script = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=PK_MAX)
    draft = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=PK_MAX)
    assets = forms.TypedMultipleChoiceField(required=False, coerce=int, choices=())
    price = forms.CharField(required=False, max_length=20)
    key = forms.CharField(widget=forms.HiddenInput, max_length=32)

    def __init__(self, *args: Any, conversation: Conversation, vault: list[screen.Media], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = conversation
        assets = self.fields["assets"]
        assert isinstance(assets, forms.TypedMultipleChoiceField)
        assets.choices = [(m.asset.pk, str(m.asset)) for m in vault]

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not KEY_PATTERN.match(key):
            raise ValidationError("This form has expired: reload the page and write again.")
        return str(key)

    def clean_price(self) -> int | None:
        """Currency units as fans read them (12.50 for $12.50, 50 for 50 Stars) → minor units."""
        typed = (self.cleaned_data.get("price") or "").strip().replace(",", ".")
        if not typed:
            return None
        currency = screen.price_currency(self.conversation)
        if not currency:
            label = platforms.get(self.conversation.account.platform).label
            raise ValidationError(f"{label} has no paid messages: leave the price empty.")
        try:
            return money.to_minor(Decimal(typed), currency)
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError(str(exc) if isinstance(exc, ValueError) else "Enter a number.") from exc


def new_key() -> str:
    """One key per compose form rendered: a double click sends the message once."""
    return uuid.uuid4().hex


def idempotency_key(user: User, key: str) -> str:
    # Keys are the person's own: another's typed key can only ever reach their own messages.
    return f"screen:{user.pk}:{key}"


# --- The page ----------------------------------------------------------------------------------------------


@require_GET
def page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    conversation_id = screen.read_id(request.GET.get("c"))
    conversation = conversation_in_reach(user, conversation_id) if conversation_id is not None else None
    if conversation is not None and conversation.unread_count and _may(user, conversation, Conversation, "change"):
        services.mark_read(conversation, user)  # opening the thread reads it
    return render_screen(request, user, conversation)


def render_screen(request: HttpRequest, user: User, conversation: Conversation | None,
                  form: ComposeForm | None = None, status_code: int = 200,
                  fan_note: tuple[str, list[str]] | None = None) -> HttpResponse:
    """The page; after a refusal, with what was typed back in its box (`form`, or `fan_note` as the note's
    text and the reasons) and a 422."""
    query = screen.ListQuery.from_params(request.GET if request.method == "GET" else request.POST)
    rows = screen.list_rows(user, query)
    context: dict[str, Any] = {
        **admin.site.each_context(request), "title": "Inbox", "rows": rows, "query": query,
        "views": [(key, label, screen_url(None, show=key, q=query.q)) for key, label in screen.VIEWS.items()],
        "signature": screen.signature(rows), "conversation": conversation,
        "live_url": reverse("admin:inbox_live"),
    }
    if conversation is not None:
        context.update(_thread_context(request, user, conversation, form))
        context["fan_note_text"], context["fan_note_refusal"] = fan_note or ("", [])
    return render(request, "inbox/screen.html", context, status=status_code)


def _thread_context(request: HttpRequest, user: User, conversation: Conversation,
                    form: ComposeForm | None) -> dict[str, Any]:
    items = screen.thread_items(conversation)
    vault = screen.vault(user, conversation) if _may(user, conversation, Message, "add") else []
    draft_obj = screen.pending_draft(conversation, screen.read_id(request.GET.get("draft")))
    if form is None:
        initial: dict[str, Any] = {"key": new_key()}
        if draft_obj is not None:
            currency = screen.price_currency(conversation)
            initial.update(text=draft_obj.text, draft=draft_obj.pk,
                           assets=[a.pk for a in draft_obj.suggested_assets.all()],
                           price=str(money.to_units(draft_obj.suggested_price_minor, currency))
                           if draft_obj.suggested_price_minor is not None and currency else "")
        form = ComposeForm(initial=initial, conversation=conversation, vault=vault)
    holder = services.lock_holder(conversation)
    chosen = {int(v) for v in (form["assets"].value() or []) if str(v).isdigit()}
    return {
        "items": items, "last_id": max((i.pk for i in items if i.pk is not None), default=0),
        "platform": platforms.get(conversation.account.platform), "panel": screen.fan_panel(conversation),
        "form": form, "vault": vault, "chosen_assets": chosen, "draft": draft_obj,
        "script_choices": screen.script_choices(user, conversation) if _may(user, conversation, Script, "view") else [],
        "price_currency": screen.price_currency(conversation),
        "may_send": _may(user, conversation, Message, "add"),
        "may_note": _may(user, conversation, FanNote, "add"),
        "may_draft": _may(user, conversation, AIDraft, "add"),
        "drafting_available": screen.draft_function() is not None,
        "may_change": _may(user, conversation, Conversation, "change"),
        "may_reassign": may_reassign(user, conversation),
        "team": screen.team(conversation) if may_reassign(user, conversation) else [],
        "lock_name": services.display_name(conversation.locked_by) if holder and holder != user.pk else "",
        "send_url": reverse("admin:inbox_send", args=[conversation.pk]),
        "lock_url": reverse("admin:inbox_lock", args=[conversation.pk]),
        "draft_url": reverse("admin:inbox_draft", args=[conversation.pk]),
        "assign_url": reverse("admin:inbox_assign", args=[conversation.pk]),
        "status_url": reverse("admin:inbox_status", args=[conversation.pk]),
        "fan_note_url": reverse("admin:inbox_fan_note", args=[conversation.pk]),
        "fan_url": reverse("admin:analytics_fan_change", args=[conversation.fan_id]),
    }


# --- Sending -----------------------------------------------------------------------------------------------


@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send (or, with `do=note`, add an internal note) through `inbox.services`; a refusal comes back on the
    page with what was typed. The form's key makes a repeated POST return the first message."""
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, Message, "add")
    vault = screen.vault(user, conversation)
    form = ComposeForm(request.POST, conversation=conversation, vault=vault)
    if not form.is_valid():
        return render_screen(request, user, conversation, form, status_code=422)
    data = form.cleaned_data
    try:
        if request.POST.get("do") == "note":
            services.add_note(conversation, by=user, text=data["text"])
            messages.success(request, "Note added: the team sees it, the fan never does.")
            return _back(request, conversation)
        assets = list(tenancy.restrict(Asset.objects.filter(pk__in=data["assets"],
                                                            creator_id=conversation.creator_id), user))
        script = tenancy.restrict(Script.objects.filter(pk=data["script"], creator_id=conversation.creator_id),
                                  user).first() if data["script"] else None
        draft_obj = AIDraft.objects.filter(pk=data["draft"], conversation=conversation).first() \
            if data["draft"] else None
        if data["script"] and script is None:
            raise ValidationError("That script is not one of this creator's: pick one from the list.")
        if data["draft"] and draft_obj is None:
            raise ValidationError("That AI draft is not this conversation's: draft again.")
        key = idempotency_key(user, data["key"])
        accept = screen.accept_function()
        if draft_obj is not None and accept is not None and _as_suggested(draft_obj, assets, data["price"]):
            # The drafting module sends it and records accepted or edited, with the edit distance.
            accept(draft_obj, by=user, text=data["text"], idempotency_key=key, with_suggestions=True)
        else:
            origin = Message.Origin.AI_DRAFT if draft_obj else Message.Origin.SCRIPT if script else \
                Message.Origin.MANUAL
            services.send(conversation, by=user, text=data["text"], assets=assets, price_minor=data["price"],
                          origin=origin, script=script, draft=draft_obj, idempotency_key=key)
    except ValidationError as refused:
        add_refusal(form, refused)
        return render_screen(request, user, conversation, form, status_code=422)
    services.release_lock(conversation, user)
    return _back(request, conversation)


def _as_suggested(draft_obj: AIDraft, assets: list[Asset], price_minor: int | None) -> bool:
    """The chatter kept the draft's media and price (the words may be edited)."""
    suggested = {a.pk for a in draft_obj.suggested_assets.all()}
    return suggested == {a.pk for a in assets} and (price_minor == draft_obj.suggested_price_minor
                                                    if suggested else price_minor is None)


@require_POST
def lock(request: HttpRequest, pk: int) -> JsonResponse:
    """The compose box calls this while someone types (every ~15 s): hold the conversation, or say who does."""
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, Message, "add")
    if request.POST.get("release") == "1":
        services.release_lock(conversation, user)
        return JsonResponse({"held": False, "holder": ""})
    if services.acquire_lock(conversation, user):
        return JsonResponse({"held": True, "holder": ""})
    conversation.refresh_from_db(fields=["locked_by", "locked_until"])
    return JsonResponse({"held": False, "holder": services.display_name(conversation.locked_by)})


@require_POST
def draft(request: HttpRequest, pk: int) -> HttpResponse:
    """"Draft with AI": the drafting module writes an AIDraft, which opens in the compose box to approve."""
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, AIDraft, "add")
    draft_reply = screen.draft_function()
    if draft_reply is None:
        messages.warning(request, "AI drafting is not installed here: write the reply or pick a script.")
        return _back(request, conversation)
    try:
        made = draft_reply(conversation, by=user)
    except ValidationError as refused:
        message_refusal(request, refused)
        return _back(request, conversation)
    if not isinstance(made, AIDraft) or made.outcome != AIDraft.Outcome.PENDING:
        messages.warning(request, "No draft this time: the draft was refused by screening or nothing matched.")
        return _back(request, conversation)
    if made.from_scripts:
        messages.info(request, "No model answered: this draft is the best-matching script.")
    return HttpResponseRedirect(screen_url(conversation.pk, show=request.POST.get("show", ""),
                                           q=request.POST.get("q", ""), draft=made.pk))


# --- Assignment, status, fan notes -------------------------------------------------------------------------


@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """A manager hands the conversation to a teammate (or back to the pool); a chatter may take one nobody holds."""
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, Conversation, "change")
    target = request.POST.get("to", "")
    if target == "me" and conversation.assignee_id is None:
        services.assign(conversation, user, by=user)
        messages.success(request, "The conversation is yours.")
        return _back(request, conversation)
    if not may_reassign(user, conversation):
        raise PermissionDenied
    if target == "":
        services.assign(conversation, None, by=user)
        messages.success(request, "Back in the pool.")
        return _back(request, conversation)
    chosen = next((u for u in screen.team(conversation) if str(u.pk) == target), None)
    if chosen is None:
        messages.error(request, "Pick someone on this creator's team.")
    else:
        services.assign(conversation, chosen, by=user)
        messages.success(request, f"Assigned to {services.display_name(chosen)}.")
    return _back(request, conversation)


@require_POST
def status(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, Conversation, "change")
    wanted = request.POST.get("status", "")
    if wanted not in (Conversation.Status.OPEN, Conversation.Status.CLOSED):
        messages.error(request, "Close or reopen: nothing else is done here.")
        return _back(request, conversation)
    services.set_status(conversation, wanted, by=user)
    messages.success(request, "Closed." if wanted == Conversation.Status.CLOSED else "Reopened.")
    return _back(request, conversation)


@require_POST
def fan_note(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    conversation = conversation_in_reach(user, pk)
    _require(user, conversation, FanNote, "add")
    text = request.POST.get("text", "").replace("\x00", "")  # PostgreSQL text holds no NUL
    try:
        services.add_fan_note(conversation, by=user, text=text)
    except ValidationError as refused:
        return render_screen(request, user, conversation, status_code=422, fan_note=(text, refused.messages))
    messages.success(request, "Note kept on the fan.")
    return _back(request, conversation)


# --- Live updates ------------------------------------------------------------------------------------------


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """What changed since the page's cursor: the list (sent again only when its signature moved) and, for the
    open thread, messages after `after` (an id), the state of the newest outgoing ones and who holds the lock."""
    user = _user(request)
    query = screen.ListQuery.from_params(request.GET)
    rows = screen.list_rows(user, query)
    sig = screen.signature(rows)
    current = screen.read_id(request.GET.get("c"))
    payload: dict[str, Any] = {"list": {"signature": sig, "html": None}, "thread": None}
    if sig != request.GET.get("sig"):
        payload["list"]["html"] = render_to_string("inbox/_list.html", {"rows": rows, "query": query,
                                                                       "current_id": current}, request=request)
    if current is not None:
        payload["thread"] = _thread_delta(request, user, current)
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


def _thread_delta(request: HttpRequest, user: User, pk: int) -> dict[str, Any]:
    conversation = conversation_in_reach(user, pk)
    after = screen.read_id(request.GET.get("after")) or 0
    new = screen.thread_items(conversation, after=after)
    reload = len(new) > screen.NEW_MESSAGES_MAX
    if any(i.kind == "in" for i in new) and conversation.unread_count and request.GET.get("visible") == "1" \
            and _may(user, conversation, Conversation, "change"):
        services.mark_read(conversation, user)  # the thread is on screen: the fan's new words are read
    holder = services.lock_holder(conversation)
    return {
        "conversation": conversation.pk, "reload": reload,
        "html": "" if reload else render_to_string("inbox/_items.html", {"items": new}, request=request),
        "last": max((i.pk for i in new if i.pk is not None), default=after),
        "states": screen.states(conversation),
        "lock": {"holder": services.display_name(conversation.locked_by) if holder and holder != user.pk else "",
                 "mine": holder == user.pk},
        "held": conversation.held_at is not None,
    }
