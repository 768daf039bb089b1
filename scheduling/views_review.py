"""The review inbox page and a post's approval pages in the admin.

Wired through `PostAdmin.get_urls()` (the inbox) and its detail actions (submit, approve). Rows are
found through `scheduling.review` (tenancy, then four eyes); every change is a service call, and
each item's answer is shown as a message of its own.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import tenancy
from accounts.models import Creator
from core.admin import message_refusal
from core.wording import counted
from scheduling import review, services
from scheduling.models import Post

_WAITING = "review_waiting"  # the request attribute the count is kept on
BADGE_SECONDS = 30
LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _report(request: HttpRequest, outcomes: list[review.Outcome]) -> None:
    for outcome in outcomes:
        messages.add_message(request, LEVELS[outcome.level], f"{outcome.label}: {outcome.message}")


def inbox_url(*, creator_id: int | None = None, kind: str = "") -> str:
    params = {k: v for k, v in {"creator": creator_id, "kind": kind}.items() if v}
    return reverse("admin:scheduling_review_inbox") + (f"?{urlencode(params)}" if params else "")


def _reviewable_creators(request: HttpRequest) -> list[Creator]:
    ids: set[int] = set()
    for model in (review.Asset, Post):
        allowed = tenancy.allowed_creator_ids(request.user, model, "change")
        if allowed is tenancy.ALL:
            return list(Creator.objects.order_by("stage_name").only("pk", "stage_name"))
        ids |= allowed
    return list(Creator.objects.filter(pk__in=sorted(ids)).order_by("stage_name").only("pk", "stage_name"))


def _badge_key(request: HttpRequest) -> str:
    return f"review:waiting:{request.user.pk}"


def waiting_for(request: HttpRequest) -> int:
    """How many items wait for this person, for the sidebar badge on every admin page.

    Kept in the cache for BADGE_SECONDS, so a page costs no query for it: a count a few seconds old
    is fine for a badge, and the inbox itself is always counted live. What this person does in the
    review pages forgets it at once.
    """
    cached: int | None = getattr(request, _WAITING, None)
    if cached is None:
        if not review.may_review(request.user):
            return 0
        cached = cache.get(_badge_key(request))
        if cached is None:
            cached = review.waiting_count(request.user)
            cache.set(_badge_key(request), cached, BADGE_SECONDS)
        setattr(request, _WAITING, cached)
    return cached


def _forget_badge(request: HttpRequest) -> None:
    cache.delete(_badge_key(request))


def inbox_badge(request: HttpRequest) -> str:
    """The sidebar's count of items waiting for this person."""
    return str(waiting_for(request))


def inbox(request: HttpRequest) -> HttpResponse:
    """GET: what waits for me. POST: approve or reject the ticked items, or the one whose button was
    pressed (`one` = "approve:post:5"), with the reason typed on its row or above the list."""
    if not review.may_review(request.user):
        raise PermissionDenied
    creators = _reviewable_creators(request)
    creator_id = _int_or_none(request.GET.get("creator"))
    if creator_id is not None and creator_id not in {c.pk for c in creators}:
        creator_id = None  # a creator out of reach reads as "all of mine", never as theirs
    kind = request.GET.get("kind", "") if request.GET.get("kind") in review.KINDS else ""
    if request.method == "POST":
        _act(request)
        _forget_badge(request)
        return HttpResponseRedirect(request.get_full_path())
    assets_qs = review.waiting_assets(request.user, creator_id=creator_id)
    posts_qs = review.waiting_posts(request.user, creator_id=creator_id)
    asset_total = assets_qs.count() if kind != review.POST else 0
    post_total = posts_qs.count() if kind != review.ASSET else 0
    return render(request, "admin/scheduling/review_inbox.html", {
        **admin.site.each_context(request), "title": "Review inbox",
        "creators": creators, "creator_id": creator_id, "kind": kind,
        "assets": review.asset_previews(assets_qs) if asset_total else [],
        "posts": review.post_previews(posts_qs) if post_total else [],
        "asset_total": asset_total, "post_total": post_total,
        "kind_urls": {k or "all": inbox_url(creator_id=creator_id, kind=k) for k in ("", *review.KINDS)},
    })


def _act(request: HttpRequest) -> None:
    one = request.POST.get("one", "")
    operation, _, key = one.partition(":")
    if operation in ("approve", "reject") and key:
        keys = [key]
        reason = request.POST.get(f"reason:{key}", "").strip() or request.POST.get("reason", "").strip()
    else:
        operation = request.POST.get("operation", "")
        keys = request.POST.getlist("items")
        reason = request.POST.get("reason", "").strip()
    if operation not in ("approve", "reject"):
        messages.warning(request, "Nothing done: press Approve or Reject.")
        return
    if not review.parse_keys(keys):
        messages.warning(request, "Tick the items to act on first.")
        return
    if operation == "approve":
        _report(request, review.approve_items(request.user, keys))
    elif not reason:
        messages.error(request, "Say why, so the author can fix it: nothing was rejected.")
    else:
        _report(request, review.reject_items(request.user, keys, reason))


# --- A post's approval pages -------------------------------------------------------------------------


def post_in_reach(request: HttpRequest, object_id: str, action: str = "change") -> Post:
    post = tenancy.restrict(Post.objects.select_related("creator", "created_by"), request.user, action) \
        .filter(pk=_int_or_none(str(object_id))).first() if str(object_id).isdigit() else None
    if post is None:
        raise Http404("No such post.")
    return post


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def approve_post_page(request: HttpRequest, object_id: str) -> HttpResponse:
    """GET: exactly what would be approved and the gate's verdict per target once approved.
    POST: approve through `services.approve_post`, then back to the post page, which shows the
    verdict per target again."""
    post = post_in_reach(request, object_id)
    change_url = reverse("admin:scheduling_post_change", args=[post.pk])
    if request.method == "POST":
        _forget_badge(request)
        try:
            verdicts = services.approve_post(post, actor=request.user)
        except ValidationError as exc:
            message_refusal(request, exc)
            return HttpResponseRedirect(change_url)
        _report(request, [review.approval_outcome(f"post:{post.pk}", review.post_label(post), verdicts)])
        return HttpResponseRedirect(_next_url(request, change_url))
    preview = review.post_previews([post])[0]
    return render(request, "admin/scheduling/post/approve.html", {
        **admin.site.each_context(request), "title": f"Approve post #{post.pk}", "opts": Post._meta,
        "preview": preview, "original": post, "cancel_url": change_url,
        "next": _next_url(request, ""),
    })


class ConfirmForm(forms.Form):
    pass


def submit_post_page(request: HttpRequest, object_id: str) -> HttpResponse:
    """Send the post's drafts for approval: they then wait in the reviewers' inbox."""
    post = post_in_reach(request, object_id)
    change_url = reverse("admin:scheduling_post_change", args=[post.pk])
    if request.method == "POST":
        _forget_badge(request)
        try:
            count = services.submit_post(post, actor=request.user)
        except ValidationError as exc:
            message_refusal(request, exc)
        else:
            if count:
                messages.success(request, f"{counted(count, 'target')} sent for approval.")
            else:
                messages.warning(request, "No draft target to send: add a target, or it is already waiting.")
        return HttpResponseRedirect(change_url)
    return render(request, "admin/action_form.html", {
        **admin.site.each_context(request), "title": "Submit for approval", "opts": Post._meta,
        "intro": "Its draft targets then wait in the review inbox of the people who may approve them.",
        "items": [post], "form": ConfirmForm(), "submit_label": "Submit", "cancel_url": change_url,
    })


def gate_verdicts(post: Post) -> list[review.TargetPreview]:
    """The live verdict per target, for the post page."""
    return review.post_previews([post], once_approved=False)[0].targets if post.pk else []

