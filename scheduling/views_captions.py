"""The post form's "Suggest captions" endpoint, wired through `PostAdmin.get_urls()`.

It answers for whoever may write posts for the creator, and asks `content.studio.suggest_captions`,
the same service the API calls; scheduling owns posts, so the view lives here and content stays
below it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from accounts import tenancy
from accounts.models import Creator
from content import studio
from content.models import Asset
from scheduling.models import Post


def _may_write_posts_for(user: Any, creator_id: int) -> bool:
    return any(tenancy.can_reach_creator(user, creator_id, Post, action) for action in ("add", "change"))


def _ai_made_media(creator: Creator, body: Any) -> bool | None:
    """Whether the post's chosen media (`assets`: ids of this creator's assets) holds an AI-made one;
    None when no media is named, so the creator alone decides the AI label."""
    raw = body.getlist("assets") if hasattr(body, "getlist") else body.get("assets")
    ids = {int(v) for v in (raw if isinstance(raw, list) else []) if str(v).isdigit()}
    if not ids:
        return None
    return Asset.objects.filter(creator=creator, pk__in=ids,
                                origin__in=[Asset.Origin.AI, Asset.Origin.EDIT]).exists()


@require_POST
def suggest_captions(request: HttpRequest) -> JsonResponse:
    """What the post form's "Suggest captions" asks: `studio.suggest_captions`, the API's own service.

    Accepts a JSON body or form fields: creator, platform, topic, optional count and language.
    """
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"errors": ["The request body is not JSON."]}, status=400)
        if not isinstance(body, dict):
            return JsonResponse({"errors": ["The request body is a JSON object."]}, status=400)
    else:
        body = request.POST
    creator_id = str(body.get("creator", "")).strip()
    if not creator_id.isdigit() or not _may_write_posts_for(request.user, int(creator_id)):
        return JsonResponse({"errors": ["No such creator."]}, status=404)
    creator = Creator.objects.filter(pk=int(creator_id)).first()
    if creator is None:
        return JsonResponse({"errors": ["No such creator."]}, status=404)
    try:
        count = int(body.get("count") or 3)
    except (TypeError, ValueError):
        return JsonResponse({"errors": ["The count is a number."]}, status=400)
    try:
        result = studio.suggest_captions(creator=creator, platform=str(body.get("platform", "")),
                                         topic=str(body.get("topic", "")), count=count,
                                         language=str(body.get("language", "") or ""),
                                         ai_generated=_ai_made_media(creator, body), actor=request.user)
    except studio.PromptRefused as refused:
        return JsonResponse({"refused": True, "reasons": refused.reasons}, status=400)
    except ValidationError as exc:
        return JsonResponse({"errors": exc.messages}, status=400)
    payload = result.as_dict()
    payload["source"] = f"from model {result.backend}" if result.path == "model" else "from templates"
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response
