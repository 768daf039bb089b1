"""Content's statuses as sentences: where an asset stands in review and processing, and what a
generation job did."""

from __future__ import annotations

from content.models import Asset, GenerationJob
from core import wording
from core.wording import Phrase

ASSET_STATUS = wording.register(Asset.Status, {
    "draft": "Draft: not sent for review yet",
    "in_review": "In review: waiting for someone else to approve it",
    "approved": Phrase("Approved: may be published", "Approved by {who} on {when}: may be published"),
    "rejected": "Rejected in review: it cannot be published",
    "archived": "Archived: kept, no longer offered for posts",
})
ASSET_PROCESSING = wording.register(Asset.Processing, {
    "pending": "Waiting for processing",
    "running": "Being processed (metadata and renditions)",
    "ready": "Ready: renditions made",
    "failed": "Processing failed: see the error below, then upload again",
})
JOB_STATUS = wording.register(GenerationJob.Status, {
    "queued": "Waiting for a worker",
    "running": "Generating now",
    "succeeded": "Done: the results are in review",
    "failed": "Failed: nothing was made (see why below)",
    "cancelled": "Cancelled before it finished",
})
