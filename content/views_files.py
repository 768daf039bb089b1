"""How people and platforms reach an asset's files: never by a storage path, always by a link that
expires (see `core.files`).

- The original: someone who may see the asset asks the admin or the API; the request is checked
  against tenancy (404 out of reach), audited, and answered with a redirect to a signed link that
  lives SIGNED_ORIGINAL_URL_TTL_SECONDS (a minute by default), as a download.
- Renditions: the API lists them with signed links that live SIGNED_MEDIA_URL_TTL_SECONDS, for
  integrations that fetch them; the admin previews them through its own view (content.views).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect

from accounts import audit
from accounts.actors import Actor
from content.models import Asset, Rendition
from content.views import asset_in_reach
from core import files


def original_filename(asset: Asset) -> str:
    ext = asset.file.name.rsplit(".", 1)[-1] if "." in asset.file.name else "bin"
    return asset.original_name or f"asset-{asset.pk}.{ext}"


def original_link(asset: Asset, *, actor: Actor, base: str = "") -> str:
    """A one-minute download link to the original, and the audit event that says who asked."""
    audit.record("asset.original_opened", asset, actor=actor, changes={"name": asset.file.name})
    return files.signed_url(files.alias_of(asset.file.storage), asset.file.name,
                            ttl=settings.SIGNED_ORIGINAL_URL_TTL_SECONDS, base=base,
                            filename=original_filename(asset), download=True)


def rendition_link(rendition: Rendition, *, base: str = "") -> str:
    return files.signed_url(files.alias_of(rendition.file.storage), rendition.file.name,
                            ttl=settings.SIGNED_MEDIA_URL_TTL_SECONDS, base=base)


def asset_original(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Admin: "Download original" on the asset page."""
    asset = asset_in_reach(request, pk)
    return HttpResponseRedirect(original_link(asset, actor=request.user))
