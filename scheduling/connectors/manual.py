"""OnlyFans and any platform without an official API: a person uploads by hand.

`publish` prepares a ZIP bundle (the renditions, caption.txt, checklist.md) in the private storage
under exports/ (never at a public URL: the admin serves it, audited) and answers `exported`; the
publication waits there until someone uploads it and pastes the URL back
(`scheduling.manual.mark_exported_published`). Nothing can be removed through an API either, so
`unpublish` answers False and the takedown flow hands the job to a person.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files import File
from django.utils import timezone

from core.files import private_storage
from core.wording import counted
from scheduling.connectors.base import AccountRef, PublishRequest, PublishResult, common_validation, limits_for
from scheduling.models import PlatformAccount, Post
from scheduling.services import post_assets

# What the person uploading must do when the media is AI-made, unless the asset names its own label.
DEFAULT_AI_DISCLOSURE = ("AI-generated content: turn on the platform's AI-generated / synthetic media label "
                         "and keep the disclosure in the caption.")


class ManualConnector:
    platform = "manual"
    lookup_settle_seconds = None
    how_to_check = "Ask the person who uploads this account's posts, or open the account on its platform."
    # A person uploads: the target platform's own limits are theirs to respect (the registry's are sanity bounds).
    limits = limits_for("manual")

    def validate(self, request: PublishRequest) -> list[str]:
        return common_validation(self.limits, request)

    def publish(self, request: PublishRequest) -> PublishResult:
        """Write the bundle to a local temporary file, then save it to storage in one call: no half
        bundle is ever referenced, and the publication points at it only once the save returned."""
        context = _account_context(request)
        name = timezone.now().strftime("exports/%Y/%m/") + _bundle_basename(request)
        fd, tmp_path = tempfile.mkstemp(prefix="atelier-export-", suffix=".zip.part")
        try:
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
                for index, item in enumerate(request.media, start=1):
                    # Media is already compressed; storing it as is keeps exports fast.
                    bundle.write(item.path, arcname=f"media/{index:02d}-{os.path.basename(item.path)}",
                                 compress_type=zipfile.ZIP_STORED)
                bundle.writestr("caption.txt", request.text + ("\n" if request.text else ""))
                bundle.writestr("checklist.md", checklist(request, **context))
            with open(tmp_path, "rb") as fh:
                saved = private_storage().save(name, File(fh, name=os.path.basename(name)))
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
        return PublishResult(exported=True, export_file=saved)

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        return None  # no platform to ask: only the person who uploaded knows the URL

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        return False  # a person takes it down (a TakedownTask with its deadline)

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        return {}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        return None


def _bundle_basename(request: PublishRequest) -> str:
    pub = request.options.get("publication_id")
    prefix = f"publication-{pub}" if pub else "export"
    return f"{prefix}-{request.idempotency_key[:8]}.zip"


def _account_context(request: PublishRequest) -> dict[str, Any]:
    """Where it goes and in which timezone, from the account row (the request carries only options)."""
    target = str(request.account.options.get("target_platform") or request.options.get("target_platform") or "")
    tz_name = "UTC"
    account = PlatformAccount.objects.select_related("creator").filter(pk=request.account.id).first()
    if account is not None:
        target = target or account.target_platform
        tz_name = account.creator.timezone or "UTC"
    labels: list[str] = []
    post_id = request.options.get("post_id")
    if request.ai_generated and post_id:
        post = Post.objects.filter(pk=post_id).first()
        if post is not None:
            labels = sorted({a.disclosure_label for a in post_assets(post) if a.disclosure_label})
    return {"target": target or "the target platform", "tz_name": tz_name, "disclosure_labels": labels}


def _money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "free (no price)"
    return f"{minor // 100}.{minor % 100:02d} {currency or ''}".strip()


def checklist(request: PublishRequest, *, target: str, tz_name: str, disclosure_labels: list[str]) -> str:
    """The page the person uploading follows; every line is something to do or to check."""
    if request.publish_at:
        due_utc = datetime.fromisoformat(request.publish_at)
        local = due_utc.astimezone(ZoneInfo(tz_name))
        due = f"{local:%Y-%m-%d %H:%M} {tz_name} ({due_utc.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC)"
    else:
        due = "as soon as possible"
    lines = [
        f"# Manual upload to {target}",
        "",
        f"- Account: @{request.account.handle}",
        f"- Target platform: {target}",
        f"- Due: {due}",
        f"- Rating: {request.rating}",
        f"- Price: {_money(request.price_minor, request.currency)}",
        f"- Media: {counted(len(request.media), 'file')} in media/, in order",
        "",
        "## Steps",
        "",
        f"1. [ ] Log in to {target} as @{request.account.handle}.",
        "2. [ ] Upload the files from media/ in the numbered order.",
        "3. [ ] Paste caption.txt as the caption, unchanged.",
        f"4. [ ] Set the rating / audience to match: {request.rating}.",
        f"5. [ ] Set the price: {_money(request.price_minor, request.currency)}.",
    ]
    step = 6
    if request.ai_generated:
        label = f" Label to show: {'; '.join(disclosure_labels)}." if disclosure_labels else ""
        lines.append(f"{step}. [ ] AI disclosure: {DEFAULT_AI_DISCLOSURE}{label}")
        step += 1
    lines += [
        f"{step}. [ ] Publish at the due time.",
        f"{step + 1}. [ ] Upload then paste the URL back in Atelier (Publications → Mark uploaded).",
        "",
    ]
    return "\n".join(lines)
