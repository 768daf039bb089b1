"""The human half of a manual export: a person uploaded the bundle and tells Atelier where it is."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from notifications.services import resolve_by_key
from scheduling import services
from scheduling.models import Publication

S = Publication.Status
_url = URLValidator(schemes=["https"])


def clean_post_url(url: str) -> str:
    """An https URL of the post as it is now online; anything else is refused with a reason."""
    url = (url or "").strip()
    if not url:
        raise ValidationError("Paste the URL of the post as it is on the platform.")
    if len(url) > 500:
        raise ValidationError("That URL is longer than 500 characters; paste the post's own link.")
    try:
        _url(url)
    except ValidationError:
        raise ValidationError("That is not a valid https:// link to a post.") from None
    return url


def mark_exported_published(publication: Publication, url: str, *, actor: Actor = None) -> Publication:
    """An exported publication was uploaded by hand: it becomes `published` with its URL.

    Only an `exported` row moves (the status machine says so); the "ready for manual upload"
    notice is resolved, and the change is audited with who pasted which URL.
    """
    url = clean_post_url(url)
    with transaction.atomic():
        pub = Publication.objects.select_for_update().get(pk=publication.pk)
        if pub.status != S.EXPORTED:
            raise ValidationError(f"Publication #{pub.pk} is {pub.get_status_display().lower()}, not waiting for "
                                  f"a manual upload.")
        services._move(pub, S.PUBLISHED, external_url=url, published_at=timezone.now(), last_error="")
        audit.record("publication.published_manually", pub, actor=actor, changes={"url": url})
        resolve_by_key(f"publication.exported:{pub.pk}", actor=actor)
    return pub
